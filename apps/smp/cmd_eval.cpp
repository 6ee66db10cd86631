// smp eval segmentation --images DIR --masks DIR [--labels-out DIR] [--json OUT.json]
//                        [--segmenter classical|learned]
// smp eval hair-loss --scalps DIR [--json OUT.json] [--segmenter classical|learned]
// smp eval colour-shift --images DIR --masks DIR [--json OUT.json]
// Scores the analysis stage on folders of photos: label maps against hand-made masks
// (per-class IoU, mean IoU, pixel accuracy), and the estimated hair fraction against the
// hair-loss level of each photo (Spearman rank correlation per view). colour-shift scores the
// render: the healed CIELAB shift of the treated skin per skin-tone group, next to real SMP.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "commands.hpp"
#include "options.hpp"
#include "smp/analysis.hpp"
#include "smp/error.hpp"
#include "smp/evaluate.hpp"
#include "smp/image.hpp"
#include "smp/pipeline.hpp"

namespace smp::cli {
namespace {

namespace fs = std::filesystem;

// The photo for a mask stem: DIR/stem.jpg, .jpeg or .png; empty when there is none.
fs::path find_image(const fs::path& dir, const std::string& stem) {
  for (const char* ext : {".jpg", ".jpeg", ".png", ".JPG", ".PNG"}) {
    fs::path p = dir / (stem + ext);
    if (fs::exists(p)) return p;
  }
  return {};
}

void require_dir(const fs::path& dir, const char* option) {
  if (!fs::is_directory(dir))
    throw Error(ErrorCode::kIo, std::string(option) + " " + dir.string() +
                                    " is not a readable folder; pass the folder that holds it");
}

// --segmenter: which of analyze's segmenters to score (analysis.hpp).
AnalyzeOptions analyze_options(const std::string& segmenter) {
  AnalyzeOptions o;
  if (segmenter == "learned") {
    o.segmenter = AnalyzeOptions::Segmenter::kLearned;
  } else if (segmenter == "classical") {
    o.segmenter = AnalyzeOptions::Segmenter::kClassical;
  } else if (segmenter == "cues") {
    o.segmenter = AnalyzeOptions::Segmenter::kCues;
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "--segmenter must be 'cues', 'classical' or 'learned', got '" + segmenter + "'");
  }
  return o;
}

// (mask, photo) pairs of two folders matched by file stem, sorted; throws when there are none.
std::vector<std::pair<fs::path, fs::path>> mask_photo_pairs(const fs::path& images,
                                                            const fs::path& masks) {
  require_dir(images, "--images");
  require_dir(masks, "--masks");
  std::vector<std::pair<fs::path, fs::path>> pairs;  // mask, image
  for (const auto& e : fs::directory_iterator(masks)) {
    if (e.path().extension() != ".png") continue;
    fs::path img = find_image(images, e.path().stem().string());
    if (!img.empty()) pairs.emplace_back(e.path(), img);
  }
  std::sort(pairs.begin(), pairs.end());
  if (pairs.empty())
    throw Error(ErrorCode::kNotFound, "no mask in " + masks.string() +
                                          " has a photo of the same name in " + images.string() +
                                          "; masks are matched to photos by file stem");
  return pairs;
}

// A hand-made mask as a label map: masks are single-channel PNGs, load_image gives RGB with the
// value replicated.
cv::Mat load_mask(const fs::path& path) {
  cv::Mat truth;
  cv::extractChannel(load_image(path, {.apply_exif_orientation = false}), truth, 0);
  return truth;
}

void run_segmentation(const fs::path& images, const fs::path& masks, const fs::path& labels_out,
                      const std::string& json_out, const std::string& segmenter) {
  const std::vector<std::pair<fs::path, fs::path>> pairs = mask_photo_pairs(images, masks);
  if (!labels_out.empty()) fs::create_directories(labels_out);
  SegmentationScore total;
  nlohmann::json per_image = nlohmann::json::array();
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [mask_path, image_path] = pairs[i];
    progress("analyze " + image_path.filename().string(), i, pairs.size());
    const cv::Mat photo = load_image(image_path);
    const cv::Mat truth = load_mask(mask_path);
    const ScalpAnalysis a = analyze(photo, analyze_options(segmenter));
    if (a.labels.size() != truth.size())
      throw Error(ErrorCode::kInvalidArgument,
                  mask_path.string() + " is not the size of " + image_path.string() +
                      "; masks must match their photos pixel for pixel");
    SegmentationScore s;
    s.add(truth, a.labels);
    total.add(truth, a.labels);
    per_image.push_back({{"file", image_path.filename().string()},
                         {"miou", s.mean_iou()},
                         {"iou", {s.iou(0), s.iou(1), s.iou(2)}},
                         {"hair_fraction", a.hair_fraction}});
    if (!labels_out.empty())
      write_image(labels_out / (mask_path.stem().string() + ".png"), a.labels);
  }
  progress("analyze", pairs.size(), pairs.size());
  std::printf("images %zu\n", pairs.size());
  std::printf("IoU background %.4f  skin %.4f  hair %.4f\n", total.iou(0), total.iou(1),
              total.iou(2));
  std::printf("mIoU %.4f  pixel accuracy %.4f\n", total.mean_iou(), total.pixel_accuracy());
  if (!json_out.empty()) {
    nlohmann::json j = {
        {"images", pairs.size()},
        {"iou", {{"background", total.iou(0)}, {"skin", total.iou(1)}, {"hair", total.iou(2)}}},
        {"miou", total.mean_iou()},
        {"pixel_accuracy", total.pixel_accuracy()},
        {"confusion", total.confusion},
        {"per_image", per_image}};
    write_bytes(json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", json_out.c_str());
  }
}

// index.csv: file,photo_number,view,level,orientation; level like "LEVEL_5" or "5".
struct Row {
  std::string file, view;
  int level = 0;
};

std::vector<Row> read_index(const fs::path& csv) {
  std::ifstream in(csv);
  if (!in)
    throw Error(ErrorCode::kIo, "cannot open " + csv.string() +
                                    "; --scalps must hold index.csv (file,photo_number,view,"
                                    "level,orientation)");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 4)
      throw Error(ErrorCode::kDecode,
                  csv.string() + ": line '" + line + "' has fewer than 4 comma-separated fields");
    std::string lv = f[3];
    const auto digit = lv.find_first_of("0123456789");
    if (digit == std::string::npos)
      throw Error(ErrorCode::kDecode, csv.string() + ": level '" + lv + "' has no number");
    rows.push_back({f[0], f[2], std::stoi(lv.substr(digit))});
  }
  return rows;
}

void run_hair_loss(const fs::path& scalps, const std::string& json_out,
                   const std::string& segmenter) {
  require_dir(scalps, "--scalps");
  const std::vector<Row> rows = read_index(scalps / "index.csv");
  if (rows.empty())
    throw Error(ErrorCode::kNotFound, (scalps / "index.csv").string() + " lists no photos");
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_view;
  std::vector<double> all_f, all_l;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    progress("analyze " + rows[i].file, i, rows.size());
    const cv::Mat photo = load_image(scalps / "images" / rows[i].file);
    double fraction = 0;
    try {
      fraction = analyze(photo, analyze_options(segmenter)).hair_fraction;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      // No head found: counted and reported, scored as no hair (what a user would see).
      ++failed;
      std::fprintf(stderr, "warning: %s: %s\n", rows[i].file.c_str(), e.what());
    }
    by_view[rows[i].view].first.push_back(fraction);
    by_view[rows[i].view].second.push_back(rows[i].level);
    all_f.push_back(fraction);
    all_l.push_back(rows[i].level);
  }
  progress("analyze", rows.size(), rows.size());
  nlohmann::json j = {{"images", rows.size()}, {"no_head_found", failed}};
  std::printf("Spearman(hair_fraction, level)\n");
  for (const auto& [view, v] : by_view) {
    const double r = spearman(v.first, v.second);
    std::printf("  %-10s n=%3zu  %+.3f\n", view.c_str(), v.first.size(), r);
    j["spearman"][view] = r;
  }
  const double r = spearman(all_f, all_l);
  std::printf("  %-10s n=%3zu  %+.3f\n", "all", all_f.size(), r);
  j["spearman"]["all"] = r;
  if (failed) std::printf("no head found in %zu photos\n", failed);
  if (!json_out.empty()) {
    write_bytes(json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", json_out.c_str());
  }
}

// Real healed SMP (smp-real, DESIGN.md): mean CIELAB shift of the treated area, per skin tone.
struct ShiftTarget {
  const char* group;
  double min_ita, L, a, b;
};
constexpr std::array<ShiftTarget, 3> kShiftTargets{{
    {"light", 41, -20.5, -12, -9},
    {"medium", 10, -23, -2, -5},
    {"dark", -90, -10, -9, -12},
}};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void run_colour_shift(const fs::path& images, const fs::path& masks, const std::string& json_out) {
  const std::vector<std::pair<fs::path, fs::path>> pairs = mask_photo_pairs(images, masks);
  std::array<std::vector<ColourShift>, kShiftTargets.size()> groups;
  nlohmann::json per_image = nlohmann::json::array();
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [mask_path, image_path] = pairs[i];
    progress("render " + image_path.filename().string(), i, pairs.size());
    const cv::Mat photo = load_image(image_path);
    const cv::Mat truth = load_mask(mask_path);
    if (truth.size() != photo.size())
      throw Error(ErrorCode::kInvalidArgument,
                  mask_path.string() + " is not the size of " + image_path.string() +
                      "; masks must match their photos pixel for pixel");
    std::optional<ColourShift> s;
    try {
      s = healed_colour_shift(photo, truth);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
    }
    if (!s) {
      ++skipped;  // no full-density treated skin (mostly hair, or all border)
      continue;
    }
    std::size_t g = 0;
    while (s->ita_deg < kShiftTargets[g].min_ita) ++g;
    groups[g].push_back(*s);
    per_image.push_back({{"file", image_path.filename().string()},
                         {"group", kShiftTargets[g].group},
                         {"bare", {s->bare.L, s->bare.a, s->bare.b}},
                         {"shift", {s->dL, s->da, s->db}},
                         {"pixels", s->pixels}});
  }
  progress("render", pairs.size(), pairs.size());
  std::printf("healed CIELAB shift of full-density treated skin, median per group (real SMP)\n");
  nlohmann::json j = {{"images", pairs.size()}, {"skipped", skipped}, {"per_image", per_image}};
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ShiftTarget& t = kShiftTargets[g];
    std::vector<double> L, a, b, dL, da, db;
    for (const ColourShift& s : groups[g]) {
      L.push_back(s.bare.L);
      a.push_back(s.bare.a);
      b.push_back(s.bare.b);
      dL.push_back(s.dL);
      da.push_back(s.da);
      db.push_back(s.db);
    }
    std::printf(
        "  %-6s n=%2zu  bare L %5.1f a %5.1f b %5.1f   dL %6.1f (%6.1f)  da %5.1f (%5.1f)  "
        "db %5.1f (%5.1f)\n",
        t.group, groups[g].size(), median(L), median(a), median(b), median(dL), t.L, median(da),
        t.a, median(db), t.b);
    j["groups"][t.group] = {{"n", groups[g].size()},
                            {"bare", {median(L), median(a), median(b)}},
                            {"shift", {median(dL), median(da), median(db)}},
                            {"real_smp", {t.L, t.a, t.b}}};
  }
  if (skipped) std::printf("no full-density treated skin in %zu photos (skipped)\n", skipped);
  if (!json_out.empty()) {
    write_bytes(json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "wrote %s\n", json_out.c_str());
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "Score the analysis on folders of photos");
  eval->require_subcommand(1);

  struct SegArgs {
    std::string images, masks, labels_out, json;
    std::string segmenter = "classical";
  };
  auto seg = std::make_shared<SegArgs>();
  auto* s =
      eval->add_subcommand("segmentation",
                           "Per-class IoU, mean IoU and pixel accuracy of analyze's labels against "
                           "masks (0 bg, 1 skin, 2 hair, 255 ignore) matched by file stem");
  s->add_option("--images", seg->images, "Folder of photos (.jpg/.png)")->required();
  s->add_option("--masks", seg->masks, "Folder of 8-bit PNG masks")->required();
  s->add_option("--labels-out", seg->labels_out, "Write each predicted label map here");
  s->add_option("--json", seg->json, "Write the scores (and per-image scores) as JSON");
  s->add_option("--segmenter", seg->segmenter,
                "classical (default), cues or learned (README: Analysis)");
  s->callback([seg] {
    run_segmentation(seg->images, seg->masks, seg->labels_out, seg->json, seg->segmenter);
  });

  struct LossArgs {
    std::string scalps, json;
    std::string segmenter = "classical";
  };
  auto loss = std::make_shared<LossArgs>();
  auto* h =
      eval->add_subcommand("hair-loss",
                           "Spearman correlation of the estimated hair fraction with the hair-loss "
                           "level, per view (reads DIR/index.csv and DIR/images/)");
  h->add_option("--scalps", loss->scalps, "Folder with index.csv and images/")->required();
  h->add_option("--json", loss->json, "Write the correlations as JSON");
  h->add_option("--segmenter", loss->segmenter,
                "classical (default), cues or learned (README: Analysis)");
  h->callback([loss] { run_hair_loss(loss->scalps, loss->json, loss->segmenter); });

  struct ShiftArgs {
    std::string images, masks, json;
  };
  auto shift = std::make_shared<ShiftArgs>();
  auto* c = eval->add_subcommand(
      "colour-shift",
      "Healed CIELAB shift of the treated skin (default preview, the masks as labels) per skin "
      "tone group (ITA), next to real healed SMP");
  c->add_option("--images", shift->images, "Folder of photos (.jpg/.png)")->required();
  c->add_option("--masks", shift->masks, "Folder of 8-bit PNG masks (0 bg, 1 skin, 2 hair)")
      ->required();
  c->add_option("--json", shift->json, "Write the medians (and per-image shifts) as JSON");
  c->callback([shift] { run_colour_shift(shift->images, shift->masks, shift->json); });
}

}  // namespace smp::cli
