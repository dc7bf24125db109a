// The verification subcommands of `polder` (spec §9): reach, explain, graph
// and diff. They answer questions about a policy's zone graph and about
// single connections, for people reviewing a change and for CI.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddVerifyCommands(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
