// PLACEHOLDER: replaced when the synth stage lands. Every function throws, so the build links.
#include "smp/synth.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

View parse_view(const std::string&) { NI("parse_view"); }
HairColor parse_hair_color(const std::string&) { NI("parse_hair_color"); }
Phantom synthesize(const SynthOptions&) { NI("synthesize"); }

}  // namespace smp
