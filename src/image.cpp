// PLACEHOLDER: replaced when the image stage lands. Every function throws, so the build links.
#include "smp/image.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

cv::Mat load_image(const std::filesystem::path&, const LoadOptions&) { NI("load_image"); }
cv::Mat decode_image(std::span<const std::uint8_t>, const LoadOptions&, const std::string&) { NI("decode_image"); }
int exif_orientation(std::span<const std::uint8_t>) { NI("exif_orientation"); }
cv::Mat apply_orientation(const cv::Mat&, int) { NI("apply_orientation"); }
void write_image(const std::filesystem::path&, const cv::Mat&, const WriteOptions&) { NI("write_image"); }
std::string encode_png(const cv::Mat&) { NI("encode_png"); }

}  // namespace smp
