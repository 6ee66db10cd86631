// Phantoms: photo-like synthetic heads with exact ground truth.
//
// How a phantom is made (all in one serial pass per layer, so the bytes depend on the seed only):
// 1. A scene in millimetres (head frame: x right, y towards the image bottom, origin at the head
//    centre) placed on the image with a known scale s = px_per_mm.
// 2. Low-resolution fields (hair density, noise for the wall, skin mottling, pores) are built on
//    coarse grids and sampled bilinearly: noise at full resolution would cost most of the budget
//    and real skin/wall variation is low-frequency anyway.
// 3. A per-pixel pass shades background, clothes, ears, head (Lambert on an ellipsoid with a key
//    light from the upper left, Blinn specular on the scalp) in linear light and writes sRGB.
// 4. Hair strands (curved anti-aliased polylines, alpha = strand width in pixels) are blended in
//    linear light; every blend also adds its alpha to a coarse optical-depth grid, so the hair
//    label is exactly "drawn strands hide >= half of the scalp".
// 5. A light optical blur, vignette and sensor noise finish the photo.
#include "smp/synth.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "smp/color.hpp"
#include "smp/error.hpp"

namespace smp {

View parse_view(const std::string& text) {
  if (text == "top") return View::kTop;
  if (text == "front") return View::kFront;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown view '" + text + "'; valid views are: top, front");
}

HairColor parse_hair_color(const std::string& text) {
  if (text == "black") return HairColor::kBlack;
  if (text == "dark") return HairColor::kDarkBrown;
  if (text == "brown") return HairColor::kBrown;
  if (text == "blond") return HairColor::kBlond;
  if (text == "red") return HairColor::kRed;
  if (text == "grey" || text == "gray") return HairColor::kGrey;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown hair colour '" + text +
                  "'; valid colours are: black, dark, brown, blond, red, grey (or gray)");
}

namespace {

constexpr float kPi = std::numbers::pi_v<float>;

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64: tiny, fast and identical on every platform (std::normal_distribution is not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(mix64(seed + 0x9e3779b97f4a7c15ULL)) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  float normal() {
    const float u1 = std::max(uniform(), 1e-7f), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(2.0f * kPi * u2);
  }

 private:
  std::uint64_t state_;
};

cv::Point2f normalize_dir(float x, float y) {
  const float n = std::max(std::sqrt(x * x + y * y), 1e-6f);
  return {x / n, y / n};
}

float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}

struct Vec3 {
  float x = 0, y = 0, z = 0;
};
Vec3 operator+(Vec3 a, Vec3 b) {
  return {a.x + b.x, a.y + b.y, a.z + b.z};
}
Vec3 operator*(Vec3 a, float k) {
  return {a.x * k, a.y * k, a.z * k};
}
Vec3 mul(Vec3 a, Vec3 b) {
  return {a.x * b.x, a.y * b.y, a.z * b.z};
}
Vec3 lerp(Vec3 a, Vec3 b, float t) {
  return a + (b + a * -1.0f) * t;
}
float dot(Vec3 a, Vec3 b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}
Vec3 normalize(Vec3 a) {
  const float n = std::sqrt(dot(a, a));
  return n > 0 ? a * (1.0f / n) : Vec3{0, 0, 1};
}

Vec3 lab_linear(float L, float a, float b) {
  const cv::Vec3b c = lab_to_rgb8({L, a, b});
  const auto& lut = srgb_to_linear_table();
  return {lut[c[0]], lut[c[1]], lut[c[2]]};
}
Vec3 srgb_linear(int r, int g, int b) {
  const auto& lut = srgb_to_linear_table();
  return {lut[r], lut[g], lut[b]};
}

// Linear -> sRGB 8-bit through a fine table: 16k entries keep dark hair within one level.
class Encoder {
 public:
  Encoder() : table_(kSize + 1) {
    for (int i = 0; i <= kSize; ++i) {
      table_[i] = static_cast<std::uint8_t>(
          std::lround(255.0f * linear_to_srgb(static_cast<float>(i) / kSize)));
    }
  }
  std::uint8_t operator()(float v) const {
    const float c = std::clamp(v, 0.0f, 1.0f);
    return table_[static_cast<int>(c * kSize + 0.5f)];
  }

 private:
  static constexpr int kSize = 16384;
  std::vector<std::uint8_t> table_;
};

const Encoder& encoder() {
  static const Encoder e;
  return e;
}

// A coarse CV_32F grid laid over the image, sampled bilinearly in image pixels.
struct Field {
  cv::Mat m;
  float sx = 1, sy = 1;  // grid cells per image pixel
  Field() = default;
  Field(cv::Mat grid, cv::Size image)
      : m(std::move(grid)),
        sx(static_cast<float>(m.cols) / static_cast<float>(image.width)),
        sy(static_cast<float>(m.rows) / static_cast<float>(image.height)) {}
  float at(float px, float py) const {
    const float fx = std::clamp(px * sx - 0.5f, 0.0f, static_cast<float>(m.cols) - 1.001f);
    const float fy = std::clamp(py * sy - 0.5f, 0.0f, static_cast<float>(m.rows) - 1.001f);
    const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
    const float tx = fx - static_cast<float>(ix), ty = fy - static_cast<float>(iy);
    const int jx = std::min(ix + 1, m.cols - 1), jy = std::min(iy + 1, m.rows - 1);
    const float* r0 = m.ptr<float>(iy);
    const float* r1 = m.ptr<float>(jy);
    const float top = r0[ix] + (r0[jx] - r0[ix]) * tx;
    const float bot = r1[ix] + (r1[jx] - r1[ix]) * tx;
    return top + (bot - top) * ty;
  }
};

// Smooth noise in about [-1, 1]: random values on a grid with `cell` pixels per value, cubic
// upsampled to `out` cells. Octaves add finer detail at half amplitude each.
cv::Mat fbm(cv::Size out, float cell, int octaves, Rng& rng) {
  cv::Mat sum = cv::Mat::zeros(out, CV_32F);
  float amp = 1, norm = 0;
  for (int o = 0; o < octaves; ++o) {
    const int gw =
        std::max(2, static_cast<int>(std::ceil(static_cast<float>(out.width) / cell)) + 1);
    const int gh =
        std::max(2, static_cast<int>(std::ceil(static_cast<float>(out.height) / cell)) + 1);
    cv::Mat g(gh, gw, CV_32F);
    for (int y = 0; y < gh; ++y) {
      for (int x = 0; x < gw; ++x) g.at<float>(y, x) = rng.uniform(-1, 1);
    }
    cv::Mat up;
    cv::resize(g, up, out, 0, 0, cv::INTER_CUBIC);
    sum += up * amp;
    norm += amp;
    amp *= 0.5f;
    cell = std::max(1.0f, cell * 0.5f);
  }
  return sum * (1.6f / norm);
}

// Where the scene sits on the image and how the head is lit.
struct Scene {
  View view = View::kTop;
  int level = 5;
  cv::Size size;
  float s = 1;           // px per mm
  float cx = 0, cy = 0;  // head centre, px
  float cos_t = 1, sin_t = 0;
  float a = 75, b = 97, c = 80;  // head semi-axes, mm (a = half the 150 mm breadth)
  Vec3 light{-0.45f, -0.55f, 0.7f};
  float parting = 1;  // front view: side the hair is combed to

  cv::Point2f to_mm(float px, float py) const {
    const float dx = (px - cx) / s, dy = (py - cy) / s;
    return {cos_t * dx + sin_t * dy, -sin_t * dx + cos_t * dy};
  }
  cv::Point2f to_px(float x, float y) const {
    return {cx + s * (cos_t * x - sin_t * y), cy + s * (sin_t * x + cos_t * y)};
  }
  cv::Point2f dir_to_px(cv::Point2f d) const {
    return {cos_t * d.x - sin_t * d.y, sin_t * d.x + cos_t * d.y};
  }
  // Half-width of the head silhouette at height y (front view narrows to the jaw).
  float half_width(float y) const {
    if (view == View::kTop) return a * (1 + 0.05f * y / b);  // egg: broader at the back
    if (y > 20) {
      const float t = (y - 20) / (b - 20);
      return a * (1 - 0.2f * t * t);
    }
    // A boxier cranium than an ellipse (superellipse, exponent 2.5), as real skulls are.
    const float v = std::min(std::abs(y) / b, 0.999f);
    return a * std::pow(1 - std::pow(v, 2.5f), 0.4f) / std::max(std::sqrt(1 - v * v), 0.05f);
  }
  // Normalised ellipse coordinates: r < 1 inside the head.
  void uv(float x, float y, float& u, float& v) const {
    u = x / half_width(y);
    v = y / b;
  }
  Vec3 normal(float x, float y) const {
    float u = 0, v = 0;
    uv(x, y, u, v);
    const float r2 = u * u + v * v;
    const float z = r2 < 1 ? std::sqrt(1 - r2) : 0.0f;
    return normalize({u / a, v / b, z / c});
  }
};

// Norwood-like parameters of the hair-bearing area per level, in the two views.
struct TopLevel {
  float front;   // frontal hairline, v (-1 = front edge of the head seen from above)
  float temple;  // extra recession at the temples, v units
  float vertex;  // crown bald-spot radius, uv units
  float bridge;  // half-width (u) of the bald band joining front and crown
  float thin;    // thinning of the mid scalp between front and crown, 0..1
  float fringe;  // radius beyond which the horseshoe fringe keeps its hair
};
constexpr std::array<TopLevel, 6> kTopLevels{{
    {-1.06f, 0.10f, 0.00f, 0.00f, 0.00f, 0.90f},  // 2
    {-0.90f, 0.22f, 0.06f, 0.00f, 0.12f, 0.88f},  // 3
    {-0.76f, 0.26f, 0.22f, 0.00f, 0.35f, 0.86f},  // 4
    {-0.60f, 0.26f, 0.32f, 0.12f, 0.60f, 0.84f},  // 5
    {-0.40f, 0.22f, 0.45f, 0.42f, 0.85f, 0.80f},  // 6
    {-0.10f, 0.20f, 0.62f, 0.62f, 1.00f, 0.84f},  // 7
}};

struct FrontLevel {
  float mid;     // mid-frontal hairline y, mm (glabella at -12, vertex at -112)
  float temple;  // temple recession, mm
  float top;     // density of the hair on top, 0..1
};
constexpr std::array<FrontLevel, 6> kFrontLevels{{
    {-70, 5, 1.0f},
    {-77, 14, 1.0f},
    {-85, 18, 0.9f},
    {-93, 20, 0.75f},
    {-104, 16, 0.22f},
    {-400, 0, 0.0f},
}};

// Hair-root density 0..1 at a head-frame point, before noise.
float top_density(const Scene& sc, float x, float y, float jitter) {
  const TopLevel& p = kTopLevels[static_cast<std::size_t>(sc.level - 2)];
  float u = 0, v = 0;
  sc.uv(x, y, u, v);
  const float au = std::abs(u);
  const float t = 0.11f;  // transition half-width, v units (~1 cm): a soft thinning zone
  const float hair_line =
      p.front + p.temple * std::exp(-std::pow((au - 0.5f) / 0.22f, 2.0f)) + 0.07f * jitter;
  const float front_bald = smoothstep(-t, t, hair_line - v);
  const float du = u - 0.04f, dv = (v - 0.36f) * 1.1f;
  const float vd = std::sqrt(du * du + dv * dv);
  const float vertex_bald =
      p.vertex > 0 ? smoothstep(-t * 1.3f, t * 1.3f, p.vertex + 0.05f * jitter - vd) : 0.0f;
  const float in_band =
      smoothstep(hair_line - 0.35f, hair_line - 0.15f, v) * (1 - smoothstep(0.25f, 0.45f, v));
  const float bridge_bald =
      p.bridge > 0 ? smoothstep(-t, t, p.bridge + 0.04f * jitter - au) * in_band : 0.0f;
  // Thinning of the mid scalp, strongest along the midline.
  const float thin = p.thin * in_band * (1 - smoothstep(0.2f, 0.7f, au)) * 0.8f;
  float bald = std::max({front_bald, vertex_bald, bridge_bald});
  // The horseshoe fringe (sides and back) keeps its hair; it does not reach the forehead.
  const float r = std::sqrt(u * u + v * v);
  const float fringe = smoothstep(p.fringe - 0.05f + 0.03f * jitter, p.fringe + 0.05f, r) *
                       smoothstep(-0.75f, -0.35f, v);
  bald *= 1 - fringe;
  return std::clamp((1 - bald) * (1 - thin * (1 - fringe)), 0.0f, 1.0f);
}

float front_hairline(const Scene& sc, float x, float jitter) {
  const FrontLevel& p = kFrontLevels[static_cast<std::size_t>(sc.level - 2)];
  const float ax = std::abs(x);
  const float mid = p.mid + 3.0f * std::exp(-(x / 7) * (x / 7));  // widow's peak
  const float temple = p.temple * std::exp(-std::pow((ax - 40) / 14, 2.0f));
  const float sideburn = 2;
  const float side = smoothstep(56, 70, ax);
  return mid - temple + side * (sideburn - (mid - temple)) + 2.5f * jitter;
}

float front_density(const Scene& sc, float x, float y, float jitter) {
  const FrontLevel& p = kFrontLevels[static_cast<std::size_t>(sc.level - 2)];
  const float hl = front_hairline(sc, x, jitter);
  float d = smoothstep(-3.0f, 3.0f, hl - y);
  const float ax = std::abs(x);
  const float side = smoothstep(50, 66, ax);
  // Top-of-head thinning; the side fringe above the ears stays full but stops part way up.
  float top = p.top + (1 - p.top) * side;
  if (sc.level == 7) top *= smoothstep(-80, -50, y);
  if (sc.level == 6) top = std::max(top * smoothstep(-95, -70, y), p.top * (1 - side));
  d *= top;
  return std::clamp(d, 0.0f, 1.0f);
}

float density_at(const Scene& sc, float x, float y, float jitter) {
  return sc.view == View::kTop ? top_density(sc, x, y, jitter) : front_density(sc, x, y, jitter);
}

// The picture being drawn plus the optical depth of the hair per coarse cell.
struct Canvas {
  cv::Mat img;    // CV_8UC3 sRGB
  cv::Mat depth;  // CV_32F, sum of strand alpha per cell
  int cell = 1;
  const std::array<float, 256>* dec = nullptr;
  const Encoder* enc = nullptr;

  void plot(int x, int y, float a, const Vec3& col) {
    if (x < 0 || y < 0 || x >= img.cols || y >= img.rows || a <= 0) return;
    a = std::min(a, 1.0f);
    std::uint8_t* p = img.ptr<std::uint8_t>(y) + 3 * x;
    const float cc[3] = {col.x, col.y, col.z};
    for (int k = 0; k < 3; ++k) {
      const float lin = (*dec)[p[k]];
      p[k] = (*enc)(lin + (cc[k] - lin) * a);
    }
    depth.ptr<float>(y / cell)[x / cell] += a;
  }

  // Xiaolin Wu style anti-aliased segment, alpha and colour interpolated along it.
  void segment(cv::Point2f p0, cv::Point2f p1, float a0, float a1, Vec3 c0, Vec3 c1) {
    float dx = p1.x - p0.x, dy = p1.y - p0.y;
    const bool steep = std::abs(dy) > std::abs(dx);
    if (steep) {
      std::swap(p0.x, p0.y);
      std::swap(p1.x, p1.y);
      std::swap(dx, dy);
    }
    if (dx < 0) {
      std::swap(p0, p1);
      std::swap(a0, a1);
      std::swap(c0, c1);
      dx = -dx;
      dy = -dy;
    }
    if (dx < 1e-3f) {
      const auto xi = static_cast<int>(std::lround(p0.x)), yi = static_cast<int>(std::lround(p0.y));
      if (steep) {
        plot(yi, xi, a0, c0);
      } else {
        plot(xi, yi, a0, c0);
      }
      return;
    }
    const float grad = dy / dx;
    const float stretch = std::sqrt(1 + grad * grad);
    const int x_begin = static_cast<int>(std::ceil(p0.x));
    const int x_end = static_cast<int>(std::floor(p1.x));
    for (int xi = x_begin; xi <= x_end; ++xi) {
      const float t = (static_cast<float>(xi) - p0.x) / dx;
      const float yf = p0.y + grad * (static_cast<float>(xi) - p0.x);
      const int yi = static_cast<int>(std::floor(yf));
      const float fr = yf - static_cast<float>(yi);
      const float a = (a0 + (a1 - a0) * t) * stretch;
      const Vec3 col = lerp(c0, c1, t);
      if (steep) {
        plot(yi, xi, a * (1 - fr), col);
        plot(yi + 1, xi, a * fr, col);
      } else {
        plot(xi, yi, a * (1 - fr), col);
        plot(xi, yi + 1, a * fr, col);
      }
    }
  }
};

struct HairLook {
  Vec3 base;   // linear
  Vec3 light;  // grey hair: the white strands
  float white_fraction = 0;
};

HairLook hair_look(HairColor c, Rng& rng) {
  const float j = std::exp(0.12f * rng.normal());
  HairLook h;
  switch (c) {
    case HairColor::kBlack:
      h.base = srgb_linear(24, 20, 18);
      break;
    case HairColor::kDarkBrown:
      h.base = srgb_linear(52, 37, 27);
      break;
    case HairColor::kBrown:
      h.base = srgb_linear(100, 70, 46);
      break;
    case HairColor::kBlond:
      h.base = srgb_linear(190, 152, 98);
      break;
    case HairColor::kRed:
      h.base = srgb_linear(148, 68, 34);
      break;
    case HairColor::kGrey:
      h.base = srgb_linear(58, 52, 48);
      h.light = srgb_linear(212, 210, 204);
      h.white_fraction = rng.uniform(0.45f, 0.75f);
      break;
  }
  h.base = h.base * j;
  return h;
}

// Skin albedo anchors per Fitzpatrick class, CIELAB (typical forehead/scalp measurements:
// L* ~70 for type 1 down to ~30 for type 6).
constexpr std::array<std::array<float, 3>, 6> kSkinLab{{
    {71, 8.5f, 14.5f},
    {64, 10, 17},
    {56, 11.5f, 20},
    {47, 12.5f, 22},
    {38, 12.5f, 20},
    {30, 11, 16},
}};

struct Palette {
  Vec3 skin, skin_red, lips;
  Vec3 wall0, wall1, cloth;
  float spec = 0.2f, shine = 30;
};

Vec3 background_colour(Rng& rng, float L) {
  // Hues away from skin (skin sits at ~40-70 deg in a*b*): greens, teals, blues, violets or a
  // near-neutral grey.
  const float hue = rng.uniform(150, 290) * kPi / 180;
  const float chroma = rng.uniform() < 0.3f ? rng.uniform(0, 3) : rng.uniform(4, 16);
  return lab_linear(L, chroma * std::cos(hue), chroma * std::sin(hue));
}

Palette make_palette(const SynthOptions& o, Rng& rng) {
  const auto& lab = kSkinLab[static_cast<std::size_t>(o.fitzpatrick - 1)];
  const float L = lab[0] + rng.uniform(-1.5f, 1.5f);
  const float A = lab[1] + rng.uniform(-1, 1), B = lab[2] + rng.uniform(-1.5f, 1.5f);
  Palette p;
  p.skin = lab_linear(L, A, B);
  p.skin_red = lab_linear(L - 2, A + 7, B + 1);
  p.lips = lab_linear(L - 10, A + 14, B + 2);
  const float wall_l = rng.uniform(35, 85);
  p.wall0 = background_colour(rng, wall_l);
  p.wall1 = background_colour(rng, std::clamp(wall_l + rng.uniform(-20, 10), 25.0f, 90.0f));
  p.cloth = background_colour(rng, rng.uniform(20, 70));
  p.spec = rng.uniform(0.12f, 0.35f);
  p.shine = rng.uniform(20, 60);
  return p;
}

struct Fields {
  Field density, jitter, mottle, pores, wall;
};

// ---------------------------------------------------------------------------------------------
// Per-pixel shading of everything but the hair.

struct Shaded {
  Vec3 col;
  bool skin = false;
};

float ellipse_alpha(float d_px) {
  return std::clamp(0.5f - d_px, 0.0f, 1.0f);
}

// Signed distance (px, approximate) to an axis-aligned ellipse in the head frame.
float ellipse_sd(const Scene& sc, float x, float y, float ex, float ey, float ra, float rb) {
  const float u = (x - ex) / ra, v = (y - ey) / rb;
  const float r = std::sqrt(u * u + v * v);
  const float gu = u / ra, gv = v / rb;
  const float g = std::sqrt(gu * gu + gv * gv) / std::max(r, 1e-6f);
  return (r - 1) / std::max(g, 1e-6f) * sc.s;
}

Vec3 skin_shade(const Scene& sc, const Palette& pal, const Fields& f, float px, float py, Vec3 n,
                float spec_k) {
  const float lam = std::max(0.0f, dot(n, sc.light));
  const float shade = 0.28f + 0.85f * lam;
  const float m = f.mottle.at(px, py);
  Vec3 alb = lerp(pal.skin, pal.skin_red, std::clamp(0.3f + 0.22f * m, 0.0f, 1.0f));
  alb = alb * (1 + 0.07f * f.pores.at(px, py));
  // Light scattered inside the skin reddens the shadow side.
  Vec3 col = mul(alb, Vec3{shade, 0.06f + 0.94f * shade, 0.1f + 0.88f * shade});
  const Vec3 h = normalize(sc.light + Vec3{0, 0, 1});
  const float nh = std::max(0.0f, dot(n, h));
  const float spec = spec_k * (std::pow(nh, pal.shine) + 0.15f * std::pow(nh, 6.0f));
  return col + Vec3{1, 0.97f, 0.93f} * spec;
}

Vec3 background(const Scene& sc, const Palette& pal, const Fields& f, float px, float py) {
  const float t = std::clamp(0.5f + 0.6f * (px / static_cast<float>(sc.size.width) - 0.5f) +
                                 0.6f * (py / static_cast<float>(sc.size.height) - 0.5f),
                             0.0f, 1.0f);
  return lerp(pal.wall0, pal.wall1, t) * (1 + 0.12f * f.wall.at(px, py));
}

Shaded shade_top(const Scene& sc, const Palette& pal, const Fields& f, float px, float py) {
  const cv::Point2f q = sc.to_mm(px, py);
  const float x = q.x, y = q.y;
  Vec3 col = background(sc, pal, f, px, py);
  // Soft shadow of head and shoulders on the floor behind (light from the upper left).
  {
    const float u = (x - 14) / (sc.a * 1.6f), v = (y - 30) / (sc.b * 1.5f);
    col = col * (1 - 0.35f * (1 - smoothstep(0.6f, 1.2f, std::sqrt(u * u + v * v))));
  }
  // Shoulders, further from the camera and out of focus.
  {
    const float ra = 215, rb = 115, ey = 75;
    const float d = ellipse_sd(sc, x, y, 0, ey, ra, rb);
    const float al = std::clamp(0.5f - d / (3 * sc.s), 0.0f, 1.0f);
    if (al > 0) {
      const float u = x / ra, v = (y - ey) / rb;
      const Vec3 n = normalize({u, v, std::sqrt(std::max(0.0f, 1 - u * u - v * v)) * 1.2f});
      const float lam = std::max(0.0f, dot(n, sc.light));
      const float fold = 1 + 0.1f * f.wall.at(px * 3, py * 3);
      col = lerp(col, pal.cloth * ((0.25f + 0.7f * lam) * fold * 0.8f), al);
    }
  }
  bool skin = false;
  // Ears, sticking out at the sides slightly behind the centre.
  for (int side = -1; side <= 1; side += 2) {
    const float ex = static_cast<float>(side) * (sc.a + 1), ey = 8;
    const float d = ellipse_sd(sc, x, y, ex, ey, 10, 29);
    const float al = ellipse_alpha(d);
    if (al > 0) {
      const float u = (x - ex) / 10, v = (y - ey) / 29;
      const Vec3 n = normalize({u * 0.8f, v, std::sqrt(std::max(0.05f, 1 - u * u - v * v))});
      const Vec3 e = skin_shade(sc, pal, f, px, py, n, 0.05f);
      const float inner = 1 - 0.35f * std::exp(-(u * u * 6 + v * v * 2));
      col = lerp(col, mul(e * inner, Vec3{1.03f, 0.95f, 0.95f}), al);
      if (al >= 0.5f) skin = true;
    }
  }
  const float d = ellipse_sd(sc, x, y, 0, 0, sc.a, sc.b);
  const float al = ellipse_alpha(d);
  if (al > 0) {
    const Vec3 n = sc.normal(x, y);
    const float dens = f.density.at(px, py);
    Vec3 s = skin_shade(sc, pal, f, px, py, n, pal.spec * (1 - dens));
    s = s * (1 - 0.55f * dens);  // the hair shades the scalp beneath it
    col = lerp(col, s, al);
    if (al >= 0.5f) skin = true;
  }
  return {col, skin};
}

Shaded shade_front(const Scene& sc, const Palette& pal, const Fields& f, float px, float py) {
  const cv::Point2f q = sc.to_mm(px, py);
  const float x = q.x, y = q.y;
  Vec3 col = background(sc, pal, f, px, py);
  {
    const float u = (x - 18) / (sc.a * 1.5f), v = (y + 5) / (sc.b * 1.4f);
    col = col * (1 - 0.25f * (1 - smoothstep(0.7f, 1.3f, std::sqrt(u * u + v * v))));
  }
  bool skin = false;
  // Neck, then clothes from the shoulder line down.
  const float shoulder = 138 + 50 * std::exp(-(x / 55) * (x / 55));
  {
    const float neck_hw = 47 + std::max(0.0f, y - 112) * 0.9f;  // trapezius flare
    const float dn = (std::abs(x) - neck_hw) * sc.s;
    const float al = ellipse_alpha(dn) * smoothstep(40, 60, y);
    if (al > 0) {
      const float u = x / neck_hw;
      const Vec3 n = normalize({u, 0.1f, std::sqrt(std::max(0.05f, 1 - u * u))});
      Vec3 s = skin_shade(sc, pal, f, px, py, n, 0.03f);
      const float chin = sc.b;
      s = s * (1 - 0.55f * (1 - smoothstep(chin, chin + 30, y)));
      col = lerp(col, s, al);
      if (al >= 0.5f) skin = true;
    }
    const float ds = (shoulder - y) * sc.s;
    const float ac = ellipse_alpha(ds);
    if (ac > 0) {
      const float u = std::clamp(x / 180, -1.0f, 1.0f);
      const Vec3 n = normalize({u, -0.3f, std::sqrt(1 - u * u)});
      const float lam = std::max(0.0f, dot(n, sc.light));
      col = lerp(col, pal.cloth * (0.3f + 0.7f * lam), ac);
      if (ac >= 0.5f) skin = false;
    }
  }
  // Ears, partly behind the head.
  for (int side = -1; side <= 1; side += 2) {
    const float ex = static_cast<float>(side) * (sc.a + 2), ey = 14;
    const float al = ellipse_alpha(ellipse_sd(sc, x, y, ex, ey, 11, 30));
    if (al > 0) {
      const float u = (x - ex) / 11, v = (y - ey) / 30;
      const Vec3 n = normalize({u * 0.6f + static_cast<float>(side) * 0.3f, v,
                                std::sqrt(std::max(0.05f, 1 - u * u - v * v))});
      const float inner = 1 - 0.4f * std::exp(-((u + 0.1f * static_cast<float>(side)) *
                                                    (u + 0.1f * static_cast<float>(side)) * 5 +
                                                v * v * 2.5f));
      const Vec3 e = skin_shade(sc, pal, f, px, py, n, 0.05f) * inner;
      col = lerp(col, mul(e, Vec3{1.04f, 0.95f, 0.94f}), al);
      if (al >= 0.5f) skin = true;
    }
  }
  // Head and face.
  const float hw = sc.half_width(y);
  const float al = ellipse_alpha(ellipse_sd(sc, x, y, 0, 0, hw, sc.b));
  if (al <= 0) return {col, skin};
  const Vec3 n = sc.normal(x, y);
  const float dens = f.density.at(px, py);
  Vec3 s = skin_shade(sc, pal, f, px, py, n, pal.spec * 0.6f * (1 - dens));
  s = s * (1 - 0.45f * dens);
  const float ax = std::abs(x);
  // Eyes: socket shadow, almond with sclera, iris (11.8 mm across) and lid line.
  if (y > -25 && y < 25 && ax < 58) {
    const float ex = x < 0 ? -31.5f : 31.5f, ey = 2;
    const float dx = x - ex, dy = y - ey;
    s = s * (1 - 0.28f * std::exp(-((dx / 19) * (dx / 19) + ((dy + 3) / 10) * ((dy + 3) / 10))));
    const float w = 1 - (dx / 14.5f) * (dx / 14.5f);
    if (w > 0) {
      const float up = -5.2f * w, lo = 4.2f * w;
      const float edge = 0.35f;
      const float inside =
          smoothstep(up - edge, up + edge, dy) * (1 - smoothstep(lo - edge, lo + edge, dy));
      if (inside > 0) {
        Vec3 eye = srgb_linear(196, 186, 178) * (0.45f + 0.4f * std::max(0.0f, dot(n, sc.light)));
        const float ir = std::sqrt(dx * dx + (dy + 0.5f) * (dy + 0.5f));
        const Vec3 iris = srgb_linear(62, 40, 26) * (0.7f + 0.3f * std::cos(ir * 3));
        eye = lerp(eye, iris, 1 - smoothstep(5.5f, 6.2f, ir));
        eye = lerp(eye, srgb_linear(8, 6, 6), 1 - smoothstep(2.0f, 2.5f, ir));
        eye = eye * (1 - 0.5f * (1 - smoothstep(up, up + 2.5f, dy)));  // lid shadow
        s = lerp(s, eye, inside);
      }
      const float lid = std::exp(-std::pow((dy - up) / 0.6f, 2.0f)) * std::min(1.0f, w * 3);
      s = lerp(s, srgb_linear(20, 14, 12), 0.85f * lid);
      const float crease = std::exp(-std::pow((dy - up * 1.6f) / 0.8f, 2.0f)) * w;
      s = s * (1 - 0.2f * crease);
    }
  }
  // Nose: shadow side of the ridge (light comes from the left), nostrils, tip highlight.
  if (y > -10 && y < 60 && ax < 25) {
    const float along = smoothstep(-5, 15, y) * (1 - smoothstep(42, 52, y));
    s = s * (1 - 0.22f * along * std::exp(-std::pow((x - 10) / 5, 2.0f)));
    s = s * (1 + 0.1f * along * std::exp(-std::pow((x + 2) / 3, 2.0f)));
    for (int side = -1; side <= 1; side += 2) {
      const float nx = (x - 8.5f * static_cast<float>(side)) / 4.5f, ny = (y - 47) / 2.4f;
      s = s * (1 - 0.6f * std::exp(-(nx * nx + ny * ny) * 1.5f));
    }
    s = s * (1 - 0.25f * std::exp(-std::pow((y - 51) / 3, 2.0f)) * std::exp(-(x / 14) * (x / 14)));
  }
  // Mouth.
  if (y > 55 && y < 90 && ax < 34) {
    const float w = 1 - (x / 25) * (x / 25);
    if (w > 0) {
      const float up = 70 - 4.0f * w + 1.2f * std::exp(-(x / 3) * (x / 3)), lo = 70 + 5.5f * w;
      const float lip =
          smoothstep(up - 0.5f, up + 0.5f, y) * (1 - smoothstep(lo - 0.6f, lo + 0.6f, y));
      s = lerp(
          s,
          mul(pal.lips, Vec3{1, 0.98f, 0.98f}) * (0.3f + 0.85f * std::max(0.0f, dot(n, sc.light))),
          0.75f * lip * std::min(1.0f, w * 4));
      s = s * (1 - 0.55f * std::exp(-std::pow((y - 70) / 0.7f, 2.0f)) * std::min(1.0f, w * 4));
    }
  }
  col = lerp(col, s, al);
  if (al >= 0.5f) skin = true;
  return {col, skin};
}

// ---------------------------------------------------------------------------------------------
// Hair.

struct StrandSet {
  float width_mm = 0.075f;
  float len_median_mm = 8;
  float per_mm2 = 4.6f;  // strands per mm^2 of projected area at density 1
};

// Growth direction (head frame, unit) at a point.
cv::Point2f growth(const Scene& sc, float x, float y) {
  if (sc.view == View::kTop) {
    const float wx = 6, wy = 0.36f * sc.b;
    float rx = x - wx, ry = y - wy;
    const float r = std::max(std::sqrt(rx * rx + ry * ry), 1e-3f);
    rx /= r;
    ry /= r;
    const float swirl = 1.1f * std::exp(-r / 35);
    float dx = rx - swirl * ry, dy = ry + swirl * rx;
    if (y < 0) dy -= 0.35f;  // hair in front of the crown is combed forward
    const float n = std::max(std::sqrt(dx * dx + dy * dy), 1e-6f);
    return {dx / n, dy / n};
  }
  const float ax = std::abs(x);
  const float side = smoothstep(48, 66, ax) * smoothstep(-75, -40, y);
  const float sx = x < 0 ? -1.0f : 1.0f;
  const float tx = 0.55f * sc.parting + 0.6f * x / sc.a, ty = -0.8f;
  const float dx = tx * (1 - side) + 0.35f * sx * side, dy = ty * (1 - side) + 1.0f * side;
  const float n = std::max(std::sqrt(dx * dx + dy * dy), 1e-6f);
  return {dx / n, dy / n};
}

void draw_strand(Canvas& cv_, const Scene& sc, cv::Point2f root, cv::Point2f dir, float len_mm,
                 float bend, float alpha, Vec3 col) {
  const cv::Point2f d = sc.dir_to_px(dir);
  const cv::Point2f nrm{-d.y, d.x};
  const float L = len_mm * sc.s;
  const int n = std::clamp(static_cast<int>(L / 5), 1, 8);
  const Vec3 root_col = col * 0.55f;
  cv::Point2f prev = sc.to_px(root.x, root.y);
  const cv::Point2f p0 = prev;
  for (int i = 1; i <= n; ++i) {
    const float t0 = static_cast<float>(i - 1) / static_cast<float>(n);
    const float t = static_cast<float>(i) / static_cast<float>(n);
    const cv::Point2f p = p0 + d * (L * t) + nrm * (bend * L * t * t);
    cv_.segment(prev, p, alpha * (1 - 0.45f * t0), alpha * (1 - 0.45f * t),
                lerp(root_col, col, std::min(1.0f, t0 * 3)),
                lerp(root_col, col, std::min(1.0f, t * 3)));
    prev = p;
  }
}

void draw_hair(Canvas& canvas, const Scene& sc, const Fields& f, const HairLook& look,
               double hair_density, Rng& rng) {
  if (hair_density <= 0) return;
  const StrandSet set;
  const float alpha = std::clamp(set.width_mm * sc.s, 0.0f, 1.0f) * 0.95f;
  constexpr int kClump = 8;  // strands per clump: real hair lies in locks, which reads as texture
  // Candidate roots are drawn uniformly over the head box (plus the hair's own volume), then
  // kept with probability density * foreshortening.
  const float vol = sc.view == View::kFront
                        ? 12.0f * kFrontLevels[static_cast<std::size_t>(sc.level - 2)].top
                        : 4.0f;
  const float bx = sc.a + 14, by0 = -(sc.b + vol), by1 = sc.view == View::kTop ? sc.b : 40;
  const float box = 2 * bx * (by1 - by0);
  constexpr float kMinZ = 0.3f;
  const double expected = static_cast<double>(set.per_mm2) * hair_density * box / kMinZ / kClump;
  const auto candidates = static_cast<std::int64_t>(expected);
  const Vec3 h = normalize(sc.light + Vec3{0, 0, 1});
  for (std::int64_t i = 0; i < candidates; ++i) {
    const float x = rng.uniform(-bx, bx), y = rng.uniform(by0, by1);
    const float keep = rng.uniform();
    float u = 0, v = 0;
    sc.uv(x, y, u, v);
    const float r = std::sqrt(u * u + v * v);
    const float shell = 1 + vol / sc.b;
    if (r >= shell) continue;
    const cv::Point2f pp = sc.to_px(x, y);
    const float dens = f.density.at(pp.x, pp.y);
    const float z = r < 1 ? std::sqrt(1 - r * r) : 0.0f;
    const float fore = kMinZ / std::max(z, kMinZ);
    if (keep >= dens * fore) {
      rng.next();  // keep the stream length independent of the decision cost
      continue;
    }
    const Vec3 n = sc.normal(x * std::min(1.0f, 0.999f / r), y * std::min(1.0f, 0.999f / r));
    const float lam = std::max(0.0f, dot(n, sc.light));
    cv::Point2f g = growth(sc, x, y);
    const float ang = 0.13f * rng.normal();
    g = {g.x * std::cos(ang) - g.y * std::sin(ang), g.x * std::sin(ang) + g.y * std::cos(ang)};
    const float clump_len =
        set.len_median_mm * std::exp(0.4f * rng.normal()) * (sc.view == View::kFront ? 1.6f : 1.0f);
    const float clump_bend = 0.15f * rng.normal();
    // Locks and waves: brightness drifts over ~1 cm, so the hair mass is not a uniform fur.
    const float clump_bright =
        std::exp(0.18f * rng.normal()) * (1 + 0.3f * f.jitter.at(pp.x * 1.7f, pp.y * 1.7f));
    // Kajiya-Kay sheen: strongest where the strand runs across the half vector.
    const Vec3 t3 = normalize({g.x, g.y, -0.3f});
    const float th = dot(t3, h);
    const float sheen = 0.35f * std::pow(std::max(0.0f, 1 - th * th), 18.0f) * lam;
    const float shade = (0.22f + 0.9f * lam) * clump_bright;
    const float fs = 0.35f + 0.65f * std::max(z, 0.1f);
    for (int k = 0; k < kClump; ++k) {
      const float rx = x + 0.5f * rng.normal(), ry = y + 0.5f * rng.normal();
      const float a2 = 0.04f * rng.normal();
      const cv::Point2f gd{g.x * std::cos(a2) - g.y * std::sin(a2),
                           g.x * std::sin(a2) + g.y * std::cos(a2)};
      const float len = clump_len * rng.uniform(0.6f, 1.25f) * fs;
      Vec3 base = look.base;
      if (look.white_fraction > 0 && rng.uniform() < look.white_fraction) base = look.light;
      const float depth = 0.55f + 0.45f * std::sqrt(rng.uniform());  // lower strands lie in shade
      const Vec3 col =
          base * (shade * depth) + (base * 0.5f + Vec3{0.5f, 0.5f, 0.5f} * 0.5f) * (sheen * depth);
      draw_strand(canvas, sc, {rx, ry}, gd, len, clump_bend + 0.05f * rng.normal(), alpha, col);
    }
  }
}

// Eyebrows: short dense strands, labelled hair like the brows in the evaluation masks.
void draw_brows(Canvas& canvas, const Scene& sc, const HairLook& look, Rng& rng) {
  const float alpha = std::clamp(0.075f * sc.s, 0.0f, 1.0f);
  Vec3 col = look.white_fraction > 0 ? lerp(look.base, look.light, 0.3f) : look.base * 0.7f;
  for (int side = -1; side <= 1; side += 2) {
    const float sx = static_cast<float>(side);
    constexpr int count = 1400;  // ~1 brow hair per 0.1 mm^2 over a 35 x 4 mm brow
    for (int i = 0; i < count; ++i) {
      const float t = rng.uniform();  // inner (0) to outer (1) end
      const float ax = 16 + 34 * t;
      const float yc = -13 - 5 * std::sin(kPi * std::min(1.0f, t * 1.3f));
      const float thick = 5.5f * (1 - 0.6f * t);
      const float x = sx * ax, y = yc + thick * rng.uniform(-0.5f, 0.5f);
      const cv::Point2f d = normalize_dir(sx * (0.6f + t), -0.5f + 0.9f * t);
      const float len = rng.uniform(3, 6);
      const Vec3 n = sc.normal(x, y);
      const float lam = std::max(0.0f, dot(n, sc.light));
      draw_strand(canvas, sc, {x, y}, d, len, 0.1f * rng.normal(), alpha,
                  col * ((0.3f + 0.8f * lam) * std::exp(0.2f * rng.normal())));
    }
  }
}

// The hairline from the labels, so it is exactly the drawn skin/hair boundary: per column (every
// ~1 mm), walking from the forehead towards the hair, the first hair pixel that follows at least
// `min_skin_mm` of skin.
std::vector<cv::Point2f> trace_hairline(const Scene& sc, const cv::Mat& labels) {
  std::vector<cv::Point2f> line;
  const int step = std::max(1, static_cast<int>(std::lround(sc.s)));
  const float min_skin = 2.0f * sc.s;
  if (sc.view == View::kFront) {
    if (sc.level == 7) return line;
    const float x0 = sc.cx - 62 * sc.s, x1 = sc.cx + 62 * sc.s;
    const int start_y = static_cast<int>(sc.to_px(0, -24).y);
    for (int x = std::max(0, static_cast<int>(x0));
         x <= std::min(labels.cols - 1, static_cast<int>(x1)); x += step) {
      if (start_y < 0 || start_y >= labels.rows || labels.at<std::uint8_t>(start_y, x) != 1)
        continue;
      int run = 0;
      for (int y = start_y; y >= 0; --y) {
        const std::uint8_t l = labels.at<std::uint8_t>(y, x);
        if (l == 1) {
          ++run;
          continue;
        }
        if (l == 2 && static_cast<float>(run) >= min_skin) {
          line.emplace_back(static_cast<float>(x), static_cast<float>(y) + 0.5f);
        }
        break;
      }
    }
    return line;
  }
  // Top view: only while a frontal forelock remains (levels 2..5); front = image top.
  if (sc.level > 5) return line;
  const float x0 = sc.cx - sc.a * 0.8f * sc.s, x1 = sc.cx + sc.a * 0.8f * sc.s;
  for (int x = std::max(0, static_cast<int>(x0));
       x <= std::min(labels.cols - 1, static_cast<int>(x1)); x += step) {
    int run = 0;
    bool in_head = false;
    for (int y = 0; y < labels.rows; ++y) {
      const std::uint8_t l = labels.at<std::uint8_t>(y, x);
      const cv::Point2f q = sc.to_mm(static_cast<float>(x), static_cast<float>(y));
      if (q.y > 0) break;
      if (l == 1) {
        in_head = true;
        ++run;
      } else if (l == 2) {
        if (in_head && static_cast<float>(run) >= min_skin) {
          line.emplace_back(static_cast<float>(x), static_cast<float>(y) - 0.5f);
        }
        if (in_head) break;
        run = 0;
      } else {
        run = 0;
      }
    }
  }
  return line;
}

}  // namespace

Phantom synthesize(const SynthOptions& o) {
  require(o.size.width >= 64 && o.size.height >= 64 &&
              static_cast<double>(o.size.width) * o.size.height <= 64e6,
          ErrorCode::kInvalidArgument,
          "phantom size " + std::to_string(o.size.width) + "x" + std::to_string(o.size.height) +
              " is out of range; use at least 64x64 and at most 64 megapixels");
  require(o.level >= 2 && o.level <= 7, ErrorCode::kInvalidArgument,
          "hair-loss level " + std::to_string(o.level) + " is out of range; use 2..7");
  require(o.fitzpatrick >= 1 && o.fitzpatrick <= 6, ErrorCode::kInvalidArgument,
          "Fitzpatrick class " + std::to_string(o.fitzpatrick) + " is out of range; use 1..6");
  require(std::isfinite(o.hair_density) && o.hair_density >= 0 && o.hair_density <= 4,
          ErrorCode::kInvalidArgument,
          "hair_density " + std::to_string(o.hair_density) + " is out of range; use 0..4");
  try {
    const int W = o.size.width, H = o.size.height;
    Rng rng(o.seed);
    Rng rng_scene(rng.next()), rng_fields(rng.next()), rng_hair(rng.next()), rng_noise(rng.next());

    Scene sc;
    sc.view = o.view;
    sc.level = o.level;
    sc.size = o.size;
    const auto fw = static_cast<float>(W), fh = static_cast<float>(H);
    if (o.view == View::kTop) {
      sc.a = 75;
      sc.b = 97 + rng_scene.uniform(-4, 4);
      sc.c = 85;
      // The head fills most of the frame, as in practitioners' crown photos.
      sc.s = std::min(fw / (2 * sc.a * 1.2f), fh / (2 * sc.b * 1.1f));
      sc.cx = fw * (0.5f + rng_scene.uniform(-0.03f, 0.03f));
      sc.cy = fh * (0.5f + rng_scene.uniform(-0.02f, 0.03f));
      const float t = rng_scene.normal() * 0.08f;
      sc.cos_t = std::cos(t);
      sc.sin_t = std::sin(t);
      sc.light = normalize({-0.45f + rng_scene.uniform(-0.15f, 0.15f), -0.55f, 0.75f});
    } else {
      sc.a = 75;
      sc.b = 112;
      sc.c = 95;
      sc.s = std::min(fw / 300, fh / 310);
      sc.cx = fw * (0.5f + rng_scene.uniform(-0.02f, 0.02f));
      sc.cy = fh * 0.47f;
      const float t = rng_scene.normal() * 0.03f;
      sc.cos_t = std::cos(t);
      sc.sin_t = std::sin(t);
      sc.light = normalize({-0.5f + rng_scene.uniform(-0.15f, 0.15f), -0.45f, 0.8f});
      sc.parting = rng_scene.uniform() < 0.5f ? -1.0f : 1.0f;
    }
    const Palette pal = make_palette(o, rng_scene);
    const HairLook look = hair_look(o.hair, rng_scene);

    // Coarse fields. Sizes follow the physical scale so the look does not change with
    // resolution, capped so a 64 MP phantom does not pay for grids it cannot see.
    Fields f;
    {
      const float cell = std::max(1.0f, sc.s);  // ~1 mm
      const cv::Size g(std::max(2, static_cast<int>(fw / cell)),
                       std::max(2, static_cast<int>(fh / cell)));
      cv::Mat jit = fbm(g, 9.0f * sc.s / cell, 3, rng_fields);
      f.jitter = Field(jit, o.size);
      cv::Mat dens(g, CV_32F);
      for (int y = 0; y < g.height; ++y) {
        for (int x = 0; x < g.width; ++x) {
          const float px = (static_cast<float>(x) + 0.5f) * fw / static_cast<float>(g.width);
          const float py = (static_cast<float>(y) + 0.5f) * fh / static_cast<float>(g.height);
          const cv::Point2f q = sc.to_mm(px, py);
          dens.at<float>(y, x) = density_at(sc, q.x, q.y, jit.at<float>(y, x));
        }
      }
      f.density = Field(dens, o.size);
      f.mottle = Field(fbm(g, 7.0f * sc.s / cell, 3, rng_fields), o.size);
      const float pcell = std::max(1.2f, 0.3f * sc.s);
      const cv::Size pg(std::max(2, static_cast<int>(fw / pcell)),
                        std::max(2, static_cast<int>(fh / pcell)));
      cv::Mat pores(pg, CV_32F);
      for (int y = 0; y < pg.height; ++y) {
        for (int x = 0; x < pg.width; ++x) pores.at<float>(y, x) = rng_fields.uniform(-1, 1);
      }
      f.pores = Field(pores, o.size);
      const cv::Size wg(std::max(8, W / 16), std::max(8, H / 16));
      f.wall = Field(fbm(wg, static_cast<float>(wg.width) / 6, 4, rng_fields), o.size);
    }

    Phantom out;
    out.px_per_mm = sc.s;
    out.image.create(H, W, CV_8UC3);
    out.labels.create(H, W, CV_8UC1);
    const Encoder& enc = encoder();
    for (int y = 0; y < H; ++y) {
      auto* row = out.image.ptr<std::uint8_t>(y);
      auto* lab = out.labels.ptr<std::uint8_t>(y);
      for (int x = 0; x < W; ++x) {
        const float px = static_cast<float>(x) + 0.5f, py = static_cast<float>(y) + 0.5f;
        const Shaded sh =
            o.view == View::kTop ? shade_top(sc, pal, f, px, py) : shade_front(sc, pal, f, px, py);
        row[3 * x] = enc(sh.col.x);
        row[3 * x + 1] = enc(sh.col.y);
        row[3 * x + 2] = enc(sh.col.z);
        lab[x] = sh.skin ? 1 : 0;
      }
    }

    Canvas canvas;
    canvas.img = out.image;
    canvas.cell = std::max(1, static_cast<int>(std::lround(0.5f * sc.s)));
    canvas.depth = cv::Mat::zeros((H + canvas.cell - 1) / canvas.cell,
                                  (W + canvas.cell - 1) / canvas.cell, CV_32F);
    canvas.dec = &srgb_to_linear_table();
    canvas.enc = &enc;
    draw_hair(canvas, sc, f, look, o.hair_density, rng_hair);
    if (o.view == View::kFront) draw_brows(canvas, sc, look, rng_hair);

    // Hair label: the strands hide at least half of what lies beneath (coverage >= 0.5).
    {
      cv::Mat cover;
      const float area = static_cast<float>(canvas.cell * canvas.cell);
      cv::GaussianBlur(canvas.depth, cover, cv::Size(), 0.8);
      Field cov(cover, {canvas.depth.cols * canvas.cell, canvas.depth.rows * canvas.cell});
      const float threshold = -std::log(0.5f) * area;  // optical depth for coverage 0.5
      for (int y = 0; y < H; ++y) {
        auto* lab = out.labels.ptr<std::uint8_t>(y);
        for (int x = 0; x < W; ++x) {
          if (cov.at(static_cast<float>(x) + 0.5f, static_cast<float>(y) + 0.5f) >= threshold) {
            lab[x] = 2;
          }
        }
      }
    }

    // Camera: slight optical softness, vignette and sensor noise (more in the shadows).
    cv::GaussianBlur(out.image, out.image, cv::Size(3, 3), 0.55);
    const auto& dec = srgb_to_linear_table();
    const std::uint64_t noise_seed = rng_noise.next();
    const float noise_amp = rng_noise.uniform(1.5f, 3.0f);
    const float hx = fw / 2, hy = fh / 2, rmax2 = hx * hx + hy * hy;
    for (int y = 0; y < H; ++y) {
      auto* row = out.image.ptr<std::uint8_t>(y);
      const float dy = static_cast<float>(y) - hy;
      for (int x = 0; x < W; ++x) {
        const float dx = static_cast<float>(x) - hx;
        const float vig = 1 - 0.3f * (dx * dx + dy * dy) / rmax2;
        std::uint64_t hsh = mix64(noise_seed ^ (static_cast<std::uint64_t>(y) * 0x100000001b3ULL +
                                                static_cast<std::uint64_t>(x)));
        const float common =
            (static_cast<float>(hsh & 0xffff) + static_cast<float>((hsh >> 16) & 0xffff)) /
                65535.0f -
            1.0f;
        for (int k = 0; k < 3; ++k) {
          const float chroma = static_cast<float>((hsh >> (32 + 10 * k)) & 0x3ff) / 1023.0f - 0.5f;
          const std::uint8_t v0 = enc(dec[row[3 * x + k]] * vig);
          const float shot = noise_amp * (1.3f - 0.6f * static_cast<float>(v0) / 255.0f);
          row[3 * x + k] = cv::saturate_cast<std::uint8_t>(static_cast<float>(v0) +
                                                           shot * (common * 1.2f + chroma * 0.8f));
        }
      }
    }

    out.hairline = trace_hairline(sc, out.labels);
    return out;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("synthesize failed: ") + e.what());
  }
}

}  // namespace smp
