#include "compiler/verify/posture_check.h"

#include "absl/strings/str_cat.h"
#include "compiler/model/posture.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

int CheckPosture(const Policy& policy, const Posture& posture, DiagnosticList& out) {
  if (posture.keep.empty()) return 0;
  Policy effective = ApplyPosture(policy, posture);
  ZoneGraph graph = BuildZoneGraph(effective);
  int violations = 0;
  for (const Invariant& keep : posture.keep) {
    if (out.Full()) break;
    DiagnosticList found;
    CheckInvariant(effective, graph, keep, found);
    for (Diagnostic d : found.items()) {
      d.posture = posture.name;
      d.message = absl::StrCat("in posture ", posture.name, ": ", d.message);
      if (d.severity == Severity::kError) ++violations;
      out.Add(std::move(d));
    }
  }
  return violations;
}

void CheckPostures(const Policy& policy, DiagnosticList& out) {
  for (const Posture& posture : policy.postures) {
    if (out.Full()) break;
    CheckPosture(policy, posture, out);
  }
}

}  // namespace polder
