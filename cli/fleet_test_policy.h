// Test-only: the policy the CLI's fleet tests run a loopback controller with.
// One host, web-1, whose ruleset says whether a quarantine or posture is in
// force, so a test sees an order reach the fleet; zones web and mgmt; and the
// postures given (name -> why `check` finds it broken, empty when it is fine).
#ifndef POLDER_CLI_FLEET_TEST_POLICY_H_
#define POLDER_CLI_FLEET_TEST_POLICY_H_

#include <map>
#include <string>
#include <vector>

#include "controller/compiled_policy.h"
#include "wire/sha256.h"

namespace polder::cli {

inline controller::PolicyCompiler FleetTestPolicy(std::map<std::string, std::string> postures) {
  return [postures](absl::Time, const std::vector<controller::QuarantineRecord>& q,
                    const std::string& posture) -> absl::StatusOr<controller::CompiledPolicy> {
    controller::CompiledPolicy c;
    c.revision = wire::Sha256Hex(std::to_string(q.size()) + posture);
    c.hosts["web-1"] = {"web", q.empty() ? "open" + posture : "closed"};
    c.zones = {"web", "mgmt"};
    c.postures = postures;
    return c;
  };
}

}  // namespace polder::cli

#endif  // POLDER_CLI_FLEET_TEST_POLICY_H_
