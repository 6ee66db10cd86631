// Stage 1 (analysis): analyze() (classical, cue-combiner and learned segmenters) on a synthetic
// head at 1080p and 12 MP, against a full-image cv::cvtColor(RGB2Lab) of the same pixels (one
// colour pass: the floor any full-resolution analysis pays at least once). Figures read as
// pixels/s; the ratio is what to watch.
#include <benchmark/benchmark.h>

#include <map>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/analysis.hpp"
#include "smp/synth.hpp"

namespace {

// A top-view phantom (level 5: hair and bare scalp both present), fixed seed, cached per size.
const cv::Mat& head(int w, int h) {
  static std::map<std::pair<int, int>, cv::Mat> cache;
  auto& img = cache[{w, h}];
  if (img.empty()) img = smp::synthesize({.size = {w, h}, .level = 5, .seed = 11}).image;
  return img;
}

// analyze() with one segmenter (the refinement and measurements after it are shared).
void analyze_with(benchmark::State& state, smp::AnalyzeOptions::Segmenter segmenter,
                  smp::HeadUp head_up = smp::HeadUp::kAuto) {
  const cv::Mat& img = head(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  smp::AnalyzeOptions o;
  o.segmenter = segmenter;
  o.head_up = head_up;
  for (auto _ : state) {
    smp::ScalpAnalysis a = smp::analyze(img, o);
    benchmark::DoNotOptimize(a.labels.data);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(img.total()));
}

// Default: GrabCut + per-photo EM.
void BM_Analyze(benchmark::State& state) {
  analyze_with(state, smp::AnalyzeOptions::Segmenter::kClassical);
}

// The orientation given (no orientation net): the difference to BM_Analyze is the net's cost.
void BM_AnalyzeHeadUpGiven(benchmark::State& state) {
  analyze_with(state, smp::AnalyzeOptions::Segmenter::kClassical, smp::HeadUp::kTop);
}

// The learned segmenter (net at 256x256 on the CPU + the same refinement).
void BM_AnalyzeLearned(benchmark::State& state) {
  analyze_with(state, smp::AnalyzeOptions::Segmenter::kLearned);
}

// The cue combiner (kClassical's cues + a 30 KB model at work size).
void BM_AnalyzeCues(benchmark::State& state) {
  analyze_with(state, smp::AnalyzeOptions::Segmenter::kCues);
}

void BM_RgbToLabBaseline(benchmark::State& state) {
  const cv::Mat& img = head(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  cv::Mat lab;
  for (auto _ : state) {
    cv::cvtColor(img, lab, cv::COLOR_RGB2Lab);
    benchmark::DoNotOptimize(lab.data);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(img.total()));
}

}  // namespace

BENCHMARK(BM_Analyze)->Args({1920, 1080})->Args({4000, 3000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AnalyzeHeadUpGiven)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AnalyzeLearned)->Args({1920, 1080})->Args({4000, 3000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AnalyzeCues)->Args({1920, 1080})->Args({4000, 3000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RgbToLabBaseline)
    ->Args({1920, 1080})
    ->Args({4000, 3000})
    ->Unit(benchmark::kMillisecond);
