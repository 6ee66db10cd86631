// Stage 0 (image IO): encode and decode speed at 1080p and 12 MP, against a memcpy of the same
// pixels (the floor: any full-resolution pass costs at least this). Figures read as pixels/s.
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/image.hpp"

namespace {

// Smooth structure (blurred noise, like skin and hair at preview scale) plus a little fine noise
// (sensor grain), so encoders see photo-like statistics. Fixed seed; cached per size.
const cv::Mat& photo_like(int w, int h) {
  static std::map<std::pair<int, int>, cv::Mat> cache;
  auto& img = cache[{w, h}];
  if (img.empty()) {
    cv::RNG rng(7);
    cv::Mat f(h, w, CV_32FC3);
    rng.fill(f, cv::RNG::NORMAL, 128.0, 60.0);
    cv::GaussianBlur(f, f, cv::Size(0, 0), 3.0);
    cv::Mat grain(h, w, CV_32FC3);
    rng.fill(grain, cv::RNG::NORMAL, 0.0, 4.0);
    f += grain;
    f.convertTo(img, CV_8UC3);
  }
  return img;
}

std::filesystem::path bench_dir() {
  auto dir = std::filesystem::temp_directory_path() / "smp_bench_image";
  std::filesystem::create_directories(dir);
  return dir;
}

void set_pixels(benchmark::State& state, const cv::Mat& img) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(img.total()));
  state.counters["MP"] = static_cast<double>(img.total()) / 1e6;
}

void BM_ImageMemcpy(benchmark::State& state) {
  const cv::Mat& img =
      photo_like(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<std::uint8_t> dst(img.total() * img.elemSize());
  for (auto _ : state) {
    std::memcpy(dst.data(), img.data, dst.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_pixels(state, img);
}

void BM_ImageEncodePng(benchmark::State& state) {
  const cv::Mat& img =
      photo_like(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string png = smp::encode_png(img);
    bytes = png.size();
    benchmark::DoNotOptimize(png.data());
  }
  set_pixels(state, img);
  state.counters["bytes_per_px"] = static_cast<double>(bytes) / static_cast<double>(img.total());
}

// Includes the temp file, the write and the rename (to /tmp).
void BM_ImageWriteJpeg(benchmark::State& state) {
  const cv::Mat& img =
      photo_like(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const auto path = bench_dir() / "bench.jpg";
  for (auto _ : state) smp::write_image(path, img, {.jpeg_quality = 92});
  set_pixels(state, img);
  state.counters["bytes_per_px"] =
      static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(img.total());
}

void BM_ImageDecodeJpeg(benchmark::State& state) {
  const cv::Mat& img =
      photo_like(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const auto path = bench_dir() / "decode.jpg";
  smp::write_image(path, img, {.jpeg_quality = 92});
  std::ifstream f(path, std::ios::binary);
  const std::vector<std::uint8_t> jpeg((std::istreambuf_iterator<char>(f)), {});
  for (auto _ : state) {
    cv::Mat out = smp::decode_image(jpeg);
    benchmark::DoNotOptimize(out.data);
  }
  set_pixels(state, img);
}

// 1080p and 12 MP (4000x3000, a phone photo).
void sizes(benchmark::internal::Benchmark* b) {
  b->Args({1920, 1080})->Args({4000, 3000})->Unit(benchmark::kMillisecond)->MinTime(0.2);
}

BENCHMARK(BM_ImageMemcpy)->Apply(sizes);
BENCHMARK(BM_ImageEncodePng)->Apply(sizes);
BENCHMARK(BM_ImageWriteJpeg)->Apply(sizes);
BENCHMARK(BM_ImageDecodeJpeg)->Apply(sizes);

}  // namespace
