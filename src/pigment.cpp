// Placeholder until the pigment stage lands (being written now); keeps the build linking.
#include "smp/pigment.hpp"
