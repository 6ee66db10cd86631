// smp synth -o IMAGE.png: the project's own phantoms, with ground truth.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "smp/image.hpp"
#include "smp/synth.hpp"

namespace smp::cli {

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Render a synthetic head photo with ground truth");
  struct Args {
    std::string out, labels, truth_json, view = "top", size = "1024x1024", hair = "dark";
    int level = 5, skin = 2;
    double hair_density = 1.0;
    std::uint64_t seed = 1;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("-o,--output", args->out, "Output image (PNG or JPEG)")->required();
  cmd->add_option("--labels", args->labels, "Write the ground-truth label map (PNG, 0/1/2)");
  cmd->add_option("--truth", args->truth_json, "Write the true hairline and px per mm as JSON");
  cmd->add_option("--view", args->view, "top | front")->capture_default_str();
  cmd->add_option("--size", args->size, "WIDTHxHEIGHT in pixels")->capture_default_str();
  cmd->add_option("--level", args->level, "Hair-loss level, 2 (full) .. 7 (bald top)")
      ->capture_default_str()
      ->check(CLI::Range(2, 7));
  cmd->add_option("--skin", args->skin, "Fitzpatrick skin type 1..6")
      ->capture_default_str()
      ->check(CLI::Range(1, 6));
  cmd->add_option("--hair", args->hair, "black | dark | brown | blond | red | grey")
      ->capture_default_str();
  cmd->add_option("--hair-density", args->hair_density, "Multiplies the strand count")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 4.0));
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->callback([args] {
    const Phantom ph = synthesize({.size = parse_size(args->size, "--size"),
                                   .view = parse_view(args->view),
                                   .level = args->level,
                                   .fitzpatrick = args->skin,
                                   .hair = parse_hair_color(args->hair),
                                   .hair_density = args->hair_density,
                                   .seed = args->seed});
    write_image(args->out, ph.image);
    std::printf("wrote %s (%dx%d, %.2f px/mm)\n", args->out.c_str(), ph.image.cols, ph.image.rows,
                ph.px_per_mm);
    if (!args->labels.empty()) {
      write_image(args->labels, ph.labels);
      std::printf("wrote %s\n", args->labels.c_str());
    }
    if (!args->truth_json.empty()) {
      nlohmann::json line = nlohmann::json::array();
      for (const auto& p : ph.hairline) line.push_back({p.x, p.y});
      write_bytes(args->truth_json,
                  nlohmann::json{{"px_per_mm", ph.px_per_mm}, {"hairline", line}}.dump(2) + "\n");
      std::printf("wrote %s\n", args->truth_json.c_str());
    }
  });
}

}  // namespace smp::cli
