#include "smp/present.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "smp/error.hpp"

namespace smp {
namespace {

cv::Mat solid(int w, int h, cv::Scalar c = {120, 100, 90}) {
  return cv::Mat(h, w, CV_8UC3, c);
}

void expect_invalid(const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  }
}

TEST(Present, BeforeAfterSizeAndGap) {
  const cv::Mat a = solid(400, 300), b = solid(400, 300, {10, 20, 30});
  const cv::Mat out = before_after(a, b);
  ASSERT_EQ(out.type(), CV_8UC3);
  EXPECT_EQ(out.rows, 300);
  const int gap = out.cols - 800;
  EXPECT_GE(gap, 2);
  EXPECT_LE(gap, 16);  // about 1% of the width
  // Right panel starts after the gap, pixels untouched away from the caption.
  EXPECT_EQ(out.at<cv::Vec3b>(299, 400 + gap + 399), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(out.at<cv::Vec3b>(299, 0), cv::Vec3b(120, 100, 90));
  // A caption was drawn in the top-left corner of each panel.
  EXPECT_GT(cv::norm(out(cv::Rect(0, 0, 120, 60)), a(cv::Rect(0, 0, 120, 60)), cv::NORM_L1), 0);

  const cv::Mat plain = before_after(a, b, {.captions = false, .gap_px = 5});
  EXPECT_EQ(plain.cols, 805);
  EXPECT_EQ(cv::norm(plain(cv::Rect(0, 0, 400, 300)), a, cv::NORM_INF), 0);
}

TEST(Present, MaxSideScalesDown) {
  const cv::Mat a = solid(1000, 800);
  const cv::Mat out = side_by_side({{"1", a}, {"2", a}, {"3", a}}, {.max_side_px = 600});
  EXPECT_LE(std::max(out.cols, out.rows), 600);
  EXPECT_GE(std::max(out.cols, out.rows), 590);
  EXPECT_NEAR(out.rows, 800.0 * out.cols / 3030.0, 6.0);
}

TEST(Present, CaptionsOnTinyImagesDoNotCrash) {
  for (int s : {1, 2, 5, 9, 20}) {
    const cv::Mat a = solid(s, s);
    const cv::Mat out = before_after(a, a);
    EXPECT_EQ(out.rows, s);
    const cv::Mat wide = side_by_side({{"a very long caption that does not fit", solid(s, 3 * s)}});
    EXPECT_EQ(wide.cols, s);
  }
}

TEST(Present, RejectsBadPanels) {
  expect_invalid([] { side_by_side({}); });
  expect_invalid([] { before_after(solid(10, 10), solid(11, 10)); });
  expect_invalid([] { before_after(solid(10, 10), cv::Mat()); });
  expect_invalid([] { before_after(solid(10, 10), cv::Mat(10, 10, CV_8UC1, cv::Scalar(0))); });
  expect_invalid([] { side_by_side({{"a", solid(4, 4)}}, {.gap_px = -1}); });
}

TEST(Present, LabelOverlayColoursEachClass) {
  const cv::Mat rgb = solid(4, 1, {128, 128, 128});
  cv::Mat labels = (cv::Mat_<std::uint8_t>(1, 4) << 0, 1, 2, 255);
  const cv::Mat out = label_overlay(rgb, labels, 0.5);
  const cv::Vec3b bg = out.at<cv::Vec3b>(0, 0), skin = out.at<cv::Vec3b>(0, 1),
                  hair = out.at<cv::Vec3b>(0, 2), other = out.at<cv::Vec3b>(0, 3);
  EXPECT_GT(bg[2], bg[0]);      // blue
  EXPECT_GT(skin[0], skin[2]);  // yellow-orange: red and green over blue
  EXPECT_GT(skin[1], skin[2]);
  EXPECT_GT(hair[0], hair[1]);  // magenta: red and blue over green
  EXPECT_GT(hair[2], hair[1]);
  EXPECT_EQ(other, cv::Vec3b(128, 128, 128));  // grey over grey
  // Background is tinted less than the classes of interest.
  EXPECT_LT(cv::norm(cv::Vec3d(bg) - cv::Vec3d(128, 128, 128)),
            cv::norm(cv::Vec3d(hair) - cv::Vec3d(128, 128, 128)));
  EXPECT_EQ(cv::norm(label_overlay(rgb, labels, 0.0), rgb, cv::NORM_INF), 0);
  expect_invalid([&] { label_overlay(rgb, cv::Mat(1, 3, CV_8UC1, cv::Scalar(0))); });
  expect_invalid([&] { label_overlay(rgb, labels, 1.5); });
  expect_invalid([&] { label_overlay(cv::Mat(), labels); });
}

}  // namespace
}  // namespace smp
