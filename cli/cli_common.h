// What every `polder` subcommand shares: exit codes, time parsing and
// printing a policy's diagnostics.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "compiler/frontend/policy_loader.h"

namespace polder::cli {

// Spec §9: 0 clean, 1 errors or a negative answer, 2 cannot run.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitCannotRun = 2;

// Parses --now (RFC 3339); empty means the wall clock.
absl::StatusOr<absl::Time> ParseNow(const std::string& text);

// Loads DIR at `now` (and with `verify`, also checks invariants and lint, as
// `polder check` does). On errors prints why (diagnostics as text to stderr,
// or the I/O error) and returns the exit code to use; warnings go to stderr
// too but do not stop.
struct Loaded {
  std::optional<LoadResult> result;
  int exit_code = kExitOk;
};
Loaded LoadOrReport(const std::string& dir, const std::string& now_text, bool verify = false);

}  // namespace polder::cli
