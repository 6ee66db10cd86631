#include "smp/calibration.hpp"

#include <cmath>
#include <sstream>

#include "smp/error.hpp"

namespace smp {

std::string to_string(CalibrationSource source) {
  switch (source) {
    case CalibrationSource::kDefault: return "default";
    case CalibrationSource::kHeadSize: return "head_size";
    case CalibrationSource::kFace: return "face";
    case CalibrationSource::kMarker: return "marker";
    case CalibrationSource::kUser: return "user";
  }
  return "unknown";
}

Calibration calibration_from_head_breadth(double head_breadth_px) {
  require(head_breadth_px > 0 && std::isfinite(head_breadth_px), ErrorCode::kInvalidArgument,
          "head breadth must be a positive number of pixels");
  // Adult head breadth ~150 mm with a standard deviation of ~6-7% across adults; a photo's
  // mask breadth adds its own error (the head may be partly out of view), hence 15%.
  return {.px_per_mm = head_breadth_px / 150.0,
          .source = CalibrationSource::kHeadSize,
          .relative_uncertainty = 0.15};
}

Calibration calibration_from_user(double px_per_mm) {
  if (!(px_per_mm > 0 && px_per_mm < 1000 && std::isfinite(px_per_mm))) {
    std::ostringstream msg;
    msg << "px per mm must be between 0 and 1000 (got " << px_per_mm
        << "); measure a ruler in the photo or leave it out to estimate it";
    throw Error(ErrorCode::kInvalidArgument, msg.str());
  }
  return {.px_per_mm = px_per_mm, .source = CalibrationSource::kUser, .relative_uncertainty = 0.02};
}

}  // namespace smp
