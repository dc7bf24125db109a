// `polder check DIR [--now T] [--format text|json|sarif|junit] [--warn-expiry 14d]`
#pragma once

#include "CLI/CLI.hpp"

namespace polder::cli {
void AddCheckCommand(CLI::App& app);
}
