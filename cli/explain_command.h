// `polder explain DIR --from X --to Y --port P [--now T]` (spec §9): the
// verdict for one connection, and the flows or denies (file:line) that decide
// it. X and Y are an address, a host or a zone; P a protocol and port.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddExplainCommand(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
