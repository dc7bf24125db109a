// TrafficReport: one batch of observed-traffic deltas from one agent (issue 11), as the agent
// spools it to disk and as `polder traffic --local STATE` reads it: one JSON object per line.
//
//   {"host":"db-1","epoch":1764670000,"sequence":42,
//    "start":"2026-12-02T10:00:00Z","end":"2026-12-02T10:01:00Z","lost":0,
//    "samples":[{"direction":"in","local":"10.10.3.10","peer":"10.10.2.7",
//                "protocol":"tcp","port":5432,"verdict":"allowed",
//                "connections":12,"bytes":48211}],
//    "hits":[{"counter":"in_p3_l4/0600000001bb0000","packets":12,"bytes":48211}]}
//
// (epoch, sequence) identify a batch, so that a batch sent or read twice counts once. `lost`
// counts tuples the kernel could not record (an observation set was full): a reader says so,
// it never shows a short count as complete. `hits` are the deltas of the counters the kernel
// keeps on allowed traffic (every allow element, every peer range, named counters), by the
// stable id the compiler's provenance map uses (wire/counter_id.h); a line without hits leaves
// the key out. Parsing is strict and bounded: anything else in a line is an error naming the
// field.
#ifndef POLDER_WIRE_TRAFFIC_REPORT_H_
#define POLDER_WIRE_TRAFFIC_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace polder::wire {

inline constexpr size_t kMaxTrafficSamplesPerReport = 100000;
inline constexpr size_t kMaxTrafficHitsPerReport = 200000;
inline constexpr size_t kMaxTrafficReportLine = 32 << 20;

struct TrafficReportSample {
  std::string direction;  // "in" | "out"
  std::string local;      // the host's address
  std::string peer;       // the other end's address
  std::string protocol;   // "tcp" | "udp" | "sctp" | "icmp" | "icmpv6"
  uint32_t port = 0;      // destination port, or ICMP type (0..255)
  std::string verdict;    // "allowed" | "denied" | "would-deny"
  uint64_t connections = 0;
  uint64_t bytes = 0;
  friend bool operator==(const TrafficReportSample&, const TrafficReportSample&) = default;
};

// One counter's delta (proto TrafficHit: string counter; uint64 packets; uint64 bytes).
struct TrafficHit {
  std::string counter;  // wire/counter_id.h: "<set>/<hex key>" or "counter/<name>"
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const TrafficHit&, const TrafficHit&) = default;
};

struct TrafficReport {
  std::string host;
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  absl::Time start = absl::UnixEpoch();
  absl::Time end = absl::UnixEpoch();
  uint64_t lost = 0;
  std::vector<TrafficReportSample> samples;
  std::vector<TrafficHit> hits;  // distinct counters
  // Packets of hits left out when the report was sent (proto TrafficBatch.clipped_hit_packets;
  // never in a spool line, where a report holds all its hits).
  uint64_t clipped_hit_packets = 0;
  friend bool operator==(const TrafficReport&, const TrafficReport&) = default;
};

// One line, without the newline.
std::string TrafficReportToJsonLine(const TrafficReport& report);
// InvalidArgument naming the field for anything but a line TrafficReportToJsonLine writes.
absl::StatusOr<TrafficReport> ParseTrafficReportLine(absl::string_view line);

}  // namespace polder::wire

#endif  // POLDER_WIRE_TRAFFIC_REPORT_H_
