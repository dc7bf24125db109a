// Lint: warnings about a valid policy that probably does not say what its
// authors meant. None of them stops a rollout; each names the object to fix.
//
// Codes: `negated-flow` (an allow that denies take away entirely),
// `shadowed-flow` (an allow whose every connection another single allow
// already allows), `unused-deny` (a deny that overlaps no allow),
// `unused-zone`, `unused-service`, `host-without-flows`, `wide-exposure` (an
// allow from an external zone on `any` or a range wider than 16 ports) and
// `expiring-soon` (an active flow whose `expires` lies within the warning
// window), and for what surprises people: `carved-out` (a zone's more specific
// prefixes take addresses out of a larger zone, and with them that zone's
// allow flows), `private-in-external` (RFC 1918 / RFC 4193 space no internal
// zone claims falls into an external catch-all), `unenforced-flow` (no
// managed host on either side) and `controller-zone-shared` (the
// anti-lockout's edge leads into a zone with other hosts).
//
// Everything runs in time near-linear in the policy: flows are compared only
// with flows that touch the same zone pair, never all with all.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

struct LintOptions {
  // Warn about flows that expire within this window from the policy's now;
  // zero disables `expiring-soon`.
  absl::Duration expiry_window = absl::Hours(24 * 14);
};

// Parses a window like "14d", "36h", "90m" or "0" (for --warn-expiry).
absl::StatusOr<absl::Duration> ParseExpiryWindow(std::string_view text);

void Lint(const Policy& policy, const ZoneGraph& graph, const LintOptions& options,
          DiagnosticList& out);

}  // namespace polder
