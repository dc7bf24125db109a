// `polder help`: the reference of every command and flag, generated from the
// command line itself so it can never drift from what `polder` accepts; and
// `polder help codes`: the catalogue of diagnostic codes.
//
// The README's command reference is checked against `polder help` by
// tests/cli/help_matches_readme.sh.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {

// Register after every other command: the reference lists what `app` holds
// when `polder help` runs.
void AddHelpCommand(CLI::App& app, ChosenCommand& chosen);

}  // namespace polder::cli
