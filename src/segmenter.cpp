#include "segmenter.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <vector>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/analysis.hpp"

// The model file is assembled into the library's read-only data, so the library needs no file
// at run time. SMP_SEGMENTER_ONNX is its absolute path (CMakeLists.txt).
// SMP_CUES_ONNX and SMP_ORIENTATION_ONNX likewise name the cue combiner's and the head-orientation
// net's models.
#if !defined(SMP_SEGMENTER_ONNX) || !defined(SMP_CUES_ONNX) || !defined(SMP_ORIENTATION_ONNX)
#error "SMP_SEGMENTER_ONNX, SMP_CUES_ONNX and SMP_ORIENTATION_ONNX must name the models to embed"
#endif
#define SMP_EMBED(name, path)           \
  asm(".section .rodata\n"              \
      ".balign 16\n"                    \
      ".hidden " #name                  \
      "_begin\n"                        \
      ".hidden " #name                  \
      "_end\n"                          \
      ".global " #name                  \
      "_begin\n"                        \
      ".global " #name "_end\n" #name   \
      "_begin:\n"                       \
      ".incbin \"" path "\"\n" #name    \
      "_end:\n"                         \
      ".byte 0\n"                       \
      ".previous\n");                   \
  extern "C" const char name##_begin[]; \
  extern "C" const char name##_end[];
SMP_EMBED(smp_segmenter_onnx, SMP_SEGMENTER_ONNX)
SMP_EMBED(smp_cues_onnx, SMP_CUES_ONNX)
SMP_EMBED(smp_orientation_onnx, SMP_ORIENTATION_ONNX)

namespace smp::detail {
namespace {

// Input normalisation used in training: (rgb - 127.5) / 64.
constexpr double kMean = 127.5, kScale = 1.0 / 64.0;

struct Model {
  std::mutex mutex;
  cv::dnn::Net net;
};

cv::dnn::Net load(const char* begin, const char* end) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(begin, static_cast<std::size_t>(end - begin));
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

Model& segmenter() {
  static Model s;
  static std::once_flag once;
  std::call_once(once, [] { s.net = load(smp_segmenter_onnx_begin, smp_segmenter_onnx_end); });
  return s;
}

Model& cue_combiner() {
  static Model s;
  static std::once_flag once;
  std::call_once(once, [] { s.net = load(smp_cues_onnx_begin, smp_cues_onnx_end); });
  return s;
}

Model& orientation_net() {
  static Model s;
  static std::once_flag once;
  std::call_once(once, [] { s.net = load(smp_orientation_onnx_begin, smp_orientation_onnx_end); });
  return s;
}

// Runs a model on a blob; forward() may return the net's own buffer, hence the copy.
cv::Mat forward(Model& m, const cv::Mat& blob) {
  const std::lock_guard<std::mutex> lock(m.mutex);
  m.net.setInput(blob);
  return m.net.forward().clone();
}

// 1 x 3 x H x W logits -> H x W x 3 probabilities (softmax over the three classes).
cv::Mat softmax3(const cv::Mat& logits) {
  const int h = logits.size[2], w = logits.size[3];
  std::vector<cv::Mat> ch;
  for (int c = 0; c < 3; ++c)
    ch.emplace_back(h, w, CV_32F, const_cast<float*>(logits.ptr<float>(0, c)));
  cv::Mat mx = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  cv::Mat sum = cv::Mat::zeros(h, w, CV_32F);
  std::vector<cv::Mat> e(3);
  for (int c = 0; c < 3; ++c) {
    cv::exp(ch[c] - mx, e[c]);
    sum += e[c];
  }
  for (int c = 0; c < 3; ++c) e[c] /= sum;
  cv::Mat out;
  cv::merge(e, out);
  return out;
}

}  // namespace

cv::Mat segmenter_probabilities(const cv::Mat& rgb) {
  cv::Mat in;
  cv::resize(rgb, in, {kSegmenterInput, kSegmenterInput}, 0, 0, cv::INTER_AREA);
  // RGB stays RGB (swapRB false): the net was trained on RGB.
  const cv::Mat blob =
      cv::dnn::blobFromImage(in, kScale, {}, cv::Scalar::all(kMean), false, false, CV_32F);
  return softmax3(forward(segmenter(), blob));
}

cv::Mat cue_probabilities(const cv::Mat& cues, cv::Size size) {
  CV_Assert(cues.type() == CV_32F && cues.cols == kCueCount && cues.rows == size.area());
  // Rows of cues per pixel -> planes of pixels per cue: the 1 x kCueCount x H x W blob.
  cv::Mat planes = cues.t();
  const int dims[4] = {1, kCueCount, size.height, size.width};
  const cv::Mat blob(4, dims, CV_32F, planes.ptr<float>());
  return softmax3(forward(cue_combiner(), blob));
}

std::array<double, 4> orientation_probabilities(const cv::Mat& rgb, const cv::Mat& labels) {
  CV_Assert(rgb.type() == CV_8UC3 && labels.type() == CV_8UC1 && rgb.size() == labels.size());
  const cv::Size side(kOrientationInput, kOrientationInput);
  cv::Mat small, lab;
  cv::resize(rgb, small, side, 0, 0, cv::INTER_AREA);
  cv::resize(labels, lab, side, 0, 0, cv::INTER_NEAREST);
  // Planes: R, G, B / 255, then skin and hair as 0/1 (tools/train_orientation.py, load()).
  const int dims[4] = {1, 5, kOrientationInput, kOrientationInput};
  cv::Mat blob(4, dims, CV_32F);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 5; ++c) planes.emplace_back(side, CV_32F, blob.ptr<float>(0, c));
  std::vector<cv::Mat> rgb_planes;
  cv::split(small, rgb_planes);
  for (int c = 0; c < 3; ++c) rgb_planes[c].convertTo(planes[c], CV_32F, 1.0 / 255);
  cv::Mat(lab == kSkin).convertTo(planes[3], CV_32F, 1.0 / 255);
  cv::Mat(lab == kHair).convertTo(planes[4], CV_32F, 1.0 / 255);
  const cv::Mat logits = forward(orientation_net(), blob);
  const float* z = logits.ptr<float>();
  const float mx = *std::max_element(z, z + 4);
  std::array<double, 4> p{};
  double sum = 0;
  for (int k = 0; k < 4; ++k) sum += p[k] = std::exp(static_cast<double>(z[k] - mx));
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace smp::detail
