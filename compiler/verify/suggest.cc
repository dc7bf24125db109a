#include "compiler/verify/suggest.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "compiler/model/diagnostic.h"
#include "compiler/model/verdict.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/zone_graph.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

// What one suggested flow (or one commented-out row) rests on.
struct Evidence {
  uint64_t connections = 0;
  absl::Time first_seen = absl::InfiniteFuture();
  absl::Time last_seen = absl::InfinitePast();
  std::set<std::string> reporters;

  void Add(const ObservedConnection& row) {
    connections += row.connections;
    first_seen = std::min(first_seen, row.first_seen);
    last_seen = std::max(last_seen, row.last_seen);
    reporters.insert(row.reporters.begin(), row.reporters.end());
  }
  void Add(const Evidence& other) {
    connections += other.connections;
    first_seen = std::min(first_seen, other.first_seen);
    last_seen = std::max(last_seen, other.last_seen);
    reporters.insert(other.reporters.begin(), other.reporters.end());
  }
  std::string ToString() const {
    std::string when =
        first_seen == absl::InfiniteFuture()
            ? "time unknown"
            : absl::StrCat(FormatRfc3339(first_seen), " .. ", FormatRfc3339(last_seen));
    return absl::StrCat(connections, connections == 1 ? " connection, " : " connections, ", when,
                        reporters.empty() ? "" : ", reported by ", absl::StrJoin(reporters, ", "));
  }
};

// The narrowest end of the policy that names an observed address: its host,
// else the zone that classifies it.
std::optional<Endpoint> EndFor(const Policy& policy, const Prefix& p) {
  if (p.length == FamilyBits(p.base.family)) {
    if (auto host = policy.HostWithAddress(p.base)) return Endpoint{Endpoint::Kind::kHost, *host};
  }
  auto zone = policy.Classify(p.base);
  if (!zone) return std::nullopt;
  return Endpoint{Endpoint::Kind::kZone, *zone};
}

ServicePort SinglePort(const ObservedConnection& row) {
  return ServicePort{row.protocol, row.port, row.port};
}

// Every single port a service port item stands for, or nullopt when it is too
// wide to have been seen port by port (`any`, a whole protocol).
std::optional<std::vector<ServicePort>> Singles(const ServicePort& item) {
  constexpr int kMaxExpand = 4096;
  if (item.protocol == Protocol::kAny || item.hi - item.lo >= kMaxExpand) return std::nullopt;
  std::vector<ServicePort> out;
  for (int p = item.lo; p <= item.hi; ++p) {
    out.push_back(ServicePort{item.protocol, static_cast<uint16_t>(p), static_cast<uint16_t>(p)});
  }
  return out;
}

// A name of spec §1 ([a-z][a-z0-9_-]{0,62}) not yet in `taken`.
std::string UniqueName(std::string base, std::set<std::string>& taken) {
  for (char& c : base) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) c = '-';
  }
  if (base.empty() || base[0] < 'a' || base[0] > 'z') base = "s-" + base;
  base.resize(std::min<size_t>(base.size(), 56));
  std::string name = base;
  for (int n = 2; taken.count(name) > 0; ++n) name = absl::StrCat(base, "-", n);
  taken.insert(name);
  return name;
}

// Names of the invariants that `policy` violates.
std::set<std::string> Violated(const Policy& policy) {
  DiagnosticList diagnostics;
  CheckInvariants(policy, BuildZoneGraph(policy), diagnostics);
  std::set<std::string> names;
  for (const Diagnostic& d : diagnostics.items()) {
    if (d.code == "invariant-violated") names.insert(d.invariant);
  }
  return names;
}

std::string InvariantCitation(const Policy& policy, const std::string& name) {
  for (const Invariant& inv : policy.invariants) {
    if (inv.name == name) return absl::StrCat(name, " (", inv.location.FileLine(), ")");
  }
  return name;
}

std::string PortList(const std::vector<ServicePort>& ports) {
  std::vector<std::string> text;
  for (const ServicePort& p : ports) text.push_back(p.ToString());
  return absl::StrJoin(text, ", ");
}

using EndPair = std::pair<std::tuple<int, int>, std::tuple<int, int>>;  // (kind, id) each side

EndPair Key(const Endpoint& from, const Endpoint& to) {
  return {{static_cast<int>(from.kind), from.id}, {static_cast<int>(to.kind), to.id}};
}

}  // namespace

std::vector<ObservedConnection> DeniedConnections(const std::vector<TrafficRow>& rows) {
  // A connection between two managed hosts is seen twice: leaving the source (an outbound row
  // of its agent) and arriving at the destination (an inbound row of the other). Both sides
  // count the same connections, so per (source, destination, protocol, port) the larger side
  // is taken (one side may have lost tuples to a full set), never their sum.
  struct Sides {
    ObservedConnection merged;
    uint64_t inbound = 0, outbound = 0;
  };
  std::map<std::tuple<Prefix, Prefix, Protocol, uint16_t>, Sides> by_connection;
  std::vector<std::tuple<Prefix, Prefix, Protocol, uint16_t>> order;
  for (const TrafficRow& row : rows) {
    if (row.key.verdict == TrafficVerdict::kAllowed) continue;
    bool inbound = row.key.direction == TrafficDirection::kInbound;
    Prefix source = inbound ? row.example_peer : row.example_local;
    Prefix destination = inbound ? row.example_local : row.example_peer;
    auto key = std::make_tuple(source, destination, row.key.protocol, row.key.port);
    auto [it, fresh] = by_connection.try_emplace(key);
    Sides& sides = it->second;
    if (fresh) {
      order.push_back(key);
      sides.merged.source = source;
      sides.merged.destination = destination;
      sides.merged.protocol = row.key.protocol;
      sides.merged.port = row.key.port;
      sides.merged.first_seen = row.first_seen;
      sides.merged.last_seen = row.last_seen;
    } else {
      sides.merged.first_seen = std::min(sides.merged.first_seen, row.first_seen);
      sides.merged.last_seen = std::max(sides.merged.last_seen, row.last_seen);
    }
    (inbound ? sides.inbound : sides.outbound) += row.connections;
    std::vector<std::string>& who = sides.merged.reporters;
    if (std::find(who.begin(), who.end(), row.key.host) == who.end()) who.push_back(row.key.host);
  }
  std::vector<ObservedConnection> out;
  out.reserve(order.size());
  for (const auto& key : order) {
    Sides& sides = by_connection.at(key);
    sides.merged.connections = std::max(sides.inbound, sides.outbound);
    std::sort(sides.merged.reporters.begin(), sides.merged.reporters.end());
    out.push_back(std::move(sides.merged));
  }
  return out;
}

Suggestion Suggest(const Policy& policy, const std::vector<ObservedConnection>& observed,
                   const SuggestOptions& options) {
  Suggestion result;
  std::vector<std::string> notes;  // commented rows: allowed already, unclassified, deny flows

  // Stage 1: place every row between two ends of the policy and keep what the
  // policy denies only for want of an allow flow.
  struct Group {
    Endpoint from, to;
    std::map<ServicePort, Evidence> ports;
  };
  std::map<EndPair, Group> groups;
  for (const ObservedConnection& row : observed) {
    std::string what = absl::StrCat(row.source.ToString(), " -> ", row.destination.ToString(), " ",
                                    SinglePort(row).ToString());
    auto from = EndFor(policy, row.source);
    auto to = EndFor(policy, row.destination);
    if (!from || !to) {
      ++result.unclassified;
      notes.push_back(absl::StrCat(what, ": ",
                                   !from ? row.source.ToString() : row.destination.ToString(),
                                   " is in no zone; declare a zone for it first"));
      continue;
    }
    if (policy.zones[policy.ZoneOf(*from)].external && policy.zones[policy.ZoneOf(*to)].external) {
      ++result.unclassified;
      notes.push_back(absl::StrCat(what, ": both ends are external, nothing could enforce a flow"));
      continue;
    }
    Verdict verdict =
        Decide(policy, Connection{row.source.base, row.destination.base, row.protocol, row.port});
    if (verdict.allowed) {
      ++result.already_allowed;
      notes.push_back(absl::StrCat(what, ": already allowed"));
      continue;
    }
    if (!verdict.denying.empty()) {
      ++result.refused;
      std::vector<std::string> denies;
      for (FlowId f : verdict.denying) {
        denies.push_back(
            absl::StrCat(policy.flows[f].name, " (", policy.flows[f].location.FileLine(), ")"));
      }
      notes.push_back(absl::StrCat(what, ": denied by ", absl::StrJoin(denies, ", "),
                                   "; an allow flow would not change that"));
      continue;
    }
    Group& g = groups.try_emplace(Key(*from, *to), Group{*from, *to, {}}).first->second;
    g.ports[SinglePort(row)].Add(row);
  }

  // Stage 2: cover each pair's ports with existing services whose every port
  // was seen, then with new one-port services.
  Policy working = policy;
  std::set<std::string> service_names, flow_names;
  for (const Service& s : policy.services) service_names.insert(s.name);
  for (const Flow& f : policy.flows) flow_names.insert(f.name);
  struct Candidate {
    Endpoint from, to;
    ServiceId service;
    std::vector<ServicePort> ports;
    Evidence evidence;
  };
  std::vector<Candidate> candidates;
  std::map<ServicePort, ServiceId> new_services;
  for (auto& [key, g] : groups) {
    std::set<ServicePort> uncovered;
    for (const auto& [port, ev] : g.ports) uncovered.insert(port);
    std::vector<std::pair<ServiceId, std::vector<ServicePort>>> fitting;
    for (ServiceId id = 0; id < static_cast<ServiceId>(policy.services.size()); ++id) {
      const Service& s = policy.services[id];
      if (s.builtin) continue;
      std::vector<ServicePort> singles;
      bool all_seen = !s.ports.empty();
      for (const ServicePort& item : s.ports) {
        auto expanded = Singles(item);
        if (!expanded) {
          all_seen = false;
          break;
        }
        for (const ServicePort& p : *expanded) {
          if (g.ports.count(p) == 0) all_seen = false;
          singles.push_back(p);
        }
        if (!all_seen) break;
      }
      if (all_seen) fitting.emplace_back(id, std::move(singles));
    }
    // Widest first, so that `dns` (udp/53, tcp/53) wins over a one-port service.
    std::stable_sort(fitting.begin(), fitting.end(), [](const auto& a, const auto& b) {
      return a.second.size() > b.second.size();
    });
    for (auto& [id, singles] : fitting) {
      bool adds = std::any_of(singles.begin(), singles.end(),
                              [&](const ServicePort& p) { return uncovered.count(p) > 0; });
      if (!adds) continue;
      Candidate c{g.from, g.to, id, singles, {}};
      for (const ServicePort& p : singles) {
        c.evidence.Add(g.ports[p]);
        uncovered.erase(p);
      }
      candidates.push_back(std::move(c));
    }
    for (const ServicePort& p : uncovered) {
      auto it = new_services.find(p);
      if (it == new_services.end()) {
        std::string name =
            UniqueName(absl::StrReplaceAll(p.ToString(), {{"/", "-"}}), service_names);
        ServiceId id = static_cast<ServiceId>(working.services.size());
        working.services.push_back(Service{name, {p}, SourceLocation{"suggested", 0, 0}, false});
        it = new_services.emplace(p, id).first;
      }
      candidates.push_back(Candidate{g.from, g.to, it->second, {p}, g.ports[p]});
    }
  }

  // Stage 3: add the candidates one at a time; one that makes an invariant
  // fail that held before stays a comment.
  std::set<std::string> violated_before = Violated(working);
  std::vector<std::string> flow_yaml;
  std::set<ServiceId> used_new_services;
  for (const Candidate& c : candidates) {
    const std::string& service = working.services[c.service].name;
    std::string from = policy.EndpointName(c.from), to = policy.EndpointName(c.to);
    Flow flow;
    flow.name = UniqueName(absl::StrCat("seen-", from, "-to-", to, "-", service), flow_names);
    flow.from = {c.from};
    flow.to = {c.to};
    flow.services = {c.service};
    flow.location = SourceLocation{"suggested", 0, 0};
    working.flows.push_back(flow);
    std::vector<std::string> broken;
    for (const std::string& name : Violated(working)) {
      if (violated_before.count(name) == 0) broken.push_back(InvariantCitation(policy, name));
    }
    std::string comment = absl::StrCat("  # ", from, " -> ", to, " ", PortList(c.ports), ": ",
                                       c.evidence.ToString(), "\n");
    if (!broken.empty()) {
      working.flows.pop_back();
      flow_names.erase(flow.name);
      ++result.refused;
      flow_yaml.push_back(absl::StrCat(comment, "  # not suggested: it would break invariant ",
                                       absl::StrJoin(broken, ", "), "\n"));
      continue;
    }
    ++result.flows;
    if (c.service >= static_cast<ServiceId>(policy.services.size()))
      used_new_services.insert(c.service);
    flow_yaml.push_back(absl::StrCat(comment, "  - name: ", flow.name, "\n    from: ", from,
                                     "\n    to: ", to, "\n    services: [", service, "]\n"));
  }

  // Stage 4: the file. New services that only refused flows needed are left out.
  std::string out = absl::StrCat(
      "# Suggested by polder suggest at ", FormatRfc3339(options.generated_at), " from traffic",
      options.since.empty() ? "" : absl::StrCat(" seen in the last ", options.since),
      " that the policy denies or would deny.\n",
      "# Review every flow before merging; run `polder check` with this file added.\n");
  for (const std::string& note : notes) absl::StrAppend(&out, "# left out: ", note, "\n");
  std::string services;
  for (const auto& [port, id] : new_services) {
    if (used_new_services.count(id) == 0) continue;
    ++result.services;
    absl::StrAppend(&services, "  - name: ", working.services[id].name, "\n    ports: [",
                    port.ToString(), "]\n");
  }
  if (!services.empty()) absl::StrAppend(&out, "services:\n", services);
  absl::StrAppend(&out, result.flows == 0 ? "flows: []\n" : "flows:\n");
  for (const std::string& f : flow_yaml) out += f;
  result.yaml = std::move(out);
  return result;
}

}  // namespace polder
