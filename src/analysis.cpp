// PLACEHOLDER: replaced when the analysis stage lands. Every function throws, so the build links.
#include "smp/analysis.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

ScalpAnalysis analyze(const cv::Mat&, const AnalyzeOptions&) { NI("analyze"); }

}  // namespace smp
