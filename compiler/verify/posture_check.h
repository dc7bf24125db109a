// Posture check: `polder check` verifies every posture of spec §6a.
//
// For each posture it builds the zone graph of the effective policy (what the
// agents enforce while the posture is active: compiler/model/posture.h) and
// checks the posture's `keep` entries against it as `reach` invariants, with
// the same checker as the policy's own invariants (invariants.h). A violation
// is reported as for the policy, at the keep entry's location, with
// Diagnostic::posture set and "in posture NAME: " before the message. The
// policy's no_path, isolate, via and exposure invariants are not checked
// again: a posture only removes access, so they hold in it whenever they hold
// in the policy (spec §6a).
#pragma once

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"

namespace polder {

// Checks one posture's keep entries; returns the number of violations found.
int CheckPosture(const Policy& policy, const Posture& posture, DiagnosticList& out);
// Every posture of `policy`, in order (stops once `out` is full).
void CheckPostures(const Policy& policy, DiagnosticList& out);

}  // namespace polder
