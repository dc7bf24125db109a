#include "wire/duration.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace polder::wire {

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a duration: a whole number and a unit (90s, 30m, 12h, 7d, 2w)"));
  };
  if (text.size() < 2 || !absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) return bad();
  int64_t n = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) || n < 0) return bad();
  absl::Duration per;
  switch (absl::ascii_tolower(static_cast<unsigned char>(text.back()))) {
    case 's':
      per = absl::Seconds(1);
      break;
    case 'm':
      per = absl::Minutes(1);
      break;
    case 'h':
      per = absl::Hours(1);
      break;
    case 'd':
      per = absl::Hours(24);
      break;
    case 'w':
      per = absl::Hours(24 * 7);
      break;
    default:
      return bad();
  }
  if (n > int64_t{100} * 366 * 24 * 3600 / absl::ToInt64Seconds(per)) return bad();
  return n * per;
}

}  // namespace polder::wire
