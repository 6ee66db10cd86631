// The smp command-line app: one file per subcommand, no logic the library lacks.
// Each register_* adds its subcommand to the app and sets the callback that runs it.
// Callbacks throw smp::Error for runtime failures (exit 1) and UsageError for bad usage (exit 2).
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

namespace smp::cli {

// Bad usage found after parsing (e.g. an option value CLI11 cannot check): exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void register_preview(CLI::App& app);
void register_analyze(CLI::App& app);
void register_synth(CLI::App& app);
void register_eval(CLI::App& app);

// Progress on stderr for long work, e.g. "analyze 3/72 level_2_001_front.jpg".
void progress(const std::string& what, std::size_t done, std::size_t total);

}  // namespace smp::cli
