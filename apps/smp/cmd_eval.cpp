// smp eval: scores label maps against ground truth (owned by the analysis work).
#include "commands.hpp"

namespace smp::cli {

void register_eval(CLI::App& app) {
  app.add_subcommand("eval", "Score segmentation against a folder of masks (not written yet)");
}

}  // namespace smp::cli
