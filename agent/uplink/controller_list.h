// `polder-agent --controller A:P,B:P,C:P`: the controllers an agent may talk to, in the order
// it tries them. The order is rendezvous (highest-random-weight) hashing of the agent's host
// name with each address: every agent prefers one controller, the fleet spreads evenly over
// them, and when one is lost only its agents move (each to its own next choice), so the
// survivors share the load instead of one of them taking it all.
#ifndef POLDER_AGENT_UPLINK_CONTROLLER_LIST_H_
#define POLDER_AGENT_UPLINK_CONTROLLER_LIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace polder::agent {

// "HOST:PORT[,HOST:PORT...]" (an IPv6 HOST in brackets); duplicates are refused.
absl::StatusOr<std::vector<std::string>> ParseControllerList(const std::string& list);

// `targets` from the most to the least preferred for `host` (SHA-256 of host and address, so
// the same on every machine and build).
std::vector<std::string> RendezvousOrder(std::vector<std::string> targets, const std::string& host);

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_CONTROLLER_LIST_H_
