// polder-gen-policy: writes a synthetic policy directory for benchmarks and
// load tests, e.g. polder-gen-policy --zones 1000 --hosts 100000 --flows 50000 --seed 1 /tmp/big
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "bench/graph/policy_generator.h"
#include "wire/rfc3339.h"

int main(int argc, char** argv) {
  polder::bench::GeneratorOptions o;
  std::string out, now;
  CLI::App app{"Write a synthetic polder policy directory"};
  app.add_option("--zones", o.zones, "Zones, including internet and mgmt (default 100)");
  app.add_option("--hosts", o.hosts, "Hosts (default 10000)");
  app.add_option("--flows", o.flows, "Flows (default 5000)");
  app.add_option("--services", o.services, "Services (default 50)");
  app.add_option("--invariants", o.invariants, "Invariants (default 100)");
  app.add_option("--seed", o.seed, "Random seed (default 1)");
  app.add_option("--now", now, "Draw expiry dates around this RFC 3339 time (default: now)");
  app.add_option("OUTDIR", out, "Directory to write")->required();
  CLI11_PARSE(app, argc, argv);
  o.now = absl::Now();
  if (!now.empty()) {
    std::optional<absl::Time> t = polder::ParseRfc3339(now);
    if (!t) {
      std::cerr << "polder-gen-policy: --now `" << now << "` is not an RFC 3339 time\n";
      return 2;
    }
    o.now = *t;
  }
  if (absl::Status s = polder::bench::ValidateOptions(o); !s.ok()) {
    std::cerr << "polder-gen-policy: " << s.message() << "\n";
    return 2;
  }
  polder::Policy p = polder::bench::GeneratePolicy(o);
  if (absl::Status s = polder::bench::WritePolicyYaml(p, out); !s.ok()) {
    std::cerr << "polder-gen-policy: " << s.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << p.zones.size() << " zones, " << p.hosts.size() << " hosts, "
            << p.flows.size() << " flows, " << p.invariants.size() << " invariants to " << out
            << "\n";
  return 0;
}
