// The whole data flow in one call, each stage's value kept for inspection.
#pragma once

#include "smp/analysis.hpp"
#include "smp/design.hpp"
#include "smp/pattern.hpp"
#include "smp/render.hpp"

namespace smp {

struct PreviewOptions {
  AnalyzeOptions analyze;
  DesignOptions design;
  GenerateOptions generate;
  RenderOptions render;
};

struct Preview {
  ScalpAnalysis analysis;
  TreatmentDesign design;
  DotPattern dots;
  cv::Mat after;  // CV_8UC3 RGB, photo size
};

// analyze -> design -> generate -> render. Throws Error as each stage documents.
Preview preview(const cv::Mat& photo_rgb, const PreviewOptions& options = {});

}  // namespace smp
