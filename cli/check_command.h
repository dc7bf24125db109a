// `polder check DIR [--now T] [--format text|json|sarif|junit] [--warn-expiry 14d]`
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {
void AddCheckCommand(CLI::App& app, ChosenCommand& chosen);
}
