// Render benchmarks: Renderer::render re-render (the live-preview path: after analysis and a first
// render, a change of density, shade, stage or seed re-renders) at 1080p and 12 MP, and a plain
// copy of the same image as the floor any full-resolution render pays. Read the ratio render / copy
// from the two figures at the same size. BM_RenderHealed re-renders the same dots (nothing in the
// renderer caches dots: they are prepared anew each render), BM_RenderHealedNewDots alternates two
// layouts to show it; BM_RenderFirstHealed is what the first render costs, Renderer construction
// (photo and mask copies, mask runs) and the per-photo tables included.
//
// Scene: a ~15 cm head spanning ~70% of the width (px_per_mm = 0.7 * width / 150), an elliptic
// treated area of ~40% of the image, dots at 70/cm^2 on a jittered grid (fixed seed), 0.45 mm.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include <opencv2/imgproc.hpp>

#include "smp/pigment.hpp"
#include "smp/render.hpp"

namespace {

struct Scene {
  cv::Mat photo;
  smp::TreatmentDesign design;
  smp::DotPattern dots;
};

Scene make_scene(cv::Size size) {
  Scene s;
  s.photo.create(size, CV_8UC3);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> noise(-3, 3);
  for (int y = 0; y < size.height; ++y) {
    auto* p = s.photo.ptr<cv::Vec3b>(y);
    for (int x = 0; x < size.width; ++x) {
      const double shade = 0.8 + 0.3 * x / size.width;
      p[x] = cv::Vec3b(cv::saturate_cast<std::uint8_t>(215 * shade + noise(rng)),
                       cv::saturate_cast<std::uint8_t>(170 * shade + noise(rng)),
                       cv::saturate_cast<std::uint8_t>(150 * shade + noise(rng)));
    }
  }
  const double ppm = 0.7 * size.width / 150.0;
  cv::Mat mask(size, CV_8UC1, cv::Scalar(0));
  // Ellipse area pi a b = 0.4 W H.
  const double a = 0.40 * size.width, b = 0.40 / (std::numbers::pi * 0.40) * size.height;
  cv::ellipse(mask, cv::Point(size.width / 2, size.height / 2),
              cv::Size(static_cast<int>(a), static_cast<int>(b)), 0, 0, 360, 255, cv::FILLED);
  s.design.image_size = size;
  s.design.calibration = {ppm, smp::CalibrationSource::kUser, 0.0};
  s.design.mask = mask;
  s.design.pigment = smp::pigment_by_name("1:6");
  s.dots.image_size = size;
  s.dots.px_per_mm = ppm;
  const double spacing = std::sqrt(100.0 / 70.0) * ppm;
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  std::normal_distribution<double> n(0.0, 1.0);
  for (double y = spacing / 2; y < size.height; y += spacing) {
    for (double x = spacing / 2; x < size.width; x += spacing) {
      smp::Dot d;
      d.x = static_cast<float>(x + jitter(rng) * spacing);
      d.y = static_cast<float>(y + jitter(rng) * spacing);
      const int px = std::clamp(static_cast<int>(d.x), 0, size.width - 1);
      const int py = std::clamp(static_cast<int>(d.y), 0, size.height - 1);
      if (!mask.at<std::uint8_t>(py, px)) continue;
      d.diameter_mm = static_cast<float>(0.45 * (1 + 0.15 * n(rng)));
      d.shade = static_cast<float>(1 + 0.1 * n(rng));
      d.angle_rad = static_cast<float>(jitter(rng) * 6);
      s.dots.dots.push_back(d);
    }
  }
  return s;
}

// The timed loop: re-render `scene` at `o` after a first render (buffers and tables).
void rerender(benchmark::State& state, const Scene& scene, const smp::RenderOptions& o) {
  smp::Renderer renderer(scene.photo, scene.design);
  cv::Mat out;
  renderer.render(scene.dots, o, out);
  for (auto _ : state) {
    renderer.render(scene.dots, o, out);
    benchmark::DoNotOptimize(out.data);
  }
  state.SetItemsProcessed(state.iterations() * scene.photo.total());
}

void BM_RenderHealed(benchmark::State& state) {
  const Scene scene =
      make_scene({static_cast<int>(state.range(0)), static_cast<int>(state.range(1))});
  smp::Renderer renderer(scene.photo, scene.design);
  cv::Mat out;
  renderer.render(scene.dots, {}, out);  // warm-up: buffers and tables
  for (auto _ : state) {
    renderer.render(scene.dots, {}, out);
    benchmark::DoNotOptimize(out.data);
  }
  state.SetItemsProcessed(state.iterations() * scene.photo.total());
  state.counters["dots"] = static_cast<double>(scene.dots.dots.size());
}

// Re-render with a different layout each time (the scene's and a shifted copy, as a new seed
// gives).
void BM_RenderHealedNewDots(benchmark::State& state) {
  const Scene scene =
      make_scene({static_cast<int>(state.range(0)), static_cast<int>(state.range(1))});
  smp::DotPattern other = scene.dots;
  for (smp::Dot& d : other.dots) d.x += 0.37f * static_cast<float>(scene.dots.px_per_mm);
  smp::Renderer renderer(scene.photo, scene.design);
  cv::Mat out;
  renderer.render(scene.dots, {}, out);
  bool flip = false;
  for (auto _ : state) {
    renderer.render(flip ? other : scene.dots, {}, out);
    flip = !flip;
    benchmark::DoNotOptimize(out.data);
  }
  state.SetItemsProcessed(state.iterations() * scene.photo.total());
}

// The first render of a photo: Renderer construction and the tables a re-render reuses.
void BM_RenderFirstHealed(benchmark::State& state) {
  const Scene scene =
      make_scene({static_cast<int>(state.range(0)), static_cast<int>(state.range(1))});
  cv::Mat out;
  for (auto _ : state) {
    smp::Renderer renderer(scene.photo, scene.design);
    renderer.render(scene.dots, {}, out);
    benchmark::DoNotOptimize(out.data);
  }
  state.SetItemsProcessed(state.iterations() * scene.photo.total());
}

// Re-render at another stage (range 2: 0 fresh, 1 healing, 2 aged 5 years), after a first
// render at that stage. Fresh and healing multiply redness into the result and take the
// erythema pass (a table of 16-bit entries times the redness factor instead of a table of bytes).
void BM_RenderStage(benchmark::State& state) {
  const Scene scene =
      make_scene({static_cast<int>(state.range(0)), static_cast<int>(state.range(1))});
  static const char* const kStages[] = {"fresh", "healing", "aged:5"};
  smp::RenderOptions o;
  o.stage = smp::parse_stage(kStages[state.range(2)]);
  state.SetLabel(kStages[state.range(2)]);
  rerender(state, scene, o);
}

// Re-render (range 2: 0 healed, 1 fresh, 2 healing) with the client's hair over the treated
// area: ~600 strands of dark hair drawn into the photo and marked in the occlusion, plus a ring
// of hair around the treated ellipse, ~12% of the image occluded (the label says how much). The
// occluded pixels within the rendered columns are put back after the final pass: this measures what
// that costs.
void BM_RenderOccluded(benchmark::State& state) {
  const cv::Size size(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  Scene scene = make_scene(size);
  cv::Mat occ(size, CV_8UC1, cv::Scalar(255));
  occ.setTo(0, scene.design.mask);
  cv::Mat ring;
  cv::erode(~scene.design.mask, ring, cv::Mat(), {-1, -1}, size.width / 40);
  occ.setTo(0, ring);  // hair: a band around the ellipse, not the whole background
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> px(0, size.width - 1), py(0, size.height - 1);
  const int len = size.width / 12, thick = std::max(1, size.width / 1500);
  for (int i = 0; i < 600; ++i) {
    const cv::Point a(px(rng), py(rng)), b = a + cv::Point(len / 3, len);
    cv::line(scene.photo, a, b, cv::Scalar(60, 45, 35), thick);
    cv::line(occ, a, b, 255, thick);
  }
  scene.design.occlusion = occ;
  static const char* const kStages[] = {"healed", "fresh", "healing"};
  smp::RenderOptions o;
  o.stage = smp::parse_stage(kStages[state.range(2)]);
  state.SetLabel(std::string(kStages[state.range(2)]) + " occluded " +
                 std::to_string(100 * cv::countNonZero(occ) / static_cast<int>(occ.total())) + "%");
  rerender(state, scene, o);
}

void BM_CopyReference(benchmark::State& state) {
  const cv::Size size(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const cv::Mat photo(size, CV_8UC3, cv::Scalar(200, 160, 140));
  cv::Mat out(size, CV_8UC3);
  for (auto _ : state) {
    photo.copyTo(out);
    benchmark::DoNotOptimize(out.data);
  }
  state.SetItemsProcessed(state.iterations() * photo.total());
}

BENCHMARK(BM_RenderHealed)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderHealedNewDots)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderFirstHealed)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderStage)
    ->ArgsProduct({{4000}, {3000}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderOccluded)
    ->ArgsProduct({{4000}, {3000}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CopyReference)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
