// The zone-graph subcommands of `polder` (spec §9): reach and graph. They
// answer questions about a policy's zone graph, for people reviewing a change
// and for CI; reach also prints JSON (docs/cli-json.md). `explain` and `diff`
// live in explain_command.h and diff_command.h.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddVerifyCommands(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
