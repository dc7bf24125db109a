// yaml-cpp's parse of a file with nothing done per event: the floor under the
// reader's cost, for bench/check (the issue asks for the load time of a big
// single-file policy next to this).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace polder {

// The number of parser events in `content`'s documents, or nullopt if it is
// not valid YAML.
std::optional<size_t> CountYamlEvents(const std::string& content);

}  // namespace polder
