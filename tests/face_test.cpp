// Face landmarks and the calibrations built on them (face, printed marker).
#include "smp/face.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "smp/calibration.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"
#include "test_util.hpp"

namespace smp {
namespace {

TEST(Face, NoFaceOnAPlainImageIsNullopt) {
  const cv::Mat skin(480, 640, CV_8UC3, cv::Scalar(200, 160, 140));
  EXPECT_FALSE(detect_face(skin).has_value());
}

TEST(Face, WrongImageTypeIsInvalidArgument) {
  try {
    detect_face(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0)));
    FAIL() << "expected smp::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(Face, MissingModelNamesThePackage) {
  try {
    detect_face(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0)), {.model_path = "/nonexistent/sp.dat"});
    FAIL() << "expected smp::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("libdlib-data"), std::string::npos) << e.what();
  }
}

TEST(Face, AnchorsFromPoints) {
  std::array<cv::Point2f, 68> pts{};
  for (int i = 0; i < 68; ++i) pts[i] = cv::Point2f(static_cast<float>(i), 100.f);
  for (int i = 36; i < 42; ++i) pts[i] = cv::Point2f(100.f + (i - 36), 200.f);
  for (int i = 42; i < 48; ++i) pts[i] = cv::Point2f(163.f + (i - 42), 200.f);
  const FaceLandmarks f = face_from_points(pts);
  EXPECT_NEAR(f.interpupillary_px(), 63.0, 1e-4);
  EXPECT_NEAR(calibration_from_face(f).px_per_mm, 1.0, 1e-6);
  EXPECT_EQ(calibration_from_face(f).source, CalibrationSource::kFace);
  EXPECT_NEAR(f.up_axis().y, -1.0, 1e-6);  // upright face: scalp is image up
  EXPECT_NEAR(f.glabella.x, 21.5, 1e-6);
}

// --- printed marker ---

// A skin-toned, lightly textured photo with the marker sheet warped into it: `side_px` is the
// marker's side before the perspective jitter, so the true scale is side_px / marker_mm.
cv::Mat marker_phantom(double side_px, double angle_deg, double jitter, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  cv::Mat photo(1200, 1600, CV_8UC3, cv::Scalar(205, 165, 145));
  cv::Mat noise(photo.size(), CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(6));
  photo += noise;
  const MarkerImageOptions mo;  // 6 cells + 1 quiet cell each side
  const cv::Mat sheet = draw_calibration_marker(mo);
  cv::Mat sheet_rgb;
  cv::cvtColor(sheet, sheet_rgb, cv::COLOR_GRAY2RGB);
  const double q = mo.quiet_cells * mo.px_per_cell, m = 6.0 * mo.px_per_cell;
  // Sheet corners -> photo: rotate the marker square around (800, 600), jitter its corners.
  const double a = angle_deg * CV_PI / 180;
  std::vector<cv::Point2f> src, dst;
  for (const auto& c :
       {cv::Point2d(0, 0), cv::Point2d(1, 0), cv::Point2d(1, 1), cv::Point2d(0, 1)}) {
    const double sx = q + c.x * m, sy = q + c.y * m;
    src.emplace_back(static_cast<float>(sx), static_cast<float>(sy));
    const double lx = (c.x - 0.5) * side_px + jitter * side_px * u(rng);
    const double ly = (c.y - 0.5) * side_px + jitter * side_px * u(rng);
    dst.emplace_back(static_cast<float>(800 + lx * std::cos(a) - ly * std::sin(a)),
                     static_cast<float>(600 + lx * std::sin(a) + ly * std::cos(a)));
  }
  const cv::Mat h = cv::getPerspectiveTransform(src, dst);
  cv::Mat warped, cover;
  cv::warpPerspective(sheet_rgb, warped, h, photo.size(), cv::INTER_AREA);
  cv::warpPerspective(cv::Mat(sheet.size(), CV_8U, cv::Scalar(255)), cover, h, photo.size(),
                      cv::INTER_NEAREST);
  warped.copyTo(photo, cover);
  cv::GaussianBlur(photo, photo, cv::Size(0, 0), 0.8);  // camera softness
  return photo;
}

TEST(FaceMarkerCalibration, WarpedMarkerWithin5Percent) {
  const double marker_mm = 40.0;
  int n = 0;
  for (double side : {120.0, 240.0, 500.0}) {
    for (double angle : {0.0, 17.0, -35.0}) {
      const std::uint64_t seed = 1 + static_cast<std::uint64_t>(n++);
      const cv::Mat photo = marker_phantom(side, angle, 0.03, seed);
      const auto cal = calibration_from_marker(photo, {.marker_mm = marker_mm});
      ASSERT_TRUE(cal.has_value()) << "side " << side << " angle " << angle;
      const double truth = side / marker_mm;
      const double err = cal->px_per_mm / truth - 1;
      // Issue 6: calibration error <= 5% with a marker. The corners are jittered by up to 3%
      // of the side, so the mean side itself moves by up to ~3%.
      EXPECT_LE(std::abs(err), 0.05) << "side " << side << " angle " << angle;
      EXPECT_EQ(cal->source, CalibrationSource::kMarker);
      EXPECT_GT(cal->relative_uncertainty, 0.0);
      EXPECT_LT(cal->relative_uncertainty, 0.05);
    }
  }
}

TEST(FaceMarkerCalibration, NoMarkerIsNullopt) {
  const cv::Mat photo(480, 640, CV_8UC3, cv::Scalar(205, 165, 145));
  EXPECT_FALSE(calibration_from_marker(photo).has_value());
  EXPECT_THROW(calibration_from_marker(photo, {.marker_mm = -1}), Error);
}

// samples/marker/ holds the printable marker; it must be exactly what our code draws, so the
// size stated beside it stays true. SMP_REGENERATE_SAMPLES=1 rewrites it.
TEST(FaceMarkerCalibration, SampleMarkerIsCurrentAndReadsItsPrintedScale) {
  const auto path = test::source_dir() / "samples/marker/aruco_4x4_50_id0.png";
  const cv::Mat sheet = draw_calibration_marker();
  ASSERT_EQ(sheet.cols, 640);  // 480 px marker + 2 x 80 px quiet zone
  if (std::getenv("SMP_REGENERATE_SAMPLES") || !std::filesystem::exists(path)) {
    std::filesystem::create_directories(path.parent_path());
    write_image(path, sheet);
  }
  const cv::Mat loaded = load_image(path, {.apply_exif_orientation = false});
  cv::Mat gray;
  cv::extractChannel(loaded, gray, 0);
  ASSERT_EQ(gray.size(), sheet.size());
  EXPECT_EQ(cv::countNonZero(gray != sheet), 0) << "regenerate with SMP_REGENERATE_SAMPLES=1";
  // Printed at 300 dpi the black square is 480 px = 40.64 mm.
  const auto cal = calibration_from_marker(loaded, {.marker_mm = kSampleMarkerMm});
  ASSERT_TRUE(cal.has_value());
  EXPECT_NEAR(cal->px_per_mm, kSampleMarkerDpi / 25.4, 0.01 * kSampleMarkerDpi / 25.4);
}

// --- real faces ---

struct FassegImage {
  std::string name;
  std::filesystem::path image, mask;
};

std::vector<FassegImage> fasseg_frontal(const std::string& mask_dir) {
  const auto root = test::shared_data() / "fasseg";
  std::ifstream index(root / "index.csv");
  std::vector<FassegImage> out;
  std::string line;
  std::getline(index, line);  // header
  while (std::getline(index, line)) {
    std::stringstream ss(line);
    std::string name, subset;
    std::getline(ss, name, ',');
    std::getline(ss, subset, ',');
    if (subset != "frontal") continue;
    out.push_back({name, root / "images" / (name + ".png"), root / mask_dir / (name + ".png")});
  }
  return out;
}

// Landmark calibration (inter-pupillary distance = 63 mm) applied to the face's breadth: points
// 0 and 16 are the jaw-line ends beside the ears at eye level, where the face is widest (the
// zygomatic arches); 1 and 15 sit lower, on the cheeks, and read ~5% narrower. Adult
// bizygomatic breadth is ~12-15 cm (women ~13, men ~14).
TEST(FaceFasseg, LandmarkCalibrationGivesPlausibleFaceWidths) {
  SMP_REQUIRE_SHARED_DATA("fasseg/images");
  const auto images = fasseg_frontal("masks");
  ASSERT_FALSE(images.empty());
#if defined(__SANITIZE_ADDRESS__)
  const std::size_t stride = 9;  // dlib's detector is ~20x slower in sanitized debug builds
#else
  const std::size_t stride = 1;
#endif
  int tried = 0, found = 0, within = 0;
  std::vector<double> widths, widths_1_15;
  for (std::size_t i = 0; i < images.size(); i += stride) {
    ++tried;
    const cv::Mat photo = load_image(images[i].image);
    const auto face = detect_face(photo);
    if (!face) {
      std::printf("  no face: %s\n", images[i].name.c_str());
      continue;
    }
    ++found;
    const Calibration cal = calibration_from_face(*face);
    const double w = cal.px_to_mm(face->cheekbone_width_px());
    const double w115 = cal.px_to_mm(cv::norm(face->points[15] - face->points[1]));
    widths.push_back(w);
    widths_1_15.push_back(w115);
    if (w >= 120 && w <= 160) ++within;
  }
  ASSERT_GT(found, 0);
  std::sort(widths.begin(), widths.end());
  std::sort(widths_1_15.begin(), widths_1_15.end());
  const double pct = 100.0 * within / found;
  std::printf(
      "fasseg frontal: %d images, %d faces found; width 0-16: min %.1f median %.1f max %.1f mm, "
      "%.1f%% within 120-160 mm; width 1-15: median %.1f mm\n",
      tried, found, widths.front(), widths[widths.size() / 2], widths.back(), pct,
      widths_1_15[widths_1_15.size() / 2]);
  // A frontal face database: nearly all faces are found.
  EXPECT_GE(found, tried * 9 / 10);
  EXPECT_GE(pct, 95.0);  // issue 6
  // Bounded on both sides: the median should sit at the adult mean (~13.5-14 cm).
  EXPECT_GT(widths[widths.size() / 2], 125.0);
  EXPECT_LT(widths[widths.size() / 2], 150.0);
}

}  // namespace
}  // namespace smp
