// `polder compile`: one host's ruleset to stdout, or every host's ruleset
// plus manifest.json into a directory (spec §8, §9).
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "cli/cli_common.h"
#include "compiler/model/policy.h"

namespace polder::cli {

void AddCompileCommands(CLI::App& app, ChosenCommand& chosen);

// Writes HOST.nft for every host of `policy` and manifest.json
// ({"revision", "hosts": {H: {"file", "sha256"}}}) into `out_dir`, creating
// it if needed, on `jobs` threads (0: one per core). The lab compiles through this too.
absl::Status WriteRulesets(const Policy& policy, const std::string& out_dir, int jobs = 0);

}  // namespace polder::cli
