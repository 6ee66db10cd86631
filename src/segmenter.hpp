// Private: the learned background / skin / hair segmenter behind analyze().
//
// A small fully convolutional net (tools/train_segmenter.py, models/README.md) embedded in the
// library as ONNX bytes and run with OpenCV's DNN module on the CPU. Loaded once per process;
// forward passes are serialised by a mutex (a cv::dnn::Net is not safe for concurrent
// forward()), so concurrent analyze() calls stay correct and deterministic.
#pragma once

#include <array>

#include <opencv2/core.hpp>

namespace smp::detail {

// Side of the square the net sees: the photo is stretched to it (the training photos are
// stretched squares too, and training varies the aspect ratio).
constexpr int kSegmenterInput = 256;

// Class probabilities of a CV_8UC3 RGB image of any size: CV_32FC3 (background, skin, hair),
// summing to 1 per pixel, at the net's output resolution (kSegmenterInput / 2 square).
cv::Mat segmenter_probabilities(const cv::Mat& rgb);

// Number of per-pixel cues the cue combiner reads (analysis.cpp, cue_features).
constexpr int kCueCount = 28;

// The cue vectors of a CV_8UC3 RGB photo at work size (AnalyzeOptions::work_size): CV_32F, one
// row of kCueCount per work-size pixel in raster order; `size` receives the work size. For
// tools/dump_cues.cpp, which writes them for tools/train_cues.py.
cv::Mat segmentation_cues(const cv::Mat& rgb, int work_size, cv::Size* size);

// Class probabilities from the cue combiner (models/smp_cues.onnx, tools/train_cues.py): `cues`
// as segmentation_cues returns them for a work size `size`; CV_32FC3 (background, skin, hair)
// at that size.
cv::Mat cue_probabilities(const cv::Mat& cues, cv::Size size);

// Side of the square the head-orientation net sees (tools/train_orientation.py).
constexpr int kOrientationInput = 64;

// Which way the top of the head points (models/smp_orientation.onnx, tools/train_orientation.py):
// probabilities that the photo is an upright head turned 0, 1, 2 or 3 quarter turns
// counter-clockwise (top of the head towards the top, left, bottom, right). `rgb` is the photo
// at work size (CV_8UC3 RGB), `labels` its labels at the same size (kSkin, kHair).
std::array<double, 4> orientation_probabilities(const cv::Mat& rgb, const cv::Mat& labels);

}  // namespace smp::detail
