// smp error policy (see smp.hpp for the common principles).
#pragma once

#include <stdexcept>
#include <string>

namespace smp {

// What went wrong, coarse enough for a caller to branch on (and for the CLI to pick an exit
// status), fine enough to say what to do next.
enum class ErrorCode {
  kInvalidArgument,  // a nonsense option or an image of the wrong type: fix the call
  kIo,               // a file could not be opened, read, written or renamed
  kDecode,           // bytes that are not a supported, complete image
  kTooLarge,         // more pixels than the configured limit
  kNotFound,         // the photo lacks what was asked for: no head, no scalp, no face
};

// The one exception type the library throws across its API. Messages name the input and the
// problem, and end with what to do next.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// Throws Error(code, message) when `condition` is false. For user-facing validation only;
// internal invariants use SMP_DCHECK (src/check.hpp), which vanishes in release builds.
inline void require(bool condition, ErrorCode code, const std::string& message) {
  if (!condition) throw Error(code, message);
}

}  // namespace smp
