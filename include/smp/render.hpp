// Stage 4: render the dots into the photo as pigment under the skin, in linear light.
#pragma once

#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "smp/design.hpp"
#include "smp/pattern.hpp"

namespace smp {

enum class Stage { kFresh, kHealing, kHealed, kAged };

struct StageSpec {
  Stage stage = Stage::kHealed;
  double years = 0.0;  // for kAged
};

// Parses "fresh", "healing", "healed", "aged:YEARS"; throws Error(kInvalidArgument).
StageSpec parse_stage(const std::string& text);
std::string to_string(const StageSpec& stage);

struct RenderOptions {
  StageSpec stage;
  // Show only the dots of sessions 1..up_to_session (0 = all).
  int up_to_session = 0;
  // Multiplies the pigment strength (1 = as chosen by the design).
  double strength = 1.0;
  // Poor technique: needles too deep make dots >3x larger and blurry.
  bool blowout = false;
  // Worker threads (0 = OpenCV's default). The output is identical for any value.
  int threads = 0;
};

// Reusable renderer: keeps the photo in linear light and per-design caches so a change of
// density, shade, stage or seed re-renders quickly. Not thread-safe; one per live view.
class Renderer {
 public:
  Renderer(const cv::Mat& photo_rgb, const TreatmentDesign& design);
  ~Renderer();
  Renderer(Renderer&&) noexcept;
  Renderer& operator=(Renderer&&) noexcept;

  // Renders into `out` (CV_8UC3 RGB, photo size; reallocated only if needed).
  void render(const DotPattern& dots, const RenderOptions& options, cv::Mat& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-shot: Renderer(photo, design).render(dots, options).
cv::Mat render(const cv::Mat& photo_rgb, const TreatmentDesign& design, const DotPattern& dots,
               const RenderOptions& options = {});

}  // namespace smp
