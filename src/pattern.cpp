// Stage 3: dot layout. Variable-density blue noise by rank thresholding of stamped progressive
// tiles.
//
// Method (why each piece is there):
// * A tile is a unit square holding ~2048 points with a *progressive* order: every prefix of n
//   points is itself a well-spread blue-noise set (greedy farthest-point order over a Poisson-disk
//   pool). Keeping the points of rank < density x tile area gives that density with the prefix's
//   spacing, and session k (threshold scaled by k/sessions) is a superset of session k-1 whose new
//   dots fall between the old ones.
// * The plane is covered by a square grid of tiles; each cell takes one of kVariants tiles,
//   chosen by a hash of (seed, cell), so there is no period. All variants share the points of one
//   base tile that lie near its border (closer than half their prefix radius: the "band") and
//   differ inside, so any two neighbouring cells meet exactly as the toroidal base tile meets
//   itself: the minimum spacing holds across seams with no runtime neighbour search, and seams
//   leave no gap or pile-up (see build_tiles()).
// * Tiles are scaled so that the design's peak density uses all of a tile's points; each tile is
//   split into 8x8 blocks whose points are stored by rank, and a block stops at the first rank
//   above the block's peak density. Work is therefore proportional to the dots produced, not to the
//   image.
// * Per block, not per dot: whether the mask needs reading at all (summarize_mask(): a block
//   wholly inside skips the 12 MB mask, whose reads were ~70% of the time), the density bounds
//   (the exact bilinear density is read only for points those bounds do not settle) and the growth
//   direction (a bilinear patch from the block's corners). The common block is then loads, a few
//   FMAs, two table lookups and stores: ~160 M dots/s uniform, ~100 M/s on a ramp, one core.
// * Per-dot size and shade jitter come from per-point random bits stored in the tile XOR the
//   cell's hash, through a normal-quantile table; positional jitter and groups from a hash of
//   (seed, cell, point). Never a sequential stream: the result does not depend on the thread count
//   or the visit order.
#include "smp/pattern.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <thread>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "check.hpp"
#include "pattern_tiles.hpp"
#include "smp/error.hpp"

namespace smp {
namespace {

using detail::kBlocks;
using detail::kVariants;
using detail::mix64;
using detail::Tile;
using detail::TilePoint;
using detail::TileSet;
using detail::unit;

const TileSet& tile_set() {
  // Built once per process (a few ms, see pattern_tiles.hpp), thread-safe static initialisation.
  static const TileSet set = detail::build_tiles();
  return set;
}

// Bilinear lookup on a coarse CV_32FC1 grid, with density_at()'s sample positions
// ((x + 0.5) / cell_px - 0.5) and clamp-to-edge outside.
struct Grid {
  const float* data = nullptr;
  int cols = 0, rows = 0;
  std::size_t stride = 0;  // floats per row
  float inv_cell = 1;

  Grid() = default;
  Grid(const cv::Mat& m, double cell_px)
      : data(m.ptr<float>()),
        cols(m.cols),
        rows(m.rows),
        stride(m.step1()),
        inv_cell(float(1.0 / cell_px)) {}
  [[nodiscard]] bool empty() const { return data == nullptr; }
  [[nodiscard]] float gx(float x) const {
    return std::clamp((x + 0.5f) * inv_cell - 0.5f, 0.0f, float(cols - 1));
  }
  [[nodiscard]] float gy(float y) const {
    return std::clamp((y + 0.5f) * inv_cell - 0.5f, 0.0f, float(rows - 1));
  }
  [[nodiscard]] float at(float x, float y) const {
    const float fx = gx(x), fy = gy(y);
    const int x0 = int(fx), y0 = int(fy);
    const int x1 = std::min(x0 + 1, cols - 1);
    const std::size_t r0 = std::size_t(y0) * stride,
                      r1 = std::size_t(std::min(y0 + 1, rows - 1)) * stride;
    const float tx = fx - float(x0), ty = fy - float(y0);
    const float top = data[r0 + x0] + (data[r0 + x1] - data[r0 + x0]) * tx;
    const float bot = data[r1 + x0] + (data[r1 + x1] - data[r1 + x0]) * tx;
    return top + (bot - top) * ty;
  }
  // Bilinear interpolation of an angle field: corners are unwrapped around the first one.
  [[nodiscard]] float angle_at(float x, float y) const {
    const float fx = gx(x), fy = gy(y);
    const int x0 = int(fx), y0 = int(fy);
    const int x1 = std::min(x0 + 1, cols - 1);
    const std::size_t r0 = std::size_t(y0) * stride,
                      r1 = std::size_t(std::min(y0 + 1, rows - 1)) * stride;
    const float tx = fx - float(x0), ty = fy - float(y0);
    const float a = data[r0 + x0];
    auto near = [a](float v) {
      constexpr float kPi = std::numbers::pi_v<float>;
      return v - a > kPi ? v - 2 * kPi : (a - v > kPi ? v + 2 * kPi : v);
    };
    const float b = near(data[r0 + x1]), c = near(data[r1 + x0]), d = near(data[r1 + x1]);
    const float top = a + (b - a) * tx, bot = c + (d - c) * tx;
    return top + (bot - top) * ty;
  }
  // Range of the bilinear field over the box [x0, x1] x [y0, y1] (photo pixels).
  void range(float x0, float y0, float x1, float y1, float& lo, float& hi) const {
    const int i0 = int(gx(x0)), i1 = std::min(cols - 1, int(gx(x1)) + 1);
    const int j0 = int(gy(y0)), j1 = std::min(rows - 1, int(gy(y1)) + 1);
    lo = data[std::size_t(j0) * stride + i0];
    hi = lo;
    for (int j = j0; j <= j1; ++j) {
      const float* row = data + std::size_t(j) * stride;
      for (int i = i0; i <= i1; ++i) {
        lo = std::min(lo, row[i]);
        hi = std::max(hi, row[i]);
      }
    }
  }
};

// N(0,1) quantiles at (i + 0.5) / 256, rescaled to unit variance and shuffled: the size and shade
// jitter of a dot is one table entry picked by its point's stored random bits XOR its cell's
// (no per-dot hashing or transcendental maths). Shuffled so that two points whose bits differ in a
// low bit do not get neighbouring quantiles in every cell.
const std::array<float, 256>& normal_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) {
      const double p = (i + 0.5) / 256;  // solve 0.5 erfc(-q / sqrt 2) = p by bisection
      double lo = -6, hi = 6;
      for (int it = 0; it < 60; ++it) {
        const double mid = (lo + hi) / 2;
        (0.5 * std::erfc(-mid / std::numbers::sqrt2) < p ? lo : hi) = mid;
      }
      t[std::size_t(i)] = float((lo + hi) / 2);
    }
    double var = 0;
    for (float q : t) var += double(q) * q / 256;
    for (float& q : t) q = float(q / std::sqrt(var));
    std::uint64_t s = 0x7ab1e;
    for (int i = 255; i > 0; --i)
      std::swap(t[std::size_t(i)], t[mix64(s++) % std::uint64_t(i + 1)]);
    return t;
  }();
  return table;
}

struct Context {
  const TileSet* tiles = nullptr;
  Grid count;  // expected sites per tile area at each grid node (density * tile area)
  Grid angle;  // growth direction, radians (may be empty)
  Grid zone;   // grouping zone 0..1 (may be empty)
  const std::uint8_t* mask = nullptr;
  std::size_t mask_step = 0;
  const std::uint8_t* summary = nullptr;  // summarize_mask() of the mask
  std::size_t summary_step = 0;
  int summary_cols = 0, summary_rows = 0;
  int width = 0, height = 0;
  float tile_px = 0;                 // tile side, photo pixels
  float origin_x = 0, origin_y = 0;  // corner of cell (0, 0)
  int cell_x0 = 0, cell_y0 = 0, cells_x = 0, cells_y = 0;
  std::uint64_t seed = 0;
  float sessions = 1;
  float site_scale = 1;  // sites per dot (1 / mean group size) when grouping is global
  // per-dot options
  std::array<float, 256> diameter{}, shade{};  // diameter_mm and shade per jitter table entry
  float jitter = 0;
  float grouping = 0, group_px = 0;
  float whorl_r = 0, whorl_cx = 0, whorl_cy = 0, whorl_turn = 0;
};

inline bool inside_mask(const Context& c, float x, float y) {
  if (!(x >= 0.0f && y >= 0.0f && x < float(c.width) && y < float(c.height))) return false;
  return c.mask[std::size_t(y) * c.mask_step + std::size_t(x)] != 0;
}

enum class MaskState { kEmpty, kFull, kMixed };

// What the mask summary says about the box [x0, x1] x [y0, y1] (photo pixels, padded by a pixel
// for rounding); a box reaching outside the image is mixed (dots there are tested one by one).
MaskState mask_state(const Context& c, float x0, float y0, float x1, float y1) {
  x0 -= 1, y0 -= 1, x1 += 1, y1 += 1;
  const bool partly_out = x0 < 0 || y0 < 0 || x1 >= float(c.width) || y1 >= float(c.height);
  constexpr float kInv = 1.0f / kMaskSummaryPx;
  const int i0 = std::clamp(int(x0 * kInv), 0, c.summary_cols - 1);
  const int i1 = std::clamp(int(x1 * kInv), 0, c.summary_cols - 1);
  const int j0 = std::clamp(int(y0 * kInv), 0, c.summary_rows - 1);
  const int j1 = std::clamp(int(y1 * kInv), 0, c.summary_rows - 1);
  bool any = false, all = true;
  for (int j = j0; j <= j1; ++j) {
    const std::uint8_t* row = c.summary + std::size_t(j) * c.summary_step;
    for (int i = i0; i <= i1; ++i) {
      any |= row[i] != 0;
      all &= row[i] == 255;
    }
  }
  if (!any) return MaskState::kEmpty;
  return all && !partly_out ? MaskState::kFull : MaskState::kMixed;
}

// Growth direction at (x, y) with the crown whorl blended in; `field` is the design's direction
// there.
float whorl_angle(const Context& c, float x, float y, float field) {
  const float dx = x - c.whorl_cx, dy = y - c.whorl_cy;
  const float r2 = dx * dx + dy * dy;
  if (r2 >= c.whorl_r * c.whorl_r) return field;
  // Hairs leave a whorl on a spiral: tangential plus a slight outward lean (~20 deg).
  const float w = 1.0f - std::sqrt(r2) / c.whorl_r;
  const float ww = w * w * (3 - 2 * w);  // smoothstep: no kink at the whorl's edge
  const float t = std::atan2(dy, dx) + c.whorl_turn;
  return std::atan2(ww * std::sin(t) + (1 - ww) * std::sin(field),
                    ww * std::cos(t) + (1 - ww) * std::cos(field));
}

// The growth direction over one block as a bilinear patch in the block's local coordinates
// (s, t in 0..1): the design's field sampled at the block's corners. The field lives on a grid of
// a few px, the block is tens of px: between the corners this is an approximation (exact for a
// field linear over the block), which costs 3 FMAs per dot instead of a grid lookup.
struct AnglePatch {
  float a = 0, ds = 0, dt = 0, dst = 0;
  [[nodiscard]] float at(float s, float t) const { return a + ds * s + (dt + dst * s) * t; }
};
AnglePatch angle_patch(const float corner[4]) {  // corners (0,0), (1,0), (0,1), (1,1)
  const float a = corner[0];
  auto near = [a](float v) {
    constexpr float kPi = std::numbers::pi_v<float>;
    return v - a > kPi ? v - 2 * kPi : (a - v > kPi ? v + 2 * kPi : v);
  };
  const float b = near(corner[1]), c = near(corner[2]), d = near(corner[3]);
  return {a, b - a, c - a, d - b - c + a};
}

inline Dot make_dot(const Context& c, float x, float y, std::uint32_t bits, float angle,
                    std::uint8_t session) {
  Dot d;
  d.x = x;
  d.y = y;
  d.diameter_mm = c.diameter[bits & 255];
  d.shade = c.shade[(bits >> 8) & 255];
  d.angle_rad = angle;
  d.session = session;
  return d;
}

// Extra dots of a follicular-unit group around a site (1 or 2 more, each ~group_px away).
Dot* emit_group(const Context& c, Dot* w, float x, float y, float angle, std::uint64_t h,
                std::uint8_t session) {
  const int extra = 1 + int((h >> 20) & 1);
  const float base = float(unit(mix64(h ^ 0x77)) * 2 * std::numbers::pi);
  for (int e = 0; e < extra; ++e) {
    const std::uint64_t he = mix64(h + 0x1000 + std::uint64_t(e));
    const float ang = base + float(e) * (1.8f + 0.6f * float(unit(he)));
    const float dist = c.group_px * (0.85f + 0.3f * float(unit(mix64(he))));
    const float gx = x + dist * std::cos(ang), gy = y + dist * std::sin(ang);
    if (inside_mask(c, gx, gy)) {
      *w++ = make_dot(c, gx, gy, std::uint32_t(mix64(he ^ 0x99)), angle, session);
    }
  }
  return w;
}

// ceil() for v >= 0 without SSE4.1's roundss (the library builds for baseline x86-64).
inline int ceil_pos(float v) {
  const int i = int(v);
  return i + int(float(i) < v);
}

// One cell's block in the common case: every pixel inside the mask, no positional jitter, no
// groups, no whorl. Dots are the block's first points by rank, so the loop is loads, a few FMAs,
// table lookups and stores. kFlat: the density is constant over the block. Else it lies in
// [lo, hi] over the block, and the exact (bilinear) density is read only for the few points
// whose fate depends on it: rank in [lo, hi), or a session that the bounds do not settle.
template <bool kFlat>
Dot* block_fast(const Context& c, const TilePoint* p, const TilePoint* end, Dot* w, float ox,
                float oy, float u, float lo, float hi, std::uint32_t cell_bits,
                const AnglePatch& ap, float s0, float t0) {
  const float L = c.tile_px, per_session = c.sessions / hi;
  const int smax = int(c.sessions);
  // Slightly widened so that the bracket holds the rounded r * sessions / g for any g in range.
  const float lo_bound = c.sessions / hi * (1 - 1e-5f), hi_bound = c.sessions / lo * (1 + 1e-5f);
  for (; p != end; ++p) {
    const float r = p->rank + u;
    if (r >= hi) break;
    const float x = ox + L * p->a, y = oy + L * p->b;
    int session;
    if constexpr (kFlat) {
      session = ceil_pos(r * per_session);
    } else {
      const int s_lo = ceil_pos(r * lo_bound);
      if (r < lo && s_lo == ceil_pos(r * hi_bound)) {
        session = s_lo;
      } else {
        const float g = c.count.at(x, y) * c.site_scale;
        if (r >= g) continue;
        session = ceil_pos(r * c.sessions / g);
      }
    }
    const std::uint32_t bits = p->bits ^ cell_bits;
    const float s = p->a * kBlocks - s0, t = p->b * kBlocks - t0;
    *w++ = make_dot(c, x, y, bits, ap.at(s, t), std::uint8_t(std::clamp(session, 1, smax)));
  }
  return w;
}

// Every other block: density read per dot, mask tested per dot where the block is not wholly
// inside, jitter, groups and the whorl as asked.
Dot* block_general(const Context& c, const Tile& tile, std::uint32_t k0, std::uint32_t k1, Dot* w,
                   float ox, float oy, float u, float hi, bool flat, bool test_mask, bool whorl,
                   std::uint64_t h, std::uint32_t cell_bits, const AnglePatch& ap, float s0,
                   float t0) {
  const float L = c.tile_px;
  if (test_mask) {
    // The mask lookups are the cost here (a cache miss per dot in a 12+ MB mask): issue them all
    // for the block first so the misses overlap, then test.
    for (std::uint32_t k = k0; k < k1 && tile.pts[k].rank + u < hi; ++k) {
      const float x = ox + L * tile.pts[k].a, y = oy + L * tile.pts[k].b;
      if (x >= 0.0f && y >= 0.0f && x < float(c.width) && y < float(c.height)) {
        __builtin_prefetch(c.mask + std::size_t(y) * c.mask_step + std::size_t(x));
      }
    }
  }
  const bool need_group = c.grouping > 0;
  for (std::uint32_t k = k0; k < k1; ++k) {
    const TilePoint& p = tile.pts[k];
    const float r = p.rank + u;
    if (r >= hi) break;
    float x = ox + L * p.a, y = oy + L * p.b;
    float g = hi;
    if (!flat) {
      float scale = c.site_scale;
      if (!c.zone.empty()) {
        scale = 1.0f / (1.0f + 1.5f * c.grouping * std::clamp(c.zone.at(x, y), 0.f, 1.f));
      }
      g = c.count.at(x, y) * scale;
      if (r >= g) continue;
    }
    std::uint64_t hd = 0;
    if (c.jitter > 0 || need_group) hd = mix64(h + std::uint64_t(k) * 0x9e3779b97f4a7c15ULL);
    if (c.jitter > 0) {
      // Regularity < 1: move the dot up to (1 - regularity) local spacings.
      const float s = c.jitter * L / std::sqrt(g);
      x += s * (float(hd & 0xffff) * (2.0f / 65536.0f) - 1.0f);
      y += s * (float((hd >> 16) & 0xffff) * (2.0f / 65536.0f) - 1.0f);
    }
    if (test_mask && !inside_mask(c, x, y)) continue;
    const float sf = std::clamp(std::ceil(r * c.sessions / g), 1.0f, c.sessions);
    const auto session = std::uint8_t(sf);
    float angle = ap.at(p.a * kBlocks - s0, p.b * kBlocks - t0);
    if (whorl) angle = whorl_angle(c, x, y, angle);
    *w++ = make_dot(c, x, y, p.bits ^ cell_bits, angle, session);
    if (need_group) {
      const float pg =
          c.zone.empty() ? c.grouping : c.grouping * std::clamp(c.zone.at(x, y), 0.f, 1.f);
      if (float((hd >> 40) & 0xffffff) * (1.0f / 16777216.0f) < pg) {
        w = emit_group(c, w, x, y, angle, hd, session);
      }
    }
  }
  return w;
}

void generate_rows(const Context& c, int row_begin, int row_end, std::vector<Dot>& out) {
  const float L = c.tile_px;
  constexpr float kInvBlocks = 1.0f / kBlocks;
  constexpr int kCorners = kBlocks + 1;
  // A block's dots go to a scratch buffer first (plain stores, no capacity checks), then to `out`
  // in one copy; a site makes at most 3 dots.
  std::vector<Dot> scratch(std::size_t(c.tiles->max_block_points) * 3 + 3);
  std::array<float, kCorners * kCorners> corner_angle{};
  const bool jitter_or_groups = c.jitter > 0 || c.grouping > 0 || !c.zone.empty();
  for (int cj = row_begin; cj < row_end; ++cj) {
    const int j = c.cell_y0 + cj;
    for (int ci = 0; ci < c.cells_x; ++ci) {
      const int i = c.cell_x0 + ci;
      const std::uint64_t h =
          mix64(c.seed ^ mix64((std::uint64_t(std::uint32_t(i)) << 32) | std::uint32_t(j)));
      const Tile& t = c.tiles->tiles[h % kVariants];
      const float u = float((h >> 16) & 0xffffff) * (1.0f / 16777216.0f);
      const auto cell_bits = std::uint32_t(mix64(h ^ 0xb175) >> 32);
      // Tiles are not rotated or mirrored: the shared band only matches itself as laid out.
      const float ox = c.origin_x + float(i) * L, oy = c.origin_y + float(j) * L;
      if (!c.angle.empty()) {
        for (int cy = 0; cy < kCorners; ++cy) {
          for (int cx = 0; cx < kCorners; ++cx) {
            corner_angle[std::size_t(cy * kCorners + cx)] =
                c.angle.angle_at(ox + L * float(cx) * kInvBlocks, oy + L * float(cy) * kInvBlocks);
          }
        }
      }
      for (int blk = 0; blk < kBlocks * kBlocks; ++blk) {
        const std::uint32_t k0 = t.block_start[blk], k1 = t.block_start[blk + 1];
        if (k0 == k1) continue;
        const int bx = blk % kBlocks, by = blk / kBlocks;
        const float x0 = ox + L * float(bx) * kInvBlocks, y0 = oy + L * float(by) * kInvBlocks;
        const float x1 = x0 + L * kInvBlocks, y1 = y0 + L * kInvBlocks;
        if (x1 < 0 || y1 < 0 || x0 >= float(c.width) || y0 >= float(c.height)) continue;
        float lo, hi;
        c.count.range(x0, y0, x1, y1, lo, hi);
        lo *= c.site_scale;
        hi *= c.site_scale;
        if (hi <= u) continue;
        const MaskState ms = mask_state(c, x0, y0, x1, y1);
        if (ms == MaskState::kEmpty) continue;
        AnglePatch ap;
        if (!c.angle.empty()) {
          const std::size_t k = std::size_t(by * kCorners + bx);
          const float corners[4] = {corner_angle[k], corner_angle[k + 1],
                                    corner_angle[k + kCorners], corner_angle[k + kCorners + 1]};
          ap = angle_patch(corners);
        }
        // Does the block's box reach into the whorl's disc?
        const float ndx = c.whorl_cx - std::clamp(c.whorl_cx, x0, x1);
        const float ndy = c.whorl_cy - std::clamp(c.whorl_cy, y0, y1);
        const bool whorl = c.whorl_r > 0 && ndx * ndx + ndy * ndy < c.whorl_r * c.whorl_r;
        const bool flat = hi - lo <= 1e-6f * hi && c.zone.empty();
        const float s0 = float(bx), t0 = float(by);
        Dot* w = scratch.data();
        if (ms == MaskState::kFull && !jitter_or_groups && !whorl) {
          const TilePoint *p0 = t.pts.data() + k0, *p1 = t.pts.data() + k1;
          w = flat ? block_fast<true>(c, p0, p1, w, ox, oy, u, lo, hi, cell_bits, ap, s0, t0)
                   : block_fast<false>(c, p0, p1, w, ox, oy, u, lo, hi, cell_bits, ap, s0, t0);
        } else {
          w = block_general(c, t, k0, k1, w, ox, oy, u, hi, flat, ms == MaskState::kMixed, whorl, h,
                            cell_bits, ap, s0, t0);
        }
        out.insert(out.end(), scratch.data(), w);
      }
    }
  }
}

void validate(const TreatmentDesign& d, const GenerateOptions& o) {
  const auto bad = ErrorCode::kInvalidArgument;
  require(!d.mask.empty() && d.mask.type() == CV_8UC1, bad,
          "generate: design.mask must be a non-empty CV_8UC1 image; build the design with "
          "smp::design() or fill the mask");
  require(!d.density.empty() && d.density.type() == CV_32FC1, bad,
          "generate: design.density must be a non-empty CV_32FC1 grid");
  require(d.growth_angle.empty() ||
              (d.growth_angle.type() == CV_32FC1 && d.growth_angle.size() == d.density.size()),
          bad,
          "generate: design.growth_angle must be empty or CV_32FC1 of the density grid's size");
  require(d.cell_px > 0, bad, "generate: design.cell_px must be > 0");
  require(d.calibration.px_per_mm > 0 && std::isfinite(d.calibration.px_per_mm), bad,
          "generate: design.calibration.px_per_mm must be > 0; calibrate the photo first");
  require(d.sessions >= 1 && d.sessions <= 255, bad, "generate: design.sessions must be 1..4");
  require(o.dot_diameter_mm > 0, bad, "generate: options.dot_diameter_mm must be > 0");
  require(o.size_jitter >= 0 && o.shade_jitter >= 0, bad,
          "generate: size_jitter and shade_jitter must be >= 0");
  require(o.regularity >= 0 && o.regularity <= 1, bad, "generate: regularity must be in 0..1");
  require(o.grouping >= 0 && o.grouping <= 1, bad, "generate: grouping must be in 0..1");
  require(o.grouping_zone.empty() ||
              (o.grouping_zone.type() == CV_32FC1 && o.grouping_zone.size() == d.density.size()),
          bad, "generate: grouping_zone must be empty or CV_32FC1 of the density grid's size");
  require(o.threads >= 1, bad, "generate: threads must be >= 1");
  const cv::Size summary((d.mask.cols + kMaskSummaryPx - 1) / kMaskSummaryPx,
                         (d.mask.rows + kMaskSummaryPx - 1) / kMaskSummaryPx);
  require(d.mask_summary.empty() ||
              (d.mask_summary.type() == CV_8UC1 && d.mask_summary.size() == summary),
          bad,
          "generate: design.mask_summary must be empty or summarize_mask(design.mask); "
          "recompute it after changing the mask");
}

}  // namespace

cv::Mat summarize_mask(const cv::Mat& mask) {
  require(!mask.empty() && mask.type() == CV_8UC1, ErrorCode::kInvalidArgument,
          "summarize_mask: the mask must be a non-empty CV_8UC1 image");
  constexpr int S = kMaskSummaryPx;
  cv::Mat out((mask.rows + S - 1) / S, (mask.cols + S - 1) / S, CV_8UC1);
  // Column-wise min and max over a band of S rows (element-wise, vectorised), then per block.
  std::vector<std::uint8_t> lo(std::size_t(mask.cols)), hi(std::size_t(mask.cols));
  for (int by = 0; by < out.rows; ++by) {
    const int y0 = by * S, y1 = std::min(mask.rows, y0 + S);
    const std::uint8_t* first = mask.ptr<std::uint8_t>(y0);
    std::copy(first, first + mask.cols, lo.begin());
    std::copy(first, first + mask.cols, hi.begin());
    for (int y = y0 + 1; y < y1; ++y) {
      const std::uint8_t* row = mask.ptr<std::uint8_t>(y);
      for (int x = 0; x < mask.cols; ++x) {
        lo[std::size_t(x)] = std::min(lo[std::size_t(x)], row[x]);
        hi[std::size_t(x)] = std::max(hi[std::size_t(x)], row[x]);
      }
    }
    auto* o = out.ptr<std::uint8_t>(by);
    for (int bx = 0; bx < out.cols; ++bx) {
      const auto x0 = std::size_t(bx * S), x1 = std::size_t(std::min(mask.cols, (bx + 1) * S));
      const std::uint8_t mn =
          *std::min_element(lo.begin() + std::ptrdiff_t(x0), lo.begin() + std::ptrdiff_t(x1));
      const std::uint8_t mx =
          *std::max_element(hi.begin() + std::ptrdiff_t(x0), hi.begin() + std::ptrdiff_t(x1));
      o[bx] = mx == 0 ? 0 : (mn != 0 ? 255 : 128);
    }
  }
  return out;
}

DotPattern generate(const TreatmentDesign& design, const GenerateOptions& options) {
  validate(design, options);
  DotPattern result;
  result.image_size = design.mask.size();
  result.px_per_mm = design.calibration.px_per_mm;

  const TileSet& tiles = tile_set();
  const double px2_per_cm2 = 100.0 * design.calibration.px_per_mm * design.calibration.px_per_mm;
  double peak = 0;  // impressions per cm^2
  cv::minMaxLoc(design.density, nullptr, &peak);
  if (!(peak > 0)) return result;

  Context c;
  c.tiles = &tiles;
  // The tile is sized so that the peak density uses all of its (fewest) points.
  c.tile_px = float(std::sqrt(double(tiles.min_points) * px2_per_cm2 / peak));
  const double sites_per_tile = double(c.tile_px) * double(c.tile_px) / px2_per_cm2;
  cv::Mat count = design.density * sites_per_tile;  // owns its pixels; the grid is coarse
  if (!count.isContinuous()) count = count.clone();
  cv::max(count, 0.0, count);
  c.count = Grid(count, design.cell_px);
  if (!design.growth_angle.empty()) c.angle = Grid(design.growth_angle, design.cell_px);
  if (!options.grouping_zone.empty() && options.grouping > 0) {
    c.zone = Grid(options.grouping_zone, design.cell_px);
  }
  c.mask = design.mask.ptr<std::uint8_t>();
  c.mask_step = design.mask.step[0];
  // Which blocks of the mask are wholly inside / outside: from the design when it carries one,
  // else one pass over the mask here (~1 ms at 12 MP).
  cv::Mat summary = design.mask_summary;
  if (summary.empty()) summary = summarize_mask(design.mask);
  c.summary = summary.ptr<std::uint8_t>();
  c.summary_step = summary.step[0];
  c.summary_cols = summary.cols;
  c.summary_rows = summary.rows;
  c.width = design.mask.cols;
  c.height = design.mask.rows;
  c.seed = mix64(options.seed ^ 0xa5a5a5a5a5a5a5a5ULL);
  // A seeded offset of the grid, so that seeds differ in where seams fall too.
  c.origin_x = -float(unit(mix64(c.seed + 1))) * c.tile_px;
  c.origin_y = -float(unit(mix64(c.seed + 2))) * c.tile_px;
  c.cell_x0 = 0;
  c.cell_y0 = 0;
  c.cells_x = int(std::ceil((float(c.width) - c.origin_x) / c.tile_px));
  c.cells_y = int(std::ceil((float(c.height) - c.origin_y) / c.tile_px));
  c.sessions = float(design.sessions);
  c.grouping = float(options.grouping);
  c.site_scale = c.zone.empty() ? float(1.0 / (1.0 + 1.5 * options.grouping)) : 1.0f;
  c.group_px = float(options.group_spacing_mm * design.calibration.px_per_mm);
  const std::array<float, 256>& normal = normal_table();
  for (std::size_t q = 0; q < 256; ++q) {
    c.diameter[q] = float(options.dot_diameter_mm) *
                    std::clamp(1.0f + float(options.size_jitter) * normal[q], 0.5f, 1.6f);
    // A different entry for the shade: its table index comes from other bits, and the reversed
    // lookup keeps size and shade from sharing a quantile when both indices coincide.
    c.shade[q] = std::clamp(1.0f + float(options.shade_jitter) * normal[255 - q], 0.3f, 1.7f);
  }
  c.jitter = float(1.0 - options.regularity);
  if (options.whorl_radius_mm > 0) {
    c.whorl_r = float(options.whorl_radius_mm * design.calibration.px_per_mm);
    cv::Point2f centre = options.whorl_center_px;
    if (centre.x < 0 || centre.y < 0) {  // density-weighted centroid of the design
      const cv::Moments m = cv::moments(design.density);
      if (m.m00 > 0) {
        centre = {float((m.m10 / m.m00 + 0.5) * design.cell_px),
                  float((m.m01 / m.m00 + 0.5) * design.cell_px)};
      }
    }
    c.whorl_cx = centre.x;
    c.whorl_cy = centre.y;
    // With y down, increasing atan2 turns clockwise on screen.
    c.whorl_turn = float((options.whorl_clockwise ? 1 : -1) * std::numbers::pi / 2 - 0.35);
  }

  // Expected number of dots (integral of density over the image) for one reservation.
  const double expected = cv::sum(design.density)[0] * design.cell_px * design.cell_px /
                          px2_per_cm2 * (1.0 + 0.5 * options.grouping);
  const auto reserve = std::size_t(expected * 1.03 + 4.0 * std::sqrt(expected) + 64);

  const int threads = std::min(options.threads, c.cells_y);
  if (threads <= 1) {
    result.dots.reserve(reserve);
    generate_rows(c, 0, c.cells_y, result.dots);
  } else {
    // Rows of cells are split into contiguous bands, concatenated in order: same dots, same order.
    std::vector<std::vector<Dot>> parts(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      const int r0 = c.cells_y * t / threads, r1 = c.cells_y * (t + 1) / threads;
      pool.emplace_back([&, t, r0, r1] {
        parts[std::size_t(t)].reserve(reserve / std::size_t(threads) + 64);
        generate_rows(c, r0, r1, parts[std::size_t(t)]);
      });
    }
    for (auto& th : pool) th.join();
    std::size_t total = 0;
    for (const auto& p : parts) total += p.size();
    result.dots.reserve(total);
    for (const auto& p : parts) result.dots.insert(result.dots.end(), p.begin(), p.end());
  }
  // The hairline's finer, lighter front edge (design.size_scale / shade_scale, empty when there
  // is no hairline): one bilinear lookup per dot, only when the design carries the grids.
  if (!design.size_scale.empty() || !design.shade_scale.empty()) {
    for (Dot& d : result.dots) {
      d.diameter_mm *= size_scale_at(design, d.x, d.y);
      d.shade *= shade_scale_at(design, d.x, d.y);
    }
  }
  return result;
}

}  // namespace smp
