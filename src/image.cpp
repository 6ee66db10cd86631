// Stage 0: image IO. stb_image decodes, stb_image_write encodes; both live in this file only
// (static linkage, so an application that links its own stb never clashes with ours).
#include "smp/image.hpp"

#include <unistd.h>  // getpid, for temporary file names

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "check.hpp"
#include "smp/error.hpp"

// --- stb configuration: internal linkage, our own assert, only the decoders we document ---
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ASSERT(x) SMP_DCHECK(x)
// We read files ourselves so that errors name the file and carry errno.
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
// JPEG, PNG, BMP, TGA only. PNM is parsed below: stb 2.27 neither byte-swaps 16-bit PNM samples
// (PNM is big-endian), nor scales a maxval other than 255/65535, nor notices truncated data.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#include <stb_image.h>

#include <opencv2/imgcodecs.hpp>

namespace smp {
namespace {

std::string size_text(int w, int h) {
  return std::to_string(w) + "x" + std::to_string(h);
}

[[noreturn]] void fail_decode(const std::string& name, const std::string& why) {
  throw Error(ErrorCode::kDecode,
              name + ": cannot decode image (" + why +
                  "); check that it is a complete JPEG, PNG, BMP, TGA or PNM file, or re-export "
                  "it from the camera or editor");
}

void check_size(const std::string& name, std::int64_t w, std::int64_t h,
                const LoadOptions& options) {
  if (w <= 0 || h <= 0)
    fail_decode(name, "header says " + std::to_string(w) + "x" + std::to_string(h) + " pixels");
  if (w * h > options.max_pixels) {
    throw Error(ErrorCode::kTooLarge,
                name + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                    std::to_string(w * h) + " pixels, more than the limit of " +
                    std::to_string(options.max_pixels) +
                    "; downscale it first, or raise LoadOptions::max_pixels if you trust the file");
  }
}

// ---------------------------------------------------------------------------------------------
// Pixel conversion to CV_8UC3 RGB.

// Exact round(v * 255 / 65535).
inline std::uint8_t to8(std::uint16_t v) {
  return static_cast<std::uint8_t>((std::uint32_t{v} * 255u + 32767u) / 65535u);
}

// Composites over white in sRGB values (as browsers and viewers show transparent images), and
// rounds exactly: out = round(c*a/M + (M-a)), all /M scaled to 8 bits, M = the channel maximum.
template <typename T>
inline std::uint8_t over_white(T c, T a) {
  if constexpr (sizeof(T) == 1) {
    const std::uint32_t num = std::uint32_t{c} * a + 255u * (255u - a);  // <= 255^2
    return static_cast<std::uint8_t>((num + 127u) / 255u);
  } else {
    constexpr std::uint64_t kM = 65535;
    const std::uint64_t num = std::uint64_t{c} * a + kM * (kM - a);  // <= M^2
    return static_cast<std::uint8_t>((num * 255u + (kM * kM) / 2) / (kM * kM));
  }
}

template <typename T>
inline std::uint8_t plain(T v) {
  if constexpr (sizeof(T) == 1) {
    return v;
  } else {
    return to8(v);
  }
}

// `src` holds w*h*channels samples, interleaved, as stb returns them.
template <typename T>
cv::Mat to_rgb8(const T* src, int w, int h, int channels) {
  cv::Mat out(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    const T* s = src + static_cast<std::size_t>(y) * w * channels;
    auto* d = out.ptr<std::uint8_t>(y);
    switch (channels) {
      case 1:
        for (int x = 0; x < w; ++x, d += 3) d[0] = d[1] = d[2] = plain(s[x]);
        break;
      case 2:
        for (int x = 0; x < w; ++x, d += 3) d[0] = d[1] = d[2] = over_white(s[2 * x], s[2 * x + 1]);
        break;
      case 3:
        if constexpr (sizeof(T) == 1) {
          std::memcpy(d, s, static_cast<std::size_t>(w) * 3);
        } else {
          for (int i = 0; i < 3 * w; ++i) d[i] = to8(s[i]);
        }
        break;
      case 4:
        for (int x = 0; x < w; ++x, d += 3, s += 4) {
          d[0] = over_white(s[0], s[3]);
          d[1] = over_white(s[1], s[3]);
          d[2] = over_white(s[2], s[3]);
        }
        break;
      default:
        SMP_DCHECK(false);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// PNM (binary P5 grey / P6 RGB, 8 or 16 bit), parsed here; see the stb configuration above.

struct PnmHeader {
  int channels = 0;
  std::int64_t width = 0, height = 0;
  int maxval = 0;
  std::size_t data_offset = 0;
};

bool is_pnm(std::span<const std::uint8_t> b) {
  return b.size() >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6');
}

PnmHeader parse_pnm_header(std::span<const std::uint8_t> b, const std::string& name) {
  PnmHeader hdr;
  hdr.channels = b[1] == '6' ? 3 : 1;
  std::size_t pos = 2;
  auto is_space = [](std::uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  auto skip_space_and_comments = [&] {
    while (pos < b.size()) {
      if (is_space(b[pos])) {
        ++pos;
      } else if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
      } else {
        break;
      }
    }
  };
  auto number = [&](const char* what) -> std::int64_t {
    skip_space_and_comments();
    std::int64_t v = 0;
    const std::size_t start = pos;
    while (pos < b.size() && b[pos] >= '0' && b[pos] <= '9') {
      // Nine digits keep width * height * 6 far from int64 overflow.
      if (pos - start == 9) fail_decode(name, std::string("PNM ") + what + " is absurdly large");
      v = v * 10 + (b[pos] - '0');
      ++pos;
    }
    if (pos == start) fail_decode(name, std::string("PNM header has no ") + what);
    return v;
  };
  hdr.width = number("width");
  hdr.height = number("height");
  const std::int64_t maxval = number("maximum value");
  if (maxval < 1 || maxval > 65535) {
    fail_decode(name, "PNM maximum value " + std::to_string(maxval) + " is outside 1..65535");
  }
  hdr.maxval = static_cast<int>(maxval);
  // Exactly one whitespace byte separates the header from the samples.
  if (pos >= b.size() || !is_space(b[pos])) fail_decode(name, "PNM header is incomplete");
  hdr.data_offset = pos + 1;
  return hdr;
}

cv::Mat decode_pnm(std::span<const std::uint8_t> b, const LoadOptions& options,
                   const std::string& name) {
  const PnmHeader hdr = parse_pnm_header(b, name);
  check_size(name, hdr.width, hdr.height, options);
  const int bytes_per_sample = hdr.maxval > 255 ? 2 : 1;
  const std::int64_t need = hdr.width * hdr.height * hdr.channels * bytes_per_sample;
  const auto have = static_cast<std::int64_t>(b.size() - hdr.data_offset);
  if (have < need) {
    fail_decode(name, "PNM data is truncated: " + std::to_string(have) + " of " +
                          std::to_string(need) + " bytes");
  }
  const int w = static_cast<int>(hdr.width), h = static_cast<int>(hdr.height);
  const std::uint8_t* p = b.data() + hdr.data_offset;
  // Sample -> 8 bits, exact rounding of v * 255 / maxval.
  std::vector<std::uint8_t> lut(static_cast<std::size_t>(hdr.maxval) + 1);
  for (std::size_t v = 0; v < lut.size(); ++v) {
    lut[v] = static_cast<std::uint8_t>((v * 255 + hdr.maxval / 2) / hdr.maxval);
  }
  cv::Mat out(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    auto* d = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x, d += 3) {
      for (int c = 0; c < 3; ++c) {
        const std::size_t i =
            (static_cast<std::size_t>(y) * w + x) * hdr.channels + (hdr.channels == 3 ? c : 0);
        unsigned v = bytes_per_sample == 2 ? (unsigned{p[2 * i]} << 8) | p[2 * i + 1] : p[i];
        v = std::min<unsigned>(v, static_cast<unsigned>(hdr.maxval));  // out-of-range samples
        d[c] = lut[v];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JPEG completeness. stb fills a truncated JPEG with grey and reports success; walk the marker
// structure (skipping entropy-coded data) and require an EOI. Data after the EOI is allowed:
// phones append motion-photo video and MPF images there.

enum class JpegEnd { kComplete, kTruncated, kUnknown };

JpegEnd jpeg_end(std::span<const std::uint8_t> b) {
  const std::size_t n = b.size();
  if (n < 2 || b[0] != 0xFF || b[1] != 0xD8) return JpegEnd::kUnknown;
  std::size_t pos = 2;
  for (;;) {
    if (pos >= n) return JpegEnd::kTruncated;
    if (b[pos] != 0xFF) return JpegEnd::kUnknown;  // corrupt; let the decoder explain
    while (pos < n && b[pos] == 0xFF) ++pos;       // fill bytes
    if (pos >= n) return JpegEnd::kTruncated;
    const std::uint8_t marker = b[pos++];
    if (marker == 0xD9) return JpegEnd::kComplete;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (n - pos < 2) return JpegEnd::kTruncated;
    const std::size_t len = (std::size_t{b[pos]} << 8) | b[pos + 1];
    if (len < 2) return JpegEnd::kUnknown;
    if (n - pos < len) return JpegEnd::kTruncated;
    pos += len;
    if (marker != 0xDA) continue;
    // Entropy-coded data: ends at an 0xFF not followed by 0x00 (stuffing), RSTn or 0xFF (fill).
    for (;;) {
      const void* ff = std::memchr(b.data() + pos, 0xFF, n - pos);
      if (ff == nullptr) return JpegEnd::kTruncated;
      pos = static_cast<std::size_t>(static_cast<const std::uint8_t*>(ff) - b.data());
      if (pos + 1 >= n) return JpegEnd::kTruncated;
      const std::uint8_t next = b[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos += 2;
      } else if (next == 0xFF) {
        pos += 1;
      } else {
        break;  // a marker: back to the outer loop
      }
    }
  }
}

cv::Mat decode_impl(std::span<const std::uint8_t> bytes, const LoadOptions& options,
                    const std::string& name) {
  require(options.max_pixels > 0, ErrorCode::kInvalidArgument,
          "LoadOptions::max_pixels is " + std::to_string(options.max_pixels) +
              "; pass a positive pixel limit");
  if (bytes.empty()) fail_decode(name, "no bytes");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw Error(ErrorCode::kTooLarge, name + ": " + std::to_string(bytes.size()) +
                                          " bytes is more than the decoder accepts (2 GiB); "
                                          "re-encode the image as a smaller JPEG or PNG");
  }
  cv::Mat rgb;
  if (is_pnm(bytes)) {
    rgb = decode_pnm(bytes, options, name);
  } else {
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
      fail_decode(name, std::string("not a supported image format: ") + stbi_failure_reason());
    }
    check_size(name, w, h, options);
    if (jpeg_end(bytes) == JpegEnd::kTruncated) {
      fail_decode(name, "JPEG data ends before its end-of-image marker; the file is truncated");
    }
    int dw = 0, dh = 0, dc = 0;
    if (stbi_is_16_bit_from_memory(data, len)) {
      std::unique_ptr<stbi_us, void (*)(void*)> px(
          stbi_load_16_from_memory(data, len, &dw, &dh, &dc, 0), stbi_image_free);
      if (!px) fail_decode(name, stbi_failure_reason());
      rgb = to_rgb8(px.get(), dw, dh, dc);
    } else {
      std::unique_ptr<stbi_uc, void (*)(void*)> px(
          stbi_load_from_memory(data, len, &dw, &dh, &dc, 0), stbi_image_free);
      if (!px) fail_decode(name, stbi_failure_reason());
      rgb = to_rgb8(px.get(), dw, dh, dc);
    }
    SMP_DCHECK(dw == w && dh == h);
  }
  if (options.apply_exif_orientation) {
    const int o = exif_orientation(bytes);
    if (o != 1) rgb = apply_orientation(rgb, o);
  }
  return rgb;
}

// ---------------------------------------------------------------------------------------------
// EXIF. Every read below is bounds-checked against the span: the bytes are untrusted.

struct Reader {
  std::span<const std::uint8_t> b;
  bool big_endian = true;
  [[nodiscard]] bool has(std::size_t pos, std::size_t count) const {
    return pos <= b.size() && count <= b.size() - pos;
  }
  [[nodiscard]] unsigned u16(std::size_t p) const {
    return big_endian ? (unsigned{b[p]} << 8) | b[p + 1] : (unsigned{b[p + 1]} << 8) | b[p];
  }
  [[nodiscard]] std::uint32_t u32(std::size_t p) const {
    return big_endian ? (std::uint32_t{u16(p)} << 16) | u16(p + 2)
                      : (std::uint32_t{u16(p + 2)} << 16) | u16(p);
  }
};

// Orientation from a TIFF structure (the payload of an APP1 "Exif\0\0" segment).
std::optional<int> tiff_orientation(std::span<const std::uint8_t> tiff) {
  Reader r{tiff};
  if (!r.has(0, 8)) return std::nullopt;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    r.big_endian = false;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    r.big_endian = true;
  } else {
    return std::nullopt;
  }
  if (r.u16(2) != 42) return std::nullopt;
  const std::size_t ifd0 = r.u32(4);
  if (!r.has(ifd0, 2)) return std::nullopt;
  const unsigned count = r.u16(ifd0);
  for (unsigned i = 0; i < count; ++i) {
    const std::size_t e = ifd0 + 2 + std::size_t{i} * 12;
    if (!r.has(e, 12)) return std::nullopt;
    if (r.u16(e) != 0x0112) continue;
    // SHORT (type 3), count 1: the value sits in the first two bytes of the value field.
    if (r.u16(e + 2) != 3 || r.u32(e + 4) < 1) return std::nullopt;
    const unsigned v = r.u16(e + 8);
    if (v >= 1 && v <= 8) return static_cast<int>(v);
    return std::nullopt;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Writing.

enum class Format { kPng, kJpeg };

Format format_for(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".png") return Format::kPng;
  if (ext == ".jpg" || ext == ".jpeg") return Format::kJpeg;
  throw Error(ErrorCode::kInvalidArgument,
              path.string() + ": cannot tell the image format from the extension '" +
                  path.extension().string() + "'; name the file .png, .jpg or .jpeg");
}

void check_writable(const cv::Mat& image, const std::string& name) {
  require(!image.empty(), ErrorCode::kInvalidArgument,
          name + ": the image to write is empty; pass a decoded or rendered image");
  const int t = image.type();
  require(t == CV_8UC3 || t == CV_8UC4 || t == CV_8UC1, ErrorCode::kInvalidArgument,
          name + ": cannot write an image of type " + cv::typeToString(t) +
              "; convert it to CV_8UC3 (RGB), CV_8UC4 (RGBA) or CV_8UC1 first");
  require(image.dims == 2, ErrorCode::kInvalidArgument,
          name + ": cannot write a " + std::to_string(image.dims) + "-dimensional Mat");
}

// Encoding goes through OpenCV's encoders (libpng + zlib, libjpeg-turbo): measured on a 12 MP
// image (bench/image_bench.cpp) they are ~3x faster than stb_image_write for PNG and ~8x for
// JPEG, with smaller files. They expect BGR(A) order, hence the channel swap.
cv::Mat to_bgr_order(const cv::Mat& image) {
  cv::Mat out;
  if (image.type() == CV_8UC3) {
    cv::cvtColor(image, out, cv::COLOR_RGB2BGR);
  } else if (image.type() == CV_8UC4) {
    cv::cvtColor(image, out, cv::COLOR_RGBA2BGRA);
  } else {
    out = image;
  }
  return out;
}

std::string encode_with_opencv(const cv::Mat& bgr, const char* ext, const std::vector<int>& params,
                               const std::string& name) {
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(ext, bgr, buf, params)) {
    throw Error(ErrorCode::kIo,
                name + ": " + std::string(ext + 1) + " encoding failed; check free memory");
  }
  return {buf.begin(), buf.end()};
}

std::string encode_png_impl(const cv::Mat& image, const std::string& name) {
  check_writable(image, name);
  // Level 1: previews are written once and viewed; speed matters more than the last 10% of size.
  return encode_with_opencv(to_bgr_order(image), ".png", {cv::IMWRITE_PNG_COMPRESSION, 1}, name);
}

std::string encode_jpeg_impl(const cv::Mat& image, const std::string& name, int quality) {
  check_writable(image, name);
  require(quality >= 1 && quality <= 100, ErrorCode::kInvalidArgument,
          name + ": JPEG quality " + std::to_string(quality) + " is outside 1..100");
  require(image.cols <= 65535 && image.rows <= 65535, ErrorCode::kInvalidArgument,
          name + ": JPEG cannot hold " + size_text(image.cols, image.rows) +
              " pixels (at most 65535 per side); write a PNG or downscale");
  cv::Mat src = image;
  if (image.type() == CV_8UC4) {
    // JPEG has no alpha: composite over white, as load_image does.
    src.create(image.rows, image.cols, CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
      const auto* s = image.ptr<std::uint8_t>(y);
      auto* d = src.ptr<std::uint8_t>(y);
      for (int x = 0; x < image.cols; ++x, s += 4, d += 3) {
        for (int c = 0; c < 3; ++c) d[c] = over_white<std::uint8_t>(s[c], s[3]);
      }
    }
  }
  return encode_with_opencv(to_bgr_order(src), ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality}, name);
}

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Writes `bytes` to `tmp`; returns 0 or an errno value.
int write_file(const std::filesystem::path& tmp, const std::string& bytes) {
  errno = 0;
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return errno != 0 ? errno : EIO;
  int err = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) err = errno != 0 ? errno : EIO;
  if (std::fclose(f) != 0 && err == 0) err = errno != 0 ? errno : EIO;
  return err;
}

std::atomic<std::uint64_t> g_temp_counter{0};

}  // namespace

// =============================================================================================

cv::Mat decode_image(std::span<const std::uint8_t> bytes, const LoadOptions& options,
                     const std::string& name) {
  try {
    return decode_impl(bytes, options, name);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kTooLarge,
                name +
                    ": ran out of memory while decoding; lower LoadOptions::max_pixels or "
                    "downscale the image");
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kDecode, name + ": OpenCV failed while decoding (" + e.what() +
                                        "); report this with the file attached");
  }
}

cv::Mat load_image(const std::filesystem::path& path, const LoadOptions& options) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kIo, name + ": is a directory, not an image; pass an image file");
  }
  errno = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    const int err = errno;
    throw Error(ErrorCode::kIo, name + ": cannot open (" + errno_text(err) +
                                    "); check the path and that the file is readable");
  }
  std::vector<std::uint8_t> bytes;
  try {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) bytes.reserve(static_cast<std::size_t>(std::min<std::uintmax_t>(size, INT_MAX)));
    std::uint8_t chunk[1 << 16];
    for (;;) {
      const std::size_t got = std::fread(chunk, 1, sizeof chunk, f.get());
      bytes.insert(bytes.end(), chunk, chunk + got);
      if (got < sizeof chunk) break;
      if (bytes.size() > static_cast<std::size_t>(INT_MAX)) break;  // decode_image rejects it
    }
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kTooLarge,
                name + ": ran out of memory reading the file; is it really an image?");
  }
  if (std::ferror(f.get())) {
    const int err = errno;
    throw Error(ErrorCode::kIo, name + ": read failed (" + errno_text(err) +
                                    "); check the disk or copy the file again");
  }
  if (bytes.empty()) {
    throw Error(ErrorCode::kIo, name +
                                    ": the file is empty (0 bytes), probably an interrupted copy "
                                    "or download; copy or export it again");
  }
  return decode_image(bytes, options, name);
}

int exif_orientation(std::span<const std::uint8_t> b) {
  const std::size_t n = b.size();
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return 1;
  std::size_t pos = 2;
  // Walk the header segments up to the first scan; APP1 segments are always before it.
  while (pos < n) {
    if (b[pos] != 0xFF) return 1;
    while (pos < n && b[pos] == 0xFF) ++pos;
    if (pos >= n) return 1;
    const std::uint8_t marker = b[pos++];
    if (marker == 0xD9 || marker == 0xDA) return 1;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (n - pos < 2) return 1;
    const std::size_t len = (std::size_t{b[pos]} << 8) | b[pos + 1];
    if (len < 2 || n - pos < len) return 1;
    const auto payload = b.subspan(pos + 2, len - 2);
    static constexpr std::uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (marker == 0xE1 && payload.size() >= 6 && std::memcmp(payload.data(), kExif, 6) == 0) {
      // The first Exif segment is authoritative; a later APP1 is usually XMP.
      return tiff_orientation(payload.subspan(6)).value_or(1);
    }
    pos += len;
  }
  return 1;
}

cv::Mat apply_orientation(const cv::Mat& image, int orientation) {
  require(orientation >= 1 && orientation <= 8, ErrorCode::kInvalidArgument,
          "EXIF orientation " + std::to_string(orientation) +
              " is outside 1..8; pass the value exif_orientation() returned");
  try {
    cv::Mat out;
    switch (orientation) {
      case 1:
        out = image.clone();
        break;
      case 2:
        cv::flip(image, out, 1);
        break;  // mirror left-right
      case 3:
        cv::rotate(image, out, cv::ROTATE_180);
        break;
      case 4:
        cv::flip(image, out, 0);
        break;  // mirror top-bottom
      case 5:
        cv::transpose(image, out);
        break;
      case 6:
        cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
        break;
      case 7:  // transverse: transpose, then rotate 180
        cv::transpose(image, out);
        cv::flip(out, out, -1);
        break;
      case 8:
        cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
        break;
      default:
        SMP_DCHECK(false);
    }
    return out;
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("apply_orientation: OpenCV rejected the image (") + e.what() +
                    "); pass a 2-D image");
  }
}

void write_image(const std::filesystem::path& path, const cv::Mat& image,
                 const WriteOptions& options) {
  const std::string name = path.string();
  const Format format = format_for(path);
  std::string bytes;
  try {
    bytes = format == Format::kPng ? encode_png_impl(image, name)
                                   : encode_jpeg_impl(image, name, options.jpeg_quality);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kIo, name +
                                    ": ran out of memory while encoding; free memory or "
                                    "write a smaller image");
  }
  write_bytes(path, bytes);
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  const std::string name = path.string();
  require(!path.filename().empty(), ErrorCode::kInvalidArgument,
          name + ": the path names no file; add a file name");
  // Hidden, unique per process and call, in the same folder so the rename stays atomic.
  std::string tmp_name = ".";
  tmp_name += path.filename().string();
  tmp_name += ".tmp-";
  tmp_name += std::to_string(::getpid());
  tmp_name += '-';
  tmp_name += std::to_string(g_temp_counter++);
  const std::filesystem::path tmp = path.parent_path() / tmp_name;
  if (const int err = write_file(tmp, bytes); err != 0) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(ErrorCode::kIo, name + ": cannot write (" + errno_text(err) +
                                    "); check that the folder exists, is writable and has space");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(ErrorCode::kIo, name + ": cannot replace the file (" + ec.message() +
                                    "); check that it is not a folder and the folder is writable");
  }
}

std::string encode_png(const cv::Mat& image) {
  try {
    return encode_png_impl(image, "encode_png");
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kIo, "encode_png: ran out of memory; write a smaller image");
  }
}

}  // namespace smp
