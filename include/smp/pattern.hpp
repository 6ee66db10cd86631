// Stage 3: generate the dot layout: variable-density blue noise with a minimum spacing.
#pragma once

#include <cstdint>
#include <vector>

#include "smp/design.hpp"

namespace smp {

struct Dot {
  float x = 0, y = 0;        // centre, photo pixels
  float diameter_mm = 0.45f; // apparent healed diameter on the skin (pigment spread), mm
  float angle_rad = 0;       // growth direction (dots are very slightly elongated along it)
  float shade = 1.0f;        // pigment strength multiplier around 1 (jitter)
  std::uint8_t session = 1;  // 1-based session that places this dot
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
  double size_jitter = 0.15;   // relative standard deviation of the diameter
  double shade_jitter = 0.10;  // relative standard deviation of the shade
  // 1 = blue noise (minimum spacing), 0 = uniform random (white noise).
  double regularity = 1.0;
  // Elongation of dots along the growth direction (1 = round).
  double elongation = 1.15;
};

// Generates the dots of every session of `design` (session k's dots are a superset of k-1's).
// Cost is proportional to the number of dots. Same design + options -> same dots.
DotPattern generate(const TreatmentDesign& design, const GenerateOptions& options = {});

}  // namespace smp
