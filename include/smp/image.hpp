// Stage 0: load and write images. stb_image decodes; stb never appears in public headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include <opencv2/core.hpp>

namespace smp {

struct LoadOptions {
  // Largest accepted width x height. A 12 MP phone photo is far below the default; the limit
  // exists so a hostile or corrupt header cannot make us allocate gigabytes.
  std::int64_t max_pixels = 100'000'000;
  // Rotate/flip JPEGs as their EXIF Orientation tag says (phones store portrait shots rotated).
  bool apply_exif_orientation = true;
};

// Decodes JPEG, PNG, BMP, TGA or PNM into CV_8UC3 **RGB** (grey is replicated, alpha is
// composited over white, 16-bit is rounded to 8-bit). Throws Error(kIo / kDecode / kTooLarge)
// naming the file and the reason.
cv::Mat load_image(const std::filesystem::path& path, const LoadOptions& options = {});

// Same, from bytes in memory. `name` only labels error messages.
cv::Mat decode_image(std::span<const std::uint8_t> bytes, const LoadOptions& options = {},
                     const std::string& name = "<memory>");

// Reads the EXIF orientation (1..8) of a JPEG byte stream; 1 when absent or not a JPEG.
int exif_orientation(std::span<const std::uint8_t> bytes);

// Applies an EXIF orientation (1..8) to an image, returning a new Mat.
cv::Mat apply_orientation(const cv::Mat& image, int orientation);

struct WriteOptions {
  int jpeg_quality = 92;  // 1..100
};

// Writes CV_8UC3 RGB, CV_8UC4 RGBA or CV_8UC1 as PNG or JPEG, chosen by the extension
// (.png, .jpg, .jpeg). Writes to a temporary file beside `path` and renames it, so a failure
// never leaves half a file. Throws Error(kIo / kInvalidArgument).
void write_image(const std::filesystem::path& path, const cv::Mat& image,
                 const WriteOptions& options = {});

// Writes `bytes` (e.g. JSON) via a temporary file beside `path` and a rename, as write_image
// does: a failure never leaves half a file. Throws Error(kIo / kInvalidArgument).
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

// Encodes to PNG bytes in memory (for apps that never touch the file system).
std::string encode_png(const cv::Mat& image);

}  // namespace smp
