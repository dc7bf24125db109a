// The first line of every ruleset the compiler writes, which the agent and
// the controller read back:
//
//   # polder ruleset host=db-1 revision=<64 hex> mode=enforce
//
// It is an nft comment, so the script still loads with plain `nft -f`, and
// it tells an agent which host, policy revision and mode a script is for
// before anything reaches the kernel.
//
//   std::string line = wire::FormatRulesetHeader({"db-1", revision, wire::Mode::kEnforce});
//   absl::StatusOr<wire::RulesetHeader> h = wire::ParseRulesetHeader(script);
#ifndef POLDER_WIRE_RULESET_HEADER_H_
#define POLDER_WIRE_RULESET_HEADER_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "wire/mode.h"

namespace polder::wire {

struct RulesetHeader {
  std::string host;
  std::string revision;  // 64 lower-case hex digits
  Mode mode = Mode::kEnforce;
};

// The header line, ending in "\n".
std::string FormatRulesetHeader(const RulesetHeader& header);

// Reads the first line of `script`. Refuses a missing header, a missing
// host, a revision that is not SHA-256 hex and an unknown mode.
absl::StatusOr<RulesetHeader> ParseRulesetHeader(absl::string_view script);

}  // namespace polder::wire

#endif  // POLDER_WIRE_RULESET_HEADER_H_
