// smp preview IMAGE -o OUT.png: the main job, photo in, before/after out.
#include <cstdio>

#include "commands.hpp"
#include "hairline_options.hpp"
#include "options.hpp"
#include "smp/image.hpp"
#include "smp/pipeline.hpp"
#include "smp/present.hpp"

namespace smp::cli {

namespace {

// Said only for a turned photo, by where the face is: a crown seen from above with the face
// side towards the top of the frame counts as turned (clinics shoot crowns face side down).
std::string turned_note(HeadUp up) {
  switch (up) {
    case HeadUp::kLeft:
      return ", turned: face towards the right";
    case HeadUp::kBottom:
      return ", turned: face towards the top";
    case HeadUp::kRight:
      return ", turned: face towards the left";
    default:
      return "";
  }
}

}  // namespace

void register_preview(CLI::App& app) {
  auto* cmd = app.add_subcommand("preview",
                                 "Render an SMP preview of a photo and write a before/after image");
  struct Args {
    std::string image, out, stage = "healed", compare = "side", pigment;
    double density = 70, dot_size = 0.45;
    int sessions = 3;
    std::uint64_t seed = 1;
    bool stages = false;
    AnalysisInputs inputs;
    HairlineInputs hairline;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("IMAGE", args->image, "Photo (JPEG, PNG, BMP, TGA, PNM)")->required();
  cmd->add_option("-o,--output", args->out, "Output PNG or JPEG")->required();
  cmd->add_option("--density", args->density,
                  "Target density of the finished treatment, impressions per cm^2")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 300.0));
  cmd->add_option("--dot-size", args->dot_size,
                  "Apparent healed dot diameter in mm (pigment spread; punctures are ~0.12 mm)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3.0));
  cmd->add_option("--stage", args->stage, "fresh | healing | healed | aged:YEARS")
      ->capture_default_str();
  cmd->add_option("--sessions", args->sessions, "Sessions the treatment is built over (1-4)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4));
  cmd->add_option("--pigment", args->pigment,
                  "Pigment dilution, e.g. 1:10 (default: chosen from skin and hair tone)");
  cmd->add_option("--seed", args->seed, "Seed of the dot layout")->capture_default_str();
  cmd->add_option("--compare", args->compare, "side: before/after side by side; none: after only")
      ->capture_default_str()
      ->check(CLI::IsMember({"side", "none"}));
  cmd->add_flag("--stages", args->stages,
                "Write before | fresh | healed | 5 years side by side (ignores --stage/--compare)");
  add_analysis_options(*cmd, args->inputs);
  add_hairline_options(*cmd, args->hairline);
  cmd->callback([args] {
    const cv::Mat photo = load_image(args->image);
    PreviewOptions o;
    o.analyze = analysis_options(args->inputs, photo.size());
    o.design.density_per_cm2 = args->density;
    o.design.sessions = args->sessions;
    o.design.pigment = args->pigment;
    o.generate.seed = args->seed;
    o.generate.dot_diameter_mm = args->dot_size;
    o.render.stage = parse_stage(args->stage);
    apply_hairline_inputs(args->hairline, o);
    const Preview p = preview(photo, o);
    cv::Mat out;
    if (args->stages) {
      // One renderer, three stages: the photo is converted to linear light once.
      Renderer renderer(photo, p.design);
      std::vector<std::pair<std::string, cv::Mat>> panels = {{"before", photo}};
      for (const char* stage : {"fresh", "healed", "aged:5"}) {
        RenderOptions r = o.render;
        r.stage = parse_stage(stage);
        cv::Mat img;
        renderer.render(p.dots, r, img);
        panels.emplace_back(std::string(stage) == "aged:5" ? "5 years" : stage, img);
      }
      out = side_by_side(panels, {.max_side_px = 6144});
    } else if (args->compare == "side") {
      out = before_after(photo, p.after, {.max_side_px = 4096});
    } else {
      out = p.after;
    }
    write_image(args->out, out);
    write_hairline_overlay(args->hairline, photo, p);
    for (const auto& w : p.analysis.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf(
        "wrote %s (%s, %dx%d): %zu dots, pigment %s, %.2f px/mm (%s), hair fraction %.2f%s\n",
        args->out.c_str(),
        args->stages              ? "before | fresh | healed | 5 years"
        : args->compare == "side" ? "before | after"
                                  : "after",
        out.cols, out.rows, p.dots.dots.size(), p.design.pigment.name.c_str(),
        p.design.calibration.px_per_mm, to_string(p.design.calibration.source).c_str(),
        p.analysis.hair_fraction, turned_note(p.analysis.head_up).c_str());
  });
}

}  // namespace smp::cli
