// smp: command-line front end of the smp library.
// Exit status: 0 success, 1 runtime failure (bad file, no head found, ...), 2 bad usage.
#include <cstdio>
#include <exception>
#include <iostream>

#include <opencv2/core.hpp>

#include "commands.hpp"
#include "smp/error.hpp"
#include "smp/version.hpp"

namespace smp::cli {

void progress(const std::string& what, std::size_t done, std::size_t total) {
  // One line per step: readable in CI logs and in a terminal alike.
  std::fprintf(stderr, "[%zu/%zu] %s\n", done, total, what.c_str());
}

}  // namespace smp::cli

int main(int argc, char** argv) {
  CLI::App app{
      "smp: scalp micropigmentation previews.\n"
      "Finds the scalp in a photo, lays out follicle-sized pigment dots and renders a "
      "before/after.\nExamples:\n"
      "  smp synth -o head.png --view top --level 6\n"
      "  smp preview head.png -o preview.png --density 70 --stage healed\n"
      "  smp analyze photo.jpg --labels labels.png --json analysis.json",
      "smp"};
  app.set_version_flag("--version", std::string("smp ") + smp::kVersion);
  app.require_subcommand(1);
  app.fallthrough(false);
  smp::cli::register_preview(app);
  smp::cli::register_analyze(app);
  smp::cli::register_synth(app);
  smp::cli::register_eval(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "smp: " << e.what() << "\nRun 'smp --help' (or 'smp COMMAND --help') for usage.\n";
    return 2;
  } catch (const smp::cli::UsageError& e) {
    std::cerr << "smp: " << e.what() << "\nRun 'smp --help' for usage.\n";
    return 2;
  } catch (const smp::Error& e) {
    std::cerr << "smp: error: " << e.what() << "\n";
    return e.code() == smp::ErrorCode::kInvalidArgument ? 2 : 1;
  } catch (const cv::Exception& e) {
    std::cerr << "smp: internal OpenCV error: " << e.what()
              << "\nPlease report this with the command and the input.\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "smp: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
