// Pixels meet millimetres here, and only here.
#pragma once

#include <string>

namespace smp {

enum class CalibrationSource {
  kDefault,   // nothing known: a guess from the image size (uncertain by a factor of ~2)
  kHeadSize,  // head breadth assumed to be 150 mm
  kFace,      // face landmarks (inter-pupillary distance / iris)
  kMarker,    // a printed ArUco marker of known size in the photo
  kUser,      // given by the caller
};

std::string to_string(CalibrationSource source);

struct Calibration {
  double px_per_mm = 0.0;
  CalibrationSource source = CalibrationSource::kDefault;
  // One-sigma relative uncertainty of px_per_mm (0.05 = 5%).
  double relative_uncertainty = 1.0;

  [[nodiscard]] double mm_to_px(double mm) const { return mm * px_per_mm; }
  [[nodiscard]] double px_to_mm(double px) const { return px / px_per_mm; }
  // Photo pixels covered by one square centimetre.
  [[nodiscard]] double px2_per_cm2() const { return 100.0 * px_per_mm * px_per_mm; }
};

// Calibration from the breadth of the head mask in pixels, assuming an adult head breadth of
// 150 mm (anthropometric mean, about +-7%).
Calibration calibration_from_head_breadth(double head_breadth_px);

// Calibration given by the user; throws Error(kInvalidArgument) unless 0 < px_per_mm < 1000.
Calibration calibration_from_user(double px_per_mm);

}  // namespace smp
