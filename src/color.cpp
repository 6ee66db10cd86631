#include "smp/color.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace smp {

float srgb_to_linear(float v) {
  return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

float linear_to_srgb(float v) {
  v = std::clamp(v, 0.0f, 1.0f);
  return v <= 0.0031308f ? 12.92f * v : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}

const std::array<float, 256>& srgb_to_linear_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = srgb_to_linear(static_cast<float>(i) / 255.0f);
    return t;
  }();
  return table;
}

namespace {

// D65 reference white; sRGB primaries (IEC 61966-2-1).
constexpr double kXn = 0.95047, kYn = 1.0, kZn = 1.08883;

double lab_f(double t) {
  constexpr double d = 6.0 / 29.0;
  return t > d * d * d ? std::cbrt(t) : t / (3 * d * d) + 4.0 / 29.0;
}

double lab_f_inv(double t) {
  constexpr double d = 6.0 / 29.0;
  return t > d ? t * t * t : 3 * d * d * (t - 4.0 / 29.0);
}

Lab linear_to_lab(double r, double g, double b) {
  const double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  const double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  const double fx = lab_f(x / kXn), fy = lab_f(y / kYn), fz = lab_f(z / kZn);
  return {static_cast<float>(116 * fy - 16), static_cast<float>(500 * (fx - fy)),
          static_cast<float>(200 * (fy - fz))};
}

}  // namespace

Lab rgb8_to_lab(const cv::Vec3b& rgb) {
  const auto& lut = srgb_to_linear_table();
  return linear_to_lab(lut[rgb[0]], lut[rgb[1]], lut[rgb[2]]);
}

cv::Vec3b lab_to_rgb8(const Lab& lab) {
  const double fy = (lab.L + 16) / 116.0;
  const double fx = fy + lab.a / 500.0;
  const double fz = fy - lab.b / 200.0;
  const double x = kXn * lab_f_inv(fx), y = kYn * lab_f_inv(fy), z = kZn * lab_f_inv(fz);
  const double lin[3] = {3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
                         -0.9692660 * x + 1.8760108 * y + 0.0415560 * z,
                         0.0556434 * x - 0.2040259 * y + 1.0572252 * z};
  cv::Vec3b out;
  for (int c = 0; c < 3; ++c) {
    out[c] = cv::saturate_cast<std::uint8_t>(
        std::lround(255.0 * linear_to_srgb(static_cast<float>(lin[c]))));
  }
  return out;
}

Lab mean_lab(const cv::Mat& rgb, const cv::Mat& mask) {
  // Average in linear light, then convert: the colour of the area as a camera would see it
  // from further away, which is what the CIELAB shift targets in DESIGN.md describe.
  const auto& lut = srgb_to_linear_table();
  double sum[3] = {0, 0, 0};
  std::int64_t n = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* p = rgb.ptr<cv::Vec3b>(y);
    const auto* m = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      if (m && !m[x]) continue;
      for (int c = 0; c < 3; ++c) sum[c] += lut[p[x][c]];
      ++n;
    }
  }
  if (n == 0) return {};
  return linear_to_lab(sum[0] / n, sum[1] / n, sum[2] / n);
}

double ita_degrees(const Lab& skin) {
  return std::atan2(skin.L - 50.0, std::max(1e-3, static_cast<double>(skin.b))) * 180.0 /
         std::numbers::pi;
}

int fitzpatrick_from_ita(double ita) {
  // Chardon, Cretois & Hourseau 1991 ITA bands, mapped to the Fitzpatrick scale as usual:
  // very light >55, light 41-55, intermediate 28-41, tan 10-28, brown -30-10, dark < -30.
  if (ita > 55) return 1;
  if (ita > 41) return 2;
  if (ita > 28) return 3;
  if (ita > 10) return 4;
  if (ita > -30) return 5;
  return 6;
}

}  // namespace smp
