// PLACEHOLDER: replaced when the pigment stage lands. Every function throws, so the build links.
#include "smp/pigment.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

const std::vector<Pigment>& pigment_palette() { NI("pigment_palette"); }
Pigment choose_pigment(const Lab&, const Lab&, bool) { NI("choose_pigment"); }
Pigment pigment_by_name(const std::string&) { NI("pigment_by_name"); }

}  // namespace smp
