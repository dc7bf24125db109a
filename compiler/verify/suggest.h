// Suggest: the policy file that would allow traffic a policy denies, written
// from observed connections (`polder suggest`, issue 11).
//
//   std::vector<ObservedConnection> seen = ...;   // denied / would-deny rows
//   Suggestion s = Suggest(policy, seen, {.generated_at = now, .since = "30d"});
//   WriteFile("suggested.yaml", s.yaml);  // `polder check DIR` with it added passes
//
// One flow per (source zone or host, destination zone or host, service): an
// end that is a managed host's address is named by the host, anything else
// by the zone that classifies it, so a suggestion is never wider than the
// traffic that asked for it. Observed ports are covered first by existing
// services all of whose ports were seen, then by new single-port services, so
// no suggested flow opens a port that was not seen. Every flow carries a
// comment with its evidence (connections, first and last seen, reporting
// hosts). A flow that would make an invariant fail is not written: a comment
// names the invariant instead. Traffic the policy already allows, and peers
// that no zone claims, are listed in comments, never dropped silently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "compiler/model/address.h"
#include "compiler/model/policy.h"
#include "compiler/model/service_port.h"
#include "compiler/verify/traffic_table.h"

namespace polder {

// One aggregated row of observed traffic: new connections from `source` to
// `destination` on one protocol and port (ICMP: type). A peer outside every
// zone is a collapsed prefix (/24, /48); a known end is a host prefix.
struct ObservedConnection {
  Prefix source;
  Prefix destination;
  Protocol protocol = Protocol::kTcp;  // never kAny
  uint16_t port = 0;                   // destination port, or ICMP type
  uint64_t connections = 0;
  absl::Time first_seen = absl::InfinitePast();
  absl::Time last_seen = absl::InfinitePast();
  std::vector<std::string> reporters;  // hosts whose agents saw it
};

struct SuggestOptions {
  absl::Time generated_at = absl::UnixEpoch();
  std::string since;  // as the user gave it ("30d"), for the header comment
};

struct Suggestion {
  std::string yaml;         // a policy file (spec §1): services and flows
  int flows = 0;            // flows written
  int services = 0;         // new services declared
  int refused = 0;          // candidate flows left out because of an invariant
  int already_allowed = 0;  // observed rows the policy allows already
  int unclassified = 0;     // observed rows with an end no zone claims
};

// The rows of `rows` that were denied or would have been, as Suggest() takes them.
std::vector<ObservedConnection> DeniedConnections(const std::vector<TrafficRow>& rows);

Suggestion Suggest(const Policy& policy, const std::vector<ObservedConnection>& observed,
                   const SuggestOptions& options);

}  // namespace polder
