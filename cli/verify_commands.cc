#include "cli/verify_commands.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_common.h"
#include "compiler/render/graph_export.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/zone_graph.h"
#include "nlohmann/json.hpp"

namespace polder::cli {
namespace {

// A zone or host name, as a zone.
absl::StatusOr<ZoneId> ZoneNamed(const Policy& policy, const std::string& name) {
  if (auto z = policy.FindZone(name)) return *z;
  if (auto h = policy.FindHost(name)) return policy.hosts[*h].zone;
  return absl::NotFoundError(
      absl::StrCat("`", name, "` is neither a zone nor a host of the policy"));
}

// For reach and graph, 1 is an answer (not reachable): a policy with errors, already printed,
// leaves them unable to answer (2).
absl::StatusOr<int> RunReach(const std::string& dir, const std::string& now,
                             const std::string& from, const std::string& to,
                             const std::vector<std::string>& services, const std::string& format) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(dir, now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& policy = (*loaded)->policy;
  absl::StatusOr<ZoneId> from_zone = ZoneNamed(policy, from);
  if (!from_zone.ok()) return from_zone.status();
  absl::StatusOr<ZoneId> to_zone = ZoneNamed(policy, to);
  if (!to_zone.ok()) return to_zone.status();
  ZoneId a = *from_zone, b = *to_zone;
  // The zone graph (spec §6) is the unit of reach; say so when a host was named, since a flow
  // to another host of the zone makes the zone reachable but not necessarily this host.
  std::vector<std::string> notes;
  for (const auto& [name, zone] : {std::pair{from, a}, std::pair{to, b}}) {
    if (policy.FindZone(name)) continue;
    notes.push_back(absl::StrCat("reach answers for zones: host `", name, "` stands for its zone `",
                                 policy.zones[zone].name,
                                 "`; `polder explain` answers for the host and its ports"));
  }
  bool json = format == "json";
  if (!json) {
    for (const std::string& n : notes) std::cout << "note: " << n << "\n";
  }
  // --services S: only a path whose last edge carries every port of S answers (spec §9).
  std::vector<ServiceId> service_ids;
  for (const std::string& name : services) {
    std::optional<ServiceId> id = policy.FindService(name);
    if (!id) {
      return absl::NotFoundError(absl::StrCat("`", name, "` is not a service of the policy"));
    }
    service_ids.push_back(*id);
  }
  ServiceSpace needed = SpaceOfServices(policy, service_ids);
  std::string by = service_ids.empty() ? ""
                                       : absl::StrCat(" by a path whose last edge carries ",
                                                      absl::StrJoin(services, ", "));
  ZoneGraph graph = BuildZoneGraph(policy);
  std::vector<bool> target(graph.zone_count(), false);
  target[b] = true;
  std::optional<ZonePath> path = ShortestPathEndingWith(
      graph, a, target, [&](const ZoneEdge& e) { return e.services.Covers(needed); });
  if (json) {
    nlohmann::json edges = nlohmann::json::array();
    for (size_t i = 1; path && i < path->size(); ++i) {
      const ZoneEdge& edge = *graph.Edge((*path)[i - 1], (*path)[i]);
      edges.push_back({{"from", policy.zones[(*path)[i - 1]].name},
                       {"to", policy.zones[(*path)[i]].name},
                       {"services", EdgeLabel(policy, edge)},
                       {"anti_lockout", edge.anti_lockout},
                       {"flows", EdgeCitations(policy, edge)}});
    }
    nlohmann::json out = {{"from", from},
                          {"to", to},
                          {"from_zone", policy.zones[a].name},
                          {"to_zone", policy.zones[b].name},
                          {"services", services},
                          {"reachable", path.has_value()},
                          {"path", nlohmann::json::array()},
                          {"edges", std::move(edges)},
                          {"notes", notes},
                          {"revision", policy.revision}};
    if (path) {
      for (ZoneId z : *path) out["path"].push_back(policy.zones[z].name);
    }
    std::cout << out.dump(2) << "\n";
    return path ? kExitOk : kExitFindings;
  }
  if (!path) {
    std::cout << policy.zones[b].name << " is not reachable from " << policy.zones[a].name << by
              << "\n";
    return kExitFindings;
  }
  std::cout << policy.zones[b].name << " is reachable from " << policy.zones[a].name << by << " in "
            << path->size() - 1 << (path->size() == 2 ? " edge" : " edges") << ":\n  "
            << policy.zones[a].name << "\n";
  for (size_t i = 1; i < path->size(); ++i) {
    const ZoneEdge& edge = *graph.Edge((*path)[i - 1], (*path)[i]);
    std::cout << "  -> " << policy.zones[(*path)[i]].name << "  [" << EdgeLabel(policy, edge)
              << "]";
    for (const std::string& cite : EdgeCitations(policy, edge)) std::cout << "  " << cite;
    std::cout << "\n";
  }
  return kExitOk;
}

absl::StatusOr<int> RunGraph(const std::string& dir, const std::string& now,
                             const std::string& format) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(dir, now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& policy = (*loaded)->policy;
  ZoneGraph graph = BuildZoneGraph(policy);
  DiagnosticList violations;
  CheckInvariants(policy, graph, violations);
  std::cout << (format == "json" ? ToGraphJson(policy, graph, violations)
                                 : ToDot(policy, graph, violations));
  return kExitOk;
}

}  // namespace

void AddVerifyCommands(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string dir, now, from, to, format = "dot", reach_format = "text";
    std::vector<std::string> services;  // reach --services
  };
  auto args = std::make_shared<Args>();

  CLI::App* reach = app.add_subcommand(
      "reach", "Is zone B reachable from zone A? Prints one shortest path with its flows");
  reach->add_option("DIR", args->dir, "Policy directory")->required();
  reach->add_option("--from", args->from, "Zone or host")->required();
  reach->add_option("--to", args->to, "Zone or host")->required();
  reach
      ->add_option("--services", args->services,
                   "Only by a path whose last edge carries every port of these services")
      ->delimiter(',');
  reach->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  reach->add_option("--format", args->reach_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  OnChosen(reach, chosen, [args] {
    return RunReach(args->dir, args->now, args->from, args->to, args->services, args->reach_format);
  });

  CLI::App* graph = app.add_subcommand("graph", "Print the zone graph (Graphviz dot or JSON)");
  graph->add_option("DIR", args->dir, "Policy directory")->required();
  graph->add_option("--format", args->format, "dot (default) or json")
      ->check(CLI::IsMember({"dot", "json"}));
  graph->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  OnChosen(graph, chosen, [args] { return RunGraph(args->dir, args->now, args->format); });
}

}  // namespace polder::cli
