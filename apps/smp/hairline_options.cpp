#include "hairline_options.hpp"

#include <cstdio>

#include "commands.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"

namespace smp::cli {

void add_hairline_options(CLI::App& cmd, HairlineInputs& inputs) {
  cmd.add_option("--hairline", inputs.hairline,
                 "Hairline: soft | sharp | broken | receded | female (templates placed from face "
                 "landmarks), existing (the client's own), none, or @FILE.json (a polyline in "
                 "photo pixels: {\"points\": [[x, y], ...], \"zone_mm\": 8}). Default: soft "
                 "when a face is visible, none otherwise")
      ->check([](const std::string& v) -> std::string {
        if (v.empty() || v == "none" || v == "existing" || v.front() == '@') return {};
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

void apply_hairline_inputs(const HairlineInputs& inputs, PreviewOptions& options) {
  options.marker_mm = inputs.marker_mm;
  HairlineRequest& r = options.hairline;
  r.options.height_mm = inputs.height_cm * 10.0;
  r.options.widows_peak = inputs.widows_peak;
  r.options.zone_mm = inputs.zone_mm;
  r.options.seed = options.generate.seed;
  const std::string& h = inputs.hairline;
  if (h.empty()) {
    r.mode = HairlineMode::kAuto;
  } else if (h == "none") {
    r.mode = HairlineMode::kNone;
  } else if (h == "existing") {
    r.mode = HairlineMode::kExisting;
  } else if (h.front() == '@') {
    r.mode = HairlineMode::kCustom;
    // The JSON's zone_mm needs a scale; a user scale is known now, otherwise 4 px/mm (a phone
    // photo of a head) until --hairline-zone-mm or zone_px says otherwise.
    const double ppm = options.analyze.px_per_mm > 0 ? options.analyze.px_per_mm : 4.0;
    const Calibration cal = calibration_from_user(ppm);
    r.custom = load_hairline(h.substr(1), cal);
    if (inputs.zone_mm >= 0) r.custom->zone_px = inputs.zone_mm * ppm;
  } else {
    r.mode = HairlineMode::kTemplate;
    r.options.style = parse_hairline_style(h);
  }
}

void write_hairline_overlay(const HairlineInputs& inputs, const cv::Mat& photo,
                            const Preview& preview) {
  if (inputs.overlay.empty()) return;
  if (!preview.hairline) {
    // The preview itself is written; say why its companion is missing instead of failing.
    std::fprintf(stderr,
                 "warning: no hairline was designed for this photo (no face in view), so %s was "
                 "not written; pass --hairline existing or --hairline @FILE.json\n",
                 inputs.overlay.c_str());
    return;
  }
  const cv::Mat base = preview.face ? draw_face_landmarks(photo, *preview.face) : photo;
  write_image(inputs.overlay, hairline_overlay(base, *preview.hairline));
}

}  // namespace smp::cli
