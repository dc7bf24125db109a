// The agent's side of the polder.v1 wire format: checks every Assignment before anything of it
// reaches the Enforcer (a malformed or misaddressed one is refused whole, never half-used) and
// builds the messages the agent sends. Kept apart from the stream handling so the rules can be
// tested without a network.
#ifndef POLDER_AGENT_UPLINK_MESSAGES_H_
#define POLDER_AGENT_UPLINK_MESSAGES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/ruleset.h"
#include "polder/v1/polder.pb.h"

namespace polder::agent {

// The hash an ApplyResult carries when no ruleset has been applied yet (the field is required).
std::string NoRulesetHash();

// A validated assignment: the parsed ruleset plus the time by which the controller must be
// reachable again (nullopt: no confirmation asked).
struct CheckedAssignment {
  Ruleset ruleset;
  std::string revision;
  std::optional<absl::Time> confirm_deadline;
};

// Refuses an assignment whose revision or mode disagrees with its ruleset's header, whose revision
// or hash is not SHA-256 hex, whose hash does not match the ruleset text, whose mode is unknown,
// whose ruleset is empty, too large, fails ParseRuleset (scope checks included), is for another
// host or carries another revision in its header. A structured form (nft_ruleset) that does
// not convert is refused too; one that does is attached to the ruleset, to be applied instead
// of the text.
absl::StatusOr<CheckedAssignment> CheckAssignment(const v1::Assignment& a, const std::string& host);

// `degraded`: "kind: detail" lines (store-error, kernel-read-error), clipped to wire/limits.h.
v1::AgentMessage HelloMessage(const std::string& host, const std::string& version,
                              const std::string& revision, const std::string& hash,
                              const std::vector<std::string>& degraded = {},
                              uint64_t applied_generation = 0);
// `generation`: the answered assignment's (0 when it had none).
v1::AgentMessage ApplyResultMessage(bool ok, const std::string& error, absl::Duration duration,
                                    const std::string& hash, const std::string& revision,
                                    uint64_t generation = 0);
// Differences are clipped to the bounds above; an empty list becomes one placeholder line.
v1::AgentMessage DriftMessage(const std::vector<std::string>& differences, absl::Time time,
                              uint32_t pid, bool remediated);
// `time` is the agent's clock (the controller judges clock skew by it); `degraded` the agent's
// whole degraded state now, as in HelloMessage.
v1::AgentMessage HeartbeatMessage(absl::Time time, const std::vector<std::string>& degraded = {});

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_MESSAGES_H_
