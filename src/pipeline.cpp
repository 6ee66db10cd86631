#include "smp/pipeline.hpp"

#include <algorithm>
#include <array>

#include <opencv2/core.hpp>

#include "smp/error.hpp"

namespace smp {
namespace {

bool wants_face(HairlineMode mode) {
  return mode == HairlineMode::kAuto || mode == HairlineMode::kTemplate ||
         mode == HairlineMode::kExisting;
}

// The template's scale: a user or marker calibration is trusted over the face's, and the
// face's over the head-breadth guess of the analysis.
Calibration best_calibration(const Calibration& current, const std::optional<Calibration>& face) {
  const CalibrationSource s = current.source;
  if (s == CalibrationSource::kUser || s == CalibrationSource::kMarker || !face) return current;
  return *face;
}

// dlib's detector finds upright faces only: a photo analyze() found turned (HeadUp) is turned
// back for it, and the landmarks are mapped into the photo's own pixels. The hairline template
// works from the eye and up axes, so it follows the turn.
std::optional<FaceLandmarks> detect_face_upright(const cv::Mat& photo, HeadUp up) {
  if (up == HeadUp::kTop || up == HeadUp::kAuto) return detect_face(photo);
  const cv::Mat upright = turned_upright(photo, up);
  const std::optional<FaceLandmarks> f = detect_face(upright);
  if (!f) return f;
  const float w = static_cast<float>(photo.cols - 1), h = static_cast<float>(photo.rows - 1);
  // The inverse of turned_upright's point mapping.
  const auto back = [&](cv::Point2f q) -> cv::Point2f {
    switch (up) {
      case HeadUp::kLeft:
        return {q.y, h - q.x};  // turned clockwise: (x, y) -> (h - y, x)
      case HeadUp::kBottom:
        return {w - q.x, h - q.y};  // its own inverse
      default:
        return {w - q.y, q.x};  // turned counter-clockwise: (x, y) -> (y, w - x)
    }
  };
  std::array<cv::Point2f, 68> points;
  for (std::size_t i = 0; i < points.size(); ++i) points[i] = back(f->points[i]);
  const cv::Point2f a = back(cv::Point2f(f->face.tl())), b = back(cv::Point2f(f->face.br()));
  const cv::Rect box(cv::Point(cvRound(std::min(a.x, b.x)), cvRound(std::min(a.y, b.y))),
                     cv::Point(cvRound(std::max(a.x, b.x)), cvRound(std::max(a.y, b.y))));
  return face_from_points(points, box, f->confidence);
}

}  // namespace

Preview plan(const cv::Mat& photo_rgb, const PreviewOptions& options) {
  Preview p;
  p.analysis = analyze(photo_rgb, options.analyze);

  // Calibration beyond the analysis' own (user or head breadth).
  const bool user_scale = p.analysis.calibration.source == CalibrationSource::kUser;
  if (options.marker_mm > 0 && !user_scale) {
    const auto marker = calibration_from_marker(photo_rgb, {.marker_mm = options.marker_mm});
    require(marker.has_value(), ErrorCode::kNotFound,
            "no ArUco marker (DICT_4X4_50) found in the photo; print samples/marker at 100%, keep "
            "its white border, hold it flat facing the camera, or leave the marker size out");
    p.analysis.calibration = *marker;
  }
  const HairlineRequest& hr = options.hairline;
  if (wants_face(hr.mode)) {
    try {
      p.face = detect_face_upright(photo_rgb, p.analysis.head_up);
    } catch (const Error& e) {
      // Auto mode degrades gracefully when the landmark model is not installed.
      if (hr.mode != HairlineMode::kAuto || e.code() != ErrorCode::kNotFound) throw;
      p.analysis.warnings.push_back(std::string("face landmarks unavailable: ") + e.what());
    }
    if (p.face) {
      p.analysis.calibration =
          best_calibration(p.analysis.calibration, calibration_from_face(*p.face));
    }
  }

  p.design = design(p.analysis, options.design);

  HairlineMode mode = hr.mode;
  if (mode == HairlineMode::kAuto) mode = p.face ? HairlineMode::kTemplate : HairlineMode::kNone;
  switch (mode) {
    case HairlineMode::kNone:
    case HairlineMode::kAuto:
      break;
    case HairlineMode::kTemplate:
      require(p.face.has_value(), ErrorCode::kNotFound,
              "no face found in the photo, and hairline templates are placed from face "
              "landmarks; use a frontal photo with the face visible, the existing hairline, or "
              "a custom one (JSON)");
      p.hairline = hairline_from_template(*p.face, p.design.calibration, hr.options);
      break;
    case HairlineMode::kExisting:
      p.hairline = detect_existing_hairline(p.analysis, p.face, hr.options);
      require(p.hairline.has_value(), ErrorCode::kNotFound,
              "no existing hairline found (no hair above the forehead in the labels); choose a "
              "template or draw one (JSON)");
      break;
    case HairlineMode::kCustom:
      require(hr.custom.has_value(), ErrorCode::kInvalidArgument,
              "hairline mode 'custom' needs a hairline (HairlineRequest::custom)");
      p.hairline = hr.custom;
      break;
  }
  GenerateOptions gen = options.generate;
  if (p.hairline) {
    apply_hairline(p.design, *p.hairline);
    if (gen.grouping_zone.empty() && gen.grouping == 0.0 && hr.zone_grouping > 0) {
      gen.grouping = hr.zone_grouping;
      gen.grouping_zone = p.design.hairline_zone;
    }
  }
  p.dots = generate(p.design, gen);
  if (p.dots.dots.empty()) {
    p.analysis.warnings.push_back(
        p.hairline ? "no dots placed: the scalp behind the designed hairline is covered by hair "
                     "or outside the photo; lower the hairline or check the labels"
                   : "no dots placed: no bare scalp found to treat; check the labels (smp analyze "
                     "--overlay) or pass --mask");
  }
  return p;
}

Preview preview(const cv::Mat& photo_rgb, const PreviewOptions& options) {
  Preview p = plan(photo_rgb, options);
  p.after = render(photo_rgb, p.design, p.dots, options.render);
  return p;
}

}  // namespace smp
