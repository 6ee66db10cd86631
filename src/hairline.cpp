#include "smp/hairline.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"

namespace smp {
namespace {

struct StyleParams {
  double zone_mm;
  double edge_density, edge_size, edge_shade;
  // Irregularity along the line: amplitude (mm) and wavelength (mm) at a large and a small scale.
  double large_amp, large_len, small_amp, small_len;
};

StyleParams style_params(HairlineStyle s) {
  switch (s) {
    // Soft: single, fine, light dots first, filling in over ~1 cm (practitioners' "faded").
    case HairlineStyle::kSoft:
      return {8, 0.12, 0.70, 0.70, 1.0, 20, 0.4, 3};
    case HairlineStyle::kSharp:
      return {3, 0.60, 0.90, 0.90, 0.5, 25, 0.2, 3};
    case HairlineStyle::kBroken:
      return {6, 0.25, 0.80, 0.80, 2.5, 15, 1.2, 3};
    case HairlineStyle::kReceded:
      return {6, 0.20, 0.80, 0.80, 1.0, 20, 0.4, 3};
    case HairlineStyle::kFemale:
      return {7, 0.12, 0.70, 0.70, 0.6, 20, 0.3, 3};
  }
  return {8, 0.12, 0.70, 0.70, 1.0, 20, 0.4, 3};
}

void set_edge(Hairline& h, HairlineStyle s) {
  const StyleParams p = style_params(s);
  h.edge_density = p.edge_density;
  h.edge_size = p.edge_size;
  h.edge_shade = p.edge_shade;
}

double smoothstep(double t) {
  t = std::clamp(t, 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

cv::Point2f unit(cv::Point2f v) {
  const double n = std::hypot(v.x, v.y);
  return n > 0 ? v * static_cast<float>(1.0 / n) : cv::Point2f(0, -1);
}

// Lateral axis (image left to right) of a line whose scalp side is `up`.
cv::Point2f lateral(cv::Point2f up) {
  return {-up.y, up.x};
}

// Smooth 1-D value noise in [-1, 1]: seeded random values at integer knots, smoothstep between.
class ValueNoise {
 public:
  ValueNoise(std::uint64_t seed, int knots) : values_(static_cast<std::size_t>(knots) + 2) {
    std::mt19937_64 rng(seed);
    // Raw engine output (portable across standard libraries, unlike the distributions).
    for (double& v : values_) v = static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
  }
  [[nodiscard]] double operator()(double x) const {
    x = std::clamp(x, 0.0, static_cast<double>(values_.size() - 2));
    const auto i = static_cast<std::size_t>(x);
    const double f = smoothstep(x - static_cast<double>(i));
    return values_[i] * (1 - f) + values_[i + 1] * f;
  }

 private:
  std::vector<double> values_;
};

// Centripetal Catmull-Rom through `ctrl`, sampled every ~`step` units along the curve.
std::vector<cv::Point2d> catmull_rom(const std::vector<cv::Point2d>& ctrl, double step) {
  std::vector<cv::Point2d> out;
  const std::size_t n = ctrl.size();
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const cv::Point2d p0 = i == 0 ? 2 * ctrl[0] - ctrl[1] : ctrl[i - 1];
    const cv::Point2d p1 = ctrl[i], p2 = ctrl[i + 1];
    const cv::Point2d p3 = i + 2 < n ? ctrl[i + 2] : 2 * ctrl[n - 1] - ctrl[n - 2];
    auto knot = [](cv::Point2d a, cv::Point2d b) {
      return std::sqrt(std::max(cv::norm(b - a), 1e-6));
    };
    const double t0 = 0, t1 = knot(p0, p1), t2 = t1 + knot(p1, p2), t3 = t2 + knot(p2, p3);
    const int samples = std::max(1, static_cast<int>(std::ceil(cv::norm(p2 - p1) / step)));
    for (int k = 0; k < samples; ++k) {
      const double t = t1 + (t2 - t1) * k / samples;
      const cv::Point2d a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1;
      const cv::Point2d a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2;
      const cv::Point2d a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3;
      const cv::Point2d b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2;
      const cv::Point2d b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3;
      out.push_back((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2);
    }
  }
  out.push_back(ctrl.back());
  return out;
}

// One half of a template in the face frame (mm; u outward from the midline, v up from the
// glabella), from the mid-frontal point out to the temple. `xt` is the temporal line: the
// outer eye corner plus the temple offset, where the temporal point sits.
std::vector<cv::Point2d> half_template(HairlineStyle s, double h, double xt) {
  switch (s) {
    case HairlineStyle::kReceded:
      // Mature: the frontotemporal angles recede ~2.5 cm behind the mid-frontal point.
      return {{0, h},
              {0.4 * xt, h + 4},
              {0.65 * xt, h + 14},
              {0.82 * xt, h + 25},
              {0.95 * xt, 0.66 * h},
              {1.0 * xt, 0.45 * h},
              {1.08 * xt, 0.25 * h}};
    case HairlineStyle::kFemale:
      // Rounded arch, no temple recession: the line falls steadily towards the temples.
      return {{0, h},
              {0.4 * xt, h - 3},
              {0.75 * xt, h - 12},
              {0.95 * xt, 0.75 * h},
              {1.0 * xt, 0.5 * h},
              {1.07 * xt, 0.3 * h}};
    case HairlineStyle::kSoft:
    case HairlineStyle::kSharp:
    case HairlineStyle::kBroken:
      break;
  }
  // Adult male: a nearly flat front with a mild (~5 mm) recession at the frontotemporal
  // angles, rounded into the temple line down to the temporal point (the barber's line-up with
  // rounded temples of real work, smp-real; a 1 cm rise ending in a sharp drop drew a horn at
  // each corner).
  return {{0, h},
          {0.45 * xt, h + 2},
          {0.75 * xt, h + 5},
          {0.90 * xt, h + 4},
          {0.97 * xt, h - 6},
          {1.0 * xt, 0.64 * h},
          {1.02 * xt, 0.45 * h},
          {1.08 * xt, 0.25 * h}};
}

void validate(const HairlineOptions& o) {
  std::ostringstream msg;
  if (!(o.height_mm >= 30 && o.height_mm <= 150)) {
    msg << "hairline height must be 30..150 mm above the glabella (got " << o.height_mm
        << "); 50-90 mm is usual";
  } else if (!(o.zone_mm <= 30)) {
    msg << "hairline transition zone must be at most 30 mm (got " << o.zone_mm << ")";
  } else if (!(o.widows_peak_mm >= 0 && o.widows_peak_mm <= 30)) {
    msg << "widow's peak depth must be 0..30 mm (got " << o.widows_peak_mm << ")";
  } else if (!(o.temple_offset_mm >= -20 && o.temple_offset_mm <= 40)) {
    msg << "temple offset must be -20..40 mm (got " << o.temple_offset_mm << ")";
  } else {
    return;
  }
  throw Error(ErrorCode::kInvalidArgument, msg.str());
}

// Scalp-side polygon: the line, extended far sideways from its ends and closed far behind it.
std::vector<cv::Point2f> scalp_polygon(const Hairline& h, float far) {
  const cv::Point2f up = unit(h.scalp_direction), lat = lateral(up);
  std::vector<cv::Point2f> poly;
  poly.reserve(h.line.size() + 4);
  poly.push_back(h.line.front() - lat * far);
  poly.insert(poly.end(), h.line.begin(), h.line.end());
  poly.push_back(h.line.back() + lat * far);
  poly.push_back(h.line.back() + lat * far + up * far);
  poly.push_back(h.line.front() - lat * far + up * far);
  return poly;
}

constexpr int kShift = 4;  // fixed-point bits for sub-pixel polygon and line drawing

std::vector<cv::Point> fixed_point(const std::vector<cv::Point2f>& pts, double scale,
                                   double offset) {
  std::vector<cv::Point> out;
  out.reserve(pts.size());
  for (const auto& p : pts) {
    out.emplace_back(static_cast<int>(std::lround((p.x * scale + offset) * (1 << kShift))),
                     static_cast<int>(std::lround((p.y * scale + offset) * (1 << kShift))));
  }
  return out;
}

cv::Mat scalp_side_mask(const Hairline& h, cv::Size size, double cell_px) {
  const float far =
      4.0f * static_cast<float>(size.width + size.height) * static_cast<float>(cell_px);
  cv::Mat inside(size, CV_8U, cv::Scalar(0));
  const auto poly = fixed_point(scalp_polygon(h, far), 1.0 / cell_px, 0.5 / cell_px - 0.5);
  cv::fillPoly(inside, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255), cv::LINE_8,
               kShift);
  return inside;
}

void require_line(const Hairline& h) {
  require(h.line.size() >= 2, ErrorCode::kInvalidArgument,
          "a hairline needs at least 2 points (got " + std::to_string(h.line.size()) + ")");
  require(h.zone_px >= 0 && std::isfinite(h.zone_px), ErrorCode::kInvalidArgument,
          "hairline zone must be >= 0 px");
  for (const auto& p : h.line) {
    require(std::isfinite(p.x) && std::isfinite(p.y) && std::abs(p.x) < 1e6 && std::abs(p.y) < 1e6,
            ErrorCode::kInvalidArgument, "hairline points must be finite pixel coordinates");
  }
}

}  // namespace

HairlineStyle parse_hairline_style(const std::string& text) {
  if (text == "soft" || text == "faded") return HairlineStyle::kSoft;
  if (text == "sharp" || text == "defined") return HairlineStyle::kSharp;
  if (text == "broken" || text == "jagged") return HairlineStyle::kBroken;
  if (text == "receded" || text == "mature") return HairlineStyle::kReceded;
  if (text == "female") return HairlineStyle::kFemale;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown hairline style '" + text + "'; use soft, sharp, broken, receded or female");
}

std::string to_string(HairlineStyle style) {
  switch (style) {
    case HairlineStyle::kSoft:
      return "soft";
    case HairlineStyle::kSharp:
      return "sharp";
    case HairlineStyle::kBroken:
      return "broken";
    case HairlineStyle::kReceded:
      return "receded";
    case HairlineStyle::kFemale:
      return "female";
  }
  return "unknown";
}

Hairline hairline_from_template(const FaceLandmarks& face, const Calibration& calibration,
                                const HairlineOptions& options) {
  validate(options);
  require(calibration.px_per_mm > 0 && std::isfinite(calibration.px_per_mm),
          ErrorCode::kInvalidArgument,
          "hairline design needs a calibration (px per mm); give one or use a marker");
  const double ppm = calibration.px_per_mm;
  const cv::Point2f ex = face.eye_axis(), up = face.up_axis();
  const cv::Point2f g = face.glabella;
  // Outer eye corners on the eye axis, mm from the glabella (each side on its own, so an
  // asymmetric face keeps its own temporal points).
  const double left_corner = -(face.left_eye_outer - g).dot(ex) / ppm;
  const double right_corner = (face.right_eye_outer - g).dot(ex) / ppm;
  require(left_corner > 5 && right_corner > 5, ErrorCode::kInvalidArgument,
          "face landmarks put the outer eye corners on the wrong side of the glabella");
  const StyleParams sp = style_params(options.style);
  const double h = options.height_mm;

  // The full template, left end to right end, in the face frame (mm).
  std::vector<cv::Point2d> ctrl;
  {
    auto left = half_template(options.style, h, left_corner + options.temple_offset_mm);
    auto right = half_template(options.style, h, right_corner + options.temple_offset_mm);
    for (auto it = left.rbegin(); it != left.rend(); ++it) ctrl.emplace_back(-it->x, it->y);
    ctrl.insert(ctrl.end(), right.begin() + 1, right.end());
  }
  std::vector<cv::Point2d> mm = catmull_rom(ctrl, 0.5);
  if (options.widows_peak && options.widows_peak_mm > 0) {
    // A V at the middle: the tip stays at the mid-frontal point, the line rises to
    // widows_peak_mm 15 mm either side and blends back into the template 20 mm further out.
    constexpr double kTip = 15, kBlend = 20;
    for (auto& p : mm) {
      const double a = std::abs(p.x);
      const double rise = a < kTip ? a / kTip : 1.0 - smoothstep((a - kTip) / kBlend);
      if (p.y > 0.8 * h) p.y += options.widows_peak_mm * rise;
    }
  }
  // Irregularity at two scales along the curve, normal to it; none at the tip so the
  // mid-frontal point keeps its designed height.
  std::vector<double> arc(mm.size(), 0.0);
  for (std::size_t i = 1; i < mm.size(); ++i) arc[i] = arc[i - 1] + cv::norm(mm[i] - mm[i - 1]);
  const double length = arc.back();
  const ValueNoise large(options.seed * 2 + 1,
                         static_cast<int>(std::ceil(length / sp.large_len)) + 1);
  const ValueNoise small(options.seed * 2 + 2,
                         static_cast<int>(std::ceil(length / sp.small_len)) + 1);
  std::size_t mid = 0;
  for (std::size_t i = 0; i < mm.size(); ++i) {
    if (std::abs(mm[i].x) < std::abs(mm[mid].x)) mid = i;
  }
  Hairline out;
  out.line.reserve(mm.size());
  for (std::size_t i = 0; i < mm.size(); ++i) {
    const cv::Point2d t = mm[std::min(i + 1, mm.size() - 1)] - mm[i == 0 ? 0 : i - 1];
    const double tn = std::max(cv::norm(t), 1e-9);
    const cv::Point2d n(-t.y / tn, t.x / tn);  // towards the scalp (v up, u to the right)
    const double from_tip = std::abs(arc[i] - arc[mid]);
    const double pin = smoothstep(from_tip / 10.0);
    const double off = pin * (sp.large_amp * large(arc[i] / sp.large_len) +
                              sp.small_amp * small(arc[i] / sp.small_len));
    const cv::Point2d q = mm[i] + off * n;
    out.line.push_back(g + (ex * static_cast<float>(q.x) + up * static_cast<float>(q.y)) *
                               static_cast<float>(ppm));
  }
  const double zone_mm = options.zone_mm >= 0 ? options.zone_mm : sp.zone_mm;
  out.zone_px = zone_mm * ppm;
  out.scalp_direction = up;
  set_edge(out, options.style);
  out.source = "template:" + to_string(options.style) + (options.widows_peak ? "+peak" : "");
  return out;
}

Hairline hairline_from_json(const std::string& json_text, const Calibration& calibration) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("hairline JSON does not parse: ") +
                                                 e.what() +
                                                 "; expected {\"points\": [[x, y], ...]}");
  }
  try {
    require(j.is_object() && j.contains("points") && j["points"].is_array(),
            ErrorCode::kInvalidArgument,
            "hairline JSON needs a \"points\" array of [x, y] pixel pairs");
    Hairline h;
    HairlineStyle style = HairlineStyle::kSoft;
    if (j.contains("style")) style = parse_hairline_style(j["style"].get<std::string>());
    for (const auto& p : j["points"]) {
      require(p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number(),
              ErrorCode::kInvalidArgument,
              "every hairline point must be an [x, y] pair of numbers (pixels)");
      h.line.emplace_back(p[0].get<float>(), p[1].get<float>());
    }
    if (j.contains("scalp_direction")) {
      const auto& d = j["scalp_direction"];
      require(d.is_array() && d.size() == 2 && d[0].is_number() && d[1].is_number(),
              ErrorCode::kInvalidArgument, "scalp_direction must be an [x, y] pair");
      const cv::Point2f v(d[0].get<float>(), d[1].get<float>());
      require(std::hypot(v.x, v.y) > 1e-6, ErrorCode::kInvalidArgument,
              "scalp_direction must not be [0, 0]");
      h.scalp_direction = unit(v);
    }
    if (j.contains("zone_px")) {
      h.zone_px = j["zone_px"].get<double>();
    } else {
      const double zone_mm =
          j.contains("zone_mm") ? j["zone_mm"].get<double>() : style_params(style).zone_mm;
      require(zone_mm >= 0 && zone_mm <= 30, ErrorCode::kInvalidArgument,
              "hairline zone_mm must be 0..30");
      require(calibration.px_per_mm > 0, ErrorCode::kInvalidArgument,
              "hairline zone_mm needs a calibration; give zone_px instead");
      h.zone_px = zone_mm * calibration.px_per_mm;
    }
    require_line(h);
    // Left to right along the lateral axis of the scalp direction.
    const cv::Point2f lat = lateral(h.scalp_direction);
    if ((h.line.back() - h.line.front()).dot(lat) < 0) std::reverse(h.line.begin(), h.line.end());
    set_edge(h, style);
    h.source = "json";
    return h;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("hairline JSON: ") + e.what());
  }
}

Hairline load_hairline(const std::filesystem::path& path, const Calibration& calibration) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), ErrorCode::kIo,
          "cannot open hairline file " + path.string() + "; check the path");
  std::ostringstream text;
  text << in.rdbuf();
  require(!in.bad(), ErrorCode::kIo, "cannot read hairline file " + path.string());
  Hairline h = hairline_from_json(text.str(), calibration);
  h.source = "json:" + path.filename().string();
  return h;
}

std::string hairline_to_json(const Hairline& hairline) {
  nlohmann::json j;
  j["points"] = nlohmann::json::array();
  for (const auto& p : hairline.line) j["points"].push_back({p.x, p.y});
  j["zone_px"] = hairline.zone_px;
  j["scalp_direction"] = {hairline.scalp_direction.x, hairline.scalp_direction.y};
  return j.dump();
}

std::optional<Hairline> detect_existing_hairline(const cv::Mat& labels,
                                                 const std::optional<FaceLandmarks>& face,
                                                 const HairlineOptions& options, double px_per_mm) {
  require(!labels.empty() && labels.type() == CV_8UC1, ErrorCode::kInvalidArgument,
          "hairline detection needs a CV_8UC1 label map (0 bg, 1 skin, 2 hair)");
  // Scale of the head in px: the inter-pupillary distance when a face is known, else a
  // fraction of the head's width.
  const cv::Mat head = (labels == kSkin) | (labels == kHair);
  const cv::Rect hb = cv::boundingRect(head);
  if (hb.width < 8 || hb.height < 8) return std::nullopt;
  const double scale_px = face ? face->interpupillary_px() : 0.4 * hb.width;

  // Specks of hair on the forehead (stray hairs, label noise) and of skin inside the hair
  // (highlights, partings) would stop the column scan early: open both away first.
  const int k = std::max(1, static_cast<int>(std::lround(scale_px / 40.0)));
  const cv::Mat kernel =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * k + 1, 2 * k + 1));
  cv::Mat hair = labels == kHair, skin = labels == kSkin;
  cv::morphologyEx(hair, hair, cv::MORPH_OPEN, kernel);
  cv::morphologyEx(skin, skin, cv::MORPH_OPEN, kernel);

  int x0 = 0, x1 = 0;
  std::vector<float> start_y;  // per column: forehead row to scan up from (face known)
  if (face) {
    // Across the forehead: between the outer ends of the brows.
    x0 = static_cast<int>(std::ceil(face->points[17].x));
    x1 = static_cast<int>(std::floor(face->points[26].x));
  } else {
    x0 = hb.x + static_cast<int>(0.2 * hb.width);
    x1 = hb.x + static_cast<int>(0.8 * hb.width);
  }
  x0 = std::clamp(x0, 0, labels.cols - 1);
  x1 = std::clamp(x1, 0, labels.cols - 1);
  if (x1 - x0 < 4) return std::nullopt;
  const int n = x1 - x0 + 1;
  std::vector<float> ys(static_cast<std::size_t>(n), -1.f);
  for (int x = x0; x <= x1; ++x) {
    float found = -1.f;
    if (face) {
      // Bottom-up from well above the brows through forehead skin to the first hair.
      float brow_top = 1e9f;
      for (int i = 17; i <= 26; ++i) brow_top = std::min(brow_top, face->points[i].y);
      int y = std::clamp(static_cast<int>(brow_top - 0.15 * scale_px), 0, labels.rows - 1);
      if (!skin.at<std::uint8_t>(y, x)) {
        // Brows or a shadow at the start row: look a little higher for forehead skin.
        const int limit = std::max(0, y - static_cast<int>(0.3 * scale_px));
        while (y > limit && !skin.at<std::uint8_t>(y, x) && !hair.at<std::uint8_t>(y, x)) --y;
        if (!skin.at<std::uint8_t>(y, x)) continue;
      }
      while (y > 0 && skin.at<std::uint8_t>(y - 1, x)) --y;
      if (y > 0 && hair.at<std::uint8_t>(y - 1, x)) found = static_cast<float>(y) - 0.5f;
    } else {
      // Top-down: through background and hair; the first skin below hair ends the hair.
      bool seen_hair = false;
      for (int y = 0; y < labels.rows; ++y) {
        if (hair.at<std::uint8_t>(y, x)) {
          seen_hair = true;
        } else if (skin.at<std::uint8_t>(y, x)) {
          if (seen_hair) found = static_cast<float>(y) - 0.5f;
          break;
        }
      }
    }
    ys[static_cast<std::size_t>(x - x0)] = found;
  }
  const auto valid = std::count_if(ys.begin(), ys.end(), [](float v) { return v >= 0; });
  if (valid < n / 4 || valid < 3) return std::nullopt;

  // Robust smoothing: a running median over ~1/8 of the inter-pupillary distance (removes
  // single-column spikes where a strand crosses the forehead), then a short running mean.
  const int half = std::max(1, static_cast<int>(scale_px / 16.0));
  std::vector<float> med(ys.size(), -1.f);
  std::vector<float> window;
  for (int i = 0; i < n; ++i) {
    window.clear();
    for (int j = std::max(0, i - half); j <= std::min(n - 1, i + half); ++j) {
      if (ys[static_cast<std::size_t>(j)] >= 0) window.push_back(ys[static_cast<std::size_t>(j)]);
    }
    if (ys[static_cast<std::size_t>(i)] < 0 || window.empty()) continue;
    std::nth_element(window.begin(), window.begin() + window.size() / 2, window.end());
    med[static_cast<std::size_t>(i)] = window[window.size() / 2];
  }
  Hairline h;
  const int step = std::max(1, n / 256);  // a few hundred points are plenty for any photo
  for (int i = 0; i < n; i += step) {
    double sum = 0;
    int count = 0;
    for (int j = std::max(0, i - half / 2); j <= std::min(n - 1, i + half / 2); ++j) {
      if (med[static_cast<std::size_t>(j)] >= 0) {
        sum += med[static_cast<std::size_t>(j)];
        ++count;
      }
    }
    // Columns without a boundary (bangs, a bald patch) are left out; the line bridges them.
    if (med[static_cast<std::size_t>(i)] >= 0 && count > 0) {
      h.line.emplace_back(static_cast<float>(x0 + i), static_cast<float>(sum / count));
    }
  }
  if (h.line.size() < 2) return std::nullopt;
  const StyleParams sp = style_params(options.style);
  double ppm = px_per_mm;
  if (!(ppm > 0)) ppm = face ? face->interpupillary_px() / 63.0 : hb.width / 150.0;
  h.zone_px = (options.zone_mm >= 0 ? options.zone_mm : sp.zone_mm) * ppm;
  h.scalp_direction = cv::Point2f(0, -1);
  set_edge(h, options.style);
  h.source = "existing";
  return h;
}

std::optional<Hairline> detect_existing_hairline(const ScalpAnalysis& analysis,
                                                 const std::optional<FaceLandmarks>& face,
                                                 const HairlineOptions& options) {
  return detect_existing_hairline(analysis.labels, face, options, analysis.calibration.px_per_mm);
}

cv::Mat hairline_signed_distance(const Hairline& hairline, cv::Size image_size, double cell_px) {
  require_line(hairline);
  require(image_size.width > 0 && image_size.height > 0 && cell_px >= 1,
          ErrorCode::kInvalidArgument, "signed distance needs a positive size and cell >= 1 px");
  const cv::Size grid(static_cast<int>(std::ceil(image_size.width / cell_px)),
                      static_cast<int>(std::ceil(image_size.height / cell_px)));
  const cv::Mat inside = scalp_side_mask(hairline, grid, cell_px);
  cv::Mat not_line(grid, CV_8U, cv::Scalar(255));
  cv::polylines(not_line, fixed_point(hairline.line, 1.0 / cell_px, 0.5 / cell_px - 0.5), false,
                cv::Scalar(0), 1, cv::LINE_8, kShift);
  cv::Mat dist;
  cv::distanceTransform(not_line, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  dist *= cell_px;
  for (int y = 0; y < grid.height; ++y) {
    const std::uint8_t* in = inside.ptr<std::uint8_t>(y);
    float* dr = dist.ptr<float>(y);
    for (int x = 0; x < grid.width; ++x) {
      if (!in[x]) dr[x] = -dr[x];
    }
  }
  return dist;
}

void apply_hairline(TreatmentDesign& design, const Hairline& hairline) {
  require_line(hairline);
  require(!design.density.empty() && design.density.type() == CV_32FC1 && design.cell_px >= 1,
          ErrorCode::kInvalidArgument, "apply_hairline needs a design with a density grid");
  try {
    const cv::Mat sd = hairline_signed_distance(hairline, design.image_size, design.cell_px);
    cv::Mat d = sd;
    if (d.size() != design.density.size()) {
      cv::resize(sd, d, design.density.size(), 0, 0, cv::INTER_NEAREST);
    }
    const cv::Size g = design.density.size();
    cv::Mat size_scale(g, CV_32F), shade_scale(g, CV_32F), zone(g, CV_32F);
    const double z = hairline.zone_px;
    for (int y = 0; y < g.height; ++y) {
      const float* dr = d.ptr<float>(y);
      float* den = design.density.ptr<float>(y);
      float* sz = size_scale.ptr<float>(y);
      float* sh = shade_scale.ptr<float>(y);
      float* zr = zone.ptr<float>(y);
      for (int x = 0; x < g.width; ++x) {
        if (dr[x] < 0) {  // face side
          den[x] = 0;
          sz[x] = static_cast<float>(hairline.edge_size);
          sh[x] = static_cast<float>(hairline.edge_shade);
          zr[x] = 0;
          continue;
        }
        const double t = z > 0 ? smoothstep(dr[x] / z) : 1.0;
        // Density rises from 0 exactly at the line (a step there would line dots up along it,
        // a visible "drawn" edge) to edge_density within the front 30% of the zone, then to full.
        const double first = z > 0 ? smoothstep(dr[x] / (0.3 * z)) : 1.0;
        den[x] *=
            static_cast<float>(hairline.edge_density * first + (1 - hairline.edge_density) * t);
        sz[x] = static_cast<float>(hairline.edge_size + (1 - hairline.edge_size) * t);
        sh[x] = static_cast<float>(hairline.edge_shade + (1 - hairline.edge_shade) * t);
        zr[x] = static_cast<float>(1 - t);
      }
    }
    // Several hairlines (e.g. an existing line and a lowered design) compose by multiplying.
    if (!design.size_scale.empty()) cv::multiply(size_scale, design.size_scale, size_scale);
    if (!design.shade_scale.empty()) cv::multiply(shade_scale, design.shade_scale, shade_scale);
    if (!design.hairline_zone.empty()) zone = cv::max(zone, design.hairline_zone);
    design.size_scale = size_scale;
    design.shade_scale = shade_scale;
    design.hairline_zone = zone;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("apply_hairline failed: ") + e.what());
  }
}

cv::Mat hairline_overlay(const cv::Mat& rgb, const Hairline& hairline,
                         const HairlineOverlayOptions& options) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "hairline overlay needs a non-empty CV_8UC3 RGB image");
  require_line(hairline);
  try {
    cv::Mat out = rgb.clone();
    // The zone on a grid of <= ~1024 cells per side, upsampled: a 12 MP distance transform at
    // full resolution would cost ~0.1 s for a picture nobody inspects at pixel level.
    const double cell = std::max(1.0, std::ceil(std::max(rgb.cols, rgb.rows) / 1024.0));
    cv::Mat sd = hairline_signed_distance(hairline, rgb.size(), cell);
    if (sd.size() != rgb.size()) cv::resize(sd, sd, rgb.size(), 0, 0, cv::INTER_LINEAR);
    const cv::Mat in_zone = (sd >= 0) & (sd <= std::max(hairline.zone_px, 1.0));
    cv::Mat tint(rgb.size(), CV_8UC3, options.zone_rgb), blended;
    cv::addWeighted(rgb, 1.0 - options.zone_alpha, tint, options.zone_alpha, 0.0, blended);
    blended.copyTo(out, in_zone);
    const int th = options.thickness_px > 0
                       ? options.thickness_px
                       : std::max(1, static_cast<int>(std::max(rgb.cols, rgb.rows) / 400));
    cv::polylines(out, fixed_point(hairline.line, 1.0, 0.0), false, options.line_rgb, th,
                  cv::LINE_AA, kShift);
    return out;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("hairline overlay failed: ") + e.what());
  }
}

}  // namespace smp
