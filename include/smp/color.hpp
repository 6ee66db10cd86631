// Colour conversions used across stages: sRGB 8-bit <-> linear light, CIELAB, ITA angle.
#pragma once

#include <array>
#include <cstdint>

#include <opencv2/core.hpp>

namespace smp {

// CIELAB (D65), L in 0..100.
struct Lab {
  float L = 0, a = 0, b = 0;
};

// sRGB transfer function, exact (IEC 61966-2-1).
float srgb_to_linear(float v01);
float linear_to_srgb(float v01);
// 256-entry table of srgb_to_linear(i / 255).
const std::array<float, 256>& srgb_to_linear_table();

Lab rgb8_to_lab(const cv::Vec3b& rgb);
cv::Vec3b lab_to_rgb8(const Lab& lab);
// Mean CIELAB over the pixels of an RGB image where mask != 0 (mask may be empty = all).
Lab mean_lab(const cv::Mat& rgb, const cv::Mat& mask);

// Individual typology angle of skin, degrees: atan((L - 50) / b) * 180 / pi.
double ita_degrees(const Lab& skin);
// Fitzpatrick class 1..6 from ITA (Chardon et al. 1991 bands: >55 very light ... <-30 dark).
int fitzpatrick_from_ita(double ita_deg);

}  // namespace smp
