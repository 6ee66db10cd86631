// PLACEHOLDER: replaced when the design stage lands. Every function throws, so the build links.
#include "smp/design.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

float density_at(const TreatmentDesign&, float, float) { NI("density_at"); }
float growth_angle_at(const TreatmentDesign&, float, float) { NI("growth_angle_at"); }
TreatmentDesign design(const ScalpAnalysis&, const DesignOptions&) { NI("design"); }
TreatmentDesign design_from_mask(const cv::Mat&, const Calibration&, double, const Pigment&, double) { NI("design_from_mask"); }

}  // namespace smp
