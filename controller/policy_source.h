// The real PolicyCompiler: runs the compiler's full check on a policy
// directory, applies the active posture and then the active quarantines, and
// renders each host's ruleset. Any error (parse, resolution, violated
// invariant) refuses the whole policy; the message lists the diagnostics. A
// posture's violated keep entry is not such an error: it is reported in
// CompiledPolicy::postures, and refuses only activating that posture.
//
// The compiler keeps the parsed trees of the last compile in memory, by file
// content, so after an edit only the changed files are parsed again; hosts
// are rendered on every core. Both give exactly what a fresh compile gives.
#ifndef POLDER_CONTROLLER_POLICY_SOURCE_H_
#define POLDER_CONTROLLER_POLICY_SOURCE_H_

#include <filesystem>

#include "controller/compiled_policy.h"

namespace polder::controller {

PolicyCompiler DirectoryCompiler(std::filesystem::path dir);

// The same check without rendering any host: the revision, or the error DirectoryCompiler's
// compile would give. A publish checks with it before the compare-and-swap (on a 10,000-host
// policy rendering is half the compile, and every controller renders after the swap anyway).
absl::StatusOr<std::string> CheckDirectory(const std::filesystem::path& dir, absl::Time now);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_POLICY_SOURCE_H_
