// Stage 4: render the dots into the photo as pigment under the skin, in linear light.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "smp/color.hpp"
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
// epidermis. A dot's "pigment load" is its footprint convolved with the skin's point spread
// function, which has two parts:
//  * direct: light that crosses the epidermis, reaches the pigment and is absorbed. Blurred by
//    lateral scattering in the epidermis, red most, blue least, so edges are softest in red.
//  * diffuse: light that enters the skin between dots, wanders in the dermis and crosses the
//    pigment on its way out. Much wider (about the transport length of dermis) and nearly neutral.
//    Summed over neighbouring dots it is the even grey cast of healed SMP seen from
//    conversational distance, on which the dots sit.
// The load D_c is linear in the pigment; the photo is darkened by f_c * S(D_c), where S is 1:1
// up to a knee and then saturates smoothly at 1 (dense clusters cannot go black), and f_c is
// the fraction of the skin's remitted light that travels deep enough to meet the pigment
// (see `floor_lightness`). What never meets the pigment (surface shine, light scattered back by
// the epidermis, colour of epidermal melanin above the pigment) is the "floor" a fully
// pigmented patch tends to: from the skin's own colour (medium skin) to a neutral grey a shade
// cool (light and dark skin), never a blue or green tint. The skin between the dots keeps some of
// its colour, so a healed area reads grey-taupe.
struct SkinOptics {
  cv::Vec3f epidermis_blur_mm{0.09f, 0.065f, 0.05f};  // 1-sigma lateral spread, direct part
  // Fraction of the absorption seen directly. Healed dots are dark grey, not black (DESIGN.md:
  // fresh dots are the black ones). Nearly neutral: a healed dot's blue-grey tint is subtle.
  cv::Vec3f direct{0.95f, 0.95f, 0.92f};
  // 1-sigma width of the diffuse part: the pigment haze around each dot. It follows the local
  // dot density (so it fades with the design's feather), and spans enough neighbours (~2.5 mm
  // at ~1.2 mm spacing) that the jitter of single dots does not show as blotches: 0.8 mm showed
  // ~5 mm blotches, 1.5 mm still ~7 mm grey clouds with pale channels between them on real
  // top-down photos at ~4 px/mm (real healed SMP reads as an even shadow).
  cv::Vec3f diffuse_blur_mm{2.6f, 2.5f, 2.45f};
  // Diffuse integral / the dot's own integral. Calibrated with the floor below so that default
  // dots (70/cm^2, 0.45 mm) darken light, medium and dark phantom skin by the CIELAB L* shift
  // measured on real healed SMP photos (DESIGN.md) and grey it as far toward the measured a*/b*
  // shifts as the phantoms' own colour allows; render_test checks it. Blue a
  // little higher: the long dermal path of the haze adds blood and melanin absorption, keeping
  // the cast grey-taupe rather than blue.
  cv::Vec3f diffuse_gain{6.5f, 6.5f, 6.8f};
  // The floor's luminance as a fraction of the bare skin's (phi) and how much of the skin's own
  // chromaticity it keeps (mu: 0 = neutral grey, 1 = the skin's colour, i.e. plain darkening).
  // Negative = from the skin tone (RenderOptions::skin): light skin's colour is mostly dermal
  // blood at the pigment's depth, so pigment greys it (low mu); medium skin's colour is mostly
  // epidermal melanin above the pigment, so pigment darkens it without greying much (high mu);
  // dark skin remits little, surface shine is a large neutral part of it (high phi, low mu).
  float floor_lightness = -1.0f;
  float floor_skin_colour = -1.0f;
  // Load at a healed dot's centre per unit of absorption x direct: healed pigment stays
  // concentrated where it was placed, so the centre of a dot nears the floor (an individual
  // dark-grey dot up close) while the skin between dots only gets the diffuse haze. The dot's
  // apparent diameter (half-maximum of its darkening) stays RenderOptions' diameter however
  // much the centre saturates.
  float dot_gain = 1.8f;
  // Fraction of the photo's specular excess (surface shine) kept over the pigment: shine is
  // reflected at the skin surface, above the pigment, so the pigment cannot absorb it. The
  // renderer splits each pixel into a diffuse part with the skin's chromaticity and an
  // achromatic excess (dichromatic model) and darkens only the diffuse part. 0 = darken the
  // whole pixel.
  float shine = 1.0f;
};

// The per-channel fraction f_c of the skin's light the pigment acts on, for a bare-skin tone.
cv::Vec3f pigment_response(const Lab& skin, const SkinOptics& optics);

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
  // Bare-skin tone of the treated area (e.g. ScalpAnalysis's skin tone). Empty = the mean of the
  // photo under the design mask, measured once per Renderer.
  std::optional<Lab> skin;
  // Apparent healed dot diameter, mm (pigment spread around the puncture; DESIGN.md: ~0.5 mm).
  // 0 = each dot's own diameter_mm from the pattern; > 0 scales every dot so the pattern's mean
  // diameter becomes this (jitter kept).
  double healed_diameter_mm = 0.0;
  // Needle puncture on the skin surface, mm (~0.1-0.15). Fresh dots are surface ink around it:
  // 2.5 punctures across, sharp and black, before the pigment spreads to the healed size.
  double puncture_mm = 0.12;
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
