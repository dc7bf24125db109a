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

class ParseCache;

struct LoadOptions {
  absl::Time now = absl::Now();  // decides which flows have expired
  // Threads that parse files; 0 means one per core. The result is the same for any value.
  int jobs = 0;
  // Trees of files parsed before, by content (parse_cache.h); nullptr parses every file.
  // The result is the same with or without it.
  ParseCache* cache = nullptr;
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
  size_t files_from_cache = 0;      // of sources, how many the parse cache answered
};

// How many threads `jobs` (LoadOptions::jobs, --jobs) means: itself, or one per core for 0.
int EffectiveJobs(int jobs);

// Fails (exit status 2 territory) only when the directory cannot be read.
absl::StatusOr<LoadResult> LoadPolicy(const std::filesystem::path& dir,
                                      const LoadOptions& options = {});

// The same pipeline over files already in memory (tests, fuzzing).
LoadResult LoadPolicyFromFiles(std::vector<SourceFile> files, const LoadOptions& options = {});

}  // namespace polder
