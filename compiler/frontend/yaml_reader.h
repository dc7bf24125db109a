// Reading one policy file into a YamlNode tree, within the limits of spec §10.
//
// This is the only code that talks to yaml-cpp. It uses the event parser, not
// YAML::Load, so that the limits hold while parsing: nesting depth, the number
// of nodes across the whole policy (a shared YamlBudget), and alias expansion
// (a self-referencing alias, or a "billion laughs" of nested aliases, stops
// at once). Files that are too large, hold NUL bytes, are not UTF-8, or are
// empty are refused before yaml-cpp sees them.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "compiler/model/diagnostic.h"
#include "compiler/frontend/yaml_tree.h"

namespace polder {

struct YamlLimits {
  size_t max_file_bytes = 16 * 1024 * 1024;
  int max_depth = 64;
  size_t max_nodes = 4'000'000;  // across the whole policy (spec §10)
  int max_alias_expansions = 1'000;
};

// The policy's node count as seen from one file. Files are parsed in parallel: each shows
// its count to the files after it (`published`), and reads what the files before it have
// counted so far (`counted_before`, a lower bound that only grows, read every few thousand
// nodes). A file stops once that total passes the limit, so a policy of many large files
// is refused without holding them all, and never because of the files after it.
struct YamlBudget {
  size_t nodes = 0;  // this file's
  std::atomic<size_t>* published = nullptr;
  std::function<size_t()> counted_before;
};

// Returns the document's root, or nullopt after adding a parse-error or
// limit-exceeded diagnostic located in `file` (relative path).
std::optional<YamlNode> ReadYaml(const std::string& file, const std::string& content,
                                 const YamlLimits& limits, YamlBudget& budget,
                                 DiagnosticList& diagnostics);

}  // namespace polder
