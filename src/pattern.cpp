// Placeholder until the pattern stage lands (being written now); keeps the build linking.
#include "smp/pattern.hpp"
