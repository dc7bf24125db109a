// `polder explain DIR --from X --to Y --port P [--now T] [--format json]`
// (spec §9): the verdict for connections between two ends, over every address
// pair they stand for, and the flows or denies (file:line) that decide it. X
// and Y are an address, a host or a zone; P a port item or a service, one
// verdict per port class. The shape of the JSON is in docs/cli-json.md.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

void AddExplainCommand(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
