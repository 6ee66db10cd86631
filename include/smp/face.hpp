// Face landmarks (when a face is visible): the anchors of hairline design and calibration.
//
// Uses dlib's frontal face detector (HOG) and its 68-point shape predictor, the model Debian
// ships in libdlib-data (/usr/share/dlib/shape_predictor_68_face_landmarks.dat, 99 MB). The
// model is read once per process, lazily, on the first call that needs it (~1 s), and shared by
// every thread after that.
//
// "Left" and "right" below are image left and right (the subject's right eye is on the image
// left). Points follow the iBUG 300-W numbering: 0-16 jaw line (0 and 16 beside the ears at
// eye level), 17-21 and 22-26 brows, 27-35 nose, 36-41 and 42-47 eyes, 48-67 mouth.
#pragma once

#include <array>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace smp {

struct FaceOptions {
  // Model file; empty = $SMP_DLIB_MODEL if set, else Debian's libdlib-data path.
  std::string model_path;
  // Longest side (px) of the copy the detector runs on. Faces in 12 MP photos are huge, and the
  // HOG detector finds faces from ~80 px: 800 px finds any face wider than ~10% of the photo in
  // ~0.1 s. Smaller photos are upsampled to this size.
  int detect_size = 800;
  // Detector threshold adjustment (dlib's adjust_threshold): negative finds more faces, with
  // more false positives.
  double adjust_threshold = 0.0;
};

struct FaceLandmarks {
  std::array<cv::Point2f, 68> points;           // photo pixels
  cv::Rect face;                                // detector box, photo pixels
  cv::Point2f glabella;                         // mid-glabella: midway between the inner brow ends
  cv::Point2f left_pupil, right_pupil;          // eye centres (mean of each eye's 6 points)
  cv::Point2f left_eye_outer, right_eye_outer;  // outer eye corners (36, 45)
  std::array<cv::Point2f, 5> left_brow, right_brow;  // 17-21 and 22-26, outer to inner
  // Detector score mapped to 0..1 (0.5 at dlib's default threshold; > 0.8 is a clear face).
  double confidence = 0.0;

  [[nodiscard]] double interpupillary_px() const;
  // Unit vector along the eye line, image left to right.
  [[nodiscard]] cv::Point2f eye_axis() const;
  // Unit vector perpendicular to the eye line, from the face towards the scalp (image "up"
  // for an upright face).
  [[nodiscard]] cv::Point2f up_axis() const;
  // Distance between the jaw-line points beside the ears at eye level (0 and 16), px: the
  // landmark estimate of bizygomatic (cheekbone) breadth.
  [[nodiscard]] double cheekbone_width_px() const;
};

// Builds the derived anchors (glabella, pupils, ...) from 68 points; used by detect_face and by
// callers with landmarks from elsewhere (tests, other detectors).
FaceLandmarks face_from_points(const std::array<cv::Point2f, 68>& points, cv::Rect face = {},
                               double confidence = 1.0);

// Detects the largest frontal face of a CV_8UC3 RGB photo and its 68 landmarks. Returns
// std::nullopt when no face is found (a top-down scalp photo, a face turned > ~45 deg). Throws
// Error(kInvalidArgument) for a wrong image type, Error(kNotFound) when the model file is
// missing (install libdlib-data or set SMP_DLIB_MODEL).
std::optional<FaceLandmarks> detect_face(const cv::Mat& rgb, const FaceOptions& options = {});

// A copy of `rgb` with the landmarks and the named anchors drawn on it (for overlays and
// debugging).
cv::Mat draw_face_landmarks(const cv::Mat& rgb, const FaceLandmarks& face);

}  // namespace smp
