// Times as policies, the command line and the admin tools write them: RFC 3339
// exactly (2027-03-01T00:00:00Z, 2027-03-01T01:00:00+01:00, optional fractions).
// polder prints times in one form, whole seconds in UTC, so that output is
// stable and compares as text.
//
// abseil's parser alone also takes a 5-digit or negative year and one-digit
// fields, so a typo such as `20270-01-01` would turn a temporary flow into a
// permanent one without a word; the grammar is checked first.
#pragma once

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"

namespace polder {

std::optional<absl::Time> ParseRfc3339(absl::string_view text);

// `2027-03-01T00:00:00Z`: whole seconds (a fraction is dropped), UTC.
std::string FormatRfc3339(absl::Time t);

}  // namespace polder
