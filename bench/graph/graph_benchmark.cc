// Zone-graph verification at scale (Google Benchmark):
//   build/bench/polder_graph_bench --benchmark_repetitions=5
// The policies are generated in memory (policy_generator.h), so these
// figures exclude YAML parsing; `polder check` on a polder-gen-policy
// directory measures the whole pipeline.
#include <benchmark/benchmark.h>

#include "bench/graph/policy_generator.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/lint.h"
#include "compiler/verify/policy_diff.h"
#include "compiler/verify/zone_graph.h"

namespace polder::bench {
namespace {

// (zones, hosts, flows); the last is the target scale of issue 3.
const Policy& PolicyFor(int64_t zones) {
  static std::map<int64_t, Policy> cache;
  auto it = cache.find(zones);
  if (it == cache.end()) {
    GeneratorOptions o;
    o.zones = static_cast<int>(zones);
    o.hosts = static_cast<int>(zones * 100);
    o.flows = static_cast<int>(zones * 50);
    it = cache.emplace(zones, GeneratePolicy(o)).first;
  }
  return it->second;
}

void SetCounters(benchmark::State& state, const Policy& p) {
  state.counters["zones"] = p.zones.size();
  state.counters["hosts"] = p.hosts.size();
  state.counters["flows"] = p.flows.size();
}

void BM_BuildGraph(benchmark::State& state) {
  const Policy& p = PolicyFor(state.range(0));
  size_t edges = 0;
  for (auto _ : state) {
    ZoneGraph g = BuildZoneGraph(p);
    edges = g.edge_count();
    benchmark::DoNotOptimize(edges);
  }
  SetCounters(state, p);
  state.counters["edges"] = edges;
}

void BM_BuildGraphAndCheckInvariants(benchmark::State& state) {
  const Policy& p = PolicyFor(state.range(0));
  size_t violations = 0;
  for (auto _ : state) {
    ZoneGraph g = BuildZoneGraph(p);
    DiagnosticList out;
    CheckInvariants(p, g, out);
    violations = out.items().size();
  }
  SetCounters(state, p);
  state.counters["invariants"] = p.invariants.size();
  state.counters["violations"] = violations;
}

// Every invariant checked in full, each with its own diagnostic list, so the
// 100-error bound of one list does not cut the work short.
void BM_CheckEveryInvariant(benchmark::State& state) {
  const Policy& p = PolicyFor(state.range(0));
  ZoneGraph g = BuildZoneGraph(p);
  size_t violations = 0;
  for (auto _ : state) {
    violations = 0;
    for (const Invariant& inv : p.invariants) {
      DiagnosticList out;
      CheckInvariant(p, g, inv, out);
      violations += out.items().size();
    }
  }
  SetCounters(state, p);
  state.counters["invariants"] = p.invariants.size();
  state.counters["violations"] = violations;
}

void BM_Lint(benchmark::State& state) {
  const Policy& p = PolicyFor(state.range(0));
  ZoneGraph g = BuildZoneGraph(p);
  size_t warnings = 0;
  for (auto _ : state) {
    DiagnosticList out;
    Lint(p, g, LintOptions{}, out);
    warnings = out.items().size();
  }
  SetCounters(state, p);
  state.counters["warnings"] = warnings;
}

// Two revisions that differ by one allow flow between two previously
// unconnected zones: both graphs are built and compared, as `polder diff`
// does after loading.
void BM_DiffOneFlow(benchmark::State& state) {
  const Policy& before = PolicyFor(state.range(0));
  Policy after = before;
  Flow extra = after.flows.front();
  extra.action = Action::kAllow;
  extra.active = true;
  extra.sources.reset();
  extra.from = {{Endpoint::Kind::kZone, 0}};  // internet
  extra.to = {{Endpoint::Kind::kZone, static_cast<int>(after.zones.size()) - 1}};
  extra.location.line += 1000000;
  after.flows.push_back(extra);
  size_t changes = 0;
  for (auto _ : state) {
    ZoneGraph g0 = BuildZoneGraph(before);
    ZoneGraph g1 = BuildZoneGraph(after);
    PolicyDiff d = DiffPolicies(before, g0, after, g1);
    changes = d.edges.size() + d.pairs.size();
  }
  SetCounters(state, before);
  state.counters["changes"] = changes;
}

BENCHMARK(BM_BuildGraph)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildGraphAndCheckInvariants)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CheckEveryInvariant)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Lint)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DiffOneFlow)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polder::bench

BENCHMARK_MAIN();
