// Dot layout throughput (issue 4): one thread, 4000x3000 domain, ~200k dots, uniform and linear
// ramp, against the slow reference (variable-radius Bridson, same algorithm as the tests').
// Counters: M dots/s via items processed, `vs_bridson` = fast rate / reference rate measured in
// the same run, `extra_MB` = bytes the call allocates (the output vector, the coarse count grid,
// the per-block scratch and, for the one-shot variant, the mask summary; the tile set, `tiles_MB`,
// is built once per process and excluded: BM_PatternTileBuild times that build).
// BM_PatternGenerate is the live-preview case: the design carries its mask summary
// (TreatmentDesign::mask_summary), as a design reused across generate() calls should.
// BM_PatternGenerateOneShot leaves it empty, so each call also makes one pass over the 12 MB mask.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <numbers>
#include <random>
#include <vector>

#include "../src/pattern_tiles.hpp"  // private: only to time the tile-set build
#include "smp/pattern.hpp"

namespace {

constexpr int kW = 4000, kH = 3000;
constexpr double kPxPerMm = 12.0;
// 200k dots over 4000x3000 px at 12 px/mm (333 x 250 mm): 240 dots per cm^2 uniform; the ramp
// goes 0 -> 480 so that it has the same integral.
constexpr float kUniform = 240.0f;

smp::TreatmentDesign make_design(bool ramp, bool with_summary = true) {
  smp::TreatmentDesign d;
  d.image_size = {kW, kH};
  d.calibration.px_per_mm = kPxPerMm;
  d.mask = cv::Mat(kH, kW, CV_8UC1, cv::Scalar(255));
  d.cell_px = 16;
  const int gw = kW / 16 + 1, gh = kH / 16 + 1;
  d.density.create(gh, gw, CV_32FC1);
  for (int j = 0; j < gh; ++j) {
    for (int i = 0; i < gw; ++i) {
      const float x = (float(i) + 0.5f) * 16 - 0.5f;
      d.density.at<float>(j, i) = ramp ? 2 * kUniform * std::clamp(x / kW, 0.f, 1.f) : kUniform;
    }
  }
  // A growth field that turns across the domain (a constant one would flatter no code path, but
  // a real design's never is).
  d.growth_angle.create(d.density.size(), CV_32FC1);
  for (int j = 0; j < gh; ++j) {
    for (int i = 0; i < gw; ++i) {
      d.growth_angle.at<float>(j, i) = -1.2f + 0.8f * std::sin(float(i) * 0.02f + float(j) * 0.01f);
    }
  }
  d.sessions = 3;
  if (with_summary) d.mask_summary = smp::summarize_mask(d.mask);
  return d;
}

float density_at(bool ramp, float x) {
  return ramp ? 2 * kUniform * std::clamp(x / kW, 0.f, 1.f) : kUniform;
}

// Reference: Bridson with r = sqrt(0.63 / density) (tests/pattern_test.cpp calibrates 0.63).
std::size_t bridson(bool ramp, std::uint64_t seed) {
  const double k = 100.0 * kPxPerMm * kPxPerMm;
  auto radius = [&](float x) {
    const double dens = density_at(ramp, x) / k;
    return dens > 0 ? float(std::sqrt(0.63 / dens)) : 1e9f;
  };
  const float rmin = radius(kW - 1.f), rmax = std::min(radius(64.f), 400.f);
  const float cell = rmin / std::sqrt(2.0f);
  const int gw = int(kW / cell) + 1, gh = int(kH / cell) + 1;
  std::vector<int> grid(std::size_t(gw) * gh, -1);
  std::vector<float> px, py, pr;
  std::vector<int> active;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> U(0.f, 1.f);
  const int reach = int(std::ceil(rmax / cell));
  auto try_add = [&](float x, float y) {
    if (x < 0 || y < 0 || x >= kW || y >= kH) return false;
    const float r = radius(x);
    if (r > 1e8f) return false;
    const int gx = int(x / cell), gy = int(y / cell);
    const int rc = std::min(reach, int(std::ceil(std::max(r, radius(x - r)) / cell)));
    for (int yy = std::max(0, gy - rc); yy <= std::min(gh - 1, gy + rc); ++yy) {
      for (int xx = std::max(0, gx - rc); xx <= std::min(gw - 1, gx + rc); ++xx) {
        const int q = grid[std::size_t(yy) * gw + xx];
        if (q < 0) continue;
        const float rr = std::max(r, pr[q]);
        const float dx = px[q] - x, dy = py[q] - y;
        if (dx * dx + dy * dy < rr * rr) return false;
      }
    }
    grid[std::size_t(gy) * gw + gx] = int(px.size());
    active.push_back(int(px.size()));
    px.push_back(x), py.push_back(y), pr.push_back(r);
    return true;
  };
  while (px.empty()) try_add(U(rng) * kW, U(rng) * kH);
  while (!active.empty()) {
    const std::size_t i = std::size_t(U(rng) * float(active.size())) % active.size();
    const int a = active[i];
    bool placed = false;
    for (int t = 0; t < 30 && !placed; ++t) {
      const float ang = 2 * std::numbers::pi_v<float> * U(rng), r = pr[a] * (1 + U(rng));
      placed = try_add(px[a] + r * std::cos(ang), py[a] + r * std::sin(ang));
    }
    if (!placed) active[i] = active.back(), active.pop_back();
  }
  return px.size();
}

double g_reference_rate[2] = {0, 0};  // dots/s of the reference, uniform / ramp

void BM_PatternBridsonReference(benchmark::State& state) {
  const bool ramp = state.range(0) != 0;
  std::size_t n = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::clock();
    n = bridson(ramp, 1);
    seconds += double(std::clock() - t0) / CLOCKS_PER_SEC;  // CPU time, as items_per_second
    benchmark::DoNotOptimize(n);
  }
  g_reference_rate[ramp] = double(n) * double(state.iterations()) / seconds;
  state.SetItemsProcessed(std::int64_t(n) * state.iterations());
  state.counters["dots"] = double(n);
}
BENCHMARK(BM_PatternBridsonReference)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"ramp"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

double tiles_mb() {
  const smp::detail::TileSet s = smp::detail::build_tiles();
  std::size_t bytes = sizeof(s);
  for (const auto& t : s.tiles) bytes += t.pts.capacity() * sizeof(smp::detail::TilePoint);
  return double(bytes) / 1e6;
}

void generate_bench(benchmark::State& state, bool with_summary) {
  const bool ramp = state.range(0) != 0;
  const auto d = make_design(ramp, with_summary);
  smp::generate(d, {});  // the tile set is built once per process, outside the timing
  std::size_t n = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::clock();
    const smp::DotPattern p = smp::generate(d, {.seed = 1});
    seconds += double(std::clock() - t0) / CLOCKS_PER_SEC;  // CPU time, as items_per_second
    n = p.dots.size();
    // Output + count grid + scratch (<= 3 dots per point of the fullest block, ~100 points) +
    // the mask summary when generate() makes it.
    const std::size_t summary =
        with_summary ? 0 : d.mask_summary.total() + (kW / 32 + 1) * (kH / 32 + 1);
    state.counters["extra_MB"] =
        double(p.dots.capacity() * sizeof(smp::Dot) + d.density.total() * sizeof(float) +
               300 * sizeof(smp::Dot) + summary + 2 * kW) /
        1e6;
  }
  const double rate = double(n) * double(state.iterations()) / seconds;
  state.SetItemsProcessed(std::int64_t(n) * state.iterations());
  state.counters["dots"] = double(n);
  state.counters["Mdots_per_s"] = rate / 1e6;
  if (g_reference_rate[ramp] > 0) state.counters["vs_bridson"] = rate / g_reference_rate[ramp];
  state.counters["tiles_MB"] = tiles_mb();
}

void BM_PatternGenerate(benchmark::State& state) {
  generate_bench(state, true);
}
BENCHMARK(BM_PatternGenerate)->Arg(0)->Arg(1)->ArgNames({"ramp"})->Unit(benchmark::kMillisecond);

void BM_PatternGenerateOneShot(benchmark::State& state) {
  generate_bench(state, false);
}
BENCHMARK(BM_PatternGenerateOneShot)
    ->Arg(0)
    ->Arg(1)
    ->ArgNames({"ramp"})
    ->Unit(benchmark::kMillisecond);

// The tile set is built on the first generate() of a process: on every `smp preview` CLI call.
void BM_PatternTileBuild(benchmark::State& state) {
  for (auto _ : state) {
    const smp::detail::TileSet s = smp::detail::build_tiles();
    benchmark::DoNotOptimize(s.min_points);
  }
}
BENCHMARK(BM_PatternTileBuild)->Unit(benchmark::kMillisecond);

}  // namespace
