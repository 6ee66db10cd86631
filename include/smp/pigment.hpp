// Pigment: carbon black diluted with water, from light grey to near-black.
#pragma once

#include <string>
#include <vector>

#include "smp/color.hpp"

namespace smp {

struct Pigment {
  std::string name;         // e.g. "dilution 1:10"
  double water_parts = 10;  // parts of water per part of carbon black (0 = undiluted)
  // Fraction of light the healed pigment layer absorbs at the centre of a dot, per linear RGB
  // channel, before scattering in the epidermis is applied (0..1).
  cv::Vec3f absorption{0.7f, 0.7f, 0.7f};
};

// The palette, lightest first.
const std::vector<Pigment>& pigment_palette();

// Chooses a dilution from the client's skin and hair tone (ITA angle and hair lightness):
// darker skin and hair -> less water. See docs in the README.
Pigment choose_pigment(const Lab& skin, const Lab& hair, bool hair_found);

// Looks a palette entry up by name or by water parts ("1:10", "10"); throws
// Error(kInvalidArgument) listing the valid names.
Pigment pigment_by_name(const std::string& name);

}  // namespace smp
