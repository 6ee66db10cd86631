// One benchmark binary for every concept: smp_bench --benchmark_filter=REGEX.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
