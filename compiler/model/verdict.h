// Verdict: what the policy says about one connection attempt.
//
// The single source of truth for packet-level semantics (spec §5, §7): deny
// wins over allow, expired flows have no effect, `sources` narrows `from`,
// and managed hosts may always reach the controller. `polder explain`, the
// lab's probe table and the brute-force tests all ask this function, so the
// compiler, the graph and the kernel are held to one definition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/model/policy.h"

namespace polder {

using FlowId = int;

struct Connection {
  Address source;
  Address destination;
  Protocol protocol = Protocol::kTcp;  // never kAny
  uint16_t port = 0;                   // destination port, or ICMP type
};

struct Verdict {
  bool allowed = false;
  std::optional<ZoneId> source_zone;
  std::optional<ZoneId> destination_zone;
  std::vector<FlowId> allowing;  // active allow flows that match
  std::vector<FlowId> denying;   // active deny flows that match (they win)
  bool anti_lockout = false;     // allowed by settings.controller
  std::string reason;            // one sentence for humans
};

// Does `flow` (ignoring expiry and action) cover this connection?
bool FlowMatches(const Policy& policy, const Flow& flow, const Connection& c);
bool ServiceMatches(const Service& service, Protocol protocol, uint16_t port);

Verdict Decide(const Policy& policy, const Connection& c);

}  // namespace polder
