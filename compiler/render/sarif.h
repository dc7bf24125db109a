// SARIF 2.1.0 output of a policy's diagnostics, for code-scanning services
// (GitHub code scanning accepts it through github/codeql-action/upload-sarif).
//
// Each diagnostic becomes a result with its code as ruleId, located at
// file/line/column; invariant violations also point, as related locations, at
// the flows that make each edge of the counterexample path.
#pragma once

#include <string>

#include "compiler/model/diagnostic.h"

namespace polder {

struct SarifOptions {
  std::string revision;
  // Path of the policy directory relative to the repository root (e.g.
  // "policies/prod"), prepended to each file so the results land on the
  // right files; empty when the policy is the repository root.
  std::string uri_prefix;
  std::string tool_version = "0.1.0";
  // Each rule's helpUri is this plus "#<code>": the catalogue of codes
  // (docs/diagnostics.md, generated from compiler/model/diagnostic_codes.cc).
  std::string help_base_uri = "https://github.com/polder/polder/blob/main/docs/diagnostics.md";
};

std::string ToSarif(const DiagnosticList& diagnostics, const SarifOptions& options);

}  // namespace polder
