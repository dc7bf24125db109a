// Times as policies and the command line write them: RFC 3339 exactly
// (2027-03-01T00:00:00Z, 2027-03-01T01:00:00+01:00, optional fractions).
//
// abseil's parser alone also takes a 5-digit or negative year and one-digit
// fields, so a typo such as `20270-01-01` would turn a temporary flow into a
// permanent one without a word; the grammar is checked first.
#pragma once

#include <optional>
#include <string_view>

#include "absl/time/time.h"

namespace polder {

std::optional<absl::Time> ParseRfc3339(std::string_view text);

}  // namespace polder
