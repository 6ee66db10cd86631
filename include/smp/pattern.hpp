// Stage 3: generate the dot layout: variable-density blue noise with a minimum spacing.
#pragma once

#include <cstdint>
#include <vector>

#include "smp/design.hpp"

namespace smp {

struct Dot {
  float x = 0, y = 0;         // centre, photo pixels
  float diameter_mm = 0.45f;  // apparent healed diameter on the skin (pigment spread), mm
  float angle_rad = 0;        // growth direction (dots are very slightly elongated along it)
  float shade = 1.0f;         // pigment strength multiplier around 1 (jitter)
  std::uint8_t session = 1;   // 1-based session that places this dot
};

struct DotPattern {
  std::vector<Dot> dots;
  cv::Size image_size;
  double px_per_mm = 0;
};

struct GenerateOptions {
  std::uint64_t seed = 1;
  // Apparent healed dot diameter, mm. Real healed SMP reads ~0.5 mm across in photos because
  // pigment spreads under the skin around a ~0.1-0.15 mm puncture.
  double dot_diameter_mm = 0.45;
  // Relative standard deviations of the diameter and the shade. Healed dots vary in photos of
  // real work (smp-real 28: some barely visible, some dark, as needle depth and healing vary);
  // at 0.05 every dot was the same dark point and a crown read as a printed dot screen. The
  // shadow stays even: the renderer's 2.5 mm haze averages the jitter of ~15 neighbours.
  double size_jitter = 0.15;
  double shade_jitter = 0.25;
  // 1 = blue noise (minimum spacing), 0 = uniform random (white noise).
  double regularity = 1.0;
  // Elongation of dots along the growth direction (1 = round).
  double elongation = 1.15;
  // Worker threads (1 = the calling thread only). The dots and their order do not depend on it.
  int threads = 1;
  // Probability (0..1) that an impression site becomes a follicular-unit group of 2-3 dots
  // `group_spacing_mm` apart, as practitioners do at the hairline. Dot density stays at the
  // design's density: sites are thinned by the mean group size. Multiplied by
  // `grouping_zone` where that is given.
  double grouping = 0.0;
  double group_spacing_mm = 0.28;  // distance of a group's extra dots from its first, mm
  // Optional CV_32FC1 map on the design's density grid (same size, same `cell_px`), 0..1:
  // where grouping applies (e.g. 1 in the hairline transition zone). Empty = everywhere.
  cv::Mat grouping_zone{};
  // Crown whorl overlaid on the design's growth directions: within `whorl_radius_mm` of
  // `whorl_center_px` dots turn around the centre (clockwise on the photo by default), blending
  // smoothly into the design's field outside. Radius 0 = no whorl. A negative centre is
  // estimated as the density-weighted centroid of the design.
  double whorl_radius_mm = 0.0;
  cv::Point2f whorl_center_px{-1.f, -1.f};
  bool whorl_clockwise = true;
};

// Side, in pixels, of the square blocks that summarize_mask() classifies.
inline constexpr int kMaskSummaryPx = 32;

// Summary of a treatment mask (CV_8UC1, non-zero = allowed) for generate(): one byte per
// kMaskSummaryPx x kMaskSummaryPx block, 0 = no allowed pixel, 255 = every pixel allowed,
// 128 = mixed; CV_8UC1 of ceil(cols / 32) x ceil(rows / 32). generate() reads the mask only in
// mixed blocks. Costs one pass over the mask (~1 ms at 12 MP, about what generating 200k dots
// costs): store it in TreatmentDesign::mask_summary when the same mask is generated from more than
// once (live previews), and recompute it whenever the mask changes.
cv::Mat summarize_mask(const cv::Mat& mask);

// Generates the dots of every session of `design` (session k's dots are a superset of k-1's).
// Cost is proportional to the number of dots. Same design + options -> same dots.
DotPattern generate(const TreatmentDesign& design, const GenerateOptions& options = {});

}  // namespace smp
