// Exporting the zone graph for people (Graphviz dot) and tools (JSON).
//
// Edges are labelled with what they carry (service names when the edge
// carries exactly its flows' services, else the ports left after denies).
// External zones, anti-lockout edges, the edges and zones on the paths of
// violated invariants and the edges a posture cuts (spec §6a) are marked so
// that they stand out in a rendering.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

// "https, ssh" or "tcp/443, tcp/8000-8099"; "+ controller" for anti-lockout.
std::string EdgeLabel(const Policy& policy, const ZoneEdge& edge);

// An edge of the policy's graph that a posture takes away (`removed`) or
// narrows to fewer ports while it is active.
struct PostureCut {
  std::string posture;
  ZoneId from = -1;
  ZoneId to = -1;
  bool removed = true;
};

// What `posture_graph` (the graph of a posture's effective policy, which has
// the same zones and only removes access) lacks of `graph`, in arc order.
std::vector<PostureCut> PostureCuts(const std::string& posture, const ZoneGraph& graph,
                                    const ZoneGraph& posture_graph);

// `violations`: diagnostics whose paths are drawn as violated (typically the
// output of CheckInvariants); other diagnostics are ignored, and so are
// violations of a posture's `keep` entries, whose paths lie in the posture's
// graph. `cuts`: edges drawn dashed and labelled with the postures that cut
// them.
std::string ToDot(const Policy& policy, const ZoneGraph& graph, const DiagnosticList& violations,
                  const std::vector<PostureCut>& cuts = {});
std::string ToGraphJson(const Policy& policy, const ZoneGraph& graph,
                        const DiagnosticList& violations);

}  // namespace polder
