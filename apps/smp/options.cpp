#include "options.hpp"

#include <algorithm>
#include <cctype>

#include <opencv2/imgproc.hpp>

#include "commands.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"

namespace smp::cli {

void add_analysis_options(CLI::App& cmd, AnalysisInputs& inputs) {
  cmd.add_option("--px-per-mm", inputs.px_per_mm,
                 "Scale of the photo in pixels per millimetre (default: estimated)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--hints", inputs.hints,
                 "Practitioner strokes, PNG of the photo's size: 1 skin, 2 hair, 3 background")
      ->check(CLI::ExistingFile);
  cmd.add_option("--mask", inputs.mask,
                 "Full label override, PNG of the photo's size: 0 background, 1 skin, 2 hair")
      ->check(CLI::ExistingFile);
  cmd.add_option("--head-up", inputs.head_up,
                 "Where the top of the head points in the photo: auto (estimated; acted on only "
                 "when sure), top, left, bottom, right")
      ->check(CLI::IsMember({"auto", "top", "left", "bottom", "right"}))
      ->capture_default_str();
}

namespace {

// Label-like PNGs are single channel; load_image gives RGB, so take the first channel.
cv::Mat load_label_png(const std::string& path, cv::Size photo_size, const char* what) {
  const cv::Mat rgb = load_image(path, {.apply_exif_orientation = false});
  if (rgb.size() != photo_size) {
    throw UsageError(std::string(what) + " " + path + " is " + std::to_string(rgb.cols) + "x" +
                     std::to_string(rgb.rows) + " but the photo is " +
                     std::to_string(photo_size.width) + "x" + std::to_string(photo_size.height) +
                     "; draw it on the photo as oriented (see 'smp analyze --labels')");
  }
  cv::Mat one;
  cv::extractChannel(rgb, one, 0);
  return one;
}

}  // namespace

AnalyzeOptions analysis_options(const AnalysisInputs& inputs, cv::Size photo_size) {
  AnalyzeOptions o;
  o.px_per_mm = inputs.px_per_mm;
  o.head_up = parse_head_up(inputs.head_up);
  if (!inputs.hints.empty()) o.hints = load_label_png(inputs.hints, photo_size, "hint image");
  if (!inputs.mask.empty()) {
    o.label_override = load_label_png(inputs.mask, photo_size, "mask");
    double lo = 0, hi = 0;
    cv::minMaxLoc(o.label_override, &lo, &hi);
    if (hi > 2) {
      throw UsageError("mask " + inputs.mask + " has label " + std::to_string(int(hi)) +
                       "; use 0 background, 1 skin, 2 hair");
    }
  }
  return o;
}

cv::Size parse_size(const std::string& text, std::string_view option) {
  // WIDTHxHEIGHT, each 1-6 digits. (std::regex would do, but g++ 12 -O2 warns falsely inside it.)
  const auto fail = [&] {
    return UsageError(std::string(option) + " expects WIDTHxHEIGHT, e.g. 1920x1080 (got '" + text +
                      "')");
  };
  const std::size_t x = text.find_first_of("xX");
  if (x == std::string::npos) throw fail();
  const std::string w = text.substr(0, x), h = text.substr(x + 1);
  const auto digits = [](const std::string& t) {
    return !t.empty() && t.size() <= 6 &&
           std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  };
  if (!digits(w) || !digits(h)) throw fail();
  return {std::stoi(w), std::stoi(h)};
}

}  // namespace smp::cli
