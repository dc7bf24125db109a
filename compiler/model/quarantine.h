// Quarantine: cutting a zone or host off from the rest of the network for an
// incident, as a transformation of the Policy (no I/O, no gRPC).
//
// A quarantine of target T (a zone or a host) allowing zones A adds deny
// flows, so it overrides every allow whatever the policy says (deny wins):
// nothing outside A may open a connection to T, and T may open none to
// anything outside A. Traffic inside T is cut too (for a zone target, host to
// host within it; for a host target, its zone peers). The allowed zones are
// the management path: they keep whatever the policy already allows them.
// The controller stays reachable because rulesets always carry the
// anti-lockout rule (spec §7). The result has a new revision, since it is a
// different policy.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "compiler/model/policy.h"

namespace polder {

struct QuarantineOrder {
  std::string target;              // a zone or host name
  std::vector<std::string> allow;  // zones still allowed both ways
  std::string reason;
};

// The file name quarantine flows cite as their location.
inline constexpr char kQuarantineFile[] = "<quarantine>";

// Applies one quarantine in place. Fails (and leaves `policy` unchanged) for
// an unknown target or allowed zone.
absl::Status ApplyQuarantine(Policy& policy, const QuarantineOrder& order);

// Applies all, in order, and recomputes the revision.
absl::StatusOr<Policy> Quarantined(Policy policy, const std::vector<QuarantineOrder>& orders);

}  // namespace polder
