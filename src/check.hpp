// Internal invariants: checked in debug builds, gone in release (see smp.hpp, "Errors").
// User-facing validation uses smp::require() and throws smp::Error instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef NDEBUG
#define SMP_DCHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: internal check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
#else
#define SMP_DCHECK(cond) \
  do {                   \
  } while (0)
#endif
