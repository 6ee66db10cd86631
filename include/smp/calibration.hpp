// Pixels meet millimetres here, and only here.
#pragma once

#include <optional>
#include <string>

#include <opencv2/core.hpp>

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

struct FaceLandmarks;  // face.hpp

// Calibration from face landmarks: the inter-pupillary distance, assuming the adult mean of
// 63 mm (sd ~3.5 mm, so ~6% across adults; a face turned by yaw degrees reads cos(yaw) short).
Calibration calibration_from_face(const FaceLandmarks& face);

// Calibration from a measured visible iris (horizontal white-to-white) diameter in pixels,
// assuming 11.9 mm (adult range ~11.7-12.2 mm, sd ~0.4 mm).
Calibration calibration_from_iris(double iris_diameter_px);

// A printed ArUco marker of known size in the photo.
struct MarkerOptions {
  // Side of the marker's black square as printed, millimetres (measure the print with a ruler).
  double marker_mm = 40.64;
  // OpenCV predefined dictionary id (cv::aruco::PREDEFINED_DICTIONARY_NAME); 0 = DICT_4X4_50,
  // the dictionary of samples/marker/. Larger cells than 5x5/6x6, so it survives phone photos.
  int dictionary = 0;
  int id = -1;  // only this marker id; -1 = every marker of the dictionary in the photo
};

// Detects the markers in a CV_8UC3 RGB photo and returns px per mm from their mean side length
// (source kMarker), or std::nullopt when none is found. The uncertainty combines corner
// precision with the spread of the side lengths, which grows when the marker is tilted away from
// the camera (foreshortening). Throws Error(kInvalidArgument) for a wrong image or marker size.
std::optional<Calibration> calibration_from_marker(const cv::Mat& rgb,
                                                   const MarkerOptions& options = {});

// A printable marker: the black square `cells` x `px_per_cell` wide plus a white quiet zone of
// `quiet_cells` cells on every side (detection needs it). CV_8UC1.
struct MarkerImageOptions {
  int dictionary = 0;  // DICT_4X4_50
  int id = 0;
  int px_per_cell = 80;  // 4x4 bits + 1 border cell each side = 6 cells = 480 px
  int quiet_cells = 1;
};
cv::Mat draw_calibration_marker(const MarkerImageOptions& options = {});

// samples/marker/aruco_4x4_50_id0.png (MarkerImageOptions{} defaults) printed at 300 dpi: its
// black square is 480 px = 1.6 in = 40.64 mm.
inline constexpr double kSampleMarkerMm = 40.64;
inline constexpr double kSampleMarkerDpi = 300.0;

}  // namespace smp
