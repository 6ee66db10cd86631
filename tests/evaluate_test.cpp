#include "smp/evaluate.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "smp/error.hpp"

namespace smp {
namespace {

cv::Mat map(int rows, int cols, std::initializer_list<int> v) {
  cv::Mat m(rows, cols, CV_8UC1);
  auto it = v.begin();
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(*it++);
  return m;
}

TEST(EvaluateScore, ConfusionAndIouOnAHandMadeMap) {
  // truth:      predicted:
  // 0 0 1 1     0 1 1 1
  // 2 2 1 1     2 2 2 1
  const cv::Mat truth = map(2, 4, {0, 0, 1, 1, 2, 2, 1, 1});
  const cv::Mat pred = map(2, 4, {0, 1, 1, 1, 2, 2, 2, 1});
  SegmentationScore s;
  s.add(truth, pred);
  EXPECT_EQ(s.confusion[0][0], 1);
  EXPECT_EQ(s.confusion[0][1], 1);
  EXPECT_EQ(s.confusion[1][1], 3);
  EXPECT_EQ(s.confusion[1][2], 1);
  EXPECT_EQ(s.confusion[2][2], 2);
  // bg: tp 1, union 2; skin: tp 3, truth 4 + pred 4 - 3 = 5; hair: tp 2, 2 + 3 - 2 = 3.
  EXPECT_DOUBLE_EQ(s.iou(0), 0.5);
  EXPECT_DOUBLE_EQ(s.iou(1), 0.6);
  EXPECT_DOUBLE_EQ(s.iou(2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.mean_iou(), (0.5 + 0.6 + 2.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy(), 6.0 / 8.0);
}

TEST(EvaluateScore, IgnorePixelsAreSkippedWhateverWasPredicted) {
  const cv::Mat truth = map(1, 4, {255, 1, 255, 2});
  const cv::Mat pred = map(1, 4, {0, 1, 2, 2});
  SegmentationScore s;
  s.add(truth, pred);
  std::int64_t total = 0;
  for (const auto& row : s.confusion)
    for (auto v : row) total += v;
  EXPECT_EQ(total, 2);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy(), 1.0);
  EXPECT_DOUBLE_EQ(s.iou(1), 1.0);
  EXPECT_DOUBLE_EQ(s.iou(2), 1.0);
  EXPECT_DOUBLE_EQ(s.iou(0), 1.0);  // absent from truth and prediction: vacuous match
}

TEST(EvaluateScore, AccumulatesOverImages) {
  SegmentationScore s;
  s.add(map(1, 2, {1, 1}), map(1, 2, {1, 2}));
  s.add(map(1, 2, {2, 2}), map(1, 2, {2, 2}));
  EXPECT_EQ(s.confusion[1][1], 1);
  EXPECT_EQ(s.confusion[1][2], 1);
  EXPECT_EQ(s.confusion[2][2], 2);
  EXPECT_DOUBLE_EQ(s.iou(2), 2.0 / 3.0);
}

TEST(EvaluateScore, RejectsMismatchedMaps) {
  SegmentationScore s;
  const cv::Mat a = map(1, 2, {0, 1});
  try {
    s.add(a, map(2, 1, {0, 1}));
    FAIL() << "size mismatch accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  cv::Mat wide;
  a.convertTo(wide, CV_16U);
  EXPECT_THROW(s.add(a, wide), Error);
  cv::Mat three(1, 2, CV_8UC3, cv::Scalar(0));
  EXPECT_THROW(s.add(three, a), Error);
  EXPECT_THROW(s.add(a, map(1, 2, {0, 7})), Error);  // 7 is not a label
  EXPECT_THROW((void)s.iou(3), Error);
}

TEST(EvaluateSpearman, KnownVectors) {
  const std::vector<double> x = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(spearman(x, {10, 20, 30, 40, 50}), 1.0);
  EXPECT_DOUBLE_EQ(spearman(x, {5, 4, 3, 2, 1}), -1.0);
  // Monotone but non-linear: ranks only.
  EXPECT_DOUBLE_EQ(spearman(x, {1, 8, 27, 64, 1000}), 1.0);
}

TEST(EvaluateSpearman, TiesGetAverageRanks) {
  // y ranks: 1, 2.5, 2.5, 4 -> Pearson of (1,2,3,4) with (1,2.5,2.5,4) = 4.5 / sqrt(5 * 4.5).
  const double r = spearman({1, 2, 3, 4}, {10, 20, 20, 30});
  EXPECT_NEAR(r, 4.5 / std::sqrt(5.0 * 4.5), 1e-12);
  // Average-rank Pearson computed independently (Python, by hand-written ranks): 29/38.
  EXPECT_NEAR(spearman({1, 2, 2, 3, 4}, {2, 1, 3, 3, 5}), 29.0 / 38.0, 1e-12);
}

TEST(EvaluateSpearman, DegenerateInputs) {
  EXPECT_TRUE(std::isnan(spearman({}, {})));
  EXPECT_TRUE(std::isnan(spearman({1}, {2})));
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));  // a constant side has no ranks
  EXPECT_THROW(spearman({1, 2}, {1}), Error);
}

}  // namespace
}  // namespace smp
