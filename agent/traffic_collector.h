// TrafficCollector turns what the kernel counted into traffic deltas (issue 11): each Collect()
// reads every observation set and overflow counter of table inet polder and returns what grew
// since the previous Collect() as one wire::TrafficReport, ready to spool and send.
//
//   TrafficCollector collector("db-1", sources, reader, clock);
//   absl::StatusOr<wire::TrafficReport> report = collector.Collect();  // every --traffic-interval
//
// An observation set is keyed by (source address . destination address . protocol . port), or
// (source . destination . ICMP type) for ICMP, with a counter per element; its overflow counter
// counts the new connections it could not record because it was full. A counter that went
// down belongs to an element that timed out and came back, or to a table that was replaced:
// its whole value is new. The counters on allowed traffic (HitSources) are read the same way and
// reported as `hits`, by the counter id of the compiler's provenance map (wire/counter_id.h). The
// packets an element counted between the last read and its timeout are lost to any reader; that is
// why observation sets time out far slower than they are read.
#ifndef POLDER_AGENT_TRAFFIC_COLLECTOR_H_
#define POLDER_AGENT_TRAFFIC_COLLECTOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/clock.h"
#include "agent/set_counters.h"
#include "agent/traffic_baseline.h"
#include "wire/traffic_report.h"

namespace polder::agent {

// Where one kind of observation lives in the table.
struct ObservationSource {
  std::string set;               // e.g. "seen_in4_deny"
  std::string overflow_counter;  // named counter after the update rule; empty: none
  bool inbound = true;           // the host is the destination (else the source)
  bool ipv6 = false;
  bool icmp = false;    // key ends with the ICMP type instead of protocol . port
  std::string verdict;  // "allowed" | "denied" | "would-deny"
};

// What Collect() reads from; SetCounterReader in the agent, a fake in tests.
class CounterSource {
 public:
  virtual ~CounterSource() = default;
  virtual absl::StatusOr<std::vector<CountedElement>> ReadSet(const std::string& name) = 0;
  virtual absl::StatusOr<CounterValue> ReadCounter(const std::string& name) = 0;
};

// A CounterSource over the kernel of the namespace the calling thread is in.
class KernelCounterSource : public CounterSource {
 public:
  absl::StatusOr<std::vector<CountedElement>> ReadSet(const std::string& name) override {
    return reader_.ReadSet(name);
  }
  absl::StatusOr<CounterValue> ReadCounter(const std::string& name) override {
    return reader_.ReadCounter(name);
  }
  absl::StatusOr<std::vector<std::string>> ListSets() { return reader_.ListSets(); }
  absl::StatusOr<std::vector<std::string>> ListCounters() { return reader_.ListCounters(); }

 private:
  SetCounterReader reader_;
};

// The counters the kernel keeps on allowed traffic (docs/traffic.md): the elements of every set
// declared with `counter` that is not an observation set (allow sets, peer-range maps), and
// every named counter but the observation sets' overflow counters. Their deltas are the hits.
struct HitSources {
  std::vector<std::string> sets;
  std::vector<std::string> counters;
  bool empty() const { return sets.empty() && counters.empty(); }
};

// Every set and named counter of the table but the observation ones (`seen_*`).
HitSources HitSourcesFromNames(const std::vector<std::string>& sets,
                               const std::vector<std::string>& counters);

class TrafficCollector {
 public:
  TrafficCollector(std::string host, std::vector<ObservationSource> sources,
                   CounterSource& counters, Clock& clock, uint64_t epoch);

  // The deltas since the previous call (the first call: everything counted so far). A set or
  // counter that does not exist (yet) is skipped; its absence is in `missing`.
  struct Result {
    wire::TrafficReport report;
    std::vector<std::string> missing;
    uint64_t undecodable = 0;  // elements whose key is not of the source's shape
  };
  absl::StatusOr<Result> Collect();

  // Replaces what is read from; the previous values of sets still read are kept.
  void SetSources(std::vector<ObservationSource> sources) { sources_ = std::move(sources); }
  // Likewise for the hit counters; a counter no longer read is forgotten.
  void SetHitSources(HitSources hits) { hit_sources_ = std::move(hits); }

  // What the last complete Collect() read, for TrafficBaseline (traffic_baseline.h); and
  // continuing from such a read, in a restarted agent, so that its first Collect() reports
  // only what was counted since. A baseline of another epoch is refused.
  TrafficBaseline baseline() const;
  absl::Status Resume(const TrafficBaseline& baseline);

  uint64_t next_sequence() const { return sequence_ + 1; }
  void set_sequence(uint64_t last_sent) { sequence_ = last_sent; }

 private:
  std::string host_;
  std::vector<ObservationSource> sources_;
  HitSources hit_sources_;
  CounterSource& counters_;
  Clock& clock_;
  uint64_t epoch_;
  uint64_t sequence_ = 0;
  absl::Time last_ = absl::InfinitePast();
  // Previous values per (set, key) and per overflow counter.
  std::map<std::pair<std::string, std::string>, CounterValue> previous_;
  std::map<std::string, CounterValue> previous_overflow_;
  std::map<std::string, CounterValue> previous_hits_;  // by counter id
};

// The observation sources among a table's set names, by the renderer's naming (docs/traffic.md):
// `seen_<in|out><4|6>[_icmp]_<allowed|denied|would_deny>`, with its overflow counter named
// `<set>_overflow`. Other names are not observation sets.
std::vector<ObservationSource> ObservationSourcesFromSetNames(
    const std::vector<std::string>& names);

// Decodes an observation key into a sample's addresses, protocol and port; false when the
// bytes are not of the source's shape.
bool DecodeObservationKey(const ObservationSource& source, const std::string& key,
                          wire::TrafficReportSample& sample);

}  // namespace polder::agent

#endif  // POLDER_AGENT_TRAFFIC_COLLECTOR_H_
