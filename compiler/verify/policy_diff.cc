#include "compiler/verify/policy_diff.h"

#include <boost/dynamic_bitset.hpp>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

// Zone names of `from` mapped to ids of `to` (-1 when absent there).
std::vector<ZoneId> MapZones(const Policy& from, const Policy& to) {
  std::map<std::string, ZoneId> ids;
  for (ZoneId z = 0; z < static_cast<ZoneId>(to.zones.size()); ++z) ids[to.zones[z].name] = z;
  std::vector<ZoneId> out;
  for (const Zone& z : from.zones) {
    auto it = ids.find(z.name);
    out.push_back(it == ids.end() ? -1 : it->second);
  }
  return out;
}

void DiffEdges(const Policy& before, const ZoneGraph& bg, const Policy& after, const ZoneGraph& ag,
               PolicyDiff& diff) {
  std::vector<ZoneId> to_after = MapZones(before, after);
  std::vector<ZoneId> to_before = MapZones(after, before);
  for (const ZoneGraph::Arc& arc : bg.arcs()) {
    ZoneId a = arc.from, b = arc.to;
    const ZoneEdge& old_edge = bg.edge(arc);
    const ZoneEdge* new_edge =
        to_after[a] < 0 || to_after[b] < 0 ? nullptr : ag.Edge(to_after[a], to_after[b]);
    if (new_edge && new_edge->services == old_edge.services) continue;
    EdgeChange c{new_edge ? Change::kChanged : Change::kRemoved,
                 before.zones[a].name,
                 before.zones[b].name,
                 old_edge.services.ToString(),
                 "",
                 EdgeCitations(before, old_edge)};
    if (new_edge) {
      c.services_after = new_edge->services.ToString();
      c.flows = EdgeCitations(after, *new_edge);
    }
    diff.edges.push_back(std::move(c));
  }
  for (const ZoneGraph::Arc& arc : ag.arcs()) {
    ZoneId a = arc.from, b = arc.to;
    if (to_before[a] >= 0 && to_before[b] >= 0 && bg.Edge(to_before[a], to_before[b])) continue;
    diff.edges.push_back({Change::kAdded, after.zones[a].name, after.zones[b].name, "",
                          ag.edge(arc).services.ToString(), EdgeCitations(after, ag.edge(arc))});
  }
}

// Pairs reachable in `g` (policy `p`) but not in `other` (zones mapped by
// `map`), with a shortest path in `g`.
void OneSidedPairs(const Policy& p, const ZoneGraph& g, const std::vector<std::vector<bool>>& reach,
                   const std::vector<std::vector<bool>>& other_reach,
                   const std::vector<ZoneId>& map, Change change, PolicyDiff& diff) {
  for (ZoneId a = 0; a < g.zone_count(); ++a) {
    std::optional<PathsFrom> paths;
    for (ZoneId b = 0; b < g.zone_count(); ++b) {
      if (!reach[a][b]) continue;
      if (map[a] >= 0 && map[b] >= 0 && other_reach[map[a]][map[b]]) continue;
      if (!paths) paths = ShortestPathsFrom(g, a);
      auto path = paths->PathTo(b);
      diff.pairs.push_back({change, p.zones[a].name, p.zones[b].name,
                            path ? DescribePath(p, g, *path) : std::vector<PathStep>{}});
    }
  }
}

// How a flow is recognised across revisions: its declared name, or, for an
// unnamed flow (named by its file:line, which moves with every edit above it),
// what it connects.
std::string FlowKey(const Policy& p, const Flow& f) {
  if (f.name != f.location.FileLine()) return absl::StrCat("name:", f.name);
  std::string key = f.action == Action::kDeny ? "deny:" : "allow:";
  for (const Endpoint& e : f.from) absl::StrAppend(&key, p.EndpointName(e), ",");
  absl::StrAppend(&key, ">");
  for (const Endpoint& e : f.to) absl::StrAppend(&key, p.EndpointName(e), ",");
  absl::StrAppend(&key, ":");
  for (ServiceId s : f.services) absl::StrAppend(&key, p.services[s].name, ",");
  return key;
}

std::string ExpiryText(const Flow& f) { return f.expires ? FormatRfc3339(*f.expires) : ""; }

void DiffMetadata(const Policy& before, const Policy& after, PolicyDiff& diff) {
  std::map<std::string, const Flow*> old_flows;
  for (const Flow& f : before.flows) old_flows.emplace(FlowKey(before, f), &f);
  for (const Flow& f : after.flows) {
    auto it = old_flows.find(FlowKey(after, f));
    if (it == old_flows.end()) continue;
    const Flow& o = *it->second;
    for (const auto& [field, was, now] : {std::tuple<const char*, std::string, std::string>{
                                              "expires", ExpiryText(o), ExpiryText(f)},
                                          {"owner", o.owner, f.owner},
                                          {"ticket", o.ticket, f.ticket}}) {
      if (was == now) continue;
      diff.metadata.push_back({f.name, f.location.FileLine(), field, was, now});
    }
  }
}

std::string Citations(const std::vector<std::string>& flows) {
  return flows.empty() ? "" : absl::StrCat(" (", absl::StrJoin(flows, ", "), ")");
}

}  // namespace

std::vector<std::vector<bool>> TransitiveClosure(const ZoneGraph& graph) {
  const int n = graph.zone_count();
  std::vector<int> comp(n);
  // Boost.Graph finds the strongly connected components; the zone graph's own
  // storage is plain adjacency lists, so it is copied into Boost's form here.
  boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS> bg(n);
  for (const ZoneGraph::Arc& arc : graph.arcs()) boost::add_edge(arc.from, arc.to, bg);
  int count = boost::strong_components(
      bg, boost::make_iterator_property_map(comp.begin(), boost::get(boost::vertex_index, bg)));
  std::vector<std::vector<ZoneId>> members(count);
  for (ZoneId z = 0; z < n; ++z) members[comp[z]].push_back(z);
  // Tarjan numbers components in reverse topological order: every edge
  // leaving component c goes to a component with a smaller number.
  std::vector<boost::dynamic_bitset<>> reach(count, boost::dynamic_bitset<>(n));
  for (int c = 0; c < count; ++c) {
    for (ZoneId u : members[c]) {
      for (const ZoneGraph::Arc& arc : graph.out(u)) {
        ZoneId v = arc.to;
        reach[c].set(v);
        if (comp[v] != c) reach[c] |= reach[comp[v]];
      }
    }
    // Inside a cycle every member reaches every other (and itself).
    if (reach[c].any() && (members[c].size() > 1 || reach[c].test(members[c][0]))) {
      for (ZoneId m : members[c]) reach[c].set(m);
    }
  }
  std::vector<std::vector<bool>> out(n, std::vector<bool>(n, false));
  for (ZoneId a = 0; a < n; ++a) {
    const auto& bits = reach[comp[a]];
    for (auto b = bits.find_first(); b != boost::dynamic_bitset<>::npos; b = bits.find_next(b)) {
      out[a][b] = true;
    }
  }
  return out;
}

PolicyDiff DiffPolicies(const Policy& before, const ZoneGraph& before_graph, const Policy& after,
                        const ZoneGraph& after_graph) {
  PolicyDiff diff;
  DiffEdges(before, before_graph, after, after_graph, diff);
  auto rb = TransitiveClosure(before_graph);
  auto ra = TransitiveClosure(after_graph);
  OneSidedPairs(after, after_graph, ra, rb, MapZones(after, before), Change::kAdded, diff);
  OneSidedPairs(before, before_graph, rb, ra, MapZones(before, after), Change::kRemoved, diff);
  DiffMetadata(before, after, diff);
  return diff;
}

std::string FormatDiff(const PolicyDiff& diff, size_t max_pairs) {
  if (diff.Empty()) return "no change in reachability or flow metadata\n";
  std::string out;
  if (!diff.edges.empty()) absl::StrAppend(&out, "edges:\n");
  for (const EdgeChange& e : diff.edges) {
    switch (e.change) {
      case Change::kAdded:
        absl::StrAppend(&out, "  + ", e.from, " -> ", e.to, " [", e.services_after, "]",
                        Citations(e.flows), "\n");
        break;
      case Change::kRemoved:
        absl::StrAppend(&out, "  - ", e.from, " -> ", e.to, " [", e.services_before, "]",
                        e.flows.empty() ? "" : " was allowed by ", absl::StrJoin(e.flows, ", "),
                        "\n");
        break;
      case Change::kChanged:
        absl::StrAppend(&out, "  ~ ", e.from, " -> ", e.to, " [", e.services_before, "] => [",
                        e.services_after, "]", Citations(e.flows), "\n");
        break;
    }
  }
  if (!diff.pairs.empty()) absl::StrAppend(&out, "reachability:\n");
  size_t shown = 0;
  for (const PairChange& p : diff.pairs) {
    if (shown++ == max_pairs) {
      absl::StrAppend(&out, "  ... and ", diff.pairs.size() - max_pairs, " more zone pairs\n");
      break;
    }
    bool added = p.change == Change::kAdded;
    absl::StrAppend(&out, added ? "  + " : "  - ", p.to, " is ", added ? "now" : "no longer",
                    " reachable from ", p.from, added ? " by " : "; it was by ",
                    PathToString(p.path), "\n");
  }
  if (!diff.metadata.empty()) absl::StrAppend(&out, "flow metadata:\n");
  for (const MetadataChange& m : diff.metadata) {
    absl::StrAppend(&out, "  ~ ", m.location, "  flow `", m.flow, "` ", m.field, ": ",
                    m.before.empty() ? "(none)" : m.before, " => ",
                    m.after.empty() ? "(none)" : m.after, "\n");
  }
  size_t added = 0;
  for (const PairChange& p : diff.pairs) added += p.change == Change::kAdded;
  absl::StrAppend(&out, diff.edges.size(), " edge changes; ", added,
                  " zone pairs became reachable, ", diff.pairs.size() - added,
                  " became unreachable; ", diff.metadata.size(), " flow metadata changes\n");
  return out;
}

}  // namespace polder
