// Loading a policy: from a directory of YAML files to a resolved Policy.
//
// This is the front end's one entry point. It reads every *.yaml / *.yml file
// below the directory in byte order of relative paths, enforces the input
// limits of spec §10, resolves names across files and validates everything
// spec §1-§7 asks for. It never stops at the first error: all findings (up to
// DiagnosticList::kMaxErrors) come back as diagnostics. The Policy is only
// meaningful when there are no errors.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"

namespace polder {

struct LoadOptions {
  absl::Time now = absl::Now();  // decides which flows have expired
};

// One policy file in memory; `path` is relative to the policy directory.
struct SourceFile {
  std::string path;
  std::string content;
};

struct LoadResult {
  Policy policy;
  DiagnosticList diagnostics;
  std::vector<SourceFile> sources;  // in load order, for quoting source lines
};

// Fails (exit status 2 territory) only when the directory cannot be read.
absl::StatusOr<LoadResult> LoadPolicy(const std::filesystem::path& dir,
                                      const LoadOptions& options = {});

// The same pipeline over files already in memory (tests, fuzzing).
LoadResult LoadPolicyFromFiles(std::vector<SourceFile> files, const LoadOptions& options = {});

}  // namespace polder
