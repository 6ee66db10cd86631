// Placeholder until the image stage lands (being written now); keeps the build linking.
#include "smp/image.hpp"
