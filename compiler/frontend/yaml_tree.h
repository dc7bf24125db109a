// YamlNode: a YAML document as a plain tree with source positions.
//
// The reader (yaml_reader.h) produces it under explicit bounds; the resolver
// walks it. Aliases are already expanded (and counted against the limits), so
// the tree is finite and every node is owned exactly once.
#pragma once

#include <string>
#include <vector>

namespace polder {

struct YamlEntry;

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  std::string scalar;              // kScalar
  bool plain = true;               // kScalar: false when quoted or a block literal
  std::vector<YamlNode> items;     // kSequence
  std::vector<YamlEntry> entries;  // kMap, in file order
  int line = 0;                    // 1-based
  int column = 0;                  // 1-based
  int anchor = 0;                  // the yaml-cpp anchor id that defined this node, or 0

  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsMap() const { return kind == Kind::kMap; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsNull() const { return kind == Kind::kNull; }
};

struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

}  // namespace polder
