#include "smp/calibration.hpp"

#include <gtest/gtest.h>

#include "smp/error.hpp"

namespace smp {
namespace {

TEST(Calibration, HeadBreadthAssumes150mm) {
  const Calibration c = calibration_from_head_breadth(600);
  EXPECT_DOUBLE_EQ(c.px_per_mm, 4.0);
  EXPECT_EQ(c.source, CalibrationSource::kHeadSize);
  EXPECT_DOUBLE_EQ(c.mm_to_px(10), 40);
  EXPECT_DOUBLE_EQ(c.px_to_mm(40), 10);
  EXPECT_DOUBLE_EQ(c.px2_per_cm2(), 1600);
  EXPECT_EQ(to_string(c.source), "head_size");
}

TEST(Calibration, UserValueIsValidated) {
  EXPECT_EQ(calibration_from_user(12.5).source, CalibrationSource::kUser);
  for (double bad : {0.0, -1.0, 1e6, std::numeric_limits<double>::quiet_NaN()}) {
    try {
      calibration_from_user(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("px per mm"), std::string::npos);
    }
  }
  EXPECT_THROW(calibration_from_head_breadth(0), Error);
}

}  // namespace
}  // namespace smp
