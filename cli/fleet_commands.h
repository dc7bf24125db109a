// `polder status | pki | quarantine | release`: the commands that talk to a
// running controller or manage its certificates. They live apart from the
// policy commands because they need gRPC and the controller library.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_common.h"
#include "polder/v1/polder.pb.h"

namespace polder::cli {

void AddFleetCommands(CLI::App& app, ChosenCommand& chosen);

// `polder status --format json` (spec §11): keys in the spec's order;
// last_report is RFC 3339 UTC to the second, or null when never reported.
nlohmann::ordered_json StatusJson(const v1::StatusResponse& status);
// One row per host, for people.
std::string StatusText(const v1::StatusResponse& status);

}  // namespace polder::cli
