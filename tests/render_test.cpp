#include "smp/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <random>

#include <gtest/gtest.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "render_simd.hpp"
#include "smp/color.hpp"
#include "smp/design.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"
#include "smp/pattern.hpp"
#include "smp/pigment.hpp"
#include "smp/synth.hpp"

namespace smp {
namespace {

// The design and pattern stages are built by hand here so these tests depend on the renderer
// alone: a full-frame or circular mask, a jittered grid of dots with a fixed seed.

cv::Mat uniform_photo(cv::Size size, cv::Vec3b colour) {
  return cv::Mat(size, CV_8UC3, cv::Scalar(colour[0], colour[1], colour[2]));
}

// One default dot (0.45 mm) at (x, y), turned by angle_rad, in an image of `size`.
DotPattern lone_dot(cv::Size size, double px_per_mm, float x, float y, float angle_rad = 0) {
  DotPattern dots;
  dots.image_size = size;
  dots.px_per_mm = px_per_mm;
  Dot d;
  d.x = x;
  d.y = y;
  d.angle_rad = angle_rad;
  dots.dots.push_back(d);
  return dots;
}

// Smooth skin-coloured gradient with mild noise (fixed seed).
cv::Mat skin_photo(cv::Size size, cv::Vec3b colour = {215, 170, 150}) {
  cv::Mat photo(size, CV_8UC3);
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 2.5f);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      const float shade = 0.85f + 0.25f * x / size.width + 0.05f * y / size.height;
      for (int c = 0; c < 3; ++c) {
        photo.at<cv::Vec3b>(y, x)[c] =
            cv::saturate_cast<std::uint8_t>(colour[c] * shade + noise(rng));
      }
    }
  }
  return photo;
}

TreatmentDesign make_design(const cv::Mat& mask, double px_per_mm, const std::string& pigment) {
  TreatmentDesign d;
  d.image_size = mask.size();
  d.calibration = {px_per_mm, CalibrationSource::kUser, 0.0};
  d.mask = mask;
  d.cell_px = 16;
  d.density = cv::Mat((mask.rows + 15) / 16, (mask.cols + 15) / 16, CV_32FC1, cv::Scalar(70));
  d.growth_angle = cv::Mat(d.density.size(), CV_32FC1, cv::Scalar(0));
  d.pigment = pigment_by_name(pigment);
  d.sessions = 3;
  return d;
}

// One dot per spacing x spacing cell, jittered by +-30% of the spacing, inside the mask.
DotPattern grid_dots(const cv::Mat& mask, double px_per_mm, double spacing_mm, double diameter_mm,
                     unsigned seed = 7, bool jitter_size = false) {
  DotPattern p;
  p.image_size = mask.size();
  p.px_per_mm = px_per_mm;
  const double s = spacing_mm * px_per_mm;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  std::normal_distribution<double> n(0.0, 1.0);
  int k = 0;
  for (double y = s / 2; y < mask.rows; y += s) {
    for (double x = s / 2; x < mask.cols; x += s) {
      Dot d;
      d.x = static_cast<float>(x + u(rng) * s);
      d.y = static_cast<float>(y + u(rng) * s);
      d.angle_rad = static_cast<float>(u(rng) * 10);
      d.diameter_mm = static_cast<float>(diameter_mm * (jitter_size ? 1 + 0.15 * n(rng) : 1.0));
      d.session = static_cast<std::uint8_t>(1 + (k++ % 3));
      const int px = std::clamp(static_cast<int>(std::lround(d.x)), 0, mask.cols - 1);
      const int py = std::clamp(static_cast<int>(std::lround(d.y)), 0, mask.rows - 1);
      if (mask.at<std::uint8_t>(py, px)) p.dots.push_back(d);
    }
  }
  return p;
}

// Mean linear-light ratio out / photo per channel over `roi`: 1 - mean darkening.
cv::Vec3d mean_transmission(const cv::Mat& photo, const cv::Mat& out, const cv::Rect& roi) {
  const auto& lut = srgb_to_linear_table();
  cv::Vec3d in_sum(0, 0, 0), out_sum(0, 0, 0);
  for (int y = roi.y; y < roi.y + roi.height; ++y) {
    for (int x = roi.x; x < roi.x + roi.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        in_sum[c] += lut[photo.at<cv::Vec3b>(y, x)[c]];
        out_sum[c] += lut[out.at<cv::Vec3b>(y, x)[c]];
      }
    }
  }
  return {out_sum[0] / in_sum[0], out_sum[1] / in_sum[1], out_sum[2] / in_sum[2]};
}

// Area of a dot of FWHM d (mm) as the renderer defines its mass: 2 pi sigma_major sigma_minor.
double dot_area_mm2(double d) {
  const double sigma = d / 2.3548200450309493;
  return 2.0 * std::numbers::pi * sigma * sigma;
}

// Linear model check: over a uniformly dotted area the mean darkening per channel is
// (dot area / cell area) x absorption x (direct + diffuse gain), whatever the resolution. At
// 2 px/mm a 0.45 mm dot is 0.9 px across: sub-pixel dots must still darken by the right amount.
TEST(Render, MeanDarkeningMatchesCoverageTimesAbsorptionAtAnyResolution) {
  const double spacing = 1.2, diameter = 0.45;
  RenderOptions options;
  // Moderate gains so no pixel reaches the load curve's knee, and no floor (f_c = 1): the sum
  // stays linear.
  options.optics.diffuse_gain = {1.0f, 0.8f, 0.5f};
  options.optics.direct = {0.6f, 0.6f, 0.6f};
  options.optics.dot_gain = 0.8f;  // dot centres stay below the knee too
  options.optics.floor_lightness = 0.0f;
  const Pigment pigment = pigment_by_name("1:20");
  for (double ppm : {2.0, 8.0, 40.0}) {
    const int side = static_cast<int>(std::lround((ppm >= 40 ? 24.0 : 48.0) * ppm));
    const cv::Mat mask(side, side, CV_8UC1, cv::Scalar(255));
    const cv::Mat photo = uniform_photo(mask.size(), {210, 170, 150});
    const TreatmentDesign design = make_design(mask, ppm, "1:20");
    const DotPattern dots = grid_dots(mask, ppm, spacing, diameter);
    const cv::Mat out = render(photo, design, dots, options);
    // Measure away from the borders, where the dotted area is uniform.
    const int m = static_cast<int>(std::ceil(4.0 * ppm));
    const cv::Vec3d t = mean_transmission(photo, out, cv::Rect(m, m, side - 2 * m, side - 2 * m));
    const double coverage = dot_area_mm2(diameter) / (spacing * spacing);
    for (int c = 0; c < 3; ++c) {
      const double expected =
          coverage * pigment.absorption[c] *
          (options.optics.dot_gain * options.optics.direct[c] + options.optics.diffuse_gain[c]);
      EXPECT_NEAR(1.0 - t[c], expected, 0.04 * expected + 0.003)
          << "px/mm " << ppm << " channel " << c;
    }
  }
}

// The apparent healed diameter (area where green darkening >= half its peak) of an isolated
// round dot is the requested diameter, at three calibrations.
TEST(Render, IsolatedDotHasTheRequestedDiameter) {
  RenderOptions options;
  options.elongation = 1.0;
  options.optics.diffuse_gain = {0.0f, 0.0f, 0.0f};  // the dot's own direct image only
  for (double ppm : {12.0, 25.0, 50.0}) {
    const int side = static_cast<int>(std::lround(4.0 * ppm));
    const cv::Mat mask(side, side, CV_8UC1, cv::Scalar(255));
    const cv::Mat photo = uniform_photo(mask.size(), {230, 200, 180});
    const DotPattern dots = lone_dot(mask.size(), ppm, side / 2.0f + 0.3f, side / 2.0f - 0.2f);
    const cv::Mat out = render(photo, make_design(mask, ppm, "1:6"), dots, options);
    const auto& lut = srgb_to_linear_table();
    const float base = lut[200];
    std::vector<float> dark;
    float peak = 0;
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        const float v = 1.0f - lut[out.at<cv::Vec3b>(y, x)[1]] / base;
        dark.push_back(v);
        peak = std::max(peak, v);
      }
    }
    int above = 0;
    for (float v : dark) above += v >= 0.5f * peak ? 1 : 0;
    const double diameter_mm = 2.0 * std::sqrt(above / std::numbers::pi) / ppm;
    EXPECT_NEAR(diameter_mm, 0.45, 0.15 * 0.45) << "px/mm " << ppm;
  }
}

// An elongated dot keeps its orientation: at px/mm where the renderer keeps the x-y covariance (the
// sheared splat, carried from row to row), the second moments of a lone dot's green darkening are
// the footprint's covariance plus the green blur and the pixel box: axis angle, axis ratio and
// correlation. Linear regime (low strength, no floor, no haze), so moments add up. A splat that
// dropped the covariance would show a correlation of 0.
TEST(Render, ElongatedDotKeepsItsAxis) {
  RenderOptions options;
  options.elongation = 2.0;
  options.strength = 0.3;  // peak load below the knee
  options.optics.diffuse_gain = {0.0f, 0.0f, 0.0f};
  options.optics.floor_lightness = 0.0f;
  for (double ppm : {25.0, 50.0}) {
    for (double angle : {std::numbers::pi / 4, -std::numbers::pi / 6}) {
      const int side = static_cast<int>(std::lround(3.0 * ppm));
      const cv::Mat mask(side, side, CV_8UC1, cv::Scalar(255));
      const cv::Mat photo = uniform_photo(mask.size(), {230, 200, 180});
      const DotPattern dots = lone_dot(mask.size(), ppm, side / 2.0f + 0.3f, side / 2.0f - 0.2f,
                                       static_cast<float>(angle));
      const cv::Mat out = render(photo, make_design(mask, ppm, "1:20"), dots, options);
      const auto& lut = srgb_to_linear_table();
      double m0 = 0, mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
      for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
          const double v = 1.0 - lut[out.at<cv::Vec3b>(y, x)[1]] / lut[200];
          m0 += v;
          mx += v * x;
          my += v * y;
          mxx += v * x * x;
          myy += v * y * y;
          mxy += v * x * y;
        }
      }
      mx /= m0;
      my /= m0;
      const double cxx = mxx / m0 - mx * mx, cyy = myy / m0 - my * my, cxy = mxy / m0 - mx * my;
      // Expected: the apparent dot (its variance is what the green blur was taken out of) plus
      // the pixel box, rotated by the angle.
      const double sigma = 0.45 * ppm / 2.3548200450309493;
      const double major = 2.0 * sigma * sigma + 1.0 / 12.0, minor = sigma * sigma / 2.0 + 1.0 / 12;
      const double c = std::cos(angle), s = std::sin(angle);
      const double exx = major * c * c + minor * s * s, eyy = major * s * s + minor * c * c;
      const double exy = (major - minor) * c * s;
      SCOPED_TRACE(testing::Message()
                   << "px/mm " << ppm << " angle " << angle << ": cov " << cxx << " " << cyy << " "
                   << cxy << " expected " << exx << " " << eyy << " " << exy);
      EXPECT_NEAR(0.5 * std::atan2(2 * cxy, cxx - cyy), angle, 0.05);  // ~3 degrees
      EXPECT_NEAR(cxy / std::sqrt(cxx * cyy), exy / std::sqrt(exx * eyy), 0.04);
      const double tr = cxx + cyy, det = cxx * cyy - cxy * cxy;
      const double l1 = tr / 2 + std::sqrt(tr * tr / 4 - det),
                   l2 = tr / 2 - std::sqrt(tr * tr / 4 - det);
      EXPECT_NEAR(std::sqrt(l1 / l2), std::sqrt(major / minor), 0.08 * std::sqrt(major / minor));
    }
  }
}

double mean_green_darkening(const std::string& stage) {
  const double ppm = 8;
  const cv::Mat mask(200, 200, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = uniform_photo(mask.size(), {210, 170, 150});
  const DotPattern dots = grid_dots(mask, ppm, 1.2, 0.45);
  RenderOptions options;
  options.stage = parse_stage(stage);
  const cv::Mat out = render(photo, make_design(mask, ppm, "1:10"), dots, options);
  return 1.0 - mean_transmission(photo, out, cv::Rect(40, 40, 120, 120))[1];
}

TEST(Render, FreshIsDarkerThanHealedWhichIsDarkerThanAged) {
  const double fresh = mean_green_darkening("fresh");
  const double healing = mean_green_darkening("healing");
  const double healed = mean_green_darkening("healed");
  const double aged5 = mean_green_darkening("aged:5");
  const double aged15 = mean_green_darkening("aged:15");
  EXPECT_GT(fresh, healed * 1.2);
  EXPECT_GT(healing, healed);
  EXPECT_LT(aged5, healed * 0.85);
  EXPECT_LT(aged15, aged5);
  EXPECT_GT(aged15, 0.0);
}

// Red spreads widest under the skin, blue least: relative to its centre, a healed dot's darkening
// at 1.5 radii is largest in red (softest edge). And the dot is grey-taupe, not navy: its centre
// keeps a* and b* at or above neutral on pink skin (the complaint that started issue 5).
TEST(Render, HealedDotEdgeSoftestInRedAndCentreNotBlue) {
  const double ppm = 40;
  const cv::Mat mask(240, 240, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = uniform_photo(mask.size(), {220, 180, 160});
  const DotPattern dots = lone_dot(mask.size(), ppm, 120, 120);
  RenderOptions options;
  options.optics.diffuse_gain = {0.0f, 0.0f, 0.0f};  // the dot's own image
  const cv::Mat out = render(photo, make_design(mask, ppm, "1:6"), dots, options);
  const auto& lut = srgb_to_linear_table();
  const int r = static_cast<int>(1.5 * 0.45 * ppm / 2);
  double edge_ratio[3];
  for (int c = 0; c < 3; ++c) {
    const double base = lut[photo.at<cv::Vec3b>(0, 0)[c]];
    const double centre = 1.0 - lut[out.at<cv::Vec3b>(120, 120)[c]] / base;
    double ring = 0;
    for (int k = 0; k < 16; ++k) {
      const double a = k * std::numbers::pi / 8;
      ring += 1.0 - lut[out.at<cv::Vec3b>(120 + static_cast<int>(r * std::sin(a)),
                                          120 + static_cast<int>(r * std::cos(a)))[c]] /
                        base;
    }
    edge_ratio[c] = ring / 16 / centre;
    EXPECT_GT(centre, 0.3) << "channel " << c;
  }
  EXPECT_GT(edge_ratio[0], edge_ratio[2]);
  const Lab centre = rgb8_to_lab(out.at<cv::Vec3b>(120, 120));
  EXPECT_GT(centre.a, -1.0);
  EXPECT_GT(centre.b, 0.0);
}

// Seen from a distance the treated area darkens and turns grey: L*, a* and b* all drop
// (DESIGN.md: light skin dL -19..-22, da ~-12, db -7..-11 on real healed photos).
TEST(Render, HealedAreaDarkensAndDesaturatesLightSkin) {
  const double ppm = 8;
  const cv::Mat mask(240, 240, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = uniform_photo(mask.size(), {222, 178, 155});
  const Lab skin = rgb8_to_lab({222, 178, 155});
  TreatmentDesign design = make_design(mask, ppm, "1:10");
  design.pigment = choose_pigment(skin, Lab{25, 3, 8}, true);
  const DotPattern dots = grid_dots(mask, ppm, std::sqrt(100.0 / 70.0), 0.45);
  const cv::Mat out = render(photo, design, dots, {});
  const cv::Mat roi_mask = cv::Mat::zeros(mask.size(), CV_8UC1);
  cv::rectangle(roi_mask, cv::Rect(40, 40, 160, 160), 255, cv::FILLED);
  const Lab before = mean_lab(photo, roi_mask), after = mean_lab(out, roi_mask);
  const double dL = after.L - before.L, da = after.a - before.a, db = after.b - before.b;
  // Bounded on both sides: a jump either way means the look changed and must be looked at.
  EXPECT_LT(dL, -10.0);
  EXPECT_GT(dL, -26.0);
  EXPECT_LT(da, -2.0);
  EXPECT_LT(db, -2.0);
}

// Pixels further than render_reach_px from the mask keep their exact value, for every stage and
// for blowout, even when the pattern has dots outside the mask (they are skipped).
TEST(Render, NothingChangesOutsideTheMaskPlusReach) {
  const double ppm = 10;
  cv::Mat mask(260, 300, CV_8UC1, cv::Scalar(0));
  cv::circle(mask, {150, 130}, 70, 255, cv::FILLED);
  const cv::Mat photo = skin_photo(mask.size());
  const TreatmentDesign design = make_design(mask, ppm, "1:3");
  DotPattern dots = grid_dots(mask, ppm, 1.0, 0.45, 3, true);
  DotPattern leaky = grid_dots(cv::Mat(mask.size(), CV_8UC1, cv::Scalar(255)), ppm, 3.0, 0.45);
  dots.dots.insert(dots.dots.end(), leaky.dots.begin(), leaky.dots.end());
  for (const char* stage : {"fresh", "healing", "healed", "aged:10"}) {
    for (bool blowout : {false, true}) {
      RenderOptions options;
      options.stage = parse_stage(stage);
      options.blowout = blowout;
      const cv::Mat out = render(photo, design, dots, options);
      const double reach = render_reach_px(ppm, 0.45 * 1.8, options);
      ASSERT_LT(reach, 150) << "reach implausibly large";  // 12 mm at 10 px/mm: the 2.5 mm haze
      cv::Mat allowed;
      const int k = 2 * static_cast<int>(std::ceil(reach)) + 1;
      cv::dilate(mask, allowed, cv::getStructuringElement(cv::MORPH_ELLIPSE, {k, k}));
      cv::Mat diff;
      cv::absdiff(photo, out, diff);
      cv::Mat changed;
      cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
      changed.setTo(0, allowed);
      EXPECT_EQ(cv::countNonZero(changed), 0) << stage << (blowout ? " blowout" : "");
      // And the treated area did change.
      EXPECT_GT(cv::norm(photo, out, cv::NORM_L1), 0.0);
    }
  }
}

// Sub-pixel dots: where the peak is not resolved, the diameter is read from the integrated
// darkening (A x direct x 2 pi sigma^2 with sigma = FWHM / 2.355), at 2 px/mm (a 0.45 mm dot is
// 0.9 px), 4 and 12 px/mm. No floor and no cast, and a light pigment so the load stays linear.
TEST(Render, SubPixelDotDiameterFromIntegratedDarkening) {
  RenderOptions options;
  options.elongation = 1.0;
  options.optics.diffuse_gain = {0.0f, 0.0f, 0.0f};
  options.optics.dot_gain = 1.0f;  // centre below the load curve's knee: linear
  options.optics.floor_lightness = 0.0f;
  const Pigment pigment = pigment_by_name("1:20");
  for (double ppm : {2.0, 4.0, 12.0}) {
    const int side = 64;
    const cv::Mat mask(side, side, CV_8UC1, cv::Scalar(255));
    const cv::Mat photo = uniform_photo(mask.size(), {230, 200, 180});
    const DotPattern dots = lone_dot(mask.size(), ppm, 31.7f, 32.2f);
    const cv::Mat out = render(photo, make_design(mask, ppm, "1:20"), dots, options);
    const auto& lut = srgb_to_linear_table();
    double integral = 0;  // px^2
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) integral += 1.0 - lut[out.at<cv::Vec3b>(y, x)[1]] / lut[200];
    }
    const double a = pigment.absorption[1] * options.optics.direct[1];
    const double sigma_px = std::sqrt(integral / (a * 2.0 * std::numbers::pi));
    const double diameter_mm = sigma_px * 2.3548200450309493 / ppm;
    EXPECT_NEAR(diameter_mm, 0.45, 0.15 * 0.45) << "px/mm " << ppm;
  }
}

// A bald level-7 top-view phantom, the crown's ground-truth skin as the design, default dots.
struct PhantomScene {
  Phantom phantom;
  TreatmentDesign design;
  DotPattern dots;
  cv::Mat inner;  // the treated area away from its border
};

PhantomScene phantom_scene(int fitzpatrick, cv::Size size, std::uint64_t seed) {
  PhantomScene s;
  SynthOptions so;
  so.size = size;
  so.view = View::kTop;
  so.level = 7;
  so.fitzpatrick = fitzpatrick;
  so.seed = seed;
  s.phantom = synthesize(so);
  cv::Mat mask = s.phantom.labels == 1;
  cv::Mat crown = cv::Mat::zeros(mask.size(), CV_8UC1);
  cv::circle(crown, {size.width / 2, size.height * 23 / 48}, size.height * 13 / 48, 255,
             cv::FILLED);
  cv::bitwise_and(mask, crown, mask);
  const Calibration cal{s.phantom.px_per_mm, CalibrationSource::kUser, 0.0};
  const Lab skin = mean_lab(s.phantom.image, mask);
  s.design = design_from_mask(mask, cal, 70.0, choose_pigment(skin, Lab{}, false));
  s.dots = generate(s.design, {});
  cv::erode(mask, s.inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, {21, 21}));
  return s;
}

// Healed shift of the treated area against the bare crown, CIELAB of the linear-light mean, at
// defaults (70/cm^2, 0.45 mm). Real healed SMP (DESIGN.md / smp-real README): light dL -19..-22,
// da -12, db -7..-11; medium -23, -2, -5; dark -10, -9, -12. The renderer's skin-tone floor is
// fitted on real photos (render.cpp kFloorAnchors; evaluate_test's RealPhotosMatchRealSmp: dL met
// in every group there). These phantoms are not those photos: their crowns measure L* 65.6,
// 52.9 and 42.8 (renderer skin L* of the real groups 67, 57, 49) with about half the chroma of real
// skin (a* 8.6, 9.3, 6.3), so the Fitzpatrick 4 phantom sits between the real medium and dark
// groups and darkens less (dL -12), and none has the a* and b* the real -12 / -9 would take away.
// Expected here are the achieved values, +-0.6 (bounded on both sides: an unexplained change either
// way is looked at), and the area stays grey-taupe: a* and b* above neutral, b* above a* (no purple
// or green).
struct Shift {
  double dL, da, db;
};

void expect_healed_shift(int fitzpatrick, Shift expected) {
  const PhantomScene s = phantom_scene(fitzpatrick, {480, 480}, 3);
  const cv::Mat out = render(s.phantom.image, s.design, s.dots, {});
  const Lab before = mean_lab(s.phantom.image, s.inner), after = mean_lab(out, s.inner);
  const double dL = after.L - before.L, dA = after.a - before.a, dB = after.b - before.b;
  SCOPED_TRACE(testing::Message() << "Fitzpatrick " << fitzpatrick << ": dL " << dL << " da " << dA
                                  << " db " << dB << " (bare L " << before.L << " a " << before.a
                                  << " b " << before.b << ")");
  EXPECT_NEAR(dL, expected.dL, 0.6);
  EXPECT_NEAR(dA, expected.da, 0.6);
  EXPECT_NEAR(dB, expected.db, 0.6);
  EXPECT_GT(after.a, 0.5);      // never green-cyan
  EXPECT_GT(after.b, 1.0);      // never blue
  EXPECT_GT(after.b, after.a);  // a warm grey, not a purple one
}

TEST(Render, HealedShiftMatchesRealSmpLightSkin) {
  expect_healed_shift(2, {-23.3, -4.9, -7.9});
}
TEST(Render, HealedShiftMatchesRealSmpMediumSkin) {
  expect_healed_shift(4, {-11.6, -5.9, -8.8});
}
TEST(Render, HealedShiftMatchesRealSmpDarkSkin) {
  expect_healed_shift(6, {-7.2, -4.4, -5.7});
}

// Golden image: a 160x120 crop of a healed render of a small phantom. Regenerate (after looking
// at it) with SMP_UPDATE_GOLDEN=1. A pixel fails when a channel differs by more than 2; at most
// 1% may fail and none by more than 12 (LUT rounding and libm differences stay far below that).
TEST(Render, GoldenHealedPhantomCrop) {
  const PhantomScene s = phantom_scene(3, {320, 240}, 2);
  const cv::Mat out = render(s.phantom.image, s.design, s.dots, {});
  const cv::Mat crop = out(cv::Rect(80, 50, 160, 120)).clone();
  const std::filesystem::path path =
      std::filesystem::path(SMP_SOURCE_DIR) / "tests" / "data" / "render_golden_healed.png";
  const char* update = std::getenv("SMP_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    write_image(path.string(), crop);
    GTEST_SKIP() << "wrote " << path;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing; run with SMP_UPDATE_GOLDEN=1";
  const cv::Mat golden = load_image(path.string());
  ASSERT_EQ(golden.size(), crop.size());
  cv::Mat diff;
  cv::absdiff(golden, crop, diff);
  std::vector<cv::Mat> ch;
  cv::split(diff, ch);
  cv::Mat maxdiff = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  double worst = 0;
  cv::minMaxLoc(maxdiff, nullptr, &worst);
  const double failing = cv::countNonZero(maxdiff > 2) / static_cast<double>(maxdiff.total());
  EXPECT_LE(failing, 0.01);
  EXPECT_LE(worst, 12.0);
  // And the crop is a treated area, not bare skin or background.
  EXPECT_GT(cv::norm(crop, s.phantom.image(cv::Rect(80, 50, 160, 120)), cv::NORM_L1),
            5.0 * crop.total());
}

// `plain` with a white Gaussian highlight (peak and sigma in px) added in linear light at (120,
// 120).
cv::Mat with_highlight(const cv::Mat& plain, double peak, double sigma) {
  cv::Mat shiny = plain.clone();
  const auto& lut = srgb_to_linear_table();
  for (int y = 0; y < shiny.rows; ++y) {
    for (int x = 0; x < shiny.cols; ++x) {
      const double r2 = (x - 120.0) * (x - 120.0) + (y - 120.0) * (y - 120.0);
      const double h = peak * std::exp(-r2 / (2 * sigma * sigma));
      for (int c = 0; c < 3; ++c) {
        const double v = lut[plain.at<cv::Vec3b>(y, x)[c]] + h;
        shiny.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<std::uint8_t>(
            std::lround(255.0 * linear_to_srgb(static_cast<float>(std::min(1.0, v)))));
      }
    }
  }
  return shiny;
}

// Shine is reflected at the skin surface, above the pigment: a specular highlight on a bald head
// keeps its brightness and whiteness over a treated area. Photo = skin + a white Gaussian
// highlight added in linear light; the highlight's excess over the same render without it must
// keep >= 85% of its input excess, in every channel (white stays white). With shine off the
// pigment would absorb it like the skin below (excess ~ the area's transmission, < 60%).
double highlight_kept(float shine, double* min_channel_ratio) {
  const double ppm = 10;
  const cv::Mat mask(240, 240, CV_8UC1, cv::Scalar(255));
  const cv::Mat plain = uniform_photo(mask.size(), {200, 150, 130});
  const cv::Mat shiny = with_highlight(plain, 0.22, 2.5 * ppm);
  const auto& lut = srgb_to_linear_table();
  const TreatmentDesign design = make_design(mask, ppm, "1:10");
  const DotPattern dots = grid_dots(mask, ppm, 1.2, 0.45);
  RenderOptions options;
  options.optics.shine = shine;
  options.skin = mean_lab(plain, mask);  // the bare skin's tone, as the analysis reports it
  const cv::Mat out_plain = render(plain, design, dots, options);
  const cv::Mat out_shiny = render(shiny, design, dots, options);
  const cv::Rect centre(110, 110, 20, 20);  // within 0.1 sigma of the peak
  cv::Vec3d in_excess(0, 0, 0), out_excess(0, 0, 0);
  for (int y = centre.y; y < centre.br().y; ++y) {
    for (int x = centre.x; x < centre.br().x; ++x) {
      for (int c = 0; c < 3; ++c) {
        in_excess[c] += lut[shiny.at<cv::Vec3b>(y, x)[c]] - lut[plain.at<cv::Vec3b>(y, x)[c]];
        out_excess[c] +=
            lut[out_shiny.at<cv::Vec3b>(y, x)[c]] - lut[out_plain.at<cv::Vec3b>(y, x)[c]];
      }
    }
  }
  double lum_in = 0, lum_out = 0, min_ratio = 1e9;
  const double w[3] = {0.2126, 0.7152, 0.0722};
  for (int c = 0; c < 3; ++c) {
    lum_in += w[c] * in_excess[c];
    lum_out += w[c] * out_excess[c];
    min_ratio = std::min(min_ratio, out_excess[c] / in_excess[c]);
  }
  *min_channel_ratio = min_ratio;
  return lum_out / lum_in;
}

// Strands of the client's hair lying over the treated skin stay on top of the pigment: dark
// strands marked in the occlusion are returned exactly as photographed at every stage, the skin
// between them darkens, a "strand" as light as the skin takes the pigment (hair labels are
// coarse: they cover skin between strands too), and the output does not depend on the threads.
TEST(Render, HairOverTheSkinHidesThePigment) {
  const double ppm = 10;
  const cv::Mat mask(200, 240, CV_8UC1, cv::Scalar(255));
  cv::Mat photo = skin_photo(mask.size());
  TreatmentDesign design = make_design(mask, ppm, "1:6");
  design.occlusion = cv::Mat::zeros(mask.size(), CV_8UC1);
  for (int x = 30; x < 220; x += 24) {
    cv::line(photo, {x, 10}, {x + 12, 190}, cv::Scalar(60, 40, 30), 2);  // dark strands
    cv::line(design.occlusion, {x, 10}, {x + 12, 190}, 255, 2);
  }
  cv::line(design.occlusion, {20, 100}, {220, 100}, 255, 1);  // labelled hair, skin-bright
  const DotPattern dots = grid_dots(mask, ppm, 1.0, 0.45);
  const cv::Mat strands = design.occlusion.clone();
  cv::Mat dark_strands;
  cv::inRange(photo, cv::Scalar(0, 0, 0), cv::Scalar(70, 50, 40), dark_strands);
  dark_strands &= strands;
  ASSERT_GT(cv::countNonZero(dark_strands), 1000);
  for (const char* stage : {"fresh", "healing", "healed", "aged:5"}) {
    for (bool blowout : {false, true}) {
      RenderOptions options;
      options.stage = parse_stage(stage);
      options.blowout = blowout;
      const cv::Mat out = render(photo, design, dots, options);
      cv::Mat diff, changed;
      cv::absdiff(photo, out, diff);
      cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
      SCOPED_TRACE(std::string(stage) + (blowout ? " blowout" : ""));
      EXPECT_EQ(cv::countNonZero(changed & dark_strands), 0);
      // Between the strands (not labelled hair) the skin darkens.
      const cv::Mat skin = ~strands;
      EXPECT_GT(cv::countNonZero(changed & skin), cv::countNonZero(skin) / 2);
      // The skin-bright "strand" takes the pigment.
      EXPECT_GT(cv::countNonZero(changed.row(100)), 150);
    }
  }
  RenderOptions one, two;
  one.threads = 1;
  two.threads = 2;
  EXPECT_EQ(
      cv::norm(render(photo, design, dots, one), render(photo, design, dots, two), cv::NORM_INF),
      0.0);
}

// A broad sheen (a flash on a bald head) that is most of the pixel is not all shine: the pigment
// under it still darkens at least half as much as beside it, as the stipple of real healed SMP
// stays visible in a sheen (smp-real 28). Passed over whole, the sheen read as an untreated hole.
TEST(Render, BroadSheenStillShowsThePigment) {
  const double ppm = 10;
  const cv::Mat mask(240, 240, CV_8UC1, cv::Scalar(255));
  const cv::Mat plain = uniform_photo(mask.size(), {200, 150, 130});
  const cv::Mat sheen = with_highlight(plain, 0.5, 40.0);
  const TreatmentDesign design = make_design(mask, ppm, "1:10");
  const DotPattern dots = grid_dots(mask, ppm, 1.2, 0.45);
  RenderOptions options;
  options.skin = mean_lab(plain, mask);
  const cv::Rect centre(100, 100, 40, 40);
  const double in_plain =
      1.0 - mean_transmission(plain, render(plain, design, dots, options), centre)[1];
  const double in_sheen =
      1.0 - mean_transmission(sheen, render(sheen, design, dots, options), centre)[1];
  EXPECT_GT(in_plain, 0.2);
  EXPECT_GT(in_sheen, 0.5 * in_plain) << "plain " << in_plain << " sheen " << in_sheen;
  EXPECT_LT(in_sheen, in_plain);  // and the sheen still passes partly over the pigment
}

TEST(Render, SpecularHighlightSurvivesThePigment) {
  double min_channel = 0;
  EXPECT_GE(highlight_kept(1.0f, &min_channel), 0.85);
  EXPECT_GE(min_channel, 0.8);  // still white: no channel loses much more than the others
  EXPECT_LT(highlight_kept(0.0f, &min_channel), 0.6);  // the test can see the difference
}

// Up close the dots are individual dark-grey dots over slightly greyed skin, not a helmet tint:
// at 10 px/mm on a smooth light phantom crown, the darkest tenth of the treated pixels (dot
// centres) are at least 1.6x darker in linear luminance than the lightest tenth (the gaps
// between dots), and the gaps are greyed (darker than bare skin) but keep >= 40% of it.
TEST(Render, DotsStandOutFromTheCastUpClose) {
  const double ppm = 10;
  const cv::Mat mask(300, 300, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = uniform_photo(mask.size(), {215, 170, 150});
  // Poisson-like spacing at the default density: 70 dots/cm^2 = 1.2 mm apart.
  const DotPattern dots = grid_dots(mask, ppm, 1.2, 0.45);
  const cv::Mat out = render(photo, make_design(mask, ppm, "1:10"), dots, {});
  const auto& lut = srgb_to_linear_table();
  auto lum = [&](const cv::Vec3b& p) {
    return 0.2126 * lut[p[0]] + 0.7152 * lut[p[1]] + 0.0722 * lut[p[2]];
  };
  const double bare = lum(photo.at<cv::Vec3b>(0, 0));
  std::vector<double> v;
  for (int y = 50; y < 250; ++y) {
    for (int x = 50; x < 250; ++x) v.push_back(lum(out.at<cv::Vec3b>(y, x)));
  }
  std::sort(v.begin(), v.end());
  const std::size_t tenth = v.size() / 10;
  double dark = 0, light = 0;
  for (std::size_t i = 0; i < tenth; ++i) {
    dark += v[i];
    light += v[v.size() - 1 - i];
  }
  dark /= tenth;
  light /= tenth;
  SCOPED_TRACE(testing::Message() << "bare " << bare << " dot centres " << dark << " gaps "
                                  << light);
  EXPECT_GT(light / dark, 1.6);
  EXPECT_LT(light, 0.95 * bare);
  EXPECT_GT(light, 0.4 * bare);
}

TEST(Render, SameOutputForAnyThreadCount) {
  const double ppm = 6;
  cv::Mat mask(300, 400, CV_8UC1, cv::Scalar(0));
  cv::ellipse(mask, {200, 150}, {170, 120}, 0, 0, 360, 255, cv::FILLED);
  const cv::Mat photo = skin_photo(mask.size());
  const TreatmentDesign design = make_design(mask, ppm, "1:6");
  const DotPattern dots = grid_dots(mask, ppm, 1.1, 0.45, 5, true);
  const int saved = cv::getNumThreads();
  for (const char* stage : {"healed", "healing", "fresh"}) {
    RenderOptions options;
    options.stage = parse_stage(stage);
    // Many threads first: with TBB, lowering the count caps later requests.
    cv::setNumThreads(2);
    const cv::Mat two = render(photo, design, dots, options);
    options.threads = 3;
    const cv::Mat three = render(photo, design, dots, options);
    options.threads = 1;
    const cv::Mat one = render(photo, design, dots, options);
    EXPECT_EQ(cv::norm(one, two, cv::NORM_INF), 0.0) << stage;
    EXPECT_EQ(cv::norm(one, three, cv::NORM_INF), 0.0) << stage;
  }
  cv::setNumThreads(saved);
}

// The final pass has vector (AVX2) versions chosen at run time and portable ones: the table pass
// (healed, aged) and the erythema pass (fresh, healing). They compute the same expressions in
// the same order without fused multiply-adds (the build targets baseline x86-64, the vector
// functions enable AVX2 only), so they agree to the bit. Odd sizes exercise the vector loops'
// tails, a shiny highlight the per-pixel shine path inside rows. Where the CPU has no AVX2 both
// renders take the portable pass and the test passes trivially.
TEST(Render, VectorAndPortablePassesAgree) {
  const double ppm = 9;
  cv::Mat mask(203, 301, CV_8UC1, cv::Scalar(0));
  cv::ellipse(mask, {150, 100}, {130, 85}, 0, 0, 360, 255, cv::FILLED);
  cv::Mat photo = skin_photo(mask.size());
  cv::circle(photo, {170, 90}, 18, cv::Scalar(250, 235, 228), cv::FILLED);
  cv::GaussianBlur(photo, photo, {0, 0}, 6);
  const TreatmentDesign design = make_design(mask, ppm, "1:6");
  const DotPattern dots = grid_dots(mask, ppm, 1.1, 0.45, 9, true);
  for (const char* stage : {"healed", "fresh", "healing", "aged:5"}) {
    RenderOptions o;
    o.stage = parse_stage(stage);
    const cv::Mat vector_pass = render(photo, design, dots, o);
    detail::set_render_simd(false);
    const cv::Mat portable = render(photo, design, dots, o);
    detail::set_render_simd(true);
    EXPECT_EQ(cv::norm(vector_pass, portable, cv::NORM_INF), 0.0) << stage;
    EXPECT_GT(cv::norm(photo, portable, cv::NORM_L1), 5.0 * photo.total()) << stage;  // rendered
  }
}

TEST(Render, RendererReuseMatchesOneShot) {
  const double ppm = 6;
  const cv::Mat mask(180, 240, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = skin_photo(mask.size());
  const TreatmentDesign design = make_design(mask, ppm, "1:10");
  const DotPattern dots = grid_dots(mask, ppm, 1.2, 0.45);
  Renderer renderer(photo, design);
  cv::Mat out;
  RenderOptions fresh;
  fresh.stage = parse_stage("fresh");
  renderer.render(dots, fresh, out);
  renderer.render(dots, {}, out);
  EXPECT_EQ(cv::norm(out, render(photo, design, dots, {}), cv::NORM_INF), 0.0);
  // Sessions: only the first session's dots darken less than all of them.
  RenderOptions first;
  first.up_to_session = 1;
  cv::Mat partial;
  renderer.render(dots, first, partial);
  EXPECT_GT(cv::norm(photo, out, cv::NORM_L1), 1.5 * cv::norm(photo, partial, cv::NORM_L1));
}

TEST(Render, ParseStage) {
  EXPECT_EQ(parse_stage("fresh").stage, Stage::kFresh);
  EXPECT_EQ(parse_stage(" Healed ").stage, Stage::kHealed);
  EXPECT_EQ(parse_stage("healing").stage, Stage::kHealing);
  const StageSpec aged = parse_stage("aged:7.5");
  EXPECT_EQ(aged.stage, Stage::kAged);
  EXPECT_DOUBLE_EQ(aged.years, 7.5);
  EXPECT_EQ(to_string(aged), "aged:7.5");
  for (const char* s : {"fresh", "healing", "healed", "aged:3"}) {
    EXPECT_EQ(to_string(parse_stage(s)), s);
  }
  for (const char* bad : {"", "old", "aged", "aged:", "aged:-1", "aged:x", "aged:1e9", "aged5"}) {
    try {
      parse_stage(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("aged:"), std::string::npos) << e.what();
    }
  }
}

TEST(Render, RejectsBadInputs) {
  const cv::Mat mask(50, 60, CV_8UC1, cv::Scalar(255));
  const cv::Mat photo = uniform_photo(mask.size(), {200, 160, 140});
  const TreatmentDesign design = make_design(mask, 5, "1:10");
  const DotPattern dots = grid_dots(mask, 5, 1.2, 0.45);
  auto expect_invalid = [](auto&& f) {
    try {
      f();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  expect_invalid([&] { render(cv::Mat(), design, dots); });
  expect_invalid([&] { render(cv::Mat(50, 60, CV_8UC1, cv::Scalar(0)), design, dots); });
  expect_invalid([&] { render(uniform_photo({61, 50}, {1, 2, 3}), design, dots); });
  TreatmentDesign uncalibrated = design;
  uncalibrated.calibration.px_per_mm = 0;
  expect_invalid([&] { render(photo, uncalibrated, dots); });
  DotPattern wrong_size = dots;
  wrong_size.image_size = {10, 10};
  expect_invalid([&] { render(photo, design, wrong_size); });
  DotPattern nan_dot = dots;
  nan_dot.dots.front().x = std::nanf("");
  expect_invalid([&] { render(photo, design, nan_dot); });
  RenderOptions bad;
  bad.strength = -1;
  expect_invalid([&] { render(photo, design, dots, bad); });
  // No dots: the photo comes back unchanged.
  EXPECT_EQ(cv::norm(render(photo, design, DotPattern{}), photo, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace smp
