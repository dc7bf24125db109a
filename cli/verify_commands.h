// The verification subcommands of `polder` (spec §9): reach, explain, graph
// and diff. They answer questions about a policy's zone graph and about
// single connections, for people reviewing a change and for CI.
#pragma once

#include "CLI/CLI.hpp"

namespace polder::cli {

void AddVerifyCommands(CLI::App& app);

}  // namespace polder::cli
