// Hairline and calibration options of `smp preview`, parsed into the library's PreviewOptions.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "smp/pipeline.hpp"

namespace smp::cli {

struct HairlineInputs {
  // "" = auto (a template when a face is visible) | none | soft | sharp | broken | receded |
  // female | existing | @FILE.json
  std::string hairline;
  double height_cm = 8.0;  // mid-frontal point above the mid-glabella
  bool widows_peak = false;
  double zone_mm = -1;   // < 0: the style's default
  std::string overlay;   // PNG/JPEG: the photo with the designed line and its zone
  double marker_mm = 0;  // > 0: calibrate from a printed ArUco marker of this size
};

// Adds --hairline, --hairline-height-cm, --widows-peak, --hairline-zone-mm, --hairline-overlay
// and --marker-mm to `cmd`.
void add_hairline_options(CLI::App& cmd, HairlineInputs& inputs);

// Fills options.hairline and options.marker_mm. A custom line (@FILE.json) is read here, in
// pixels, with `px_per_mm` only used for its zone_mm (0 = unknown yet: 8 mm at 4 px/mm).
void apply_hairline_inputs(const HairlineInputs& inputs, PreviewOptions& options);

// Writes --hairline-overlay (if given): the designed line and zone over the photo, with the face
// landmarks when a face was found; a warning (no file) when no hairline was designed.
void write_hairline_overlay(const HairlineInputs& inputs, const cv::Mat& photo,
                            const Preview& preview);

}  // namespace smp::cli
