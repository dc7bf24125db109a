// Reads a ruleset in either of the forms `polder compile` writes: nft text (with its header
// line; applied through libnftables) or the wire form of `--format wire` (a serialized
// polder.v1.RulesetFile; applied through libnftnl, never parsed as nft language).
#ifndef POLDER_AGENT_UPLINK_RULESET_FILE_H_
#define POLDER_AGENT_UPLINK_RULESET_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "agent/ruleset.h"
#include "agent/ruleset_store.h"

namespace polder::agent {

// Text when `bytes` starts with the ruleset header line, the wire form otherwise; the hash is
// SHA-256 of the bytes either way.
absl::StatusOr<Ruleset> ParseRulesetBytes(std::string bytes);

// The ruleset a controller-mode agent stored: its text (the identity) with the structured form
// attached when one was stored and still converts. `structured_error` (may be null) says why a
// stored structured form was left out; the text alone enforces the same table.
absl::StatusOr<Ruleset> RulesetFromStored(const StoredRuleset& stored,
                                          std::string* structured_error = nullptr);

// The structured form as RulesetFromStored reads it back; empty when there is none.
std::string SerializeStructured(const Ruleset& ruleset);

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_RULESET_FILE_H_
