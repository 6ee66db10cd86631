// Private: a switch for tests between the renderer's vector (AVX2) passes and the portable ones.
#pragma once

namespace smp::detail {

// false makes renders use the portable final pass and splat even where the CPU has a vector
// (AVX2) version, so the two can be compared. Process-wide; default true.
void set_render_simd(bool enabled);

}  // namespace smp::detail
