// Render: dots of carbon pigment seen through skin, in linear light.
//
// Summary (details in SkinOptics, render.hpp):
//  1. Load per linear channel: D_c = sum over dots A_c s (dot_gain direct_c P_c + diffuse_c Q_c);
//     P = the dot (Gaussian) blurred by the epidermis (R 0.09 / G 0.065 / B 0.05 mm), its centre
//     at dot_gain (1.8) x A: past the load curve's knee, and the footprint narrowed so that the
//     half maximum of the darkening is still the healed diameter (individual dark-grey dots);
//     Q = the same mass spread ~2.5 mm (1 sigma; the pigment haze around each dot, gain 6.5): it
//     follows the local dot density, so it fades with the design's feather instead of filling
//     the mask.
//  2. Shine: each pixel is split into the skin-coloured diffuse part and an achromatic specular
//     excess (dichromatic model with the bare skin's chromaticity, decided on a reduced photo);
//     only the diffuse part is darkened, the shine is added back (it is reflected above the
//     pigment).
//  3. diffuse_out_c = diffuse_c (1 - f_c S(D_c)): S linear to 0.6 then saturating at 1, f_c from
//     the skin tone's "floor" (light never reaching the pigment): phi of the skin's luminance,
//     keeping mu of its chroma, the rest a grey a shade cool; fitted on real photos to the CIELAB
//     shifts of real healed SMP (light/medium/dark) as far as the photos' own colour allows
//     (kFloorAnchors).
//  4. Stages: fresh = 2.5-puncture surface-ink core, direct 1, blur 0.4x, load 3x, floor 75%
//     inked, erythema; healing = 0.85x, 1.5x, haze 1.2x, mottled, light redness; healed = 1; aged =
//     fade 25% + 75% 0.9^years, +2.5%/yr spread, bluer tint; blowout = 3.3x, blurred, bluish.
//
// Model (see SkinOptics in render.hpp): for every linear RGB channel c, with sh the pixel's
// specular excess,
//     out_c = (photo_c - sh) * (1 - f_c S(D_c)) + sh,
//     D_c   = sum over dots of  A_c * s_dot * (direct_c * P_c,dot + diffuse_c * Q_c,dot)
// where A_c is the pigment's absorption, s_dot the dot's strength (shade x options x stage),
// P_c,dot the dot footprint convolved with the epidermis blur (a normalised anisotropic Gaussian
// scaled to the dot's area) and Q_c,dot the same mass spread by the wide diffuse kernel.
// Multiplying the photo's diffuse part keeps its shading and texture, and the shine passes over
// the dots: they are in the skin, not painted on it.
//
// Cost (a re-render is what a live preview pays when density, shade, stage or seed change; a
// 12 MP photo is 36 MB, and one pass over it is the floor). Per Renderer, once: the photo and mask
// are copied, the mask is reduced to row runs (dots are looked up in them, not in the 12 MB mask)
// and, per skin tone, the shine map and its runs are built; per skin response f_c, the output
// tables. Per render:
//  - dots (in parallel; independent, so the split does not matter): footprint, masses, and the
//    normalised x and y marginals of each channel, interleaved, once per dot;
//  - Q: dot masses splatted into a coarse grid, blurred there with one separable Gaussian per
//    channel;
//  - bands of kBandRows rows, in parallel: the band's grid rows interpolated across, each dot's
//    P splatted over its 3-sigma box into a float buffer (dots in index order within a band, so
//    every pixel's sum is the same for any thread count; rotated elongated dots carry their
//    sheared rows from one row to the next), then the final pass: per row, only the columns
//    covered by a dot box or the grid's support are converted, the rest copied. There the load
//    P + Q (Q interpolated between two grid rows) is quantised to 1/256 and, with the input byte,
//    indexes one table of output bytes per channel (S, f_c and sRGB in one lookup; ordered by
//    load within a byte, so neighbouring elements share cache lines). Shiny stretches of a row
//    (the shine map's runs) take a per-pixel path in linear light. Fresh and healing multiply
//    the transmission by their erythema E, which no (load, byte) table of bytes holds: their
//    table holds sRGB + 0.055 in 1/128 of a level, and a factor E in linear light is the factor
//    E^(1/2.4) on that (past sRGB's linear toe), interpolated from the band's rows like Q: one
//    lookup per element too, and a multiplication. At 12 MP on 2 cores a healed re-render takes
//    ~7.7 ms (3x a copy of the photo), fresh ~9.3 and healing ~9.9 (3.6x and 3.8x; 12.9 and
//    13.6 ms with a float product in linear light and three lookups per element). Where the
//    design has an occlusion (the client's hair over the skin), each row's occluded pixels within
//    its converted columns are then put back to the photo (runs found once per Renderer, with
//    visible_strands): ~1.2 ms more at 12 MP with 12% of the photo in thin strands
//    (BM_RenderOccluded: healed 9.1 ms, 3.4x a copy; fresh 11.0, 4.1x; healing 11.3, 4.2x).
// AVX2 versions of the splat and of both final passes (eight gathers at a time) are chosen at run
// time; same arithmetic, same output (detail::set_render_simd switches them off for tests).
//
// Resolution independence: each dot's weights are normalised (rows of the separable form sum to
// one) so the dot deposits exactly its area x strength at any resolution, including dots smaller
// than a pixel; the pixel's own box (variance 1/12 px^2) is added to the footprint so sub-pixel
// dots spread over the 2x2 pixels they touch instead of aliasing.
#include "smp/render.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <sstream>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "check.hpp"
#include "render_simd.hpp"
#include "smp/color.hpp"
#include "smp/error.hpp"

// The final pass has an AVX2 version, chosen at run time (the build itself targets baseline
// x86-64 or any other CPU).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SMP_RENDER_AVX2 1
#include <immintrin.h>
#else
#define SMP_RENDER_AVX2 0
#endif

namespace smp {

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

StageSpec parse_stage(const std::string& text) {
  std::string s;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (s == "fresh") return {Stage::kFresh, 0.0};
  if (s == "healing") return {Stage::kHealing, 0.0};
  if (s == "healed") return {Stage::kHealed, 0.0};
  if (s.rfind("aged", 0) == 0) {
    const std::string rest = s.substr(4);
    if (rest.empty() || rest[0] != ':' || rest.size() == 1) {
      throw Error(ErrorCode::kInvalidArgument,
                  "stage \"" + text +
                      "\" needs the years since treatment: write aged:YEARS, e.g. "
                      "aged:5");
    }
    char* end = nullptr;
    const double years = std::strtod(rest.c_str() + 1, &end);
    if (end == nullptr || *end != '\0' || !std::isfinite(years) || years < 0 || years > 50) {
      throw Error(ErrorCode::kInvalidArgument,
                  "stage \"" + text + "\": years must be a number from 0 to 50, e.g. aged:5");
    }
    return {Stage::kAged, years};
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown stage \"" + text + "\": use fresh, healing, healed or aged:YEARS");
}

std::string to_string(const StageSpec& stage) {
  switch (stage.stage) {
    case Stage::kFresh:
      return "fresh";
    case Stage::kHealing:
      return "healing";
    case Stage::kHealed:
      return "healed";
    case Stage::kAged: {
      std::ostringstream s;
      s << "aged:" << stage.years;
      return s.str();
    }
  }
  return "healed";
}

namespace {

// Rows per band: a band's float buffer (rows x width x 3) stays in cache between the splat and
// the final pass.
constexpr int kBandRows = 32;
// Pixels per chunk of the final pass's index buffer (in L1).
constexpr int kChunk = 256;
// Dots per parallel task of the dot preparation.
constexpr int kDotsPerStripe = 256;
// Footprints are cut at this many standard deviations (1.1% of the peak).
constexpr double kCutSigma = 3.0;
// Gaussian sigma <-> full width at half maximum.
constexpr double kFwhmPerSigma = 2.3548200450309493;

// How a stage changes the healed look. Values from DESIGN.md "Domain facts": fresh dots are
// surface ink ~0.25 mm around the puncture, black and sharp, with red skin for 1-2 days (compare
// the fresh close-ups in smp-real); days 3-5 flake; healed SMP fades ~8-10%/year with softer
// edges and drifts slightly blue; blowout = too deep, >3x larger and blurry.
struct StageLook {
  double diameter_scale = 1.0;    // of the direct footprint, relative to the healed diameter
  double core_punctures = 0.0;    // > 0: the direct footprint is this many punctures across
  double strength = 1.0;          // of the direct part
  double diffuse_strength = 1.0;  // of the diffuse part (pigment not yet spread when fresh)
  cv::Vec3d tint{1, 1, 1};        // per-channel absorption multiplier (bluer = more red absorbed)
  double direct_neutral = 0.0;    // 0..1: pull the direct factors toward 1 (pigment near surface)
  double blur_scale = 1.0;        // epidermis blur multiplier
  double blur_add_mm = 0.0;       // extra blur (migration, blowout), added in quadrature
  double surface_ink = 0.0;       // 0..1: ink near the surface also darkens the floor (fresh)
  double mottle = 0.0;            // per-dot random strength spread (healing)
  double erythema = 0.0;          // redness of the worked area, 0..1
};

StageLook stage_look(const RenderOptions& o) {
  StageLook s;
  switch (o.stage.stage) {
    case Stage::kFresh:
      // Excess ink sits in the epidermis and on the surface around the puncture: small, sharp,
      // near-black dots over a lighter dermal shadow (the pigment has not spread yet); the worked
      // skin is red.
      s.core_punctures = 2.5;
      s.strength = 3.0;
      s.diffuse_strength = 1.0;
      s.direct_neutral = 1.0;
      s.blur_scale = 0.4;
      s.surface_ink = 0.75;
      s.erythema = 1.0;
      break;
    case Stage::kHealing:
      // Scabs flake unevenly: some dots dark, some already light; redness mostly gone. The ~20%
      // of the pigment that leaves with the scabs and the first weeks (the lightening clients are
      // told to expect before the next session) is still in the skin: the haze is 1.2x healed.
      s.diameter_scale = 0.85;
      s.strength = 1.5;
      s.diffuse_strength = 1.2;
      s.direct_neutral = 0.4;
      s.blur_scale = 0.7;
      s.surface_ink = 0.3;
      s.mottle = 1.0;
      s.erythema = 0.3;
      break;
    case Stage::kHealed:
      break;
    case Stage::kAged: {
      // Fades ~10%/year toward 25% of the healed strength (touch-ups every 3-6 years keep real
      // clients above ~60%); pigment migrates a little (larger, softer) and drifts blue.
      const double y = std::max(0.0, o.stage.years);
      const double ys = std::min(y, 10.0);
      s.diameter_scale = 1.0 + 0.025 * ys;
      // Migration spreads the remaining pigment, it does not add any: divide by the area gain.
      const double fade = 0.25 + 0.75 * std::pow(0.9, y);
      s.strength = fade / (s.diameter_scale * s.diameter_scale);
      s.diffuse_strength = fade;
      s.blur_add_mm = 0.012 * ys;
      s.tint = {1.0 + 0.012 * ys, 1.0, 1.0 - 0.02 * ys};
      break;
    }
  }
  if (o.blowout) {
    // Pigment injected too deep spreads in the dermis: >3x larger, blurry, bluish, and the same
    // pigment over a larger area is lighter at the centre.
    s.diameter_scale = std::max(s.diameter_scale, 1.0) * 3.3;
    s.core_punctures = 0.0;
    s.strength *= 0.55;
    s.diffuse_strength *= 1.2;
    s.blur_add_mm += 0.12;
    s.tint = s.tint.mul(cv::Vec3d(1.05, 1.0, 0.88));
  }
  return s;
}

// Per-render optical constants, per channel, in pixels.
struct ChannelOptics {
  cv::Vec3d absorb;          // A_c x tint x direct factor (direct part)
  cv::Vec3d absorb_diffuse;  // A_c x tint x diffuse gain
  cv::Vec3d blur2_px;        // epidermis blur variance, px^2 (incl. stage)
  cv::Vec3d diffuse_sigma_px;
};

ChannelOptics channel_optics(const cv::Vec3f& pigment, const RenderOptions& o, const StageLook& s,
                             double px_per_mm) {
  ChannelOptics c;
  for (int k = 0; k < 3; ++k) {
    const double direct = o.optics.direct[k] + s.direct_neutral * (1.0 - o.optics.direct[k]);
    const double a = pigment[k] * s.tint[k];
    c.absorb[k] = a * direct * o.optics.dot_gain;
    c.absorb_diffuse[k] = a * o.optics.diffuse_gain[k];
    const double b = o.optics.epidermis_blur_mm[k] * s.blur_scale;
    c.blur2_px[k] = (b * b + s.blur_add_mm * s.blur_add_mm) * px_per_mm * px_per_mm;
    c.diffuse_sigma_px[k] = std::max(0.0, double(o.optics.diffuse_blur_mm[k])) * px_per_mm;
  }
  return c;
}

// Skin-tone dependence of the floor (SkinOptics::floor_lightness / floor_skin_colour), anchored at
// three skin tones and interpolated linearly in L* (clamped). Fitted on real photos, not
// phantoms: the 66 photos of ../shared/data/scalps whose hand-made masks leave at least a
// patch of full-density skin, all their skin treated and rendered healed at defaults with the
// mask as labels, the shift taken over that patch (linear-light means) and grouped by ITA
// (light > 41 deg, medium 10..41, dark < 10); each anchor sits at its group's median renderer
// skin L* (the mean under the design mask, what floor_params is given) and its (phi, mu) were
// fitted by coordinate descent, through this interpolation, so that the group's median shift
// comes nearest real healed SMP (smp-real, DESIGN.md: light -20.5/-12/-9, medium -23/-2/-5,
// dark -10/-9/-12). `smp eval colour-shift` measures it (README, "Evaluation"); the figures are
// pinned by evaluate_test's ColourShiftOnRealPhotos. What the photos allow: light skin in them
// has a* ~11 and b* ~10, so a grey floor (mu 0) taking out ~half is the most it can lose without
// turning green (smp-real's light clients are pinker, a* ~17 on the forehead); medium skin keeps
// its colour (mu 1: melanin above the pigment) and still loses half its a*, as darkening
// at a constant chromaticity lowers a* with L* (the -2 of real medium clients would take a floor
// more saturated than the skin); dark skin remits little and what the pigment leaves is neutral
// (high phi, low mu). The earlier anchors, fitted on the phantoms, gave on these photos dark
// dL -17 (for -10) and medium da, db -8.4, -8.4 (for -2, -5).
// With most of the load in the dots (dark cores, light gaps) the floor is lower than a flat tint
// would need: phi is the dot centre's luminance over the bare skin's.
struct FloorAnchor {
  float L, phi, mu;
};
constexpr std::array<FloorAnchor, 3> kFloorAnchors{{
    {49.4f, 0.55f, 0.20f},  // dark: remits little; what the pigment leaves is nearly neutral
    {57.2f, 0.13f, 1.00f},  // medium: melanin above the pigment keeps its colour
    {67.2f, 0.20f, 0.00f},  // light: the pigment shades the dermal blood that makes it pink
}};

cv::Vec2f floor_params(const Lab& skin, const SkinOptics& o) {
  const float L = std::clamp(skin.L, kFloorAnchors.front().L, kFloorAnchors.back().L);
  std::size_t i = 0;
  while (i + 2 < kFloorAnchors.size() && L > kFloorAnchors[i + 1].L) ++i;
  const FloorAnchor& a = kFloorAnchors[i];
  const FloorAnchor& b = kFloorAnchors[i + 1];
  const float t = (L - a.L) / (b.L - a.L);
  float phi = a.phi + t * (b.phi - a.phi), mu = a.mu + t * (b.mu - a.mu);
  if (o.floor_lightness >= 0) phi = o.floor_lightness;
  if (o.floor_skin_colour >= 0) mu = o.floor_skin_colour;
  return {std::clamp(phi, 0.0f, 1.0f), std::clamp(mu, 0.0f, 1.0f)};
}

cv::Vec3d lab_to_linear(const Lab& lab) {
  auto finv = [](double t) {
    return t > 6.0 / 29.0 ? t * t * t : 3.0 * 36.0 / 841.0 * (t - 4.0 / 29.0);
  };
  const double fy = (lab.L + 16) / 116.0;
  const double x = 0.95047 * finv(fy + lab.a / 500.0), y = finv(fy),
               z = 1.08883 * finv(fy - lab.b / 200.0);
  return {std::max(1e-4, 3.2404542 * x - 1.5371385 * y - 0.4985314 * z),
          std::max(1e-4, -0.9692660 * x + 1.8760108 * y + 0.0415560 * z),
          std::max(1e-4, 0.0556434 * x - 0.2040259 * y + 1.0572252 * z)};
}

// The green channel's epidermis blur is taken out of the footprint so that the apparent healed
// diameter (FWHM of the darkening in green, the channel luminance follows) is the dot's
// diameter_mm: that is the quantity measured on photos of healed SMP.
struct Footprint {
  double sxx, sxy, syy;  // covariance of the pigment footprint, px^2 (before epidermis blur)
  double area_px2;       // 2 pi sigma_major sigma_minor of the apparent dot: its "mass" at A = 1
};

Footprint footprint(double diameter_px, double angle, double elongation, double green_blur2) {
  const double sigma_apparent = diameter_px / kFwhmPerSigma;
  const double e = std::sqrt(std::max(1.0, elongation));
  const double a2 = sigma_apparent * sigma_apparent * e * e;  // major, apparent
  const double b2 = sigma_apparent * sigma_apparent / (e * e);
  // Deconvolve green's blur, but never below a quarter of the apparent variance.
  const double ma = std::max(a2 - green_blur2, 0.25 * a2);
  const double mb = std::max(b2 - green_blur2, 0.25 * b2);
  const double c = std::cos(angle), s = std::sin(angle);
  Footprint f;
  f.sxx = ma * c * c + mb * s * s;
  f.syy = ma * s * s + mb * c * c;
  f.sxy = (ma - mb) * c * s;
  f.area_px2 = 2.0 * std::numbers::pi * std::sqrt(a2 * b2);
  return f;
}

// Stateless hash -> [0, 1): healing mottle per dot, the same whatever the thread count.
double hash01(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}

// A sampled Gaussian exp(-(t0 + k)^2 / (2 var)), k = 0, 1, ..., up to a constant factor (the
// samples are normalised), by recurrence: two multiplies per sample instead of an exp
// (g(k+1) = g(k) r(k), r(k+1) = r(k) q, g(0) = 1).
struct GaussRun {
  double r, q;
};

GaussRun gauss_run(double t0, double var) {
  const double v = std::max(1e-4, var);
  return {std::exp(-(2.0 * t0 + 1.0) / (2.0 * v)), std::exp(-1.0 / v)};
}

// The n samples of `run`, scaled to sum to `total`, into w[0], w[stride], ... As four interleaved
// recurrences (samples l, l + 4, l + 8, ...): the chain of dependent multiplies, which bounded
// this loop, is a quarter as long. g(k+4) = g(k) a(k), a(k) = r(k) r(k+1) r(k+2) r(k+3) =
// r(k)^4 q^6, a(k+4) = a(k) q^16. The box is at most a few sigma wide, so g stays in range.
void gaussian_weights(GaussRun run, float total, float* w, int n, int stride = 1) {
  const double q = run.q, q2 = q * q, q4 = q2 * q2, q16 = (q4 * q4) * (q4 * q4);
  std::array<double, 4> g, a, sum{};
  double gk = 1.0, rk = run.r;
  for (std::size_t l = 0; l < 4; ++l) {
    g[l] = gk;
    const double r2 = rk * rk;
    a[l] = r2 * r2 * q4 * q2;
    gk *= rk;
    rk *= q;
  }
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    for (std::size_t l = 0; l < 4; ++l) {
      w[(k + static_cast<int>(l)) * stride] = static_cast<float>(g[l]);
      sum[l] += g[l];
      g[l] *= a[l];
      a[l] *= q16;
    }
  }
  for (std::size_t l = 0; k < n; ++k, ++l) {
    w[k * stride] = static_cast<float>(g[l]);
    sum[l] += g[l];
  }
  const double all = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  const float scale = all > 0 ? static_cast<float>(total / all) : 0.0f;
  for (k = 0; k < n; ++k) w[k * stride] *= scale;
}

// The x-y covariance of an elongated, rotated dot, where it matters (see the splat). x given y is a
// Gaussian of variance vx whose mean moves beta px per row: the band's first row of a dot is
// sampled from it (recurrence constant q). From one row to the next it changes by a constant times
// exp(beta / vx)^k along the row (k = 0, 1, ...), and each row is normalised to sum to one where
// it is used, so the constant drops out: each row's weights are the previous row's times a fixed
// vector, one multiply a weight.
struct Shear {
  double beta = 0, vx = 1, q = 0;  // the conditional, for the first row
  float step = 1;                  // exp(beta / vx)
};

// A dot ready to splat: per-channel covariance (footprint + epidermis + pixel box), masses and
// the exps of its Gaussians, computed once per render instead of once per band it touches.
struct PreparedDot {
  float cx, cy;
  int x0, x1, y0, y1;              // inclusive pixel box of the 3-sigma footprint (not clipped)
  float mass0;                     // area x strength, px^2 (for the diffuse grid)
  std::array<float, 3> mass;       // direct darkening integral per channel, px^2, x kLoadScale
  std::array<double, 3> cxx, cyy;  // variances of the x and y marginals, px^2
  std::array<bool, 3> sheared;
  std::array<Shear, 3> shear;
  // Its weights, at this offset in its stripe's arena (Renderer::Impl::stripe_weights): the x
  // marginals (normalised to 1) interleaved by channel and padded with zeros to whole groups of 12
  // floats, then the y marginals (normalised to the channel's mass), one channel after the other.
  std::size_t weights;
  int wx_floats() const { return (3 * (x1 - x0 + 1) + 11) / 12 * 12; }
  int wy_floats() const { return 3 * (y1 - y0 + 1); }
};

// Largest footprint reach (px) of a dot: 3 sigma of its widest channel.
double dot_reach_px(double diameter_px, double elongation, double max_blur2) {
  const double sigma = diameter_px / kFwhmPerSigma * std::sqrt(std::max(1.0, elongation));
  return kCutSigma * std::sqrt(sigma * sigma + max_blur2 + 1.0 / 12.0) + 1.0;
}

int diffuse_cell(const ChannelOptics& c) {
  const double smin =
      std::min({c.diffuse_sigma_px[0], c.diffuse_sigma_px[1], c.diffuse_sigma_px[2]});
  // Two samples per sigma keep the interpolated Gaussian smooth (error < 1%).
  return std::clamp(static_cast<int>(std::floor(smin / 2.0)), 1, 16);
}

int diffuse_margin_cells(const ChannelOptics& c, int cell, double erythema_sigma_px) {
  double smax = std::max(
      {c.diffuse_sigma_px[0], c.diffuse_sigma_px[1], c.diffuse_sigma_px[2], erythema_sigma_px});
  return static_cast<int>(std::ceil(kCutSigma * smax / cell)) + 2;
}

// Load -> darkening: S(D) = D up to kLoadKnee (the linear, first-order regime), then a smooth
// exponential approach to 1, so overlapping dots and dense clusters saturate at the floor
// instead of summing to black (or, with unequal channels, to blue).
constexpr float kLoadKnee = 0.6f;
inline float load_curve(float d) {
  if (d <= kLoadKnee) return d;
  return kLoadKnee + (1.0f - kLoadKnee) * (1.0f - std::exp(-(d - kLoadKnee) / (1.0f - kLoadKnee)));
}

// Width factor for a Gaussian dot of peak load `peak` such that its darkening S(load) has its
// half maximum at the radius an unsaturated dot of the full width would have: exp(-r^2 / 2 s'^2)
// = S^-1(S(peak) / 2) / peak at r = sigma sqrt(2 ln 2). 1 below the knee.
double saturation_shrink(double peak) {
  if (peak <= kLoadKnee) return 1.0;
  const double half = 0.5 * load_curve(static_cast<float>(peak));  // <= 0.5 < knee: S^-1 = id
  const double g = half / peak;
  return std::sqrt(std::log(2.0) / std::log(1.0 / g));
}

// saturation_shrink tabulated (an exp and two logs per dot were a visible part of a 1080p
// render): linear interpolation on steps of 1/64 in the peak load, exact past the table.
constexpr int kShrinkPerUnit = 64;
constexpr int kShrinkSize = 16 * kShrinkPerUnit;
double saturation_shrink_fast(double peak) {
  static const auto table = [] {
    std::array<float, kShrinkSize + 1> t{};
    for (int i = 0; i <= kShrinkSize; ++i) {
      t[static_cast<std::size_t>(i)] =
          static_cast<float>(saturation_shrink(static_cast<double>(i) / kShrinkPerUnit));
    }
    return t;
  }();
  const double u = peak * kShrinkPerUnit;
  if (!(u < kShrinkSize)) return saturation_shrink(peak);
  const int i = static_cast<int>(u);
  const double f = u - i;
  return table[static_cast<std::size_t>(i)] +
         f * (table[static_cast<std::size_t>(i) + 1] - table[static_cast<std::size_t>(i)]);
}

// The fast final pass quantises the load to 1/kFastPerUnit (a step changes the transmission by at
// most f/256, under half an 8-bit level) and looks the output byte up in one table per channel
// indexed by (input byte, load step), rebuilt only when the response changes.
constexpr int kFastPerUnit = 256;
constexpr int kFastSteps = 4 * kFastPerUnit;  // S(4) = 1 - 2e-4: saturated
// The band buffer and the diffuse grid hold the load in these steps, so the fast pass quantises
// with one conversion.
constexpr float kLoadScale = static_cast<float>(kFastPerUnit);

constexpr double kErythemaSigmaMm = 1.2;
// Redness of freshly worked skin: haemoglobin absorbs green and blue; red is slightly raised.
// Full strength where the dot coverage (area fraction) reaches kErythemaFullCoverage.
constexpr double kErythemaFullCoverage = 0.25;
constexpr std::array<float, 3> kErythemaDarkening{-0.03f, 0.20f, 0.15f};

// Linear [0, 1] -> sRGB 8-bit, indexed by round(v * (kOutLutSize - 1)). Fine enough that every
// 8-bit value survives a round trip (the smallest step of sRGB in linear is 3e-4 > 1 / 16383).
// Three bytes of padding after it: the vector pass gathers four bytes per entry.
constexpr int kOutLutSize = 1 << 14;
using OutLut = std::array<std::uint8_t, kOutLutSize + 3>;
const OutLut& linear_to_srgb8_table() {
  static const auto table = [] {
    OutLut t{};
    for (int i = 0; i < kOutLutSize; ++i) {
      const float v = linear_to_srgb(static_cast<float>(i) / (kOutLutSize - 1));
      t[static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(std::clamp(std::lround(v * 255.0f), 0L, 255L));
    }
    return t;
  }();
  return table;
}

// Sets OpenCV's thread count for one call and restores it.
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : saved_(cv::getNumThreads()), active_(threads > 0) {
    if (active_) cv::setNumThreads(threads);
  }
  ~ThreadScope() {
    if (active_) cv::setNumThreads(saved_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
  bool active_;
};

std::string size_str(const cv::Size& s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height);
}

// Runs of non-zero pixels per row of a CV_8UC1 image (x0 inclusive, x1 exclusive). A head mask
// or a shine map is a few runs per row: a dot's pixel is looked up in them instead of in the
// 12 MB mask (a cache and TLB miss per dot, ~1 ms of serial time per 12 MP re-render), and the
// final pass takes the shine-free stretches of a row without testing every pixel.
struct RowSpans {
  std::vector<int> first;  // rows + 1: the runs of row y are runs[first[y] .. first[y + 1])
  std::vector<cv::Vec2i> runs;

  bool contains(int x, int y) const {
    const auto b = runs.begin() + first[static_cast<std::size_t>(y)];
    const auto e = runs.begin() + first[static_cast<std::size_t>(y) + 1];
    auto it = std::upper_bound(b, e, x, [](int v, const cv::Vec2i& r) { return v < r[0]; });
    return it != b && x < (*(it - 1))[1];
  }
};

RowSpans row_spans(const cv::Mat& m) {
  SMP_DCHECK(m.type() == CV_8UC1);
  RowSpans s;
  s.first.resize(static_cast<std::size_t>(m.rows) + 1);
  auto word = [](const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto has_zero_byte = [](std::uint64_t v) {
    return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0;
  };
  for (int y = 0; y < m.rows; ++y) {
    s.first[static_cast<std::size_t>(y)] = static_cast<int>(s.runs.size());
    const std::uint8_t* p = m.ptr<std::uint8_t>(y);
    const int w = m.cols;
    int x = 0;
    while (x < w) {
      while (x + 8 <= w && word(p + x) == 0) x += 8;
      while (x < w && p[x] == 0) ++x;
      if (x >= w) break;
      const int x0 = x;
      while (x + 8 <= w && !has_zero_byte(word(p + x))) x += 8;
      while (x < w && p[x] != 0) ++x;
      s.runs.emplace_back(x0, x);
    }
  }
  s.first[static_cast<std::size_t>(m.rows)] = static_cast<int>(s.runs.size());
  return s;
}

// Linear [0, 1] -> sRGB 8-bit.
inline std::uint8_t to_srgb8(float linear, const OutLut& out_lut) {
  const int i = static_cast<int>(linear * (kOutLutSize - 1) + 0.5f);
  return out_lut[static_cast<std::size_t>(std::clamp(i, 0, kOutLutSize - 1))];
}

// Specular split (dichromatic model): a pixel p = m k + s (1, 1, 1), k the diffuse skin's
// chromaticity (linear RGB of the bare-skin tone), s the achromatic surface reflection. From red
// and blue (the channels skin separates most) s = (k_r p_b - k_b p_r) / (k_r - k_b), and the
// diffuse red is d = p_r - s. Skin's own chroma varies (redness, shading, texture), so an excess
// below t = kShineTolerance d counts as diffuse, one above 2t is shine in full (a real highlight
// keeps all of it) with a linear ramp between; only in pixels brighter than the skin's mean
// (shine is bright; a greyish shadow is not). That decision is taken on the photo reduced
// kShineCell times and blurred, so JPEG's blocky chroma cannot turn into blocks of shine: a
// per-Renderer map of the shine itself (linear, x255), smooth: a per-pixel excess read from JPEG's
// 8x8 (or 16x16) chroma blocks made the highlights blocky on real phone photos. Per pixel the
// shine is that level, at most the pixel's smallest channel, and the pigment darkens p - s only.
constexpr double kShineTolerance = 0.12;
constexpr double kShineGateLow = 1.2;   // x skin luminance: no shine below
constexpr double kShineGateSpan = 0.4;  // x skin luminance: full shine above low + span
constexpr int kShineCell = 6;
struct Shine {
  bool active = false;
  cv::Mat weight;  // CV_8UC1, photo size: the smooth shine level s x 255
  RowSpans runs;   // where weight is non-zero
};

void build_shine(const cv::Mat& photo, const cv::Vec3d& skin, float amount, Shine& sh) {
  const double kr = skin[0], kb = skin[2];
  sh.active = amount > 0 && kr > 1.15 * kb;  // a near-grey skin tone gives no usable split
  if (!sh.active) return;
  const auto& lin = srgb_to_linear_table();
  const double inv = 1.0 / (kr - kb);
  auto excess = [&](double pr, double pb) { return (kr * pb - kb * pr) * inv; };
  const double y_skin = 0.2126 * skin[0] + 0.7152 * skin[1] + 0.0722 * skin[2];
  cv::Mat small;
  const cv::Size ssize(std::max(1, photo.cols / kShineCell), std::max(1, photo.rows / kShineCell));
  cv::resize(photo, small, ssize, 0, 0, cv::INTER_AREA);
  cv::Mat w(ssize, CV_32FC1);
  for (int y = 0; y < small.rows; ++y) {
    const cv::Vec3b* p = small.ptr<cv::Vec3b>(y);
    float* wr = w.ptr<float>(y);
    for (int x = 0; x < small.cols; ++x) {
      const double l0 = lin[p[x][0]], l1 = lin[p[x][1]], l2 = lin[p[x][2]];
      const double e = excess(l0, l2);
      const double t = kShineTolerance * std::max(0.0, l0 - e);
      const double ramp = t > 0 ? std::clamp((e - t) / t, 0.0, 1.0) : (e > 0 ? 1.0 : 0.0);
      const double yl = 0.2126 * l0 + 0.7152 * l1 + 0.0722 * l2;
      const double gate =
          std::clamp((yl - kShineGateLow * y_skin) / (kShineGateSpan * y_skin), 0.0, 1.0);
      wr[x] = static_cast<float>(255.0 * ramp * gate * std::max(0.0, e) * amount);
    }
  }
  cv::GaussianBlur(w, w, cv::Size(5, 5), 1.0);
  cv::Mat full;
  cv::resize(w, full, photo.size(), 0, 0, cv::INTER_LINEAR);
  full.convertTo(sh.weight, CV_8UC1);
  sh.runs = row_spans(sh.weight);
}

// The specular part of a pixel (linear l0..l2): the smooth shine level `w` / 255, at most
// kShineMaxOfPixel of the pixel's darkest channel (shine is achromatic). The cap keeps the
// pigment showing under a broad sheen, as it does on real healed SMP photographed under a flash
// (smp-real 28: the stipple and a lighter shadow stay visible in the highlight); with the whole
// excess passed over, a sheen read as an untreated hole in the shadow.
constexpr float kShineMaxOfPixel = 0.5f;
inline float shine_of(std::uint8_t w, float l0, float l1, float l2) {
  return std::min(static_cast<float>(w) * (1.0f / 255.0f),
                  kShineMaxOfPixel * std::min({l0, l1, l2}));
}

// --- the fast final pass ------------------------------------------------------------------
// Per element j = 3 x + channel of a row: the load is the splatted direct part d[j] (cleared here,
// ready for the next band) plus the diffuse part interpolated between the two grid rows ha, hb
// around the row (both in steps of 1/kFastPerUnit, ha and hb + 0.5 so truncation rounds); the
// quantised load and the input byte index the three channels' tables of output bytes.
constexpr float kTopStep = static_cast<float>(kFastSteps - 1);
constexpr std::uint32_t kTablePlane = static_cast<std::uint32_t>(kFastSteps) * 256;

struct FastRow {
  float* d;
  const float* ha;
  const float* hb;
  float fy;
  const std::uint8_t* s;
  std::uint8_t* o;
  const std::uint8_t* tab;  // 3 x 256 x kFastSteps (+ 3 bytes of padding for 4-byte gathers)
};

// The same expression in every path, so they agree to the bit.
inline float take_load(const FastRow& r, int j) {
  const float v = r.d[j] + (r.ha[j] + r.fy * (r.hb[j] - r.ha[j]));
  r.d[j] = 0.0f;
  return v;
}

// The tables' entries by (channel, input byte, load step): the load varies most between
// neighbouring elements, so neighbouring steps share cache lines (ordered by load step first, a
// fresh re-render's lookups missed L1 for a tenth of its time, a healed one's for 5%).
inline std::uint32_t fast_index(float load, std::uint8_t v, std::uint32_t channel) {
  const int q = static_cast<int>(std::min(load, kTopStep));
  return ((static_cast<std::uint32_t>(v) << 10) | static_cast<std::uint32_t>(q)) +
         channel * kTablePlane;
}
static_assert(kFastSteps == 1 << 10, "load steps in the index's low bits");

// Elements [j0, j1), j0 a multiple of 3: a chunk of indices at a time (a vectorisable pass),
// then one lookup per byte.
void fast_span_portable(const FastRow& r, int j0, int j1) {
  static const auto offsets = [] {
    std::array<std::uint32_t, 3 * kChunk> t{};
    for (std::size_t j = 0; j < t.size(); ++j)
      t[j] = static_cast<std::uint32_t>(j % 3) * kTablePlane;
    return t;
  }();
  std::array<std::uint32_t, 3 * kChunk> ix;
  for (int jc = j0; jc < j1; jc += 3 * kChunk) {
    const int n = std::min(3 * kChunk, j1 - jc);
    for (int e = 0; e < n; ++e) {
      const float v = take_load(r, jc + e);
      const int q = static_cast<int>(std::min(v, kTopStep));
      ix[static_cast<std::size_t>(e)] =
          ((static_cast<std::uint32_t>(r.s[jc + e]) << 10) | static_cast<std::uint32_t>(q)) +
          offsets[static_cast<std::size_t>(e)];
    }
    for (int e = 0; e < n; ++e) r.o[jc + e] = r.tab[ix[static_cast<std::size_t>(e)]];
  }
}

#if SMP_RENDER_AVX2
// The same with AVX2: eight elements per gather, the indices never leave registers (about 2.5x
// fewer instructions than the portable pass, which is most of a re-render). No FMA, so the
// arithmetic is the portable pass's to the bit.
__attribute__((target("avx2"))) void fast_span_avx2(const FastRow& r, int j0, int j1) {
  const __m256 top = _mm256_set1_ps(kTopStep), fy = _mm256_set1_ps(r.fy),
               zero = _mm256_setzero_ps();
  const auto p = static_cast<int>(kTablePlane);
  // Channel offsets of three consecutive groups of eight elements (eight pixels).
  const __m256i off[3] = {_mm256_setr_epi32(0, p, 2 * p, 0, p, 2 * p, 0, p),
                          _mm256_setr_epi32(2 * p, 0, p, 2 * p, 0, p, 2 * p, 0),
                          _mm256_setr_epi32(p, 2 * p, 0, p, 2 * p, 0, p, 2 * p)};
  const __m256i low = _mm256_set1_epi32(0xFF);
  const int* tab = reinterpret_cast<const int*>(r.tab);
  int j = j0;
  for (; j + 24 <= j1; j += 24) {
    for (int u = 0; u < 3; ++u) {
      const int e = j + 8 * u;
      const __m256 a = _mm256_loadu_ps(r.ha + e), b = _mm256_loadu_ps(r.hb + e);
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(r.d + e),
                                     _mm256_add_ps(a, _mm256_mul_ps(fy, _mm256_sub_ps(b, a))));
      _mm256_storeu_ps(r.d + e, zero);
      const __m256i q = _mm256_cvttps_epi32(_mm256_min_ps(v, top));
      const __m256i s =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r.s + e)));
      const __m256i ix = _mm256_add_epi32(_mm256_or_si256(_mm256_slli_epi32(s, 10), q), off[u]);
      const __m256i g = _mm256_and_si256(_mm256_i32gather_epi32(tab, ix, 1), low);
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256(g, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(r.o + e), _mm_packus_epi16(w, w));
    }
  }
  fast_span_portable(r, j, j1);
}

// Splat rows [first, first + count) of a dot's y weights (per channel, ny each) times its
// interleaved x weights (n12 floats, a multiple of 12) onto rows `stride` floats apart: the
// portable splat's twelve-float groups as AVX2, 24 floats (8 pixels) at a time. Same arithmetic, no
// FMA.
__attribute__((target("avx2"))) void splat_rows_avx2(float* row, std::size_t stride,
                                                     const float* wx3, int n12, const float* wy,
                                                     int ny, int first, int count) {
  for (int i = 0; i < count; ++i, row += stride) {
    const float w0 = wy[first + i], w1 = wy[ny + first + i], w2 = wy[2 * ny + first + i];
    const __m256 p0 = _mm256_setr_ps(w0, w1, w2, w0, w1, w2, w0, w1);
    const __m256 p1 = _mm256_setr_ps(w2, w0, w1, w2, w0, w1, w2, w0);
    const __m256 p2 = _mm256_setr_ps(w1, w2, w0, w1, w2, w0, w1, w2);
    int j = 0;
    for (; j + 24 <= n12; j += 24) {
      _mm256_storeu_ps(row + j, _mm256_add_ps(_mm256_loadu_ps(row + j),
                                              _mm256_mul_ps(p0, _mm256_loadu_ps(wx3 + j))));
      _mm256_storeu_ps(row + j + 8, _mm256_add_ps(_mm256_loadu_ps(row + j + 8),
                                                  _mm256_mul_ps(p1, _mm256_loadu_ps(wx3 + j + 8))));
      _mm256_storeu_ps(row + j + 16,
                       _mm256_add_ps(_mm256_loadu_ps(row + j + 16),
                                     _mm256_mul_ps(p2, _mm256_loadu_ps(wx3 + j + 16))));
    }
    if (j < n12) {  // twelve left: eight, then four with the channels of p1's first four
      _mm256_storeu_ps(row + j, _mm256_add_ps(_mm256_loadu_ps(row + j),
                                              _mm256_mul_ps(p0, _mm256_loadu_ps(wx3 + j))));
      _mm_storeu_ps(row + j + 8,
                    _mm_add_ps(_mm_loadu_ps(row + j + 8),
                               _mm_mul_ps(_mm256_castps256_ps128(p1), _mm_loadu_ps(wx3 + j + 8))));
    }
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

std::atomic<bool> g_simd_enabled{true};

bool use_avx2() {
#if SMP_RENDER_AVX2
  return cpu_has_avx2() && g_simd_enabled.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

void fast_span(const FastRow& r, int j0, int j1, bool avx2) {
#if SMP_RENDER_AVX2
  if (avx2) {
    fast_span_avx2(r, j0, j1);
    return;
  }
#endif
  (void)avx2;
  fast_span_portable(r, j0, j1);
}

// --- the erythema pass (fresh, healing) ---------------------------------------------------
// Redness multiplies each channel's transmission by E_c = 1 - e_c, a smooth field like the diffuse
// load, which no (load, byte) table of output bytes can hold. In sRGB, though, a factor in linear
// light is a factor on the encoded value plus its offset: sRGB(x E) + 0.055 = (sRGB(x) + 0.055)
// E^(1/2.4) wherever x and x E are past sRGB's linear toe (x > 0.0031, byte > 10). So the pass is
// the fast pass with finer entries: its table holds (sRGB(linear(byte) x transmission) + 0.055) in
// 1/kUnitsPerLevel of an 8-bit level (16 bits), and per element the entry times the band's
// interpolated P_c = E_c^(1/2.4) / kUnitsPerLevel (rows pa, pb, like the diffuse load's), less the
// offset, rounded, is the output byte: one lookup per element like the fast pass (it was a lookup
// of the load's transmission, a float product in linear light and two more lookups around it).
// In the toe the identity does not hold (the toe is linear): the darkest bytes (below ~4, under
// redness) can come out a level dark. Against that product in linear light, bytes differ by at
// most one level, in ~3% of elements (the load in the fast pass's steps of 1/256, not 1/1024).
constexpr float kUnitsPerLevel = 128.0f;
constexpr float kSrgbOffset = 0.055f * 255.0f;  // in levels
// (sRGB + offset) of 255 in units: 34435, 16 bits.
static_assert((255.0f + kSrgbOffset) * kUnitsPerLevel < 65536.0f, "16-bit entries");

// P_c - 1 for the redness r (e_c = r kErythemaDarkening[c]), in units of the per-level factor.
// Tabulated on steps of 1/1024 in r and interpolated (error < 1e-8; a pow per grid sample and
// channel was ~1 ms of serial time per 12 MP re-render).
constexpr int kGainSteps = 1024;
float erythema_gain(float r, int c) {
  static const auto table = [] {
    std::array<std::array<float, kGainSteps + 2>, 3> t{};
    for (int ch = 0; ch < 3; ++ch) {
      for (int k = 0; k <= kGainSteps + 1; ++k) {
        const float e = std::min(1.0f, static_cast<float>(k) / kGainSteps) * kErythemaDarkening[ch];
        t[ch][k] = (std::pow(1.0f - e, 1.0f / 2.4f) - 1.0f) / kUnitsPerLevel;
      }
    }
    return t;
  }();
  const float u = std::clamp(r, 0.0f, 1.0f) * kGainSteps;
  const int k = static_cast<int>(u);
  const auto& t = table[static_cast<std::size_t>(c)];
  return t[k] + (u - static_cast<float>(k)) * (t[k + 1] - t[k]);
}

struct ErythemaRow {
  FastRow f;        // the load rows and the bytes (f.tab unused)
  const float* pa;  // the band's rows of P_c / kUnitsPerLevel (see above)
  const float* pb;
  const std::uint16_t* tab;  // 3 x 256 x kFastSteps entries (+ 1 of padding for 4-byte gathers)
  // Shiny pixels: the erythema rows (e_c), the load steps' transmissions, linear <-> sRGB.
  const float* ea;
  const float* eb;
  const float* trans;  // 3 x kFastSteps transmissions 1 - f_c S(D)
  const float* in_lut;
  const OutLut* out_lut;
};

// Element j (input byte v, channel c); the same expression in every path so they agree to the bit
// (rounded to nearest even, as the vector conversion does).
inline std::uint8_t erythema_byte(const ErythemaRow& r, int j, std::uint32_t c) {
  const std::uint32_t ix = fast_index(take_load(r.f, j), r.f.s[j], c);
  const float p = r.pa[j] + r.f.fy * (r.pb[j] - r.pa[j]);
  const float o = std::nearbyint(static_cast<float>(r.tab[ix]) * p - kSrgbOffset);
  return static_cast<std::uint8_t>(std::clamp(o, 0.0f, 255.0f));
}

// Elements [j0, j1), j0 a multiple of 3, without shine.
void erythema_span_portable(const ErythemaRow& r, int j0, int j1) {
  for (int j = j0; j < j1; j += 3) {
    for (std::uint32_t c = 0; c < 3; ++c)
      r.f.o[j + c] = erythema_byte(r, j + static_cast<int>(c), c);
  }
}

// Pixel x with shine level w: the specular part passes over the pigment, in linear light.
inline void erythema_shiny_pixel(const ErythemaRow& r, int x, std::uint8_t w) {
  const int j = 3 * x;
  float t[3];
  for (int c = 0; c < 3; ++c) {
    const int q = static_cast<int>(std::min(take_load(r.f, j + c), kTopStep));
    const float e = r.ea[j + c] + r.f.fy * (r.eb[j + c] - r.ea[j + c]);
    t[c] = r.trans[c * kFastSteps + q] * (1.0f - e);
  }
  const float l0 = r.in_lut[r.f.s[j]], l1 = r.in_lut[r.f.s[j + 1]], l2 = r.in_lut[r.f.s[j + 2]];
  const float sv = shine_of(w, l0, l1, l2);
  r.f.o[j] = to_srgb8((l0 - sv) * t[0] + sv, *r.out_lut);
  r.f.o[j + 1] = to_srgb8((l1 - sv) * t[1] + sv, *r.out_lut);
  r.f.o[j + 2] = to_srgb8((l2 - sv) * t[2] + sv, *r.out_lut);
}

#if SMP_RENDER_AVX2
// The same with AVX2, eight elements (one gather) at a time; no FMA, so the arithmetic is the
// portable pass's to the bit.
__attribute__((target("avx2"))) void erythema_span_avx2(const ErythemaRow& r, int j0, int j1) {
  const __m256 top = _mm256_set1_ps(kTopStep), fy = _mm256_set1_ps(r.f.fy),
               zero = _mm256_setzero_ps(), offset = _mm256_set1_ps(kSrgbOffset);
  const auto p = static_cast<int>(kTablePlane);
  const __m256i off[3] = {_mm256_setr_epi32(0, p, 2 * p, 0, p, 2 * p, 0, p),
                          _mm256_setr_epi32(2 * p, 0, p, 2 * p, 0, p, 2 * p, 0),
                          _mm256_setr_epi32(p, 2 * p, 0, p, 2 * p, 0, p, 2 * p)};
  const __m256i low = _mm256_set1_epi32(0xFFFF);
  const int* tab = reinterpret_cast<const int*>(r.tab);
  int j = j0;
  for (; j + 24 <= j1; j += 24) {
    for (int u = 0; u < 3; ++u) {
      const int e = j + 8 * u;
      const __m256 a = _mm256_loadu_ps(r.f.ha + e), b = _mm256_loadu_ps(r.f.hb + e);
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(r.f.d + e),
                                     _mm256_add_ps(a, _mm256_mul_ps(fy, _mm256_sub_ps(b, a))));
      _mm256_storeu_ps(r.f.d + e, zero);
      const __m256i q = _mm256_cvttps_epi32(_mm256_min_ps(v, top));
      const __m256i s =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r.f.s + e)));
      const __m256i ix = _mm256_add_epi32(_mm256_or_si256(_mm256_slli_epi32(s, 10), q), off[u]);
      const __m256 g =
          _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_i32gather_epi32(tab, ix, 2), low));
      const __m256 pa = _mm256_loadu_ps(r.pa + e), pb = _mm256_loadu_ps(r.pb + e);
      const __m256 pr = _mm256_add_ps(pa, _mm256_mul_ps(fy, _mm256_sub_ps(pb, pa)));
      const __m256i o = _mm256_cvtps_epi32(_mm256_sub_ps(_mm256_mul_ps(g, pr), offset));
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(o), _mm256_extracti128_si256(o, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(r.f.o + e), _mm_packus_epi16(w, w));
    }
  }
  // GCC 12 leaves out the vzeroupper before this tail call: the dirty upper halves then slowed
  // every later SSE instruction of the thread (the next render's dot preparation took 5x longer).
  _mm256_zeroupper();
  erythema_span_portable(r, j, j1);
}
#endif

void erythema_span(const ErythemaRow& r, int j0, int j1, bool avx2) {
#if SMP_RENDER_AVX2
  if (avx2) {
    erythema_span_avx2(r, j0, j1);
    return;
  }
#endif
  (void)avx2;
  erythema_span_portable(r, j0, j1);
}

// Columns [la, lb] of row y: the shine map's runs pixel by pixel (`shiny(x, level)`), the stretches
// between them (elements [j0, j1)) through `span`.
template <class Span, class Shiny>
void by_shine(const Shine& sh, int y, int tx0, int la, int lb, Span&& span, Shiny&& shiny) {
  int k = la;
  if (sh.active) {
    const std::uint8_t* wp = sh.weight.ptr<std::uint8_t>(y) + tx0;
    const auto rb = sh.runs.runs.begin() + sh.runs.first[static_cast<std::size_t>(y)];
    const auto re = sh.runs.runs.begin() + sh.runs.first[static_cast<std::size_t>(y) + 1];
    for (auto r = rb; r != re; ++r) {
      const int s0 = std::max(k, (*r)[0] - tx0), s1 = std::min(lb + 1, (*r)[1] - tx0);
      if (s0 >= s1) continue;
      span(3 * k, 3 * s0);
      for (int x = s0; x < s1; ++x) shiny(x, wp[x]);
      k = s1;
    }
  }
  span(3 * k, 3 * lb + 3);
}

// Hair labels are coarser than strands: a region of thinning hair is labelled hair, skin between
// its strands included, and keeping all of it as photographed drew pale streaks through the
// shadow. A pixel hides the pigment as far as it is hair-labelled and darker than the bare skin:
// fully at 40% below the skin's luminance (a strand), not at all at the skin's own (the scalp
// between strands, which takes the pigment). Hair as light as the skin (grey, blond) is not told
// apart from it and takes the pigment as before.
cv::Mat visible_strands(const cv::Mat& photo, const TreatmentDesign& design) {
  const Lab skin = mean_lab(photo, design.mask);
  const cv::Vec3d k = lab_to_linear(skin);
  const double y_skin = 0.2126 * k[0] + 0.7152 * k[1] + 0.0722 * k[2];
  const auto& lin = srgb_to_linear_table();
  cv::Mat w(photo.size(), CV_8UC1);
  for (int y = 0; y < photo.rows; ++y) {
    const cv::Vec3b* p = photo.ptr<cv::Vec3b>(y);
    const std::uint8_t* o = design.occlusion.ptr<std::uint8_t>(y);
    std::uint8_t* out = w.ptr<std::uint8_t>(y);
    for (int x = 0; x < photo.cols; ++x) {
      if (o[x] == 0) {
        out[x] = 0;
        continue;
      }
      const double yl = 0.2126 * lin[p[x][0]] + 0.7152 * lin[p[x][1]] + 0.0722 * lin[p[x][2]];
      const double dark = std::clamp((y_skin - yl) / (0.4 * y_skin), 0.0, 1.0);
      out[x] = static_cast<std::uint8_t>(std::lround(o[x] * dark));
    }
  }
  return w;
}

// Columns [tx0 + la, tx0 + lb] of row y: where the client's hair lies over the skin (`occ`, its
// runs), the pigment under it does not show: the output goes back to the photo, blended by the
// occlusion level (exactly the photo at 255). After the row's final pass, so neither pass
// changes; only occluded pixels within the row's rendered columns are touched.
void restore_occluded(const cv::Mat& occ, const RowSpans& runs, int y, int tx0, int la, int lb,
                      const std::uint8_t* src, std::uint8_t* out) {
  if (runs.first.empty()) return;
  const std::uint8_t* w = occ.ptr<std::uint8_t>(y);
  const auto rb = runs.runs.begin() + runs.first[static_cast<std::size_t>(y)];
  const auto re = runs.runs.begin() + runs.first[static_cast<std::size_t>(y) + 1];
  for (auto r = rb; r != re; ++r) {
    const int x0 = std::max((*r)[0], tx0 + la), x1 = std::min((*r)[1], tx0 + lb + 1);
    for (int x = x0; x < x1;) {
      if (w[x] == 255) {  // strands: the photo as it is, a stretch at a time
        int e = x + 1;
        while (e < x1 && w[e] == 255) ++e;
        std::memcpy(out + 3 * x, src + 3 * x, static_cast<std::size_t>(3 * (e - x)));
        x = e;
        continue;
      }
      const int a = w[x];
      for (int c = 0; c < 3; ++c) {
        const int i = 3 * x + c;
        const int t = out[i] * (255 - a) + src[i] * a + 128;
        out[i] = static_cast<std::uint8_t>((t + (t >> 8)) >> 8);  // t / 255, rounded
      }
      ++x;
    }
  }
}

}  // namespace

double render_reach_px(double px_per_mm, double max_diameter_mm, const RenderOptions& options) {
  const StageLook s = stage_look(options);
  const ChannelOptics c = channel_optics({1, 1, 1}, options, s, px_per_mm);
  const double max_blur2 = std::max({c.blur2_px[0], c.blur2_px[1], c.blur2_px[2]});
  const double core =
      dot_reach_px(max_diameter_mm * s.diameter_scale * px_per_mm, options.elongation, max_blur2);
  const int cell = diffuse_cell(c);
  const int margin = diffuse_margin_cells(c, cell, kErythemaSigmaMm * px_per_mm);
  // The diffuse grid reaches its kernel radius plus one cell of the splat and one of the
  // interpolation.
  return std::max(core, static_cast<double>((margin + 1) * cell));
}

// The floor's hue when it keeps none of the skin's colour: a neutral grey, a shade cool (linear
// RGB, luminance 1; CIELAB a* -0.2, b* -1.2): buried carbon reads blue-grey, but only just
// (DESIGN.md; smp-real close-ups). It moves the healed area's b* (by ~1 on the light and dark
// phantoms against the warm grey this was before), hardly its a*, which the skin left between the
// dots keeps: see kFloorAnchors.
const cv::Vec3d kFloorTint{0.99, 1.0, 1.03};

cv::Vec3f pigment_response(const Lab& skin, const SkinOptics& optics) {
  const cv::Vec2f pm = floor_params(skin, optics);
  const cv::Vec3d s = lab_to_linear(skin);
  const double y = 0.2126 * s[0] + 0.7152 * s[1] + 0.0722 * s[2];
  cv::Vec3f f;
  for (int c = 0; c < 3; ++c) {
    // Floor F_c = phi Y (s_c / Y)^mu: grey (mu 0) to the skin's own colour (mu 1).
    const double mu = pm[1];
    const double floor = pm[0] * y * std::pow(s[c] / y, mu) * std::pow(kFloorTint[c], 1.0 - mu);
    f[c] = static_cast<float>(std::clamp(1.0 - floor / s[c], 0.0, 1.0));
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------------------------

namespace {

// The samples of `run` into w[0..n), in single precision, as four interleaved recurrences;
// returns their sum. For the dots' marginals: over a box of a few sigma the samples stay well
// inside float's range, and each is within ~1e-6 of its exp.
float gaussian_samples(const GaussRun& run, float* w, int n) {
  const double q = run.q, q2 = q * q, q4 = q2 * q2;
  const auto q16 = static_cast<float>((q4 * q4) * (q4 * q4));
  std::array<float, 4> g, a, sum{};
  double gk = 1.0, rk = run.r;
  for (std::size_t l = 0; l < 4; ++l) {
    g[l] = static_cast<float>(gk);
    const double r2 = rk * rk;
    a[l] = static_cast<float>(r2 * r2 * q4 * q2);
    gk *= rk;
    rk *= q;
  }
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    for (std::size_t l = 0; l < 4; ++l) {
      w[k + static_cast<int>(l)] = g[l];
      sum[l] += g[l];
      g[l] *= a[l];
      a[l] *= q16;
    }
  }
  for (std::size_t l = 0; k < n; ++k, ++l) {
    w[k] = g[l];
    sum[l] += g[l];
  }
  return (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

// A dot's weights (PreparedDot::weights), once per render rather than once per band it touches.
// Each marginal is normalised over the dot's full (unclipped) box, so the dot deposits exactly its
// mass. Sheared channels' x weights are left for the splat, row by row.
void fill_weights(const PreparedDot& p, float* arena, std::vector<float>& scratch) {
  const int nx = p.x1 - p.x0 + 1, ny = p.y1 - p.y0 + 1;
  float* wx3 = arena + p.weights;
  float* wy = wx3 + p.wx_floats();
  if (scratch.size() < static_cast<std::size_t>(nx)) scratch.resize(static_cast<std::size_t>(nx));
  float* tmp = scratch.data();
  std::fill(wx3 + 3 * nx, wy, 0.0f);
  for (int c = 0; c < 3; ++c) {
    float* wyc = wy + static_cast<std::size_t>(c) * ny;
    const float sy = gaussian_samples(gauss_run(p.y0 - p.cy, p.cyy[c]), wyc, ny);
    const float ky = sy > 0 ? p.mass[c] / sy : 0.0f;
    for (int i = 0; i < ny; ++i) wyc[i] *= ky;
    if (p.sheared[c]) {
      for (int i = 0; i < nx; ++i) wx3[3 * i + c] = 0.0f;
      continue;
    }
    const float sx = gaussian_samples(gauss_run(p.x0 - p.cx, p.cxx[c]), tmp, nx);
    const float kx = sx > 0 ? 1.0f / sx : 0.0f;
    for (int i = 0; i < nx; ++i) wx3[3 * i + c] = tmp[i] * kx;
  }
}

// One row of a dot: row[3 (x - tx0) + c] += w3[c] wx3[3 (x - x0) + c] over the dot's box, or over
// [xa, xb] when the treated box (starting at tx0) clips it.
inline void splat_row(float* row, int tx0, const float* wx3, const float w3[3],
                      const PreparedDot& p, int xa, int xb, bool whole) {
  if (whole) {
    // Twelve floats (four pixels) at a time: vectorisable.
    float* r = row + 3 * (p.x0 - tx0);
    const float pat[12] = {w3[0], w3[1], w3[2], w3[0], w3[1], w3[2],
                           w3[0], w3[1], w3[2], w3[0], w3[1], w3[2]};
    for (int j = 0; j < p.wx_floats(); j += 12) {
      for (int t = 0; t < 12; ++t) r[j + t] += pat[t] * wx3[j + t];
    }
    return;
  }
  const int shift = 3 * (p.x0 - tx0);
  for (int j = 3 * (xa - tx0); j < 3 * (xb - tx0) + 3; ++j) row[j] += w3[j % 3] * wx3[j - shift];
}

// A dot with sheared channels over one band's rows [ya, yb] (see Shear): their x weights start
// as the conditional at row ya and are carried from row to row; unsheared channels keep their
// marginal. `wxs` and `steps` are scratch.
void splat_sheared(const PreparedDot& p, const float* wx3, const float* wy, int ny, int xa, int xb,
                   int ya, int yb, float* load, int r0, std::size_t stride, int tx0,
                   std::vector<float>& wxs, std::vector<float>& steps) {
  const int nx = p.x1 - p.x0 + 1, n12 = p.wx_floats();
  wxs.assign(wx3, wx3 + n12);
  steps.assign(static_cast<std::size_t>(n12), 1.0f);
  for (int c = 0; c < 3; ++c) {
    if (!p.sheared[c]) continue;
    const Shear& h = p.shear[c];
    const double t = (p.x0 - p.cx) - h.beta * (ya - p.cy);
    gaussian_weights({std::exp(-(2.0 * t + 1.0) / (2.0 * h.vx)), h.q}, 1.0f, wxs.data() + c, nx, 3);
    float v = 1.0f;
    for (int i = 0; i < nx; ++i, v *= h.step) steps[3 * static_cast<std::size_t>(i) + c] = v;
  }
  const bool whole = xa == p.x0 && xb == p.x1;
  for (int y = ya; y <= yb; ++y) {
    std::array<float, 3> sum{1.0f, 1.0f, 1.0f};  // the first row is normalised already
    if (y > ya) {
      // The previous row times the steps, and the new row's sums (twelve partial sums, one per
      // position in a group of four pixels).
      std::array<float, 12> acc{};
      for (int j = 0; j < n12; j += 12) {
        for (int t = 0; t < 12; ++t) {
          wxs[static_cast<std::size_t>(j + t)] *= steps[static_cast<std::size_t>(j + t)];
          acc[static_cast<std::size_t>(t)] += wxs[static_cast<std::size_t>(j + t)];
        }
      }
      for (std::size_t c = 0; c < 3; ++c) {
        if (p.sheared[c]) sum[c] = (acc[c] + acc[c + 3]) + (acc[c + 6] + acc[c + 9]);
      }
    }
    float w3[3];
    for (std::size_t c = 0; c < 3; ++c) {
      const float wyc = wy[static_cast<std::size_t>(c) * ny + (y - p.y0)];
      w3[c] = sum[c] > 0 ? wyc / sum[c] : 0.0f;
    }
    float* row = load + static_cast<std::size_t>(y - r0) * stride;
    splat_row(row, tx0, wxs.data(), w3, p, xa, xb, whole);
  }
}

}  // namespace

struct Renderer::Impl {
  cv::Mat photo;            // own clone, CV_8UC3 RGB
  TreatmentDesign design;   // own copy; mask cloned
  RowSpans mask_runs;       // the design mask's runs (empty mask = none: everywhere)
  RowSpans occlusion_runs;  // the design occlusion's runs (none when it is empty)
  // Bare-skin tone under the design mask, measured on first use (RenderOptions::skin overrides).
  std::optional<Lab> measured_skin;
  // Tables that depend only on the skin's response f_c (the skin tone, optics and stage's surface
  // ink) or on the skin tone and shine, rebuilt only when those change.
  std::vector<std::uint8_t> fast_table;  // 3 x 256 x kFastSteps output bytes (fast_index)
  std::vector<float> fast_trans;         // 3 x kFastSteps transmissions of the load steps
  cv::Vec3f trans_key{-1, -1, -1};       // the f_c it was built for
  cv::Vec3f fast_key{-1, -1, -1};        // the f_c fast_table was built for
  std::vector<std::uint16_t> ery_table;  // the erythema pass's: 3 x 256 x kFastSteps (+ 1)
  cv::Vec3f ery_key{-1, -1, -1};
  Shine shine;                          // specular split for the current skin tone
  cv::Vec4f shine_key{-1, -1, -1, -1};  // skin linear RGB and shine the map was built for
  // Per-render scratch, kept between renders to avoid reallocation.
  std::vector<int> live;        // pattern index of each dot that renders
  std::vector<float> strength;  // its strength (shade x options x mottle)
  std::vector<PreparedDot> dots;
  // The dots' weights (PreparedDot::weights), one arena per stripe of kDotsPerStripe dots.
  std::vector<std::vector<float>> stripe_weights;
  std::vector<std::vector<int>> band_dots;
  cv::Mat impulses, erythema;
  std::vector<int> col_index;
  std::vector<float> col_frac, col_frac3;
  std::vector<int> seg_start;  // per grid column, first treated-box column using it
  cv::Mat grid;  // planar diffuse load (+ erythema) grid, 3 or 6 planes stacked by rows
  std::vector<int> grid_first, grid_last;
  std::vector<cv::Vec2i> band_x;  // per band, inclusive x range of its dots' boxes

  void update_tables(const cv::Vec3f& fc, bool fast);
  void prepare_dots(const DotPattern& pattern, const RenderOptions& options, const StageLook& look,
                    const ChannelOptics& optics);
  void render(const DotPattern& pattern, const RenderOptions& options, cv::Mat& out);
};

Renderer::Renderer(const cv::Mat& photo_rgb, const TreatmentDesign& design)
    : impl_(std::make_unique<Impl>()) {
  require(!photo_rgb.empty(), ErrorCode::kInvalidArgument,
          "render: the photo is empty; load an image first");
  require(photo_rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "render: the photo must be CV_8UC3 RGB (8-bit, 3 channels); convert it first");
  require(design.image_size == photo_rgb.size(), ErrorCode::kInvalidArgument,
          "render: the photo is " + size_str(photo_rgb.size()) + " but the design was made for " +
              size_str(design.image_size) + "; design on the same photo you render");
  const double ppm = design.calibration.px_per_mm;
  require(std::isfinite(ppm) && ppm > 0 && ppm < 1000, ErrorCode::kInvalidArgument,
          "render: the design's calibration px_per_mm must be in (0, 1000), got " +
              std::to_string(ppm));
  require(design.mask.empty() ||
              (design.mask.type() == CV_8UC1 && design.mask.size() == photo_rgb.size()),
          ErrorCode::kInvalidArgument,
          "render: the design mask must be CV_8UC1 and the photo's size (or empty = everywhere)");
  require(design.occlusion.empty() ||
              (design.occlusion.type() == CV_8UC1 && design.occlusion.size() == photo_rgb.size()),
          ErrorCode::kInvalidArgument,
          "render: the design occlusion must be CV_8UC1 and the photo's size (or empty = none)");
  for (int c = 0; c < 3; ++c) {
    const float a = design.pigment.absorption[c];
    require(std::isfinite(a) && a >= 0 && a <= 1, ErrorCode::kInvalidArgument,
            "render: pigment absorption must be in [0, 1]; use pigment_by_name()");
  }
  try {
    impl_->photo = photo_rgb.clone();
    impl_->design = design;
    impl_->design.mask = design.mask.clone();
    if (!design.mask.empty()) impl_->mask_runs = row_spans(impl_->design.mask);
    if (!design.occlusion.empty()) {
      impl_->design.occlusion = visible_strands(photo_rgb, design);
      impl_->occlusion_runs = row_spans(impl_->design.occlusion);
    }
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("render: OpenCV failed: ") + e.what());
  }
}

Renderer::~Renderer() = default;
Renderer::Renderer(Renderer&&) noexcept = default;
Renderer& Renderer::operator=(Renderer&&) noexcept = default;

void Renderer::render(const DotPattern& dots, const RenderOptions& options, cv::Mat& out) {
  require(impl_ != nullptr, ErrorCode::kInvalidArgument, "render: this Renderer was moved from");
  require(std::isfinite(options.strength) && options.strength >= 0 && options.strength <= 10,
          ErrorCode::kInvalidArgument, "render: strength must be in [0, 10] (1 = as designed)");
  require(options.up_to_session >= 0, ErrorCode::kInvalidArgument,
          "render: up_to_session must be >= 0 (0 = all sessions)");
  require(options.threads >= 0, ErrorCode::kInvalidArgument,
          "render: threads must be >= 0 (0 = OpenCV's default)");
  require(
      std::isfinite(options.stage.years) && options.stage.years >= 0 && options.stage.years <= 50,
      ErrorCode::kInvalidArgument, "render: stage years must be in [0, 50]");
  require(std::isfinite(options.elongation) && options.elongation >= 1 && options.elongation <= 4,
          ErrorCode::kInvalidArgument, "render: elongation must be in [1, 4] (1 = round dots)");
  for (int c = 0; c < 3; ++c) {
    const auto& o = options.optics;
    const bool ok = std::isfinite(o.epidermis_blur_mm[c]) && o.epidermis_blur_mm[c] >= 0 &&
                    o.epidermis_blur_mm[c] <= 2 && std::isfinite(o.direct[c]) && o.direct[c] >= 0 &&
                    o.direct[c] <= 1 && std::isfinite(o.diffuse_blur_mm[c]) &&
                    o.diffuse_blur_mm[c] > 0 && o.diffuse_blur_mm[c] <= 5 &&
                    std::isfinite(o.diffuse_gain[c]) && o.diffuse_gain[c] >= 0 &&
                    o.diffuse_gain[c] <= 20;
    require(ok, ErrorCode::kInvalidArgument,
            "render: optics out of range (blur 0..2 mm, direct 0..1, diffuse blur (0, 5] mm, "
            "diffuse gain 0..20)");
  }
  require(std::isfinite(options.optics.dot_gain) && options.optics.dot_gain >= 0 &&
              options.optics.dot_gain <= 10 && std::isfinite(options.optics.shine) &&
              options.optics.shine >= 0 && options.optics.shine <= 1,
          ErrorCode::kInvalidArgument,
          "render: optics dot_gain must be in [0, 10], shine in [0, 1]");
  require(dots.image_size.empty() || dots.image_size == impl_->design.image_size,
          ErrorCode::kInvalidArgument,
          "render: the dot pattern is for a " + size_str(dots.image_size) +
              " image but the design is " + size_str(impl_->design.image_size) +
              "; generate the pattern from this design");
  const double ppm = impl_->design.calibration.px_per_mm;
  require(dots.px_per_mm == 0 || std::abs(dots.px_per_mm / ppm - 1.0) < 0.01,
          ErrorCode::kInvalidArgument,
          "render: the dot pattern was generated at " + std::to_string(dots.px_per_mm) +
              " px/mm but the design's calibration is " + std::to_string(ppm) +
              " px/mm; generate the pattern from this design");
  try {
    ThreadScope threads(options.threads);
    impl_->render(dots, options, out);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("render: OpenCV failed: ") + e.what());
  }
}

void Renderer::Impl::update_tables(const cv::Vec3f& fc, bool fast) {
  if (fc != trans_key) {
    fast_trans.resize(3 * static_cast<std::size_t>(kFastSteps));
    for (int c = 0; c < 3; ++c) {
      for (int q = 0; q < kFastSteps; ++q) {
        // In [0, 1] for any response (the erythema pass indexes with it unchecked).
        fast_trans[static_cast<std::size_t>(c) * kFastSteps + q] =
            std::clamp(1.0f - fc[c] * load_curve(static_cast<float>(q) / kFastPerUnit), 0.0f, 1.0f);
      }
    }
    trans_key = fc;
  }
  if (!fast && fc != ery_key) {
    // (sRGB + offset) in 1/kUnitsPerLevel of a level, from sRGB itself (not the 8-bit table). Past
    // the toe sRGB(l t) + 0.055 = 1.055 l^(1/2.4) t^(1/2.4): two pows per row and byte instead of
    // one per entry (a stage change to fresh or healing rebuilds this: 786k pows were 6 ms).
    const auto& lin = srgb_to_linear_table();
    std::array<float, 256> root{};
    for (int v = 0; v < 256; ++v) root[v] = std::pow(lin[static_cast<std::size_t>(v)], 1.0f / 2.4f);
    ery_table.resize(3 * static_cast<std::size_t>(kFastSteps) * 256 + 1);  // + gather padding
    cv::parallel_for_(cv::Range(0, 3 * kFastSteps), [&](const cv::Range& range) {
      for (int cq = range.start; cq < range.end; ++cq) {
        const float t = fast_trans[static_cast<std::size_t>(cq)];
        const float troot = std::pow(t, 1.0f / 2.4f);
        const int c = cq / kFastSteps, q = cq % kFastSteps;
        for (int v = 0; v < 256; ++v) {
          const float x = lin[static_cast<std::size_t>(v)] * t;
          const float shifted =
              x <= 0.0031308f ? 12.92f * x + 0.055f : 1.055f * root[v] * troot;  // sRGB + 0.055
          ery_table[fast_index(static_cast<float>(q), static_cast<std::uint8_t>(v),
                               static_cast<std::uint32_t>(c))] =
              static_cast<std::uint16_t>(std::lround(shifted * (255.0f * kUnitsPerLevel)));
        }
      }
    });
    ery_key = fc;
  }
  if (fast && fc != fast_key) {
    const auto& lin = srgb_to_linear_table();
    const auto& o8 = linear_to_srgb8_table();
    fast_table.resize(3 * static_cast<std::size_t>(kFastSteps) * 256 + 3);  // + gather padding
    for (int c = 0; c < 3; ++c) {
      for (int q = 0; q < kFastSteps; ++q) {
        const float t = fast_trans[static_cast<std::size_t>(c) * kFastSteps + q];
        for (int v = 0; v < 256; ++v) {
          fast_table[fast_index(static_cast<float>(q), static_cast<std::uint8_t>(v),
                                static_cast<std::uint32_t>(c))] =
              to_srgb8(lin[static_cast<std::size_t>(v)] * t, o8);
        }
      }
    }
    fast_key = fc;
  }
}

void Renderer::Impl::prepare_dots(const DotPattern& pattern, const RenderOptions& options,
                                  const StageLook& look, const ChannelOptics& optics) {
  const cv::Size size = photo.size();
  const double ppm = design.calibration.px_per_mm;
  double mean_diameter = 0;
  for (const Dot& d : pattern.dots) mean_diameter += d.diameter_mm;
  mean_diameter = pattern.dots.empty() ? 1.0 : mean_diameter / pattern.dots.size();
  const double healed_scale = options.healed_diameter_mm > 0 && mean_diameter > 0
                                  ? options.healed_diameter_mm / mean_diameter
                                  : 1.0;
  // Which dots render, serially (cheap, and the place to throw).
  live.clear();
  strength.clear();
  const bool masked = !design.mask.empty();
  for (std::size_t i = 0; i < pattern.dots.size(); ++i) {
    const Dot& d = pattern.dots[i];
    if (!(std::isfinite(d.x) && std::isfinite(d.y) && std::isfinite(d.diameter_mm) &&
          d.diameter_mm > 0 && d.diameter_mm <= 20 && std::isfinite(d.shade) && d.shade >= 0 &&
          std::isfinite(d.angle_rad))) {
      throw Error(ErrorCode::kInvalidArgument,
                  "render: dot " + std::to_string(i) +
                      " has a non-finite position or angle, a diameter outside (0, 20] mm or a "
                      "negative shade; check the pattern");
    }
    if (options.up_to_session > 0 && d.session > options.up_to_session) continue;
    const int px = static_cast<int>(std::lround(d.x)), py = static_cast<int>(std::lround(d.y));
    if (px < 0 || py < 0 || px >= size.width || py >= size.height) continue;
    // Dots outside the treatable mask never render: a wrong pattern cannot leak onto ears,
    // forehead or background.
    if (masked && !mask_runs.contains(px, py)) continue;
    double s = options.strength * d.shade;
    if (look.mottle > 0) {
      const double u = hash01((static_cast<std::uint64_t>(i) << 1) ^
                              (static_cast<std::uint64_t>(std::lround(d.x * 64)) << 24) ^
                              static_cast<std::uint64_t>(std::lround(d.y * 64)));
      // Flaking: a third of the dots lose much of their surface pigment, the rest keep a scab.
      s *= u < 0.33 ? 0.35 + 0.6 * u : 0.9 + 0.5 * (u - 0.33);
    }
    if (s <= 0) continue;
    live.push_back(static_cast<int>(i));
    strength.push_back(static_cast<float>(s));
  }
  // Footprints, masses and weights, in parallel: each dot is independent, so the result does not
  // depend on the split. Fixed stripes of kDotsPerStripe dots, each with its own weight arena.
  dots.resize(live.size());
  const int n = static_cast<int>(live.size());
  const int nstripes = (n + kDotsPerStripe - 1) / kDotsPerStripe;
  if (stripe_weights.size() < static_cast<std::size_t>(nstripes)) stripe_weights.resize(nstripes);
  cv::parallel_for_(
      cv::Range(0, nstripes),
      [&](const cv::Range& range) {
        thread_local std::vector<float> scratch;
        for (int stripe = range.start; stripe < range.end; ++stripe) {
          const int j0 = stripe * kDotsPerStripe, j1 = std::min(n, j0 + kDotsPerStripe);
          for (int j = j0; j < j1; ++j) {
            const Dot& d =
                pattern.dots[static_cast<std::size_t>(live[static_cast<std::size_t>(j)])];
            const double s = strength[static_cast<std::size_t>(j)];
            const double healed_mm = d.diameter_mm * healed_scale;
            // The direct image: the healed spread (scaled by the stage) or, fresh, ink around the
            // puncture (relative size kept, so hairline dots stay finer).
            const double direct_mm =
                look.core_punctures > 0
                    ? look.core_punctures * options.puncture_mm * (d.diameter_mm / mean_diameter)
                    : healed_mm * look.diameter_scale;
            // Peak load of the dot's direct image in green, the channel its diameter is measured
            // in: past the load curve's knee the darkening flattens and widens, so the footprint
            // shrinks (concentration kept) until the half-maximum of the darkening is the dot's
            // diameter.
            const double peak = s * look.strength * optics.absorb[1];
            const double shrink = saturation_shrink_fast(peak);
            const Footprint f = footprint(direct_mm * ppm * shrink, d.angle_rad, options.elongation,
                                          optics.blur2_px[1]);
            const double healed_sigma = healed_mm * ppm / kFwhmPerSigma;
            PreparedDot& p = dots[static_cast<std::size_t>(j)];
            p.cx = d.x;
            p.cy = d.y;
            // The diffuse part follows the dot's pigment mass at its healed spread.
            p.mass0 = static_cast<float>(2.0 * std::numbers::pi * healed_sigma * healed_sigma * s *
                                         look.diffuse_strength);
            std::array<double, 3> xx, yy;
            double maxxx = 0, maxyy = 0;
            for (int c = 0; c < 3; ++c) {
              const double box = 1.0 / 12.0;  // the pixel's own box filter
              xx[c] = f.sxx + optics.blur2_px[c] + box;
              yy[c] = f.syy + optics.blur2_px[c] + box;
              p.mass[c] = static_cast<float>(f.area_px2 * s * look.strength * optics.absorb[c] *
                                             kLoadScale);
              maxxx = std::max(maxxx, xx[c]);
              maxyy = std::max(maxyy, yy[c]);
            }
            const double rx = kCutSigma * std::sqrt(maxxx), ry = kCutSigma * std::sqrt(maxyy);
            p.x0 = static_cast<int>(std::ceil(d.x - rx));
            p.x1 = static_cast<int>(std::floor(d.x + rx));
            p.y0 = static_cast<int>(std::ceil(d.y - ry));
            p.y1 = static_cast<int>(std::floor(d.y + ry));
            for (int c = 0; c < 3; ++c) {
              // Separable: marginal Gaussians in x and y (see fill_weights). The x-y covariance of
              // an elongated, rotated dot is dropped unless the dot spans enough pixels for its
              // orientation to show (then x given y is sheared along the dot's axis).
              p.cxx[c] = xx[c];
              p.cyy[c] = yy[c];
              p.sheared[c] = f.sxy != 0.0 && std::min(xx[c], yy[c]) >= 16.0;
              if (p.sheared[c]) {
                Shear& h = p.shear[c];
                h.beta = f.sxy / yy[c];
                h.vx = std::max(1e-4, xx[c] - f.sxy * f.sxy / yy[c]);
                h.q = std::exp(-1.0 / h.vx);
                h.step = static_cast<float>(std::exp(h.beta / h.vx));
              }
            }
          }
          std::vector<float>& arena = stripe_weights[static_cast<std::size_t>(stripe)];
          std::size_t total = 0;
          for (int j = j0; j < j1; ++j) {
            PreparedDot& p = dots[static_cast<std::size_t>(j)];
            p.weights = total;
            total += static_cast<std::size_t>(p.wx_floats() + p.wy_floats());
          }
          arena.resize(total);
          for (int j = j0; j < j1; ++j) {
            fill_weights(dots[static_cast<std::size_t>(j)], arena.data(), scratch);
          }
        }
      },
      nstripes);
}

void Renderer::Impl::render(const DotPattern& pattern, const RenderOptions& options, cv::Mat& out) {
  const cv::Size size = photo.size();
  const double ppm = design.calibration.px_per_mm;
  const StageLook look = stage_look(options);
  const ChannelOptics optics = channel_optics(design.pigment.absorption, options, look, ppm);

  // --- the skin's response: transmission tables per channel ---------------------------------
  if (!options.skin && !measured_skin) measured_skin = mean_lab(photo, design.mask);
  const Lab skin = options.skin ? *options.skin : *measured_skin;
  const cv::Vec3f response = pigment_response(skin, options.optics);
  cv::Vec3f fc;
  for (int c = 0; c < 3; ++c) {
    // Surface ink (fresh) also shades the light that never reaches the dermis.
    fc[c] = response[c] + static_cast<float>(look.surface_ink) * (1.0f - response[c]);
  }
  const bool fast = look.erythema <= 0;
  update_tables(fc, fast);
  {
    const cv::Vec3d k = lab_to_linear(skin);
    const cv::Vec4f key(static_cast<float>(k[0]), static_cast<float>(k[1]),
                        static_cast<float>(k[2]), options.optics.shine);
    if (key != shine_key) {
      build_shine(photo, k, options.optics.shine, shine);
      shine_key = key;
    }
  }

  prepare_dots(pattern, options, look, optics);
  out.create(size, CV_8UC3);  // reallocates only if size/type differ
  if (dots.empty()) {
    photo.copyTo(out);
    return;
  }
  int bx0 = size.width, by0 = size.height, bx1 = -1, by1 = -1;  // inclusive bbox of dot boxes
  int cx0 = size.width, cy0 = size.height, cx1 = 0, cy1 = 0;    // of dot centres
  for (const auto& p : dots) {
    bx0 = std::min(bx0, p.x0);
    by0 = std::min(by0, p.y0);
    bx1 = std::max(bx1, p.x1);
    by1 = std::max(by1, p.y1);
    cx0 = std::min(cx0, static_cast<int>(std::floor(p.cx)));
    cy0 = std::min(cy0, static_cast<int>(std::floor(p.cy)));
    cx1 = std::max(cx1, static_cast<int>(std::ceil(p.cx)));
    cy1 = std::max(cy1, static_cast<int>(std::ceil(p.cy)));
  }

  // --- diffuse part on a coarse grid --------------------------------------------------------
  const int cell = diffuse_cell(optics);
  const double ery_sigma_px = kErythemaSigmaMm * ppm;
  const bool has_erythema = look.erythema > 0;
  const int margin = diffuse_margin_cells(optics, cell, has_erythema ? ery_sigma_px : 0.0);
  // Grid samples at ox + i * cell, covering the dot centres' box plus the kernel margin.
  const int ox = cx0 - margin * cell, oy = cy0 - margin * cell;
  const int gcols = (cx1 - ox) / cell + margin + 2;
  const int grows = (cy1 - oy) / cell + margin + 2;
  impulses.create(grows, gcols, CV_32FC1);
  impulses.setTo(0);
  const float inv_cell2 = 1.0f / static_cast<float>(cell * cell);
  for (const auto& p : dots) {
    const float gx = (p.cx - ox) / cell, gy = (p.cy - oy) / cell;
    const int ix = static_cast<int>(std::floor(gx)), iy = static_cast<int>(std::floor(gy));
    const float fx = gx - ix, fy = gy - iy;
    const float m = p.mass0 * inv_cell2;  // per-pixel density of the dot's area
    impulses.at<float>(iy, ix) += m * (1 - fx) * (1 - fy);
    impulses.at<float>(iy, ix + 1) += m * fx * (1 - fy);
    impulses.at<float>(iy + 1, ix) += m * (1 - fx) * fy;
    impulses.at<float>(iy + 1, ix + 1) += m * fx * fy;
  }
  // Planar grids: 3 planes of diffuse load (x kLoadScale, like the band buffer), then (fresh,
  // healing) 3 planes of erythema transmission loss e_c and 3 of the erythema pass's P_c - 1 (per
  // level: erythema_gain).
  const int nplanes = has_erythema ? 9 : 3;
  grid.create(grows * nplanes, gcols, CV_32FC1);
  // One plane per task: the grid is small, and OpenCV splitting each blur costs more in hand-offs.
  cv::parallel_for_(cv::Range(0, 3), [&](const cv::Range& range) {
    for (int c = range.start; c < range.end; ++c) {
      const double sigma = optics.diffuse_sigma_px[c] / cell;
      const int k = 2 * static_cast<int>(std::ceil(kCutSigma * sigma)) + 1;
      cv::Mat plane = grid.rowRange(c * grows, (c + 1) * grows);
      cv::GaussianBlur(impulses, plane, cv::Size(k, k), sigma, sigma, cv::BORDER_CONSTANT);
      plane *= optics.absorb_diffuse[c] * kLoadScale;
    }
  });
  if (has_erythema) {
    const double sigma = ery_sigma_px / cell;
    const int k = 2 * static_cast<int>(std::ceil(kCutSigma * sigma)) + 1;
    cv::GaussianBlur(impulses, erythema, cv::Size(k, k), sigma, sigma, cv::BORDER_CONSTANT);
    // Blurred area density / coverage at full redness, capped at 1.
    const double diffuse_mass = std::max(1e-6, options.strength * look.diffuse_strength);
    const float ery_scale =
        static_cast<float>(look.erythema / (kErythemaFullCoverage * diffuse_mass));
    for (int c = 0; c < 3; ++c) {
      for (int r = 0; r < grows; ++r) {
        const float* e = erythema.ptr<float>(r);
        float* t = grid.ptr<float>((3 + c) * grows + r);
        float* p = grid.ptr<float>((6 + c) * grows + r);
        for (int i = 0; i < gcols; ++i) {
          const float redness = std::min(1.0f, e[i] * ery_scale);
          t[i] = redness * kErythemaDarkening[c];
          p[i] = erythema_gain(redness, c);
        }
      }
    }
  }
  // Per grid row, the columns where any plane is non-zero (the kernels are cut at 3 sigma):
  // beyond them the final pass needs no grid and, with no dot either, copies the photo.
  grid_first.assign(static_cast<std::size_t>(grows), gcols);
  grid_last.assign(static_cast<std::size_t>(grows), -1);
  for (int pl = 0; pl < std::min(nplanes, 6); ++pl) {  // P_c - 1 is 0 where e_c is
    for (int r = 0; r < grows; ++r) {
      const float* g = grid.ptr<float>(pl * grows + r);
      int i0 = 0, i1 = gcols - 1;
      while (i0 < gcols && g[i0] == 0.0f) ++i0;
      while (i1 >= i0 && g[i1] == 0.0f) --i1;
      if (i0 <= i1) {
        grid_first[static_cast<std::size_t>(r)] =
            std::min(grid_first[static_cast<std::size_t>(r)], i0);
        grid_last[static_cast<std::size_t>(r)] =
            std::max(grid_last[static_cast<std::size_t>(r)], i1);
      }
    }
  }

  // Treated box: dot boxes and the diffuse grid's reach, clipped to the image (end exclusive).
  const int gx_last = ox + (gcols - 1) * cell, gy_last = oy + (grows - 1) * cell;
  const int tx0 = std::max(0, std::min(bx0, ox)), ty0 = std::max(0, std::min(by0, oy));
  const int tx1 = std::min(size.width, std::max(bx1, gx_last) + 1);
  const int ty1 = std::min(size.height, std::max(by1, gy_last) + 1);
  const int tw = tx1 - tx0;

  // Horizontal interpolation of the grid, shared by every row.
  col_index.resize(static_cast<std::size_t>(tw));
  col_frac.resize(static_cast<std::size_t>(tw));
  for (int x = tx0; x < tx1; ++x) {
    const float g = static_cast<float>(x - ox) / cell;
    int i = static_cast<int>(std::floor(g));
    float f = g - i;
    if (i < 0) {
      i = 0;
      f = 0;
    } else if (i >= gcols - 1) {
      i = gcols - 2;
      f = 1;
    }
    col_index[static_cast<std::size_t>(x - tx0)] = i;
    col_frac[static_cast<std::size_t>(x - tx0)] = f;
  }
  // The same fractions per element (x 3 channels), padded for the twelve-float groups.
  col_frac3.assign(3 * static_cast<std::size_t>(tw) + 12, 0.0f);
  for (std::size_t k = 0; k < static_cast<std::size_t>(tw); ++k) {
    col_frac3[3 * k] = col_frac3[3 * k + 1] = col_frac3[3 * k + 2] = col_frac[k];
  }
  seg_start.assign(static_cast<std::size_t>(gcols) + 1, tw);
  for (int k = tw - 1; k >= 0; --k)
    seg_start[static_cast<std::size_t>(col_index[static_cast<std::size_t>(k)])] = k;
  for (int i = gcols - 1; i >= 0; --i) {
    seg_start[static_cast<std::size_t>(i)] = std::min(seg_start[static_cast<std::size_t>(i)],
                                                      seg_start[static_cast<std::size_t>(i) + 1]);
  }

  // --- bucket dots by band (a dot lands in every band its box overlaps) --------------------
  const int nbands = (size.height + kBandRows - 1) / kBandRows;
  band_dots.resize(static_cast<std::size_t>(nbands));
  band_x.assign(static_cast<std::size_t>(nbands), cv::Vec2i(size.width, -1));
  for (auto& b : band_dots) b.clear();
  for (std::size_t i = 0; i < dots.size(); ++i) {
    const int b0 = std::max(0, dots[i].y0) / kBandRows;
    const int b1 = std::min(size.height - 1, dots[i].y1) / kBandRows;
    for (int b = b0; b <= b1; ++b) {
      band_dots[static_cast<std::size_t>(b)].push_back(static_cast<int>(i));
      cv::Vec2i& bx = band_x[static_cast<std::size_t>(b)];
      bx[0] = std::min(bx[0], std::max(tx0, dots[i].x0));
      bx[1] = std::max(bx[1], std::min(tx1 - 1, dots[i].x1));
    }
  }

  const auto& in_lut = srgb_to_linear_table();
  const auto& out_lut = linear_to_srgb8_table();
  const cv::Mat& src = photo;
  const std::vector<PreparedDot>& prepared = dots;
  const auto& arenas = stripe_weights;
  const auto& bands = band_dots;
  const auto& band_xr = band_x;
  const int* cidx = col_index.data();
  const float* frac3 = col_frac3.data();
  const int* segs = seg_start.data();
  const std::vector<int>& gfirst = grid_first;
  const std::vector<int>& glast = grid_last;
  const std::uint8_t* tab = fast_table.data();
  const std::uint16_t* etab = ery_table.data();
  const cv::Mat& g = grid;
  const Shine& sh = shine;
  const float* ftrans = fast_trans.data();
  const bool avx2 = use_avx2();  // the vector passes (detail::set_render_simd)
  // Grid row of image row y and the vertical interpolation weight.
  auto grid_y = [&](int y, float& fy) {
    const float gy = static_cast<float>(y - oy) / cell;
    int iy = static_cast<int>(std::floor(gy));
    fy = gy - iy;
    if (iy < 0) {
      iy = 0;
      fy = 0;
    } else if (iy >= grows - 1) {
      iy = grows - 2;
      fy = 1;
    }
    return iy;
  };

  cv::parallel_for_(
      cv::Range(0, nbands),
      [&](const cv::Range& range) {
        // Per-thread scratch, rows of `stride` floats, channels interleaved like the photo:
        // `load` the band's direct load, `hrows` the band's grid rows interpolated across to
        // pixels (+ 0.5 for rounding), both in steps of 1/kFastPerUnit; (fresh, healing) `prows`
        // the erythema pass's P_c rows the same way and, for shiny pixels, `erows` the erythema's
        // e_c. Rows carry 12 floats of slack for the splat's
        // unrolled tail. `load` is all zeros between bands: the final pass clears what it reads
        // and the splat never writes outside what it reads (but zeros).
        thread_local std::vector<float> load, hrows, erows, prows, wxs, wsteps;
        thread_local std::vector<int> lo, hi;
        const std::size_t stride = 3 * static_cast<std::size_t>(tw) + 12;
        if (load.size() < stride * kBandRows) load.resize(stride * kBandRows);
        if (hrows.size() < stride * (kBandRows + 1)) hrows.resize(stride * (kBandRows + 1));
        if (!fast && erows.size() < stride * (kBandRows + 1)) {
          erows.resize(stride * (kBandRows + 1));
          prows.resize(stride * (kBandRows + 1));
        }
        lo.resize(kBandRows);
        hi.resize(kBandRows);

        for (int band = range.start; band < range.end; ++band) {
          const int r0 = band * kBandRows, r1 = std::min(size.height, r0 + kBandRows);
          const int sy0 = std::max(r0, ty0), sy1 = std::min(r1, ty1);
          // Columns each row must process: its band's dot boxes and the grid's support; the
          // rest of the row is copied.
          const cv::Vec2i dot_x = band_xr[static_cast<std::size_t>(band)];
          int ua = size.width, ub = -1;
          for (int y = r0; y < r1; ++y) {
            int xa = dot_x[0], xb = dot_x[1];  // inclusive
            if (y >= sy0 && y < sy1) {
              float fy;
              const std::size_t ia = static_cast<std::size_t>(grid_y(y, fy)), ib = ia + 1;
              const int gi0 = std::min(gfirst[ia], gfirst[ib]);
              const int gi1 = std::max(glast[ia], glast[ib]);
              if (gi0 <= gi1) {
                xa = std::min(xa, std::max(tx0, ox + (gi0 - 1) * cell + 1));
                xb = std::max(xb, std::min(tx1 - 1, ox + (gi1 + 1) * cell - 1));
              }
            } else {
              xa = size.width;
              xb = -1;
            }
            const std::uint8_t* s = src.ptr<std::uint8_t>(y);
            std::uint8_t* o = out.ptr<std::uint8_t>(y);
            if (xa > xb) {
              std::memcpy(o, s, static_cast<std::size_t>(size.width) * 3);
            } else {
              std::memcpy(o, s, static_cast<std::size_t>(xa) * 3);
              std::memcpy(o + (xb + 1) * 3, s + (xb + 1) * 3,
                          static_cast<std::size_t>(size.width - xb - 1) * 3);
              ua = std::min(ua, xa);
              ub = std::max(ub, xb);
            }
            lo[static_cast<std::size_t>(y - r0)] = xa - tx0;
            hi[static_cast<std::size_t>(y - r0)] = xb - tx0;
          }
          if (ua > ub) continue;
          const int ka = ua - tx0, kb = ub - tx0;  // inclusive, treated-box coordinates
          auto load_row = [&](int y) {
            return load.data() + static_cast<std::size_t>(y - r0) * stride;
          };

          // The diffuse load (and erythema): the band's grid rows interpolated across once,
          // then each pixel row between two of them (a smooth field: two grid rows per cell of
          // rows).
          float fy_first, fy_last;
          const int gya = grid_y(sy0, fy_first);
          const int gyb = grid_y(sy1 - 1, fy_last) + 1;
          // Grid row gr of planes p0..p0 + 2 across columns [ka, kb], plus `bias`, into h: cell by
          // cell, twelve floats at a time (vectorisable); a cell's last group spills into the next
          // cell's, which is written after it, or into the row's slack.
          auto across = [&](int p0, int gr, float bias, float* h) {
            const float* g0 = g.ptr<float>(p0 * grows + gr);
            const float* g1 = g.ptr<float>((p0 + 1) * grows + gr);
            const float* g2 = g.ptr<float>((p0 + 2) * grows + gr);
            for (int i = cidx[ka]; i <= cidx[kb]; ++i) {
              const int k0 = std::max(ka, segs[i]), k1 = std::min(kb + 1, segs[i + 1]);
              if (k0 >= k1) continue;
              const float a0 = g0[i] + bias, a1 = g1[i] + bias, a2 = g2[i] + bias;
              const float d0 = g0[i + 1] - g0[i], d1 = g1[i + 1] - g1[i], d2 = g2[i + 1] - g2[i];
              const float pa[12] = {a0, a1, a2, a0, a1, a2, a0, a1, a2, a0, a1, a2};
              const float pd[12] = {d0, d1, d2, d0, d1, d2, d0, d1, d2, d0, d1, d2};
              for (int j = 3 * k0; j < 3 * k1; j += 12) {
                for (int t = 0; t < 12; ++t) h[j + t] = pa[t] + frac3[j + t] * pd[t];
              }
            }
          };
          for (int gr = gya; gr <= gyb; ++gr) {
            const std::size_t at = static_cast<std::size_t>(gr - gya) * stride;
            across(0, gr, 0.5f, hrows.data() + at);
            if (!fast) {
              across(6, gr, 1.0f / kUnitsPerLevel, prows.data() + at);
              if (sh.active) across(3, gr, 0.0f, erows.data() + at);  // for shiny pixels only
            }
          }
          // Splat the direct part of every dot touching this band, in index order.
          for (int id : bands[static_cast<std::size_t>(band)]) {
            const PreparedDot& p = prepared[static_cast<std::size_t>(id)];
            const int xa = std::max(p.x0, tx0), xb = std::min(p.x1, tx1 - 1);
            const int ya = std::max(p.y0, sy0), yb = std::min(p.y1, sy1 - 1);
            if (xa > xb || ya > yb) continue;
            const float* wx3 =
                arenas[static_cast<std::size_t>(id / kDotsPerStripe)].data() + p.weights;
            const float* wy = wx3 + p.wx_floats();
            const int ny = p.y1 - p.y0 + 1;
            const bool any_shear = p.sheared[0] || p.sheared[1] || p.sheared[2];
            const bool whole = xa == p.x0 && xb == p.x1;  // not clipped by the treated box
            if (any_shear) {
              splat_sheared(p, wx3, wy, ny, xa, xb, ya, yb, load.data(), r0, stride, tx0, wxs,
                            wsteps);
              continue;
            }
#if SMP_RENDER_AVX2
            if (avx2 && whole) {
              splat_rows_avx2(load_row(ya) + 3 * (p.x0 - tx0), stride, wx3, p.wx_floats(), wy, ny,
                              ya - p.y0, yb - ya + 1);
              continue;
            }
#endif
            for (int y = ya; y <= yb; ++y) {
              const float w3[3] = {wy[y - p.y0], wy[ny + y - p.y0], wy[2 * ny + y - p.y0]};
              splat_row(load_row(y), tx0, wx3, w3, p, xa, xb, whole);
            }
          }

          // Final pass over the band's rows.
          for (int y = sy0; y < sy1; ++y) {
            const int la = lo[static_cast<std::size_t>(y - r0)];
            const int lb = hi[static_cast<std::size_t>(y - r0)];
            if (la > lb) continue;
            float fy;
            const int iy = grid_y(y, fy);
            const float* ha = hrows.data() + static_cast<std::size_t>(iy - gya) * stride;
            const FastRow row{load_row(y),
                              ha,
                              ha + stride,
                              fy,
                              src.ptr<std::uint8_t>(y) + tx0 * 3,
                              out.ptr<std::uint8_t>(y) + tx0 * 3,
                              tab};
            if (fast) {
              const std::uint8_t* s = row.s;
              std::uint8_t* o = row.o;
              by_shine(
                  sh, y, tx0, la, lb, [&](int j0, int j1) { fast_span(row, j0, j1, avx2); },
                  [&](int x, std::uint8_t w) {
                    const float v0 = take_load(row, 3 * x), v1 = take_load(row, 3 * x + 1),
                                v2 = take_load(row, 3 * x + 2);
                    const std::uint8_t b0 = s[3 * x], b1 = s[3 * x + 1], b2 = s[3 * x + 2];
                    const float l0 = in_lut[b0], l1 = in_lut[b1], l2 = in_lut[b2];
                    const float sv = shine_of(w, l0, l1, l2);
                    if (sv > 0.0f) {
                      const int q0 = static_cast<int>(std::min(v0, kTopStep));
                      const int q1 = static_cast<int>(std::min(v1, kTopStep));
                      const int q2 = static_cast<int>(std::min(v2, kTopStep));
                      o[3 * x] = to_srgb8((l0 - sv) * ftrans[q0] + sv, out_lut);
                      o[3 * x + 1] = to_srgb8((l1 - sv) * ftrans[kFastSteps + q1] + sv, out_lut);
                      o[3 * x + 2] =
                          to_srgb8((l2 - sv) * ftrans[2 * kFastSteps + q2] + sv, out_lut);
                    } else {
                      o[3 * x] = tab[fast_index(v0, b0, 0)];
                      o[3 * x + 1] = tab[fast_index(v1, b1, 1)];
                      o[3 * x + 2] = tab[fast_index(v2, b2, 2)];
                    }
                  });
              restore_occluded(design.occlusion, occlusion_runs, y, tx0, la, lb,
                               src.ptr<std::uint8_t>(y), out.ptr<std::uint8_t>(y));
              continue;
            }
            // Fresh and healing: erythema from the band's erythema rows.
            const std::size_t at = static_cast<std::size_t>(iy - gya) * stride;
            const ErythemaRow er{row,    prows.data() + at, prows.data() + at + stride,
                                 etab,   erows.data() + at, erows.data() + at + stride,
                                 ftrans, in_lut.data(),     &out_lut};
            by_shine(
                sh, y, tx0, la, lb, [&](int j0, int j1) { erythema_span(er, j0, j1, avx2); },
                [&](int x, std::uint8_t w) { erythema_shiny_pixel(er, x, w); });
            restore_occluded(design.occlusion, occlusion_runs, y, tx0, la, lb,
                             src.ptr<std::uint8_t>(y), out.ptr<std::uint8_t>(y));
          }
        }
      },
      nbands);
}

namespace detail {
void set_render_simd(bool enabled) {
  g_simd_enabled.store(enabled, std::memory_order_relaxed);
}
}  // namespace detail

cv::Mat render(const cv::Mat& photo_rgb, const TreatmentDesign& design, const DotPattern& dots,
               const RenderOptions& options) {
  Renderer renderer(photo_rgb, design);
  cv::Mat out;
  renderer.render(dots, options, out);
  return out;
}

}  // namespace smp
