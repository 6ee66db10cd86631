// PLACEHOLDER: replaced when the pattern stage lands. Every function throws, so the build links.
#include "smp/pattern.hpp"

#include "smp/error.hpp"

namespace smp {
namespace {
[[noreturn]] void NI(const char* what) {
  throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not implemented yet");
}
}  // namespace

DotPattern generate(const TreatmentDesign&, const GenerateOptions&) { NI("generate"); }

}  // namespace smp
