#include "segmenter.hpp"

#include <mutex>
#include <vector>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

// The model file is assembled into the library's read-only data, so the library needs no file
// at run time. SMP_SEGMENTER_ONNX is its absolute path (CMakeLists.txt).
#ifndef SMP_SEGMENTER_ONNX
#error "SMP_SEGMENTER_ONNX must name the ONNX model to embed"
#endif
asm(".section .rodata\n"
    ".balign 16\n"
    ".hidden smp_segmenter_onnx_begin\n"
    ".hidden smp_segmenter_onnx_end\n"
    ".global smp_segmenter_onnx_begin\n"
    ".global smp_segmenter_onnx_end\n"
    "smp_segmenter_onnx_begin:\n"
    ".incbin \"" SMP_SEGMENTER_ONNX
    "\"\n"
    "smp_segmenter_onnx_end:\n"
    ".byte 0\n"
    ".previous\n");
extern "C" const char smp_segmenter_onnx_begin[];
extern "C" const char smp_segmenter_onnx_end[];

namespace smp::detail {
namespace {

// Input normalisation used in training: (rgb - 127.5) / 64.
constexpr double kMean = 127.5, kScale = 1.0 / 64.0;

struct Segmenter {
  std::mutex mutex;
  cv::dnn::Net net;
};

Segmenter& segmenter() {
  static Segmenter s;
  static std::once_flag once;
  std::call_once(once, [] {
    const auto n = static_cast<std::size_t>(smp_segmenter_onnx_end - smp_segmenter_onnx_begin);
    s.net = cv::dnn::readNetFromONNX(smp_segmenter_onnx_begin, n);
    s.net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    s.net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  });
  return s;
}

}  // namespace

cv::Mat segmenter_probabilities(const cv::Mat& rgb) {
  cv::Mat in;
  cv::resize(rgb, in, {kSegmenterInput, kSegmenterInput}, 0, 0, cv::INTER_AREA);
  // RGB stays RGB (swapRB false): the net was trained on RGB.
  const cv::Mat blob =
      cv::dnn::blobFromImage(in, kScale, {}, cv::Scalar::all(kMean), false, false, CV_32F);
  cv::Mat logits;
  {
    Segmenter& s = segmenter();
    const std::lock_guard<std::mutex> lock(s.mutex);
    s.net.setInput(blob);
    logits = s.net.forward().clone();  // forward() may return the net's own buffer
  }
  // logits: 1 x 3 x H x W -> H x W x 3 softmax.
  const int h = logits.size[2], w = logits.size[3];
  std::vector<cv::Mat> ch;
  for (int c = 0; c < 3; ++c) ch.emplace_back(h, w, CV_32F, logits.ptr<float>(0, c));
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

}  // namespace smp::detail
