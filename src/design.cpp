#include "smp/design.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"
#include "smp/pattern.hpp"

namespace smp {
namespace {

// The density grid is smooth by construction (a feathered mask times a blurred coverage map),
// so ~512 cells on the long side resolve it well while keeping it to <= 1 MB at any photo size.
constexpr double kGridCellsLongSide = 512.0;

// Bilinear lookup of a design grid at photo pixel (x, y); `empty_value` where there is no grid.
float bilinear(const cv::Mat& grid, double cell_px, float x, float y, float empty_value) {
  if (grid.empty()) return empty_value;
  const float gx = std::clamp(static_cast<float>((x + 0.5) / cell_px - 0.5), 0.0f,
                              static_cast<float>(grid.cols - 1));
  const float gy = std::clamp(static_cast<float>((y + 0.5) / cell_px - 0.5), 0.0f,
                              static_cast<float>(grid.rows - 1));
  const int x0 = static_cast<int>(gx), y0 = static_cast<int>(gy);
  const int x1 = std::min(x0 + 1, grid.cols - 1), y1 = std::min(y0 + 1, grid.rows - 1);
  const float fx = gx - static_cast<float>(x0), fy = gy - static_cast<float>(y0);
  const float* r0 = grid.ptr<float>(y0);
  const float* r1 = grid.ptr<float>(y1);
  return (r0[x0] * (1 - fx) + r0[x1] * fx) * (1 - fy) + (r1[x0] * (1 - fx) + r1[x1] * fx) * fy;
}

void validate(const DesignOptions& o) {
  std::ostringstream msg;
  if (!(o.density_per_cm2 > 0 && o.density_per_cm2 <= 300)) {
    msg << "density must be in (0, 300] impressions per cm^2 (got " << o.density_per_cm2
        << "); clinics work at 50-100";
  } else if (!(o.edge_feather_mm >= 0 && o.edge_feather_mm <= 100)) {
    msg << "edge feather must be 0..100 mm (got " << o.edge_feather_mm << ")";
  } else if (!(o.hair_coverage_reduction >= 0 && o.hair_coverage_reduction <= 1)) {
    msg << "hair coverage reduction must be 0..1 (got " << o.hair_coverage_reduction << ")";
  } else if (o.sessions < 1 || o.sessions > 4) {
    msg << "sessions must be 1..4 (got " << o.sessions << "); SMP is built over 2-4 sessions";
  } else {
    return;
  }
  throw Error(ErrorCode::kInvalidArgument, msg.str());
}

// Shared core of design() and design_from_mask(): density = full * feather(distance to the
// mask's edge) * (1 - reduction * hair coverage), on the coarse grid.
// `blend_into` (optional, photo size): where the treated area may continue without an edge, i.e.
// the client's own hair. The feather starts only at edges facing skin that is not treated or the
// background, so the dots run into the hair instead of leaving a bare ring in front of it.
TreatmentDesign build(const cv::Mat& mask, const cv::Mat& coverage, const cv::Mat& blend_into,
                      const Calibration& cal, const DesignOptions& o, const Pigment& pigment) {
  require(!mask.empty() && mask.type() == CV_8UC1, ErrorCode::kInvalidArgument,
          "the treatment mask must be a non-empty single-channel 8-bit image");
  require(cal.px_per_mm > 0, ErrorCode::kInvalidArgument,
          "the calibration has no px per mm; pass one (--px-per-mm) or analyze the photo first");
  require(cv::countNonZero(mask) > 0, ErrorCode::kNotFound,
          "no treatable scalp found in the photo; check the analysis labels (smp analyze "
          "--labels) or pass your own mask (--mask)");
  TreatmentDesign d;
  d.image_size = mask.size();
  d.calibration = cal;
  d.mask = mask.clone();  // the design owns its mask (smp.hpp, "Ownership")
  // Saves generate() a pass over the full-resolution mask on every regeneration (live sliders).
  // Whoever edits d.mask afterwards must recompute or clear it.
  d.mask_summary = summarize_mask(d.mask);
  d.pigment = pigment;
  d.sessions = o.sessions;
  d.cell_px = std::max(1.0, std::ceil(std::max(mask.cols, mask.rows) / kGridCellsLongSide));
  const cv::Size grid(static_cast<int>(std::ceil(mask.cols / d.cell_px)),
                      static_cast<int>(std::ceil(mask.rows / d.cell_px)));

  cv::Mat inside;  // fraction of each cell inside the mask
  cv::resize(mask, inside, grid, 0, 0, cv::INTER_AREA);
  inside.convertTo(inside, CV_32F, 1.0 / 255.0);

  cv::Mat density(grid, CV_32F, cv::Scalar(o.density_per_cm2));
  const double feather_cells = o.edge_feather_mm * cal.px_per_mm / d.cell_px;
  if (feather_cells > 0.5) {
    cv::Mat binary = inside > 0.5f, dist;
    if (!blend_into.empty()) {
      cv::Mat hair;
      cv::resize(blend_into, hair, grid, 0, 0, cv::INTER_AREA);
      binary |= hair > 127;
    }
    // Gaps narrower than ~2 mm are not edges: a strand of long hair lying over the scalp is
    // hair at work size, so the treatable mask has a gap along it a few pixels wide, and each
    // gap left a feather-sized hole in the density (long hair combed over a thinning top came
    // out as bare circles between grey patches).
    const int close_cells = 2 * static_cast<int>(std::ceil(1.0 * cal.px_per_mm / d.cell_px)) + 1;
    cv::morphologyEx(binary, binary, cv::MORPH_CLOSE,
                     cv::getStructuringElement(cv::MORPH_ELLIPSE, {close_cells, close_cells}));
    cv::distanceTransform(binary, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    // smoothstep ramp: no visible step where the feather ends.
    for (int y = 0; y < grid.height; ++y) {
      const float* dr = dist.ptr<float>(y);
      float* out = density.ptr<float>(y);
      for (int x = 0; x < grid.width; ++x) {
        const double t = std::clamp(dr[x] / feather_cells, 0.0, 1.0);
        out[x] *= static_cast<float>(t * t * (3 - 2 * t));
      }
    }
  }
  cv::multiply(density, cv::min(inside * 2.0, 1.0), density);
  if (!coverage.empty() && o.hair_coverage_reduction > 0) {
    cv::Mat cov;
    cv::resize(coverage, cov, grid, 0, 0, cv::INTER_AREA);
    cv::Mat factor = 1.0 - o.hair_coverage_reduction * cov;
    cv::multiply(density, cv::max(factor, 0.0), density);
  }
  d.density = density;

  // Growth direction, first version: a clockwise whorl around the centroid of the treated
  // area, turning into outward flow away from it (hair on the top of the head leaves the
  // crown in a spiral and runs forward and down). Estimated, not measured from the photo.
  const cv::Moments m = cv::moments(inside, false);
  const double cx = m.m00 > 0 ? m.m10 / m.m00 : grid.width / 2.0;
  const double cy = m.m00 > 0 ? m.m01 / m.m00 : grid.height / 2.0;
  d.growth_angle.create(grid, CV_32F);
  for (int y = 0; y < grid.height; ++y) {
    float* out = d.growth_angle.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      const double outward = std::atan2(y - cy, x - cx);
      out[x] = static_cast<float>(outward + std::numbers::pi / 4);  // 45 deg swirl
    }
  }
  return d;
}

}  // namespace

float density_at(const TreatmentDesign& design, float x, float y) {
  return bilinear(design.density, design.cell_px, x, y, 0.0f);
}

float size_scale_at(const TreatmentDesign& design, float x, float y) {
  return bilinear(design.size_scale, design.cell_px, x, y, 1.0f);
}

float shade_scale_at(const TreatmentDesign& design, float x, float y) {
  return bilinear(design.shade_scale, design.cell_px, x, y, 1.0f);
}

float growth_angle_at(const TreatmentDesign& design, float x, float y) {
  // Angles wrap, so interpolating them would go wrong across +-pi: take the nearest cell.
  if (design.growth_angle.empty()) return 0.0f;
  const int gx = std::clamp(static_cast<int>(x / design.cell_px), 0, design.growth_angle.cols - 1);
  const int gy = std::clamp(static_cast<int>(y / design.cell_px), 0, design.growth_angle.rows - 1);
  return design.growth_angle.at<float>(gy, gx);
}

TreatmentDesign design(const ScalpAnalysis& analysis, const DesignOptions& options) {
  validate(options);
  const Pigment pigment =
      options.pigment.empty()
          ? choose_pigment(analysis.skin_lab, analysis.hair_lab, analysis.hair_found)
          : pigment_by_name(options.pigment);
  try {
    const cv::Mat hair = analysis.labels.empty() ? cv::Mat() : analysis.labels == kHair;
    TreatmentDesign d = build(analysis.treatable, analysis.hair_coverage, hair,
                              analysis.calibration, options, pigment);
    // Strands over the skin hide the pigment; a 3x3 box softens the labels' edge so that it
    // does not show as a step in the rendered shadow.
    if (!hair.empty()) cv::blur(hair, d.occlusion, {3, 3});
    return d;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("design failed: ") + e.what());
  }
}

TreatmentDesign design_from_mask(const cv::Mat& mask, const Calibration& calibration,
                                 double density_per_cm2, const Pigment& pigment,
                                 double edge_feather_mm) {
  const DesignOptions o{.density_per_cm2 = density_per_cm2, .edge_feather_mm = edge_feather_mm};
  validate(o);
  try {
    return build(mask, cv::Mat(), cv::Mat(), calibration, o, pigment);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("design failed: ") + e.what());
  }
}

}  // namespace smp
