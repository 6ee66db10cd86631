// Scoring label maps against ground truth, and rank correlation, for evaluation commands.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

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

// Spearman rank correlation with average ranks for ties; NaN for fewer than 2 pairs.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace smp
