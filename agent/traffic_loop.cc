#include "agent/traffic_loop.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "agent/agent_process.h"
#include "agent/traffic_baseline.h"
#include "agent/traffic_collector.h"
#include "agent/traffic_spool.h"

namespace polder::agent {

std::filesystem::path TrafficLoop::BaselinePath(const std::filesystem::path& spool) {
  return spool.string() + ".baseline";
}

TrafficLoop::TrafficLoop(std::string host, std::filesystem::path spool, absl::Duration interval,
                         Clock& clock)
    : host_(std::move(host)), spool_(std::move(spool)), interval_(interval), clock_(clock) {}

TrafficLoop::~TrafficLoop() { Stop(); }

void TrafficLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TrafficLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TrafficLoop::Run() {
  TrafficSpool spool(spool_);
  uint64_t epoch = static_cast<uint64_t>(absl::ToUnixSeconds(clock_.Now()));
  uint64_t last_sequence = 0;
  absl::StatusOr<std::optional<TrafficSpool::Position>> position = spool.Last();
  if (position.ok() && position->has_value()) {
    epoch = (*position)->epoch;
    last_sequence = (*position)->sequence;
  }
  KernelCounterSource kernel;
  TrafficCollector collector(host_, {}, kernel, clock_, epoch);
  collector.set_sequence(last_sequence);
  // The kernel's counters outlive this process: without the values the last report was
  // computed from, the first read would report again what was already reported.
  const std::filesystem::path baseline_path = BaselinePath(spool_);
  std::string no_baseline;  // why the first read only sets the baseline
  if (position.ok() && position->has_value()) {
    absl::StatusOr<TrafficBaseline> baseline = LoadTrafficBaseline(baseline_path);
    if (!baseline.ok()) {
      no_baseline = std::string(baseline.status().message());
    } else if (baseline->epoch != epoch || baseline->sequence != last_sequence) {
      no_baseline =
          absl::StrCat("the baseline is of report ", baseline->epoch, "/", baseline->sequence,
                       ", the spool ends with ", epoch, "/", last_sequence);
    } else if (absl::Status resumed = collector.Resume(*baseline); !resumed.ok()) {
      no_baseline = std::string(resumed.message());
    }
  } else if (!position.ok()) {
    no_baseline = std::string(position.status().message());
  }
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      clock_.AwaitWithDeadline(mu_, absl::Condition(&stop_), clock_.Now() + interval_);
      if (stop_) return;
    }
    // The sets are found anew each time: an apply may add or remove observation sets.
    absl::StatusOr<std::vector<std::string>> names = kernel.ListSets();
    if (!names.ok()) {
      PrintError(absl::StrCat("traffic: cannot list the table's sets: ", names.status().message()));
      continue;
    }
    absl::StatusOr<std::vector<std::string>> counters = kernel.ListCounters();
    if (!counters.ok()) {
      PrintError(
          absl::StrCat("traffic: cannot list the table's counters: ", counters.status().message()));
      continue;
    }
    std::vector<ObservationSource> sources = ObservationSourcesFromSetNames(*names);
    HitSources hits = HitSourcesFromNames(*names, *counters);
    // A ruleset without observation sets or counters has nothing to say: no empty reports.
    if (sources.empty() && hits.empty()) continue;
    collector.SetSources(std::move(sources));
    collector.SetHitSources(std::move(hits));
    absl::StatusOr<TrafficCollector::Result> collected = collector.Collect();
    if (!collected.ok()) {
      PrintError(absl::StrCat("traffic: ", collected.status().message()));
      continue;
    }
    if (!no_baseline.empty()) {
      // Counted twice would be worse than skipped: this read becomes the baseline, and what
      // it held is said, not reported.
      uint64_t connections = 0, packets = 0;
      for (const wire::TrafficReportSample& x : collected->report.samples)
        connections += x.connections;
      for (const wire::TrafficHit& h : collected->report.hits) packets += h.packets;
      collector.set_sequence(last_sequence);
      TrafficBaseline baseline = collector.baseline();
      absl::Status saved = SaveTrafficBaseline(baseline_path, baseline);
      nlohmann::ordered_json line = {
          {"event", "traffic_baseline"},
          {"reported", false},
          {"after_sequence", last_sequence},
          {"reason", no_baseline},
          {"skipped_connections", connections},
          {"skipped_hit_packets", packets},
          {"note",
           "counts since the spool's last report are not reported: the kernel's present "
           "values (above, partly reported before) were taken as the baseline"}};
      if (!saved.ok()) line["baseline_error"] = std::string(saved.message());
      PrintLine(line.dump() + "\n");
      no_baseline.clear();
      continue;
    }
    uint64_t offset = 0;
    absl::Status appended = spool.Append(collected->report, &offset);
    absl::Status saved =
        appended.ok() ? SaveTrafficBaseline(baseline_path, collector.baseline()) : absl::OkStatus();
    nlohmann::ordered_json line = {{"event", "traffic"},
                                   {"sequence", collected->report.sequence},
                                   {"samples", collected->report.samples.size()},
                                   {"hits", collected->report.hits.size()},
                                   {"lost", collected->report.lost},
                                   {"undecodable", collected->undecodable},
                                   {"spooled", appended.ok()}};
    if (!appended.ok()) line["error"] = std::string(appended.message());
    if (!saved.ok()) line["baseline_error"] = std::string(saved.message());
    PrintLine(line.dump() + "\n");
    if (appended.ok() && on_spooled_) on_spooled_(collected->report, offset);
  }
}

}  // namespace polder::agent
