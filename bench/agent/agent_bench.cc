// Benchmarks of polder-agent's kernel path, run inside a network namespace the binary creates
// for itself (never the host's ruleset). Needs root.
//
//   BM_Apply/N/dry_run      full apply (validate, optional kernel dry run, commit, read back) of a
//                           ruleset whose allow set holds N elements, alternating two versions so
//                           every iteration really replaces the table
//   BM_Change1k/N           apply a ruleset differing from the current one by 1,000 of N elements
//   BM_Snapshot/N           the netlink snapshot that compares the table on every event
//   BM_DriftLatency         a foreign `nft add rule` until the agent's drift report (p50/p99),
//                           and the restore that follows
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "wire/sha256.h"
#include "absl/strings/str_join.h"
#include "agent/enforcer.h"
#include "agent/libnftables_kernel.h"
#include "agent/ruleset.h"
#include "agent/ruleset_applier.h"
#include "wire/ruleset_header.h"

namespace polder::agent {
namespace {

// A ruleset whose allow set holds `n` distinct elements; `offset` shifts which ones, so two
// rulesets with offsets k apart share n - k elements.
std::string MakeRuleset(int n, int offset) {
  std::string elements;
  elements.reserve(static_cast<size_t>(n) * 32);
  for (int i = offset; i < offset + n; ++i) {
    if (i != offset) elements += ", ";
    absl::StrAppend(&elements, "10.", 64 + (i >> 16) % 128, ".", (i >> 8) & 0xff, ".", i & 0xff,
                    " . tcp . ", 1000 + (i / (1 << 23)));
  }
  return absl::StrCat(
      wire::FormatRulesetHeader(
          {"bench", wire::Sha256Hex(absl::StrCat(n, "/", offset)), wire::Mode::kEnforce}),
      "table inet polder\ndelete table inet polder\ntable inet polder {\n"
      "\tset in_allow_v4 { type ipv4_addr . inet_proto . inet_service; flags interval; "
      "elements = { ",
      elements,
      " } }\n"
      "\tchain input { type filter hook input priority filter; policy drop;\n"
      "\t\tct state established,related accept\n\t\tiif \"lo\" accept\n"
      "\t\tip saddr . meta l4proto . th dport @in_allow_v4 accept\n\t}\n}\n");
}

void Cleanup(NftKernel* kernel) {
  kernel->Run("table inet polder\ndelete table inet polder\n", false).IgnoreError();
}

void BM_Apply(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  std::string versions[2] = {MakeRuleset(n, 0), MakeRuleset(n, 1)};
  auto kernel = LibNftablesKernel::Create();
  RulesetApplier applier(kernel->get(), {.dry_run = state.range(1) != 0});
  int i = 0;
  for (auto _ : state) {
    auto r = applier.Apply(versions[i++ % 2]);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  Cleanup(kernel->get());
}
BENCHMARK(BM_Apply)
    ->ArgNames({"elements", "dry_run"})
    ->Args({1000, 1})
    ->Args({1000, 0})
    ->Args({100000, 1})
    ->Args({100000, 0})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_Apply)
    ->ArgNames({"elements", "dry_run"})
    ->Args({1000000, 1})
    ->Args({1000000, 0})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Change1k(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  std::string versions[2] = {MakeRuleset(n, 0), MakeRuleset(n, 1000)};
  auto kernel = LibNftablesKernel::Create();
  RulesetApplier applier(kernel->get(), {.dry_run = false});
  if (!applier.Apply(versions[0]).ok()) state.SkipWithError("initial apply failed");
  int i = 1;
  for (auto _ : state) {
    auto r = applier.Apply(versions[i++ % 2]);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  Cleanup(kernel->get());
}
BENCHMARK(BM_Change1k)
    ->ArgName("elements")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The netlink-level comparison the drift check does on every foreign change.
void BM_Snapshot(benchmark::State& state) {
  auto kernel = LibNftablesKernel::Create();
  if (!(*kernel)->Run(MakeRuleset(static_cast<int>(state.range(0)), 0), false).ok()) {
    state.SkipWithError("apply failed");
  }
  for (auto _ : state) {
    auto snap = (*kernel)->Snapshot();
    if (!snap.ok()) state.SkipWithError("snapshot failed");
    benchmark::DoNotOptimize(snap);
  }
  Cleanup(kernel->get());
}
BENCHMARK(BM_Snapshot)
    ->ArgName("elements")
    ->Arg(100)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Records when drift and restore reports arrive.
class Reports {
 public:
  void Add(const AgentEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.kind == AgentEvent::Kind::kDrift) drift_at_ = absl::Now();
    if (e.kind == AgentEvent::Kind::kRestored) {
      restore_ms_ = e.duration_ms;
      ++restored_;
    }
    cv_.notify_all();
  }
  // Waits for restore number `n`; returns the drift report time and the restore duration.
  bool Wait(int n, absl::Time* drift_at, double* restore_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return restored_ >= n; })) return false;
    *drift_at = drift_at_;
    *restore_ms = restore_ms_;
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  absl::Time drift_at_;
  double restore_ms_ = 0;
  int restored_ = 0;
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void BM_DriftLatency(benchmark::State& state) {
  Reports reports;
  Enforcer::Options options;
  options.full_check_interval = absl::Hours(1);
  Enforcer enforcer(*LibNftablesKernel::Create(), options,
                    [&](const AgentEvent& e) { reports.Add(e); });
  if (!enforcer.Start().ok() || !enforcer.Apply(MakeRuleset(state.range(0), 0)).get().ok()) {
    state.SkipWithError("enforcer did not start");
    return;
  }
  auto tamperer = LibNftablesKernel::Create();
  std::vector<double> latency_ms, restore_ms, commit_ms;
  int n = 0;
  for (auto _ : state) {
    absl::Time start = absl::Now();
    absl::Time committed;
    if (!(*tamperer)
             ->Run(
                 absl::StrCat("add rule inet polder input tcp dport ", 20000 + n % 1000, " accept"),
                 false)
             .ok()) {
      state.SkipWithError("tamper failed");
      break;
    }
    committed = absl::Now();
    absl::Time drift_at;
    double restore = 0;
    if (!reports.Wait(++n, &drift_at, &restore)) {
      state.SkipWithError("no drift report within 5 s");
      break;
    }
    latency_ms.push_back(absl::ToDoubleMilliseconds(drift_at - start));
    commit_ms.push_back(absl::ToDoubleMilliseconds(committed - start));
    restore_ms.push_back(restore);
  }
  if (!latency_ms.empty()) {
    state.counters["report_p50_ms"] = Percentile(latency_ms, 0.5);
    state.counters["report_p99_ms"] = Percentile(latency_ms, 0.99);
    // How much of that the tampering process spent in its own `nft` call (parse, cache, commit).
    state.counters["tamper_commit_p50_ms"] = Percentile(commit_ms, 0.5);
    state.counters["restore_p50_ms"] = Percentile(restore_ms, 0.5);
    state.counters["restore_p99_ms"] = Percentile(restore_ms, 0.99);
  }
  enforcer.Stop();
  Cleanup(tamperer->get());
}
BENCHMARK(BM_DriftLatency)
    ->ArgName("elements")
    ->Arg(100)
    ->Arg(10000)
    ->Iterations(500)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace polder::agent

int main(int argc, char** argv) {
  // The whole process moves into a fresh network namespace before any thread starts.
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "polder_agent_bench: needs root to create its own network namespace\n");
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
