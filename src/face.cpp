#include "smp/face.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <opencv2/imgproc.hpp>

// dlib's headers do not build cleanly under our warning set; they are third-party code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/serialize.h>
#pragma GCC diagnostic pop

#include "smp/error.hpp"

namespace smp {
namespace {

constexpr const char* kDebianModel = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

std::string model_path(const FaceOptions& o) {
  if (!o.model_path.empty()) return o.model_path;
  if (const char* env = std::getenv("SMP_DLIB_MODEL"); env && *env) return env;
  return kDebianModel;
}

// The predictor is 99 MB and takes ~1 s to deserialize: read each file once per process and
// share it. shape_predictor::operator() is const, so threads may use one concurrently.
std::shared_ptr<const dlib::shape_predictor> predictor(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const dlib::shape_predictor>> cache;
  const std::lock_guard lock(mutex);
  if (auto it = cache.find(path); it != cache.end()) return it->second;
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec), ErrorCode::kNotFound,
          "face landmark model " + path +
              " not found; install Debian's libdlib-data (apt-get install libdlib-data) or set "
              "SMP_DLIB_MODEL to a shape_predictor_68_face_landmarks.dat");
  auto sp = std::make_shared<dlib::shape_predictor>();
  try {
    dlib::deserialize(path) >> *sp;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kIo, "cannot read face landmark model " + path + ": " + e.what() +
                                    "; reinstall libdlib-data or point SMP_DLIB_MODEL at a "
                                    "valid 68-point model");
  }
  cache.emplace(path, sp);
  return sp;
}

// The HOG detector's operator() is not const (it keeps scratch buffers), so calls share one
// instance under a lock; detection on the downscaled copy is ~0.1 s.
struct Detector {
  std::mutex mutex;
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
};

Detector& detector() {
  static Detector d;  // thread-safe lazy initialization (C++11 magic statics)
  return d;
}

cv::Point2f mean_of(const std::array<cv::Point2f, 68>& p, int first, int count) {
  cv::Point2f s(0, 0);
  for (int i = first; i < first + count; ++i) s += p[i];
  return s * (1.0f / static_cast<float>(count));
}

cv::Point2f unit(cv::Point2f v) {
  const double n = std::hypot(v.x, v.y);
  return n > 0 ? v * static_cast<float>(1.0 / n) : cv::Point2f(1, 0);
}

}  // namespace

double FaceLandmarks::interpupillary_px() const {
  return std::hypot(right_pupil.x - left_pupil.x, right_pupil.y - left_pupil.y);
}

cv::Point2f FaceLandmarks::eye_axis() const {
  return unit(right_pupil - left_pupil);
}

cv::Point2f FaceLandmarks::up_axis() const {
  const cv::Point2f e = eye_axis();
  return {e.y, -e.x};  // eye axis turned 90 deg counter-clockwise on screen (y points down)
}

double FaceLandmarks::cheekbone_width_px() const {
  return std::hypot(points[16].x - points[0].x, points[16].y - points[0].y);
}

FaceLandmarks face_from_points(const std::array<cv::Point2f, 68>& points, cv::Rect face,
                               double confidence) {
  FaceLandmarks f;
  f.points = points;
  f.face = face;
  f.confidence = confidence;
  f.left_pupil = mean_of(points, 36, 6);
  f.right_pupil = mean_of(points, 42, 6);
  f.left_eye_outer = points[36];
  f.right_eye_outer = points[45];
  for (int i = 0; i < 5; ++i) {
    f.left_brow[i] = points[17 + i];
    f.right_brow[i] = points[26 - i];
  }
  // Mid-glabella: the smooth prominence between the brows, at brow height. The inner brow
  // ends (21, 22) bracket it; the nose bridge top (27) sits a little lower.
  f.glabella = (points[21] + points[22]) * 0.5f;
  return f;
}

std::optional<FaceLandmarks> detect_face(const cv::Mat& rgb, const FaceOptions& options) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "face detection needs a non-empty CV_8UC3 RGB image");
  require(options.detect_size >= 64 && options.detect_size <= 8192, ErrorCode::kInvalidArgument,
          "face detect_size must be 64..8192 px (got " + std::to_string(options.detect_size) + ")");
  // Load the model before detecting so a missing file is reported even on faceless photos.
  const auto sp = predictor(model_path(options));
  try {
    const double scale = static_cast<double>(options.detect_size) / std::max(rgb.cols, rgb.rows);
    cv::Mat small;
    cv::resize(rgb, small, cv::Size(), scale, scale, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    std::vector<dlib::rect_detection> dets;
    {
      Detector& d = detector();
      const std::lock_guard lock(d.mutex);
      d.detector(dlib::cv_image<dlib::rgb_pixel>(small), dets, options.adjust_threshold);
    }
    if (dets.empty()) return std::nullopt;
    const auto best = std::max_element(dets.begin(), dets.end(), [](const auto& a, const auto& b) {
      return a.rect.area() < b.rect.area();
    });
    const double inv = 1.0 / scale;
    const dlib::rectangle r(
        std::lround(best->rect.left() * inv), std::lround(best->rect.top() * inv),
        std::lround(best->rect.right() * inv), std::lround(best->rect.bottom() * inv));
    // The shape predictor samples pixels relative to the box, so it runs on the full-resolution
    // photo (wrapped without a copy) for landmarks at full precision.
    const dlib::full_object_detection shape = (*sp)(dlib::cv_image<dlib::rgb_pixel>(rgb), r);
    if (shape.num_parts() != 68) return std::nullopt;
    std::array<cv::Point2f, 68> pts;
    for (unsigned i = 0; i < 68; ++i) {
      pts[i] =
          cv::Point2f(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
    }
    const cv::Rect box(static_cast<int>(r.left()), static_cast<int>(r.top()),
                       static_cast<int>(r.width()), static_cast<int>(r.height()));
    // dlib's score is a margin around 0 (its default threshold); typical clear faces score 1-3.
    const double confidence = 1.0 / (1.0 + std::exp(-2.0 * best->detection_confidence));
    return face_from_points(pts, box, confidence);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("face detection failed: ") + e.what());
  }
}

cv::Mat draw_face_landmarks(const cv::Mat& rgb, const FaceLandmarks& face) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "landmark overlay needs a non-empty CV_8UC3 RGB image");
  cv::Mat out = rgb.clone();
  const int r = std::max(1, static_cast<int>(std::lround(face.interpupillary_px() / 60.0)));
  cv::rectangle(out, face.face, cv::Scalar(255, 255, 0), r);
  for (const auto& p : face.points) cv::circle(out, p, r, cv::Scalar(0, 255, 0), cv::FILLED);
  for (const auto& p : {face.left_pupil, face.right_pupil, face.glabella}) {
    cv::circle(out, p, 3 * r, cv::Scalar(255, 0, 0), r);
  }
  for (const auto& p : {face.left_eye_outer, face.right_eye_outer}) {
    cv::circle(out, p, 3 * r, cv::Scalar(255, 0, 255), r);
  }
  return out;
}

}  // namespace smp
