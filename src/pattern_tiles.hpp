// Private to src/pattern.cpp (and bench/pattern_bench.cpp, which times the build): the tile set
// of the dot layout. Header-only so that the benchmark can time build_tiles() without a CMake
// change.
//
// A tile is a unit square holding ~2000 points with a *progressive* order: every prefix of n
// points is itself a well-spread blue-noise set (greedy farthest-point order over a Poisson-disk
// pool). kVariants tiles share the points of one base tile that lie near its border (the "band")
// and differ inside, so any two neighbouring cells meet exactly as the toroidal base tile meets
// itself (see build_tiles()).
//
// Cost: the build runs once per process, on the first generate() call, so it is on the path of
// every `smp preview` CLI call. A plain greedy farthest-point order is O(N^2) per variant
// (~0.6 s for the set); here every step only updates the pool points closer to the taken point
// than the current largest score (a bucket grid finds them) and a lazy max-heap replaces the
// linear arg-max, which is O(N log N) per variant. The Poisson-disk pools (Bridson, 12 candidates
// per active point, a seam-padded grid) and the orders cost ~55 ms of CPU for the 16 variants,
// spread over up to 4 threads (~30 ms wall on 2 idle cores; was ~0.6 s).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

namespace smp::detail {

// Tiles sharing one border band, each with its own interior. 32 lowers the tile lattice's
// spectral peaks (ring max/mean 24 -> 18 in PatternTest.SpectrumHasNoSpikes) at twice the build.
constexpr int kVariants = 16;
constexpr int kBlocks = 8;              // blocks per tile side for early termination
constexpr double kPoolRadius = 0.0182;  // Poisson-disk radius of the pool: ~2000 points per tile
constexpr int kAttempts = 12;           // Bridson candidates per active pool point
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

struct P2 {
  double x = 0, y = 0;
};

// One point of a tile as the sampler reads it: 16 bytes, 4 per cache line.
struct TilePoint {
  float a, b;          // position in the unit tile
  float rank;          // progressive rank (0 = first point)
  std::uint32_t bits;  // per-point random bits (size and shade jitter, see pattern.cpp)
};

struct Tile {
  // Points sorted by block (row-major over kBlocks x kBlocks), then by rank inside a block.
  std::vector<TilePoint> pts;
  std::array<std::uint32_t, kBlocks * kBlocks + 1> block_start{};
};

struct TileSet {
  std::array<Tile, kVariants> tiles;
  int min_points = 0;        // fewest points in any variant: the rank that the peak density may use
  int max_block_points = 0;  // most points in any block of any variant
};

inline double torus_d2(const P2& p, const P2& q) {
  double dx = std::abs(p.x - q.x), dy = std::abs(p.y - q.y);
  dx = std::min(dx, 1 - dx);
  dy = std::min(dy, 1 - dy);
  return dx * dx + dy * dy;
}
inline double border_distance(const P2& p) {
  return std::min({p.x, p.y, 1 - p.x, 1 - p.y});
}

// Bridson's algorithm on the unit torus, grown from `fixed` (kept, first in the result) or from
// one random point: the pool that a progressive order picks from. Grid cells are <= r / sqrt(2)
// wide (at most one point each), so a candidate checks the 5 x 5 cells around it; candidates are
// drawn in the annulus [r, 2r) by rejection from its bounding square (no sin/cos).
inline std::vector<P2> poisson_torus(double r, const std::vector<P2>& fixed, std::uint64_t seed) {
  const int n = int(std::ceil(std::sqrt(2.0) / r));
  const double inv_cell = n;
  // Cells -2..n+1 on each axis; cells within 2 of an edge also hold shifted copies of the points
  // across the torus' seam, so a candidate checks a plain 5 x 5 window (no wrapping, no torus
  // distance). An empty cell holds a far-away point.
  const int m = n + 4;
  std::vector<float> cx(std::size_t(m) * m, -1e3f), cy(std::size_t(m) * m, -1e3f);
  std::vector<P2> pts;
  std::vector<int> active;
  std::uint64_t state = seed;
  auto rnd = [&] { return unit(mix64(state++)); };
  auto cell_of = [&](double v) { return std::min(n - 1, int(v * inv_cell)); };
  auto add = [&](P2 p) {
    const int i = cell_of(p.x), j = cell_of(p.y);
    for (int sy = -1; sy <= 1; ++sy) {
      const int jj = j + sy * n;
      if (jj < -2 || jj >= n + 2) continue;
      for (int sx = -1; sx <= 1; ++sx) {
        const int ii = i + sx * n;
        if (ii < -2 || ii >= n + 2) continue;
        const std::size_t k = std::size_t(jj + 2) * m + std::size_t(ii + 2);
        cx[k] = float(p.x + sx);
        cy[k] = float(p.y + sy);
      }
    }
    active.push_back(int(pts.size()));
    pts.push_back(p);
  };
  const float r2 = float(r * r);
  auto free_at = [&](P2 p) {
    const int i = cell_of(p.x), j = cell_of(p.y);
    const float px = float(p.x), py = float(p.y);
    for (int jj = j; jj < j + 5; ++jj) {
      const std::size_t row = std::size_t(jj) * m + std::size_t(i);
      float nearest = 1e9f;
      for (int d = 0; d < 5; ++d) {  // branch-free over the row: vectorisable
        const float dx = cx[row + d] - px, dy = cy[row + d] - py;
        nearest = std::min(nearest, dx * dx + dy * dy);
      }
      if (nearest < r2) return false;
    }
    return true;
  };
  for (const auto& p : fixed) add(p);
  if (pts.empty()) add({rnd(), rnd()});
  while (!active.empty()) {
    const std::size_t k = std::size_t(rnd() * double(active.size()));
    const P2 c = pts[active[k]];
    bool placed = false;
    for (int attempt = 0; attempt < kAttempts && !placed; ++attempt) {
      double dx, dy, d2;
      do {
        dx = (rnd() * 4 - 2) * r;
        dy = (rnd() * 4 - 2) * r;
        d2 = dx * dx + dy * dy;
      } while (d2 < r * r || d2 >= 4 * r * r);
      P2 p{c.x + dx, c.y + dy};
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
  std::vector<P2> pts;         // in rank order
  std::vector<double> radius;  // prefix radius of each point (its score when taken)
};

// Pool points bucketed on a torus grid, for "all points within R of p" queries.
class Buckets {
 public:
  Buckets(const std::vector<P2>& pts, double cell) : pts_(pts) {
    n_ = std::max(1, int(1.0 / cell));
    start_.assign(std::size_t(n_) * n_ + 1, 0);
    std::vector<int> cell_of(pts.size());
    for (std::size_t i = 0; i < pts.size(); ++i) {
      cell_of[i] = index(pts[i]);
      ++start_[std::size_t(cell_of[i]) + 1];
    }
    for (std::size_t c = 1; c < start_.size(); ++c) start_[c] += start_[c - 1];
    items_.resize(pts.size());
    std::vector<int> fill(start_.begin(), start_.end() - 1);
    for (std::size_t i = 0; i < pts.size(); ++i) items_[std::size_t(fill[cell_of[i]]++)] = int(i);
  }
  // Calls f(j, d2) for every point j closer than r to p (torus distance), each once.
  template <class F>
  void near(const P2& p, double r, F&& f) const {
    const int reach = int(std::ceil(r * n_));
    const int gx = std::min(n_ - 1, int(p.x * n_)), gy = std::min(n_ - 1, int(p.y * n_));
    const int span = std::min(n_, 2 * reach + 1);
    const int x0 = span == n_ ? 0 : gx - reach, y0 = span == n_ ? 0 : gy - reach;
    const double r2 = r * r;
    for (int y = y0; y < y0 + span; ++y) {
      const int row = ((y % n_) + n_) % n_ * n_;
      for (int x = x0; x < x0 + span; ++x) {
        const int c = row + ((x % n_) + n_) % n_;
        for (int k = start_[std::size_t(c)]; k < start_[std::size_t(c) + 1]; ++k) {
          const int j = items_[std::size_t(k)];
          const double d2 = torus_d2(pts_[std::size_t(j)], p);
          if (d2 < r2) f(j, d2);
        }
      }
    }
  }

 private:
  int index(const P2& p) const {
    return std::min(n_ - 1, int(p.y * n_)) * n_ + std::min(n_ - 1, int(p.x * n_));
  }
  const std::vector<P2>& pts_;
  int n_ = 1;
  std::vector<int> start_, items_;
};

// Greedy farthest-point order on the torus: every prefix's minimum spacing is the radius of its
// last point. `band` (already in order) is merged in at its own radii, and a pool point q is
// capped so that it never lands closer than delta_b to a band point b released later, nor closer
// than kSeam * delta_q / 2 to the tile border (`border_cap`).
//
// Scores only fall, and taking p can only lower the score of a point closer to p than the
// largest score left (the heap's top): those are found in the bucket grid and re-pushed; stale
// heap entries are skipped when they surface.
inline Ordered farthest_point_order(const std::vector<P2>& pool, const Ordered& band,
                                    std::uint64_t seed, bool border_cap) {
  const std::size_t n = pool.size();
  constexpr double kUnset = 1e9;
  std::vector<double> score(n, kUnset);
  const Buckets buckets(pool, kPoolRadius);
  for (std::size_t i = 0; i < n; ++i) {
    if (border_cap) {
      const double e = border_distance(pool[i]) * 2 / kSeam;
      score[i] = e * e;
    }
  }
  for (std::size_t b = 0; b < band.pts.size(); ++b) {
    buckets.near(band.pts[b], band.radius[b], [&](int j, double d2) {
      score[std::size_t(j)] = std::min(score[std::size_t(j)], d2);
    });
  }
  using Entry = std::pair<double, int>;
  std::priority_queue<Entry> heap;
  for (std::size_t i = 0; i < n; ++i) heap.emplace(score[i], int(i));
  std::vector<char> taken(n, 0);
  auto top = [&]() -> int {  // index of the untaken point of largest score, or -1
    while (!heap.empty()) {
      const auto [s, j] = heap.top();
      if (!taken[std::size_t(j)] && s == score[std::size_t(j)]) return j;
      heap.pop();
    }
    return -1;
  };
  Ordered out;
  out.pts.reserve(n + band.pts.size());
  out.radius.reserve(n + band.pts.size());
  auto take = [&](const P2& p, double radius) {
    out.pts.push_back(p);
    out.radius.push_back(radius);
    const int t = top();
    if (t < 0) return;
    // Points farther than sqrt(top score) keep their score; cap at the torus' diameter.
    const double reach = std::min(std::sqrt(score[std::size_t(t)]), 0.75);
    buckets.near(p, reach, [&](int j, double d2) {
      if (!taken[std::size_t(j)] && d2 < score[std::size_t(j)]) {
        score[std::size_t(j)] = d2;
        heap.emplace(d2, j);
      }
    });
  };
  // Without a band, the first point is random rather than the most central one, so sparse
  // regions (a handful of dots per tile) show no dot at every tile centre.
  if (band.pts.empty() && n > 0) {
    const std::size_t first = std::size_t(unit(mix64(seed ^ 0xf1f1)) * double(n));
    taken[first] = 1;
    take(pool[first], 1.0);
  }
  std::size_t next_band = 0;
  for (;;) {
    const int best = top();
    const double best_r = best >= 0 ? std::sqrt(score[std::size_t(best)]) : -1;
    if (next_band < band.pts.size() && band.radius[next_band] >= best_r) {
      take(band.pts[next_band], band.radius[next_band]);
      ++next_band;
    } else if (best >= 0) {
      taken[std::size_t(best)] = 1;
      take(pool[std::size_t(best)], best_r);
    } else {
      break;
    }
  }
  return out;
}

inline Tile make_tile(const Ordered& o, std::uint64_t seed) {
  Tile t;
  std::array<std::vector<int>, kBlocks * kBlocks> blocks;
  for (std::size_t r = 0; r < o.pts.size(); ++r) {
    const int bx = std::min(kBlocks - 1, int(o.pts[r].x * kBlocks));
    const int by = std::min(kBlocks - 1, int(o.pts[r].y * kBlocks));
    blocks[std::size_t(by) * kBlocks + bx].push_back(int(r));
  }
  t.pts.reserve(o.pts.size());
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    t.block_start[k] = std::uint32_t(t.pts.size());
    for (int r : blocks[k]) {
      t.pts.push_back({float(o.pts[std::size_t(r)].x), float(o.pts[std::size_t(r)].y), float(r),
                       std::uint32_t(mix64(seed + std::uint64_t(r)) >> 32)});
    }
  }
  t.block_start.back() = std::uint32_t(t.pts.size());
  return t;
}

// The tile set. A base tile T0 is a progressive toroidal Poisson-disk set. Its "band" is the
// points closer to the border than kSeam * delta / 2 (delta = the point's prefix radius): every
// variant keeps the band exactly, at the same radii, and re-draws the interior (new pool, new
// order) with the interior kept kSeam * delta / 2 off the border. Any two tiles side by side
// then meet like T0 meets itself on the torus (band against band, interior against the other's
// band), and interiors of different tiles are >= kSeam * delta apart: the spacing holds across
// seams, with no gap or pile-up along them (no lines in the spectrum).
inline TileSet build_tiles() {
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
  // Variants are independent: built on up to 4 threads (the set is the same whatever the count),
  // which halves the wall time of the first generate() on a 2-core machine.
  auto build_variant = [&](int v) {
    std::vector<P2> pool = poisson_torus(kPoolRadius, band.pts, mix64(kTileSeed + 1 + v));
    pool.erase(pool.begin(), pool.begin() + std::ptrdiff_t(band.pts.size()));
    s.tiles[std::size_t(v)] =
        make_tile(farthest_point_order(pool, band, mix64(kTileSeed + 100 + v), true),
                  mix64(kTileSeed + 1000 + v));
  };
  const int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, 4);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int v = t; v < kVariants; v += threads) build_variant(v);
    });
  }
  for (int v = 0; v < kVariants; v += threads) build_variant(v);
  for (auto& th : pool) th.join();
  s.min_points = 1 << 30;
  for (const Tile& t : s.tiles) {
    s.min_points = std::min(s.min_points, int(t.pts.size()));
    for (int b = 0; b < kBlocks * kBlocks; ++b) {
      s.max_block_points =
          std::max(s.max_block_points, int(t.block_start[b + 1] - t.block_start[b]));
    }
  }
  return s;
}

}  // namespace smp::detail
