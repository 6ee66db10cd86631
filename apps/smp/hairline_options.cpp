#include "hairline_options.hpp"

#include "commands.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"

namespace smp::cli {

void add_hairline_options(CLI::App& cmd, HairlineInputs& inputs) {
  cmd.add_option("--hairline", inputs.hairline,
                 "Design a hairline: soft | sharp | broken | receded | female (templates placed "
                 "from face landmarks), existing (the client's own), or @FILE.json (a polyline "
                 "in photo pixels: {\"points\": [[x, y], ...], \"zone_mm\": 8})")
      ->check([](const std::string& v) -> std::string {
        if (v.empty() || v == "existing" || v.front() == '@') return {};
        try {
          parse_hairline_style(v);
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      });
  cmd.add_option("--hairline-height-cm", inputs.height_cm,
                 "Height of the mid-frontal point above the mid-glabella, cm (5-9 usual)")
      ->capture_default_str()
      ->check(CLI::Range(3.0, 15.0));
  cmd.add_flag("--widows-peak", inputs.widows_peak, "Give the template a widow's peak");
  cmd.add_option("--hairline-zone-mm", inputs.zone_mm,
                 "Depth of the transition zone behind the line, mm (default: by style, soft 8, "
                 "sharp 3)")
      ->check(CLI::Range(0.0, 30.0));
  cmd.add_option("--hairline-overlay", inputs.overlay,
                 "Also write the photo with the designed hairline and its zone (PNG or JPEG)");
  cmd.add_option("--marker-mm", inputs.marker_mm,
                 "Calibrate from a printed ArUco marker (samples/marker) whose black square is "
                 "this many mm wide")
      ->check(CLI::Range(1.0, 500.0));
}

HairlineContext hairline_context(const HairlineInputs& inputs, const cv::Mat& photo) {
  HairlineContext c;
  if (!inputs.hairline.empty()) c.face = detect_face(photo);
  if (inputs.marker_mm > 0) {
    c.calibration = calibration_from_marker(photo, {.marker_mm = inputs.marker_mm});
    require(c.calibration.has_value(), ErrorCode::kNotFound,
            "no ArUco marker (DICT_4X4_50) found in the photo; print samples/marker at 100%, keep "
            "its white border and hold it flat facing the camera, or leave out --marker-mm");
  } else if (c.face) {
    c.calibration = calibration_from_face(*c.face);
  }
  return c;
}

std::optional<Hairline> apply_hairline_inputs(const HairlineInputs& inputs,
                                              const HairlineContext& context,
                                              const ScalpAnalysis& analysis,
                                              TreatmentDesign& design, std::uint64_t seed) {
  if (inputs.hairline.empty()) return std::nullopt;
  Hairline line;
  const bool templated = inputs.hairline != "existing" && inputs.hairline.front() != '@';
  HairlineOptions o{.height_mm = inputs.height_cm * 10.0,
                    .widows_peak = inputs.widows_peak,
                    .zone_mm = inputs.zone_mm,
                    .seed = seed};
  if (templated) o.style = parse_hairline_style(inputs.hairline);
  if (inputs.hairline.front() == '@') {
    line = load_hairline(inputs.hairline.substr(1), design.calibration);
    if (inputs.zone_mm >= 0) line.zone_px = inputs.zone_mm * design.calibration.px_per_mm;
  } else if (inputs.hairline == "existing") {
    auto found = detect_existing_hairline(analysis, context.face, o);
    require(found.has_value(), ErrorCode::kNotFound,
            "no existing hairline found (no hair above the forehead in the labels); choose a "
            "template (--hairline soft) or draw one (--hairline @FILE.json)");
    line = *found;
  } else {
    require(context.face.has_value(), ErrorCode::kNotFound,
            "no face found in the photo, and hairline templates are placed from face landmarks; "
            "use a frontal photo with the face visible, --hairline existing, or --hairline "
            "@FILE.json");
    const CalibrationSource s = design.calibration.source;
    const bool trusted = s == CalibrationSource::kUser || s == CalibrationSource::kMarker;
    const Calibration cal =
        trusted || !context.calibration ? design.calibration : *context.calibration;
    line = hairline_from_template(*context.face, cal, o);
  }
  apply_hairline(design, line);
  return line;
}

void write_hairline_overlay(const HairlineInputs& inputs, const cv::Mat& photo,
                            const Hairline& hairline, const HairlineContext& context) {
  if (inputs.overlay.empty()) return;
  const cv::Mat base = context.face ? draw_face_landmarks(photo, *context.face) : photo;
  write_image(inputs.overlay, hairline_overlay(base, hairline));
}

}  // namespace smp::cli
