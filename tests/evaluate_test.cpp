#include "smp/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

#include "smp/error.hpp"
#include "smp/image.hpp"
#include "smp/synth.hpp"
#include "test_util.hpp"

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

// The healed shift on a bald phantom with its true labels: the treated skin darkens and greys.
TEST(EvaluateColourShift, PhantomDarkensAndGreys) {
  const Phantom ph =
      synthesize({.size = {480, 480}, .view = View::kTop, .level = 7, .fitzpatrick = 2, .seed = 3});
  const std::optional<ColourShift> s = healed_colour_shift(ph.image, ph.labels);
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->pixels, 2000);
  EXPECT_LT(s->dL, -10);
  EXPECT_LT(s->da, -2);
  EXPECT_LT(s->db, -2);
  // The patch's ITA orders skin tones (the groups of `smp eval colour-shift`).
  const Phantom dark =
      synthesize({.size = {480, 480}, .view = View::kTop, .level = 7, .fitzpatrick = 6, .seed = 3});
  const std::optional<ColourShift> d = healed_colour_shift(dark.image, dark.labels);
  ASSERT_TRUE(d.has_value());
  EXPECT_GT(s->ita_deg, d->ita_deg + 30);
  EXPECT_LT(d->dL, -4);
  // The same labels with every skin pixel unknown (255): nothing to treat.
  cv::Mat unknown = ph.labels.clone();
  unknown.setTo(255, ph.labels == 1);
  EXPECT_THROW(
      {
        try {
          healed_colour_shift(ph.image, unknown);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kNotFound);
          throw;
        }
      },
      Error);
  // A patch smaller than asked for is no measurement.
  EXPECT_FALSE(healed_colour_shift(ph.image, ph.labels, {}, 480 * 480).has_value());
  EXPECT_THROW(healed_colour_shift(ph.image, ph.labels(cv::Rect(0, 0, 100, 100))), Error);
}

// `smp eval colour-shift` on ../shared/data/scalps: rendered at defaults, the median healed
// shift per skin-tone group (ITA) against the real healed SMP of smp-real (DESIGN.md). Measured
// (2026-11-22): light n=27 dL -19.2 da -5.3 db -5.2; medium n=22 -22.5 -6.4 -6.3; dark n=17
// -10.1 -10.1 -10.4; real SMP light -20.5 -12 -9, medium -23 -2 -5, dark -10 -9 -12. dL is met
// in every group and dark's a*, b* nearly; light skin in these photos has a* ~11, b* ~10, so the
// -12 / -9 of smp-real's pinker clients would turn it green; medium keeps its chromaticity and
// still loses half its a* with the lightness (render.cpp, kFloorAnchors). Bounds: the measured
// value +-1.5 for dL, +-2 for a* and b*, both sides (a change either way is looked at).
TEST(EvaluateColourShift, RealPhotosMatchRealSmp) {
  SMP_REQUIRE_SHARED_DATA("scalps/masks");
  const auto dir = test::shared_data() / "scalps";
  struct Group {
    double min_ita;
    std::vector<double> dL, da, db;
  };
  std::array<Group, 3> g{{{41, {}, {}, {}}, {10, {}, {}, {}}, {-90, {}, {}, {}}}};
  for (const auto& e : std::filesystem::directory_iterator(dir / "masks")) {
    const auto photo_path = dir / "images" / (e.path().stem().string() + ".jpg");
    if (!std::filesystem::exists(photo_path)) continue;
    cv::Mat truth;
    cv::extractChannel(load_image(e.path(), {.apply_exif_orientation = false}), truth, 0);
    std::optional<ColourShift> s;
    try {
      s = healed_colour_shift(load_image(photo_path), truth);
    } catch (const Error& err) {
      ASSERT_EQ(err.code(), ErrorCode::kNotFound) << photo_path << ": " << err.what();
    }
    if (!s) continue;
    std::size_t k = 0;
    while (s->ita_deg < g[k].min_ita) ++k;
    g[k].dL.push_back(s->dL);
    g[k].da.push_back(s->da);
    g[k].db.push_back(s->db);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : (v[(v.size() - 1) / 2] + v[v.size() / 2]) / 2;
  };
  const std::array<std::array<double, 3>, 3> measured{
      {{-19.2, -5.3, -5.2}, {-22.5, -6.4, -6.3}, {-10.1, -10.1, -10.4}}};
  const char* names[] = {"light", "medium", "dark"};
  for (std::size_t k = 0; k < 3; ++k) {
    SCOPED_TRACE(names[k]);
    ASSERT_GE(g[k].dL.size(), 10u) << "too few photos with full-density treated skin";
    EXPECT_NEAR(median(g[k].dL), measured[k][0], 1.5);
    EXPECT_NEAR(median(g[k].da), measured[k][1], 2.0);
    EXPECT_NEAR(median(g[k].db), measured[k][2], 2.0);
  }
}

}  // namespace
}  // namespace smp
