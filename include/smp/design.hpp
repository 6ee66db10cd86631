// Stage 2: design the treatment: where dots go and how dense, which shade, how many sessions.
#pragma once

#include <opencv2/core.hpp>

#include "smp/analysis.hpp"
#include "smp/calibration.hpp"
#include "smp/pigment.hpp"

namespace smp {

struct DesignOptions {
  // Target density of a finished treatment behind the hairline, impressions per cm^2.
  // Clinics work at ~50-100; natural follicular-unit density is ~80-100.
  double density_per_cm2 = 70.0;
  // Width of the soft edge at the border of the treated area, millimetres: density ramps from
  // 0 to full over this distance so the result has no hard "helmet" edge (8 mm still read as a
  // drawn edge on whole-head previews; a faded edge is 1-2 cm, like a hairline's fill-in).
  double edge_feather_mm = 15.0;
  // Where hair already covers the scalp, density is reduced by this fraction of the coverage
  // (1 = no dots under full hair).
  double hair_coverage_reduction = 0.3;
  // Number of sessions the treatment is built over (1..4).
  int sessions = 3;
  // Pigment override by palette name ("" = choose from skin and hair tone).
  std::string pigment;
};

struct TreatmentDesign {
  cv::Size image_size;      // photo size, pixels
  Calibration calibration;  // px per mm used for every mm <-> px conversion downstream
  // Where dots may land at all (hard limit): CV_8UC1, photo size, 255 = allowed.
  cv::Mat mask;
  // Target density of the finished treatment, impressions per cm^2, CV_32FC1 on a coarse grid:
  // one cell covers `cell_px` x `cell_px` photo pixels; sample it with density_at().
  cv::Mat density;
  double cell_px = 1.0;
  // Growth direction in radians (image x axis = 0, y down), same grid as `density`.
  cv::Mat growth_angle;
  Pigment pigment;
  int sessions = 3;
  // Set by apply_hairline (hairline.hpp); CV_32FC1 on the same grid as `density`, or empty.
  // Dot diameter and pigment strength factors (finer, lighter dots at the hairline's front
  // edge); empty = 1 everywhere. Sample with size_scale_at / shade_scale_at (hairline.hpp).
  cv::Mat size_scale;
  cv::Mat shade_scale;
  // 1 at the hairline's front edge falling to 0 at the back of its transition zone, 0 elsewhere
  // (e.g. GenerateOptions::grouping_zone); empty = no hairline designed.
  cv::Mat hairline_zone;
  // Optional: where the client's own hair lies over the skin, CV_8UC1, photo size, 0..255
  // (255 = a strand covers the skin here; empty = none). Pigment sits in the skin below the
  // hair: the renderer keeps these pixels as photographed (blending where partial), so strands
  // combed over a treated area stay on top of it. design(analysis) fills it from the hair labels.
  cv::Mat occlusion;
  // Optional: summarize_mask(mask) (pattern.hpp), kept with the design so that repeated
  // generate() calls skip a pass over the full-resolution mask. Empty = generate() computes it
  // per call. Stale after any change to `mask`: recompute it (or clear it) then.
  cv::Mat mask_summary;
};

// Bilinear lookup of the density grid at photo pixel (x, y), impressions per cm^2.
float density_at(const TreatmentDesign& design, float x, float y);
float growth_angle_at(const TreatmentDesign& design, float x, float y);
// Bilinear lookups of the design's dot size and shade factors (1 where the grids are empty).
float size_scale_at(const TreatmentDesign& design, float x, float y);
float shade_scale_at(const TreatmentDesign& design, float x, float y);

TreatmentDesign design(const ScalpAnalysis& analysis, const DesignOptions& options = {});

// Builds a design from a caller's own mask and a uniform density (tests, benchmarks, apps
// that skip analysis). `mask` is CV_8UC1, 255 = treat.
TreatmentDesign design_from_mask(const cv::Mat& mask, const Calibration& calibration,
                                 double density_per_cm2, const Pigment& pigment,
                                 double edge_feather_mm = 0.0);

}  // namespace smp
