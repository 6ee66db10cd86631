// The whole data flow on phantoms: analyze -> design -> generate -> render.
#include "smp/pipeline.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "smp/synth.hpp"

namespace smp {
namespace {

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
