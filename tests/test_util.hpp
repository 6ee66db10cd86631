// Shared test helpers: where the evaluation data lives, and skipping when it is absent.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace smp::test {

// ../shared/data beside the checkout (SMP_SHARED_DATA overrides it).
inline std::filesystem::path shared_data() {
  if (const char* env = std::getenv("SMP_SHARED_DATA")) return env;
  return SMP_SHARED_DATA;
}

inline std::filesystem::path source_dir() { return SMP_SOURCE_DIR; }

// A scratch directory for one test, emptied first. Named per process: ctest -j runs each test
// in its own process, and two processes sharing (and emptying) one folder clobbered each other.
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("smp_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace smp::test

// Skips the current test with a clear message when a folder of ../shared/data is missing.
#define SMP_REQUIRE_SHARED_DATA(sub)                                                         \
  do {                                                                                       \
    if (!std::filesystem::exists(::smp::test::shared_data() / (sub))) {                      \
      GTEST_SKIP() << "evaluation data " << (::smp::test::shared_data() / (sub)).string()    \
                   << " is absent; put ../shared/data beside the checkout (or set "          \
                      "SMP_SHARED_DATA) to run this test";                                   \
    }                                                                                        \
  } while (0)
