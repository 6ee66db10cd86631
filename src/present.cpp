// Present: before/after compositions and label overlays for the consultation.
#include "smp/present.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "smp/error.hpp"

namespace smp {

namespace {

std::string size_str(const cv::Mat& m) {
  return std::to_string(m.cols) + "x" + std::to_string(m.rows);
}

// Caption in the top-left corner: white text with a dark outline, readable on skin, hair and
// background alike. Sized from the panel height so it reads the same at any resolution.
void draw_caption(cv::Mat& panel, const std::string& text) {
  if (text.empty() || panel.rows < 8 || panel.cols < 8) return;
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  double scale = std::clamp(panel.rows / 700.0, 0.35, 4.0);
  int thickness = std::max(1, static_cast<int>(std::lround(scale * 2)));
  int baseline = 0;
  cv::Size ts = cv::getTextSize(text, font, scale, thickness, &baseline);
  // Shrink long captions to fit the panel width.
  const int margin = std::max(3, panel.rows / 60);
  if (ts.width > panel.cols - 2 * margin) {
    scale *= static_cast<double>(panel.cols - 2 * margin) / ts.width;
    scale = std::max(scale, 0.2);
    thickness = std::max(1, static_cast<int>(std::lround(scale * 2)));
    ts = cv::getTextSize(text, font, scale, thickness, &baseline);
  }
  const cv::Point org(margin, margin + ts.height);
  const int outline = thickness + std::max(2, thickness);
  cv::putText(panel, text, org, font, scale, cv::Scalar(20, 20, 20), outline, cv::LINE_AA);
  cv::putText(panel, text, org, font, scale, cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
}

}  // namespace

cv::Mat side_by_side(const std::vector<std::pair<std::string, cv::Mat>>& panels,
                     const CompareOptions& options) {
  require(!panels.empty(), ErrorCode::kInvalidArgument,
          "side_by_side: no panels given; pass at least one image");
  require(options.gap_px >= 0 && options.max_side_px >= 0, ErrorCode::kInvalidArgument,
          "side_by_side: gap_px and max_side_px must be >= 0 (0 = automatic / no limit)");
  const cv::Mat& first = panels.front().second;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const cv::Mat& m = panels[i].second;
    const std::string name =
        "side_by_side: panel " + std::to_string(i) + " (\"" + panels[i].first + "\")";
    require(!m.empty(), ErrorCode::kInvalidArgument, name + " is empty");
    require(m.type() == CV_8UC3, ErrorCode::kInvalidArgument,
            name + " must be CV_8UC3 RGB; convert it first");
    require(m.size() == first.size(), ErrorCode::kInvalidArgument,
            name + " is " + size_str(m) + " but panel 0 is " + size_str(first) +
                "; render every panel from the same photo");
  }
  try {
    const int n = static_cast<int>(panels.size());
    const int w = first.cols, h = first.rows;
    int gap = options.gap_px > 0 ? options.gap_px
                                 : std::max(2, static_cast<int>(std::lround(0.01 * n * w)));
    if (n == 1) gap = 0;
    double scale = 1.0;
    if (options.max_side_px > 0) {
      const double longest = std::max(n * w + (n - 1) * gap, h);
      scale = std::min(1.0, options.max_side_px / longest);
    }
    const int pw = std::max(1, static_cast<int>(std::floor(w * scale)));
    const int ph = std::max(1, static_cast<int>(std::floor(h * scale)));
    const int g = n == 1 ? 0 : std::max(1, static_cast<int>(std::floor(gap * scale)));
    cv::Mat out(ph, n * pw + (n - 1) * g, CV_8UC3, cv::Scalar(24, 24, 24));
    for (int i = 0; i < n; ++i) {
      cv::Mat dst = out(cv::Rect(i * (pw + g), 0, pw, ph));
      const cv::Mat& src = panels[static_cast<std::size_t>(i)].second;
      if (pw == w && ph == h) {
        src.copyTo(dst);
      } else {
        cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_AREA);
      }
      if (options.captions) draw_caption(dst, panels[static_cast<std::size_t>(i)].first);
    }
    return out;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("side_by_side: OpenCV failed: ") + e.what());
  }
}

cv::Mat before_after(const cv::Mat& before, const cv::Mat& after, const CompareOptions& options) {
  return side_by_side({{"before", before}, {"after", after}}, options);
}

cv::Mat label_overlay(const cv::Mat& rgb, const cv::Mat& labels, double alpha) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "label_overlay: the photo must be a non-empty CV_8UC3 RGB image");
  require(!labels.empty() && labels.type() == CV_8UC1, ErrorCode::kInvalidArgument,
          "label_overlay: the labels must be a non-empty CV_8UC1 map (0 bg, 1 skin, 2 hair)");
  require(labels.size() == rgb.size(), ErrorCode::kInvalidArgument,
          "label_overlay: labels are " + size_str(labels) + " but the photo is " + size_str(rgb) +
              "; use the analysis of this photo");
  require(std::isfinite(alpha) && alpha >= 0 && alpha <= 1, ErrorCode::kInvalidArgument,
          "label_overlay: alpha must be in [0, 1]");
  // RGB. Background is only tinted (half alpha) so the photo stays readable around the head;
  // skin warm yellow-orange, hair magenta, anything else (e.g. 255 = ignore) grey.
  struct Style {
    cv::Vec3f colour;
    float alpha;
  };
  const float a = static_cast<float>(alpha);
  const Style styles[4] = {
      {{40, 90, 235}, 0.5f * a}, {{255, 175, 20}, a}, {{235, 20, 200}, a}, {{128, 128, 128}, a}};
  cv::Mat out(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* p = rgb.ptr<cv::Vec3b>(y);
    const auto* l = labels.ptr<std::uint8_t>(y);
    auto* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      const Style& s = styles[std::min<int>(l[x], 3)];
      for (int c = 0; c < 3; ++c) {
        o[x][c] =
            cv::saturate_cast<std::uint8_t>((1.0f - s.alpha) * p[x][c] + s.alpha * s.colour[c]);
      }
    }
  }
  return out;
}

}  // namespace smp
