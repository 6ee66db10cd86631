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
// * Per-dot jitter (size, shade, group, regularity) comes from a hash of (seed, cell, point), never
//   from a sequential stream: the result does not depend on the thread count or the visit order.
#include "smp/pattern.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <thread>

#include <opencv2/imgproc.hpp>

#include "check.hpp"
#include "smp/error.hpp"

namespace smp {
namespace {

constexpr int kVariants = 16;           // tiles sharing one border band, each with its own interior
constexpr int kBlocks = 8;              // blocks per tile side for early termination
constexpr double kPoolRadius = 0.0182;  // Poisson-disk radius of the pool: ~2048 points per tile
constexpr double kSeam = 1.0;           // interior-to-interior spacing across seams / prefix radius
constexpr std::uint64_t kTileSeed = 0x5eed5eed12345678ULL;  // tiles are the same in every process

inline std::uint64_t mix64(std::uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline double unit(std::uint64_t h) {
  return double(h >> 11) * (1.0 / 9007199254740992.0);
}
// N(0,1) approximation from four 16-bit uniforms (Irwin-Hall, exact variance, tails cut at 3.5
// sigma); good enough for jitter that is clamped anyway and ~10x cheaper than Box-Muller.
inline float normal(std::uint64_t h) {
  const float s =
      float(h & 0xffff) + float((h >> 16) & 0xffff) + float((h >> 32) & 0xffff) + float(h >> 48);
  return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

struct Tile {
  // Points sorted by block (row-major over kBlocks x kBlocks), then by rank inside a block.
  std::vector<float> a, b, rank;
  std::array<std::uint32_t, kBlocks * kBlocks + 1> block_start{};
};

struct TileSet {
  std::array<Tile, kVariants> tiles;
  int min_points = 0;  // fewest points in any variant: the rank that the peak density may use
};

inline double torus_d2(const cv::Point2d& p, const cv::Point2d& q) {
  double dx = std::abs(p.x - q.x), dy = std::abs(p.y - q.y);
  dx = std::min(dx, 1 - dx);
  dy = std::min(dy, 1 - dy);
  return dx * dx + dy * dy;
}
inline double border_distance(const cv::Point2d& p) {
  return std::min({p.x, p.y, 1 - p.x, 1 - p.y});
}

// Bridson's algorithm on the unit torus, grown from `fixed` (kept, first in the result) or from
// one random point: the pool that a progressive order picks from.
std::vector<cv::Point2d> poisson_torus(double r, const std::vector<cv::Point2d>& fixed,
                                       std::uint64_t seed) {
  const int n = int(1.0 / (r / std::sqrt(2.0)));  // cells per side, each <= r / sqrt(2)... wide
  const double cell = 1.0 / n;                    // >= r / sqrt(2): check 3 cells around
  std::vector<std::vector<int>> grid(std::size_t(n) * n);
  std::vector<cv::Point2d> pts;
  std::vector<int> active;
  std::uint64_t state = seed;
  auto rnd = [&] { return unit(mix64(state++)); };
  auto cell_of = [&](double v) { return std::min(n - 1, int(v / cell)); };
  auto add = [&](cv::Point2d p) {
    grid[std::size_t(cell_of(p.y)) * n + cell_of(p.x)].push_back(int(pts.size()));
    active.push_back(int(pts.size()));
    pts.push_back(p);
  };
  auto free_at = [&](cv::Point2d p) {
    const int gx = cell_of(p.x), gy = cell_of(p.y);
    for (int y = gy - 3; y <= gy + 3; ++y) {
      for (int x = gx - 3; x <= gx + 3; ++x) {
        for (int q : grid[std::size_t((y + n) % n) * n + std::size_t((x + n) % n)]) {
          if (torus_d2(pts[q], p) < r * r) return false;
        }
      }
    }
    return true;
  };
  for (const auto& p : fixed) add(p);
  if (pts.empty()) add({rnd(), rnd()});
  while (!active.empty()) {
    const std::size_t k = std::size_t(rnd() * double(active.size()));
    const cv::Point2d c = pts[active[k]];
    bool placed = false;
    for (int attempt = 0; attempt < 30 && !placed; ++attempt) {
      const double ang = 2 * std::numbers::pi * rnd();
      const double rad = r * (1.0 + rnd());
      cv::Point2d p{c.x + rad * std::cos(ang), c.y + rad * std::sin(ang)};
      p.x -= std::floor(p.x);
      p.y -= std::floor(p.y);
      if (free_at(p)) {
        add(p);
        placed = true;
      }
    }
    if (!placed) {
      active[k] = active.back();
      active.pop_back();
    }
  }
  return pts;
}

struct Ordered {
  std::vector<cv::Point2d> pts;  // in rank order
  std::vector<double> radius;    // prefix radius delta of each point (its score when taken)
};

// Greedy farthest-point order on the torus: every prefix's minimum spacing is the radius of its
// last point. `band`/`band_radius` (already in order) are merged in at their own radii, and a
// pool point q is capped so that it never lands closer than delta_b to a band point b released
// later, nor closer than kSeam * delta_q / 2 to the tile border.
Ordered farthest_point_order(const std::vector<cv::Point2d>& pool, const Ordered& band,
                             std::uint64_t seed, bool border_cap) {
  const std::size_t n = pool.size();
  std::vector<double> score(n, 1e9);
  for (std::size_t i = 0; i < n; ++i) {
    if (border_cap) {
      const double e = border_distance(pool[i]) * 2 / kSeam;
      score[i] = e * e;
    }
    for (std::size_t b = 0; b < band.pts.size(); ++b) {
      const double d2 = torus_d2(pool[i], band.pts[b]);
      if (d2 < band.radius[b] * band.radius[b]) score[i] = std::min(score[i], d2);
    }
  }
  Ordered out;
  std::size_t next_band = 0;
  auto take = [&](const cv::Point2d& p, double radius) {
    out.pts.push_back(p);
    out.radius.push_back(radius);
    for (std::size_t j = 0; j < n; ++j) score[j] = std::min(score[j], torus_d2(pool[j], p));
  };
  // Without a band, the first point is random rather than the most central one, so sparse
  // regions (a handful of dots per tile) show no dot at every tile centre.
  if (band.pts.empty() && n > 0) {
    const std::size_t first = std::size_t(unit(mix64(seed ^ 0xf1f1)) * double(n));
    take(pool[first], 1.0);
    score[first] = -1;
  }
  for (;;) {
    const auto best = std::size_t(std::max_element(score.begin(), score.end()) - score.begin());
    const double best_r = n > 0 && score[best] >= 0 ? std::sqrt(score[best]) : -1;
    if (next_band < band.pts.size() && band.radius[next_band] >= best_r) {
      take(band.pts[next_band], band.radius[next_band]);
      ++next_band;
    } else if (best_r >= 0) {
      take(pool[best], best_r);
      score[best] = -1;
    } else {
      break;
    }
  }
  return out;
}

Tile make_tile(const Ordered& o) {
  Tile t;
  std::array<std::vector<int>, kBlocks * kBlocks> blocks;
  for (std::size_t r = 0; r < o.pts.size(); ++r) {
    const int bx = std::min(kBlocks - 1, int(o.pts[r].x * kBlocks));
    const int by = std::min(kBlocks - 1, int(o.pts[r].y * kBlocks));
    blocks[std::size_t(by) * kBlocks + bx].push_back(int(r));
  }
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    t.block_start[k] = std::uint32_t(t.a.size());
    for (int r : blocks[k]) {
      t.a.push_back(float(o.pts[r].x));
      t.b.push_back(float(o.pts[r].y));
      t.rank.push_back(float(r));
    }
  }
  t.block_start.back() = std::uint32_t(t.a.size());
  return t;
}

// The tile set. A base tile T0 is a progressive toroidal Poisson-disk set. Its "band" is the
// points closer to the border than kSeam * delta / 2 (delta = the point's prefix radius): every
// variant keeps the band exactly, at the same radii, and re-draws the interior (new pool, new
// order) with the interior kept kSeam * delta / 2 off the border. Any two tiles side by side
// then meet like T0 meets itself on the torus (band against band, interior against the other's
// band), and interiors of different tiles are >= kSeam * delta apart: the spacing holds across
// seams, with no gap or pile-up along them (no lines in the spectrum).
TileSet build_tiles() {
  TileSet s;
  const Ordered base =
      farthest_point_order(poisson_torus(kPoolRadius, {}, kTileSeed), {}, kTileSeed, false);
  Ordered band;
  for (std::size_t i = 0; i < base.pts.size(); ++i) {
    if (border_distance(base.pts[i]) < kSeam * base.radius[i] / 2) {
      band.pts.push_back(base.pts[i]);
      band.radius.push_back(base.radius[i]);
    }
  }
  s.min_points = 1 << 30;
  for (int v = 0; v < kVariants; ++v) {
    std::vector<cv::Point2d> pool = poisson_torus(kPoolRadius, band.pts, mix64(kTileSeed + 1 + v));
    pool.erase(pool.begin(), pool.begin() + std::ptrdiff_t(band.pts.size()));
    s.tiles[v] = make_tile(farthest_point_order(pool, band, mix64(kTileSeed + 100 + v), true));
    s.min_points = std::min(s.min_points, int(s.tiles[v].a.size()));
  }
  return s;
}

const TileSet& tile_set() {
  // Built once per process (~tens of ms), thread-safe static initialisation.
  static const TileSet set = build_tiles();
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

struct Context {
  const TileSet* tiles = nullptr;
  Grid count;  // expected sites per tile area at each grid node (density * tile area)
  Grid angle;  // growth direction, radians (may be empty)
  Grid zone;   // grouping zone 0..1 (may be empty)
  const std::uint8_t* mask = nullptr;
  std::size_t mask_step = 0;
  int width = 0, height = 0;
  float tile_px = 0;                 // tile side, photo pixels
  float origin_x = 0, origin_y = 0;  // corner of cell (0, 0)
  int cell_x0 = 0, cell_y0 = 0, cells_x = 0, cells_y = 0;
  std::uint64_t seed = 0;
  float sessions = 1;
  float site_scale = 1;  // sites per dot (1 / mean group size) when grouping is global
  // per-dot options
  float diameter_mm = 0, size_jitter = 0, shade_jitter = 0, jitter = 0;
  float grouping = 0, group_px = 0;
  float whorl_r = 0, whorl_cx = 0, whorl_cy = 0, whorl_turn = 0;
};

inline bool inside_mask(const Context& c, float x, float y) {
  if (!(x >= 0.0f && y >= 0.0f && x < float(c.width) && y < float(c.height))) return false;
  return c.mask[std::size_t(y) * c.mask_step + std::size_t(x)] != 0;
}

float dot_angle(const Context& c, float x, float y) {
  float a = c.angle.empty() ? 0.0f : c.angle.angle_at(x, y);
  if (c.whorl_r > 0) {
    const float dx = x - c.whorl_cx, dy = y - c.whorl_cy;
    const float r2 = dx * dx + dy * dy;
    if (r2 < c.whorl_r * c.whorl_r) {
      // Hairs leave a whorl on a spiral: tangential plus a slight outward lean (~20 deg).
      const float w = 1.0f - std::sqrt(r2) / c.whorl_r;
      const float ww = w * w * (3 - 2 * w);  // smoothstep: no kink at the whorl's edge
      const float t = std::atan2(dy, dx) + c.whorl_turn;
      a = std::atan2(ww * std::sin(t) + (1 - ww) * std::sin(a),
                     ww * std::cos(t) + (1 - ww) * std::cos(a));
    }
  }
  return a;
}

inline void emit(const Context& c, std::vector<Dot>& out, float x, float y, std::uint64_t h,
                 std::uint8_t session) {
  Dot d;
  d.x = x;
  d.y = y;
  const std::uint64_t h2 = mix64(h ^ 0x2545f4914f6cdd1dULL);
  d.diameter_mm = c.diameter_mm * std::clamp(1.0f + c.size_jitter * normal(h), 0.5f, 1.6f);
  d.shade = std::clamp(1.0f + c.shade_jitter * normal(h2), 0.3f, 1.7f);
  d.angle_rad = (c.angle.empty() && c.whorl_r <= 0) ? 0.0f : dot_angle(c, x, y);
  d.session = session;
  out.push_back(d);
}

// Extra dots of a follicular-unit group around a site (1 or 2 more, each ~group_px away).
void emit_group(const Context& c, std::vector<Dot>& out, float x, float y, std::uint64_t h,
                std::uint8_t session) {
  const int extra = 1 + int((h >> 20) & 1);
  const float base = float(unit(mix64(h ^ 0x77)) * 2 * std::numbers::pi);
  for (int e = 0; e < extra; ++e) {
    const std::uint64_t he = mix64(h + 0x1000 + std::uint64_t(e));
    const float ang = base + float(e) * (1.8f + 0.6f * float(unit(he)));
    const float dist = c.group_px * (0.85f + 0.3f * float(unit(mix64(he))));
    const float gx = x + dist * std::cos(ang), gy = y + dist * std::sin(ang);
    if (inside_mask(c, gx, gy)) emit(c, out, gx, gy, mix64(he ^ 0x99), session);
  }
}

void generate_rows(const Context& c, int row_begin, int row_end, std::vector<Dot>& out) {
  const float L = c.tile_px;
  constexpr float kInvBlocks = 1.0f / kBlocks;
  const bool need_group = c.grouping > 0;
  for (int cj = row_begin; cj < row_end; ++cj) {
    const int j = c.cell_y0 + cj;
    for (int ci = 0; ci < c.cells_x; ++ci) {
      const int i = c.cell_x0 + ci;
      const std::uint64_t h =
          mix64(c.seed ^ mix64((std::uint64_t(std::uint32_t(i)) << 32) | std::uint32_t(j)));
      const Tile& t = c.tiles->tiles[h % kVariants];
      const float u = float((h >> 16) & 0xffffff) * (1.0f / 16777216.0f);
      // Tiles are not rotated or mirrored: the shared band only matches itself as laid out.
      const float ax = L, bx = 0, ay = 0, by = L;
      const float ox = c.origin_x + float(i) * L, oy = c.origin_y + float(j) * L;
      for (int blk = 0; blk < kBlocks * kBlocks; ++blk) {
        const std::uint32_t k0 = t.block_start[blk], k1 = t.block_start[blk + 1];
        if (k0 == k1) continue;
        const float a0 = float(blk % kBlocks) * kInvBlocks, b0 = float(blk / kBlocks) * kInvBlocks;
        const float xa = ox + ax * a0 + bx * b0, ya = oy + ay * a0 + by * b0;
        const float xb = xa + (ax + bx) * kInvBlocks, yb = ya + (ay + by) * kInvBlocks;
        const float x0 = std::min(xa, xb), x1 = std::max(xa, xb);
        const float y0 = std::min(ya, yb), y1 = std::max(ya, yb);
        if (x1 < 0 || y1 < 0 || x0 >= float(c.width) || y0 >= float(c.height)) continue;
        float lo, hi;
        c.count.range(x0, y0, x1, y1, lo, hi);
        lo *= c.site_scale;
        hi *= c.site_scale;
        if (hi <= u) continue;
        const bool flat = hi - lo <= 1e-6f * hi && c.zone.empty();
        // The mask lookups are the cost (one cache miss per dot in a 12+ MB mask): issue them
        // all for the block first so the misses overlap, then test.
        for (std::uint32_t k = k0; k < k1 && t.rank[k] + u < hi; ++k) {
          const float x = ox + ax * t.a[k] + bx * t.b[k], y = oy + ay * t.a[k] + by * t.b[k];
          if (x >= 0.0f && y >= 0.0f && x < float(c.width) && y < float(c.height)) {
            __builtin_prefetch(c.mask + std::size_t(y) * c.mask_step + std::size_t(x));
          }
        }
        for (std::uint32_t k = k0; k < k1; ++k) {
          const float r = t.rank[k] + u;
          if (r >= hi) break;
          const float pa = t.a[k], pb = t.b[k];
          float x = ox + ax * pa + bx * pb, y = oy + ay * pa + by * pb;
          float g = hi;
          float scale = c.site_scale;
          if (!flat) {
            if (!c.zone.empty()) {
              scale = 1.0f / (1.0f + 1.5f * c.grouping * std::clamp(c.zone.at(x, y), 0.f, 1.f));
            }
            g = c.count.at(x, y) * scale;
            if (r >= g) continue;
          }
          const std::uint64_t hd = mix64(h + std::uint64_t(k) * 0x9e3779b97f4a7c15ULL);
          if (c.jitter > 0) {
            // Regularity < 1: move the dot up to (1 - regularity) local spacings.
            const float s = c.jitter * L / std::sqrt(g);
            x += s * (float(hd & 0xffff) * (2.0f / 65536.0f) - 1.0f);
            y += s * (float((hd >> 16) & 0xffff) * (2.0f / 65536.0f) - 1.0f);
          }
          if (!inside_mask(c, x, y)) continue;
          const float sf = std::ceil(r * c.sessions / g);
          const auto session = std::uint8_t(std::clamp(sf, 1.0f, c.sessions));
          emit(c, out, x, y, hd, session);
          if (need_group) {
            const float p =
                c.zone.empty() ? c.grouping : c.grouping * std::clamp(c.zone.at(x, y), 0.f, 1.f);
            if (float((hd >> 40) & 0xffffff) * (1.0f / 16777216.0f) < p) {
              emit_group(c, out, x, y, hd, session);
            }
          }
        }
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
}

}  // namespace

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
  c.diameter_mm = float(options.dot_diameter_mm);
  c.size_jitter = float(options.size_jitter);
  c.shade_jitter = float(options.shade_jitter);
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
  return result;
}

}  // namespace smp
