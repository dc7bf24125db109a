// `polder report DIR --format html -o FILE [--drill DRILL.json] [--now T]
// [--expiring-within 90d]`: one self-contained page about a policy for people
// who do not read YAML (spec §9), built by compiler/render/html_report.h.
//
// The CLI's part is what the compiler may not do: reading the drill file and
// running Graphviz (`dot -Tsvg`) for the picture of the zone graph.
#pragma once

#include "CLI/CLI.hpp"
#include "cli/cli_common.h"

namespace polder::cli {
void AddReportCommand(CLI::App& app, ChosenCommand& chosen);
}
