// smp: scalp micropigmentation previews.
//
// Common principles (they hold for every function in include/smp/ unless it says otherwise):
//
// * Images are cv::Mat. Colour images are CV_8UC3 in **RGB** channel order (not OpenCV's
//   usual BGR): that is what stb_image decodes and what every stage expects. Label maps and
//   masks are CV_8UC1. Inputs are `const cv::Mat&`; outputs are returned by value or written to
//   a `cv::Mat&` the caller passes.
// * Ownership: cv::Mat copies share pixels. Every function that keeps an image beyond the call
//   (Renderer, results of analyze/design) stores its own clone or a derived image, so a caller
//   may modify or free its input afterwards. Returned Mats are never aliased with inputs.
// * Units: physical units in the API (millimetres, impressions per cm^2, years). Pixels meet
//   millimetres only through a Calibration (px per mm) that says where it came from.
// * Colour: sRGB 8-bit in and out; blending and optics in linear light (float); tones in
//   CIELAB (D65).
// * Errors: bad input and user mistakes throw smp::Error (error.hpp) with a message naming the
//   problem and what to do next; cv::Exception never escapes the API. Internal invariants are
//   debug-only checks.
// * Determinism: every stochastic stage takes a seed in its options struct. Same inputs + seed
//   -> identical pixels, whatever the thread count.
// * Threading: functions may use OpenCV's thread pool internally; they are safe to call
//   concurrently on different data.
#pragma once

#include "smp/analysis.hpp"
#include "smp/calibration.hpp"
#include "smp/color.hpp"
#include "smp/design.hpp"
#include "smp/error.hpp"
#include "smp/evaluate.hpp"
#include "smp/image.hpp"
#include "smp/pattern.hpp"
#include "smp/pigment.hpp"
#include "smp/pipeline.hpp"
#include "smp/present.hpp"
#include "smp/render.hpp"
#include "smp/synth.hpp"
#include "smp/version.hpp"
