// SHA-256 as lower-case hex, the form revisions and ruleset hashes take on
// the wire. An agent computes the same over the exact ruleset bytes.
#ifndef POLDER_CONTROLLER_SHA256_H_
#define POLDER_CONTROLLER_SHA256_H_

#include <string>
#include <string_view>

namespace polder::controller {

std::string Sha256Hex(std::string_view data);

// True for 64 lower-case hex digits.
bool IsSha256Hex(std::string_view s);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_SHA256_H_
