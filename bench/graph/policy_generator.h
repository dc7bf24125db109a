// Synthetic policies for benchmarks and load tests: a Policy built in memory
// (fast, for the graph benchmarks) and the same policy as YAML files (for
// benchmarks of the whole pipeline, through polder-gen-policy).
//
// The shape imitates a large organisation: one external `internet` zone, a
// `mgmt` zone holding the controller, and internal zones with hosts; most
// flows go between neighbouring zones (tiers), some are host-level, some
// are denies narrowed by `sources`, a few have expired. Everything is a pure
// function of the options, seed included.
#pragma once

#include <cstdint>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "compiler/model/policy.h"

namespace polder::bench {

struct GeneratorOptions {
  int zones = 100;  // including `internet` and `mgmt`
  int hosts = 10000;
  int flows = 5000;
  int services = 50;
  int invariants = 100;
  uint32_t seed = 1;
  // Expiry dates are drawn around this time (a few flows expired already).
  absl::Time now = absl::FromUnixSeconds(1790000000);  // 2026-09-21
};

// The largest policy the address plan holds: 4,096 zones (one /20 each) and
// 4,094 hosts per internal zone.
absl::Status ValidateOptions(const GeneratorOptions& options);

// A resolved policy (segments, effective spaces, ids) ready for the zone
// graph. `now` is fixed so that expiry is reproducible.
Policy GeneratePolicy(const GeneratorOptions& options);

// Writes `policy` as a policy directory: zones.yaml, hosts.yaml,
// services.yaml, flows.yaml, invariants.yaml, settings.yaml.
absl::Status WritePolicyYaml(const Policy& policy, const std::filesystem::path& dir);

}  // namespace polder::bench
