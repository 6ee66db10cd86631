// Placeholder until the design stage lands (being written now); keeps the build linking.
#include "smp/design.hpp"
