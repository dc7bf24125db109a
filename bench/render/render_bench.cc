// Compile time of rulesets for a large policy: 1,000 zones (one host each,
// plus the internet), 50,000 flows over 20 services, every host rendered.
// Goal: well under a second for all hosts.
#include <random>

#include "benchmark/benchmark.h"
#include "compiler/render/ruleset_renderer.h"
#include "compiler/testing/policy_builder.h"

namespace {

polder::Policy LargePolicy(int zones, int flows) {
  polder::testing::PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0", "::/0"}, true);
  for (int z = 0; z < zones; ++z) {
    std::string net = "10." + std::to_string(z / 256) + "." + std::to_string(z % 256);
    b.Zone("z" + std::to_string(z), {net + ".0/24"});
    b.Host("h" + std::to_string(z), {net + ".10"});  // classifies into z<z>
  }
  std::vector<std::string> services;
  for (int s = 0; s < 20; ++s) {
    services.push_back("s" + std::to_string(s));
    b.Service(services.back(),
              {"tcp/" + std::to_string(1000 + 7 * s) + "-" + std::to_string(1010 + 7 * s),
               "udp/" + std::to_string(2000 + s)});
  }
  std::mt19937 rng(7);
  for (int f = 0; f < flows; ++f) {
    auto endpoint = [&](bool allow_internet) {
      int r = rng() % (zones + 1);
      if (allow_internet && r == zones) return std::string("internet");
      r %= zones;
      return (rng() % 2 ? "z" : "h") + std::to_string(r);
    };
    std::string from = endpoint(true);
    std::string to = endpoint(false);
    std::string service = services[rng() % services.size()];
    b.Flow({.from = {from}, .to = {to}, .services = {service}, .deny = rng() % 10 == 0});
  }
  return b.Finish();
}

void BM_RenderAllHosts(benchmark::State& state) {
  polder::Policy policy =
      LargePolicy(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t bytes = 0;
  for (auto _ : state) {
    auto rulesets = polder::RenderAllRulesets(policy);
    bytes = 0;
    for (const auto& r : rulesets) bytes += r.text.size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["hosts"] = static_cast<double>(policy.hosts.size());
  state.counters["ruleset_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderAllHosts)->Args({100, 5000})->Args({1000, 50000})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
