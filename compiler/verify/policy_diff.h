// PolicyDiff: what a policy change does, for review (spec §9).
//
// Three views, each complete on its own level:
// - access: which (source, destination, port class) become allowed or denied,
//   address by address. Sources and destinations are named by host where a
//   flow of either revision names the host, by zone otherwise (the zone's
//   other addresses), with the part of their addresses concerned when it is
//   not all of them; port classes are ranges per protocol. Widening a
//   host-level flow or a `sources` list shows here although no zone edge
//   changes.
// - the zone graphs of two revisions (zones matched by name): edges that
//   appear, disappear or carry different services, and zone pairs that become
//   reachable or unreachable by any path — the transitive consequence a
//   one-line change can have;
// - flow metadata: expiry, owner and ticket changes.
// Every change cites the flows (file:line, in the revision where the access,
// edge or path exists) responsible for it.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/model/service_space.h"
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

// One rectangle of address pairs whose access changes on `services`: every
// address of from_addresses to every address of to_addresses.
struct AccessChange {
  Change change;         // kAdded: becomes allowed; kRemoved: becomes denied
  std::string from, to;  // a host named by a flow, or a zone (its other addresses)
  bool from_is_host = false, to_is_host = false;
  AddressSet from_addresses, to_addresses;
  // Whether the rectangle holds all of the end's addresses (of the families
  // concerned); when not, the report says which part ("10.1.0.0/24 only").
  bool from_whole = true, to_whole = true;
  ServiceSpace services;
  // For kAdded: NEW's allow flows that allow it. For kRemoved: OLD's allow
  // flows that allowed it and NEW's denies that take it away.
  std::vector<std::string> flows;
  std::vector<std::string> denied_by;
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
  std::vector<AccessChange> access;
  std::vector<EdgeChange> edges;
  std::vector<PairChange> pairs;
  std::vector<MetadataChange> metadata;
  bool Empty() const {
    return access.empty() && edges.empty() && pairs.empty() && metadata.empty();
  }
};

PolicyDiff DiffPolicies(const Policy& before, const ZoneGraph& before_graph, const Policy& after,
                        const ZoneGraph& after_graph);

// Human-readable report; shows at most `max_pairs` access changes and at most
// `max_pairs` reachability changes with their paths, and counts the rest.
std::string FormatDiff(const PolicyDiff& diff, size_t max_pairs = 200);

// Which zones reach which by one or more edges: reach[a][b]. Works on the
// strongly connected components, so it stays fast on large, dense graphs.
std::vector<std::vector<bool>> TransitiveClosure(const ZoneGraph& graph);

}  // namespace polder
