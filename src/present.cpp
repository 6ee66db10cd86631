// PLACEHOLDER: replaced when the present stage lands. Every function throws, so the build links.
#include "smp/present.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

cv::Mat side_by_side(const std::vector<std::pair<std::string, cv::Mat>>&, const CompareOptions&) { NI("side_by_side"); }
cv::Mat before_after(const cv::Mat&, const cv::Mat&, const CompareOptions&) { NI("before_after"); }
cv::Mat label_overlay(const cv::Mat&, const cv::Mat&, double) { NI("label_overlay"); }

}  // namespace smp
