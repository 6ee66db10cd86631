#include "smp/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <vector>

#include <opencv2/aruco.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"
#include "smp/face.hpp"

namespace smp {

std::string to_string(CalibrationSource source) {
  switch (source) {
    case CalibrationSource::kDefault:
      return "default";
    case CalibrationSource::kHeadSize:
      return "head_size";
    case CalibrationSource::kFace:
      return "face";
    case CalibrationSource::kMarker:
      return "marker";
    case CalibrationSource::kUser:
      return "user";
  }
  return "unknown";
}

Calibration calibration_from_head_breadth(double head_breadth_px) {
  require(head_breadth_px > 0 && std::isfinite(head_breadth_px), ErrorCode::kInvalidArgument,
          "head breadth must be a positive number of pixels");
  // Adult head breadth ~150 mm with a standard deviation of ~6-7% across adults; a photo's
  // mask breadth adds its own error (the head may be partly out of view), hence 15%.
  return {.px_per_mm = head_breadth_px / 150.0,
          .source = CalibrationSource::kHeadSize,
          .relative_uncertainty = 0.15};
}

Calibration calibration_from_user(double px_per_mm) {
  if (!(px_per_mm > 0 && px_per_mm < 1000 && std::isfinite(px_per_mm))) {
    std::ostringstream msg;
    msg << "px per mm must be between 0 and 1000 (got " << px_per_mm
        << "); measure a ruler in the photo or leave it out to estimate it";
    throw Error(ErrorCode::kInvalidArgument, msg.str());
  }
  return {.px_per_mm = px_per_mm, .source = CalibrationSource::kUser, .relative_uncertainty = 0.02};
}

Calibration calibration_from_face(const FaceLandmarks& face) {
  const double ipd_px = face.interpupillary_px();
  require(ipd_px > 1 && std::isfinite(ipd_px), ErrorCode::kInvalidArgument,
          "face landmarks have no inter-pupillary distance; detect the face again");
  // Adult mean inter-pupillary distance 63 mm, sd ~3.5 mm across adults (5.6%); landmark
  // jitter and small head turns add ~2%, hence 6%.
  return {
      .px_per_mm = ipd_px / 63.0, .source = CalibrationSource::kFace, .relative_uncertainty = 0.06};
}

Calibration calibration_from_iris(double iris_diameter_px) {
  require(iris_diameter_px > 1 && std::isfinite(iris_diameter_px), ErrorCode::kInvalidArgument,
          "iris diameter must be a positive number of pixels");
  // Visible iris diameter 11.7-12.2 mm in adults (sd ~0.4 mm, 3.5%); measuring the iris edge
  // in a photo adds several percent, hence 7%.
  return {.px_per_mm = iris_diameter_px / 11.9,
          .source = CalibrationSource::kFace,
          .relative_uncertainty = 0.07};
}

namespace {

cv::Ptr<cv::aruco::Dictionary> dictionary(int id) {
  require(id >= 0 && id <= cv::aruco::DICT_APRILTAG_36h11, ErrorCode::kInvalidArgument,
          "unknown ArUco dictionary " + std::to_string(id) +
              "; use an OpenCV predefined dictionary id (0 = DICT_4X4_50)");
  return cv::aruco::getPredefinedDictionary(id);
}

}  // namespace

std::optional<Calibration> calibration_from_marker(const cv::Mat& rgb,
                                                   const MarkerOptions& options) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "marker calibration needs a non-empty CV_8UC3 RGB image");
  require(options.marker_mm > 0 && options.marker_mm < 1000 && std::isfinite(options.marker_mm),
          ErrorCode::kInvalidArgument,
          "marker size must be 0..1000 mm; measure the printed black square with a ruler");
  try {
    const auto dict = dictionary(options.dictionary);
    cv::Mat gray;
    cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
    // Thresholding windows scale with the image; on 12 MP photos detection is several times
    // slower than on a ~2000 px copy, which still resolves any marker worth measuring. Corners
    // are refined on the full-resolution image afterwards.
    const double scale = std::min(1.0, 2000.0 / std::max(gray.cols, gray.rows));
    cv::Mat work = gray;
    if (scale < 1) cv::resize(gray, work, cv::Size(), scale, scale, cv::INTER_AREA);
    auto params = cv::aruco::DetectorParameters::create();
    params->cornerRefinementMethod = cv::aruco::CORNER_REFINE_SUBPIX;
    std::vector<std::vector<cv::Point2f>> corners;
    std::vector<int> ids;
    cv::aruco::detectMarkers(work, dict, corners, ids, params);

    std::vector<double> sides;
    for (std::size_t m = 0; m < corners.size(); ++m) {
      if (options.id >= 0 && ids[m] != options.id) continue;
      auto c = corners[m];
      if (scale < 1) {
        for (auto& p : c) p *= static_cast<float>(1.0 / scale);
        const int win = std::clamp(static_cast<int>(std::lround(0.5 / scale)) + 2, 3, 10);
        cv::cornerSubPix(
            gray, c, cv::Size(win, win), cv::Size(-1, -1),
            cv::TermCriteria(cv::TermCriteria::EPS | cv::TermCriteria::COUNT, 30, 0.01));
      }
      for (int k = 0; k < 4; ++k) sides.push_back(cv::norm(c[(k + 1) % 4] - c[k]));
    }
    if (sides.empty()) return std::nullopt;
    const double mean = std::accumulate(sides.begin(), sides.end(), 0.0) / sides.size();
    double var = 0;
    for (double s : sides) var += (s - mean) * (s - mean);
    const double sd = std::sqrt(var / sides.size());
    // Corners are good to ~0.3 px each; a tilted marker's sides differ by the foreshortening,
    // and the mean side is then uncertain by about their spread.
    const double corner_term = 0.3 * std::sqrt(2.0) / mean;
    const double rel = std::max(0.005, std::hypot(corner_term, sd / mean));
    return Calibration{.px_per_mm = mean / options.marker_mm,
                       .source = CalibrationSource::kMarker,
                       .relative_uncertainty = rel};
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("marker detection failed: ") + e.what());
  }
}

cv::Mat draw_calibration_marker(const MarkerImageOptions& options) {
  require(options.px_per_cell >= 4 && options.px_per_cell <= 1000 && options.quiet_cells >= 1 &&
              options.quiet_cells <= 10,
          ErrorCode::kInvalidArgument,
          "marker image needs 4..1000 px per cell and 1..10 quiet-zone cells");
  try {
    const auto dict = dictionary(options.dictionary);
    require(options.id >= 0 && options.id < dict->bytesList.rows, ErrorCode::kInvalidArgument,
            "marker id " + std::to_string(options.id) + " is not in the dictionary");
    const int cells = dict->markerSize + 2;  // bits plus the black border
    cv::Mat marker;
    cv::aruco::drawMarker(dict, options.id, cells * options.px_per_cell, marker, 1);
    const int q = options.quiet_cells * options.px_per_cell;
    cv::Mat sheet;
    cv::copyMakeBorder(marker, sheet, q, q, q, q, cv::BORDER_CONSTANT, cv::Scalar(255));
    return sheet;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("marker drawing failed: ") + e.what());
  }
}

}  // namespace smp
