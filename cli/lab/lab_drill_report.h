// The report of `polder lab drill` (docs/drill-report.md): how long a
// posture took from the order to enforced on every host, whether the full
// probe table agreed with the posture's effective policy, and whether the
// normal table came back after the release. Pure data and formatting; the
// drill itself is in cli/lab_commands.cc. `polder report --drill FILE.json`
// reads the JSON form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace polder::cli {

// One case whose packets did not do what the expected policy says.
struct DrillDisagreement {
  std::string from;  // endpoint (host or zone stand-in) names
  std::string to;
  std::string protocol;  // "tcp", "udp", "sctp", "icmp", "icmpv6"
  int port = 0;          // ICMP: the type
  std::string expected;  // "allowed" | "blocked"
  std::string observed;  // "allowed" | "blocked" | "error"
};

// One run of the full probe table.
struct DrillProbe {
  bool ran = false;  // false when the drill stopped before it
  size_t cases = 0;
  size_t probed = 0;
  size_t skipped = 0;
  std::vector<std::pair<std::string, size_t>> skips;  // reason, cases
  std::vector<DrillDisagreement> disagreements;
  bool agrees() const { return ran && disagreements.empty(); }
};

// The time from an order (activate or release) to enforced everywhere.
struct DrillTiming {
  struct Host {
    std::string host;
    std::optional<int64_t> enforced_ms;  // none: not within the timeout
  };
  bool ran = false;
  std::optional<int64_t> enforced_ms;  // the slowest host; none: some host timed out
  int64_t timeout_ms = 0;
  // The longest wait between two looks at the controller's status: each time
  // is when the drill saw the host there, at most this much after it got there.
  int64_t resolution_ms = 0;
  std::vector<Host> hosts;
  std::string error;  // the order itself failed (refused, controller unreachable)
  bool ok() const { return ran && enforced_ms.has_value() && error.empty(); }
};

struct DrillReport {
  std::string lab;
  std::string policy_revision;
  std::string posture;
  std::string posture_revision;
  absl::Time started;
  DrillTiming activate;
  DrillProbe probe_posture;
  DrillTiming release;
  DrillProbe probe_normal;
  bool agree() const {
    return activate.ok() && probe_posture.agrees() && release.ok() && probe_normal.agrees();
  }
};

// The shape documented in docs/drill-report.md, two-space indented.
std::string DrillReportJson(const DrillReport& report);
// For a terminal: one line per step, then the disagreements.
std::string DrillReportText(const DrillReport& report);
// One self-contained page (inline style, no scripts, nothing fetched).
std::string DrillReportHtml(const DrillReport& report);

}  // namespace polder::cli
