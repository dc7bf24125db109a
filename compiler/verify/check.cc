#include "compiler/verify/check.h"

#include "compiler/verify/invariants.h"
#include "compiler/verify/lint.h"
#include "compiler/verify/posture_check.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

void VerifyLoaded(LoadResult& loaded, const CheckOptions& options) {
  if (!loaded.diagnostics.HasErrors()) {
    ZoneGraph graph = BuildZoneGraph(loaded.policy);
    CheckInvariants(loaded.policy, graph, loaded.diagnostics);
    Lint(loaded.policy, graph, LintOptions{options.warn_expiry}, loaded.diagnostics);
    CheckPostures(loaded.policy, loaded.diagnostics);
  }
  loaded.diagnostics.Sort();
}

absl::StatusOr<LoadResult> CheckPolicy(const std::filesystem::path& dir,
                                       const CheckOptions& options) {
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, LoadOptions{options.now});
  if (!loaded.ok()) return loaded.status();
  VerifyLoaded(*loaded, options);
  return loaded;
}

}  // namespace polder
