// Render: dots of carbon pigment seen through skin, in linear light.
//
// Model (see SkinOptics in render.hpp): for every linear RGB channel c
//     out_c = photo_c * (1 - min(D_c, kMaxDarkening)),
//     D_c   = sum over dots of  A_c * s_dot * (direct_c * P_c,dot + diffuse_c * Q_c,dot)
// where A_c is the pigment's absorption, s_dot the dot's strength (shade x options x stage),
// P_c,dot the dot footprint convolved with the epidermis blur (a normalised anisotropic Gaussian
// scaled to the dot's area) and Q_c,dot the same mass spread by the wide diffuse kernel.
// Multiplying the photo keeps its shading, highlights and texture: the dots are in the skin,
// not painted on it.
//
// Cost. P is splatted per dot into a float buffer only over the dot's 3-sigma box, in row bands
// of kBandRows rows that fit in cache; each band is splatted and converted independently (bands
// in parallel, dots in index order within a band, so every pixel's sum is the same for any thread
// count). Q is smooth: dot masses are splatted into a coarse grid, blurred there with one
// separable Gaussian per channel and bilinearly interpolated in the final pass. Only the treated
// bounding box is converted; the rest of the image is copied.
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

// A pixel never loses more than this fraction of its light: even undiluted pigment under skin
// leaves some remitted light and the camera sees the surface reflection (shine) on top.
constexpr float kMaxDarkening = 0.96f;
// Rows per band: a band's float buffer (rows x width x 3) stays in cache between the splat and
// the final pass.
constexpr int kBandRows = 32;
// Footprints are cut at this many standard deviations (1.1% of the peak).
constexpr double kCutSigma = 3.0;
// Gaussian sigma <-> full width at half maximum.
constexpr double kFwhmPerSigma = 2.3548200450309493;

// How a stage changes the healed look. Values from DESIGN.md "Domain facts": fresh dots are
// 1.5-2.5x the healed size, darker and sharper with a red halo for 1-2 days; days 3-5 flake;
// healed SMP fades ~8-10%/year with softer edges and drifts slightly blue; blowout = too deep,
// >3x larger and blurry.
struct StageLook {
  double diameter_scale = 1.0;
  double strength = 1.0;
  cv::Vec3d tint{1, 1, 1};      // per-channel absorption multiplier (bluer = more red absorbed)
  double direct_neutral = 0.0;  // 0..1: pull the direct factors toward 1 (pigment near surface)
  double blur_scale = 1.0;      // epidermis blur multiplier
  double blur_add_mm = 0.0;     // extra blur (migration, blowout), added in quadrature
  double diffuse_scale = 1.0;   // diffuse gain multiplier
  double mottle = 0.0;          // per-dot random strength spread (healing)
  double erythema = 0.0;        // redness of the worked area, 0..1
};

StageLook stage_look(const RenderOptions& o) {
  StageLook s;
  switch (o.stage.stage) {
    case Stage::kFresh:
      // Extra pigment still sits in the epidermis and on the surface on top of what will heal:
      // bigger, blacker, sharper dots over the same dermal shadow; the worked skin is red.
      s.diameter_scale = 1.4;
      s.strength = 1.2;
      s.direct_neutral = 0.7;
      s.blur_scale = 0.4;
      s.erythema = 1.0;
      break;
    case Stage::kHealing:
      // Scabs flake unevenly: some dots dark, some already light; redness mostly gone.
      s.diameter_scale = 1.2;
      s.strength = 1.1;
      s.direct_neutral = 0.3;
      s.blur_scale = 0.7;
      s.mottle = 1.0;
      s.erythema = 0.3;
      break;
    case Stage::kHealed:
      break;
    case Stage::kAged: {
      // Fades ~9%/year toward 30% of the healed strength (touch-ups every 3-6 years keep real
      // clients above ~60%); pigment migrates a little (larger, softer) and drifts blue.
      const double y = std::max(0.0, o.stage.years);
      const double ys = std::min(y, 10.0);
      s.diameter_scale = 1.0 + 0.025 * ys;
      // Migration spreads the remaining pigment, it does not add any: divide by the area gain.
      s.strength = (0.30 + 0.70 * std::pow(0.91, y)) / (s.diameter_scale * s.diameter_scale);
      s.blur_add_mm = 0.012 * ys;
      s.tint = {1.0 + 0.015 * ys, 1.0, 1.0 - 0.03 * ys};
      break;
    }
  }
  if (o.blowout) {
    // Pigment injected too deep spreads in the dermis: >3x larger, blurry, bluish, and the same
    // pigment over a larger area is lighter at the centre.
    s.diameter_scale *= 3.3;
    s.strength *= 0.55;
    s.blur_add_mm += 0.12;
    s.tint = s.tint.mul(cv::Vec3d(1.05, 1.0, 0.85));
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
    c.absorb[k] = a * direct;
    c.absorb_diffuse[k] = a * o.optics.diffuse_gain[k] * s.diffuse_scale;
    const double b = o.optics.epidermis_blur_mm[k] * s.blur_scale;
    c.blur2_px[k] = (b * b + s.blur_add_mm * s.blur_add_mm) * px_per_mm * px_per_mm;
    c.diffuse_sigma_px[k] = std::max(0.0, double(o.optics.diffuse_blur_mm[k])) * px_per_mm;
  }
  return c;
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

constexpr double kErythemaSigmaMm = 1.2;
// Redness of freshly worked skin: haemoglobin absorbs green and blue; red is slightly raised.
// Full strength where the dot coverage (area fraction) reaches kErythemaFullCoverage.
constexpr double kErythemaFullCoverage = 0.25;
const cv::Vec3f kErythemaDarkening{-0.04f, 0.16f, 0.12f};

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

// photo value (linear) x (1 - darkening) -> sRGB 8-bit.
inline std::uint8_t darken(float linear, float d,
                           const std::array<std::uint8_t, kOutLutSize>& out_lut) {
  const float v = linear * (1.0f - std::min(d, kMaxDarkening)) * (kOutLutSize - 1) + 0.5f;
  return out_lut[static_cast<std::size_t>(std::min(static_cast<int>(v), kOutLutSize - 1))];
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
  const double strength = options.strength * look.strength;

  // --- prepare dots: filter, footprint, masses, boxes -------------------------------------
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
    double s = strength * d.shade;
    if (look.mottle > 0) {
      const double u = hash01((static_cast<std::uint64_t>(i) << 1) ^
                              (static_cast<std::uint64_t>(std::lround(d.x * 64)) << 24) ^
                              static_cast<std::uint64_t>(std::lround(d.y * 64)));
      // Flaking: a third of the dots lose much of their surface pigment, the rest keep a scab.
      s *= u < 0.33 ? 0.35 + 0.6 * u : 0.9 + 0.5 * (u - 0.33);
    }
    if (s <= 0) continue;
    const double diameter_px = d.diameter_mm * look.diameter_scale * ppm;
    const Footprint f = footprint(diameter_px, d.angle_rad, options.elongation, optics.blur2_px[1]);
    PreparedDot p;
    p.cx = d.x;
    p.cy = d.y;
    p.mass0 = static_cast<float>(f.area_px2 * s);
    double maxxx = 0, maxyy = 0;
    for (int c = 0; c < 3; ++c) {
      const double box = 1.0 / 12.0;  // the pixel's own box filter
      const double xx = f.sxx + optics.blur2_px[c] + box;
      const double yy = f.syy + optics.blur2_px[c] + box;
      p.cxx[c] = static_cast<float>(xx);
      p.cyy[c] = static_cast<float>(yy);
      p.cxy[c] = static_cast<float>(f.sxy);
      p.mass[c] = static_cast<float>(f.area_px2 * s * optics.absorb[c]);
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
  const int margin = diffuse_margin_cells(optics, cell, look.erythema > 0 ? ery_sigma_px : 0.0);
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
  cv::Mat tail(grows, gcols, CV_32FC3, cv::Scalar::all(0));
  for (int c = 0; c < 3; ++c) {
    const double sigma = optics.diffuse_sigma_px[c] / cell;
    const int k = 2 * static_cast<int>(std::ceil(kCutSigma * sigma)) + 1;
    cv::GaussianBlur(impulses, diffuse[c], cv::Size(k, k), sigma, sigma, cv::BORDER_CONSTANT);
  }
  if (look.erythema > 0) {
    const double sigma = ery_sigma_px / cell;
    const int k = 2 * static_cast<int>(std::ceil(kCutSigma * sigma)) + 1;
    cv::GaussianBlur(impulses, erythema, cv::Size(k, k), sigma, sigma, cv::BORDER_CONSTANT);
  }
  const float ery_scale = static_cast<float>(look.erythema / (kErythemaFullCoverage * strength));
  for (int r = 0; r < grows; ++r) {
    auto* t = tail.ptr<cv::Vec3f>(r);
    for (int c = 0; c < 3; ++c) {
      const float* d = diffuse[c].ptr<float>(r);
      const float a = static_cast<float>(optics.absorb_diffuse[c]);
      for (int i = 0; i < gcols; ++i) t[i][c] = a * d[i];
    }
    if (look.erythema > 0) {
      const float* e = erythema.ptr<float>(r);
      for (int i = 0; i < gcols; ++i) {
        // Blurred area density / coverage at full redness, capped at 1.
        const float red = std::min(1.0f, e[i] * ery_scale);
        if (red > 0) t[i] += red * kErythemaDarkening;
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

  // --- bucket dots by band (a dot lands in every band its box overlaps) --------------------
  const int nbands = (size.height + kBandRows - 1) / kBandRows;
  band_dots.resize(static_cast<std::size_t>(nbands));
  for (auto& b : band_dots) b.clear();
  for (std::size_t i = 0; i < dots.size(); ++i) {
    const int b0 = std::max(0, dots[i].y0) / kBandRows;
    const int b1 = std::min(size.height - 1, dots[i].y1) / kBandRows;
    for (int b = b0; b <= b1; ++b)
      band_dots[static_cast<std::size_t>(b)].push_back(static_cast<int>(i));
  }

  const auto& in_lut = srgb_to_linear_table();
  const auto& out_lut = linear_to_srgb8_table();
  const cv::Mat& src = photo;
  const std::vector<PreparedDot>& prepared = dots;
  const auto& bands = band_dots;
  const std::vector<int>& cidx = col_index;
  const std::vector<float>& cfrac = col_frac;

  // The tail grid stored planar so the final pass reads three contiguous rows.
  const float* tail_plane[3];
  cv::Mat tail_planes[3];
  cv::split(tail, tail_planes);
  for (int c = 0; c < 3; ++c) tail_plane[c] = tail_planes[c].ptr<float>();

  cv::parallel_for_(
      cv::Range(0, nbands),
      [&](const cv::Range& range) {
        // Per-thread scratch, planar (one plane per channel, kBandRows x treated width): the
        // band's direct darkening. Kept zero between uses: the final pass clears what it reads
        // and the splat never writes outside the treated box.
        thread_local std::vector<float> buf;
        thread_local std::vector<float> grid_row;
        thread_local std::vector<float> wx, wy;
        const std::size_t plane = static_cast<std::size_t>(kBandRows) * tw;
        if (buf.size() < plane * 3) buf.assign(plane * 3, 0.0f);
        if (grid_row.size() < static_cast<std::size_t>(gcols) * 3) grid_row.resize(gcols * 3);

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
              // orientation to show (sheared_splat below).
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
          // Final pass over the band's rows.
          for (int y = r0; y < r1; ++y) {
            const std::uint8_t* s = src.ptr<std::uint8_t>(y);
            std::uint8_t* o = out.ptr<std::uint8_t>(y);
            if (y < ty0 || y >= ty1) {
              std::memcpy(o, s, static_cast<std::size_t>(size.width) * 3);
              continue;
            }
            std::memcpy(o, s, static_cast<std::size_t>(tx0) * 3);
            std::memcpy(o + tx1 * 3, s + tx1 * 3, static_cast<std::size_t>(size.width - tx1) * 3);
            // Vertical interpolation of the grid for this row.
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
            for (int c = 0; c < 3; ++c) {
              const float* ga = tail_plane[c] + static_cast<std::size_t>(iy) * gcols;
              const float* gb = ga + gcols;
              float* gr = grid_row.data() + static_cast<std::size_t>(c) * gcols;
              for (int i = 0; i < gcols; ++i) gr[i] = ga[i] + fy * (gb[i] - ga[i]);
            }
            const float* g0 = grid_row.data();
            const float* g1 = g0 + gcols;
            const float* g2 = g1 + gcols;
            float* d0p = buf.data() + static_cast<std::size_t>(y - r0) * tw;
            float* d1p = d0p + plane;
            float* d2p = d1p + plane;
            for (int k = 0; k < tw; ++k) {
              const int gi = cidx[static_cast<std::size_t>(k)];
              const float f = cfrac[static_cast<std::size_t>(k)];
              const float d0 = d0p[k] + g0[gi] + f * (g0[gi + 1] - g0[gi]);
              const float d1 = d1p[k] + g1[gi] + f * (g1[gi + 1] - g1[gi]);
              const float d2 = d2p[k] + g2[gi] + f * (g2[gi + 1] - g2[gi]);
              d0p[k] = d1p[k] = d2p[k] = 0.0f;
              const int x = tx0 + k;
              const std::uint8_t* sp = s + x * 3;
              std::uint8_t* op = o + x * 3;
              if (d0 == 0.0f && d1 == 0.0f && d2 == 0.0f) {
                op[0] = sp[0];
                op[1] = sp[1];
                op[2] = sp[2];
                continue;
              }
              op[0] = darken(in_lut[sp[0]], d0, out_lut);
              op[1] = darken(in_lut[sp[1]], d1, out_lut);
              op[2] = darken(in_lut[sp[2]], d2, out_lut);
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
