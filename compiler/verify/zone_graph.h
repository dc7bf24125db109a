// ZoneGraph: the zone graph of spec §6, the model every verification runs on.
//
// One vertex per zone (vertex i is policy.zones[i]); an edge A->B when some
// address of A may open a connection to some address of B on some port,
// after denies (deny wins, `sources` narrows `from`) and expiry. Each edge
// records the allow flows that make it, the denies that narrow it, the exact
// (protocol, port) space it carries and whether settings.controller's
// anti-lockout contributes to it.
//
// It agrees with Decide() (verdict.h) by construction and by a brute-force
// test, but never looks at hosts one by one: flows are grouped by the zone
// pair they touch, and within a pair the address space is split only where
// the pair's denies tell addresses apart, so equivalent addresses form one
// class. Building is near-linear in the size of the policy for policies where
// few denies meet the same zone pair.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/policy.h"
#include "compiler/model/service_space.h"
#include "compiler/model/verdict.h"

namespace polder {

struct ZoneEdge {
  std::vector<FlowId> flows;      // active allows with some effect on this edge
  std::vector<FlowId> narrowing;  // active denies that take part of it away
  ServiceSpace services;          // what some address pair of the edge may use
  bool anti_lockout = false;      // settings.controller contributes (tcp/port)
};

// The graph itself: zones 0..zone_count()-1 (zone i is policy.zones[i]) and
// at most one edge per ordered pair of zones.
//
//   for (const ZoneGraph::Arc& a : g.out(office)) {
//     Visit(a.to, g.edge(a).services);
//   }
class ZoneGraph {
 public:
  // One edge, named by its ends; edge(arc) holds what it carries.
  struct Arc {
    ZoneId from = -1;
    ZoneId to = -1;
    int id = -1;  // index into the edges, in the order they were added
  };

  explicit ZoneGraph(int zone_count = 0) : out_(zone_count), in_(zone_count) {}

  int zone_count() const { return static_cast<int>(out_.size()); }
  int edge_count() const { return static_cast<int>(arcs_.size()); }

  // Every edge, in the order added (BuildZoneGraph adds them by (from, to)).
  absl::Span<const Arc> arcs() const { return arcs_; }
  // The edges leaving `from` / entering `to`, in the order added.
  absl::Span<const Arc> out(ZoneId from) const { return out_[from]; }
  absl::Span<const Arc> in(ZoneId to) const { return in_[to]; }
  const ZoneEdge& edge(const Arc& arc) const { return edges_[arc.id]; }
  // The edge from -> to, or nullptr (also for zones out of range).
  const ZoneEdge* Edge(ZoneId from, ZoneId to) const;

  // Adds the edge from -> to; the pair must not have one yet.
  void AddEdge(ZoneId from, ZoneId to, ZoneEdge edge);

  // Per flow id: an active allow that allows something after denies.
  std::vector<bool> allow_effective;
  // Per flow id: an active deny that takes something away from an allow.
  std::vector<bool> deny_used;
  // Per allow flow id: the denies that take something away from it.
  std::vector<std::vector<FlowId>> denied_by;

 private:
  std::vector<Arc> arcs_;
  std::vector<ZoneEdge> edges_;  // edges_[arc.id]
  std::vector<std::vector<Arc>> out_, in_;
};

ZoneGraph BuildZoneGraph(const Policy& policy);

// One flow restricted to one (from zone, to zone) pair: the addresses it
// covers on each side (`sources` applied). A flow naming several zones or
// hosts in several zones has several parts; one that covers nothing, none.
struct FlowPart {
  ZoneId from_zone = -1;
  ZoneId to_zone = -1;
  AddressSet src;
  AddressSet dst;
};
std::vector<FlowPart> FlowParts(const Policy& policy, const Flow& flow);

// A path of one or more edges, as the zones it visits (first = start).
using ZonePath = std::vector<ZoneId>;

// A shortest path of at least one edge from `from` to any zone in `targets`,
// never entering a zone marked in `blocked` (may be empty = none blocked).
std::optional<ZonePath> ShortestPath(const ZoneGraph& g, ZoneId from,
                                     const std::vector<bool>& targets,
                                     const std::vector<bool>& blocked = {});

// A shortest path of at least one edge from `from` to any zone in `targets`
// whose last edge satisfies `last_edge_ok` (the earlier edges may carry
// anything), never entering a zone marked in `blocked` (empty = none). The
// service-scoped invariants and `polder reach --services` ask this.
std::optional<ZonePath> ShortestPathEndingWith(
    const ZoneGraph& g, ZoneId from, const std::vector<bool>& targets,
    const std::function<bool(const ZoneEdge&)>& last_edge_ok,
    const std::vector<bool>& blocked = {});

// For every zone: the length of a shortest path (>= 1 edge) from it to
// `target`, or -1; next[z] is the zone after z on such a path.
struct PathsTo {
  std::vector<int> distance;
  std::vector<ZoneId> next;
  ZonePath PathFrom(ZoneId z) const;
};
PathsTo ShortestPathsTo(const ZoneGraph& g, ZoneId target);

// Shortest paths (>= 1 edge) from `from` to every zone; parent[z] is the
// zone before z, -1 when z is unreachable.
struct PathsFrom {
  ZoneId from = -1;
  std::vector<ZoneId> parent;
  std::optional<ZonePath> PathTo(ZoneId z) const;
};
PathsFrom ShortestPathsFrom(const ZoneGraph& g, ZoneId from);

// The zones reachable from `from` by one or more edges.
std::vector<bool> ReachableFrom(const ZoneGraph& g, ZoneId from);

// How an edge's citations name the anti-lockout (spec §7), after the
// settings' "file:line": no flow makes it, and no flow or deny removes it.
inline constexpr char kAntiLockoutCitation[] = "<anti-lockout settings.controller>";

// "file:line" of each flow making the edge; the anti-lockout cites the
// settings as "settings.yaml:2 <anti-lockout settings.controller>".
std::vector<std::string> EdgeCitations(const Policy& policy, const ZoneEdge& edge);
// The path as diagnostic steps: zone names and, per edge, its citations.
std::vector<PathStep> DescribePath(const Policy& policy, const ZoneGraph& g, const ZonePath& path);
// "internet -> web (flows.yaml:3) -> db (flows.yaml:9, flows.yaml:12)"
std::string PathToString(const std::vector<PathStep>& steps);

}  // namespace polder
