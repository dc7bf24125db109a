// TrafficBaseline is every counter value a TrafficCollector read last, saved beside the spool
// after each spooled report (`<spool>.baseline`), so that a restarted agent reports what the
// kernel counted since that report instead of everything its table counted so far again: the
// kernel's counters outlive the agent (an adopted table keeps its elements and their counts).
//
//   SaveTrafficBaseline(path, collector.baseline());                  // after spool.Append
//   absl::StatusOr<TrafficBaseline> b = LoadTrafficBaseline(path);    // at start
//   if (b.ok() && b->epoch == last.epoch && b->sequence == last.sequence) collector.Resume(*b);
//
// A baseline that does not belong to the spool's last report (a crash between the two writes,
// a file removed or damaged) is not used: the loop then takes the kernel's current values as
// the baseline and says that the counts since the last report were skipped (traffic_loop.h).
#ifndef POLDER_AGENT_TRAFFIC_BASELINE_H_
#define POLDER_AGENT_TRAFFIC_BASELINE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/set_counters.h"

namespace polder::agent {

struct TrafficBaseline {
  uint64_t epoch = 0;
  uint64_t sequence = 0;  // the report whose read these values are
  absl::Time read_at = absl::InfinitePast();
  std::map<std::pair<std::string, std::string>, CounterValue> elements;  // (set, key bytes)
  std::map<std::string, CounterValue> overflow;                          // by counter name
  std::map<std::string, CounterValue> hits;                              // by counter id
};

// Files larger than this are refused on load (the collector's state is bounded by the sets'
// caps and the 200,000 hit counters a report may carry).
inline constexpr uintmax_t kMaxTrafficBaselineBytes = uintmax_t{128} << 20;

absl::Status SaveTrafficBaseline(const std::filesystem::path& path, const TrafficBaseline& b);
// NotFoundError for a missing file; DataLossError naming the file for anything unreadable.
absl::StatusOr<TrafficBaseline> LoadTrafficBaseline(const std::filesystem::path& path);

}  // namespace polder::agent

#endif  // POLDER_AGENT_TRAFFIC_BASELINE_H_
