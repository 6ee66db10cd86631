#include "smp/pipeline.hpp"

namespace smp {

Preview preview(const cv::Mat& photo_rgb, const PreviewOptions& options) {
  Preview p;
  p.analysis = analyze(photo_rgb, options.analyze);
  p.design = design(p.analysis, options.design);
  p.dots = generate(p.design, options.generate);
  p.after = render(photo_rgb, p.design, p.dots, options.render);
  return p;
}

}  // namespace smp
