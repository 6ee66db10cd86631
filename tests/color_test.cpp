#include "smp/color.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace smp {
namespace {

TEST(Color, SrgbRoundTripIsExactOnEightBitValues) {
  for (int i = 0; i < 256; ++i) {
    const float v = static_cast<float>(i) / 255.0f;
    EXPECT_NEAR(linear_to_srgb(srgb_to_linear(v)), v, 1e-5f) << i;
    EXPECT_FLOAT_EQ(srgb_to_linear_table()[i], srgb_to_linear(v));
  }
}

TEST(Color, LabOfKnownColours) {
  // Reference values: CIE L*a*b* (D65) of sRGB white, black and primaries (Lindbloom).
  const Lab white = rgb8_to_lab({255, 255, 255});
  EXPECT_NEAR(white.L, 100.0, 0.05);
  EXPECT_NEAR(white.a, 0.0, 0.05);
  EXPECT_NEAR(white.b, 0.0, 0.05);
  const Lab red = rgb8_to_lab({255, 0, 0});
  EXPECT_NEAR(red.L, 53.24, 0.1);
  EXPECT_NEAR(red.a, 80.09, 0.2);
  EXPECT_NEAR(red.b, 67.20, 0.2);
  EXPECT_NEAR(rgb8_to_lab({0, 0, 0}).L, 0.0, 1e-3);
}

TEST(Color, LabRoundTripWithinOneLevel) {
  for (int r = 0; r < 256; r += 15) {
    for (int g = 0; g < 256; g += 15) {
      for (int b = 0; b < 256; b += 15) {
        const cv::Vec3b c(static_cast<uchar>(r), static_cast<uchar>(g), static_cast<uchar>(b));
        const cv::Vec3b back = lab_to_rgb8(rgb8_to_lab(c));
        for (int k = 0; k < 3; ++k) EXPECT_LE(std::abs(back[k] - c[k]), 1);
      }
    }
  }
}

TEST(Color, MeanLabHonoursMask) {
  cv::Mat img(4, 4, CV_8UC3, cv::Scalar(255, 255, 255));
  img(cv::Rect(0, 0, 2, 4)).setTo(cv::Scalar(0, 0, 0));
  cv::Mat mask = cv::Mat::zeros(4, 4, CV_8U);
  mask(cv::Rect(2, 0, 2, 4)).setTo(255);
  EXPECT_NEAR(mean_lab(img, mask).L, 100.0, 0.05);
  // Unmasked: half black, half white averaged in linear light -> Y = 0.5 -> L* ~ 76.07.
  EXPECT_NEAR(mean_lab(img, cv::Mat()).L, 76.07, 0.05);
}

TEST(Color, ItaAndFitzpatrickBands) {
  EXPECT_EQ(fitzpatrick_from_ita(ita_degrees({75, 10, 12})), 1);  // ITA ~64
  EXPECT_EQ(fitzpatrick_from_ita(ita_degrees({62, 12, 17})), 3);  // ITA ~35
  EXPECT_EQ(fitzpatrick_from_ita(ita_degrees({30, 10, 15})), 6);  // ITA ~-53
  EXPECT_GT(ita_degrees({70, 10, 15}), ita_degrees({50, 10, 20}));
}

}  // namespace
}  // namespace smp
