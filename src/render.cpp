// Placeholder until the render stage lands (being written now); keeps the build linking.
#include "smp/render.hpp"
