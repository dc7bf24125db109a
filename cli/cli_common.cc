#include "cli/cli_common.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "compiler/verify/check.h"
#include "compiler/render/diagnostic_format.h"
#include "wire/rfc3339.h"

namespace polder::cli {

absl::StatusOr<absl::Time> ParseNow(const std::string& text) {
  if (text.empty()) return absl::Now();
  std::optional<absl::Time> t = ParseRfc3339(text);
  if (!t) {
    return absl::InvalidArgumentError(
        absl::StrCat("--now `", text, "` is not an RFC 3339 time, e.g. 2026-11-24T12:00:00Z"));
  }
  return *t;
}

Loaded LoadOrReport(const std::string& dir, const std::string& now_text, bool verify) {
  Loaded out;
  absl::StatusOr<absl::Time> now = ParseNow(now_text);
  if (!now.ok()) {
    std::cerr << "polder: " << now.status().message() << "\n";
    out.exit_code = kExitCannotRun;
    return out;
  }
  absl::StatusOr<LoadResult> loaded = LoadPolicy(dir, LoadOptions{*now});
  if (!loaded.ok()) {
    std::cerr << "polder: " << loaded.status().message() << "\n";
    out.exit_code = kExitCannotRun;
    return out;
  }
  if (verify) {
    CheckOptions options;
    options.now = *now;
    VerifyLoaded(*loaded, options);
  }
  if (loaded->diagnostics.HasErrors()) {
    loaded->diagnostics.Sort();
    std::cerr << FormatText(loaded->diagnostics, loaded->sources);
    out.exit_code = kExitFindings;
    return out;
  }
  out.result = std::move(*loaded);
  return out;
}

}  // namespace polder::cli
