#include "smp/hairline.hpp"
