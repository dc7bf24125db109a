// The result of one posture drill (`polder lab drill ... --format json`), as
// `polder report --drill FILE.json` reads it back to show the last drill.
//
// The file is written by another command and may have been edited, truncated
// or produced by another version, so reading it checks every key it uses and
// says which one is wrong; nothing in it is trusted to be well formed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polder {

struct DrillHostTiming {
  std::string host;
  std::optional<int64_t> enforced_ms;  // none: not enforced within the timeout
};

// An order (activate or release) and how long it took to be enforced.
struct DrillTimingResult {
  std::optional<int64_t> enforced_ms;  // the slowest host; none: some host timed out
  int64_t timeout_ms = 0;
  std::vector<DrillHostTiming> hosts;
  std::string error;  // the order itself failed
};

// One probe of the full table: against the posture, or against the normal
// policy after the release.
struct DrillProbe {
  int64_t cases = 0;
  int64_t probed = 0;
  int64_t skipped = 0;
  int64_t disagree = 0;
  // Each disagreement as one line of text ("web-1 -> db-1 tcp/5432:
  // expected blocked, observed allowed"), since the report only shows them.
  std::vector<std::string> disagreements;
  std::vector<std::pair<std::string, int64_t>> skips;  // reason, cases
};

// What `polder lab drill --format json` writes (docs/drill-report.md). A part
// the drill never reached is absent (null in the file).
struct DrillResult {
  std::string lab;
  std::string policy_revision;
  std::string posture;
  std::string posture_revision;
  std::string started;  // RFC 3339, as written
  std::optional<DrillTimingResult> activate;
  std::optional<DrillProbe> probe_posture;
  std::optional<DrillTimingResult> release;
  std::optional<DrillProbe> probe_normal;
  bool agree = false;
};

// Parses the drill JSON; `name` (the file) prefixes every error. An
// InvalidArgument error names the key that is missing or of the wrong type.
absl::StatusOr<DrillResult> ParseDrillResult(absl::string_view json, absl::string_view name);

}  // namespace polder
