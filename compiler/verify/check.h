// `polder check` as a library call: load, resolve, verify invariants, lint,
// and verify every posture's `keep` list (posture_check.h; those diagnostics
// carry Diagnostic::posture).
//
// The CLI, the controller (which refuses to roll out a policy that fails
// check) and tests all run the same pipeline through this function.
#pragma once

#include <filesystem>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "compiler/frontend/policy_loader.h"

namespace polder {

struct CheckOptions {
  absl::Time now = absl::Now();
  absl::Duration warn_expiry = absl::Hours(24 * 14);  // 0: no expiring-soon warnings
};

// The loaded policy plus every diagnostic, sorted by location. The policy is
// usable for compilation when diagnostics has no errors.
absl::StatusOr<LoadResult> CheckPolicy(const std::filesystem::path& dir,
                                       const CheckOptions& options);
// Runs invariants and lint on an already loaded policy (e.g. files in memory).
void VerifyLoaded(LoadResult& loaded, const CheckOptions& options);

}  // namespace polder
