#include "compiler/verify/invariants.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

constexpr char kHowToRead[] =
    " Each step names the zone reached and, in parentheses, the flows (file:line) that make "
    "the edge into it; changing one flow on every such path restores the invariant.";

std::vector<bool> Mark(int n, const std::vector<ZoneId>& zones) {
  std::vector<bool> marked(n, false);
  for (ZoneId z : zones) marked[z] = true;
  return marked;
}

std::string Names(const Policy& policy, const std::vector<ZoneId>& zones) {
  std::vector<std::string> names;
  for (ZoneId z : zones) names.push_back(policy.zones[z].name);
  return absl::StrJoin(names, ", ");
}

void Report(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
            const ZonePath& path, const std::string& what, DiagnosticList& out) {
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = "invariant-violated";
  d.location = inv.location;
  d.invariant = inv.name;
  d.path = DescribePath(policy, graph, path);
  d.message = absl::StrCat("invariant `", inv.name, "` is violated: ", what,
                           "; shortest path: ", PathToString(d.path), ".", kHowToRead);
  out.Add(std::move(d));
}

void CheckNoPath(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                 DiagnosticList& out) {
  std::vector<bool> targets = Mark(graph.zone_count(), inv.to);
  for (ZoneId from : inv.from) {
    if (auto path = ShortestPath(graph, from, targets)) {
      Report(policy, graph, inv, *path,
             absl::StrCat(policy.zones[path->back()].name, " is reachable from ",
                          policy.zones[from].name),
             out);
    }
  }
}

void CheckIsolate(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                  DiagnosticList& out) {
  for (ZoneId z : inv.to) {
    std::vector<bool> allowed = Mark(graph.zone_count(), inv.except);
    allowed[z] = true;
    PathsTo paths = ShortestPathsTo(graph, z);
    for (ZoneId s = 0; s < graph.zone_count() && !out.Full(); ++s) {
      if (allowed[s] || paths.distance[s] < 0) continue;
      std::string except =
          inv.except.empty() ? "no other zone" : absl::StrCat("only ", Names(policy, inv.except));
      Report(policy, graph, inv, paths.PathFrom(s),
             absl::StrCat(policy.zones[s].name, " reaches ", policy.zones[z].name, ", which ",
                          except, " may reach"),
             out);
    }
  }
}

void CheckVia(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
              DiagnosticList& out) {
  // Every path from A to B passes through W exactly when B is unreachable
  // from A once W is taken out of the graph.
  std::vector<bool> blocked = Mark(graph.zone_count(), inv.through);
  std::vector<bool> targets = Mark(graph.zone_count(), inv.to);
  for (ZoneId from : inv.from) {
    if (blocked[from]) continue;
    if (auto path = ShortestPath(graph, from, targets, blocked)) {
      Report(policy, graph, inv, *path,
             absl::StrCat(policy.zones[from].name, " reaches ", policy.zones[path->back()].name,
                          " without passing through ", Names(policy, inv.through)),
             out);
    }
  }
}

void CheckExposure(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                   DiagnosticList& out) {
  std::vector<ExposureItem> items = Exposure(graph, inv.from);
  if (static_cast<int>(items.size()) <= inv.max) return;
  constexpr size_t kShown = 20;
  std::vector<std::string> shown;
  for (size_t i = 0; i < items.size() && i < kShown; ++i) {
    shown.push_back(
        absl::StrCat(policy.zones[items[i].zone].name, " ", ServicePortLabel(items[i].port)));
  }
  if (items.size() > kShown) shown.push_back(absl::StrCat("and ", items.size() - kShown, " more"));
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = "invariant-violated";
  d.location = inv.location;
  d.invariant = inv.name;
  d.message = absl::StrCat("invariant `", inv.name, "` is violated: ", Names(policy, inv.from),
                           " reaches ", items.size(),
                           " (zone, protocol, port-range) triples in "
                           "one edge, more than the maximum of ",
                           inv.max, ": ", absl::StrJoin(shown, "; "),
                           ". Run `polder graph` to see which flows open them.");
  out.Add(std::move(d));
}

}  // namespace

std::vector<ExposureItem> Exposure(const ZoneGraph& graph, const std::vector<ZoneId>& from) {
  std::vector<ServiceSpace> reached(graph.zone_count());
  std::vector<bool> any(graph.zone_count(), false);
  for (ZoneId a : from) {
    for (const ZoneGraph::Arc& arc : graph.out(a)) {
      ZoneId b = arc.to;
      reached[b].Add(graph.edge(arc).services);
      any[b] = true;
    }
  }
  std::vector<ExposureItem> items;
  for (ZoneId b = 0; b < graph.zone_count(); ++b) {
    if (!any[b]) continue;
    for (const ServicePort& p : reached[b].Items()) items.push_back({b, p});
  }
  return items;
}

void CheckInvariant(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                    DiagnosticList& out) {
  switch (inv.kind) {
    case InvariantKind::kNoPath:
      CheckNoPath(policy, graph, inv, out);
      break;
    case InvariantKind::kIsolate:
      CheckIsolate(policy, graph, inv, out);
      break;
    case InvariantKind::kVia:
      CheckVia(policy, graph, inv, out);
      break;
    case InvariantKind::kExposure:
      CheckExposure(policy, graph, inv, out);
      break;
  }
}

void CheckInvariants(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  for (const Invariant& inv : policy.invariants) {
    // Past DiagnosticList's bound further errors are dropped; do not spend
    // time finding their paths.
    if (out.Full()) break;
    CheckInvariant(policy, graph, inv, out);
  }
}

}  // namespace polder
