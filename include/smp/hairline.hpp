// Hairline design in real units: templates placed from landmarks, custom lines, the existing one.
//
// A Hairline is the front edge of the treated area as a polyline in photo pixels, plus the
// depth of the transition zone behind it where dots thin out and get finer and lighter. The
// face side of the line ("in front") gets no dots; `scalp_direction` says which side that is.
//
// Templates follow the anatomy practitioners design from (see docs in DESIGN.md): the
// mid-frontal point `height_mm` above the mid-glabella (8 cm by default, 5-9 cm in practice,
// lower for women), the temporal points ~1 cm outside the vertical through the outer eye
// corners. Heights are measured in the photo plane along the face's vertical axis: on a frontal
// photo the forehead's curve makes the distance along the skin ~5-10% longer than that.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "smp/analysis.hpp"
#include "smp/calibration.hpp"
#include "smp/design.hpp"
#include "smp/face.hpp"

namespace smp {

enum class HairlineStyle {
  kSoft,     // soft/faded: a deep (8 mm) transition zone of sparser, finer, lighter dots
  kSharp,    // sharp/defined: a crisp edge (3 mm zone)
  kBroken,   // broken/jagged: irregular at two scales (~15 mm and ~3 mm), 6 mm zone
  kReceded,  // receded/mature: deep temple recession
  kFemale,   // female: a rounded, concave arch without temple recession
};

// "soft" | "faded" | "sharp" | "defined" | "broken" | "jagged" | "receded" | "mature" |
// "female"; throws Error(kInvalidArgument) otherwise.
HairlineStyle parse_hairline_style(const std::string& text);
std::string to_string(HairlineStyle style);

struct HairlineOptions {
  HairlineStyle style = HairlineStyle::kSoft;
  // Height of the mid-frontal point above the mid-glabella, mm (5-9 cm in practice).
  double height_mm = 80.0;
  // A V-shaped peak at the middle: the tip stays at `height_mm`, the line either side of it
  // rises by `widows_peak_mm`.
  bool widows_peak = false;
  double widows_peak_mm = 8.0;
  // Depth of the transition zone behind the line, mm; < 0 = the style's default
  // (soft 8, sharp 3, broken 6, receded 6, female 7).
  double zone_mm = -1.0;
  // Temporal points this far outside the vertical through each outer eye corner, mm.
  double temple_offset_mm = 10.0;
  // Seed of the line's irregularity (natural hairlines are irregular at small and large scale).
  std::uint64_t seed = 1;
};

struct Hairline {
  std::vector<cv::Point2f> line;  // front edge, photo pixels, image left to right
  double zone_px = 0.0;           // depth of the transition zone behind the line, px
  // Unit vector from the face side to the scalp side of the line (image up = (0, -1)).
  cv::Point2f scalp_direction{0.f, -1.f};
  // At the front edge relative to the full treatment behind the zone. Density is 0 exactly at
  // the line and reaches `edge_density` ~30% into the zone (single dots first, no dots lined
  // up along the line), then full at its back.
  double edge_density = 0.15;  // density fraction
  double edge_size = 0.75;     // dot diameter factor (finer)
  double edge_shade = 0.75;    // pigment strength factor (lighter)
  std::string source;          // "template:soft", "json", "existing", ...
};

// Places a template on the face, px per mm from `calibration`. Throws Error(kInvalidArgument)
// for a height outside 30..150 mm, a zone outside 0..30 mm or a calibration without px per mm.
Hairline hairline_from_template(const FaceLandmarks& face, const Calibration& calibration,
                                const HairlineOptions& options = {});

// A custom hairline from JSON text:
//   {"points": [[x, y], ...],          // >= 2 points, photo pixels (required)
//    "zone_mm": 8,  or  "zone_px": 40,  // transition depth (default 8 mm)
//    "style": "soft",                   // sets edge density/size/shade (default soft)
//    "scalp_direction": [0, -1]}        // optional, default image up
// Points are reordered left to right when given right to left. Throws Error(kInvalidArgument)
// naming what is wrong.
Hairline hairline_from_json(const std::string& json_text, const Calibration& calibration);
// The same from a file; Error(kIo) when it cannot be read.
Hairline load_hairline(const std::filesystem::path& path, const Calibration& calibration);
// The JSON form hairline_from_json reads (points in px, zone_px), to save and edit a design.
std::string hairline_to_json(const Hairline& hairline);

// The existing hairline: the boundary between forehead skin and the hair above it. For each
// column across the forehead (between the outer brow ends when `face` is given, else the middle
// 60% of the head), the lowest hair pixel above the first forehead skin; gaps bridged and the
// result median-smoothed. std::nullopt when fewer than a quarter of the columns have one (bald,
// hat, no forehead in view). The zone and edge factors come from `options.style`.
std::optional<Hairline> detect_existing_hairline(const ScalpAnalysis& analysis,
                                                 const std::optional<FaceLandmarks>& face = {},
                                                 const HairlineOptions& options = {});
// The same on a bare label map (0 bg, 1 skin, 2 hair).
std::optional<Hairline> detect_existing_hairline(const cv::Mat& labels,
                                                 const std::optional<FaceLandmarks>& face = {},
                                                 const HairlineOptions& options = {},
                                                 double px_per_mm = 0.0);

// Signed distance to the hairline on a grid of `cell_px` photo pixels per cell (CV_32FC1,
// photo px): > 0 behind the line (scalp side), < 0 in front of it (face side).
cv::Mat hairline_signed_distance(const Hairline& hairline, cv::Size image_size,
                                 double cell_px = 1.0);

// Applies the hairline to a design: density 0 in front of the line, feathered up to full across
// the zone behind it, and fills design.size_scale / shade_scale / hairline_zone on the density
// grid. The mask is left alone on purpose: a hard mask edge along the line makes the generator
// line dots up on it (a "drawn" hairline), while the density ramp from 0 does not.
void apply_hairline(TreatmentDesign& design, const Hairline& hairline);

struct HairlineOverlayOptions {
  cv::Scalar line_rgb{255, 40, 40};
  cv::Scalar zone_rgb{255, 200, 0};
  double zone_alpha = 0.35;
  int thickness_px = 0;  // 0 = from the image size
};

// A copy of `rgb` with the transition zone tinted and the line drawn on top.
cv::Mat hairline_overlay(const cv::Mat& rgb, const Hairline& hairline,
                         const HairlineOverlayOptions& options = {});

}  // namespace smp
