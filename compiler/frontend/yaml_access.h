// Typed, diagnosing access to YamlNode values for the resolver.
//
// Every accessor either returns the value or reports a diagnostic at the
// node's position saying what was expected, so resolver code reads as a list
// of fields rather than a list of checks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/frontend/yaml_tree.h"

namespace polder {

class YamlAccess {
 public:
  YamlAccess(std::string file, DiagnosticList& diagnostics)
      : file_(std::move(file)), diagnostics_(diagnostics) {}

  const std::string& file() const { return file_; }
  DiagnosticList& diagnostics() { return diagnostics_; }
  SourceLocation At(const YamlNode& n) const { return {file_, n.line, n.column}; }
  void Error(const YamlNode& n, std::string code, std::string message) {
    diagnostics_.Error(At(n), std::move(code), std::move(message));
  }

  // Reports unknown keys (with did-you-mean) and duplicate keys; returns
  // false if `node` is not a mapping.
  bool CheckMap(const YamlNode& node, const std::vector<std::string>& allowed,
                const std::string& what);
  static const YamlNode* Find(const YamlNode& map, std::string_view key);
  // Like Find, but reports a missing key at the mapping.
  const YamlNode* Require(const YamlNode& map, std::string_view key, const std::string& what);

  std::optional<std::string> String(const YamlNode& n, const std::string& what);
  std::optional<bool> Bool(const YamlNode& n, const std::string& what);
  std::optional<long> Integer(const YamlNode& n, const std::string& what, long lo, long hi);
  // A name as in spec §1: [a-z][a-z0-9_-]{0,62}.
  std::optional<std::string> Name(const YamlNode& n, const std::string& what);
  // A sequence's items, or the node itself when a single scalar is allowed.
  std::vector<const YamlNode*> List(const YamlNode& n, const std::string& what, bool allow_single);

 private:
  std::string file_;
  DiagnosticList& diagnostics_;
};

bool IsValidName(std::string_view s);

}  // namespace polder
