// Scoring label maps against ground truth, and rank correlation, for evaluation commands.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "smp/analysis.hpp"
#include "smp/color.hpp"
#include "smp/design.hpp"
#include "smp/pattern.hpp"
#include "smp/render.hpp"

namespace smp {

// Accumulates a 3x3 confusion matrix (truth x prediction) over labels 0 bg, 1 skin, 2 hair;
// truth pixels equal to 255 (ignore) are skipped.
struct SegmentationScore {
  std::array<std::array<std::int64_t, 3>, 3> confusion{};

  void add(const cv::Mat& truth, const cv::Mat& predicted);
  [[nodiscard]] double iou(int label) const;
  [[nodiscard]] double mean_iou() const;
  [[nodiscard]] double pixel_accuracy() const;
};

// Healed colour shift of a preview against the same skin bare (issue 5, "match reality"): CIELAB
// of the linear-light mean over the treated skin where the design's density is full (>= 90% of
// the requested density, 4 px in from its border), before and after rendering.
struct ColourShift {
  Lab bare;  // the patch before rendering
  double dL = 0, da = 0, db = 0;
  double ita_deg = 0;  // of `bare`: light > 41, medium 10..41, dark < 10 (colour.hpp)
  int pixels = 0;      // size of the patch
};

// The stages healed_colour_shift runs, at their defaults unless changed (the render's stage is
// always healed).
struct ShiftOptions {
  AnalyzeOptions analyze;
  DesignOptions design;
  GenerateOptions generate;
  RenderOptions render;
};

// Analyzes `photo_rgb` (CV_8UC3 RGB) with `labels` (CV_8UC1, photo size: 0 background, 1 skin,
// 2 hair; 255 = not known, taken as background) as the segmentation, treats all of its skin
// (the shift measures the render, not the treatable-scalp rule), renders healed and measures.
// std::nullopt when the full-density treated skin is smaller than `min_pixels` (a photo that is
// mostly hair, or whose skin is all border). Throws Error as analyze() and render() do.
std::optional<ColourShift> healed_colour_shift(const cv::Mat& photo_rgb, const cv::Mat& labels,
                                               const ShiftOptions& options = {},
                                               int min_pixels = 2000);

// Spearman rank correlation with average ranks for ties; NaN for fewer than 2 pairs.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace smp
