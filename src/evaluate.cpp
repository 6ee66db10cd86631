#include "smp/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"

namespace smp {

void SegmentationScore::add(const cv::Mat& truth, const cv::Mat& predicted) {
  require(truth.type() == CV_8UC1 && predicted.type() == CV_8UC1, ErrorCode::kInvalidArgument,
          "SegmentationScore::add: truth and prediction must be CV_8UC1 label maps; convert "
          "them to 8-bit single-channel first");
  require(truth.size() == predicted.size(), ErrorCode::kInvalidArgument,
          "SegmentationScore::add: truth is " + std::to_string(truth.cols) + "x" +
              std::to_string(truth.rows) + " but prediction is " + std::to_string(predicted.cols) +
              "x" + std::to_string(predicted.rows) + "; resize the prediction to the mask's size");
  for (int y = 0; y < truth.rows; ++y) {
    const auto* t = truth.ptr<std::uint8_t>(y);
    const auto* p = predicted.ptr<std::uint8_t>(y);
    for (int x = 0; x < truth.cols; ++x) {
      if (t[x] > 2) continue;  // 255 = ignore; anything else is not a class we score
      require(p[x] <= 2, ErrorCode::kInvalidArgument,
              "SegmentationScore::add: predicted label " + std::to_string(p[x]) +
                  " is not 0 (background), 1 (skin) or 2 (hair)");
      ++confusion[t[x]][p[x]];
    }
  }
}

double SegmentationScore::iou(int label) const {
  require(label >= 0 && label <= 2, ErrorCode::kInvalidArgument,
          "SegmentationScore::iou: label must be 0, 1 or 2");
  std::int64_t tp = confusion[label][label], row = 0, col = 0;
  for (int k = 0; k < 3; ++k) {
    row += confusion[label][k];
    col += confusion[k][label];
  }
  const std::int64_t uni = row + col - tp;
  // A class absent from both truth and prediction is a perfect (vacuous) match.
  return uni == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(uni);
}

double SegmentationScore::mean_iou() const {
  return (iou(0) + iou(1) + iou(2)) / 3.0;
}

double SegmentationScore::pixel_accuracy() const {
  std::int64_t total = 0, right = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) total += confusion[i][j];
    right += confusion[i][i];
  }
  return total == 0 ? std::numeric_limits<double>::quiet_NaN()
                    : static_cast<double>(right) / static_cast<double>(total);
}

namespace {

// Ranks 1..n, ties get the average of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  require(x.size() == y.size(), ErrorCode::kInvalidArgument,
          "spearman: x has " + std::to_string(x.size()) + " values but y has " +
              std::to_string(y.size()) + "; pass paired samples");
  if (x.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  // Pearson correlation of the average ranks: exact with ties, unlike 1 - 6 sum d^2 / ...
  const auto rx = average_ranks(x), ry = average_ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n;
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();  // a constant side
  return sxy / std::sqrt(sxx * syy);
}

std::optional<ColourShift> healed_colour_shift(const cv::Mat& photo_rgb, const cv::Mat& labels,
                                               const ShiftOptions& options, int min_pixels) {
  require(!photo_rgb.empty() && photo_rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "healed_colour_shift: the photo must be a non-empty CV_8UC3 RGB image");
  require(labels.type() == CV_8UC1 && labels.size() == photo_rgb.size(),
          ErrorCode::kInvalidArgument,
          "healed_colour_shift: the labels must be CV_8UC1 and the photo's size (masks are "
          "matched to photos pixel for pixel)");
  cv::Mat known = labels.clone();
  known.setTo(0, labels > 2);  // 255 = ignore: neither skin nor hair for the design
  AnalyzeOptions ao = options.analyze;
  ao.label_override = known;
  // The whole skin is treated: the shift is the render's, not the treatable rule's (which
  // decides where dots go, and would make this figure move with every change to it).
  ScalpAnalysis a = analyze(photo_rgb, ao);
  a.treatable = labels == 1;
  const TreatmentDesign d = design(a, options.design);
  const DotPattern dots = generate(d, options.generate);
  RenderOptions ro = options.render;
  ro.stage = {Stage::kHealed, 0.0};
  const cv::Mat after = render(photo_rgb, d, dots, ro);
  cv::Mat density;
  cv::resize(d.density, density, photo_rgb.size(), 0, 0, cv::INTER_LINEAR);
  const float full = 0.9f * static_cast<float>(options.design.density_per_cm2);
  cv::Mat patch = (density >= full) & (labels == 1);
  cv::erode(patch, patch, cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  const int n = cv::countNonZero(patch);
  if (n < min_pixels) return std::nullopt;
  ColourShift s;
  s.bare = mean_lab(photo_rgb, patch);
  const Lab shifted = mean_lab(after, patch);
  s.dL = shifted.L - s.bare.L;
  s.da = shifted.a - s.bare.a;
  s.db = shifted.b - s.bare.b;
  s.ita_deg = ita_degrees(s.bare);
  s.pixels = n;
  return s;
}

}  // namespace smp
