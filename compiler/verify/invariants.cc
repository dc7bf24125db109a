#include "compiler/verify/invariants.h"

#include <algorithm>
#include <cstdint>
#include <optional>
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

// " The path uses the anti-lockout of settings.controller ..." when it does:
// no flow makes (or could remove) such an edge, so the flows cited are not
// the whole story.
std::string AntiLockoutNote(const Policy& policy, const ZoneGraph& graph, const ZonePath& path) {
  std::vector<std::string> edges;
  bool only_lockout = false;
  for (size_t i = 1; i < path.size(); ++i) {
    const ZoneEdge* e = graph.Edge(path[i - 1], path[i]);
    if (!e || !e->anti_lockout) continue;
    edges.push_back(
        absl::StrCat(policy.zones[path[i - 1]].name, " -> ", policy.zones[path[i]].name));
    only_lockout |= e->flows.empty();
  }
  if (edges.empty()) return "";
  return absl::StrCat(
      " The path uses the anti-lockout of settings.controller (",
      policy.settings.location.FileLine(), ") on ", absl::StrJoin(edges, ", "),
      only_lockout ? ", which no flow makes" : "",
      ": every managed host may reach the controller and no flow or deny removes that, so give "
      "the controller's addresses a zone of their own, with no other hosts, or cut the path "
      "elsewhere.");
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
                           "; shortest path: ", PathToString(d.path), ".",
                           AntiLockoutNote(policy, graph, path), kHowToRead);
  out.Add(std::move(d));
}

std::string ServiceNames(const Policy& policy, const std::vector<ServiceId>& services) {
  std::vector<std::string> names;
  for (ServiceId s : services) names.push_back(policy.services[s].name);
  return absl::StrJoin(names, ", ");
}

// ", ending with an edge that carries ssh" for a service-scoped invariant.
std::string ServicesClause(const Policy& policy, const Invariant& inv) {
  if (inv.services.empty()) return "";
  return absl::StrCat(" by a path whose last edge carries ", ServiceNames(policy, inv.services));
}

// A shortest counterexample path for no_path and via: with `services`, only
// a path whose last edge allows some port of them counts (spec §6).
std::optional<ZonePath> ScopedPath(const Policy& policy, const ZoneGraph& graph,
                                   const Invariant& inv, ZoneId from,
                                   const std::vector<bool>& targets,
                                   const std::vector<bool>& blocked) {
  if (inv.services.empty()) return ShortestPath(graph, from, targets, blocked);
  ServiceSpace scope = SpaceOfServices(policy, inv.services);
  return ShortestPathEndingWith(
      graph, from, targets, [&](const ZoneEdge& e) { return e.services.Overlaps(scope); }, blocked);
}

void CheckNoPath(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                 DiagnosticList& out) {
  std::vector<bool> targets = Mark(graph.zone_count(), inv.to);
  for (ZoneId from : inv.from) {
    if (auto path = ScopedPath(policy, graph, inv, from, targets, {})) {
      Report(policy, graph, inv, *path,
             absl::StrCat(policy.zones[path->back()].name, " is reachable from ",
                          policy.zones[from].name, ServicesClause(policy, inv)),
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
    if (auto path = ScopedPath(policy, graph, inv, from, targets, blocked)) {
      Report(policy, graph, inv, *path,
             absl::StrCat(policy.zones[from].name, " reaches ", policy.zones[path->back()].name,
                          ServicesClause(policy, inv), " without passing through ",
                          Names(policy, inv.through)),
             out);
    }
  }
}

void CheckExposure(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                   DiagnosticList& out) {
  std::vector<ExposureItem> items = Exposure(graph, inv.from);
  int64_t count = ExposureCount(items);
  if (count <= inv.max) return;
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
                           " reaches ", count,
                           " distinct (zone, protocol, port) in one edge (each port of a "
                           "range and each ICMP type counts), more than the maximum of ",
                           inv.max, ": ", absl::StrJoin(shown, "; "),
                           ". Run `polder graph` to see which flows open them.");
  out.Add(std::move(d));
}

// Why `to` fails a reach invariant from `from`, or "" when it holds.
std::string ReachFailure(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                         ZoneId from, ZoneId to) {
  ServiceSpace needed = SpaceOfServices(policy, inv.services);
  auto carries = [&](const ZoneEdge& e) { return e.services.Covers(needed); };
  std::string services = ServiceNames(policy, inv.services);
  if (inv.direct) {
    const ZoneEdge* edge = graph.Edge(from, to);
    if (!edge) return "not in one edge: no flow allows anything from the one to the other";
    if (!carries(*edge)) {
      return absl::StrCat("not in one edge: the edge carries ", edge->services.ToString(),
                          ", not every port of ", services);
    }
    return "";
  }
  std::vector<bool> target(graph.zone_count(), false);
  target[to] = true;
  if (!ShortestPath(graph, from, target)) return "no path";
  if (!inv.services.empty() && !ShortestPathEndingWith(graph, from, target, carries)) {
    return absl::StrCat("no path whose last edge carries every port of ", services);
  }
  return "";
}

void CheckReach(const Policy& policy, const ZoneGraph& graph, const Invariant& inv,
                DiagnosticList& out) {
  std::vector<std::string> failures;
  for (ZoneId from : inv.from) {
    for (ZoneId to : inv.to) {
      std::string why = ReachFailure(policy, graph, inv, from, to);
      if (!why.empty()) {
        failures.push_back(
            absl::StrCat(policy.zones[from].name, " -> ", policy.zones[to].name, " (", why, ")"));
      }
    }
  }
  if (failures.empty()) return;
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = "invariant-violated";
  d.location = inv.location;
  d.invariant = inv.name;
  d.message = absl::StrCat("invariant `", inv.name, "` is violated: ", failures.size(),
                           failures.size() == 1 ? " pair does" : " pairs do",
                           " not reach as required: ", absl::StrJoin(failures, "; "),
                           ". Run `polder reach` for a pair to see what it reaches.");
  out.Add(std::move(d));
}

}  // namespace

int64_t PortCount(const ServicePort& port) {
  if (port.protocol == Protocol::kAny) {
    return 3 * int64_t{65535} + 2 * int64_t{256};
  }
  // ServiceSpace keeps tcp/udp/sctp port 0, which no connection uses.
  int lo = IsIcmp(port.protocol) ? port.lo : std::max<int>(port.lo, 1);
  return port.hi >= lo ? int64_t{port.hi} - lo + 1 : 0;
}

int64_t ExposureCount(const std::vector<ExposureItem>& items) {
  int64_t count = 0;
  for (const ExposureItem& item : items) count += PortCount(item.port);
  return count;
}

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
    case InvariantKind::kReach:
      CheckReach(policy, graph, inv, out);
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
