#include "cli/verify_commands.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/cli_common.h"
#include "compiler/model/verdict.h"
#include "compiler/render/graph_export.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/policy_diff.h"
#include "compiler/verify/zone_graph.h"

namespace polder::cli {
namespace {

// A zone or host name, as a zone.
absl::StatusOr<ZoneId> ZoneNamed(const Policy& policy, const std::string& name) {
  if (auto z = policy.FindZone(name)) return *z;
  if (auto h = policy.FindHost(name)) return policy.hosts[*h].zone;
  return absl::NotFoundError(
      absl::StrCat("`", name, "` is neither a zone nor a host of the policy"));
}

// Up to two addresses per family of the zone that no host has (within a few
// tries), so that explain answers about the zone's flows, not one host's, and
// a zone can be asked about connections inside itself.
std::vector<Address> ZoneAddresses(const Policy& policy, const Zone& zone) {
  std::vector<Address> out;
  for (Family f : {Family::kV4, Family::kV6}) {
    int found = 0, tries = 0;
    for (const Interval& r : zone.effective.intervals(f)) {
      for (absl::uint128 v = r.lo; found < 2 && tries < 64; ++v, ++tries) {
        if (!policy.HostWithAddress(Address{f, v})) {
          out.push_back(Address{f, v});
          ++found;
        }
        if (v == r.hi) break;
      }
    }
  }
  if (out.empty()) out.push_back(zone.effective.Representative());
  return out;
}

// The addresses --from/--to may stand for: a literal address, a host's
// addresses, or representative addresses of a zone.
absl::StatusOr<std::vector<Address>> AddressesNamed(const Policy& policy, const std::string& text) {
  if (auto a = Address::Parse(text); a.ok()) return std::vector<Address>{*a};
  if (auto h = policy.FindHost(text)) return policy.hosts[*h].addresses;
  auto z = policy.FindZone(text);
  if (!z) return absl::NotFoundError(absl::StrCat("`", text, "` is not an address, host or zone"));
  return ZoneAddresses(policy, policy.zones[*z]);
}

void NotePick(const Policy& policy, const std::string& text, const Address& a, std::string& note) {
  if (Address::Parse(text).ok()) return;
  note += policy.FindHost(text) ? absl::StrCat("using ", a.ToString(), " for host ", text, "\n")
                                : absl::StrCat("using ", a.ToString(),
                                               " as a representative address of zone ", text, "\n");
}

absl::StatusOr<Connection> ParseConnection(const Policy& policy, const std::string& from,
                                           const std::string& to, const std::string& port,
                                           std::string& note) {
  absl::StatusOr<ServicePort> sp = ServicePort::Parse(port);
  if (!sp.ok()) return absl::InvalidArgumentError(absl::StrCat("--port: ", sp.status().message()));
  if (sp->protocol == Protocol::kAny || sp->lo != sp->hi) {
    return absl::InvalidArgumentError(absl::StrCat("--port `", port,
                                                   "`: name one protocol and one port or type, "
                                                   "e.g. tcp/5432, udp/53 or icmp/echo-request"));
  }
  absl::StatusOr<std::vector<Address>> sources = AddressesNamed(policy, from);
  if (!sources.ok()) return sources.status();
  absl::StatusOr<std::vector<Address>> destinations = AddressesNamed(policy, to);
  if (!destinations.ok()) return destinations.status();
  // One host or one address on both ends is loopback; a zone on both ends means two of its
  // addresses. The ends share an address family: a connection joins two IPv4 or two IPv6.
  bool same_end = from == to && !policy.FindZone(from);
  for (const Address& s : *sources) {
    for (const Address& d : *destinations) {
      if (s.family != d.family || (s == d && !same_end)) continue;
      NotePick(policy, from, s, note);
      NotePick(policy, to, d, note);
      return Connection{s, d, sp->protocol, sp->lo};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("`", from, "` and `", to,
                   "` share no address family; a connection joins two IPv4 or two IPv6 addresses"));
}

std::string FlowLine(const Policy& policy, FlowId f, const char* role) {
  const Flow& flow = policy.flows[f];
  std::string cite = flow.location.FileLine();
  if (flow.name == cite) return absl::StrCat("  ", role, " ", cite, "\n");
  return absl::StrCat("  ", role, " ", cite, "  flow `", flow.name, "`\n");
}

std::string ZoneOf(const Policy& policy, std::optional<ZoneId> z) {
  return z ? policy.zones[*z].name : "no zone";
}

// For reach, explain, graph and diff, 1 is an answer (not reachable, denied, changed): a policy
// with errors, already printed, leaves them unable to answer (2).
absl::StatusOr<int> RunExplain(const std::string& dir, const std::string& now,
                               const std::string& from, const std::string& to,
                               const std::string& port) {
  absl::StatusOr<std::optional<LoadResult>> loaded = LoadOrReport(dir, now);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return kExitCannotRun;
  const Policy& policy = (*loaded)->policy;
  std::string note;
  absl::StatusOr<Connection> parsed = ParseConnection(policy, from, to, port, note);
  if (!parsed.ok()) return parsed.status();
  const Connection& c = *parsed;
  if (c.source == c.destination) {
    std::cout << note << c.source.ToString() << " -> itself " << port
              << ": ALLOWED\n  loopback: a host's connections to itself never leave it and are "
                 "always allowed (spec §5)\n";
    return kExitOk;
  }
  Verdict v = Decide(policy, c);
  std::cout << note << c.source.ToString() << " (" << ZoneOf(policy, v.source_zone) << ") -> "
            << c.destination.ToString() << " (" << ZoneOf(policy, v.destination_zone) << ") "
            << port << ": " << (v.allowed ? "ALLOWED" : "DENIED") << "\n  " << v.reason << "\n";
  if (v.anti_lockout) {
    std::cout << "  by " << policy.settings.location.FileLine() << "  settings.controller\n";
  }
  for (FlowId f : v.denying) std::cout << FlowLine(policy, f, "deny ");
  for (FlowId f : v.allowing) {
    std::cout << FlowLine(policy, f, v.denying.empty() ? "allow" : "allow (overridden by deny)");
  }
  return v.allowed ? kExitOk : kExitFindings;
}

absl::StatusOr<int> RunReach(const std::string& dir, const std::string& now,
                             const std::string& from, const std::string& to) {
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
  for (const auto& [name, zone] : {std::pair{from, a}, std::pair{to, b}}) {
    if (policy.FindZone(name)) continue;
    std::cout << "note: reach answers for zones: host `" << name << "` stands for its zone `"
              << policy.zones[zone].name
              << "`; `polder explain` answers for the host and one port\n";
  }
  ZoneGraph graph = BuildZoneGraph(policy);
  std::vector<bool> target(graph.zone_count(), false);
  target[b] = true;
  std::optional<ZonePath> path = ShortestPath(graph, a, target);
  if (!path) {
    std::cout << policy.zones[b].name << " is not reachable from " << policy.zones[a].name << "\n";
    return kExitFindings;
  }
  std::cout << policy.zones[b].name << " is reachable from " << policy.zones[a].name << " in "
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

absl::StatusOr<int> RunDiff(const std::string& old_dir, const std::string& new_dir,
                            const std::string& now, size_t max_pairs) {
  absl::StatusOr<std::optional<LoadResult>> before = LoadOrReport(old_dir, now);
  if (!before.ok()) return before.status();
  if (!*before) return kExitCannotRun;
  absl::StatusOr<std::optional<LoadResult>> after = LoadOrReport(new_dir, now);
  if (!after.ok()) return after.status();
  if (!*after) return kExitCannotRun;
  const Policy& p0 = (*before)->policy;
  const Policy& p1 = (*after)->policy;
  PolicyDiff diff = DiffPolicies(p0, BuildZoneGraph(p0), p1, BuildZoneGraph(p1));
  std::cout << FormatDiff(diff, max_pairs);
  return diff.Empty() ? kExitOk : kExitFindings;
}

}  // namespace

void AddVerifyCommands(CLI::App& app, ChosenCommand& chosen) {
  struct Args {
    std::string dir, dir2, now, from, to, port, format = "dot";
    size_t max_pairs = 200;
  };
  auto args = std::make_shared<Args>();

  CLI::App* reach = app.add_subcommand(
      "reach", "Is zone B reachable from zone A? Prints one shortest path with its flows");
  reach->add_option("DIR", args->dir, "Policy directory")->required();
  reach->add_option("--from", args->from, "Zone or host")->required();
  reach->add_option("--to", args->to, "Zone or host")->required();
  reach->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  OnChosen(reach, chosen, [args] { return RunReach(args->dir, args->now, args->from, args->to); });

  CLI::App* explain = app.add_subcommand(
      "explain", "The verdict for one connection and the flows or denies that decide it");
  explain->add_option("DIR", args->dir, "Policy directory")->required();
  explain->add_option("--from", args->from, "Source address, host or zone")->required();
  explain->add_option("--to", args->to, "Destination address, host or zone")->required();
  explain->add_option("--port", args->port, "e.g. tcp/5432, udp/53, icmp/echo-request")->required();
  explain->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  OnChosen(explain, chosen,
           [args] { return RunExplain(args->dir, args->now, args->from, args->to, args->port); });

  CLI::App* graph = app.add_subcommand("graph", "Print the zone graph (Graphviz dot or JSON)");
  graph->add_option("DIR", args->dir, "Policy directory")->required();
  graph->add_option("--format", args->format, "dot (default) or json")
      ->check(CLI::IsMember({"dot", "json"}));
  graph->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  OnChosen(graph, chosen, [args] { return RunGraph(args->dir, args->now, args->format); });

  CLI::App* diff = app.add_subcommand(
      "diff", "Edges and zone pairs that become (un)reachable between two policy revisions");
  diff->add_option("OLD_DIR", args->dir, "The policy before")->required();
  diff->add_option("NEW_DIR", args->dir2, "The policy after")->required();
  diff->add_option("--now", args->now, "Evaluate expiry at this RFC 3339 time");
  diff->add_option("--max-pairs", args->max_pairs,
                   "Show at most this many reachability changes (default 200)");
  OnChosen(diff, chosen,
           [args] { return RunDiff(args->dir, args->dir2, args->now, args->max_pairs); });
}

}  // namespace polder::cli
