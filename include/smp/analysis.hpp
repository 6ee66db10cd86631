// Stage 1: analyze a photo: where is background, skin, hair; where may dots go; what tones.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "smp/calibration.hpp"
#include "smp/color.hpp"

namespace smp {

// Label values of `ScalpAnalysis::labels` and of every label PNG the project reads or writes.
enum Label : std::uint8_t { kBackground = 0, kSkin = 1, kHair = 2, kIgnore = 255 };

// Which way the top of the head points in the photo. The treatable-scalp rule and the "head cut
// off" check look for the face and neck on the side opposite the top.
enum class HeadUp { kAuto, kTop, kLeft, kBottom, kRight };

struct AnalyzeOptions {
  // Longest side of the working resolution for the coarse segmentation (pixels). Labels are
  // refined back to full resolution.
  int work_size = 384;
  // > 0: use this calibration (source kUser) instead of estimating one.
  double px_per_mm = 0.0;
  // Optional practitioner corrections, both at the photo's size (empty = none):
  // hints: CV_8UC1 strokes, 0 = no hint, 1 = skin, 2 = hair, 3 = background.
  cv::Mat hints;
  // mask: CV_8UC1 full label override (0 bg, 1 skin, 2 hair): analysis keeps it verbatim.
  cv::Mat label_override;
  // Which segmenter labels background / skin / hair:
  // kClassical: per-photo colour and texture models (GrabCut + EM), no training;
  // kLearned: the small net embedded in the library (models/README.md). Opt-in for now: on
  // photos it was not trained on it still scores below kClassical (models/README.md, figures).
  // kCues: kClassical's cues (colour at three scales, texture, GrabCut head, EM posterior,
  // position) combined per pixel by a small trained model (models/README.md).
  enum class Segmenter { kClassical, kLearned, kCues };
  Segmenter segmenter = Segmenter::kClassical;
  // kAuto: estimated by a small net (models/README.md) and acted on only when it is confident
  // (probability >= kHeadUpGate), else taken as kTop with a warning when the photo looks turned.
  // Any other value is the practitioner's word and is used as given.
  HeadUp head_up = HeadUp::kAuto;
};

// Confidence the orientation net needs before analyze() treats a photo as turned. Chosen on
// held-out photos: at 0.95 no upright photo was turned, and ~44% of turned ones were righted.
inline constexpr double kHeadUpGate = 0.95;

struct ScalpAnalysis {
  cv::Mat labels;              // CV_8UC1, photo size, values kBackground / kSkin / kHair
  cv::Mat head_mask;           // CV_8UC1, 255 inside the head (skin or hair)
  cv::Mat hair_coverage;       // CV_32FC1, 0..1, local fraction of scalp hidden by hair
  cv::Mat treatable;           // CV_8UC1, 255 where scalp skin may receive dots
  double hair_fraction = 0.0;  // hair / (hair + skin) pixels inside the head, 0..1
  Lab skin_lab;                // robust median of skin pixels (no highlights, no shadows)
  Lab hair_lab;                // robust median of hair pixels (equal to skin when no hair)
  double skin_ita_deg = 0.0;
  int fitzpatrick = 3;
  bool hair_found = false;
  Calibration calibration;
  HeadUp head_up = HeadUp::kTop;      // as used (never kAuto)
  double head_up_confidence = 1.0;    // the net's probability for head_up; 1 when given
  std::vector<std::string> warnings;  // e.g. "too dark", "head cut off", "no hair found"
};

// `image` turned so that the top of the head points up (kTop and kAuto: `image` itself), and
// an upright image turned back to how the photo was taken.
cv::Mat turned_upright(const cv::Mat& image, HeadUp up);
cv::Mat turned_back(const cv::Mat& image, HeadUp up);

// "auto", "top", "left", "bottom", "right".
std::string to_string(HeadUp up);
// Parses the names above; throws Error(kInvalidArgument) naming the accepted values.
HeadUp parse_head_up(const std::string& text);

// Analyzes a CV_8UC3 RGB photo. Throws Error(kInvalidArgument) for a wrong type or an image
// smaller than 16x16, Error(kNotFound) when no head is found.
ScalpAnalysis analyze(const cv::Mat& rgb, const AnalyzeOptions& options = {});

}  // namespace smp
