// PolicyDiff: what a policy change does to reachability, for review.
//
// Compares the zone graphs of two revisions (zones matched by name): edges
// that appear, disappear or carry different services, and zone pairs that
// become reachable or unreachable by any path — the transitive consequence a
// one-line change can have. Every change cites the flows (file:line, in the
// revision where the edge or path exists) responsible for it.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/verify/zone_graph.h"

namespace polder {

enum class Change { kAdded, kRemoved, kChanged };

struct EdgeChange {
  Change change;
  std::string from, to;
  std::string services_before, services_after;  // empty where the edge is absent
  std::vector<std::string> flows;  // citations where the edge exists (NEW for kChanged)
};

struct PairChange {
  Change change;  // kAdded: now reachable; kRemoved: no longer reachable
  std::string from, to;
  std::vector<PathStep> path;  // a shortest path where it is reachable
};

// A flow present in both revisions (matched by name when it has one, else by
// its from/to/services) whose expires, owner or ticket changed (spec §9).
struct MetadataChange {
  std::string flow;           // the flow's name in NEW
  std::string location;       // file:line in NEW
  std::string field;          // "expires", "owner" or "ticket"
  std::string before, after;  // empty where unset
};

struct PolicyDiff {
  std::vector<EdgeChange> edges;
  std::vector<PairChange> pairs;
  std::vector<MetadataChange> metadata;
  bool Empty() const { return edges.empty() && pairs.empty() && metadata.empty(); }
};

PolicyDiff DiffPolicies(const Policy& before, const ZoneGraph& before_graph, const Policy& after,
                        const ZoneGraph& after_graph);

// Human-readable report; shows at most `max_pairs` reachability changes with
// their paths and counts the rest.
std::string FormatDiff(const PolicyDiff& diff, size_t max_pairs = 200);

// Which zones reach which by one or more edges: reach[a][b]. Works on the
// strongly connected components, so it stays fast on large, dense graphs.
std::vector<std::vector<bool>> TransitiveClosure(const ZoneGraph& graph);

}  // namespace polder
