// What the controller needs from a compiled policy, and the function type
// that produces it. Keeping this seam narrow lets the controller be tested
// and benchmarked with synthetic policies, and keeps gRPC out of compiler/.
#ifndef POLDER_CONTROLLER_COMPILED_POLICY_H_
#define POLDER_CONTROLLER_COMPILED_POLICY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/state_store.h"
#include "wire/mode.h"
#include "wire/nft_ruleset.h"

namespace polder::controller {

struct CompiledHost {
  std::string zone;
  std::string ruleset;  // nftables script for this host
  // The same table, structured: what the agent loads through libnftnl.
  std::shared_ptr<const wire::NftRuleset> nft_ruleset = nullptr;
  // SHA-256 of `ruleset`, and of its rules without the leading comments: left empty by
  // compilers, filled in by the Fleet on all cores before it takes its lock.
  std::string hash = {};
  std::string content = {};
};

struct CompiledPolicy {
  // Revision of the effective policy (the policy with the active posture,
  // then the active quarantines, applied).
  std::string revision;
  wire::Mode mode = wire::Mode::kEnforce;
  std::map<std::string, CompiledHost> hosts;
  std::set<std::string> zones;
  // When the next flow expires, so the controller recompiles then.
  std::optional<absl::Time> next_expiry;
  std::vector<std::string> warnings;
  // The policy's postures (spec §6a), each with why `check` finds it broken
  // (its violated keep entries), or "" when it is sound. A broken posture
  // does not refuse the policy: it only refuses activating that posture
  // without --force.
  std::map<std::string, std::string> postures;
};

// Compiles the policy as of `now` with posture `posture` ("" for none)
// applied, then the given quarantines. A policy with errors (including
// violated invariants, but not violated posture keep entries) yields an
// error status whose message lists the diagnostics; so does a posture the
// policy does not have.
using PolicyCompiler = std::function<absl::StatusOr<CompiledPolicy>(
    absl::Time now, const std::vector<QuarantineRecord>& quarantines, const std::string& posture)>;

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_COMPILED_POLICY_H_
