// `polder traffic`, `polder unused` and `polder suggest` (spec §11, issue 11) over a local
// traffic spool: what the network actually does, which allow flows and allowlist prefixes
// nobody used, and the flows that would allow what the policy denied.
//
//   polder traffic --local STATE --policy DIR [--since 7d] [--zone Z|--host H] [--denied]
//                  [--format text|json]
//   polder unused  --local STATE --policy DIR --since 90d [--format text|json]
//   polder suggest --local STATE --policy DIR [--since 30d] -o FILE.yaml
//
// STATE is a file of TrafficReport lines (wire/traffic_report.h), as an agent spools them. A
// batch read twice (same host, epoch, sequence) counts once; tuples an agent reported as lost
// are said on every output, so a short count never looks complete. Reading from a controller
// (`--controller`) is refused with a message until the controller collects traffic.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/cli_common.h"
#include "wire/traffic_report.h"

namespace polder::cli {

void AddTrafficCommands(CLI::App& app, ChosenCommand& chosen);

// The reports of a spool file, each (host, epoch, sequence) once. A malformed line is an error
// naming FILE:LINE, except a cut last line (an append interrupted by a crash), which is
// counted in `partial_lines`.
struct Spool {
  std::vector<wire::TrafficReport> reports;
  size_t duplicates = 0;
  size_t partial_lines = 0;
};
absl::StatusOr<Spool> ReadSpool(const std::string& path);

}  // namespace polder::cli
