// Content hashes on the wire: SHA-256 as 64 lower-case hex digits.
//
// A policy revision and a ruleset hash are both this form. The compiler
// computes revisions, the agent hashes the exact ruleset bytes it applies,
// and the controller checks every hash it receives with IsSha256Hex, so all
// three agree on one spelling (upper case is refused everywhere).
//
//   std::string h = wire::Sha256Hex(ruleset_text);
//   assert(wire::IsSha256Hex(h));
#ifndef POLDER_WIRE_SHA256_H_
#define POLDER_WIRE_SHA256_H_

#include <string>
#include "absl/strings/string_view.h"

namespace polder::wire {

std::string Sha256Hex(absl::string_view data);

// True for exactly 64 lower-case hex digits.
bool IsSha256Hex(absl::string_view s);

}  // namespace polder::wire

#endif  // POLDER_WIRE_SHA256_H_
