// PLACEHOLDER: replaced when the render stage lands. Every function throws, so the build links.
#include "smp/render.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

StageSpec parse_stage(const std::string&) { NI("parse_stage"); }
std::string to_string(const StageSpec&) { NI("to_string(StageSpec)"); }
struct Renderer::Impl {};
Renderer::Renderer(const cv::Mat&, const TreatmentDesign&) { NI("Renderer"); }
Renderer::~Renderer() = default;
Renderer::Renderer(Renderer&&) noexcept = default;
Renderer& Renderer::operator=(Renderer&&) noexcept = default;
void Renderer::render(const DotPattern&, const RenderOptions&, cv::Mat&) { NI("Renderer::render"); }
cv::Mat render(const cv::Mat&, const TreatmentDesign&, const DotPattern&, const RenderOptions&) { NI("render"); }

}  // namespace smp
