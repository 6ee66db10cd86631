#include "smp/synth.hpp"

#include <cmath>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "smp/color.hpp"
#include "smp/error.hpp"

namespace smp {
namespace {

// Small phantoms keep the suite fast (also under AddressSanitizer); the properties below do not
// depend on resolution because every size is derived from millimetres.
SynthOptions small(View view, int level, std::uint64_t seed) {
  return {.size = {256, 256}, .view = view, .level = level, .seed = seed};
}

double hair_fraction(const cv::Mat& labels) {
  const int hair = cv::countNonZero(labels == 2);
  const int skin = cv::countNonZero(labels == 1);
  return hair + skin > 0 ? static_cast<double>(hair) / (hair + skin) : 0.0;
}

TEST(Synth, ParsesNamesAndRejectsUnknownOnes) {
  EXPECT_EQ(parse_view("top"), View::kTop);
  EXPECT_EQ(parse_view("front"), View::kFront);
  EXPECT_EQ(parse_hair_color("black"), HairColor::kBlack);
  EXPECT_EQ(parse_hair_color("dark"), HairColor::kDarkBrown);
  EXPECT_EQ(parse_hair_color("brown"), HairColor::kBrown);
  EXPECT_EQ(parse_hair_color("blond"), HairColor::kBlond);
  EXPECT_EQ(parse_hair_color("red"), HairColor::kRed);
  EXPECT_EQ(parse_hair_color("grey"), HairColor::kGrey);
  EXPECT_EQ(parse_hair_color("gray"), HairColor::kGrey);
  try {
    parse_view("side");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("front"), std::string::npos) << e.what();
  }
  try {
    parse_hair_color("purple");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("blond"), std::string::npos) << e.what();
  }
}

TEST(Synth, RejectsOptionsOutOfRange) {
  auto expect_invalid = [](SynthOptions o, const char* what) {
    try {
      (void)synthesize(o);
      ADD_FAILURE() << what << ": no throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << what;
      EXPECT_NE(std::string(e.what()).find("use"), std::string::npos) << e.what();
    }
  };
  expect_invalid({.size = {63, 200}}, "narrow");
  expect_invalid({.size = {200, 0}}, "empty");
  expect_invalid({.size = {10000, 6401}}, "over 64 MP");
  expect_invalid({.size = {128, 128}, .level = 1}, "level 1");
  expect_invalid({.size = {128, 128}, .level = 8}, "level 8");
  expect_invalid({.size = {128, 128}, .fitzpatrick = 0}, "fitzpatrick 0");
  expect_invalid({.size = {128, 128}, .fitzpatrick = 7}, "fitzpatrick 7");
  expect_invalid({.size = {128, 128}, .hair_density = -0.1}, "negative density");
  expect_invalid({.size = {128, 128}, .hair_density = 4.5}, "density above 4");
  expect_invalid({.size = {128, 128}, .hair_density = std::nan("")}, "NaN density");
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  for (View view : {View::kTop, View::kFront}) {
    const Phantom a = synthesize(small(view, 4, 11));
    const Phantom b = synthesize(small(view, 4, 11));
    const Phantom c = synthesize(small(view, 4, 12));
    EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(a.labels, b.labels, cv::NORM_INF), 0);
    EXPECT_EQ(a.hairline, b.hairline);
    EXPECT_GT(cv::norm(a.image, c.image, cv::NORM_L1), 0);
  }
}

TEST(Synth, OutputsHaveTheAskedSizeTypesAndLabels) {
  for (View view : {View::kTop, View::kFront}) {
    SynthOptions o = small(view, 5, 3);
    o.size = {300, 200};
    const Phantom p = synthesize(o);
    EXPECT_EQ(p.image.type(), CV_8UC3);
    EXPECT_EQ(p.labels.type(), CV_8UC1);
    EXPECT_EQ(p.image.size(), o.size);
    EXPECT_EQ(p.labels.size(), o.size);
    EXPECT_EQ(cv::countNonZero(p.labels > 2), 0);
    // All three classes are present: the head never fills the frame.
    for (int v = 0; v <= 2; ++v) EXPECT_GT(cv::countNonZero(p.labels == v), 0) << v;
    // Head breadth 150 mm must fit the frame with room to spare.
    EXPECT_GT(p.px_per_mm, 0);
    EXPECT_LT(150 * p.px_per_mm, o.size.width);
  }
}

TEST(Synth, HairFractionFallsWithLevelInTopView) {
  double previous = 2;
  for (int level = 2; level <= 7; ++level) {
    double sum = 0;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      sum += hair_fraction(synthesize(small(View::kTop, level, seed)).labels);
    }
    const double fraction = sum / 3;
    EXPECT_LT(fraction, previous) << "level " << level;
    previous = fraction;
  }
  // Level 2 reads as a full head of hair, level 7 as a bald top with a fringe.
  EXPECT_LT(previous, 0.45);
  EXPECT_GT(hair_fraction(synthesize(small(View::kTop, 2, 1)).labels), 0.85);
}

TEST(Synth, SkinLightnessFallsWithFitzpatrick) {
  double previous = 101;
  for (int fitz = 1; fitz <= 6; ++fitz) {
    SynthOptions o = small(View::kFront, 4, 5);
    o.fitzpatrick = fitz;
    const Phantom p = synthesize(o);
    const Lab skin = mean_lab(p.image, p.labels == 1);
    EXPECT_LT(skin.L, previous) << "fitzpatrick " << fitz;
    previous = skin.L;
  }
}

TEST(Synth, FrontHairlineLiesOnTheSkinHairBoundary) {
  for (int level = 2; level <= 6; ++level) {
    const Phantom p = synthesize(small(View::kFront, level, 7));
    ASSERT_FALSE(p.hairline.empty()) << "level " << level;
    for (std::size_t i = 1; i < p.hairline.size(); ++i) {
      EXPECT_LT(p.hairline[i - 1].x, p.hairline[i].x);
    }
    const cv::Rect frame({0, 0}, p.labels.size());
    for (const cv::Point2f& q : p.hairline) {
      // Both classes within 3 px: the point sits on a skin/hair edge.
      bool skin = false, hair = false;
      for (int dy = -3; dy <= 3; ++dy) {
        for (int dx = -3; dx <= 3; ++dx) {
          const cv::Point c(static_cast<int>(q.x) + dx, static_cast<int>(q.y) + dy);
          if (!frame.contains(c)) continue;
          skin |= p.labels.at<std::uint8_t>(c) == 1;
          hair |= p.labels.at<std::uint8_t>(c) == 2;
        }
      }
      EXPECT_TRUE(skin && hair) << "level " << level << " at " << q;
    }
  }
}

TEST(Synth, TopHairlineIsEmptyOnceTheForelockIsGone) {
  EXPECT_TRUE(synthesize(small(View::kTop, 7, 2)).hairline.empty());
}

TEST(Synth, HairDensityZeroLeavesNoHairOnTheScalp) {
  SynthOptions o = small(View::kTop, 2, 4);
  o.hair_density = 0;
  EXPECT_EQ(cv::countNonZero(synthesize(o).labels == 2), 0);
}

TEST(Synth, TwelveMegapixelPhantomBuilds) {
  // Half the strands: the per-pixel passes are what this guards (memory, indexing at 12 MP), and
  // it must stay well inside ~30 s under AddressSanitizer (about 20 s at full density).
  const Phantom p = synthesize({.size = {4000, 3000}, .level = 4, .hair_density = 0.5, .seed = 9});
  EXPECT_EQ(p.image.size(), cv::Size(4000, 3000));
  EXPECT_GT(p.px_per_mm, 10);  // 150 mm head breadth over most of 3000 px
  const double f = hair_fraction(p.labels);
  EXPECT_GT(f, 0.2);
  EXPECT_LT(f, 0.95);
}

}  // namespace
}  // namespace smp
