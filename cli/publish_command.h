// `polder publish --controller C (--tls-dir D | --insecure) DIR [--reason TEXT]`: makes DIR the
// policy every controller on the shared store serves (issue 12). The controller checks that it
// compiles, publishes it with compare-and-swap and audits it in the same transaction.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "cli/cli_common.h"

namespace polder::cli {

void AddPublishCommand(CLI::App& app, ChosenCommand& chosen);

// Every regular file under `dir` but hidden ones, by '/'-separated relative path. The
// controller validates the bundle (paths, size, UTF-8); this only refuses what it cannot read.
absl::StatusOr<std::map<std::string, std::string>> ReadPolicyFiles(
    const std::filesystem::path& dir);

}  // namespace polder::cli
