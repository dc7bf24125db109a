// A compact binary form of a YamlNode tree, for the parse cache.
//
// Decoding is many times faster than yaml-cpp's scanner, which is most of a
// cold load. The decoder trusts nothing it reads: every length and count is
// checked against the bytes left, nesting is bounded and the kinds must be
// known, so a truncated, corrupt or foreign buffer gives nullopt, never a
// crash or a tree that differs from what was encoded without being refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "compiler/frontend/yaml_tree.h"

namespace polder {

// Appends the tree's encoding to `out`.
void EncodeYamlTree(const YamlNode& root, std::string& out);

// The tree encoded in exactly `bytes` (trailing bytes are refused), or nullopt.
std::optional<YamlNode> DecodeYamlTree(std::string_view bytes);

}  // namespace polder
