// smp analyze IMAGE --labels LABELS.png [--json OUT.json] [--overlay OUT.png]
// Contract relied on by evaluation scripts (keep it stable): LABELS.png is single-channel 8-bit
// at the input's size after EXIF orientation, 0 background, 1 skin, 2 hair; the JSON has at
// least width, height, hair_fraction, skin_lab, hair_lab, px_per_mm, px_per_mm_source.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "smp/analysis.hpp"
#include "smp/image.hpp"
#include "smp/present.hpp"

namespace smp::cli {

nlohmann::json analysis_json(const ScalpAnalysis& a) {
  auto lab = [](const Lab& v) { return nlohmann::json::array({v.L, v.a, v.b}); };
  return {
      {"width", a.labels.cols},
      {"height", a.labels.rows},
      {"hair_fraction", a.hair_fraction},
      {"hair_found", a.hair_found},
      {"skin_lab", lab(a.skin_lab)},
      {"hair_lab", lab(a.hair_lab)},
      {"skin_ita_deg", a.skin_ita_deg},
      {"fitzpatrick", a.fitzpatrick},
      {"px_per_mm", a.calibration.px_per_mm},
      {"px_per_mm_source", to_string(a.calibration.source)},
      {"px_per_mm_relative_uncertainty", a.calibration.relative_uncertainty},
      {"head_up", to_string(a.head_up)},
      {"head_up_confidence", a.head_up_confidence},
      {"warnings", a.warnings},
  };
}

void register_analyze(CLI::App& app) {
  auto* cmd = app.add_subcommand("analyze",
                                 "Segment a photo into background/skin/hair and "
                                 "estimate tones and scale");
  struct Args {
    std::string image, labels, json, overlay;
    AnalysisInputs inputs;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("IMAGE", args->image, "Photo (JPEG, PNG, BMP, TGA, PNM)")->required();
  cmd->add_option("--labels", args->labels,
                  "Write the label map here: 8-bit PNG, 0 background, 1 skin, 2 hair")
      ->required();
  cmd->add_option("--json", args->json, "Write tones, hair fraction and calibration as JSON");
  cmd->add_option("--overlay", args->overlay, "Write the labels coloured over the photo (PNG)");
  add_analysis_options(*cmd, args->inputs);
  cmd->callback([args] {
    const cv::Mat photo = load_image(args->image);
    const ScalpAnalysis a = analyze(photo, analysis_options(args->inputs, photo.size()));
    write_image(args->labels, a.labels);
    std::fprintf(stderr, "wrote %s (labels %dx%d)\n", args->labels.c_str(), a.labels.cols,
                 a.labels.rows);
    if (!args->overlay.empty()) {
      write_image(args->overlay, label_overlay(photo, a.labels));
      std::fprintf(stderr, "wrote %s\n", args->overlay.c_str());
    }
    const nlohmann::json j = analysis_json(a);
    if (!args->json.empty()) {
      write_bytes(args->json, j.dump(2) + "\n");
      std::fprintf(stderr, "wrote %s\n", args->json.c_str());
    }
    for (const auto& w : a.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("hair_fraction %.3f  skin Lab %.1f %.1f %.1f  px/mm %.2f (%s)\n", a.hair_fraction,
                a.skin_lab.L, a.skin_lab.a, a.skin_lab.b, a.calibration.px_per_mm,
                to_string(a.calibration.source).c_str());
  });
}

}  // namespace smp::cli
