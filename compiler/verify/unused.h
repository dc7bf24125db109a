// Unused: which allow flows and allowlist prefixes observed traffic never used
// (issue 11; spec §11 `polder unused`), and how complete the evidence is.
//
//   ReportCoverage coverage;  // which host reported on which day
//   std::vector<UnusedEntry> entries = FindUnused(policy, rows, coverage, since, now);
//   // "flow partners-https (flows.yaml:12): 0 hits; evidence 38/40 hosts, 90/90 days: unknown"
//
// An entry is called unused only when the evidence is complete: every managed
// host that enforces it reported on every day of the window. Otherwise it is
// `unknown`, with the gaps counted, because a host that never reported cannot
// show that nobody used its flows.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "compiler/model/policy.h"
#include "compiler/model/verdict.h"
#include "compiler/verify/traffic_table.h"

namespace polder {

// The days (days since the Unix epoch, UTC) on which each host's agent reported.
struct ReportCoverage {
  std::map<std::string, std::set<int64_t>> days_by_host;
  void Add(const std::string& host, absl::Time at);
};

// What the kernel's counters say of each flow (issue 11): packets on allow elements that count
// for that flow alone, summed over hosts and reports, from the agents' `hits` through each
// host's provenance map (the mapping needs the renderer, so the caller does it). An element
// shared by several flows is no evidence for any one of them; it is counted in `shared`.
struct CounterEvidence {
  struct Hits {
    uint64_t packets = 0;
    absl::Time last = absl::InfinitePast();
  };
  std::map<FlowId, Hits> flows;
  uint64_t shared = 0;        // packets on elements of several flows
  uint64_t unattributed = 0;  // packets on counters the policy's rulesets do not have
};

struct UnusedEntry {
  enum class Kind { kFlow, kPrefix };
  enum class Status { kUsed, kUnused, kUnknown };
  Kind kind = Kind::kFlow;
  std::string name;           // the flow's name, or "ZONE PREFIX"
  std::string location;       // FILE:LINE of the flow, or of the zone declaring the prefix
  uint64_t hits = 0;          // connections in the window
  uint64_t counter_hits = 0;  // flows: packets the kernel counted on its own allow elements
  absl::Time last_hit = absl::InfinitePast();
  int hosts_expected = 0;  // managed hosts enforcing it
  int hosts_complete = 0;  // of those, hosts that reported on every day of the window
  int days_window = 0;     // days in the window
  int days_complete = 0;   // days on which every expected host reported
  Status status = Status::kUnknown;
};
const char* UnusedStatusName(UnusedEntry::Status s);  // "used", "unused", "unknown"

// Entries for every active allow flow and for every declared prefix of every
// zone on the far side of one, in policy order. `rows` are TrafficTable rows;
// the window is [since, now). A flow with counter hits is used even if no row shows it.
std::vector<UnusedEntry> FindUnused(const Policy& policy, const std::vector<TrafficRow>& rows,
                                    const ReportCoverage& coverage, absl::Time since,
                                    absl::Time now, const CounterEvidence& counters = {});

}  // namespace polder
