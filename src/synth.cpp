// Placeholder until the synth stage lands (being written now); keeps the build linking.
#include "smp/synth.hpp"
