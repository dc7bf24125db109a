// Benchmarks of the agent's libnftnl path (structured rulesets, the wire form), inside a network
// namespace the binary creates for itself (never the host's ruleset). Needs root.
//
//   BM_StructuredLoad/N       RulesetApplier::Apply of a structured ruleset whose verdict map
//                             holds N addresses (the compiler's layout), into an empty table:
//                             one batch, then the read-back
//   BM_StructuredChange1k/N   apply a ruleset differing from the current one by 1,000 of N
//                             addresses (500 gone, 500 new): one batch of 2,000 kernel elements
//   BM_StructuredChangeOne/N  the same for 2 addresses (1 gone, 1 new): the floor of a change
//   BM_StructuredDrift/N      a foreign `nft add rule` until the enforcer's drift report
//                             (p50/p99): from the tamper's start (report_*), which includes
//                             the tampering process's own commit (the kernel validates every
//                             jump of the verdict map on each commit: tamper_*), and from the
//                             tamper's return, when its change is in the kernel (after_commit_*,
//                             0 when the report came first); and the restore that deletes it
//   BM_WatchedLoad/N/quiet    BM_StructuredLoad with the agent's drift watcher listening (an
//   BM_WatchedChange1k/N/quiet NftMonitor in the namespace, read after each apply as the enforcer
//                             does). quiet=0: it stays in the notification group, so the kernel
//                             builds, and the watcher reads, one notification per element;
//                             quiet=1: it leaves the group for the commit (QuietCommits, what
//                             the agent does). `missed` counts applies after which the agent
//                             would compare the whole table (must be 0 here)
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "agent/enforcer.h"
#include "agent/libnftables_kernel.h"
#include "agent/nft_generation.h"
#include "agent/nft_monitor.h"
#include "agent/quiet_commits.h"
#include "agent/ruleset.h"
#include "agent/ruleset_applier.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"
#include "wire/sha256.h"

namespace polder::agent {
bool g_failed = false;  // see Fail
namespace {

// A benchmark that could not measure fails the binary (exit 1), so CI's small run catches a
// broken apply path; Google Benchmark itself exits 0 after SkipWithError.
void Fail(benchmark::State& state, const std::string& why) {
  g_failed = true;
  state.SkipWithError(why.c_str());
}

// Elements in the order the compiler emits them (by key).
wire::NftRuleset Sorted(wire::NftRuleset rs) {
  for (wire::NftSet& s : rs.sets) {
    std::sort(s.elements.begin(), s.elements.end(),
              [](const wire::NftElement& a, const wire::NftElement& b) {
                return std::tie(a.key[0].from, a.key[0].to) < std::tie(b.key[0].from, b.key[0].to);
              });
  }
  return rs;
}

// 2,000 zones into 500 profile chains of 25 services each, plus `n` single addresses.
wire::NftRuleset Layout(int n) { return Sorted(testing::LayoutRuleset(2000, 500, 25, n)); }

Ruleset Structured(wire::NftRuleset rs, const std::string& name) {
  Ruleset r;
  r.host = "bench";
  r.revision = wire::Sha256Hex(name);
  r.hash = wire::Sha256Hex(name);
  r.structured = std::make_shared<const wire::NftRuleset>(std::move(rs));
  return r;
}

// `rs` with `count` of its single addresses removed and `count` others added.
wire::NftRuleset Changed(wire::NftRuleset rs, size_t count = 500) {
  for (wire::NftSet& s : rs.sets) {
    if (s.name != "in4") continue;
    size_t first = s.elements.size() - count;
    for (size_t i = 0; i < count; ++i) {
      s.elements[first + i].key = {testing::Ipv4(absl::StrCat("192.168.", i / 256, ".", i % 256))};
    }
  }
  return Sorted(std::move(rs));
}

void Cleanup() { testing::RunNft("table inet polder\ndelete table inet polder\n"); }

void BM_StructuredLoad(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  wire::NftRuleset rs = Layout(n);
  auto kernel = LibNftablesKernel::Create();
  for (auto _ : state) {
    state.PauseTiming();
    Cleanup();
    RulesetApplier applier(kernel->get(), {});
    state.ResumeTiming();
    auto r = applier.Apply(Structured(rs, "load"));
    if (!r.ok()) {
      Fail(state, std::string(r.status().message()));
      break;
    }
  }
  Cleanup();
}
BENCHMARK(BM_StructuredLoad)
    ->ArgName("addresses")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_StructuredLoad)
    ->ArgName("addresses")
    ->Arg(1000000)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void ChangeBench(benchmark::State& state, size_t count) {
  int n = static_cast<int>(state.range(0));
  wire::NftRuleset a = Layout(n);
  wire::NftRuleset b = Changed(a, count);
  // Built once: a Ruleset shares its structured table, so the loop measures the apply, not a
  // copy of 100k elements (the agent decodes an Assignment once, before it applies it).
  Ruleset ra = Structured(std::move(a), "a"), rb = Structured(std::move(b), "b");
  auto kernel = LibNftablesKernel::Create();
  Cleanup();
  RulesetApplier applier(kernel->get(), {});
  if (!applier.Apply(ra).ok()) Fail(state, "initial apply failed");
  int i = 1;
  for (auto _ : state) {
    bool to_b = i++ % 2 == 1;
    auto r = applier.Apply(to_b ? rb : ra);
    if (!r.ok()) Fail(state, std::string(r.status().message()));
  }
  Cleanup();
}
void BM_StructuredChange1k(benchmark::State& state) { ChangeBench(state, 500); }
// The floor of any change: one address retargeted costs a commit whose kernel side walks the
// whole verdict map (validation of every jump, the rbtree's commit walk).
void BM_StructuredChangeOne(benchmark::State& state) { ChangeBench(state, 1); }
BENCHMARK(BM_StructuredChangeOne)
    ->ArgName("addresses")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_StructuredChange1k)
    ->ArgName("addresses")
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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
  bool Wait(int n, absl::Time* drift_at, double* restore_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return restored_ >= n; })) return false;
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

void BM_StructuredDrift(benchmark::State& state) {
  Cleanup();
  Reports reports;
  Enforcer::Options options;
  options.full_check_interval = absl::Hours(1);
  wire::NftRuleset rs = testing::LayoutRuleset(10, 4, 5, static_cast<int>(state.range(0)));
  options.applier.parse = [&](std::string) -> absl::StatusOr<Ruleset> {
    return Structured(rs, "drift");
  };
  Enforcer enforcer(*LibNftablesKernel::Create(), options,
                    [&](const AgentEvent& e) { reports.Add(e); });
  if (!enforcer.Start().ok() || !enforcer.Apply("drift").get().ok()) {
    Fail(state, "enforcer did not start");
    return;
  }
  std::vector<double> latency_ms, after_commit_ms, tamper_ms, restore_ms;
  int n = 0;
  for (auto _ : state) {
    absl::Time start = absl::Now();
    if (!testing::RunNft(
            absl::StrCat("add rule inet polder input tcp dport ", 20000 + n % 1000, " accept"))) {
      Fail(state, "tamper failed");
      break;
    }
    absl::Time committed = absl::Now();
    absl::Time drift_at;
    double restore = 0;
    if (!reports.Wait(++n, &drift_at, &restore)) {
      Fail(state, "no restore within 10 s");
      break;
    }
    latency_ms.push_back(absl::ToDoubleMilliseconds(drift_at - start));
    after_commit_ms.push_back(std::max(0.0, absl::ToDoubleMilliseconds(drift_at - committed)));
    tamper_ms.push_back(absl::ToDoubleMilliseconds(committed - start));
    restore_ms.push_back(restore);
  }
  if (!latency_ms.empty()) {
    state.counters["report_p50_ms"] = Percentile(latency_ms, 0.5);
    state.counters["report_p99_ms"] = Percentile(latency_ms, 0.99);
    state.counters["after_commit_p50_ms"] = Percentile(after_commit_ms, 0.5);
    state.counters["after_commit_p99_ms"] = Percentile(after_commit_ms, 0.99);
    state.counters["tamper_p50_ms"] = Percentile(tamper_ms, 0.5);
    state.counters["restore_p50_ms"] = Percentile(restore_ms, 0.5);
    state.counters["restore_p99_ms"] = Percentile(restore_ms, 0.99);
  }
  enforcer.Stop();
  Cleanup();
}
BENCHMARK(BM_StructuredDrift)
    ->ArgName("addresses")
    ->Arg(100)
    ->Arg(10000)
    ->Arg(100000)
    ->Iterations(200)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The agent's watcher, with or without leaving the group around commits.
struct Watcher {
  explicit Watcher(NftKernel* kernel, bool quiet) {
    auto m = NftMonitor::Open();
    auto r = NftGenerationReader::Open();
    if (!m.ok() || !r.ok()) return;
    monitor = std::move(*m);
    reader = std::move(*r);
    guard = std::make_unique<QuietCommits>(monitor.get(), [this] { return reader->Read(); });
    if (quiet) kernel->SetCommitGuard(guard.get());
  }
  bool ok() const { return guard != nullptr; }
  // Reads what the kernel sent, as the enforcer's loop would (a full socket is DataLoss: the
  // enforcer would then compare the whole table; counted).
  void Drain() {
    if (absl::IsDataLoss(monitor->ReadAvailable([](const NftTransaction&) {}))) ++lost;
  }
  std::unique_ptr<NftMonitor> monitor;
  std::unique_ptr<NftGenerationReader> reader;
  std::unique_ptr<QuietCommits> guard;
  int lost = 0;
};

void BM_WatchedLoad(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  wire::NftRuleset rs = Layout(n);
  Ruleset r = Structured(std::move(rs), "load");
  auto kernel = LibNftablesKernel::Create();
  Watcher watcher(kernel->get(), state.range(1) != 0);
  if (!watcher.ok()) return Fail(state, "cannot open the watcher");
  for (auto _ : state) {
    state.PauseTiming();
    Cleanup();
    watcher.Drain();
    RulesetApplier applier(kernel->get(), {});
    state.ResumeTiming();
    if (auto applied = applier.Apply(r); !applied.ok()) {
      Fail(state, std::string(applied.status().message()));
      break;
    }
    watcher.Drain();
  }
  state.counters["missed"] = static_cast<double>(watcher.guard->missed());
  state.counters["lost"] = watcher.lost;
  if (state.range(1) != 0 && watcher.guard->missed() != 0) Fail(state, "quiet commits missed");
  Cleanup();
}
BENCHMARK(BM_WatchedLoad)
    ->ArgNames({"addresses", "quiet"})
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_WatchedLoad)
    ->ArgNames({"addresses", "quiet"})
    ->Args({1000000, 0})
    ->Args({1000000, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_WatchedChange1k(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  wire::NftRuleset a = Layout(n);
  wire::NftRuleset b = Changed(a);
  Ruleset ra = Structured(std::move(a), "a"), rb = Structured(std::move(b), "b");
  auto kernel = LibNftablesKernel::Create();
  Watcher watcher(kernel->get(), state.range(1) != 0);
  if (!watcher.ok()) return Fail(state, "cannot open the watcher");
  Cleanup();
  RulesetApplier applier(kernel->get(), {});
  if (!applier.Apply(ra).ok()) Fail(state, "initial apply failed");
  watcher.Drain();
  int i = 1;
  for (auto _ : state) {
    bool to_b = i++ % 2 == 1;
    if (auto r = applier.Apply(to_b ? rb : ra); !r.ok())
      Fail(state, std::string(r.status().message()));
    watcher.Drain();
  }
  state.counters["missed"] = static_cast<double>(watcher.guard->missed());
  if (state.range(1) != 0 && watcher.guard->missed() != 0) Fail(state, "quiet commits missed");
  Cleanup();
}
BENCHMARK(BM_WatchedChange1k)
    ->ArgNames({"addresses", "quiet"})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace polder::agent

int main(int argc, char** argv) {
  if (unshare(CLONE_NEWNET) != 0) {
    perror("unshare(CLONE_NEWNET) (needs root)");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return polder::agent::g_failed ? 1 : 0;
}
