// Reads a ruleset in either of the forms `polder compile` writes: nft text (with its header
// line; applied through libnftables) or the wire form of `--format wire` (a serialized
// polder.v1.RulesetFile; applied through libnftnl, never parsed as nft language).
#ifndef POLDER_AGENT_UPLINK_RULESET_FILE_H_
#define POLDER_AGENT_UPLINK_RULESET_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "agent/ruleset.h"

namespace polder::agent {

// Text when `bytes` starts with the ruleset header line, the wire form otherwise; the hash is
// SHA-256 of the bytes either way.
absl::StatusOr<Ruleset> ParseRulesetBytes(std::string bytes);

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_RULESET_FILE_H_
