// Stage 5: present: before/after compositions and overlays for the consultation.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

namespace smp {

struct CompareOptions {
  bool captions = true;  // write "before" / "after" (or the given titles) on each panel
  int gap_px = 0;        // 0 = about 1% of the width
  // Panels are scaled so that the longest side of the result is at most this (0 = no limit).
  int max_side_px = 0;
};

// Puts RGB images of the same size side by side with captions, left to right.
cv::Mat side_by_side(const std::vector<std::pair<std::string, cv::Mat>>& panels,
                     const CompareOptions& options = {});

// Shorthand for side_by_side({{"before", before}, {"after", after}}).
cv::Mat before_after(const cv::Mat& before, const cv::Mat& after,
                     const CompareOptions& options = {});

// Colours a label map (0 bg, 1 skin, 2 hair) over a photo for checking segmentation.
cv::Mat label_overlay(const cv::Mat& rgb, const cv::Mat& labels, double alpha = 0.45);

}  // namespace smp
