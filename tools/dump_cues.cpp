// Writes the cue vectors analyze() computes for every photo that has a mask, with the mask at
// the same work size, for tools/train_cues.py (the cue combiner's training script).
//
//   build/smp_dump_cues IMAGES_DIR MASKS_DIR OUT_DIR [WORK_SIZE]
//
// Per photo STEM: OUT_DIR/STEM.cues (int32 height, width, cue count, then float32 rows in
// raster order) and OUT_DIR/STEM.png (the mask at work size, nearest neighbour).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "segmenter.hpp"
#include "smp/error.hpp"
#include "smp/image.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s IMAGES_DIR MASKS_DIR OUT_DIR [WORK_SIZE]\n", argv[0]);
    return 2;
  }
  const fs::path images = argv[1], masks = argv[2], out = argv[3];
  const int work_size = argc > 4 ? std::stoi(argv[4]) : 384;
  fs::create_directories(out);
  int n = 0;
  for (const auto& e : fs::directory_iterator(masks)) {
    if (e.path().extension() != ".png") continue;
    const std::string stem = e.path().stem().string();
    fs::path photo;
    for (const char* ext : {".jpg", ".jpeg", ".png", ".JPG"})
      if (fs::exists(images / (stem + ext))) photo = images / (stem + ext);
    if (photo.empty()) continue;
    try {
      const cv::Mat rgb = smp::load_image(photo);
      const cv::Mat mask = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
      cv::Size ws;
      const cv::Mat cues = smp::detail::segmentation_cues(rgb, work_size, &ws);
      cv::Mat small;
      cv::resize(mask, small, ws, 0, 0, cv::INTER_NEAREST);
      std::ofstream f(out / (stem + ".cues"), std::ios::binary);
      const std::int32_t hdr[3] = {ws.height, ws.width, cues.cols};
      f.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
      f.write(reinterpret_cast<const char*>(cues.ptr<float>()),
              static_cast<std::streamsize>(cues.total() * sizeof(float)));
      cv::imwrite((out / (stem + ".png")).string(), small);
      std::fprintf(stderr, "[%d] %s %dx%d\n", ++n, stem.c_str(), ws.width, ws.height);
    } catch (const smp::Error& err) {
      std::fprintf(stderr, "skip %s: %s\n", stem.c_str(), err.what());
    }
  }
  return n > 0 ? 0 : 1;
}
