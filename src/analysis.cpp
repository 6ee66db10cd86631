// Stage 1: background / skin / hair segmentation and the measurements derived from it.
//
// Three segmenters (AnalyzeOptions::segmenter) share steps 3 and after:
//  * kLearned: a small fully convolutional net (src/segmenter.cpp, models/README.md) gives
//    background / skin / hair probabilities at 128x128; the head is its largest component
//    with holes filled, hair is P(hair) / (P(skin) + P(hair)).
//  * kClassical (the default until the net beats it on held-out photos), per image:
//  1. Head vs background: GrabCut on a small copy (kCutSize longest side). The initial
//     trimap is built from priors: a central ellipse and skin- or hair-coloured pixels are
//     "probably head", the rest "probably background"; nothing is hard-labelled except the
//     practitioner's hints, so a close-up scalp that fills the frame can still claim the
//     border. The largest head component is kept and its holes are filled (a specular
//     highlight on a bald scalp is a hole in the colour model, not background).
//  2. Skin vs hair inside the head, at the work resolution: a prior score from darkness and
//     desaturation relative to this photo's skin reference, plus local texture (hair is
//     stringy, skin smooth), refined by a two-class diagonal Gaussian model fitted to this
//     photo (a few EM steps), so the decision adapts to fair/dark skin and hair colours.
//  * kCues: steps 1 and 2 run as in kClassical, but instead of their hand-set decision a small
//    trained model (tools/train_cues.py, models/smp_cues.onnx: 1x1 convolutions over 28 cues
//    per pixel plus a dilated 3x3 look at the neighbours) turns GrabCut's head, the EM
//    posterior, colour at three scales, texture and position into background / skin / hair
//    probabilities, which go on like kLearned's.
//  3. Refinement to full resolution: the two probability maps (head, hair) are upsampled
//     bilinearly and sharpened with a grey-guided filter (He et al. 2010, box-filter form)
//     at up to kRefineSize, then upsampled again as 8-bit and thresholded. All heavy work
//     stays at the coarse sizes; full resolution sees only resizes and per-pixel passes.
#include "smp/analysis.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "segmenter.hpp"
#include "smp/error.hpp"

namespace smp {
namespace {

constexpr int kCutSize = 128;      // GrabCut resolution: ~16k nodes
constexpr int kRefineSize = 1024;  // guided-filter resolution cap (cost grows with area)

cv::Size scaled_size(cv::Size s, int longest) {
  const double k = std::min(1.0, static_cast<double>(longest) / std::max(s.width, s.height));
  return {std::max(1, static_cast<int>(std::lround(s.width * k))),
          std::max(1, static_cast<int>(std::lround(s.height * k)))};
}

cv::Mat resize_to(const cv::Mat& m, cv::Size s, int interp) {
  if (m.size() == s) return m.clone();
  cv::Mat out;
  cv::resize(m, out, s, 0, 0, interp);
  return out;
}

// Mean of k x k pixel blocks, the last block row / column partial when the size is not a
// multiple of k. OpenCV's area resampling is ~2.5x faster at an exact integer factor than at
// an arbitrary one (a 12 MP photo: 6 ms vs 16 ms), so the bulk goes through it and the partial
// edges are resampled separately.
cv::Mat box_downsample(const cv::Mat& rgb, int k) {
  if (k <= 1) return rgb;
  const int fw = rgb.cols / k, fh = rgb.rows / k;  // whole blocks
  const int rw = rgb.cols - fw * k, rh = rgb.rows - fh * k;
  cv::Mat out(fh + (rh > 0), fw + (rw > 0), rgb.type());
  auto area = [&](cv::Rect src, cv::Rect dst) {
    if (src.area() == 0 || dst.area() == 0) return;
    cv::Mat d = out(dst);
    cv::resize(rgb(src), d, dst.size(), 0, 0, cv::INTER_AREA);
  };
  area({0, 0, fw * k, fh * k}, {0, 0, fw, fh});
  if (rw > 0) area({fw * k, 0, rw, fh * k}, {fw, 0, 1, fh});
  if (rh > 0) area({0, fh * k, fw * k, rh}, {0, fh, fw, 1});
  if (rw > 0 && rh > 0) area({fw * k, fh * k, rw, rh}, {fw, fh, 1, 1});
  return out;
}

// Binary hint mask of one class, downsampled so thin strokes survive (any coverage counts).
cv::Mat hint_mask(const cv::Mat& hints, int value, cv::Size s) {
  cv::Mat m = hints == value;
  if (m.size() != s) {
    cv::resize(m, m, s, 0, 0, cv::INTER_AREA);
    m = m > 0;
  }
  return m;
}

// Guided filter with a single-channel float guide (He, Sun, Tang 2010), box-filter form.
cv::Mat guided_filter(const cv::Mat& guide, const cv::Mat& p, int r, float eps) {
  const cv::Size k(2 * r + 1, 2 * r + 1);
  cv::Mat mean_i, mean_p, corr_ii, corr_ip;
  cv::boxFilter(guide, mean_i, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  cv::boxFilter(p, mean_p, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  cv::boxFilter(guide.mul(guide), corr_ii, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  cv::boxFilter(guide.mul(p), corr_ip, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  cv::Mat var_i = corr_ii - mean_i.mul(mean_i);
  cv::Mat cov_ip = corr_ip - mean_i.mul(mean_p);
  cv::Mat a = cov_ip / (var_i + eps);
  cv::Mat b = mean_p - a.mul(mean_i);
  cv::boxFilter(a, a, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  cv::boxFilter(b, b, CV_32F, k, {-1, -1}, true, cv::BORDER_REFLECT);
  return a.mul(guide) + b;
}

// Keeps the connected components of `mask` that are large (>= 20% of the largest) and fills
// holes that do not touch the border.
cv::Mat largest_components_filled(const cv::Mat& mask) {
  cv::Mat lab, stats, cent;
  const int n = cv::connectedComponentsWithStats(mask, lab, stats, cent, 8, CV_32S);
  int best = 0;
  for (int i = 1; i < n; ++i) best = std::max(best, stats.at<int>(i, cv::CC_STAT_AREA));
  cv::Mat keep = cv::Mat::zeros(mask.size(), CV_8UC1);
  if (best == 0) return keep;
  std::vector<std::uint8_t> lut(static_cast<std::size_t>(n), 0);
  for (int i = 1; i < n; ++i) lut[i] = stats.at<int>(i, cv::CC_STAT_AREA) * 5 >= best ? 255 : 0;
  for (int y = 0; y < mask.rows; ++y) {
    const int* l = lab.ptr<int>(y);
    auto* k = keep.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) k[x] = lut[static_cast<std::size_t>(l[x])];
  }
  // Fill holes: background components that do not reach the border become head.
  cv::Mat inv = 255 - keep;
  const int m = cv::connectedComponentsWithStats(inv, lab, stats, cent, 4, CV_32S);
  std::vector<std::uint8_t> hole(static_cast<std::size_t>(m), 1);
  hole[0] = 0;
  for (int i = 1; i < m; ++i) {
    const int x0 = stats.at<int>(i, cv::CC_STAT_LEFT), y0 = stats.at<int>(i, cv::CC_STAT_TOP);
    const int x1 = x0 + stats.at<int>(i, cv::CC_STAT_WIDTH);
    const int y1 = y0 + stats.at<int>(i, cv::CC_STAT_HEIGHT);
    if (x0 == 0 || y0 == 0 || x1 == mask.cols || y1 == mask.rows) hole[i] = 0;
  }
  for (int y = 0; y < mask.rows; ++y) {
    const int* l = lab.ptr<int>(y);
    auto* k = keep.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x)
      if (hole[static_cast<std::size_t>(l[x])]) k[x] = 255;
  }
  return keep;
}

float sigmoid(float z) {
  return 1.0f / (1.0f + std::exp(-z));
}

// Skin-likeness of a CIELAB colour from chroma alone: skin hues lie around 30..70 degrees
// (red-orange-yellow) with moderate chroma, across Fitzpatrick types; lightness barely matters.
float skin_prior(float L, float a, float b) {
  const float c = std::hypot(a, b);
  const float hue = std::atan2(b, a) * 57.29578f;
  const float hue_ok = sigmoid((hue - 15.0f) / 6.0f) * sigmoid((80.0f - hue) / 6.0f);
  const float chroma_ok = sigmoid((c - 8.0f) / 2.5f) * sigmoid((55.0f - c) / 5.0f);
  const float light_ok = sigmoid((L - 12.0f) / 4.0f);
  return hue_ok * chroma_ok * light_ok;
}

// Hair-likeness of a colour before knowing the photo's skin: dark or near-grey.
float hair_colour_prior(float L, float a, float b) {
  const float c = std::hypot(a, b);
  return std::max(sigmoid((40.0f - L) / 5.0f), sigmoid((7.0f - c) / 2.0f) * 0.6f);
}

struct Coarse {
  cv::Mat head;  // CV_32F probability of head, work size
  cv::Mat hair;  // CV_32F probability of hair given head, work size
};

// Head vs background at kCutSize with GrabCut; returns a CV_8U 0/255 mask at `work` size.
cv::Mat segment_head(const cv::Mat& small_rgb, const cv::Mat& hints, cv::Size work) {
  const cv::Size cs = scaled_size(small_rgb.size(), kCutSize);
  cv::Mat img = resize_to(small_rgb, cs, cv::INTER_AREA);
  cv::Mat lab;
  img.convertTo(lab, CV_32F, 1.0 / 255);
  cv::cvtColor(lab, lab, cv::COLOR_RGB2Lab);

  cv::Mat gc(cs, CV_8UC1, cv::Scalar(cv::GC_PR_BGD));
  const int border = std::max(1, cs.width / 40);
  const float cx = 0.5f * cs.width, cy = 0.5f * cs.height;
  const float rx = 0.33f * cs.width, ry = 0.33f * cs.height;
  for (int y = 0; y < cs.height; ++y) {
    const auto* p = lab.ptr<cv::Vec3f>(y);
    auto* g = gc.ptr<std::uint8_t>(y);
    for (int x = 0; x < cs.width; ++x) {
      const float dx = (x - cx) / rx, dy = (y - cy) / ry;
      const bool centre = dx * dx + dy * dy <= 1.0f;
      const bool edge =
          x < border || y < border || x >= cs.width - border || y >= cs.height - border;
      const float s = skin_prior(p[x][0], p[x][1], p[x][2]);
      const float h = hair_colour_prior(p[x][0], p[x][1], p[x][2]);
      if (edge) {
        // The frame's border is background unless it looks like skin or hair: faces and
        // close-up scalps run off the frame, and hard labels there would cut them.
        g[x] = std::max(s, h) < 0.6f ? cv::GC_BGD : cv::GC_PR_BGD;
      } else if (dx * dx + dy * dy <= 0.2f) {
        g[x] = cv::GC_FGD;  // photos are framed on the head: its centre is head
      } else if (centre || (std::max(s, h) > 0.5f && dx * dx + dy * dy <= 2.0f)) {
        g[x] = cv::GC_PR_FGD;
      }
    }
  }
  if (!hints.empty()) {
    gc.setTo(cv::GC_FGD, hint_mask(hints, 1, cs) | hint_mask(hints, 2, cs));
    gc.setTo(cv::GC_BGD, hint_mask(hints, 3, cs));
  }
  cv::Mat bgd, fgd;
  // GrabCut seeds its GMMs with k-means on the global RNG: fix it so results are repeatable.
  cv::theRNG().state = 0x5eed5eedULL;
  cv::grabCut(img, gc, cv::Rect(), bgd, fgd, 3, cv::GC_INIT_WITH_MASK);
  cv::Mat fg = (gc == cv::GC_FGD) | (gc == cv::GC_PR_FGD);
  fg = largest_components_filled(fg);
  return resize_to(fg, work, cv::INTER_LINEAR);
}

// Per-photo skin / hair cues at work size: texture, orientation coherence, the skin reference
// colour, the prior hair probability and the EM posterior (no hints, no smoothing).
struct HairCues {
  cv::Mat tex, coh, prior, post;  // CV_32F, work size
  float skin_l = 60, skin_a = 14, skin_b = 18, skin_c = 22.8f;
};

HairCues hair_cues(const cv::Mat& lab, const cv::Mat& head) {
  const cv::Size s = lab.size();
  std::vector<cv::Mat> ch;
  cv::split(lab, ch);
  const cv::Mat& L = ch[0];
  // Local texture: standard deviation of L over a 5x5 window (hair strands, parting lines).
  cv::Mat mu, mu2, tex;
  cv::boxFilter(L, mu, CV_32F, {5, 5});
  cv::boxFilter(L.mul(L), mu2, CV_32F, {5, 5});
  cv::sqrt(cv::max(mu2 - mu.mul(mu), 0.0), tex);
  // Structure tensor: hair is oriented (strands run in bundles), skin texture is isotropic.
  cv::Mat gx, gy, jxx, jyy, jxy, coh;
  cv::Sobel(L, gx, CV_32F, 1, 0, 3, 0.125);
  cv::Sobel(L, gy, CV_32F, 0, 1, 3, 0.125);
  cv::boxFilter(gx.mul(gx), jxx, CV_32F, {7, 7});
  cv::boxFilter(gy.mul(gy), jyy, CV_32F, {7, 7});
  cv::boxFilter(gx.mul(gy), jxy, CV_32F, {7, 7});
  {
    cv::Mat d = jxx - jyy, e = jxx + jyy, r;
    cv::sqrt(d.mul(d) + 4 * jxy.mul(jxy), r);
    coh = r / (e + 0.5f);
  }

  cv::Mat inside = head > 127;
  // Skin reference: median colour of confidently skin-coloured, smooth head pixels.
  std::vector<float> sl, sa, sb;
  for (int y = 0; y < s.height; ++y) {
    const auto* p = lab.ptr<cv::Vec3f>(y);
    const auto* in = inside.ptr<std::uint8_t>(y);
    const auto* t = tex.ptr<float>(y);
    for (int x = 0; x < s.width; ++x) {
      if (!in[x] || t[x] > 6.0f) continue;
      if (skin_prior(p[x][0], p[x][1], p[x][2]) < 0.6f || p[x][0] < 30.0f) continue;
      sl.push_back(p[x][0]);
      sa.push_back(p[x][1]);
      sb.push_back(p[x][2]);
    }
  }
  auto median = [](std::vector<float>& v, float fallback) {
    if (v.empty()) return fallback;
    auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
  };
  const float skin_l = median(sl, 60.0f), skin_a = median(sa, 14.0f), skin_b = median(sb, 18.0f);
  const float skin_c = std::hypot(skin_a, skin_b);

  // Prior hair probability from darkness, desaturation and texture relative to the skin.
  cv::Mat prior(s, CV_32F, cv::Scalar(0));
  for (int y = 0; y < s.height; ++y) {
    const auto* p = lab.ptr<cv::Vec3f>(y);
    const auto* in = inside.ptr<std::uint8_t>(y);
    const auto* t = tex.ptr<float>(y);
    auto* o = prior.ptr<float>(y);
    const auto* co = coh.ptr<float>(y);
    for (int x = 0; x < s.width; ++x) {
      if (!in[x]) continue;
      const float dl = (skin_l - p[x][0]) / 12.0f;
      const float c = std::hypot(p[x][1], p[x][2]);
      const float dc = (skin_c - c) / (0.35f * skin_c + 3.0f);
      const float dt = (t[x] - 4.0f) / 2.5f;
      o[x] = sigmoid(1.2f * dl + 0.7f * dc + 0.8f * dt + 10.0f * (co[x] - 0.4f) - 1.8f);
    }
  }

  // Two-class diagonal Gaussian model of (L, a, b, texture), fitted to this photo by EM
  // starting from the prior; the prior stays in the posterior as the class weight.
  cv::Mat post = prior.clone();
  for (int it = 0; it < 4; ++it) {
    std::array<std::array<double, 4>, 2> m1{}, m2{};
    std::array<double, 2> w{};
    for (int y = 0; y < s.height; ++y) {
      const auto* p = lab.ptr<cv::Vec3f>(y);
      const auto* in = inside.ptr<std::uint8_t>(y);
      const auto* t = tex.ptr<float>(y);
      const auto* q = post.ptr<float>(y);
      for (int x = 0; x < s.width; ++x) {
        if (!in[x]) continue;
        const double f[4] = {p[x][0], p[x][1], p[x][2], t[x]};
        const double r[2] = {1.0 - q[x], q[x]};
        for (int k = 0; k < 2; ++k) {
          w[k] += r[k];
          for (int d = 0; d < 4; ++d) {
            m1[k][d] += r[k] * f[d];
            m2[k][d] += r[k] * f[d] * f[d];
          }
        }
      }
    }
    if (w[0] < 50 || w[1] < 50) break;  // one class (nearly) absent: keep the prior
    std::array<std::array<float, 4>, 2> mean{}, ivar{};
    std::array<float, 2> lognorm{};
    for (int k = 0; k < 2; ++k) {
      lognorm[k] = 0;
      for (int d = 0; d < 4; ++d) {
        mean[k][d] = static_cast<float>(m1[k][d] / w[k]);
        const double var = std::max(m2[k][d] / w[k] - mean[k][d] * mean[k][d], 4.0);
        ivar[k][d] = static_cast<float>(1.0 / var);
        lognorm[k] += static_cast<float>(-0.5 * std::log(var));
      }
    }
    for (int y = 0; y < s.height; ++y) {
      const auto* p = lab.ptr<cv::Vec3f>(y);
      const auto* in = inside.ptr<std::uint8_t>(y);
      const auto* t = tex.ptr<float>(y);
      const auto* pr = prior.ptr<float>(y);
      auto* q = post.ptr<float>(y);
      for (int x = 0; x < s.width; ++x) {
        if (!in[x]) continue;
        const float f[4] = {p[x][0], p[x][1], p[x][2], t[x]};
        float ll[2];
        for (int k = 0; k < 2; ++k) {
          float e = lognorm[k];
          for (int d = 0; d < 4; ++d) {
            const float z = f[d] - mean[k][d];
            e -= 0.5f * z * z * ivar[k][d];
          }
          ll[k] = e;
        }
        const float prior_logit = std::log(std::clamp(pr[x], 1e-3f, 1 - 1e-3f) /
                                           (1 - std::clamp(pr[x], 1e-3f, 1 - 1e-3f)));
        q[x] = sigmoid(std::clamp(ll[1] - ll[0], -30.0f, 30.0f) + prior_logit);
      }
    }
  }
  HairCues cues;
  cues.tex = tex;
  cues.coh = coh;
  cues.prior = prior;
  cues.post = post;
  cues.skin_l = skin_l;
  cues.skin_a = skin_a;
  cues.skin_b = skin_b;
  cues.skin_c = skin_c;
  return cues;
}

// Skin vs hair probability inside the head, at work size.
cv::Mat segment_hair(const cv::Mat& lab, const cv::Mat& head, const cv::Mat& hints) {
  cv::Mat post = hair_cues(lab, head).post;
  if (!hints.empty()) {
    post.setTo(0.0f, hint_mask(hints, 1, post.size()));
    post.setTo(1.0f, hint_mask(hints, 2, post.size()));
  }
  // Spatial smoothing: a pixel among hair is more likely hair (thinning areas stay mixed).
  cv::GaussianBlur(post, post, {0, 0}, 1.0);
  return post;
}

// Per-pixel cue vectors for the cue combiner, one CV_32F row of detail::kCueCount per
// work-size pixel in raster order, each cue scaled to roughly unit range. Colour is taken both
// absolute and relative to this photo's skin reference, at three scales (pixel, ~4 px, ~12 px:
// a strand, a tuft, a region); texture and orientation coherence; the hand-made priors and
// the EM posterior; GrabCut's head mask and where the pixel sits in the frame and in the head.
cv::Mat cue_features(const cv::Mat& lab, const cv::Mat& head8, const HairCues& c) {
  const cv::Size s = lab.size();
  cv::Mat rel;  // (L - skin L) / 20, (a - skin a) / 10, (b - skin b) / 10
  {
    cv::Mat shifted = lab - cv::Scalar(c.skin_l, c.skin_a, c.skin_b);
    cv::multiply(shifted, cv::Scalar(1 / 20.0, 1 / 10.0, 1 / 10.0), rel);
  }
  cv::Mat rel4, rel12, tex4, head, head8b;
  cv::GaussianBlur(rel, rel4, {0, 0}, 4.0);
  cv::GaussianBlur(rel, rel12, {0, 0}, 12.0);
  cv::GaussianBlur(c.tex, tex4, {0, 0}, 4.0);
  head8.convertTo(head, CV_32F, 1.0 / 255);
  cv::GaussianBlur(head, head8b, {0, 0}, 8.0);

  const cv::Rect box = cv::boundingRect(head8 > 127);
  const float bx = box.x + 0.5f * box.width, bhw = std::max(1.0f, 0.5f * box.width);
  const float by = static_cast<float>(box.y), bh = std::max(1.0f, static_cast<float>(box.height));
  cv::Mat f(s.area(), detail::kCueCount, CV_32F);
  for (int y = 0; y < s.height; ++y) {
    const auto* p = lab.ptr<cv::Vec3f>(y);
    const auto* r = rel.ptr<cv::Vec3f>(y);
    const auto* r4 = rel4.ptr<cv::Vec3f>(y);
    const auto* r12 = rel12.ptr<cv::Vec3f>(y);
    const auto* t = c.tex.ptr<float>(y);
    const auto* t4 = tex4.ptr<float>(y);
    const auto* co = c.coh.ptr<float>(y);
    const auto* pr = c.prior.ptr<float>(y);
    const auto* po = c.post.ptr<float>(y);
    const auto* h = head.ptr<float>(y);
    const auto* hb = head8b.ptr<float>(y);
    for (int x = 0; x < s.width; ++x) {
      float* o = f.ptr<float>(y * s.width + x);
      const float chroma = std::hypot(p[x][1], p[x][2]);
      const float v[detail::kCueCount] = {p[x][0] / 100,
                                          p[x][1] / 50,
                                          p[x][2] / 50,
                                          r[x][0],
                                          r[x][1],
                                          r[x][2],
                                          (chroma - c.skin_c) / 10,
                                          t[x] / 10,
                                          co[x],
                                          r4[x][0],
                                          r4[x][1],
                                          r4[x][2],
                                          r12[x][0],
                                          r12[x][1],
                                          r12[x][2],
                                          t4[x] / 10,
                                          skin_prior(p[x][0], p[x][1], p[x][2]),
                                          hair_colour_prior(p[x][0], p[x][1], p[x][2]),
                                          pr[x],
                                          po[x],
                                          h[x],
                                          hb[x],
                                          2.0f * (x + 0.5f) / s.width - 1,
                                          2.0f * (y + 0.5f) / s.height - 1,
                                          (y - by) / bh,
                                          std::abs(x - bx) / bhw,
                                          c.skin_l / 100,
                                          c.skin_c / 30};
      std::copy(v, v + detail::kCueCount, o);
    }
  }
  return f;
}

// Head and hair probabilities at work size from CV_32FC3 class probabilities (background,
// skin, hair) at work size.
Coarse coarse_from_probabilities(const cv::Mat& p, const cv::Mat& hints) {
  const cv::Size ws = p.size();
  std::vector<cv::Mat> ch;
  cv::split(p, ch);
  Coarse c;
  c.head = 1.0f - ch[0];
  c.hair = ch[2] / cv::max(ch[1] + ch[2], 1e-6f);
  // One head: drop stray blobs (a poster, skin-coloured furniture) and fill holes that do not
  // reach the border (a specular highlight on a bald scalp is scalp, not background).
  const cv::Mat keep = largest_components_filled(c.head > 0.5f);
  c.head.setTo(0.0f, ~keep);
  c.head.setTo(0.75f, keep & (c.head <= 0.5f));
  if (!hints.empty()) {
    c.head.setTo(1.0f, hint_mask(hints, 1, ws) | hint_mask(hints, 2, ws));
    c.head.setTo(0.0f, hint_mask(hints, 3, ws));
    c.hair.setTo(0.0f, hint_mask(hints, 1, ws));
    c.hair.setTo(1.0f, hint_mask(hints, 2, ws));
  }
  return c;
}

// Head and hair probabilities at work size from the learned segmenter (segmenter.hpp).
Coarse segment_learned(const cv::Mat& rgb, const cv::Mat& small, cv::Size ws,
                       const cv::Mat& hints) {
  // The work-size copy is already area-averaged: use it when it is at least the net's input,
  // the refinement-size copy otherwise (never the full photo: a 12 MP resample costs ~10 ms).
  const bool small_ok =
      small.cols >= detail::kSegmenterInput && small.rows >= detail::kSegmenterInput;
  cv::Mat p = detail::segmenter_probabilities(small_ok ? small : rgb);
  cv::resize(p, p, ws, 0, 0, cv::INTER_LINEAR);
  return coarse_from_probabilities(p, hints);
}

// The cue combiner's input for a photo at work size: GrabCut's head, then the hair cues inside
// it. One function for analyze() and for the training dump (detail::segmentation_cues), so the
// model is trained on exactly what it is run on.
cv::Mat work_cues(const cv::Mat& small, const cv::Mat& lab, const cv::Mat& hints) {
  const cv::Mat head8 = segment_head(small, hints, lab.size());
  return cue_features(lab, head8, hair_cues(lab, head8));
}

// Head and hair probabilities at work size from the cue combiner over the classical cues.
Coarse segment_cues(const cv::Mat& small, const cv::Mat& lab, const cv::Mat& hints) {
  const cv::Mat p = detail::cue_probabilities(work_cues(small, lab, hints), lab.size());
  return coarse_from_probabilities(p, hints);
}

// Runs body(y) for every row in 0..rows, in parallel stripes (per-pixel passes over 12 MP
// photos are memory bound: two cores halve them).
template <typename Body>
void for_rows(int rows, const Body& body) {
  cv::parallel_for_(
      cv::Range(0, rows),
      [&](const cv::Range& r) {
        for (int y = r.start; y < r.end; ++y) body(y);
      },
      std::max(1.0, rows / 64.0));
}

// Full-resolution labels from the coarse head and hair probabilities. `mid` is the photo at
// scaled_size(full, kRefineSize) (or the photo itself when smaller).
cv::Mat refine(const cv::Mat& mid, cv::Size full, const Coarse& c) {
  const cv::Size rs = mid.size();
  cv::Mat guide;
  {
    cv::Mat g;
    cv::cvtColor(mid, g, cv::COLOR_RGB2GRAY);
    g.convertTo(guide, CV_32F, 1.0 / 255);
  }
  const double up = static_cast<double>(rs.width) / c.head.cols;
  const int r = std::max(2, static_cast<int>(std::lround(1.5 * up)));
  cv::Mat head = guided_filter(guide, resize_to(c.head, rs, cv::INTER_LINEAR), r, 1e-3f);
  cv::Mat hair = guided_filter(guide, resize_to(c.hair, rs, cv::INTER_LINEAR), r, 1e-3f);
  cv::Mat head8, hair8;
  head.convertTo(head8, CV_8U, 255);
  hair.convertTo(hair8, CV_8U, 255);
  if (head8.size() != full) {
    cv::resize(head8, head8, full, 0, 0, cv::INTER_LINEAR);
    cv::resize(hair8, hair8, full, 0, 0, cv::INTER_LINEAR);
  }
  // One pass: background / skin / hair from the two maps.
  cv::Mat labels(full, CV_8UC1);
  for_rows(full.height, [&](int y) {
    const auto* h = head8.ptr<std::uint8_t>(y);
    const auto* hr = hair8.ptr<std::uint8_t>(y);
    auto* l = labels.ptr<std::uint8_t>(y);
    for (int x = 0; x < full.width; ++x)
      l[x] = h[x] > 127 ? (hr[x] > 127 ? kHair : kSkin) : kBackground;
  });
  return labels;
}

// Robust median CIELAB of `rgb` where labels == label, dropping the darkest and brightest 5% of L
// (shadows, specular highlights). Works on a subsample of at most ~100k pixels.
bool robust_lab(const cv::Mat& rgb, const cv::Mat& labels, std::uint8_t label, Lab& out) {
  const int step = std::max(1, static_cast<int>(std::sqrt(rgb.total() / 100000.0)));
  std::vector<Lab> v;
  for (int y = 0; y < rgb.rows; y += step) {
    const auto* p = rgb.ptr<cv::Vec3b>(y);
    const auto* m = labels.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; x += step)
      if (m[x] == label) v.push_back(rgb8_to_lab(p[x]));
  }
  if (v.empty()) return false;
  std::sort(v.begin(), v.end(), [](const Lab& a, const Lab& b) { return a.L < b.L; });
  const std::size_t lo = v.size() / 20, hi = v.size() - v.size() / 20;
  std::vector<float> l, a, b;
  for (std::size_t i = lo; i < std::max(hi, lo + 1); ++i) {
    l.push_back(v[i].L);
    a.push_back(v[i].a);
    b.push_back(v[i].b);
  }
  auto med = [](std::vector<float>& x) {
    auto mid = x.begin() + static_cast<std::ptrdiff_t>(x.size() / 2);
    std::nth_element(x.begin(), mid, x.end());
    return *mid;
  };
  out = {med(l), med(a), med(b)};
  return true;
}

// The head's up direction: the practitioner's, or the orientation net's when it is confident
// (kHeadUpGate); a warning names a likely turn it was not sure enough to act on.
void decide_head_up(const cv::Mat& small, const cv::Mat& lab_small, HeadUp given,
                    ScalpAnalysis& out) {
  if (given != HeadUp::kAuto) {
    out.head_up = given;
    out.head_up_confidence = 1.0;
    return;
  }
  const std::array<double, 4> p = detail::orientation_probabilities(small, lab_small);
  const auto best = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
  // Class k: an upright head turned k quarter turns counter-clockwise (top, left, bottom, right).
  const HeadUp by_net = static_cast<HeadUp>(best + 1);
  if (best != 0 && p[static_cast<std::size_t>(best)] >= kHeadUpGate) {
    out.head_up = by_net;
    out.head_up_confidence = p[static_cast<std::size_t>(best)];
    return;
  }
  out.head_up = HeadUp::kTop;
  out.head_up_confidence = p[0];
  if (best != 0 && p[static_cast<std::size_t>(best)] >= 0.6) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", p[static_cast<std::size_t>(best)]);
    out.warnings.push_back("the photo may be turned (top of the head towards the " +
                           to_string(by_net) + ", face side opposite; confidence " + buf +
                           "); if so, say so with --head-up " + to_string(by_net) +
                           " (AnalyzeOptions::head_up) so the face is not treated as scalp");
  }
}

// Treatable scalp: skin inside the head that is scalp rather than face, ears or neck, decided on
// an upright head (the caller turns the maps, HeadUp). Heuristics: skin in the upper 35% of the
// head's height, or skin that the hair of the head's upper 60% encloses within ~0.3 head
// breadths (a morphological closing: parts, thinning patches, a fringe's gaps; beards and cheek
// stubble stay out, they wrapped side-view faces in). 55% and the hair's convex hull put dots on
// the temples, foreheads and cheeks of side and front views whose head box runs down the neck
// (the hull of a "C" of hair around a profile is the face; 13 of 24 upright side and front
// photos of ../shared/data/scalps), and top-down and back views did not need them: their crowns
// are enclosed, or added below as the front of a crown. The lowest 30% of the head (chin, neck) is
// cut only from skin regions that run down to the bottom tenth of the head, as a face or neck does;
// a bald crown closed off below by the hair fringe keeps its whole area (cutting it left a
// straight, hard lower edge on top-down previews). Below the upper part, skin flanked by hair that
// ends on the head's outline inside the frame is added (the front of a crown seen from above).
// Faces are excluded further by the hairline the pipeline designs from face landmarks.
cv::Mat treatable_mask(const cv::Mat& labels_small, const cv::Mat& head_small) {
  cv::Mat skin = labels_small == kSkin;
  cv::Rect box = cv::boundingRect(head_small);
  cv::Mat upper = cv::Mat::zeros(skin.size(), CV_8UC1);
  if (box.area() == 0) return upper;
  upper(cv::Rect(0, box.y, skin.cols, std::max(1, static_cast<int>(0.35 * box.height)))).setTo(255);
  // Enclosure by the hair of the upper 60% of the head only: beards and stubble on cheeks and
  // chin would otherwise wrap the face into "scalp enclosed by hair" in side views. The closing's
  // size is 0.3 of the head's breadth (90th percentile of its row widths: a neck or the
  // shoulders cannot widen it much).
  const int hair_rows = std::min(skin.rows, box.y + static_cast<int>(0.6 * box.height));
  cv::Mat hair = cv::Mat::zeros(skin.size(), CV_8UC1);
  cv::Mat(labels_small.rowRange(0, hair_rows) == kHair).copyTo(hair.rowRange(0, hair_rows));
  // Hair that runs into the top edge of the upright frame is not the head's: above an upright
  // head is the room (a dark shirt labelled hair ends up there when a crown shot is turned), and
  // closing it with the head's hair wrapped the ears into the scalp.
  for (int x = 0; x < hair.cols; ++x) {
    if (hair.at<std::uint8_t>(0, x) != 0) cv::floodFill(hair, cv::Point(x, 0), 0);
  }
  std::vector<int> widths;
  for (int y = box.y; y < box.y + box.height; ++y)
    widths.push_back(cv::countNonZero(head_small.row(y)));
  std::nth_element(widths.begin(), widths.begin() + widths.size() * 9 / 10, widths.end());
  const int close_px = std::max(3, static_cast<int>(0.3 * widths[widths.size() * 9 / 10])) | 1;
  cv::Mat enclosed;
  cv::morphologyEx(hair, enclosed, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, {close_px, close_px}));
  // ... and inside the hair's convex hull: the closing alone also fills the notch between the
  // hair above and below an ear that sticks out of the head's outline (dotted ears in top views).
  std::vector<cv::Point> pts;
  cv::findNonZero(hair, pts);
  cv::Mat hull_mask = cv::Mat::zeros(skin.size(), CV_8UC1);
  if (pts.size() >= 3) {
    std::vector<cv::Point> hull;
    cv::convexHull(pts, hull);
    cv::fillConvexPoly(hull_mask, hull, 255);
  }
  enclosed &= hull_mask;
  cv::Mat candidate = skin & (upper | enclosed);
  // Skin regions reaching the bottom tenth of the head: face- or neck-like, cut at 70%.
  cv::Mat comp;
  const int n = cv::connectedComponents(candidate, comp, 8, CV_32S);
  const int bottom = box.y + static_cast<int>(0.9 * box.height);
  std::vector<std::uint8_t> reaches_bottom(static_cast<std::size_t>(n), 0);
  for (int y = std::max(0, bottom); y < comp.rows; ++y) {
    const int* c = comp.ptr<int>(y);
    for (int x = 0; x < comp.cols; ++x) reaches_bottom[static_cast<std::size_t>(c[x])] = 1;
  }
  const int cut = box.y + static_cast<int>(0.7 * box.height);
  for (int y = std::max(0, cut); y < comp.rows; ++y) {
    const int* c = comp.ptr<int>(y);
    std::uint8_t* out = candidate.ptr<std::uint8_t>(y);
    for (int x = 0; x < comp.cols; ++x) {
      if (c[x] > 0 && reaches_bottom[static_cast<std::size_t>(c[x])]) out[x] = 0;
    }
  }
  // The front of a crown photographed from above, face side down: skin below the upper part
  // flanked by hair (the temples' fringe) more than by background, that ends on the head's own
  // outline inside the frame. A face or neck either runs on out of the frame at the bottom (the
  // body goes on below it) or is flanked by background (cheeks and jaw against the room).
  cv::Mat lower = skin & ~upper, lower_comp;
  const int nl = cv::connectedComponents(lower, lower_comp, 8, CV_32S);
  std::vector<std::uint8_t> leaves(static_cast<std::size_t>(nl), 0);
  std::vector<int> hair_flank(static_cast<std::size_t>(nl), 0), bg_flank(hair_flank),
      area(hair_flank);
  // The front of a crown is a large part of the head; an ear, between hair above and below it
  // and against the room on one side, is small (dotted ears in top views).
  const int min_area = cv::countNonZero(head_small) * 3 / 100;
  const int edge = lower_comp.rows - std::max(1, lower_comp.rows / 33);
  for (int y = 0; y < lower_comp.rows; ++y) {
    const int* c = lower_comp.ptr<int>(y);
    const std::uint8_t* l = labels_small.ptr<std::uint8_t>(y);
    for (int x = 0; x < lower_comp.cols; ++x) {
      const auto k = static_cast<std::size_t>(c[x]);
      if (k == 0) continue;
      ++area[k];
      if (y >= edge) leaves[k] = 1;
      // The pixels just outside each run of the component, left and right.
      for (const int nx : {x - 1, x + 1}) {
        if (nx < 0 || nx >= lower_comp.cols || c[nx] > 0) continue;
        if (l[nx] == kHair) ++hair_flank[k];
        if (l[nx] == kBackground) ++bg_flank[k];
      }
    }
  }
  for (int y = 0; y < lower_comp.rows; ++y) {
    const int* c = lower_comp.ptr<int>(y);
    std::uint8_t* out = candidate.ptr<std::uint8_t>(y);
    for (int x = 0; x < lower_comp.cols; ++x) {
      const auto k = static_cast<std::size_t>(c[x]);
      if (k > 0 && !leaves[k] && hair_flank[k] > bg_flank[k] && area[k] >= min_area) {
        out[x] = 255;
      }
    }
  }
  return candidate;
}

// Head breadth in photo pixels from the work-size head mask: the shorter axis of an ellipse
// fitted to the head's outline (a crown seen from above is ~150 x 195 mm, a face-on head is
// taller than wide, so the short axis is the breadth in both views), capped by the 95th
// percentile of row widths so a neck or shoulder that widens the outline cannot inflate it.
double head_breadth_px(const cv::Mat& head_small, cv::Size full) {
  const double to_full = static_cast<double>(full.width) / head_small.cols;
  std::vector<int> widths;
  for (int y = 0; y < head_small.rows; ++y) {
    const int n = cv::countNonZero(head_small.row(y));
    if (n > 0) widths.push_back(n);
  }
  if (widths.empty()) return 1.0;
  std::sort(widths.begin(), widths.end());
  double breadth = widths[static_cast<std::size_t>(0.95 * static_cast<double>(widths.size() - 1))];
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(head_small.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  const auto largest = std::max_element(
      contours.begin(), contours.end(),
      [](const auto& a, const auto& b) { return cv::contourArea(a) < cv::contourArea(b); });
  if (largest != contours.end() && largest->size() >= 5) {
    const cv::RotatedRect e = cv::fitEllipse(*largest);
    const double minor = std::min(e.size.width, e.size.height);
    if (minor > 0) breadth = std::min(breadth, minor);
  }
  return std::max(1.0, breadth * to_full);
}

void validate_label_map(const cv::Mat& m, cv::Size size, const char* what) {
  require(m.type() == CV_8UC1 && m.size() == size, ErrorCode::kInvalidArgument,
          std::string("analyze: ") + what + " must be CV_8UC1 at the photo's size (" +
              std::to_string(size.width) + "x" + std::to_string(size.height) + "), got " +
              std::to_string(m.cols) + "x" + std::to_string(m.rows) + " with " +
              std::to_string(m.channels()) + " channel(s)");
}

// The photo at the refinement and work sizes, and CIELAB at work size.
struct Resampled {
  cv::Mat mid, small, lab;
};

Resampled resample(const cv::Mat& rgb, cv::Size ws) {
  // One area-averaging pass over the full photo, by the integer factor that brings it within
  // the refinement size; the work-size copy is made from that (a second 12 MP pass would cost
  // ~10 ms).
  const int k = (std::max(rgb.cols, rgb.rows) + kRefineSize - 1) / kRefineSize;
  Resampled r;
  r.mid = box_downsample(rgb, k);
  r.small = resize_to(r.mid, ws, cv::INTER_AREA);
  r.small.convertTo(r.lab, CV_32F, 1.0 / 255);
  cv::cvtColor(r.lab, r.lab, cv::COLOR_RGB2Lab);
  return r;
}

ScalpAnalysis analyze_impl(const cv::Mat& rgb, const AnalyzeOptions& options) {
  const cv::Size full = rgb.size();
  const cv::Size ws = scaled_size(full, options.work_size);
  const Resampled rs = resample(rgb, ws);
  const cv::Mat& mid = rs.mid;
  const cv::Mat& small = rs.small;
  const cv::Mat& lab = rs.lab;

  ScalpAnalysis out;
  cv::Scalar lmean, lstd;
  cv::meanStdDev(lab, lmean, lstd);
  if (!options.hints.empty()) validate_label_map(options.hints, full, "hints");

  if (!options.label_override.empty()) {
    validate_label_map(options.label_override, full, "label_override");
    double mx = 0;
    cv::minMaxLoc(options.label_override, nullptr, &mx);
    require(mx <= 2, ErrorCode::kInvalidArgument,
            "analyze: label_override holds values other than 0 (background), 1 (skin), 2 "
            "(hair); map ignore/other values to one of these first");
    out.labels = options.label_override.clone();
  } else {
    // A featureless image (uniform colour) has no head to find: say so instead of guessing.
    require(lstd[0] > 2.0 || lstd[1] > 2.0 || lstd[2] > 2.0, ErrorCode::kNotFound,
            "no head found in the photo (it is nearly uniform); photograph the head against a "
            "plain background or pass --mask");
    Coarse c;
    if (options.segmenter == AnalyzeOptions::Segmenter::kLearned) {
      c = segment_learned(mid, small, ws, options.hints);
    } else if (options.segmenter == AnalyzeOptions::Segmenter::kCues) {
      c = segment_cues(small, lab, options.hints);
    } else {
      cv::Mat head8 = segment_head(small, options.hints, ws);
      head8.convertTo(c.head, CV_32F, 1.0 / 255);
      c.hair = segment_hair(lab, head8, options.hints);
    }
    out.labels = refine(mid, full, c);
    if (!options.hints.empty()) {
      out.labels.setTo(kSkin, options.hints == 1);
      out.labels.setTo(kHair, options.hints == 2);
      out.labels.setTo(kBackground, options.hints == 3);
    }
  }

  // Head mask and pixel counts in one pass over the labels.
  out.head_mask.create(full, CV_8UC1);
  std::vector<std::array<std::int64_t, 3>> counts(static_cast<std::size_t>(full.height));
  for_rows(full.height, [&](int y) {
    const auto* l = out.labels.ptr<std::uint8_t>(y);
    auto* h = out.head_mask.ptr<std::uint8_t>(y);
    std::array<std::int64_t, 3> c{};
    for (int x = 0; x < full.width; ++x) {
      ++c[l[x] <= kHair ? l[x] : 0];
      h[x] = l[x] != kBackground ? 255 : 0;
    }
    counts[static_cast<std::size_t>(y)] = c;
  });
  std::array<std::int64_t, 3> total{};
  for (const auto& c : counts)
    for (int i = 0; i < 3; ++i) total[i] += c[i];
  const double head_px = static_cast<double>(total[kSkin] + total[kHair]);
  require(head_px >= 0.005 * static_cast<double>(full.area()), ErrorCode::kNotFound,
          "no head found in the photo; photograph the head against a plain background or pass "
          "--mask");
  const double hair_px = static_cast<double>(total[kHair]);
  out.hair_fraction = hair_px / head_px;
  out.hair_found = hair_px >= 0.005 * head_px;

  // Coverage and treatable area at work size, then upsampled (smooth fields, no detail lost).
  cv::Mat lab_small = resize_to(out.labels, ws, cv::INTER_NEAREST);
  cv::Mat head_small = lab_small != kBackground;
  {
    cv::Mat h, hd, m;
    cv::Mat hair_small = lab_small == kHair;
    hair_small.convertTo(h, CV_32F, 1.0 / 255);
    head_small.convertTo(m, CV_32F, 1.0 / 255);
    // Window ~6% of the working image: about a 1 cm patch on a typical head photo.
    const double sigma = 0.03 * std::max(ws.width, ws.height);
    cv::GaussianBlur(h, hd, {0, 0}, sigma);
    cv::GaussianBlur(m, m, {0, 0}, sigma);
    cv::Mat cov = hd / cv::max(m, 1e-3);
    cov = cv::min(cov, 1.0);
    cov.setTo(0, ~head_small);
    out.hair_coverage = resize_to(cov, full, cv::INTER_LINEAR);
  }
  decide_head_up(small, lab_small, options.head_up, out);
  // The rule below works on an upright head: turn the work-size maps, and the result back.
  out.treatable = resize_to(turned_back(treatable_mask(turned_upright(lab_small, out.head_up),
                                                       turned_upright(head_small, out.head_up)),
                                        out.head_up),
                            full, cv::INTER_NEAREST);
  // Both fields cut to the full-resolution labels in one pass: coverage inside the head,
  // treatable only on skin.
  for_rows(full.height, [&](int y) {
    const auto* l = out.labels.ptr<std::uint8_t>(y);
    auto* c = out.hair_coverage.ptr<float>(y);
    auto* t = out.treatable.ptr<std::uint8_t>(y);
    for (int x = 0; x < full.width; ++x) {
      if (l[x] == kBackground) c[x] = 0.0f;
      if (l[x] != kSkin) t[x] = 0;
    }
  });

  const bool skin_ok = robust_lab(rgb, out.labels, kSkin, out.skin_lab);
  if (!skin_ok) out.skin_lab = {60, 14, 18};  // a mid skin tone when the head is all hair
  if (!robust_lab(rgb, out.labels, kHair, out.hair_lab)) out.hair_lab = out.skin_lab;
  out.skin_ita_deg = ita_degrees(out.skin_lab);
  out.fitzpatrick = fitzpatrick_from_ita(out.skin_ita_deg);

  if (options.px_per_mm > 0) {
    out.calibration = calibration_from_user(options.px_per_mm);
  } else {
    out.calibration = calibration_from_head_breadth(head_breadth_px(head_small, full));
  }

  if (lmean[0] < 25.0) out.warnings.push_back("photo is too dark: light the head evenly");
  {
    cv::Mat gray, lap;
    cv::cvtColor(small, gray, cv::COLOR_RGB2GRAY);
    cv::Laplacian(gray, lap, CV_32F);
    cv::Scalar m, sd;
    cv::meanStdDev(lap, m, sd, head_small);
    if (sd[0] * sd[0] < 15.0) out.warnings.push_back("photo looks blurred: hold the camera still");
  }
  {
    // Cut off: the head runs along a border other than the one the neck leaves by (opposite
    // the top of the head) for more than 15% of that side. When the net turned the photo, only
    // the two sides across the head's axis count: on a crown seen from above either end may
    // leave the frame (the net's "up" there is the side away from the face).
    const cv::Mat& h = out.head_mask;
    // Sides in HeadUp order after kAuto: top, left, bottom, right.
    const std::array<double, 4> side = {
        cv::countNonZero(h.row(0)) / static_cast<double>(h.cols),
        cv::countNonZero(h.col(0)) / static_cast<double>(h.rows),
        cv::countNonZero(h.row(h.rows - 1)) / static_cast<double>(h.cols),
        cv::countNonZero(h.col(h.cols - 1)) / static_cast<double>(h.rows)};
    const int top = static_cast<int>(out.head_up) - 1, neck = (top + 2) % 4;
    const bool turned_by_net = options.head_up == HeadUp::kAuto && out.head_up != HeadUp::kTop;
    double worst = 0;
    for (int i = 0; i < 4; ++i)
      if (i != neck && !(turned_by_net && i == top))
        worst = std::max(worst, side[static_cast<std::size_t>(i)]);
    if (worst > 0.15)
      out.warnings.push_back("head is cut off at the image border: frame the whole head");
  }
  if (!out.hair_found) out.warnings.push_back("no hair found");
  return out;
}

}  // namespace

namespace detail {

cv::Mat segmentation_cues(const cv::Mat& rgb, int work_size, cv::Size* size) {
  const cv::Size ws = scaled_size(rgb.size(), work_size);
  const Resampled rs = resample(rgb, ws);
  if (size) *size = ws;
  return work_cues(rs.small, rs.lab, cv::Mat());
}

}  // namespace detail

cv::Mat turned_upright(const cv::Mat& image, HeadUp up) {
  if (up == HeadUp::kTop || up == HeadUp::kAuto) return image;
  cv::Mat out;
  cv::rotate(image, out,
             up == HeadUp::kLeft     ? cv::ROTATE_90_CLOCKWISE
             : up == HeadUp::kBottom ? cv::ROTATE_180
                                     : cv::ROTATE_90_COUNTERCLOCKWISE);
  return out;
}

cv::Mat turned_back(const cv::Mat& image, HeadUp up) {
  // A quarter turn one way is undone by the same turn the other way.
  if (up == HeadUp::kLeft) return turned_upright(image, HeadUp::kRight);
  if (up == HeadUp::kRight) return turned_upright(image, HeadUp::kLeft);
  return turned_upright(image, up);
}

std::string to_string(HeadUp up) {
  switch (up) {
    case HeadUp::kAuto:
      return "auto";
    case HeadUp::kTop:
      return "top";
    case HeadUp::kLeft:
      return "left";
    case HeadUp::kBottom:
      return "bottom";
    case HeadUp::kRight:
      return "right";
  }
  return "auto";
}

HeadUp parse_head_up(const std::string& text) {
  for (HeadUp up : {HeadUp::kAuto, HeadUp::kTop, HeadUp::kLeft, HeadUp::kBottom, HeadUp::kRight})
    if (text == to_string(up)) return up;
  throw Error(ErrorCode::kInvalidArgument,
              "head up '" + text +
                  "' is not one of auto, top, left, bottom, right (where the top of the head "
                  "points in the photo)");
}

ScalpAnalysis analyze(const cv::Mat& rgb, const AnalyzeOptions& options) {
  require(!rgb.empty(), ErrorCode::kInvalidArgument,
          "analyze: the photo is empty; load an image first");
  require(rgb.type() == CV_8UC3, ErrorCode::kInvalidArgument,
          "analyze: the photo must be CV_8UC3 RGB (8-bit, 3 channels); convert it first");
  require(rgb.cols >= 16 && rgb.rows >= 16, ErrorCode::kInvalidArgument,
          "analyze: the photo is " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) +
              ", smaller than 16x16; use a larger photo");
  require(options.work_size >= 32 && options.work_size <= 4096, ErrorCode::kInvalidArgument,
          "analyze: work_size must be in 32..4096 pixels");
  require(options.head_up >= HeadUp::kAuto && options.head_up <= HeadUp::kRight,
          ErrorCode::kInvalidArgument,
          "analyze: head_up must be kAuto, kTop, kLeft, kBottom or kRight");
  try {
    return analyze_impl(rgb, options);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("analyze: OpenCV failed: ") + e.what());
  }
}

}  // namespace smp
