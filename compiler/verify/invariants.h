// Invariants: checking the statements of spec §6 against the zone graph.
//
// Each violated invariant becomes an `invariant-violated` error at the
// invariant's location. Path kinds (no_path, isolate, via) report one error
// per offending source zone with one shortest counterexample path, each edge
// citing the flows (file:line) that make it, so the reader knows exactly
// which flows to change. Exposure reports the (zone, protocol, port-range)
// triples that exceed the bound.
#pragma once

#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

void CheckInvariants(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out);
// One invariant (CheckInvariants stops once `out` is full).
void CheckInvariant(const Policy& policy, const ZoneGraph& graph, const Invariant& invariant,
                    DiagnosticList& out);

// One (zone, protocol, port-range) triple reached in one edge.
struct ExposureItem {
  ZoneId zone;
  ServicePort port;  // ServicePort::Any() when the zone is open on everything
};

// What the zones in `from`, taken together, reach in one edge: per target
// zone, the maximal (protocol, range) pieces of the union of the edges'
// service spaces. Sorted by zone.
std::vector<ExposureItem> Exposure(const ZoneGraph& graph, const std::vector<ZoneId>& from);

}  // namespace polder
