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

// How light meets a dot of pigment under the skin (healed skin; stages scale it). Per linear RGB
// channel (r, g, b). Pigment sits in the upper dermis below ~0.1 mm of translucent, scattering
// epidermis. The darkening a dot causes is its footprint convolved with the skin's point spread
// function, which has two parts:
//  * direct: light that crosses the epidermis, reaches the pigment and is absorbed. Blurred by
//    lateral scattering in the epidermis, red most (it scatters least per mm but travels
//    furthest), blue least; blue is partly scattered back before reaching the pigment, so it is
//    absorbed less (Tyndall effect: buried black reads blue-grey).
//  * diffuse: light that enters the skin between dots, wanders in the dermis and crosses the
//    pigment on its way out. Much wider (about the transport length of dermis, ~0.3-0.7 mm) and
//    strongest in red, which penetrates deepest. Summed over neighbouring dots it is the even
//    grey cast of healed SMP seen from conversational distance, on which the dots sit.
// Both are linear in the pigment (a first-order perturbation of the skin's reflectance), so the
// mean darkening of an area is (coverage fraction) x absorption x (direct + diffuse_gain).
struct SkinOptics {
  cv::Vec3f epidermis_blur_mm{0.09f, 0.065f, 0.05f};  // 1-sigma lateral spread, direct part
  // Fraction of the absorption seen directly. Healed dots are dark grey, not black (DESIGN.md:
  // fresh dots are the black ones): most of a healed dot's effect is in the diffuse part.
  cv::Vec3f direct{0.62f, 0.60f, 0.56f};
  cv::Vec3f diffuse_blur_mm{0.80f, 0.65f, 0.50f};  // 1-sigma width of the diffuse part
  // Diffuse integral / the dot's own integral. Calibrated so that default dots (70/cm^2,
  // 0.45 mm) shift light skin by about the CIELAB amounts measured on real healed SMP photos
  // (DESIGN.md), where the skin between the dots is itself ~20 L* darker than bare skin.
  cv::Vec3f diffuse_gain{4.4f, 3.55f, 2.9f};
};

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
  // Dots are very slightly elongated along their growth angle (major / minor axis, area kept).
  double elongation = 1.15;
  SkinOptics optics;
};

// How far from a dot's centre rendering may change pixels, in pixels, for dots up to
// `max_diameter_mm` at `px_per_mm`: pixels further than this from every dot (and from the design
// mask, since dots outside it are skipped) keep their exact input value.
double render_reach_px(double px_per_mm, double max_diameter_mm, const RenderOptions& options);

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
