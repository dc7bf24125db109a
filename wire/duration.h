// Durations as every polder command line spells them (spec §9): a whole number and a unit,
// `s`, `m`, `h`, `d` (and `w` for weeks): `2s`, `90d`. One parser for the CLI's --since and
// the agent's --traffic-interval, so they cannot drift apart.
#ifndef POLDER_WIRE_DURATION_H_
#define POLDER_WIRE_DURATION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace polder::wire {

// InvalidArgument (naming the accepted forms) for anything else, a negative number, or more
// than 100 years.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace polder::wire

#endif  // POLDER_WIRE_DURATION_H_
