// Tests for smp::generate (src/pattern.cpp): property tests over many seeds, and a slow, obvious
// reference (variable-radius Bridson) to compare the fast sampler's statistics with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <random>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"
#include "smp/pattern.hpp"

namespace smp {
namespace {

using DensityFn = std::function<float(float x, float y)>;  // impressions per cm^2 at a pixel

// A design built by hand (design.cpp is another stage): full mask, density sampled on the grid
// at density_at()'s sample positions, so the bilinear field is exactly `fn` when `fn` is linear.
TreatmentDesign make_design(int w, int h, double px_per_mm, const DensityFn& fn, int sessions = 3,
                            double cell_px = 16) {
  TreatmentDesign d;
  d.image_size = {w, h};
  d.calibration.px_per_mm = px_per_mm;
  d.mask = cv::Mat(h, w, CV_8UC1, cv::Scalar(255));
  d.cell_px = cell_px;
  const int gw = int(std::ceil(w / cell_px)) + 1, gh = int(std::ceil(h / cell_px)) + 1;
  d.density.create(gh, gw, CV_32FC1);
  for (int j = 0; j < gh; ++j) {
    for (int i = 0; i < gw; ++i) {
      d.density.at<float>(j, i) =
          fn(float((i + 0.5) * cell_px - 0.5), float((j + 0.5) * cell_px - 0.5));
    }
  }
  d.sessions = sessions;
  return d;
}

double px2_per_cm2(const TreatmentDesign& d) {
  return 100.0 * d.calibration.px_per_mm * d.calibration.px_per_mm;
}

// Integral of the density over the mask, in impressions (midpoint rule on a 4 px lattice).
double expected_count(const TreatmentDesign& d, const DensityFn& fn) {
  double sum = 0;
  for (int y = 2; y < d.mask.rows; y += 4) {
    for (int x = 2; x < d.mask.cols; x += 4) {
      if (d.mask.at<std::uint8_t>(y, x)) sum += fn(float(x), float(y));
    }
  }
  return sum * 16 / px2_per_cm2(d);
}

// Local spacing used by every spacing bound below: the radius the reference Bridson needs to
// produce density d (dots per px^2): r = sqrt(kBridsonPacking / d). kBridsonPacking = 0.63 is
// what this file's Bridson (30 attempts per active point) reaches: its count matches the density
// integral to ~2% (ReferenceBridsonMatchesDensity checks it). So 0.8 r = 0.635 / sqrt(d).
constexpr double kBridsonPacking = 0.63;
double local_spacing(double dots_per_px2) {
  return std::sqrt(kBridsonPacking / dots_per_px2);
}

// The slow, obvious reference: Bridson's algorithm with a radius that follows the density. A
// candidate at distance >= max(r(p), r(q)) from every accepted q is accepted.
std::vector<cv::Point2f> bridson(const TreatmentDesign& d, const DensityFn& fn,
                                 std::uint64_t seed) {
  const double k = px2_per_cm2(d);
  auto radius = [&](float x, float y) {
    const double dens = fn(x, y) / k;
    return dens > 0 ? float(local_spacing(dens)) : 1e9f;
  };
  float rmin = 1e9f;
  for (int y = 0; y < d.mask.rows; y += 8) {
    for (int x = 0; x < d.mask.cols; x += 8) rmin = std::min(rmin, radius(float(x), float(y)));
  }
  float rmax_search = 0;  // radii vary; search neighbours out to the largest radius present
  for (int y = 0; y < d.mask.rows; y += 8) {
    for (int x = 0; x < d.mask.cols; x += 8) {
      const float r = radius(float(x), float(y));
      if (r < 1e8f) rmax_search = std::max(rmax_search, r);
    }
  }
  const float cell = rmin / std::sqrt(2.0f);
  const int gw = int(d.mask.cols / cell) + 1, gh = int(d.mask.rows / cell) + 1;
  std::vector<std::vector<int>> grid(std::size_t(gw) * gh);
  std::vector<cv::Point2f> pts;
  std::vector<float> rad;
  std::vector<int> active;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> U(0.f, 1.f);
  const int reach = int(std::ceil(rmax_search / cell));
  auto try_add = [&](cv::Point2f p) {
    if (p.x < 0 || p.y < 0 || p.x >= d.mask.cols || p.y >= d.mask.rows) return false;
    if (!d.mask.at<std::uint8_t>(int(p.y), int(p.x))) return false;
    const float r = radius(p.x, p.y);
    if (r > 1e8f) return false;
    const int gx = int(p.x / cell), gy = int(p.y / cell);
    for (int y = std::max(0, gy - reach); y <= std::min(gh - 1, gy + reach); ++y) {
      for (int x = std::max(0, gx - reach); x <= std::min(gw - 1, gx + reach); ++x) {
        for (int q : grid[std::size_t(y) * gw + x]) {
          const float rr = std::max(r, rad[q]);
          const float dx = pts[q].x - p.x, dy = pts[q].y - p.y;
          if (dx * dx + dy * dy < rr * rr) return false;
        }
      }
    }
    grid[std::size_t(gy) * gw + gx].push_back(int(pts.size()));
    active.push_back(int(pts.size()));
    pts.push_back(p);
    rad.push_back(r);
    return true;
  };
  for (int s = 0; s < 1000 && pts.empty(); ++s) {
    try_add({U(rng) * d.mask.cols, U(rng) * d.mask.rows});
  }
  while (!active.empty()) {
    const std::size_t i = std::size_t(U(rng) * active.size()) % active.size();
    const cv::Point2f c = pts[active[i]];
    bool placed = false;
    for (int a = 0; a < 30 && !placed; ++a) {
      const float ang = 2 * std::numbers::pi_v<float> * U(rng);
      const float r = rad[active[i]] * (1 + U(rng));
      placed = try_add({c.x + r * std::cos(ang), c.y + r * std::sin(ang)});
    }
    if (!placed) {
      active[i] = active.back();
      active.pop_back();
    }
  }
  return pts;
}

std::vector<cv::Point2f> points(const DotPattern& p) {
  std::vector<cv::Point2f> v;
  v.reserve(p.dots.size());
  for (const Dot& d : p.dots) v.emplace_back(d.x, d.y);
  return v;
}

// Nearest-neighbour distance of each point divided by the local spacing at that point.
struct NnStats {
  double min_ratio = 1e9, mean_ratio = 0;
};
NnStats nn_stats(const std::vector<cv::Point2f>& pts, const TreatmentDesign& d, const DensityFn& fn,
                 float margin = 0) {
  NnStats s;
  if (pts.size() < 2) return s;
  const float cell = 16;
  const int gw = int(d.mask.cols / cell) + 1, gh = int(d.mask.rows / cell) + 1;
  std::vector<std::vector<int>> grid(std::size_t(gw) * gh);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    grid[std::size_t(int(pts[i].y / cell)) * gw + int(pts[i].x / cell)].push_back(int(i));
  }
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const cv::Point2f p = pts[i];
    // Skip points near the image border (their neighbours may be outside the image).
    if (p.x < margin || p.y < margin || p.x > d.mask.cols - margin || p.y > d.mask.rows - margin) {
      continue;
    }
    const double dens = fn(p.x, p.y) / px2_per_cm2(d);
    const double r = local_spacing(dens);
    float best = 1e18f;
    const int gx = int(p.x / cell), gy = int(p.y / cell);
    for (int ring = 1; ring < 64; ++ring) {
      for (int y = std::max(0, gy - ring); y <= std::min(gh - 1, gy + ring); ++y) {
        for (int x = std::max(0, gx - ring); x <= std::min(gw - 1, gx + ring); ++x) {
          for (int q : grid[std::size_t(y) * gw + x]) {
            if (q == int(i)) continue;
            const float dx = pts[q].x - p.x, dy = pts[q].y - p.y;
            best = std::min(best, dx * dx + dy * dy);
          }
        }
      }
      if (best < (ring * cell) * (ring * cell)) break;
    }
    const double ratio = std::sqrt(best) / r;
    s.min_ratio = std::min(s.min_ratio, ratio);
    sum += ratio;
    ++n;
  }
  s.mean_ratio = sum / std::max(n, 1);
  return s;
}

const DensityFn kUniform80 = [](float, float) { return 80.0f; };

// Power spectrum of point sets in a square of `side` px (points rasterised as unit impulses,
// periodogram |DFT|^2 / N averaged over the sets, so white noise is ~1 everywhere), summarised
// per integer radius: the radial mean, and the ring's largest bin over its mean (anisotropy).
struct Spectrum {
  std::vector<double> mean, anisotropy;
};
Spectrum spectrum(const std::vector<std::vector<cv::Point2f>>& sets, int side) {
  cv::Mat acc = cv::Mat::zeros(side, side, CV_64FC1);
  for (const auto& pts : sets) {
    cv::Mat img = cv::Mat::zeros(side, side, CV_32FC1), f;
    for (const auto& p : pts) img.at<float>(int(p.y) % side, int(p.x) % side) += 1;
    cv::dft(img, f, cv::DFT_COMPLEX_OUTPUT);
    std::vector<cv::Mat> ch;
    cv::split(f, ch);
    cv::Mat power = ch[0].mul(ch[0]) + ch[1].mul(ch[1]);
    power.convertTo(power, CV_64FC1, 1.0 / double(pts.size()) / double(sets.size()));
    acc += power;
  }
  const int half = side / 2;
  Spectrum s;
  s.mean.assign(std::size_t(half), 0.0);
  std::vector<double> peak(std::size_t(half), 0.0), cnt(std::size_t(half), 0.0);
  for (int v = 0; v < side; ++v) {
    for (int u = 0; u < side; ++u) {
      const int fu = u < half ? u : u - side, fv = v < half ? v : v - side;
      const auto r = std::size_t(std::lround(std::hypot(fu, fv)));
      if (r == 0 || r >= std::size_t(half)) continue;
      s.mean[r] += acc.at<double>(v, u);
      peak[r] = std::max(peak[r], acc.at<double>(v, u));
      cnt[r] += 1;
    }
  }
  if (std::getenv("SMP_SPECTRUM_DEBUG")) {
    for (int v = 0; v < side; ++v) {
      for (int u = 0; u < side; ++u) {
        const int fu = u < half ? u : u - side, fv = v < half ? v : v - side;
        const auto r = std::size_t(std::lround(std::hypot(fu, fv)));
        if (r >= 16 && r < std::size_t(half) && acc.at<double>(v, u) > 4 * s.mean[r] / cnt[r]) {
          std::printf("spike at (%d, %d) r %zu: %.2f x ring mean\n", fu, fv, r,
                      acc.at<double>(v, u) / (s.mean[r] / cnt[r]));
        }
      }
    }
  }
  s.anisotropy.assign(std::size_t(half), 0.0);
  for (std::size_t r = 1; r < std::size_t(half); ++r) {
    s.mean[r] /= cnt[r];
    s.anisotropy[r] = peak[r] / s.mean[r];
  }
  return s;
}

// Largest value over radii [from, end) divided by the mean over the same radii.
double peak_to_mean(const std::vector<double>& v, std::size_t from) {
  double mean = 0, peak = 0;
  for (std::size_t r = from; r < v.size(); ++r) mean += v[r], peak = std::max(peak, v[r]);
  return peak / (mean / double(v.size() - from));
}
double max_from(const std::vector<double>& v, std::size_t from) {
  return *std::max_element(v.begin() + std::ptrdiff_t(from), v.end());
}

TEST(PatternTest, CountMatchesDensityIntegral) {
  // 90 x 60 mm at 10 px/mm, 80/cm^2: 4320 dots per seed. Bound: 3% (issue 4).
  const TreatmentDesign d = make_design(900, 600, 10, kUniform80);
  const double expected = expected_count(d, kUniform80);
  double worst = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const DotPattern p = generate(d, {.seed = seed});
    const double err = std::abs(double(p.dots.size()) / expected - 1);
    worst = std::max(worst, err);
    EXPECT_LE(err, 0.03) << "seed " << seed << ": " << p.dots.size() << " vs " << expected;
  }
  RecordProperty("worst_count_error", std::to_string(worst));
  std::printf("count: expected %.0f, worst relative error over 20 seeds %.4f\n", expected, worst);
}

TEST(PatternTest, MinSpacingUniformAndRampAgainstReference) {
  // Min NN >= 0.8 of the local spacing (issue 4); the reference Bridson's own statistics are
  // printed beside the fast sampler's for comparison.
  const DensityFn ramp = [](float x, float) { return 10.0f + 90.0f * x / 800.0f; };
  for (const auto& [name, fn] : {std::pair{"uniform", kUniform80}, std::pair{"ramp", ramp}}) {
    const TreatmentDesign d = make_design(800, 600, 10, fn);
    double fast_min = 1e9, fast_mean = 0;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      const NnStats s = nn_stats(points(generate(d, {.seed = seed})), d, fn);
      fast_min = std::min(fast_min, s.min_ratio);
      fast_mean += s.mean_ratio / 10;
    }
    const auto ref_pts = bridson(d, fn, 7);
    const NnStats ref = nn_stats(ref_pts, d, fn);
    std::printf(
        "%s: fast min NN %.3f mean %.3f | reference Bridson min %.3f mean %.3f (%zu dots, "
        "expected %.0f)\n",
        name, fast_min, fast_mean, ref.min_ratio, ref.mean_ratio, ref_pts.size(),
        expected_count(d, fn));
    EXPECT_GE(fast_min, 0.8) << name;
    // The mean spacing is a blue-noise signature: close to the reference's (~1.1-1.3 r), far
    // above white noise (~0.5 r).
    EXPECT_GT(fast_mean, 0.9 * ref.mean_ratio) << name;
    EXPECT_LT(fast_mean, 1.3 * ref.mean_ratio) << name;
  }
}

TEST(PatternTest, ReferenceBridsonMatchesDensity) {
  // Calibrates kBridsonPacking: with r = sqrt(0.63 / d) the reference's count matches density.
  const TreatmentDesign d = make_design(800, 600, 10, kUniform80);
  const auto pts = bridson(d, kUniform80, 3);
  EXPECT_NEAR(double(pts.size()) / expected_count(d, kUniform80), 1.0, 0.04);
}

TEST(PatternTest, StripDensityOnLinearRamp) {
  // Density 0 -> 120 /cm^2 along x; 10 strips; bound 3% per strip (issue 4).
  // * Counts are summed over 64 seeds so that the bound tests the bias, not the noise: the first
  //   strip holds only ~30 dots per seed, and its count's relative spread over 8-seed sums is
  //   ~3.2% (measured over 800 seeds), which alone failed the bound in ~40% of 8-seed sets.
  //   Over 64 seeds it is ~1.1%; the other strips' is below 0.5%.
  // * The expected count is the integral of the field the sampler is given: the design's
  //   bilinear grid (nodes at (i + 0.5) * cell_px - 0.5, clamped below the first node, 7.5 px
  //   here), not the analytic ramp at the strip's centre, which is 1.6% low in the first strip.
  const float w = 1000;
  const DensityFn ramp = [w](float x, float) { return 120.0f * (x + 0.5f) / w; };
  const TreatmentDesign d = make_design(int(w), 500, 10, ramp);
  constexpr int kStrips = 10, kSeeds = 64;
  std::vector<double> got(kStrips, 0.0), want(kStrips, 0.0);
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    for (const Dot& dot : generate(d, {.seed = seed}).dots) got[int(dot.x / w * kStrips)] += 1;
  }
  for (int i = 0; i < int(w) * 4; ++i) {  // midpoint rule on a 0.25 px lattice along x
    const float x = (float(i) + 0.5f) / 4;
    want[int(x / w * kStrips)] += kSeeds * density_at(d, x, 0) * 0.25 * 500 / px2_per_cm2(d);
  }
  double worst = 0;
  for (int s = 0; s < kStrips; ++s) {
    const double err = std::abs(got[s] / want[s] - 1);
    worst = std::max(worst, err);
    EXPECT_LE(err, 0.03) << "strip " << s << ": " << got[s] << " vs " << want[s];
  }
  std::printf("ramp: worst strip density error %.4f\n", worst);
}

TEST(PatternTest, SpectrumHasNoSpikes) {
  // Uniform density over a 1024 px square at 4 px/mm, 80/cm^2 (spacing ~3.7 px, ~10500 dots,
  // ~25 tiles), 12 seeds. Two bounds, both measured on the seed-averaged periodogram:
  // * the radially averaged spectrum (radius >= 16 bins) has no spike: peak-to-mean < 2.5 (a
  //   blue-noise set's own peak at 1 / spacing is ~1.5-2x its mean);
  // * no ring holds a strong isolated spike: largest bin / ring mean < 30 for radii 16..383
  //   (beyond, rasterisation near Nyquist dominates). The finite tile set (16 interiors sharing
  //   one border band, ~25 tiles here) leaves weak comb peaks at the tile lattice: 24.2x a ring
  //   mean that is a 12-seed average (a seed-averaged exponential peaks near 3); 32 interiors
  //   measured 18.2x (at twice the tile-build cost). A single periodic tile stamped over the
  //   square (the control below) reaches ~180x.
  const TreatmentDesign d = make_design(1024, 1024, 4, kUniform80, 1);
  std::vector<std::vector<cv::Point2f>> sets;
  for (std::uint64_t seed = 1; seed <= 12; ++seed)
    sets.push_back(points(generate(d, {.seed = seed})));
  Spectrum s = spectrum(sets, 1024);
  double low = 0;
  for (int r = 4; r < 40; ++r) low += s.mean[r] / 36;
  s.mean.resize(384);
  s.anisotropy.resize(384);
  const double radial = peak_to_mean(s.mean, 16), ring = max_from(s.anisotropy, 16);
  std::printf(
      "spectrum: low-band (r 4..40) mean power %.3f, radial peak-to-mean %.3f, "
      "worst ring max/mean %.3f\n",
      low, radial, ring);
  EXPECT_LT(low, 0.3);  // blue noise: little low-frequency power (white noise: 1)
  EXPECT_LT(radial, 2.5);
  EXPECT_LT(ring, 30.0);

  // Control: one 256 px square of the first set repeated 4 x 4 times.
  std::vector<cv::Point2f> rep;
  for (const auto& p : sets[0]) {
    if (p.x >= 256 || p.y >= 256) continue;
    for (int j = 0; j < 4; ++j) {
      for (int i = 0; i < 4; ++i) rep.emplace_back(p.x + 256.f * i, p.y + 256.f * j);
    }
  }
  Spectrum periodic = spectrum({rep}, 1024);
  periodic.anisotropy.resize(384);
  std::printf("periodic control: worst ring max/mean %.3f\n", max_from(periodic.anisotropy, 16));
  EXPECT_GT(max_from(periodic.anisotropy, 16), 100.0);
}

TEST(PatternTest, NoDotOutsideMask) {
  TreatmentDesign d = make_design(640, 480, 8, kUniform80);
  d.mask.setTo(0);
  cv::circle(d.mask, {320, 240}, 200, cv::Scalar(255), cv::FILLED);
  cv::rectangle(d.mask, {300, 0}, {340, 480}, cv::Scalar(0), cv::FILLED);  // a gap through it
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    for (double reg : {1.0, 0.0}) {
      const DotPattern p = generate(d, {.seed = seed, .regularity = reg, .grouping = 0.5});
      ASSERT_FALSE(p.dots.empty());
      for (const Dot& dot : p.dots) {
        ASSERT_TRUE(dot.x >= 0 && dot.y >= 0 && dot.x < 640 && dot.y < 480);
        ASSERT_EQ(d.mask.at<std::uint8_t>(int(dot.y), int(dot.x)), 255) << dot.x << "," << dot.y;
      }
    }
  }
}

bool same_dots(const DotPattern& a, const DotPattern& b) {
  if (a.dots.size() != b.dots.size()) return false;
  for (std::size_t i = 0; i < a.dots.size(); ++i) {
    const Dot &p = a.dots[i], &q = b.dots[i];
    if (p.x != q.x || p.y != q.y || p.diameter_mm != q.diameter_mm || p.shade != q.shade ||
        p.angle_rad != q.angle_rad || p.session != q.session) {
      return false;
    }
  }
  return true;
}

TEST(PatternTest, DeterministicAcrossThreadCounts) {
  const DensityFn ramp = [](float x, float) { return 20.0f + 80.0f * x / 700.0f; };
  const TreatmentDesign d = make_design(700, 500, 6, ramp);
  for (std::uint64_t seed : {1u, 42u}) {
    const DotPattern one = generate(d, {.seed = seed, .grouping = 0.3});
    EXPECT_TRUE(same_dots(one, generate(d, {.seed = seed, .grouping = 0.3})));
    for (int t : {2, 3, 8}) {
      EXPECT_TRUE(same_dots(one, generate(d, {.seed = seed, .threads = t, .grouping = 0.3})))
          << t << " threads";
    }
  }
  EXPECT_FALSE(same_dots(generate(d, {.seed = 1}), generate(d, {.seed = 2})));
}

TEST(PatternTest, SessionsAreNestedAndWellSpread) {
  // Session k keeps the dots of rank < density * area * k / sessions: about k/3 of the dots, and
  // the first session alone is blue noise at a third of the density.
  const TreatmentDesign d = make_design(900, 600, 10, kUniform80, 3);
  const DotPattern p = generate(d, {.seed = 5});
  std::vector<int> per(4, 0);
  std::vector<cv::Point2f> first;
  for (const Dot& dot : p.dots) {
    ASSERT_GE(dot.session, 1);
    ASSERT_LE(dot.session, 3);
    ++per[dot.session];
    if (dot.session == 1) first.emplace_back(dot.x, dot.y);
  }
  const double n = double(p.dots.size());
  EXPECT_NEAR(per[1] / n, 1.0 / 3, 0.02);
  EXPECT_NEAR(per[2] / n, 1.0 / 3, 0.02);
  EXPECT_NEAR(per[3] / n, 1.0 / 3, 0.02);
  const DensityFn third = [](float, float) { return 80.0f / 3; };
  const NnStats s = nn_stats(first, d, third);
  std::printf("session 1: %d dots, min NN %.3f mean %.3f of its own spacing\n", per[1], s.min_ratio,
              s.mean_ratio);
  EXPECT_GE(s.min_ratio, 0.8);
}

TEST(PatternTest, JitterFollowsOptions) {
  const TreatmentDesign d = make_design(600, 600, 10, kUniform80);
  const DotPattern p =
      generate(d, {.seed = 3, .dot_diameter_mm = 0.5, .size_jitter = 0.15, .shade_jitter = 0.1});
  double sum = 0, sum2 = 0, shade2 = 0;
  for (const Dot& dot : p.dots) {
    EXPECT_GE(dot.diameter_mm, 0.5f * 0.5f - 1e-6f);
    EXPECT_LE(dot.diameter_mm, 1.6f * 0.5f + 1e-6f);
    sum += dot.diameter_mm;
    sum2 += dot.diameter_mm * dot.diameter_mm;
    shade2 += (dot.shade - 1) * (dot.shade - 1);
  }
  const double n = double(p.dots.size());
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 0.5, 0.005);
  EXPECT_NEAR(sd / 0.5, 0.15, 0.01);
  EXPECT_NEAR(std::sqrt(shade2 / n), 0.1, 0.01);
  // No jitter: every dot is the nominal dot.
  for (const Dot& dot : generate(d, {.seed = 3, .size_jitter = 0, .shade_jitter = 0}).dots) {
    ASSERT_FLOAT_EQ(dot.diameter_mm, 0.45f);
    ASSERT_FLOAT_EQ(dot.shade, 1.0f);
  }
}

TEST(PatternTest, RegularityZeroIsWhiteNoiseLike) {
  // Regularity 0 jitters each dot by up to one spacing: nearest neighbours as close as white
  // noise's (min ~0), mean NN well below blue noise's; count unchanged.
  const TreatmentDesign d = make_design(800, 600, 10, kUniform80);
  const auto blue = generate(d, {.seed = 9});
  const auto white = generate(d, {.seed = 9, .regularity = 0});
  const NnStats b = nn_stats(points(blue), d, kUniform80, 20);
  const NnStats w = nn_stats(points(white), d, kUniform80, 20);
  EXPECT_LT(w.min_ratio, 0.2);
  EXPECT_LT(w.mean_ratio, 0.85 * b.mean_ratio);
  EXPECT_NEAR(double(white.dots.size()) / double(blue.dots.size()), 1.0, 0.02);
}

TEST(PatternTest, GroupingMakesCloseGroupsAndKeepsDensity) {
  const TreatmentDesign d = make_design(800, 600, 10, kUniform80);
  const DotPattern p = generate(d, {.seed = 4, .grouping = 0.6});
  const double expected = expected_count(d, kUniform80);
  EXPECT_NEAR(double(p.dots.size()) / expected, 1.0, 0.05);
  // Some nearest neighbours at the group spacing (0.28 mm = 2.8 px here +-15%).
  int close = 0;
  const NnStats s = nn_stats(points(p), d, kUniform80);
  for (std::size_t i = 1; i < p.dots.size(); ++i) {
    const float dx = p.dots[i].x - p.dots[i - 1].x, dy = p.dots[i].y - p.dots[i - 1].y;
    const float dist = std::sqrt(dx * dx + dy * dy);
    if (dist > 2.8f * 0.8f && dist < 2.8f * 1.2f) ++close;
  }
  EXPECT_GT(close, int(p.dots.size() / 10));
  EXPECT_LT(s.min_ratio, 0.5);
  // A zone map of zeros turns grouping off.
  GenerateOptions o{.seed = 4, .grouping = 0.6};
  o.grouping_zone = cv::Mat::zeros(d.density.size(), CV_32FC1);
  EXPECT_GE(nn_stats(points(generate(d, o)), d, kUniform80).min_ratio, 0.8);
}

TEST(PatternTest, AnglesFollowGrowthFieldAndWhorl) {
  TreatmentDesign d = make_design(400, 400, 10, kUniform80);
  d.growth_angle = cv::Mat(d.density.size(), CV_32FC1, cv::Scalar(0.7));
  for (const Dot& dot : generate(d, {.seed = 1}).dots) ASSERT_NEAR(dot.angle_rad, 0.7f, 1e-5f);
  // A clockwise whorl at the centre: near it, the angle is the tangent turned clockwise (+90 deg
  // on a y-down photo) leaning ~20 deg outward.
  GenerateOptions o{.seed = 1, .whorl_radius_mm = 20, .whorl_center_px = {200, 200}};
  for (const Dot& dot : generate(d, o).dots) {
    const float dx = dot.x - 200, dy = dot.y - 200;
    if (std::hypot(dx, dy) > 30) continue;
    const float want = std::atan2(dy, dx) + std::numbers::pi_v<float> / 2 - 0.35f;
    const float diff = std::remainder(dot.angle_rad - want, 2 * std::numbers::pi_v<float>);
    ASSERT_LT(std::abs(diff), 0.1f) << dot.x << "," << dot.y;
  }
}

TEST(PatternTest, RejectsBadInput) {
  TreatmentDesign d = make_design(100, 100, 10, kUniform80);
  d.calibration.px_per_mm = 0;
  EXPECT_THROW(generate(d), Error);
  d = make_design(100, 100, 10, kUniform80);
  d.mask = cv::Mat();
  EXPECT_THROW(generate(d), Error);
  d = make_design(100, 100, 10, kUniform80);
  EXPECT_THROW(generate(d, {.regularity = 2}), Error);
  // Zero density: no dots, no error.
  d.density.setTo(0);
  EXPECT_TRUE(generate(d).dots.empty());
}

}  // namespace
}  // namespace smp

namespace smp {
namespace {

// The hairline's front edge: the design's size/shade grids scale each dot where they are set.
TEST(PatternDesignScales, SizeAndShadeGridsScaleDots) {
  const cv::Mat mask(200, 400, CV_8UC1, cv::Scalar(255));
  TreatmentDesign d = design_from_mask(mask, calibration_from_user(10), 80,
                                       {.name = "t", .absorption = {0.8f, 0.8f, 0.8f}});
  const DotPattern plain = generate(d, {.seed = 3, .size_jitter = 0, .shade_jitter = 0});
  d.size_scale = cv::Mat(d.density.size(), CV_32F, cv::Scalar(1.0f));
  d.shade_scale = d.size_scale.clone();
  // Left half of the grid: finer and lighter dots.
  d.size_scale.colRange(0, d.density.cols / 2).setTo(0.5f);
  d.shade_scale.colRange(0, d.density.cols / 2).setTo(0.25f);
  const DotPattern scaled = generate(d, {.seed = 3, .size_jitter = 0, .shade_jitter = 0});
  ASSERT_EQ(plain.dots.size(), scaled.dots.size());
  int left = 0;
  for (std::size_t i = 0; i < plain.dots.size(); ++i) {
    const Dot& a = plain.dots[i];
    const Dot& b = scaled.dots[i];
    if (a.x < 150.f) {
      ++left;
      EXPECT_NEAR(b.diameter_mm, 0.5f * a.diameter_mm, 1e-4f);
      EXPECT_NEAR(b.shade, 0.25f * a.shade, 1e-4f);
    } else if (a.x > 250.f) {
      EXPECT_FLOAT_EQ(b.diameter_mm, a.diameter_mm);
      EXPECT_FLOAT_EQ(b.shade, a.shade);
    }
  }
  EXPECT_GT(left, 100);
}

}  // namespace
}  // namespace smp
