// Placeholder until the evaluate stage lands (being written now); keeps the build linking.
#include "smp/evaluate.hpp"
