#include "smp/pigment.hpp"

#include <gtest/gtest.h>

#include "smp/error.hpp"

namespace smp {
namespace {

TEST(Pigment, PaletteRunsFromLightToDark) {
  const auto& palette = pigment_palette();
  ASSERT_GE(palette.size(), 5u);
  EXPECT_EQ(palette.front().name, "1:20");
  EXPECT_EQ(palette.back().name, "1:0");
  for (std::size_t i = 1; i < palette.size(); ++i) {
    EXPECT_LT(palette[i].water_parts, palette[i - 1].water_parts);
    for (int c = 0; c < 3; ++c) {
      EXPECT_GT(palette[i].absorption[c], palette[i - 1].absorption[c]) << palette[i].name;
      EXPECT_GT(palette[i].absorption[c], 0.0f);
      EXPECT_LE(palette[i].absorption[c], 1.0f);
    }
  }
}

TEST(Pigment, ByNameAcceptsRatioOrWaterParts) {
  EXPECT_EQ(pigment_by_name("1:10").name, "1:10");
  EXPECT_EQ(pigment_by_name("10").name, "1:10");
  EXPECT_EQ(pigment_by_name(" 1:6 ").water_parts, 6.0);
  EXPECT_EQ(pigment_by_name("undiluted").name, "1:0");
  EXPECT_EQ(pigment_by_name("0").name, "1:0");
  for (const char* bad : {"", "1:7", "black", "1:", "-3", "1:10x"}) {
    try {
      pigment_by_name(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      // The message lists the valid names.
      EXPECT_NE(std::string(e.what()).find("1:20"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("1:0"), std::string::npos) << e.what();
    }
  }
}

double water(const Lab& skin, const Lab& hair, bool found) {
  return choose_pigment(skin, hair, found).water_parts;
}

TEST(Pigment, DarkerSkinAndHairGetLessWater) {
  // Skin tones across the ITA bands (very light ... dark), hair unknown.
  const Lab very_light{78, 6, 10}, light{70, 10, 16}, tan{58, 12, 22}, brown{45, 12, 20},
      dark{30, 10, 14};
  const Lab none{};
  EXPECT_GE(water(very_light, none, false), water(light, none, false));
  EXPECT_GE(water(light, none, false), water(tan, none, false));
  EXPECT_GE(water(tan, none, false), water(brown, none, false));
  EXPECT_GE(water(brown, none, false), water(dark, none, false));
  EXPECT_GT(water(very_light, none, false), water(dark, none, false));
  EXPECT_EQ(water(dark, none, false), 0.0);
  // Hair: black stubble -> darker, grey or blond -> lighter than brown.
  const Lab black_hair{15, 1, 2}, brown_hair{32, 5, 10}, grey_hair{65, 0, 3};
  EXPECT_LT(water(light, black_hair, true), water(light, brown_hair, true));
  EXPECT_GT(water(light, grey_hair, true), water(light, brown_hair, true));
  EXPECT_GT(water(dark, grey_hair, true), water(dark, black_hair, true));
  // Very fair skin with grey hair: the lightest dilution.
  EXPECT_EQ(water(very_light, grey_hair, true), 20.0);
  // Hair ignored when not found.
  EXPECT_EQ(water(light, grey_hair, false), water(light, none, false));
}

}  // namespace
}  // namespace smp
