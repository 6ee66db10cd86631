// Phantoms: photo-like synthetic heads with ground truth, the project's own samples.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace smp {

enum class View { kTop, kFront };
enum class HairColor { kBlack, kDarkBrown, kBrown, kBlond, kRed, kGrey };

View parse_view(const std::string& text);             // "top" | "front"
HairColor parse_hair_color(const std::string& text);  // "black" | "dark" | "brown" | ...

struct SynthOptions {
  cv::Size size{1024, 1024};
  View view = View::kTop;
  int level = 5;        // Norwood-like hair-loss level, 2 (full) .. 7 (bald top)
  int fitzpatrick = 2;  // skin tone 1 (very fair) .. 6 (very dark)
  HairColor hair = HairColor::kDarkBrown;
  double hair_density = 1.0;  // multiplies the strand count where hair grows
  std::uint64_t seed = 1;
};

struct Phantom {
  cv::Mat image;   // CV_8UC3 RGB
  cv::Mat labels;  // CV_8UC1 ground truth: 0 bg, 1 skin, 2 hair
  // True hairline (front edge of the hair-bearing region), photo pixels, left to right;
  // empty when the view shows none.
  std::vector<cv::Point2f> hairline;
  double px_per_mm = 0;  // true scale of the phantom
};

// Renders a phantom. Throws Error(kInvalidArgument) for sizes below 64x64 or above 64 MP,
// a level outside 2..7 or a Fitzpatrick class outside 1..6.
Phantom synthesize(const SynthOptions& options = {});

}  // namespace smp
