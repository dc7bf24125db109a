// What the controller needs from a compiled policy, and the function type
// that produces it. Keeping this seam narrow lets the controller be tested
// and benchmarked with synthetic policies, and keeps gRPC out of compiler/.
#ifndef POLDER_CONTROLLER_COMPILED_POLICY_H_
#define POLDER_CONTROLLER_COMPILED_POLICY_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/state_store.h"
#include "wire/mode.h"

namespace polder::controller {

struct CompiledHost {
  std::string zone;
  std::string ruleset;  // nftables script for this host
};

struct CompiledPolicy {
  // Revision of the effective policy (the policy plus active quarantines).
  std::string revision;
  wire::Mode mode = wire::Mode::kEnforce;
  std::map<std::string, CompiledHost> hosts;
  std::set<std::string> zones;
  // When the next flow expires, so the controller recompiles then.
  std::optional<absl::Time> next_expiry;
  std::vector<std::string> warnings;
};

// Compiles the policy as of `now` with the given quarantines applied. A
// policy with errors (including violated invariants) yields an error status
// whose message lists the diagnostics.
using PolicyCompiler = std::function<absl::StatusOr<CompiledPolicy>(
    absl::Time now, const std::vector<QuarantineRecord>& quarantines)>;

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_COMPILED_POLICY_H_
