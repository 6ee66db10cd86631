// Hairline and calibration options of `smp preview` (issue 6), parsed here and applied between
// the design and generate stages.
//
// Wiring in a subcommand:
//   HairlineInputs hl;  add_hairline_options(*cmd, hl);
//   ... in the callback, after loading the photo:
//   const HairlineContext ctx = hairline_context(hl, photo);        // face + marker/face scale
//   analysis = analyze(photo, o.analyze);                             // (user px/mm wins)
//   if (ctx.calibration && analysis.calibration.source != CalibrationSource::kUser)
//     analysis.calibration = *ctx.calibration;                        // before design()
//   design = smp::design(analysis, o.design);
//   const auto line = apply_hairline_inputs(hl, ctx, analysis, design, seed);
//   ... generate, render ...
//   if (line) write_hairline_overlay(hl, photo, *line, ctx);
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>

#include "smp/analysis.hpp"
#include "smp/calibration.hpp"
#include "smp/design.hpp"
#include "smp/face.hpp"
#include "smp/hairline.hpp"

namespace smp::cli {

struct HairlineInputs {
  std::string hairline;    // "" (none) | soft | sharp | broken | receded | female | existing |
                           // @FILE.json
  double height_cm = 8.0;  // mid-frontal point above the mid-glabella
  bool widows_peak = false;
  double zone_mm = -1;   // < 0: the style's default
  std::string overlay;   // PNG/JPEG: the photo with the designed line and its zone
  double marker_mm = 0;  // > 0: calibrate from a printed ArUco marker of this size
};

// Adds --hairline, --hairline-height-cm, --widows-peak, --hairline-zone-mm, --hairline-overlay
// and --marker-mm to `cmd`.
void add_hairline_options(CLI::App& cmd, HairlineInputs& inputs);

// What the photo itself says before analysis: the face (detected only when a hairline is
// asked for, since loading the landmark model costs ~1 s) and the best calibration it offers
// (a marker when --marker-mm is given, else the face's inter-pupillary distance).
struct HairlineContext {
  std::optional<FaceLandmarks> face;
  std::optional<Calibration> calibration;
};

// Throws smp::Error(kNotFound) when --marker-mm is given and no marker is in the photo.
HairlineContext hairline_context(const HairlineInputs& inputs, const cv::Mat& photo);

// Builds the requested hairline and applies it to `design` (apply_hairline). std::nullopt when
// --hairline was not given. Templates need a face (Error(kNotFound) naming the alternatives);
// "existing" needs hair above the forehead (Error(kNotFound)). The template's scale is the
// design's calibration when it came from the user or a marker, else the face's.
std::optional<Hairline> apply_hairline_inputs(const HairlineInputs& inputs,
                                              const HairlineContext& context,
                                              const ScalpAnalysis& analysis,
                                              TreatmentDesign& design, std::uint64_t seed);

// Writes --hairline-overlay (if given): the designed line and zone over the photo, with the face
// landmarks when a face was found.
void write_hairline_overlay(const HairlineInputs& inputs, const cv::Mat& photo,
                            const Hairline& hairline, const HairlineContext& context);

}  // namespace smp::cli
