#include "wire/rfc3339.h"

#include <regex>
#include <string>

namespace polder {

std::optional<absl::Time> ParseRfc3339(absl::string_view text) {
  // RFC 3339 §5.6 date-time; `t` and `z` may be lower case.
  static const std::regex* grammar = new std::regex(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]"
      "{2})");
  std::string s(text);
  if (!std::regex_match(s, *grammar)) return std::nullopt;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return std::nullopt;
  return t;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace polder
