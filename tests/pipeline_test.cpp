// The whole data flow on phantoms: analyze -> design -> generate -> render.
#include "smp/pipeline.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"
#include "smp/image.hpp"
#include "smp/synth.hpp"
#include "test_util.hpp"

namespace smp {
namespace {

// A front photo turned a quarter turn (top of the head to the right), with the practitioner
// saying so: the face is found on the turned-back photo and its landmarks, and the hairline
// template placed from them, land where the upright photo's do, turned.
TEST(Pipeline, FaceAndHairlineFollowATurnedPhoto) {
  const cv::Mat upright = load_image(test::source_dir() / "samples/front_level4.jpg");
  PreviewOptions o;
  o.hairline.mode = HairlineMode::kTemplate;
  o.analyze.head_up = HeadUp::kTop;
  const Preview a = plan(upright, o);
  ASSERT_TRUE(a.face && a.hairline);
  cv::Mat turned;
  cv::rotate(upright, turned, cv::ROTATE_90_CLOCKWISE);
  o.analyze.head_up = HeadUp::kRight;
  const Preview b = plan(turned, o);
  ASSERT_TRUE(b.face && b.hairline);
  const float h = static_cast<float>(upright.rows - 1);
  const auto turn = [&](cv::Point2f q) { return cv::Point2f(h - q.y, q.x); };
  for (std::size_t i = 0; i < a.face->points.size(); ++i)
    EXPECT_LT(cv::norm(b.face->points[i] - turn(a.face->points[i])), 0.01) << i;
  for (const cv::Point2f& q : a.hairline->line) {
    double nearest = 1e9;
    for (const cv::Point2f& r : b.hairline->line)
      nearest = std::min(nearest, cv::norm(r - turn(q)));
    EXPECT_LT(nearest, 1.0);
  }
  EXPECT_GT(b.hairline->scalp_direction.x, 0.9f);  // the scalp lies to the right
}

TEST(Pipeline, CrownPreviewDarkensTheScalpOnly) {
  const Phantom head = synthesize({.size = {640, 480}, .view = View::kTop, .level = 6, .seed = 2});
  const Preview p = preview(head.image, {.generate = {.seed = 5}});
  ASSERT_EQ(p.after.size(), head.image.size());
  ASSERT_EQ(p.after.type(), CV_8UC3);
  ASSERT_FALSE(p.dots.dots.empty());

  // Every dot lies inside the treatable mask.
  for (const Dot& d : p.dots.dots) {
    const int x = static_cast<int>(d.x), y = static_cast<int>(d.y);
    ASSERT_TRUE(x >= 0 && y >= 0 && x < head.image.cols && y < head.image.rows);
    ASSERT_NE(p.design.mask.at<uchar>(y, x), 0) << x << "," << y;
  }
  // The treated area got darker on average; the background did not change at all.
  cv::Mat before_grey, after_grey;
  cv::cvtColor(head.image, before_grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(p.after, after_grey, cv::COLOR_RGB2GRAY);
  EXPECT_LT(cv::mean(after_grey, p.design.mask)[0], cv::mean(before_grey, p.design.mask)[0] - 3);
  cv::Mat far;  // background well away from the treated area
  cv::dilate(p.design.mask, far, cv::getStructuringElement(cv::MORPH_ELLIPSE, {41, 41}));
  far = (far == 0) & (head.labels == 0);
  cv::Mat diff;
  cv::absdiff(head.image, p.after, diff);
  std::vector<cv::Mat> ch;
  cv::split(diff, ch);
  const cv::Mat per_pixel = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  double worst = 0;
  cv::minMaxLoc(per_pixel, nullptr, &worst, nullptr, nullptr, far);
  EXPECT_EQ(worst, 0.0);
  // The dot count matches density x treated area roughly (the feather lowers it).
  const double area_cm2 = cv::countNonZero(p.design.mask) / p.design.calibration.px2_per_cm2();
  EXPECT_LT(static_cast<double>(p.dots.dots.size()), 1.05 * 70 * area_cm2);
  EXPECT_GT(static_cast<double>(p.dots.dots.size()), 0.3 * 70 * area_cm2);
}

TEST(Pipeline, SameSeedSamePixels) {
  const Phantom head = synthesize({.size = {320, 240}, .level = 5, .seed = 9});
  const Preview a = preview(head.image, {.generate = {.seed = 11}});
  const Preview b = preview(head.image, {.generate = {.seed = 11}});
  EXPECT_EQ(cv::norm(a.after, b.after, cv::NORM_INF), 0.0);
  const Preview c = preview(head.image, {.generate = {.seed = 12}});
  EXPECT_GT(cv::norm(a.after, c.after, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace smp

namespace smp {
namespace {

TEST(PipelineHairline, CustomLineKeepsDotsBehindIt) {
  const Phantom head = synthesize({.size = {480, 480}, .view = View::kTop, .level = 7, .seed = 4});
  // A horizontal line across the middle: the scalp side is up, the lower half gets no dots.
  Hairline line;
  line.line = {{0.f, 240.f}, {479.f, 240.f}};
  line.zone_px = 20;
  PreviewOptions o;
  o.hairline = {.mode = HairlineMode::kCustom, .custom = line};
  const Preview p = plan(head.image, o);
  ASSERT_TRUE(p.hairline.has_value());
  ASSERT_FALSE(p.dots.dots.empty());
  for (const Dot& d : p.dots.dots) EXPECT_LT(d.y, 240.f) << d.x << "," << d.y;
  // Dots thin out towards the line: fewer in the 20 px zone than in the 20 px band behind it.
  int zone = 0, behind = 0;
  for (const Dot& d : p.dots.dots) {
    zone += d.y >= 220.f;
    behind += d.y >= 200.f && d.y < 220.f;
  }
  EXPECT_LT(zone, behind);
  EXPECT_TRUE(p.after.empty());  // plan() does not render
}

TEST(PipelineHairline, TemplateWithoutAFaceSaysWhatToDo) {
  const Phantom head = synthesize({.size = {320, 240}, .view = View::kTop, .level = 6, .seed = 1});
  PreviewOptions o;
  o.hairline.mode = HairlineMode::kTemplate;
  try {
    plan(head.image, o);
    FAIL() << "expected kNotFound";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("face"), std::string::npos);
  }
  // Auto mode on a top view: no face, no hairline, dots all the same.
  o.hairline.mode = HairlineMode::kAuto;
  const Preview p = plan(head.image, o);
  EXPECT_FALSE(p.hairline.has_value());
  EXPECT_FALSE(p.dots.dots.empty());
}

TEST(PipelineHairline, UserScaleWinsOverEstimates) {
  const Phantom head = synthesize({.size = {320, 240}, .view = View::kTop, .level = 6, .seed = 1});
  PreviewOptions o;
  o.analyze.px_per_mm = 3.5;
  const Preview p = plan(head.image, o);
  EXPECT_EQ(p.design.calibration.source, CalibrationSource::kUser);
  EXPECT_DOUBLE_EQ(p.design.calibration.px_per_mm, 3.5);
}

}  // namespace
}  // namespace smp
