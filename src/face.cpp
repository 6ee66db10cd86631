#include "smp/face.hpp"
