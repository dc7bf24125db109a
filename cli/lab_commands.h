// `polder lab up|probe|down`: a policy brought to life in network namespaces
// on this machine, one per managed host (running polder-agent) and one per
// zone without hosts, all joined by a bridge in a namespace of its own that
// has no link to the root namespace. `probe` tries every (source, destination
// address, port) and compares what got through with Decide(); it is both a
// user feature ("does my policy do what I think?") and the end-to-end test.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddLabCommands(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
