// PLACEHOLDER: replaced when the evaluate stage lands. Every function throws, so the build links.
#include "smp/evaluate.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

void SegmentationScore::add(const cv::Mat&, const cv::Mat&) { NI("SegmentationScore::add"); }
double SegmentationScore::iou(int) const { NI("iou"); }
double SegmentationScore::mean_iou() const { NI("mean_iou"); }
double SegmentationScore::pixel_accuracy() const { NI("pixel_accuracy"); }
double spearman(const std::vector<double>&, const std::vector<double>&) { NI("spearman"); }

}  // namespace smp
