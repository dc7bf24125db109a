// Exporting the zone graph for people (Graphviz dot) and tools (JSON).
//
// Edges are labelled with what they carry (service names when the edge
// carries exactly its flows' services, else the ports left after denies).
// External zones, anti-lockout edges and the edges and zones on the paths of
// violated invariants are marked so that they stand out in a rendering.
#pragma once

#include <string>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

// "https, ssh" or "tcp/443, tcp/8000-8099"; "+ controller" for anti-lockout.
std::string EdgeLabel(const Policy& policy, const ZoneEdge& edge);

// `violations`: diagnostics whose paths are drawn as violated (typically the
// output of CheckInvariants); other diagnostics are ignored.
std::string ToDot(const Policy& policy, const ZoneGraph& graph, const DiagnosticList& violations);
std::string ToGraphJson(const Policy& policy, const ZoneGraph& graph,
                        const DiagnosticList& violations);

}  // namespace polder
