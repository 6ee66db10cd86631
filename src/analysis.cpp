// Placeholder until the analysis stage lands (being written now); keeps the build linking.
#include "smp/analysis.hpp"
