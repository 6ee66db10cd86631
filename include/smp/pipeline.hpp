// The whole data flow in one call, each stage's value kept for inspection.
#pragma once

#include <optional>

#include "smp/analysis.hpp"
#include "smp/design.hpp"
#include "smp/face.hpp"
#include "smp/hairline.hpp"
#include "smp/pattern.hpp"
#include "smp/render.hpp"

namespace smp {

enum class HairlineMode {
  kNone,      // no hairline: the treated area is the treatable scalp with a feathered edge
  kAuto,      // a face in view -> kTemplate; otherwise kNone
  kTemplate,  // `HairlineRequest::options` placed from face landmarks (needs a face)
  kExisting,  // the client's own hairline, traced from the labels
  kCustom,    // `HairlineRequest::custom`
};

struct HairlineRequest {
  HairlineMode mode = HairlineMode::kAuto;
  HairlineOptions options;         // style, height above the glabella, zone, widow's peak
  std::optional<Hairline> custom;  // for kCustom (e.g. load_hairline("line.json", ...))
  // Probability of follicular-unit groups (2-3 dots) in the hairline's transition zone.
  double zone_grouping = 0.3;
};

struct PreviewOptions {
  AnalyzeOptions analyze;
  // > 0: calibrate from a printed ArUco marker of this size in mm (samples/marker); the photo
  // must show it (Error(kNotFound) otherwise). A user px/mm (analyze.px_per_mm) still wins.
  double marker_mm = 0.0;
  HairlineRequest hairline;
  DesignOptions design;
  GenerateOptions generate;
  RenderOptions render;
};

struct Preview {
  ScalpAnalysis analysis;
  std::optional<FaceLandmarks> face;  // when a face was looked for and found
  std::optional<Hairline> hairline;   // the designed hairline, when there is one
  TreatmentDesign design;
  DotPattern dots;
  cv::Mat after;  // CV_8UC3 RGB, photo size
};

// analyze -> (face, calibration, hairline) -> design -> generate -> render.
// Calibration priority: user px/mm > marker > face (inter-pupillary distance) > head breadth.
// Throws Error as each stage documents.
Preview preview(const cv::Mat& photo_rgb, const PreviewOptions& options = {});

// The design stages of preview() without rendering: for apps that render live with a Renderer.
Preview plan(const cv::Mat& photo_rgb, const PreviewOptions& options = {});

}  // namespace smp
