// `polder unused` at the scale: 150 partner prefixes x 1,000 hosts x 90 days of daily
// roll-ups. Each host is an application host the partners reach on https; every host reported
// every day; each (host, partner prefix) pair saw traffic on some days.
#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "compiler/testing/policy_builder.h"
#include "compiler/verify/traffic_table.h"
#include "compiler/verify/unused.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

struct World {
  Policy policy;
  std::vector<TrafficSample> samples;  // one per (host, prefix, day) with traffic
  ReportCoverage coverage;
  absl::Time now = absl::FromCivil(absl::CivilDay(2026, 12, 1), absl::UTCTimeZone());
};

World Make(int prefixes, int hosts, int days) {
  PolicyBuilder b;
  std::vector<std::string> cidrs;
  for (int p = 0; p < prefixes; ++p) cidrs.push_back(absl::StrCat("198.18.", p, ".0/24"));
  b.Zone("partners", cidrs).Zone("apps", {"10.0.0.0/16"}).Service("https", {"tcp/443"});
  for (int h = 0; h < hosts; ++h) {
    b.Host(absl::StrCat("app-", h), {absl::StrCat("10.0.", h / 250, ".", h % 250 + 1)});
  }
  b.Flow({.from = {"partners"}, .to = {"apps"}, .services = {"https"}, .name = "partners-https"});
  World w;
  w.policy = b.Finish();
  for (int h = 0; h < hosts; ++h) {
    std::string host = absl::StrCat("app-", h);
    Address local = w.policy.hosts[h].addresses[0];
    for (int d = 0; d < days; ++d) {
      absl::Time at = w.now - absl::Hours(24 * (d + 1)) + absl::Hours(12);
      w.coverage.Add(host, at);
      // Each host is used by a tenth of the partners, a different tenth each day.
      for (int p = (h + d) % 10; p < prefixes; p += 10) {
        w.samples.push_back(TrafficSample{.host = host,
                                          .direction = TrafficDirection::kInbound,
                                          .local = local,
                                          .peer = *Address::Parse(absl::StrCat("198.18.", p, ".7")),
                                          .protocol = Protocol::kTcp,
                                          .port = 443,
                                          .verdict = TrafficVerdict::kAllowed,
                                          .connections = 3,
                                          .bytes = 3000,
                                          .at = at});
      }
    }
  }
  return w;
}

void BM_AggregateRollups(benchmark::State& state) {
  World w = Make(150, static_cast<int>(state.range(0)), 90);
  for (auto _ : state) {
    TrafficTable table(w.policy);
    for (const TrafficSample& s : w.samples) table.Add(s);
    benchmark::DoNotOptimize(table.Rows().size());
  }
  state.counters["samples"] = static_cast<double>(w.samples.size());
}
BENCHMARK(BM_AggregateRollups)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_Unused(benchmark::State& state) {
  World w = Make(150, static_cast<int>(state.range(0)), 90);
  TrafficTable table(w.policy);
  for (const TrafficSample& s : w.samples) table.Add(s);
  std::vector<TrafficRow> rows = table.Rows();
  for (auto _ : state) {
    std::vector<UnusedEntry> entries =
        FindUnused(w.policy, rows, w.coverage, w.now - absl::Hours(24 * 90), w.now);
    benchmark::DoNotOptimize(entries.size());
  }
  state.counters["rows"] = static_cast<double>(rows.size());
}
BENCHMARK(BM_Unused)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polder

BENCHMARK_MAIN();
