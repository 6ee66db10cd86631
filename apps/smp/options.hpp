// Options shared by several subcommands, parsed once here.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "smp/analysis.hpp"

namespace smp::cli {

// Inputs that steer analysis: a scale, practitioner hint strokes, a full label override, the
// head's orientation.
struct AnalysisInputs {
  double px_per_mm = 0;
  std::string hints;             // PNG: 0 none, 1 skin, 2 hair, 3 background
  std::string mask;              // PNG: 0 background, 1 skin, 2 hair (replaces the analysis)
  std::string head_up = "auto";  // where the top of the head points: auto|top|left|bottom|right
};

void add_analysis_options(CLI::App& cmd, AnalysisInputs& inputs);

// Loads the hint/mask images (checking they match the photo's size) into AnalyzeOptions.
AnalyzeOptions analysis_options(const AnalysisInputs& inputs, cv::Size photo_size);

// "WxH" -> size; throws UsageError naming the option.
cv::Size parse_size(const std::string& text, std::string_view option);

}  // namespace smp::cli
