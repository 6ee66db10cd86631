#include "smp/design.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"

namespace smp {
namespace {

Pigment test_pigment() {
  return {.name = "test", .water_parts = 10, .absorption = {0.6f, 0.6f, 0.6f}};
}

cv::Mat disc_mask(cv::Size size, int radius) {
  cv::Mat m = cv::Mat::zeros(size, CV_8U);
  cv::circle(m, {size.width / 2, size.height / 2}, radius, 255, cv::FILLED);
  return m;
}

TEST(Design, UniformDensityInsideFeatheredAtEdge) {
  const cv::Mat mask = disc_mask({800, 600}, 250);
  const Calibration cal = calibration_from_user(5.0);  // feather 8 mm = 40 px
  const TreatmentDesign d = design_from_mask(mask, cal, 70.0, test_pigment(), 8.0);
  EXPECT_EQ(d.image_size, mask.size());
  EXPECT_NEAR(density_at(d, 400, 300), 70.0f, 0.5f);  // centre: full density
  EXPECT_LT(density_at(d, 400 + 245, 300), 10.0f);    // 5 px inside the edge: nearly 0
  // 20 px in of a 40 px feather: smoothstep(0.5) = 0.5 of full density.
  EXPECT_NEAR(density_at(d, 400 + 230, 300), 35.0f, 4.0f);
  EXPECT_EQ(density_at(d, 5, 5), 0.0f);  // outside
  // The ramp rises monotonically from the edge inwards.
  float prev = -1;
  for (int x = 650; x >= 560; x -= 5) {
    const float v = density_at(d, static_cast<float>(x), 300);
    EXPECT_GE(v, prev - 1e-3f);
    prev = v;
  }
}

// Strands of long hair over a thinning top cut thin gaps into the treatable mask. They are not
// edges: the density beside them stays full instead of a feather-sized hole around each.
TEST(Design, ThinGapsInTheMaskAreNotEdges) {
  cv::Mat mask = disc_mask({800, 600}, 250);
  const Calibration cal = calibration_from_user(5.0);  // feather 8 mm = 40 px
  for (int y = 240; y <= 360; y += 30) cv::line(mask, {300, y}, {500, y}, 0, 3);  // 0.6 mm gaps
  const TreatmentDesign d = design_from_mask(mask, cal, 70.0, test_pigment(), 8.0);
  EXPECT_NEAR(density_at(d, 400, 255), 70.0f, 1.0f);  // 3 px from a gap, 15 from the next
  EXPECT_NEAR(density_at(d, 350, 285), 70.0f, 1.0f);
  // A gap as wide as the feather is an edge.
  cv::Mat wide = disc_mask({800, 600}, 250);
  cv::rectangle(wide, cv::Rect(300, 280, 200, 40), 0, cv::FILLED);
  const TreatmentDesign w = design_from_mask(wide, cal, 70.0, test_pigment(), 8.0);
  EXPECT_LT(density_at(w, 400, 325), 20.0f);
}

TEST(Design, GridStaysSmallOnLargePhotos) {
  const cv::Mat mask = disc_mask({4000, 3000}, 1200);
  const TreatmentDesign d = design_from_mask(mask, calibration_from_user(20), 80, test_pigment());
  EXPECT_LE(std::max(d.density.cols, d.density.rows), 512);
  EXPECT_NEAR(density_at(d, 2000, 1500), 80.0f, 0.5f);
  EXPECT_FALSE(d.growth_angle.empty());
}

TEST(Design, MaskIsClonedNotShared) {
  cv::Mat mask = disc_mask({100, 100}, 40);
  const TreatmentDesign d = design_from_mask(mask, calibration_from_user(1), 70, test_pigment());
  mask.setTo(0);
  EXPECT_GT(cv::countNonZero(d.mask), 0);
}

TEST(Design, NonsenseOptionsAreRejected) {
  const cv::Mat mask = disc_mask({100, 100}, 40);
  const Calibration cal = calibration_from_user(1);
  EXPECT_THROW(design_from_mask(mask, cal, -5, test_pigment()), Error);
  EXPECT_THROW(design_from_mask(mask, cal, 1e6, test_pigment()), Error);
  EXPECT_THROW(design_from_mask(mask, cal, 70, test_pigment(), -1), Error);
  try {
    design_from_mask(cv::Mat::zeros(50, 50, CV_8U), cal, 70, test_pigment());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  EXPECT_THROW(design_from_mask(cv::Mat(), cal, 70, test_pigment()), Error);
  EXPECT_THROW(design_from_mask(mask, Calibration{}, 70, test_pigment()), Error);
}

TEST(Design, HairCoverageReducesDensity) {
  ScalpAnalysis a;
  a.treatable = disc_mask({400, 400}, 180);
  a.hair_coverage = cv::Mat::zeros(400, 400, CV_32F);
  a.hair_coverage(cv::Rect(200, 0, 200, 400)).setTo(0.5f);
  a.calibration = calibration_from_user(2);
  const TreatmentDesign d = design(a, {.density_per_cm2 = 60,
                                       .edge_feather_mm = 0,
                                       .hair_coverage_reduction = 1.0,
                                       .pigment = "1:10"});
  EXPECT_NEAR(density_at(d, 150, 200), 60.0f, 0.5f);
  EXPECT_NEAR(density_at(d, 280, 200), 30.0f, 0.5f);
  EXPECT_THROW(design(a, {.sessions = 9}), Error);
}

// Hair lying over the skin is where the pigment would not show: design(analysis) passes the hair
// labels on as the occlusion, softened by a pixel at their edge; design_from_mask has none.
TEST(Design, HairLabelsBecomeTheOcclusion) {
  ScalpAnalysis a;
  a.treatable = disc_mask({400, 400}, 180);
  a.labels = cv::Mat(400, 400, CV_8UC1, cv::Scalar(kSkin));
  a.labels(cv::Rect(0, 0, 400, 100)).setTo(kHair);
  a.labels(cv::Rect(200, 150, 2, 100)).setTo(kHair);  // a strand over the scalp
  a.calibration = calibration_from_user(2);
  const TreatmentDesign d = design(a, {.pigment = "1:10"});
  ASSERT_EQ(d.occlusion.size(), a.labels.size());
  ASSERT_EQ(d.occlusion.type(), CV_8UC1);
  EXPECT_EQ(d.occlusion.at<std::uint8_t>(50, 200), 255);   // inside the hair
  EXPECT_EQ(d.occlusion.at<std::uint8_t>(300, 300), 0);    // bare skin
  EXPECT_GT(d.occlusion.at<std::uint8_t>(200, 200), 100);  // the strand
  const std::uint8_t edge = d.occlusion.at<std::uint8_t>(100, 200);
  EXPECT_GT(edge, 0);  // one pixel out of the hair: softened, not a step
  EXPECT_LT(edge, 255);
  EXPECT_TRUE(
      design_from_mask(a.treatable, a.calibration, 70, pigment_by_name("1:10")).occlusion.empty());
}

}  // namespace
}  // namespace smp
