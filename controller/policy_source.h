// The real PolicyCompiler: runs the compiler's full check on a policy
// directory, applies active quarantines and renders each host's ruleset.
// Any error (parse, resolution, violated invariant) refuses the whole
// policy; the message lists the diagnostics.
#ifndef POLDER_CONTROLLER_POLICY_SOURCE_H_
#define POLDER_CONTROLLER_POLICY_SOURCE_H_

#include <filesystem>

#include "controller/compiled_policy.h"

namespace polder::controller {

PolicyCompiler DirectoryCompiler(std::filesystem::path dir);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_POLICY_SOURCE_H_
