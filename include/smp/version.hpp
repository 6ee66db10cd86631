#pragma once

namespace smp {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace smp
