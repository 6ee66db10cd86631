// Pigment palette and shade choice.
//
// SMP pigment is carbon black diluted with distilled water. Practitioners quote the dilution as
// "1:N" = one part pigment to N parts water; trainers' charts run from undiluted (near-black,
// for very dark hair and skin) to about 1:20 (a light grey for fair skin and grey or blond
// stubble). The palette below is those steps, lightest first.
//
// Absorption: the fraction of light the healed pigment layer removes at the centre of a dot
// before the epidermis softens it (render.cpp applies the scattering). Carbon black is a
// broadband absorber, so the values are nearly neutral; diluted pigment is a thinner layer of
// particles, so it absorbs less. The steps are spaced so that each one reads as a visible but
// small change of the healed shade (roughly equal steps in CIELAB L* on light skin), not by a
// Beer-Lambert law in the water fraction: a healed dot's pigment load is set by how much the
// skin retains, which saturates for strong mixes. Blue is absorbed a little less than red and
// green because the thin diluted layers let some short-wavelength light scatter back from the
// particles themselves.
//
// choose_pigment: the mapping the README quotes.
//   1. Skin: ITA angle -> Fitzpatrick class (color.hpp) -> a starting step:
//        class 1 (very light)      -> 1:15
//        class 2-3 (light/interm.) -> 1:10
//        class 4 (tan)             -> 1:6
//        class 5 (brown)           -> 1:3
//        class 6 (dark)            -> undiluted
//   2. Hair (the client's own stubble, when the analysis found any), by CIELAB L*:
//        L* < 25 (black/dark brown)  -> one step darker (less water)
//        25 <= L* < 40 (brown)       -> unchanged
//        40 <= L* < 55 (light brown) -> one step lighter
//        L* >= 55 (grey, blond, white) -> two steps lighter
//      Low-chroma light hair (grey) is what the dots must match: "grey stubble, greyer dots".
//      No hair found -> skin alone decides.
//   3. Clamp to the palette.
#include "smp/pigment.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "smp/error.hpp"

namespace smp {

namespace {

Pigment make(double water_parts, float a) {
  Pigment p;
  std::ostringstream name;
  name << "1:" << water_parts;
  p.name = name.str();
  p.water_parts = water_parts;
  // Blue a little lighter, and more so for thinner (more diluted) layers (see top).
  const float blue = a * (1.0f - 0.04f * static_cast<float>(std::min(water_parts, 20.0) / 20.0));
  p.absorption = cv::Vec3f(a, a, blue);
  return p;
}

std::string valid_names() {
  std::string s;
  for (const auto& p : pigment_palette()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

}  // namespace

const std::vector<Pigment>& pigment_palette() {
  static const std::vector<Pigment> palette = {
      make(20, 0.56f), make(15, 0.66f), make(10, 0.76f),
      make(6, 0.85f),  make(3, 0.92f),  make(0, 0.97f),
  };
  return palette;
}

Pigment choose_pigment(const Lab& skin, const Lab& hair, bool hair_found) {
  const auto& palette = pigment_palette();
  // Indices into the palette (lightest first): 0 = 1:20 ... 5 = undiluted.
  static constexpr int kByFitzpatrick[7] = {0, 1, 2, 2, 3, 4, 5};
  const int fitz = std::clamp(fitzpatrick_from_ita(ita_degrees(skin)), 1, 6);
  int index = kByFitzpatrick[fitz];
  if (hair_found) {
    if (hair.L < 25) {
      index += 1;
    } else if (hair.L >= 55) {
      index -= 2;
    } else if (hair.L >= 40) {
      index -= 1;
    }
  }
  index = std::clamp(index, 0, static_cast<int>(palette.size()) - 1);
  return palette[static_cast<std::size_t>(index)];
}

Pigment pigment_by_name(const std::string& name) {
  std::string s;
  for (char c : name) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (s == "undiluted") s = "0";
  if (s.rfind("1:", 0) == 0) s = s.substr(2);
  // Accept "10", "10.0": the water parts as a number.
  char* end = nullptr;
  const double parts = s.empty() ? -1.0 : std::strtod(s.c_str(), &end);
  if (end != nullptr && *end == '\0' && parts >= 0) {
    for (const auto& p : pigment_palette()) {
      if (std::abs(p.water_parts - parts) < 1e-9) return p;
    }
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown pigment \"" + name + "\": use one of " + valid_names() +
                  " (parts of water per part of carbon black; \"10\" means \"1:10\")");
}

}  // namespace smp
