// `polder compile`: one host's ruleset to stdout or a file (-o), or every
// host's ruleset plus manifest.json into a directory (spec §8, §9); as nft
// text, or with --format wire as the structured form polder-agent loads
// through libnftnl (polder.v1.RulesetFile, wire/proto_convert.h).
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "cli/cli_common.h"
#include "compiler/model/policy.h"

namespace polder::cli {

void AddCompileCommands(CLI::App& app, ChosenCommand& chosen);

// Writes HOST.nft (HOST.wire for format "wire") for every host of `policy`, beside each its
// provenance map HOST.nft.provenance.json (compiler/render/provenance.h), and manifest.json
// ({"revision", "hosts": {H: {"file", "sha256", "provenance", "provenance_sha256"}}}) into
// `out_dir`, creating it if needed, on `jobs` threads (0: one per core), as nft text or the
// wire form (`format` "wire"). The lab compiles through this too.
absl::Status WriteRulesets(const Policy& policy, const std::string& out_dir,
                           const std::string& format = "text", int jobs = 0);

}  // namespace polder::cli
