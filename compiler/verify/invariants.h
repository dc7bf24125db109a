// Invariants: checking the statements of spec §6 against the zone graph.
//
// Each violated invariant becomes an `invariant-violated` error at the
// invariant's location. Path kinds (no_path, isolate, via) report one error
// per offending source zone with one shortest counterexample path, each edge
// citing the flows (file:line) that make it, so the reader knows exactly
// which flows to change; with `services`, only paths whose last edge carries
// one of them count. Exposure counts every (zone, protocol, port) reached in
// one edge and lists the pieces that make the count. Reach reports every
// (from, to) pair that fails and why.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

void CheckInvariants(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out);
// One invariant (CheckInvariants stops once `out` is full).
void CheckInvariant(const Policy& policy, const ZoneGraph& graph, const Invariant& invariant,
                    DiagnosticList& out);

// One (zone, protocol, port-range) piece reached in one edge.
struct ExposureItem {
  ZoneId zone;
  ServicePort port;  // ServicePort::Any() when the zone is open on everything
};

// How many (protocol, port) one piece stands for in exposure (spec §6): each
// tcp/udp/sctp port 1-65535 of it, each ICMP type; `any` is 197,117.
int64_t PortCount(const ServicePort& port);
// The exposure of `items`: the sum of their PortCount.
int64_t ExposureCount(const std::vector<ExposureItem>& items);

// What the zones in `from`, taken together, reach in one edge: per target
// zone, the maximal (protocol, range) pieces of the union of the edges'
// service spaces. Sorted by zone.
std::vector<ExposureItem> Exposure(const ZoneGraph& graph, const std::vector<ZoneId>& from);

}  // namespace polder
