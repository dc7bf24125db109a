// Resolver: from the YAML trees of a policy's files to a validated Policy.
//
// Checks every rule of spec §1-§7 and reports each problem as a diagnostic
// (with a did-you-mean where a name or key is close to a known one); then
// classifies addresses and computes each zone's effective address space.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "compiler/frontend/yaml_tree.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"

namespace polder {

struct ParsedFile {
  std::string path;                      // relative to the policy directory
  std::shared_ptr<const YamlNode> root;  // shared with the parse cache, never null
};

Policy ResolvePolicy(const std::vector<ParsedFile>& files, absl::Time now,
                     DiagnosticList& diagnostics);

}  // namespace polder
