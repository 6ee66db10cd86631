// Render: dots of carbon pigment seen through skin, in linear light.
//
// Summary (details in SkinOptics, render.hpp):
//  1. Load per linear channel: D_c = sum over dots A_c s (dot_gain direct_c P_c + diffuse_c Q_c);
//     P = the dot (Gaussian) blurred by the epidermis (R 0.09 / G 0.065 / B 0.05 mm), its centre
//     at dot_gain (1.8) x A: past the load curve's knee, and the footprint narrowed so that the
//     half maximum of the darkening is still the healed diameter (individual dark-grey dots);
//     Q = the same mass spread ~0.75 mm (the pigment haze around each dot, gain 6.5): it follows
//     the local dot density, so it fades with the design's feather instead of filling the mask.
//  2. Shine: each pixel is split into the skin-coloured diffuse part and an achromatic specular
//     excess (dichromatic model with the bare skin's chromaticity, decided on a reduced photo);
//     only the diffuse part is darkened, the shine is added back (it is reflected above the
//     pigment).
//  3. diffuse_out_c = diffuse_c (1 - f_c S(D_c)): S linear to 0.6 then saturating at 1, f_c from
//     the skin tone's "floor" (light never reaching the pigment): phi of the skin's luminance,
//     keeping mu of its chroma; fitted to the CIELAB shifts of real healed SMP
//     (light/medium/dark).
//  4. Stages: fresh = 2.5-puncture surface-ink core, direct 1, blur 0.4x, load 3x, floor 75%
//     inked, erythema; healing = 0.85x, 1.5x, mottled, light redness; healed = 1; aged = fade
//     25% + 75% 0.9^years, +2.5%/yr spread, bluer tint; blowout = 3.3x, blurred, bluish.
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
// Cost. P is splatted per dot into a float buffer only over the dot's 3-sigma box, in row bands
// of kBandRows rows that fit in cache; each band is splatted and converted independently (bands
// in parallel, dots in index order within a band, so every pixel's sum is the same for any thread
// count). Q is smooth: dot masses are splatted into a coarse grid, blurred there with one
// separable Gaussian per channel and bilinearly interpolated in the final pass. Per row only the
// columns covered by a dot box or the grid's non-zero support are converted (S and f_c through
// one LUT per channel); the rest is copied.
//
// Resolution independence: each dot's weights are normalised (rows of the separable form sum to
// one) so the dot deposits exactly its area x strength at any resolution, including dots smaller
// than a pixel; the pixel's own box (variance 1/12 px^2) is added to the footprint so sub-pixel
// dots spread over the 2x2 pixels they touch instead of aliasing.
#include "smp/render.hpp"

#include <algorithm>
#include <array>
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
#include "smp/color.hpp"
#include "smp/error.hpp"

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
      // Scabs flake unevenly: some dots dark, some already light; redness mostly gone.
      s.diameter_scale = 0.85;
      s.strength = 1.5;
      s.diffuse_strength = 1.0;
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
// the three tones DESIGN.md has measurements for and interpolated linearly in L* (clamped): the
// anchors' L* are the skin tone the renderer measures (mean under the whole design mask) on the
// Fitzpatrick 2, 4 and 6 top-view phantoms. Fitted by grid search so that default dots reproduce
// the measured CIELAB shifts on those phantoms as closely as a floor that never turns blue allows
// (render_test's HealedShiftMatchesRealSmp* tests). With most of the load now in the dots (dark
// cores, light gaps), the floor is lower than a flat tint would need: phi is the dot centre's
// luminance over the bare skin's, and the gaps between dots stay well above it.
struct FloorAnchor {
  float L, phi, mu;
};
constexpr std::array<FloorAnchor, 3> kFloorAnchors{{
    {40.8f, 0.42f, 0.00f},  // dark: remits little; what the pigment leaves is neutral
    {51.2f, 0.12f, 1.00f},  // medium: melanin above the pigment keeps its colour
    {63.9f, 0.25f, 0.00f},  // light: the pigment shades the dermal blood that makes it pink
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

// A dot ready to splat: per-channel covariance (footprint + epidermis + pixel box) and masses.
struct PreparedDot {
  float cx, cy;
  int x0, x1, y0, y1;         // inclusive pixel box of the 3-sigma footprint (not clipped)
  float mass0;                // area x strength, px^2 (for the diffuse grid)
  std::array<float, 3> mass;  // direct darkening integral per channel, px^2
  std::array<float, 3> cxx, cxy, cyy;
};

// Largest footprint reach (px) of a dot: 3 sigma of its widest channel.
double dot_reach_px(double diameter_px, double elongation, double max_blur2) {
  const double sigma = diameter_px / kFwhmPerSigma * std::sqrt(std::max(1.0, elongation));
  return kCutSigma * std::sqrt(sigma * sigma + max_blur2 + 1.0 / 12.0) + 1.0;
}

// The coarse grid of the diffuse part: samples every `cell` pixels from (ox, oy).
struct DiffuseGridGeometry {
  int cell = 1;
  int ox = 0, oy = 0, cols = 0, rows = 0;
  int margin_cells = 0;
};

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
constexpr int kLoadLutPerUnit = 1024;
constexpr int kLoadLutSize = 8 * kLoadLutPerUnit;
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
// indexed by (load step, input byte), rebuilt only when the response changes.
constexpr int kFastPerUnit = 256;
constexpr int kFastSteps = 4 * kFastPerUnit;  // S(4) = 1 - 2e-4: saturated

constexpr double kErythemaSigmaMm = 1.2;
// Redness of freshly worked skin: haemoglobin absorbs green and blue; red is slightly raised.
// Full strength where the dot coverage (area fraction) reaches kErythemaFullCoverage.
constexpr double kErythemaFullCoverage = 0.25;
const cv::Vec3f kErythemaDarkening{-0.03f, 0.20f, 0.15f};

// Linear [0, 1] -> sRGB 8-bit, indexed by round(v * (kOutLutSize - 1)). Fine enough that every
// 8-bit value survives a round trip (the smallest step of sRGB in linear is 3e-4 > 1 / 16383).
constexpr int kOutLutSize = 1 << 14;
const std::array<std::uint8_t, kOutLutSize>& linear_to_srgb8_table() {
  static const auto table = [] {
    std::array<std::uint8_t, kOutLutSize> t{};
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

// w[k] = exp(-(t0 + k)^2 / (2 var)), k = 0..n-1, scaled to sum to `total`. By recurrence
// (two multiplies per weight instead of an exp): g(t+1) = g(t) r(t), r(t+1) = r(t) q.
void gaussian_weights(float t0, float var, float total, float* w, int n) {
  const double v = std::max(1e-4, static_cast<double>(var));
  double g = std::exp(-0.5 * t0 * t0 / v);
  double r = std::exp(-(2.0 * t0 + 1.0) / (2.0 * v));
  const double q = std::exp(-1.0 / v);
  double sum = 0;
  for (int k = 0; k < n; ++k) {
    w[k] = static_cast<float>(g);
    sum += g;
    g *= r;
    r *= q;
  }
  const float scale = sum > 0 ? static_cast<float>(total / sum) : 0.0f;
  for (int k = 0; k < n; ++k) w[k] *= scale;
}

// Load -> index into the transmission LUT (rounded; loads past the table saturate anyway).
inline int load_index(float d) {
  return std::min(static_cast<int>(d * kLoadLutPerUnit + 0.5f), kLoadLutSize - 1);
}

// Linear [0, 1] -> sRGB 8-bit.
inline std::uint8_t to_srgb8(float linear, const std::array<std::uint8_t, kOutLutSize>& out_lut) {
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
}

// The specular part of a pixel (linear l0..l2): the smooth shine level `w` / 255, at most the
// pixel's darkest channel (shine is achromatic).
inline float shine_of(std::uint8_t w, float l0, float l1, float l2) {
  return std::min(static_cast<float>(w) * (1.0f / 255.0f), std::min({l0, l1, l2}));
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
// RGB, luminance 1): buried carbon reads blue-grey, but only just (DESIGN.md; smp-real close-ups).
const cv::Vec3d kFloorTint{1.02, 1.0, 0.96};

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

struct Renderer::Impl {
  cv::Mat photo;           // own clone, CV_8UC3 RGB
  TreatmentDesign design;  // own copy; mask cloned
  // Per-render scratch, kept between renders to avoid reallocation.
  std::vector<PreparedDot> dots;
  std::vector<std::vector<int>> band_dots;
  cv::Mat impulses, diffuse[3], erythema;
  std::vector<int> col_index;
  std::vector<float> col_frac;
  std::vector<float> load_lut;           // 3 x kLoadLutSize: transmission 1 - f_c S(D) per channel
  std::vector<std::uint8_t> fast_table;  // 3 x kFastSteps x 256 output bytes
  cv::Vec3f fast_key{-1, -1, -1};        // the f_c the table was built for
  std::vector<float> fast_trans;         // 3 x kFastSteps transmissions (shiny pixels)
  Shine shine;                           // specular split for the current skin tone
  cv::Vec4f shine_key{-1, -1, -1, -1};   // skin linear RGB and shine the table was built for
  std::vector<int> seg_start;            // per grid column, first treated-box column using it
  // Bare-skin tone under the design mask, measured on first use (RenderOptions::skin overrides).
  std::optional<Lab> measured_skin;
  cv::Mat grid;  // planar diffuse load (+ erythema) grid, 3 or 6 planes stacked by rows
  std::vector<int> grid_first, grid_last;
  std::vector<cv::Vec2i> band_x;  // per band, inclusive x range of its dots' boxes

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
  for (int c = 0; c < 3; ++c) {
    const float a = design.pigment.absorption[c];
    require(std::isfinite(a) && a >= 0 && a <= 1, ErrorCode::kInvalidArgument,
            "render: pigment absorption must be in [0, 1]; use pigment_by_name()");
  }
  try {
    impl_->photo = photo_rgb.clone();
    impl_->design = design;
    impl_->design.mask = design.mask.clone();
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

void Renderer::Impl::render(const DotPattern& pattern, const RenderOptions& options, cv::Mat& out) {
  const cv::Size size = photo.size();
  const double ppm = design.calibration.px_per_mm;
  const StageLook look = stage_look(options);
  const ChannelOptics optics = channel_optics(design.pigment.absorption, options, look, ppm);

  // --- the skin's response: transmission LUT per channel -----------------------------------
  if (!options.skin && !measured_skin) measured_skin = mean_lab(photo, design.mask);
  const Lab skin = options.skin ? *options.skin : *measured_skin;
  cv::Vec3f response = pigment_response(skin, options.optics);
  load_lut.resize(3 * static_cast<std::size_t>(kLoadLutSize));
  cv::Vec3f fc;
  for (int c = 0; c < 3; ++c) {
    // Surface ink (fresh) also shades the light that never reaches the dermis.
    fc[c] = response[c] + static_cast<float>(look.surface_ink) * (1.0f - response[c]);
    float* t = load_lut.data() + static_cast<std::size_t>(c) * kLoadLutSize;
    for (int i = 0; i < kLoadLutSize; ++i) {
      t[i] = 1.0f - fc[c] * load_curve(static_cast<float>(i) / kLoadLutPerUnit);
    }
  }
  const bool fast = look.erythema <= 0;
  if (fast && fc != fast_key) {
    const auto& lin = srgb_to_linear_table();
    const auto& o8 = linear_to_srgb8_table();
    fast_table.resize(3 * static_cast<std::size_t>(kFastSteps) * 256);
    for (int c = 0; c < 3; ++c) {
      for (int q = 0; q < kFastSteps; ++q) {
        const float t = 1.0f - fc[c] * load_curve(static_cast<float>(q) / kFastPerUnit);
        std::uint8_t* row =
            fast_table.data() + (static_cast<std::size_t>(c) * kFastSteps + q) * 256;
        for (int v = 0; v < 256; ++v) row[v] = to_srgb8(lin[static_cast<std::size_t>(v)] * t, o8);
      }
    }
    fast_key = fc;
  }
  if (fast) {
    fast_trans.resize(3 * static_cast<std::size_t>(kFastSteps));
    for (int c = 0; c < 3; ++c) {
      for (int q = 0; q < kFastSteps; ++q) {
        fast_trans[static_cast<std::size_t>(c) * kFastSteps + q] =
            1.0f - fc[c] * load_curve(static_cast<float>(q) / kFastPerUnit);
      }
    }
  }
  {
    const cv::Vec3d k = lab_to_linear(skin);
    const cv::Vec4f key(static_cast<float>(k[0]), static_cast<float>(k[1]),
                        static_cast<float>(k[2]), options.optics.shine);
    if (key != shine_key) {
      build_shine(photo, k, options.optics.shine, shine);
      shine_key = key;
    }
  }

  // --- prepare dots: filter, footprint, masses, boxes -------------------------------------
  double mean_diameter = 0;
  for (const Dot& d : pattern.dots) mean_diameter += d.diameter_mm;
  mean_diameter = pattern.dots.empty() ? 1.0 : mean_diameter / pattern.dots.size();
  const double healed_scale = options.healed_diameter_mm > 0 && mean_diameter > 0
                                  ? options.healed_diameter_mm / mean_diameter
                                  : 1.0;
  dots.clear();
  dots.reserve(pattern.dots.size());
  int bx0 = size.width, by0 = size.height, bx1 = -1, by1 = -1;  // inclusive bbox of dot boxes
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
    if (!design.mask.empty() && design.mask.at<std::uint8_t>(py, px) == 0) continue;
    double s = options.strength * d.shade;
    if (look.mottle > 0) {
      const double u = hash01((static_cast<std::uint64_t>(i) << 1) ^
                              (static_cast<std::uint64_t>(std::lround(d.x * 64)) << 24) ^
                              static_cast<std::uint64_t>(std::lround(d.y * 64)));
      // Flaking: a third of the dots lose much of their surface pigment, the rest keep a scab.
      s *= u < 0.33 ? 0.35 + 0.6 * u : 0.9 + 0.5 * (u - 0.33);
    }
    if (s <= 0) continue;
    const double healed_mm = d.diameter_mm * healed_scale;
    // The direct image: the healed spread (scaled by the stage) or, fresh, ink around the
    // puncture (relative size kept, so hairline dots stay finer).
    const double direct_mm = look.core_punctures > 0 ? look.core_punctures * options.puncture_mm *
                                                           (d.diameter_mm / mean_diameter)
                                                     : healed_mm * look.diameter_scale;
    // Peak load of the dot's direct image in green, the channel its diameter is measured in:
    // past the load curve's knee the darkening flattens and widens, so the footprint shrinks
    // (concentration kept) until the half-maximum of the darkening is the dot's diameter.
    const double peak = s * look.strength * optics.absorb[1];
    const double shrink = saturation_shrink_fast(peak);
    const Footprint f =
        footprint(direct_mm * ppm * shrink, d.angle_rad, options.elongation, optics.blur2_px[1]);
    const double healed_sigma = healed_mm * ppm / kFwhmPerSigma;
    PreparedDot p;
    p.cx = d.x;
    p.cy = d.y;
    // The diffuse part follows the dot's pigment mass at its healed spread.
    p.mass0 = static_cast<float>(2.0 * std::numbers::pi * healed_sigma * healed_sigma * s *
                                 look.diffuse_strength);
    double maxxx = 0, maxyy = 0;
    for (int c = 0; c < 3; ++c) {
      const double box = 1.0 / 12.0;  // the pixel's own box filter
      const double xx = f.sxx + optics.blur2_px[c] + box;
      const double yy = f.syy + optics.blur2_px[c] + box;
      p.cxx[c] = static_cast<float>(xx);
      p.cyy[c] = static_cast<float>(yy);
      p.cxy[c] = static_cast<float>(f.sxy);
      p.mass[c] = static_cast<float>(f.area_px2 * s * look.strength * optics.absorb[c]);
      maxxx = std::max(maxxx, xx);
      maxyy = std::max(maxyy, yy);
    }
    const double rx = kCutSigma * std::sqrt(maxxx), ry = kCutSigma * std::sqrt(maxyy);
    p.x0 = static_cast<int>(std::ceil(d.x - rx));
    p.x1 = static_cast<int>(std::floor(d.x + rx));
    p.y0 = static_cast<int>(std::ceil(d.y - ry));
    p.y1 = static_cast<int>(std::floor(d.y + ry));
    bx0 = std::min(bx0, p.x0);
    by0 = std::min(by0, p.y0);
    bx1 = std::max(bx1, p.x1);
    by1 = std::max(by1, p.y1);
    dots.push_back(p);
  }

  out.create(size, CV_8UC3);  // reallocates only if size/type differ
  if (dots.empty()) {
    photo.copyTo(out);
    return;
  }

  // --- diffuse part on a coarse grid --------------------------------------------------------
  const int cell = diffuse_cell(optics);
  const double ery_sigma_px = kErythemaSigmaMm * ppm;
  const bool has_erythema = look.erythema > 0;
  const int margin = diffuse_margin_cells(optics, cell, has_erythema ? ery_sigma_px : 0.0);
  // Grid samples at ox + i * cell, covering the dot centres' box plus the kernel margin.
  int cx0 = size.width, cy0 = size.height, cx1 = 0, cy1 = 0;
  for (const auto& p : dots) {
    cx0 = std::min(cx0, static_cast<int>(std::floor(p.cx)));
    cy0 = std::min(cy0, static_cast<int>(std::floor(p.cy)));
    cx1 = std::max(cx1, static_cast<int>(std::ceil(p.cx)));
    cy1 = std::max(cy1, static_cast<int>(std::ceil(p.cy)));
  }
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
  // Planar grids: 3 planes of diffuse load, then (fresh, healing) 3 planes of erythema
  // transmission loss.
  const int nplanes = has_erythema ? 6 : 3;
  grid.create(grows * nplanes, gcols, CV_32FC1);
  for (int c = 0; c < 3; ++c) {
    const double sigma = optics.diffuse_sigma_px[c] / cell;
    const int k = 2 * static_cast<int>(std::ceil(kCutSigma * sigma)) + 1;
    cv::Mat plane = grid.rowRange(c * grows, (c + 1) * grows);
    cv::GaussianBlur(impulses, plane, cv::Size(k, k), sigma, sigma, cv::BORDER_CONSTANT);
    plane *= optics.absorb_diffuse[c];
  }
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
        for (int i = 0; i < gcols; ++i) {
          t[i] = std::min(1.0f, e[i] * ery_scale) * kErythemaDarkening[c];
        }
      }
    }
  }
  // Per grid row, the columns where any plane is non-zero (the kernels are cut at 3 sigma):
  // beyond them the final pass needs no grid and, with no dot either, copies the photo.
  grid_first.assign(static_cast<std::size_t>(grows), gcols);
  grid_last.assign(static_cast<std::size_t>(grows), -1);
  for (int pl = 0; pl < nplanes; ++pl) {
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
  const auto& bands = band_dots;
  const auto& band_xr = band_x;
  const std::vector<int>& cidx = col_index;
  const std::vector<float>& cfrac = col_frac;
  const std::vector<int>& gfirst = grid_first;
  const std::vector<int>& glast = grid_last;
  const std::vector<int>& segs = seg_start;
  const std::uint8_t* tab = fast_table.data();
  const float* lut0 = load_lut.data();
  const float* lut1 = lut0 + kLoadLutSize;
  const float* lut2 = lut1 + kLoadLutSize;
  const cv::Mat& g = grid;
  const Shine& sh = shine;
  const float* ftrans = fast_trans.data();

  cv::parallel_for_(
      cv::Range(0, nbands),
      [&](const cv::Range& range) {
        // Per-thread scratch, planar (one plane per channel, kBandRows x treated width): the
        // band's direct load. Kept zero between uses: the final pass clears what it reads and
        // the splat never writes outside the treated box.
        thread_local std::vector<float> buf;
        thread_local std::vector<float> grid_row;
        thread_local std::vector<float> wx, wy;
        thread_local std::vector<float> gl;
        thread_local std::vector<std::uint16_t> qs;
        if (gl.size() < static_cast<std::size_t>(tw) * 3)
          gl.resize(static_cast<std::size_t>(tw) * 3);
        if (qs.size() < static_cast<std::size_t>(tw) * 3)
          qs.resize(static_cast<std::size_t>(tw) * 3);
        const std::size_t plane = static_cast<std::size_t>(kBandRows) * tw;
        if (buf.size() < plane * 3) buf.assign(plane * 3, 0.0f);
        if (grid_row.size() < static_cast<std::size_t>(gcols) * 6) grid_row.resize(gcols * 6);

        for (int band = range.start; band < range.end; ++band) {
          const int r0 = band * kBandRows, r1 = std::min(size.height, r0 + kBandRows);
          if (r1 <= ty0 || r0 >= ty1) {  // rows outside the treated box: plain copy
            for (int y = r0; y < r1; ++y) {
              std::memcpy(out.ptr(y), src.ptr(y), static_cast<std::size_t>(size.width) * 3);
            }
            continue;
          }
          // Splat the direct part of every dot touching this band, in index order.
          const int sy0 = std::max(r0, ty0), sy1 = std::min(r1, ty1);
          for (int idx : bands[static_cast<std::size_t>(band)]) {
            const PreparedDot& p = prepared[static_cast<std::size_t>(idx)];
            const int xa = std::max(p.x0, tx0), xb = std::min(p.x1, tx1 - 1);
            const int ya = std::max(p.y0, sy0), yb = std::min(p.y1, sy1 - 1);
            if (xa > xb || ya > yb) continue;
            const int nx = p.x1 - p.x0 + 1, ny = p.y1 - p.y0 + 1;
            wx.resize(static_cast<std::size_t>(nx));
            wy.resize(static_cast<std::size_t>(ny));
            for (int c = 0; c < 3; ++c) {
              // Separable: marginal Gaussians in x and y, each normalised over the dot's full
              // (unclipped) box so the dot deposits exactly its mass. The x-y covariance of an
              // elongated, rotated dot is dropped unless the dot spans enough pixels for its
              // orientation to show (sheared below).
              gaussian_weights(p.x0 - p.cx, p.cxx[c], 1.0f, wx.data(), nx);
              gaussian_weights(p.y0 - p.cy, p.cyy[c], p.mass[c], wy.data(), ny);
              float* base = buf.data() + plane * c;
              const bool sheared = p.cxy[c] != 0.0f && std::min(p.cxx[c], p.cyy[c]) >= 16.0f;
              for (int y = ya; y <= yb; ++y) {
                float* row = base + static_cast<std::size_t>(y - r0) * tw - tx0;
                const float w = wy[static_cast<std::size_t>(y - p.y0)];
                if (sheared) {
                  // Conditional Gaussian of x given y: mean shifted along the dot's axis.
                  const float shift = p.cxy[c] / p.cyy[c] * (y - p.cy);
                  const float vx = std::max(1e-4f, p.cxx[c] - p.cxy[c] * p.cxy[c] / p.cyy[c]);
                  gaussian_weights(p.x0 - p.cx - shift, vx, 1.0f, wx.data(), nx);
                }
                const float* wxp = wx.data() - p.x0;
                for (int x = xa; x <= xb; ++x) row[x] += w * wxp[x];
              }
            }
          }
          const cv::Vec2i dot_x = band_xr[static_cast<std::size_t>(band)];
          // Final pass over the band's rows.
          for (int y = r0; y < r1; ++y) {
            const std::uint8_t* s = src.ptr<std::uint8_t>(y);
            std::uint8_t* o = out.ptr<std::uint8_t>(y);
            // Vertical interpolation position in the grid.
            const float gy = static_cast<float>(y - oy) / cell;
            int iy = static_cast<int>(std::floor(gy));
            float fy = gy - iy;
            if (iy < 0) {
              iy = 0;
              fy = 0;
            } else if (iy >= grows - 1) {
              iy = grows - 2;
              fy = 1;
            }
            // Columns this row must process: its dots' boxes and the grid's support.
            int xa = dot_x[0], xb = dot_x[1];  // inclusive
            const std::size_t ia = static_cast<std::size_t>(iy), ib = ia + 1;
            const int gi0 = std::min(gfirst[ia], gfirst[ib]), gi1 = std::max(glast[ia], glast[ib]);
            if (y >= ty0 && y < ty1 && gi0 <= gi1) {
              xa = std::min(xa, std::max(tx0, ox + (gi0 - 1) * cell + 1));
              xb = std::max(xb, std::min(tx1 - 1, ox + (gi1 + 1) * cell - 1));
            }
            if (y < ty0 || y >= ty1 || xa > xb) {
              std::memcpy(o, s, static_cast<std::size_t>(size.width) * 3);
              continue;
            }
            std::memcpy(o, s, static_cast<std::size_t>(xa) * 3);
            std::memcpy(o + (xb + 1) * 3, s + (xb + 1) * 3,
                        static_cast<std::size_t>(size.width - xb - 1) * 3);
            const int ka = xa - tx0, kb = xb - tx0;  // inclusive, treated-box coordinates
            const int ga = cidx[static_cast<std::size_t>(ka)];
            const int gb = cidx[static_cast<std::size_t>(kb)] + 1;
            for (int pl = 0; pl < nplanes; ++pl) {
              const float* ra = g.ptr<float>(pl * grows + iy);
              const float* rb = ra + gcols;
              float* gr = grid_row.data() + static_cast<std::size_t>(pl) * gcols;
              for (int i = ga; i <= gb; ++i) gr[i] = ra[i] + fy * (rb[i] - ra[i]);
            }
            const float* g0 = grid_row.data();
            const float* g1 = g0 + gcols;
            const float* g2 = g1 + gcols;
            float* d0p = buf.data() + static_cast<std::size_t>(y - r0) * tw;
            float* d1p = d0p + plane;
            float* d2p = d1p + plane;
            if (fast) {
              // Grid rows upsampled to pixels cell by cell (contiguous, vectorisable), then the
              // load quantised, then one table lookup per channel.
              if (cell >= 8) {
                for (int c = 0; c < 3; ++c) {
                  const float* gr = grid_row.data() + static_cast<std::size_t>(c) * gcols;
                  float* glc = gl.data() + static_cast<std::size_t>(c) * tw;
                  for (int i = ga; i < gb; ++i) {
                    const int k0 = std::max(ka, segs[static_cast<std::size_t>(i)]);
                    const int k1 = std::min(kb + 1, segs[static_cast<std::size_t>(i) + 1]);
                    const float a = gr[i], d = gr[i + 1] - gr[i];
                    const float* fr = cfrac.data();
                    for (int k = k0; k < k1; ++k) glc[k] = a + fr[k] * d;
                  }
                }
              } else {
                // Fine grids: runs of a few pixels per cell cost more in loop overhead than a
                // per-pixel gather of the three planes at once.
                const int* ci = cidx.data();
                const float* fr = cfrac.data();
                const float* p0 = grid_row.data();
                const float* p1 = p0 + gcols;
                const float* p2 = p1 + gcols;
                float* o0 = gl.data();
                float* o1 = o0 + tw;
                float* o2 = o1 + tw;
                for (int k = ka; k <= kb; ++k) {
                  const int i = ci[k];
                  const float f = fr[k];
                  o0[k] = p0[i] + f * (p0[i + 1] - p0[i]);
                  o1[k] = p1[i] + f * (p1[i + 1] - p1[i]);
                  o2[k] = p2[i] + f * (p2[i + 1] - p2[i]);
                }
              }
              float* dp[3] = {d0p, d1p, d2p};
              for (int c = 0; c < 3; ++c) {
                float* dc = dp[c];
                const float* glc = gl.data() + static_cast<std::size_t>(c) * tw;
                std::uint16_t* qc = qs.data() + static_cast<std::size_t>(c) * tw;
                for (int k = ka; k <= kb; ++k) {
                  const float v = std::min((dc[k] + glc[k]) * kFastPerUnit + 0.5f,
                                           static_cast<float>(kFastSteps - 1));
                  qc[k] = static_cast<std::uint16_t>(static_cast<int>(v));
                  dc[k] = 0.0f;
                }
              }
              const std::uint16_t* q0 = qs.data();
              const std::uint16_t* q1 = q0 + tw;
              const std::uint16_t* q2 = q1 + tw;
              const std::uint8_t* t0 = tab;
              const std::uint8_t* t1 = t0 + static_cast<std::size_t>(kFastSteps) * 256;
              const std::uint8_t* t2 = t1 + static_cast<std::size_t>(kFastSteps) * 256;
              const std::uint8_t* sp = s + tx0 * 3;
              std::uint8_t* op = o + tx0 * 3;
              if (!sh.active) {
                for (int k = ka; k <= kb; ++k) {
                  op[3 * k] = t0[(static_cast<std::size_t>(q0[k]) << 8) | sp[3 * k]];
                  op[3 * k + 1] = t1[(static_cast<std::size_t>(q1[k]) << 8) | sp[3 * k + 1]];
                  op[3 * k + 2] = t2[(static_cast<std::size_t>(q2[k]) << 8) | sp[3 * k + 2]];
                }
                continue;
              }
              const std::uint8_t* wp = sh.weight.ptr<std::uint8_t>(y) + tx0;
              for (int k = ka; k <= kb; ++k) {
                const std::uint8_t b0 = sp[3 * k], b1 = sp[3 * k + 1], b2 = sp[3 * k + 2];
                if (wp[k] != 0) {
                  const float l0 = in_lut[b0], l1 = in_lut[b1], l2 = in_lut[b2];
                  const float sv = shine_of(wp[k], l0, l1, l2);
                  if (sv > 0.0f) {
                    op[3 * k] = to_srgb8((l0 - sv) * ftrans[q0[k]] + sv, out_lut);
                    op[3 * k + 1] = to_srgb8((l1 - sv) * ftrans[kFastSteps + q1[k]] + sv, out_lut);
                    op[3 * k + 2] =
                        to_srgb8((l2 - sv) * ftrans[2 * kFastSteps + q2[k]] + sv, out_lut);
                    continue;
                  }
                }
                op[3 * k] = t0[(static_cast<std::size_t>(q0[k]) << 8) | b0];
                op[3 * k + 1] = t1[(static_cast<std::size_t>(q1[k]) << 8) | b1];
                op[3 * k + 2] = t2[(static_cast<std::size_t>(q2[k]) << 8) | b2];
              }
              continue;
            }
            for (int k = ka; k <= kb; ++k) {
              const int gi = cidx[static_cast<std::size_t>(k)];
              const float f = cfrac[static_cast<std::size_t>(k)];
              const float d0 = d0p[k] + g0[gi] + f * (g0[gi + 1] - g0[gi]);
              const float d1 = d1p[k] + g1[gi] + f * (g1[gi + 1] - g1[gi]);
              const float d2 = d2p[k] + g2[gi] + f * (g2[gi + 1] - g2[gi]);
              d0p[k] = d1p[k] = d2p[k] = 0.0f;
              float t0 = lut0[load_index(d0)];
              float t1 = lut1[load_index(d1)];
              float t2 = lut2[load_index(d2)];
              if (has_erythema) {
                const float* e0 = g2 + gcols;
                const float* e1 = e0 + gcols;
                const float* e2 = e1 + gcols;
                t0 *= 1.0f - (e0[gi] + f * (e0[gi + 1] - e0[gi]));
                t1 *= 1.0f - (e1[gi] + f * (e1[gi + 1] - e1[gi]));
                t2 *= 1.0f - (e2[gi] + f * (e2[gi + 1] - e2[gi]));
              }
              const std::uint8_t* sp = s + (tx0 + k) * 3;
              std::uint8_t* op = o + (tx0 + k) * 3;
              const float l0 = in_lut[sp[0]], l1 = in_lut[sp[1]], l2 = in_lut[sp[2]];
              float sv = 0.0f;
              if (sh.active) {
                const std::uint8_t w = sh.weight.at<std::uint8_t>(y, tx0 + k);
                if (w != 0) sv = shine_of(w, l0, l1, l2);
              }
              op[0] = to_srgb8((l0 - sv) * t0 + sv, out_lut);
              op[1] = to_srgb8((l1 - sv) * t1 + sv, out_lut);
              op[2] = to_srgb8((l2 - sv) * t2 + sv, out_lut);
            }
          }
        }
      },
      nbands);
}

cv::Mat render(const cv::Mat& photo_rgb, const TreatmentDesign& design, const DotPattern& dots,
               const RenderOptions& options) {
  Renderer renderer(photo_rgb, design);
  cv::Mat out;
  renderer.render(dots, options, out);
  return out;
}

}  // namespace smp
