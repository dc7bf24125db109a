// `polder diff OLD_DIR NEW_DIR [--now T]` (spec §9): what a change between two
// revisions of a policy makes allowed or denied, for people reviewing it and
// for CI (exit 1 when anything changed).
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddDiffCommand(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
