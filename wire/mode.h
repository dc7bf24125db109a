// The enforcement mode of a ruleset (spec §7): `enforce` drops what no flow
// allows, `audit` only records it. One enum for the compiler, the ruleset
// header, the controller and the agent; its spelling on the wire and in
// headers is the lower-case word.
//
//   wire::ParseMode("audit") == wire::Mode::kAudit
//   wire::ModeName(wire::Mode::kEnforce) == "enforce"
#ifndef POLDER_WIRE_MODE_H_
#define POLDER_WIRE_MODE_H_

#include <cstdint>
#include <optional>
#include "absl/strings/string_view.h"

namespace polder::wire {

enum class Mode : uint8_t { kEnforce, kAudit };

absl::string_view ModeName(Mode mode);
// nullopt for anything but "enforce" or "audit".
std::optional<Mode> ParseMode(absl::string_view name);

}  // namespace polder::wire

#endif  // POLDER_WIRE_MODE_H_
