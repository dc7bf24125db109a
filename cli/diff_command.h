// `polder diff OLD_DIR NEW_DIR [--now T] [--format json]` (spec §9): what a
// change between two revisions of a policy makes allowed or denied (by host,
// zone and port class), the zone edges and paths it adds or removes, and the
// flow metadata it changes, for people reviewing it and for CI (exit 1 when
// anything changed). The shape of the JSON is in docs/cli-json.md.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddDiffCommand(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
