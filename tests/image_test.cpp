// Stage 0 (image IO). Every fixture is generated here: stb_image_write (a private, static copy,
// independent of the one inside the library) or hand-built bytes. No binary fixtures.
#include "smp/image.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "smp/error.hpp"
#include "test_util.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<Bytes*>(ctx);
  const auto* p = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

// `img` is interleaved RGB / RGBA / grey as stored in memory (no channel swap).
Bytes stb_png(const cv::Mat& img) {
  Bytes out;
  EXPECT_TRUE(stbi_write_png_to_func(append, &out, img.cols, img.rows, img.channels(), img.data,
                                     static_cast<int>(img.step[0])));
  return out;
}

Bytes stb_jpeg(const cv::Mat& img, int quality = 95) {
  Bytes out;
  cv::Mat c = img.isContinuous() ? img : img.clone();
  EXPECT_TRUE(stbi_write_jpg_to_func(append, &out, c.cols, c.rows, c.channels(), c.data, quality));
  return out;
}

void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

cv::Mat random_image(int w, int h, int type, unsigned seed) {
  cv::Mat m(h, w, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

// Smooth, so JPEG errors stay small: a gradient plus a low-frequency ripple.
cv::Mat smooth_image(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(
          static_cast<std::uint8_t>(40 + 150 * x / w), static_cast<std::uint8_t>(60 + 120 * y / h),
          static_cast<std::uint8_t>(128 + 60 * std::sin(0.05 * x + 0.03 * y)));
    }
  }
  return m;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_INF);
}

// Runs `f`, expects smp::Error with `code`, returns its message.
template <typename F>
std::string expect_error(F f, smp::ErrorCode code) {
  try {
    f();
  } catch (const smp::Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no smp::Error thrown";
  return {};
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// ---- a minimal PNG writer for 16-bit samples (stb cannot write them): stored deflate blocks --

std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

void chunk(Bytes& png, const char* type, const Bytes& data) {
  put32(png, static_cast<std::uint32_t>(data.size()));
  Bytes body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put32(png, crc32(body.data(), body.size()));
}

// `samples`: rows of w*channels 16-bit values. colour_type: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA.
Bytes png16(int w, int h, int colour_type, const std::vector<std::uint16_t>& samples) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes ihdr;
  put32(ihdr, static_cast<std::uint32_t>(w));
  put32(ihdr, static_cast<std::uint32_t>(h));
  ihdr.insert(ihdr.end(), {16, static_cast<std::uint8_t>(colour_type), 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  const int channels = colour_type == 0 ? 1 : colour_type == 2 ? 3 : colour_type == 4 ? 2 : 4;
  Bytes raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    for (int i = 0; i < w * channels; ++i) {
      const std::uint16_t v = samples[static_cast<std::size_t>(y * w * channels + i)];
      raw.push_back(static_cast<std::uint8_t>(v >> 8));
      raw.push_back(static_cast<std::uint8_t>(v & 0xFF));
    }
  }
  EXPECT_LT(raw.size(), 65535u);  // one stored block
  Bytes z = {0x78, 0x01, 0x01};   // zlib header; final stored block
  const auto len = static_cast<std::uint16_t>(raw.size());
  z.insert(z.end(),
           {static_cast<std::uint8_t>(len & 0xFF), static_cast<std::uint8_t>(len >> 8),
            static_cast<std::uint8_t>(~len & 0xFF), static_cast<std::uint8_t>((~len >> 8) & 0xFF)});
  z.insert(z.end(), raw.begin(), raw.end());
  std::uint32_t a = 1, b = 0;  // adler32
  for (std::uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put32(z, (b << 16) | a);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

// ---- EXIF -----------------------------------------------------------------------------------

// An APP1 segment: "Exif\0\0", a TIFF header in the given byte order, IFD0 with ImageWidth and
// then Orientation (so the parser must walk past an entry).
Bytes exif_app1(int orientation, bool big_endian) {
  Bytes t;
  auto p16 = [&](unsigned v) {
    if (big_endian) {
      t.push_back(static_cast<std::uint8_t>(v >> 8));
      t.push_back(static_cast<std::uint8_t>(v));
    } else {
      t.push_back(static_cast<std::uint8_t>(v));
      t.push_back(static_cast<std::uint8_t>(v >> 8));
    }
  };
  auto p32 = [&](std::uint32_t v) {
    if (big_endian) {
      p16(v >> 16);
      p16(v & 0xFFFF);
    } else {
      p16(v & 0xFFFF);
      p16(v >> 16);
    }
  };
  t.push_back(big_endian ? 'M' : 'I');
  t.push_back(big_endian ? 'M' : 'I');
  p16(42);
  p32(8);       // IFD0 right after the header
  p16(2);       // two entries
  p16(0x0100);  // ImageWidth, LONG, 1, 24
  p16(4);
  p32(1);
  p32(24);
  p16(0x0112);  // Orientation, SHORT, 1, value + 2 padding bytes
  p16(3);
  p32(1);
  p16(static_cast<unsigned>(orientation));
  p16(0);
  p32(0);  // no next IFD
  Bytes seg = {0xFF, 0xE1};
  const std::size_t len = 2 + 6 + t.size();
  seg.push_back(static_cast<std::uint8_t>(len >> 8));
  seg.push_back(static_cast<std::uint8_t>(len & 0xFF));
  seg.insert(seg.end(), {'E', 'x', 'i', 'f', 0, 0});
  seg.insert(seg.end(), t.begin(), t.end());
  return seg;
}

// Inserts a segment right after SOI.
Bytes splice_after_soi(const Bytes& jpeg, const Bytes& segment) {
  // Sized up front: GCC 12's -Warray-bounds misfires on inserting into a 2-byte vector.
  Bytes out(jpeg.size() + segment.size());
  std::copy(jpeg.begin(), jpeg.begin() + 2, out.begin());
  std::copy(segment.begin(), segment.end(), out.begin() + 2);
  std::copy(jpeg.begin() + 2, jpeg.end(),
            out.begin() + 2 + static_cast<std::ptrdiff_t>(segment.size()));
  return out;
}

// The EXIF specification's table, read literally: orientation o says which side of the displayed
// image the stored row 0 is, and which side stored column 0 is. Independent of cv::rotate.
cv::Mat orient_by_spec(const cv::Mat& img, int o) {
  enum Side { kTop, kBottom, kLeft, kRight };
  static const Side kRow0[9] = {kTop, kTop, kTop, kBottom, kBottom, kLeft, kRight, kRight, kLeft};
  static const Side kCol0[9] = {kLeft, kLeft, kRight, kRight, kLeft, kTop, kTop, kBottom, kBottom};
  const int w = img.cols, h = img.rows;
  const bool swap = kRow0[o] == kLeft || kRow0[o] == kRight;
  cv::Mat out(swap ? w : h, swap ? h : w, img.type());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int dx = 0, dy = 0;
      if (!swap) {
        dy = kRow0[o] == kTop ? y : h - 1 - y;
        dx = kCol0[o] == kLeft ? x : w - 1 - x;
      } else {
        dx = kRow0[o] == kLeft ? y : h - 1 - y;
        dy = kCol0[o] == kTop ? x : w - 1 - x;
      }
      std::memcpy(out.ptr(dy, dx), img.ptr(y, x), img.elemSize());
    }
  }
  return out;
}

}  // namespace

// ---- decoding -------------------------------------------------------------------------------

TEST(ImageLoad, PngRoundTripRgb) {
  const auto dir = smp::test::scratch_dir("image_png_rgb");
  const cv::Mat img = random_image(37, 23, CV_8UC3, 1);
  smp::write_image(dir / "a.png", img);
  const cv::Mat back = smp::load_image(dir / "a.png");
  ASSERT_EQ(back.type(), CV_8UC3);
  EXPECT_EQ(max_abs_diff(back, img), 0);  // PNG is lossless
}

TEST(ImageLoad, PngRoundTripRgbaCompositesOverWhite) {
  const auto dir = smp::test::scratch_dir("image_png_rgba");
  cv::Mat img = random_image(19, 11, CV_8UC4, 2);
  img.at<cv::Vec4b>(0, 0) = {10, 20, 30, 0};     // fully transparent -> white
  img.at<cv::Vec4b>(0, 1) = {10, 20, 30, 255};   // opaque -> itself
  img.at<cv::Vec4b>(0, 2) = {0, 100, 255, 128};  // half
  smp::write_image(dir / "a.PNG", img);          // extension is case-insensitive
  const cv::Mat back = smp::load_image(dir / "a.PNG");
  ASSERT_EQ(back.type(), CV_8UC3);
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      const auto s = img.at<cv::Vec4b>(y, x);
      for (int c = 0; c < 3; ++c) {
        // over white in sRGB values: c*a + 255*(1-a), a in 0..1
        const long want = std::lround((s[c] * s[3] + 255.0 * (255 - s[3])) / 255.0);
        ASSERT_EQ(back.at<cv::Vec3b>(y, x)[c], want) << x << "," << y << " c" << c;
      }
    }
  }
  EXPECT_EQ(back.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 1), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 2), cv::Vec3b(127, 177, 255));  // 0*.502+127, 100*.502+127
}

TEST(ImageLoad, GreyIsReplicated) {
  const auto dir = smp::test::scratch_dir("image_png_grey");
  const cv::Mat grey = random_image(13, 7, CV_8UC1, 3);
  smp::write_image(dir / "g.png", grey);
  const cv::Mat back = smp::load_image(dir / "g.png");
  ASSERT_EQ(back.type(), CV_8UC3);
  std::vector<cv::Mat> ch;
  cv::split(back, ch);
  for (const auto& c : ch) EXPECT_EQ(max_abs_diff(c, grey), 0);
}

TEST(ImageLoad, GreyAlphaCompositesOverWhite) {
  cv::Mat ga(1, 3, CV_8UC2);
  ga.at<cv::Vec2b>(0, 0) = {0, 0};
  ga.at<cv::Vec2b>(0, 1) = {0, 255};
  ga.at<cv::Vec2b>(0, 2) = {100, 51};  // 100*0.2 + 255*0.8 = 224
  const cv::Mat back = smp::decode_image(stb_png(ga));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(back.at<cv::Vec3b>(0, 2), cv::Vec3b(224, 224, 224));
}

TEST(ImageLoad, EncodePngDecodesToTheSamePixels) {
  const cv::Mat img = random_image(64, 48, CV_8UC3, 4);
  const std::string png = smp::encode_png(img);
  const cv::Mat back =
      smp::decode_image({reinterpret_cast<const std::uint8_t*>(png.data()), png.size()});
  EXPECT_EQ(max_abs_diff(back, img), 0);
}

TEST(ImageLoad, JpegRoundTripWithinTolerance) {
  const auto dir = smp::test::scratch_dir("image_jpeg");
  const cv::Mat img = smooth_image(160, 120);
  smp::write_image(dir / "a.jpg", img, {.jpeg_quality = 92});
  const cv::Mat back = smp::load_image(dir / "a.jpg");
  ASSERT_EQ(back.size(), img.size());
  // Quality 92 on a smooth image: typically ~45 dB. 38 dB leaves margin for encoder changes
  // while still catching a channel swap or colour conversion bug (those give < 20 dB).
  EXPECT_GT(cv::PSNR(back, img), 38.0);
  // Channel order: the red gradient runs along x.
  EXPECT_LT(back.at<cv::Vec3b>(60, 5)[0], back.at<cv::Vec3b>(60, 150)[0]);
}

TEST(ImageLoad, TruncatedJpegIsDecodeError) {
  const Bytes jpeg = stb_jpeg(smooth_image(64, 64));
  ASSERT_NO_THROW(smp::decode_image(jpeg));
  const Bytes half(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  const auto msg =
      expect_error([&] { smp::decode_image(half, {}, "half.jpg"); }, smp::ErrorCode::kDecode);
  EXPECT_NE(msg.find("half.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Only the end-of-image marker missing: stb would still "succeed" here.
  const Bytes no_eoi(jpeg.begin(), jpeg.end() - 2);
  expect_error([&] { smp::decode_image(no_eoi); }, smp::ErrorCode::kDecode);
  // Every cut after the header: never a success.
  for (std::size_t n = 0; n + 2 < jpeg.size(); n += 97) {
    const Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(smp::decode_image(cut), smp::Error) << n;
  }
}

TEST(ImageLoad, DataAfterJpegEndIsAllowed) {
  // Motion photos and MPF files append data after the JPEG's EOI.
  Bytes jpeg = stb_jpeg(smooth_image(32, 32));
  const cv::Mat plain = smp::decode_image(jpeg);
  jpeg.insert(jpeg.end(), 1000, 0xAB);
  EXPECT_EQ(max_abs_diff(smp::decode_image(jpeg), plain), 0);
}

TEST(ImageLoad, TruncatedPngIsDecodeError) {
  const Bytes png = stb_png(random_image(64, 64, CV_8UC3, 5));
  const Bytes half(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2));
  expect_error([&] { smp::decode_image(half); }, smp::ErrorCode::kDecode);
}

TEST(ImageLoad, ZeroByteFileIsIoError) {
  const auto dir = smp::test::scratch_dir("image_zero");
  write_bytes(dir / "empty.jpg", {});
  const auto msg = expect_error([&] { smp::load_image(dir / "empty.jpg"); }, smp::ErrorCode::kIo);
  EXPECT_NE(msg.find("empty.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0 bytes"), std::string::npos) << msg;
  expect_error([&] { smp::decode_image({}); }, smp::ErrorCode::kDecode);
}

TEST(ImageLoad, TextFileNamedJpgIsDecodeError) {
  const auto dir = smp::test::scratch_dir("image_text");
  const std::string text = "this is not an image, just a note\n";
  write_bytes(dir / "note.jpg", Bytes(text.begin(), text.end()));
  const auto msg =
      expect_error([&] { smp::load_image(dir / "note.jpg"); }, smp::ErrorCode::kDecode);
  EXPECT_NE(msg.find("note.jpg"), std::string::npos) << msg;
}

TEST(ImageLoad, MissingFileIsIoError) {
  const auto dir = smp::test::scratch_dir("image_missing");
  const auto msg = expect_error([&] { smp::load_image(dir / "nope.png"); }, smp::ErrorCode::kIo);
  EXPECT_NE(msg.find("nope.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  expect_error([&] { smp::load_image(dir); }, smp::ErrorCode::kIo);  // a directory
}

TEST(ImageLoad, TinyAndVeryWideImagesLoad) {
  const cv::Mat one = random_image(1, 1, CV_8UC3, 6);
  EXPECT_EQ(max_abs_diff(smp::decode_image(stb_png(one)), one), 0);
  const cv::Mat wide = random_image(20000, 1, CV_8UC3, 7);
  const cv::Mat back = smp::decode_image(stb_png(wide));
  EXPECT_EQ(back.size(), cv::Size(20000, 1));
  EXPECT_EQ(max_abs_diff(back, wide), 0);
  const cv::Mat wide_jpeg = smp::decode_image(stb_jpeg(cv::Mat(1, 20000, CV_8UC3, cv::Scalar(9))));
  EXPECT_EQ(wide_jpeg.size(), cv::Size(20000, 1));
}

TEST(ImageLoad, OverPixelLimitIsTooLargeWithoutDecoding) {
  const Bytes png = stb_png(random_image(100, 100, CV_8UC3, 8));
  const auto msg = expect_error([&] { smp::decode_image(png, {.max_pixels = 5000}, "big.png"); },
                                smp::ErrorCode::kTooLarge);
  EXPECT_NE(msg.find("big.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("100x100"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_pixels"), std::string::npos) << msg;
  EXPECT_NO_THROW(smp::decode_image(png, {.max_pixels = 10000}));
  // Headers that promise 15000x15000 (225 MP, over the default 100 MP limit) with no data behind
  // them: a decoder that allocated or decoded first would fail differently (kDecode, bad_alloc).
  // (Above ~2^30 decoded bytes stb itself refuses the header, which reads as kDecode.)
  Bytes huge_png = png;  // IHDR width/height at bytes 16..23; stb does not check CRCs
  for (int i : {16, 20}) {
    huge_png[i] = 0x00, huge_png[i + 1] = 0x00, huge_png[i + 2] = 0x3A, huge_png[i + 3] = 0x98;
  }
  huge_png.resize(60);
  expect_error([&] { smp::decode_image(huge_png); }, smp::ErrorCode::kTooLarge);
  const std::string pgm = "P5 100000 100000 255\n";
  expect_error([&] { smp::decode_image(Bytes(pgm.begin(), pgm.end())); },
               smp::ErrorCode::kTooLarge);
  expect_error([&] { smp::decode_image(png, {.max_pixels = 0}); },
               smp::ErrorCode::kInvalidArgument);
}

TEST(ImageLoad, SixteenBitPpmIsRoundedTo8Bit) {
  // PNM is big-endian. 0x0102 = 258 -> 1; byte-swapped it would read 513 -> 2.
  const std::vector<std::uint16_t> v = {0, 65535, 257 * 200, 128, 129, 32896, 0x0102, 1000, 65000};
  std::string hdr = "P6\n# a comment\n3 1\n65535\n";
  Bytes ppm(hdr.begin(), hdr.end());
  for (std::uint16_t s : v) {
    ppm.push_back(static_cast<std::uint8_t>(s >> 8));
    ppm.push_back(static_cast<std::uint8_t>(s & 0xFF));
  }
  const cv::Mat img = smp::decode_image(ppm);
  ASSERT_EQ(img.size(), cv::Size(3, 1));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const long want = std::lround(v[i] * 255.0 / 65535.0);
    EXPECT_EQ(img.data[i], want) << "sample " << v[i];
  }
  // Truncated samples are an error, not silent garbage.
  const Bytes cut(ppm.begin(), ppm.end() - 1);
  expect_error([&] { smp::decode_image(cut); }, smp::ErrorCode::kDecode);
}

TEST(ImageLoad, PnmWithOddMaxvalIsScaled) {
  const std::string hdr = "P5 4 1 1023\n";  // 10-bit grey
  Bytes pgm(hdr.begin(), hdr.end());
  for (std::uint16_t s : {0, 512, 1023, 100}) {
    pgm.push_back(static_cast<std::uint8_t>(s >> 8));
    pgm.push_back(static_cast<std::uint8_t>(s & 0xFF));
  }
  const cv::Mat img = smp::decode_image(pgm);
  EXPECT_EQ(img.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(img.at<cv::Vec3b>(0, 1), cv::Vec3b(128, 128, 128));  // 512*255/1023 = 127.6
  EXPECT_EQ(img.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(img.at<cv::Vec3b>(0, 3), cv::Vec3b(25, 25, 25));  // 100*255/1023 = 24.9
}

TEST(ImageLoad, SixteenBitPngIsRoundedAndComposited) {
  const cv::Mat rgb = smp::decode_image(png16(2, 1, 2, {0, 65535, 0x0102, 32896, 129, 128}));
  EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 255, 1));
  EXPECT_EQ(rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(128, 1, 0));
  const cv::Mat grey = smp::decode_image(png16(1, 2, 0, {257 * 77, 65535}));
  EXPECT_EQ(grey.at<cv::Vec3b>(0, 0), cv::Vec3b(77, 77, 77));
  EXPECT_EQ(grey.at<cv::Vec3b>(1, 0), cv::Vec3b(255, 255, 255));
  // RGBA: transparent -> white; half alpha 32768 -> c*0.5 + 127.5 (8-bit units).
  const cv::Mat rgba =
      smp::decode_image(png16(2, 1, 6, {1000, 2000, 3000, 0, 0, 65535, 257 * 100, 32768}));
  EXPECT_EQ(rgba.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  const double a = 32768.0 / 65535.0;
  const cv::Vec3b want(static_cast<std::uint8_t>(std::lround(0 * a + 255 * (1 - a))),
                       static_cast<std::uint8_t>(std::lround(255 * a + 255 * (1 - a))),
                       static_cast<std::uint8_t>(std::lround(100 * a + 255 * (1 - a))));
  EXPECT_EQ(rgba.at<cv::Vec3b>(0, 1), want);
}

// ---- EXIF -----------------------------------------------------------------------------------

TEST(ImageExif, ApplyOrientationMatchesTheSpecTable) {
  const cv::Mat img = random_image(5, 3, CV_8UC3, 9);  // asymmetric, every pixel distinct
  for (int o = 1; o <= 8; ++o) {
    const cv::Mat got = smp::apply_orientation(img, o);
    const cv::Mat want = orient_by_spec(img, o);
    ASSERT_EQ(got.size(), want.size()) << "orientation " << o;
    EXPECT_EQ(max_abs_diff(got, want), 0) << "orientation " << o;
    EXPECT_NE(got.data, img.data) << "must not alias the input";
  }
  expect_error([&] { smp::apply_orientation(img, 0); }, smp::ErrorCode::kInvalidArgument);
  expect_error([&] { smp::apply_orientation(img, 9); }, smp::ErrorCode::kInvalidArgument);
}

TEST(ImageExif, LoadAppliesAllEightOrientationsInBothByteOrders) {
  // 3x2 blocks of 8x8 flat colours, aligned with JPEG blocks, quality 100 (no chroma
  // subsampling in stb at >= 90), so every block survives nearly exactly.
  cv::Mat img(16, 24, CV_8UC3);
  const cv::Vec3b colours[6] = {{255, 0, 0},   {0, 255, 0},   {0, 0, 255},
                                {255, 255, 0}, {0, 255, 255}, {40, 40, 40}};
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 24; ++x) img.at<cv::Vec3b>(y, x) = colours[(y / 8) * 3 + x / 8];
  }
  const Bytes jpeg = stb_jpeg(img, 100);
  for (bool big_endian : {true, false}) {
    for (int o = 1; o <= 8; ++o) {
      const Bytes tagged = splice_after_soi(jpeg, exif_app1(o, big_endian));
      EXPECT_EQ(smp::exif_orientation(tagged), o);
      const cv::Mat got = smp::decode_image(tagged);
      const cv::Mat want = orient_by_spec(img, o);
      ASSERT_EQ(got.size(), want.size()) << "orientation " << o;
      // Flat 8x8 blocks at quality 100: ringing only near edges between saturated colours.
      EXPECT_LT(max_abs_diff(got, want), 40) << "orientation " << o;
      EXPECT_GT(cv::PSNR(got, want), 30.0) << "orientation " << o;
      const cv::Mat raw = smp::decode_image(tagged, {.apply_exif_orientation = false});
      EXPECT_EQ(raw.size(), img.size());
    }
  }
}

TEST(ImageExif, AbsentOrNotJpegGivesOne) {
  EXPECT_EQ(smp::exif_orientation({}), 1);
  EXPECT_EQ(smp::exif_orientation(stb_jpeg(smooth_image(16, 16))), 1);
  EXPECT_EQ(smp::exif_orientation(stb_png(random_image(4, 4, CV_8UC3, 1))), 1);
  // Orientation values outside 1..8 are ignored.
  const Bytes jpeg = stb_jpeg(smooth_image(16, 16));
  EXPECT_EQ(smp::exif_orientation(splice_after_soi(jpeg, exif_app1(0, true))), 1);
  EXPECT_EQ(smp::exif_orientation(splice_after_soi(jpeg, exif_app1(9, false))), 1);
}

TEST(ImageExif, MalformedExifNeverCrashesAndGivesOne) {
  const Bytes jpeg = stb_jpeg(smooth_image(16, 16));
  const Bytes app1 = exif_app1(6, true);
  const Bytes tagged = splice_after_soi(jpeg, app1);
  // Every prefix: before the APP1 segment is complete the tag cannot be trusted.
  for (std::size_t n = 0; n <= 2 + app1.size() + 10; ++n) {
    const Bytes cut(tagged.begin(), tagged.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(smp::exif_orientation(cut), n >= 2 + app1.size() ? 6 : 1) << n;
  }
  // Bad IFD offset, huge entry count, segment length past the end, wrong type.
  auto patched = [&](std::size_t at, std::initializer_list<std::uint8_t> v) {
    Bytes b = tagged;
    std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
    return b;
  };
  const std::size_t tiff = 2 + 4 + 6;  // SOI, marker+length, "Exif\0\0"
  EXPECT_EQ(smp::exif_orientation(patched(tiff + 4, {0xFF, 0xFF, 0xFF, 0xF0})), 1);
  EXPECT_EQ(smp::exif_orientation(patched(tiff + 4, {0x00, 0x00, 0x00, 0x1C})), 1);
  Bytes long_count = patched(tiff + 8, {0xFF, 0xFF});  // 65535 entries, then...
  EXPECT_EQ(smp::exif_orientation(long_count), 6) << "found before running off the end";
  long_count[tiff + 22] = 0x01, long_count[tiff + 23] = 0x13;  // ...no Orientation entry
  EXPECT_EQ(smp::exif_orientation(long_count), 1) << "count past the end";
  EXPECT_EQ(smp::exif_orientation(patched(4, {0xFF, 0xFF})), 1) << "segment past the end";
  EXPECT_EQ(smp::exif_orientation(patched(4, {0x00, 0x01})), 1) << "segment length < 2";
  EXPECT_EQ(smp::exif_orientation(patched(tiff + 10 + 12 + 2, {0x00, 0x04})), 1) << "LONG";
  EXPECT_EQ(smp::exif_orientation(patched(tiff, {'X', 'X'})), 1) << "byte order";
  EXPECT_EQ(smp::exif_orientation(patched(tiff + 2, {0, 43})), 1) << "magic";

  // Random bytes, and random mutations of a valid file: never a crash or an out-of-bounds read
  // (run under SMP_SANITIZE=address to make that a hard check); decode fails only with
  // smp::Error.
  std::mt19937 rng(12345);
  for (int seed = 0; seed < 2000; ++seed) {
    std::uniform_int_distribution<int> byte(0, 255);
    Bytes noise(static_cast<std::size_t>(rng() % 200));
    for (auto& b : noise) b = static_cast<std::uint8_t>(byte(rng));
    if (seed % 2 == 0 && noise.size() >= 4) {
      noise[0] = 0xFF, noise[1] = 0xD8, noise[2] = 0xFF, noise[3] = 0xE1;
    }
    EXPECT_EQ(smp::exif_orientation(noise), 1) << "seed " << seed;

    Bytes mutated = tagged;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      mutated[2 + rng() % (app1.size() + 20)] = static_cast<std::uint8_t>(byte(rng));
    }
    const int o = smp::exif_orientation(mutated);
    EXPECT_TRUE(o >= 1 && o <= 8) << "seed " << seed;
    if (seed % 10 == 0) {
      try {
        smp::decode_image(mutated);
      } catch (const smp::Error&) {
      }
    }
  }
}

// ---- writing --------------------------------------------------------------------------------

TEST(ImageWrite, MissingDirectoryIsIoErrorAndLeavesNothing) {
  const auto dir = smp::test::scratch_dir("image_write_missing");
  const auto target = dir / "no" / "such" / "out.png";
  const auto msg = expect_error([&] { smp::write_image(target, random_image(4, 4, CV_8UC3, 1)); },
                                smp::ErrorCode::kIo);
  EXPECT_NE(msg.find(target.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "no"));
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(ImageWrite, BadExtensionIsInvalidArgument) {
  const auto dir = smp::test::scratch_dir("image_write_ext");
  for (const char* name : {"out.bmp", "out", "out.png.txt", "out.webp"}) {
    const auto msg =
        expect_error([&] { smp::write_image(dir / name, random_image(4, 4, CV_8UC3, 1)); },
                     smp::ErrorCode::kInvalidArgument);
    EXPECT_NE(msg.find(".png"), std::string::npos) << msg;
    EXPECT_NE(msg.find(".jpg"), std::string::npos) << msg;
  }
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(ImageWrite, BadImagesAreInvalidArgument) {
  const auto dir = smp::test::scratch_dir("image_write_bad");
  expect_error([&] { smp::write_image(dir / "e.png", cv::Mat()); },
               smp::ErrorCode::kInvalidArgument);
  expect_error([&] { smp::write_image(dir / "f.png", cv::Mat(4, 4, CV_32FC3)); },
               smp::ErrorCode::kInvalidArgument);
  expect_error([&] { smp::encode_png(cv::Mat(4, 4, CV_16UC1)); }, smp::ErrorCode::kInvalidArgument);
  expect_error(
      [&] { smp::write_image(dir / "q.jpg", random_image(4, 4, CV_8UC3, 1), {.jpeg_quality = 0}); },
      smp::ErrorCode::kInvalidArgument);
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(ImageWrite, NoTempFilesLeftBehind) {
  const auto dir = smp::test::scratch_dir("image_write_temp");
  const cv::Mat img = random_image(40, 30, CV_8UC3, 10);
  smp::write_image(dir / "a.png", img);
  smp::write_image(dir / "b.JPEG", img);
  smp::write_image(dir / "a.png", random_image(40, 30, CV_8UC4, 11));  // overwrite
  // Target is a directory: the rename fails after the temp file was written.
  fs::create_directory(dir / "d.png");
  fs::create_directory(dir / "d.png" / "keep");
  expect_error([&] { smp::write_image(dir / "d.png", img); }, smp::ErrorCode::kIo);
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"a.png", "b.JPEG", "d.png"}));
  // Relative path into the current directory works too.
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir);
  smp::write_image("rel.jpg", img);
  fs::current_path(old_cwd);
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"a.png", "b.JPEG", "d.png", "rel.jpg"}));
}

TEST(ImageWrite, RoiGreyAndRgbaJpegAreWrittenCorrectly) {
  const auto dir = smp::test::scratch_dir("image_write_roi");
  const cv::Mat big = smooth_image(200, 100);
  const cv::Mat roi = big(cv::Rect(13, 7, 101, 53));  // not continuous
  ASSERT_FALSE(roi.isContinuous());
  smp::write_image(dir / "roi.png", roi);
  EXPECT_EQ(max_abs_diff(smp::load_image(dir / "roi.png"), roi), 0);
  smp::write_image(dir / "roi.jpg", roi);
  EXPECT_GT(cv::PSNR(smp::load_image(dir / "roi.jpg"), roi), 38.0);

  cv::Mat grey;
  cv::extractChannel(big, grey, 1);
  smp::write_image(dir / "g.jpg", grey);
  cv::Mat g3;
  cv::merge(std::vector<cv::Mat>{grey, grey, grey}, g3);
  EXPECT_GT(cv::PSNR(smp::load_image(dir / "g.jpg"), g3), 38.0);

  // RGBA into JPEG: composited over white, like load does.
  cv::Mat rgba(16, 16, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  smp::write_image(dir / "t.jpg", rgba);
  const cv::Mat t = smp::load_image(dir / "t.jpg");
  EXPECT_LE(max_abs_diff(t, cv::Mat(16, 16, CV_8UC3, cv::Scalar(255, 255, 255))), 2);
  EXPECT_EQ(read_bytes(dir / "t.jpg").at(0), 0xFF);
}
