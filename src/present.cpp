// Placeholder until the present stage lands (being written now); keeps the build linking.
#include "smp/present.hpp"
