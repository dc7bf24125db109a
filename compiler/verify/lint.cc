#include "compiler/verify/lint.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "wire/rfc3339.h"

namespace polder {
namespace {

// Shadowing compares a flow with at most this many flows of one zone pair,
// so that a pair with thousands of flows cannot make lint quadratic.
constexpr size_t kMaxShadowCandidates = 256;

std::string FlowLabel(const Flow& f) {
  // An unnamed flow's name is its place already.
  if (f.name == f.location.FileLine()) return absl::StrCat("the flow at ", f.name);
  return absl::StrCat("flow `", f.name, "` (", f.location.FileLine(), ")");
}

std::string Cite(const Policy& policy, const std::vector<FlowId>& flows) {
  std::vector<std::string> out;
  for (FlowId f : flows) out.push_back(FlowLabel(policy.flows[f]));
  return absl::StrJoin(out, ", ");
}

bool IsActiveAllow(const Flow& f) { return f.active && f.action == Action::kAllow; }

void CheckNegatedAndUnusedDenies(const Policy& policy, const ZoneGraph& graph,
                                 DiagnosticList& out) {
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!f.active) continue;
    if (f.action == Action::kAllow && !graph.allow_effective[i] && !graph.denied_by[i].empty()) {
      out.Warning(f.location, "negated-flow",
                  absl::StrCat(FlowLabel(f),
                               " allows nothing: every connection it allows is "
                               "denied by ",
                               Cite(policy, graph.denied_by[i]),
                               ", and deny wins. Remove the flow or narrow the deny."));
    }
    if (f.action == Action::kDeny && !graph.deny_used[i]) {
      out.Warning(f.location, "unused-deny",
                  absl::StrCat(FlowLabel(f),
                               " denies nothing that any active allow flow "
                               "allows, so it has no effect (everything not allowed is already "
                               "denied)."));
    }
  }
}

// Flows that check accepts but that match nothing, which an engineer would not guess: their
// `sources` miss every address of `from`, or (an allow no deny touches that still allows
// nothing) `from` and `to` share no address family.
void CheckFlowsThatMatchNothing(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    bool narrowed = f.sources && !f.sources->empty();
    bool idle_allow =
        f.action == Action::kAllow && !graph.allow_effective[i] && graph.denied_by[i].empty();
    if (!f.active || (!narrowed && !idle_allow)) continue;
    bool no_parts = FlowParts(policy, f).empty();
    if (narrowed && no_parts) {
      std::vector<std::string> prefixes;
      for (const Prefix& p : *f.sources) prefixes.push_back(p.ToString());
      out.Warning(f.location, "sources-outside-from",
                  absl::StrCat(FlowLabel(f), " matches nothing: its `sources` (",
                               absl::StrJoin(prefixes, ", "),
                               ") hold no address of its `from`. Fix `sources` or `from`."));
    } else if (idle_allow && !no_parts) {
      out.Warning(f.location, "no-common-family",
                  absl::StrCat(FlowLabel(f),
                               " allows nothing: its `from` and `to` share no address family, "
                               "and a connection joins two IPv4 or two IPv6 addresses."));
    }
  }
}

struct Part {
  FlowPart part;
  ServiceSpace services;
};

bool Covers(const Part& big, const Part& small) {
  return big.services.Covers(small.services) && small.part.src.Subtract(big.part.src).Empty() &&
         small.part.dst.Subtract(big.part.dst).Empty();
}

void CheckShadowed(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  // Flow parts per zone pair; a flow is shadowed by G when every part of it
  // lies inside G's part for the same pair.
  std::vector<std::vector<Part>> parts(policy.flows.size());
  std::map<std::pair<ZoneId, ZoneId>, std::vector<FlowId>> by_pair;
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!IsActiveAllow(f)) continue;
    ServiceSpace services = SpaceOfServices(policy, f.services);
    for (FlowPart& p : FlowParts(policy, f)) {
      by_pair[{p.from_zone, p.to_zone}].push_back(i);
      parts[i].push_back({std::move(p), services});
    }
  }
  auto part_of = [&](FlowId g, ZoneId a, ZoneId b) -> const Part* {
    for (const Part& p : parts[g]) {
      if (p.part.from_zone == a && p.part.to_zone == b) return &p;
    }
    return nullptr;
  };
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    if (parts[i].empty() || !graph.allow_effective[i]) continue;
    // Candidates: the flows of this flow's least crowded pair.
    const std::vector<FlowId>* candidates = nullptr;
    for (const Part& p : parts[i]) {
      const auto& c = by_pair[{p.part.from_zone, p.part.to_zone}];
      if (!candidates || c.size() < candidates->size()) candidates = &c;
    }
    size_t checked = 0;
    for (FlowId g : *candidates) {
      if (g == i || ++checked > kMaxShadowCandidates) continue;
      bool covered = std::all_of(parts[i].begin(), parts[i].end(), [&](const Part& p) {
        const Part* gp = part_of(g, p.part.from_zone, p.part.to_zone);
        return gp && Covers(*gp, p);
      });
      if (!covered) continue;
      // Of two identical flows, only the later one is reported.
      bool identical = std::all_of(parts[g].begin(), parts[g].end(), [&](const Part& p) {
        const Part* ip = part_of(i, p.part.from_zone, p.part.to_zone);
        return ip && Covers(*ip, p);
      });
      if (identical && g > i) continue;
      const Flow& f = policy.flows[i];
      out.Warning(f.location, "shadowed-flow",
                  absl::StrCat(FlowLabel(f), " is redundant: ", FlowLabel(policy.flows[g]),
                               " already allows every connection it allows. Remove one of them, "
                               "or narrow the other."));
      break;
    }
  }
}

void CheckUnused(const Policy& policy, DiagnosticList& out) {
  std::vector<bool> zone_used(policy.zones.size(), false);
  std::vector<bool> service_used(policy.services.size(), false);
  std::vector<bool> host_named(policy.hosts.size(), false);
  std::vector<bool> zone_in_active(policy.zones.size(), false);
  for (const Flow& f : policy.flows) {
    for (const auto* ends : {&f.from, &f.to}) {
      for (const Endpoint& e : *ends) {
        zone_used[policy.ZoneOf(e)] = true;
        if (!f.active) continue;
        if (e.kind == Endpoint::Kind::kHost) host_named[e.id] = true;
        if (e.kind == Endpoint::Kind::kZone) zone_in_active[e.id] = true;
      }
    }
    for (ServiceId s : f.services) service_used[s] = true;
  }
  for (const Invariant& inv : policy.invariants) {
    for (const auto* zones : {&inv.from, &inv.to, &inv.through, &inv.except}) {
      for (ZoneId z : *zones) zone_used[z] = true;
    }
  }
  if (policy.settings.controller) {
    for (const Address& a : policy.settings.controller->addresses) {
      if (auto z = policy.Classify(a)) zone_used[*z] = true;
    }
  }
  for (ZoneId z = 0; z < static_cast<ZoneId>(policy.zones.size()); ++z) {
    if (zone_used[z]) continue;
    out.Warning(policy.zones[z].location, "unused-zone",
                absl::StrCat("zone `", policy.zones[z].name,
                             "` is named by no flow and no "
                             "invariant, so its addresses may neither open nor receive any "
                             "connection. Add flows for it or remove it."));
  }
  for (ServiceId s = 0; s < static_cast<ServiceId>(policy.services.size()); ++s) {
    if (service_used[s] || policy.services[s].builtin) continue;
    out.Warning(policy.services[s].location, "unused-service",
                absl::StrCat("service `", policy.services[s].name,
                             "` is used by no flow. Remove it or use it."));
  }
  for (HostId h = 0; h < static_cast<HostId>(policy.hosts.size()); ++h) {
    const Host& host = policy.hosts[h];
    if (host_named[h] || (host.zone >= 0 && zone_in_active[host.zone])) continue;
    out.Warning(host.location, "host-without-flows",
                absl::StrCat("host `", host.name,
                             "` and its zone are named by no active flow: "
                             "its agent will drop every new connection to and from it (except "
                             "to the controller). Add flows for it or remove it."));
  }
}

void CheckExpiringSoon(const Policy& policy, const LintOptions& options, DiagnosticList& out) {
  if (options.expiry_window <= absl::ZeroDuration()) return;
  for (const Flow& f : policy.flows) {
    if (!f.active || !f.expires || *f.expires <= policy.now) continue;
    absl::Duration left = *f.expires - policy.now;
    if (left > options.expiry_window) continue;
    int64_t hours = absl::ToInt64Hours(left);
    std::string when =
        hours >= 48 ? absl::StrCat(hours / 24, " days") : absl::StrCat(hours, " hours");
    out.Warning(f.location, "expiring-soon",
                absl::StrCat(FlowLabel(f), " expires in ", when, " (", FormatRfc3339(*f.expires),
                             "); renew it or let the connections it allows end."));
  }
}

// Ranges of at most this many ports from an external zone are what a
// published service needs; a wider one opens more than anyone reviews.
constexpr int kWideRange = 16;

// The first item of the flow's services that is `any` or a tcp/udp/sctp
// range wider than kWideRange ports, as written.
std::optional<std::string> WideItem(const Policy& policy, const Flow& f) {
  for (ServiceId s : f.services) {
    for (const ServicePort& p : policy.services[s].ports) {
      bool wide = p.protocol == Protocol::kAny ||
                  (!IsIcmp(p.protocol) && int{p.hi} - int{p.lo} + 1 > kWideRange);
      if (wide)
        return absl::StrCat(ServicePortLabel(p), " (service `", policy.services[s].name, "`)");
    }
  }
  return std::nullopt;
}

void CheckWideExposure(const Policy& policy, DiagnosticList& out) {
  for (const Flow& f : policy.flows) {
    if (!IsActiveAllow(f)) continue;
    bool from_external = std::any_of(f.from.begin(), f.from.end(), [&](const Endpoint& e) {
      return policy.zones[policy.ZoneOf(e)].external;
    });
    if (!from_external) continue;
    if (std::optional<std::string> item = WideItem(policy, f)) {
      out.Warning(f.location, "wide-exposure",
                  absl::StrCat(FlowLabel(f), " opens ", *item, " from an external zone: more than ",
                               kWideRange,
                               " ports to whatever the outside can send. Name the ports it "
                               "needs."));
    }
  }
}

// At most this many items are named in one warning; the rest are counted.
constexpr size_t kListed = 6;

std::string ListSome(const std::vector<std::string>& items, size_t shown = kListed) {
  std::vector<std::string> out(items.begin(), items.begin() + std::min(shown, items.size()));
  if (items.size() > shown) out.push_back(absl::StrCat("and ", items.size() - shown, " more"));
  return absl::StrJoin(out, ", ");
}

std::string ZoneLabel(const Policy& policy, ZoneId z) {
  return absl::StrCat("`", policy.zones[z].name, "` (", policy.zones[z].location.FileLine(), ")");
}

absl::uint128 HostMask(int host_bits) {
  return host_bits >= 128 ? absl::Uint128Max() : (absl::uint128(1) << host_bits) - 1;
}

// The fewest prefixes that make up [lo, hi] of family `f`.
std::vector<Prefix> PrefixesOf(Family f, absl::uint128 lo, absl::uint128 hi) {
  const int bits = FamilyBits(f);
  std::vector<Prefix> out;
  while (true) {
    int k = 0;  // host bits of the largest aligned block at lo that fits
    while (k < bits && (lo & HostMask(k + 1)) == 0 && hi - lo >= HostMask(k + 1)) ++k;
    out.push_back(Prefix{Address{f, lo}, bits - k});
    absl::uint128 last = lo + HostMask(k);
    if (last >= hi) break;
    lo = last + 1;
  }
  return out;
}

std::vector<Prefix> PrefixesOf(const AddressSet& set) {
  std::vector<Prefix> out;
  for (Family f : {Family::kV4, Family::kV6}) {
    for (const Interval& i : set.intervals(f)) {
      for (const Prefix& p : PrefixesOf(f, i.lo, i.hi)) out.push_back(p);
    }
  }
  return out;
}

// Looks up edges by their ends in constant time (ZoneGraph::Edge scans the
// zone's out-edges, and the catch-all zones have many).
class EdgeIndex {
 public:
  explicit EdgeIndex(const ZoneGraph& g) {
    for (const ZoneGraph::Arc& a : g.arcs()) edges_[Key(a.from, a.to)] = &g.edge(a);
  }
  const ZoneEdge* Find(ZoneId from, ZoneId to) const {
    auto it = edges_.find(Key(from, to));
    return it == edges_.end() ? nullptr : it->second;
  }

 private:
  static uint64_t Key(ZoneId a, ZoneId b) {
    return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
  }
  std::unordered_map<uint64_t, const ZoneEdge*> edges_;
};

bool NamesZone(const std::vector<Endpoint>& ends, ZoneId z) {
  return std::any_of(ends.begin(), ends.end(), [&](const Endpoint& e) {
    return e.kind == Endpoint::Kind::kZone && e.id == z;
  });
}

// For each prefix of each zone, the zone that would own its addresses if the
// prefix were not there: the zone of the longest strictly shorter prefix
// holding it. A zone "carves" its prefix out of that zone.
struct Carving {
  std::vector<Prefix> prefixes;  // of the carving zone, inside the larger zone's
  AddressSet addresses;          // what of them the carving zone really owns
};

std::map<std::pair<ZoneId, ZoneId>, Carving> Carvings(const Policy& policy) {
  std::map<std::tuple<Family, absl::uint128, int>, ZoneId> owner;
  for (ZoneId z = 0; z < static_cast<ZoneId>(policy.zones.size()); ++z) {
    for (const Prefix& p : policy.zones[z].cidrs)
      owner[{p.base.family, p.base.value, p.length}] = z;
  }
  std::map<std::pair<ZoneId, ZoneId>, Carving> out;
  for (ZoneId z = 0; z < static_cast<ZoneId>(policy.zones.size()); ++z) {
    const Zone& zone = policy.zones[z];
    for (const Prefix& p : zone.cidrs) {
      const int bits = FamilyBits(p.base.family);
      for (int len = p.length - 1; len >= 0; --len) {
        absl::uint128 base = p.base.value & ~HostMask(bits - len);
        auto it = owner.find({p.base.family, base, len});
        if (it == owner.end()) continue;
        // Inside a larger prefix of its own zone, the prefix takes nothing from anyone.
        if (it->second == z) break;
        Carving& c = out[{z, it->second}];
        c.prefixes.push_back(p);
        c.addresses = c.addresses.Union(AddressSet::Of(p).Intersect(zone.effective));
        break;
      }
    }
  }
  return out;
}

// A larger zone's allow flow that its carved-out addresses no longer get:
// the edge the carving zone has in its place does not carry what the flow
// gives the larger zone.
bool Lacks(const Policy& policy, const EdgeIndex& edges, const Flow& f, ZoneId small, ZoneId large,
           const Carving& carving) {
  ServiceSpace services = SpaceOfServices(policy, f.services);
  auto lost = [&](ZoneId a, ZoneId b, ZoneId a2, ZoneId b2) {
    const ZoneEdge* had = edges.Find(a, b);
    if (!had) return false;
    ServiceSpace needed = services.Intersect(had->services);
    if (needed.Empty()) return false;
    const ZoneEdge* has = edges.Find(a2, b2);
    return !has || !has->services.Covers(needed);
  };
  if (NamesZone(f.from, large)) {
    bool sources_reach = true;
    if (f.sources) {
      AddressSet sources;
      for (const Prefix& p : *f.sources) sources.Add(p);
      sources_reach = sources.Overlaps(carving.addresses);
    }
    if (sources_reach) {
      std::set<ZoneId> targets;
      for (const Endpoint& e : f.to) targets.insert(policy.ZoneOf(e));
      for (ZoneId t : targets) {
        if (t != small && lost(large, t, small, t)) return true;
      }
    }
  }
  if (NamesZone(f.to, large)) {
    std::set<ZoneId> origins;
    for (const Endpoint& e : f.from) origins.insert(policy.ZoneOf(e));
    for (ZoneId s : origins) {
      if (s != small && lost(s, large, s, small)) return true;
    }
  }
  return false;
}

std::string FlowEnds(const Policy& policy, const Flow& f) {
  auto names = [&](const std::vector<Endpoint>& ends) {
    std::vector<std::string> out;
    for (const Endpoint& e : ends) out.push_back(policy.EndpointName(e));
    return out.size() == 1 ? out[0] : absl::StrCat("[", absl::StrJoin(out, ", "), "]");
  };
  std::vector<std::string> services;
  for (ServiceId s : f.services) services.push_back(policy.services[s].name);
  return absl::StrCat(names(f.from), " -> ", names(f.to), " on ", absl::StrJoin(services, ", "));
}

// Spec §2: an address belongs to the zone of the longest prefix holding it,
// so a zone with a more specific prefix takes those addresses, and with them
// every allow flow of the larger zone, away. Internal zones inside an
// external catch-all are the language's own design (that is how `internet`
// means "everything else") and are left alone.
void CheckCarvedOut(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  std::map<std::pair<ZoneId, ZoneId>, Carving> carvings = Carvings(policy);
  if (carvings.empty()) return;
  std::vector<bool> in_active_flow(policy.zones.size(), false);
  std::vector<std::vector<FlowId>> allows_naming(policy.zones.size());
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!f.active) continue;
    std::set<ZoneId> named;
    for (const auto* ends : {&f.from, &f.to}) {
      for (const Endpoint& e : *ends) {
        in_active_flow[policy.ZoneOf(e)] = true;
        if (e.kind == Endpoint::Kind::kZone) named.insert(e.id);
      }
    }
    if (f.action != Action::kAllow || !graph.allow_effective[i]) continue;
    for (ZoneId z : named) allows_naming[z].push_back(i);
  }
  EdgeIndex edges(graph);
  for (const auto& [pair, carving] : carvings) {
    auto [small, large] = pair;
    const Zone& zs = policy.zones[small];
    const Zone& zl = policy.zones[large];
    // A zone no active flow names is reported as unused; one carved out to
    // be left dark (like unassigned internal space) means to lose the flows.
    if (carving.addresses.Empty() || (zl.external && !zs.external) || !in_active_flow[small]) {
      continue;
    }
    std::vector<std::string> lacking;
    for (FlowId i : allows_naming[large]) {
      const Flow& f = policy.flows[i];
      if (NamesZone(f.from, small) || NamesZone(f.to, small)) continue;
      if (Lacks(policy, edges, f, small, large, carving)) {
        lacking.push_back(absl::StrCat(FlowLabel(f), ": ", FlowEnds(policy, f)));
      }
    }
    if (lacking.empty()) continue;
    std::vector<std::string> prefixes;
    for (const Prefix& p : carving.prefixes) prefixes.push_back(p.ToString());
    out.Warning(
        zs.location, "carved-out",
        absl::StrCat("zone `", zs.name, "` carves ", ListSome(prefixes), " out of zone ",
                     ZoneLabel(policy, large), ": by longest-prefix match those addresses are `",
                     zs.name, "`'s now, so ", zl.name,
                     "'s allow flows no longer apply to them, and `", zs.name, "` lacks ",
                     lacking.size(), " of them: ", ListSome(lacking), ". Add `", zs.name,
                     "` to the flows it still needs (beside `", zl.name,
                     "`), or remove the more specific prefix."));
  }
}

struct PrivateBlock {
  const char* cidr;
};
// RFC 1918 and RFC 4193: space that is internal wherever it is used.
constexpr PrivateBlock kPrivateBlocks[] = {
    {"10.0.0.0/8"}, {"172.16.0.0/12"}, {"192.168.0.0/16"}, {"fc00::/7"}};

// "10.0.0.0/8" when all of it is unclaimed, else the block with how many
// prefixes the unclaimed part takes and the largest of them.
std::string DescribeUnclaimed(const Prefix& block, const AddressSet& unclaimed) {
  if (unclaimed == AddressSet::Of(block)) return block.ToString();
  std::vector<Prefix> pieces = PrefixesOf(unclaimed);
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const Prefix& a, const Prefix& b) { return a.length < b.length; });
  std::vector<std::string> names;
  for (const Prefix& p : pieces) names.push_back(p.ToString());
  return absl::StrCat("most of ", block.ToString(), " (the ", pieces.size(),
                      pieces.size() == 1 ? " prefix " : " prefixes ",
                      "no other zone claims: ", ListSome(names, 3), ")");
}

// An external zone whose prefix holds a whole private block (a catch-all such
// as 0.0.0.0/0) takes every private address no internal zone claims: a
// laptop on an unplanned 192.168.1.0/24 counts as internet. An external zone
// written with private prefixes (a partner's VPN range) is deliberate.
void CheckPrivateInExternal(const Policy& policy, DiagnosticList& out) {
  std::vector<Prefix> blocks;
  for (const PrivateBlock& b : kPrivateBlocks) blocks.push_back(*Prefix::Parse(b.cidr));
  for (const Zone& zone : policy.zones) {
    if (!zone.external) continue;
    std::vector<std::string> unclaimed, blocks_named;
    for (const Prefix& block : blocks) {
      bool catch_all = std::any_of(zone.cidrs.begin(), zone.cidrs.end(), [&](const Prefix& p) {
        return p.length < block.length && p.Contains(block.base);
      });
      if (!catch_all) continue;
      AddressSet left = zone.effective.Intersect(AddressSet::Of(block));
      if (left.Empty()) continue;
      unclaimed.push_back(DescribeUnclaimed(block, left));
      blocks_named.push_back(absl::StrCat("\"", block.ToString(), "\""));
    }
    if (unclaimed.empty()) continue;
    out.Warning(zone.location, "private-in-external",
                absl::StrCat("external zone `", zone.name,
                             "` holds internal address space that no internal zone claims: ",
                             absl::StrJoin(unclaimed, "; "),
                             ". By longest-prefix match those addresses are `", zone.name,
                             "`'s, so every flow of `", zone.name,
                             "` applies to them. Add an internal zone for unassigned internal "
                             "space, e.g. `{name: unassigned-internal, cidrs: [",
                             absl::StrJoin(blocks_named, ", "),
                             "]}` (more specific zones keep their addresses), and name it in no "
                             "flow but in an `isolate` invariant, so nothing reaches it or "
                             "leaves it."));
  }
}

// True when some managed host (a host of the policy, which runs an agent)
// has an address in `addresses`, the part in zone `zone` of a flow side that
// names `ends`. Hosts named on the side are looked at first, so that a flow
// naming one host of a zone with thousands is not a walk over all of them.
bool HasManagedHost(const Policy& policy, ZoneId zone, const AddressSet& addresses,
                    const std::vector<Endpoint>& ends) {
  const Zone& z = policy.zones[zone];
  if (z.hosts.empty()) return false;
  auto holds = [&](HostId h) {
    const std::vector<Address>& own = policy.hosts[h].addresses;
    return std::any_of(own.begin(), own.end(),
                       [&](const Address& a) { return addresses.Contains(a); });
  };
  for (const Endpoint& e : ends) {
    if (e.kind == Endpoint::Kind::kHost && policy.hosts[e.id].zone == zone && holds(e.id)) {
      return true;
    }
  }
  if (addresses == z.effective) return true;  // the whole zone, its hosts included
  if (!NamesZone(ends, zone)) return false;   // only named hosts, and none of them is in
  return std::any_of(z.hosts.begin(), z.hosts.end(), holds);
}

// Spec §5: only managed hosts enforce, each the flows it is on a side of.
// With no host on either side the flow is a statement nothing carries out,
// yet the zone graph, invariants and reach count it as open.
void CheckUnenforced(const Policy& policy, const ZoneGraph& graph, DiagnosticList& out) {
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!IsActiveAllow(f) || !graph.allow_effective[i]) continue;
    std::vector<FlowPart> parts = FlowParts(policy, f);
    std::vector<std::string> unenforced;
    for (const FlowPart& p : parts) {
      if (HasManagedHost(policy, p.from_zone, p.src, f.from) ||
          HasManagedHost(policy, p.to_zone, p.dst, f.to)) {
        continue;
      }
      unenforced.push_back(
          absl::StrCat(policy.zones[p.from_zone].name, " -> ", policy.zones[p.to_zone].name));
    }
    if (unenforced.empty()) continue;
    std::string what =
        unenforced.size() == parts.size()
            ? std::string(
                  " is enforced by nobody: neither its `from` nor its `to` holds a managed "
                  "host (a host of the policy, which runs an agent)")
            : absl::StrCat(" is enforced by nobody between ", ListSome(unenforced),
                           ": neither side of that part holds a managed host (a host of the "
                           "policy, which runs an agent)");
    out.Warning(f.location, "unenforced-flow",
                absl::StrCat(FlowLabel(f), what,
                             ". Whether that traffic passes depends on other devices, yet the "
                             "zone graph, invariants and reach count it as allowed. Add the hosts "
                             "that enforce it, or remove the flow."));
  }
}

// Spec §7: the anti-lockout lets every managed host reach the controller.
// The zone graph cannot tell the controller from its zone's other hosts, so
// whatever they reach looks reachable from every managed zone.
void CheckControllerZoneShared(const Policy& policy, DiagnosticList& out) {
  const auto& ctl = policy.settings.controller;
  if (!ctl) return;
  std::set<ZoneId> zones;
  for (const Address& a : ctl->addresses) {
    if (auto z = policy.Classify(a)) zones.insert(*z);
  }
  for (ZoneId z : zones) {
    std::vector<std::string> others;
    for (HostId h : policy.zones[z].hosts) {
      const Host& host = policy.hosts[h];
      bool is_controller =
          std::any_of(host.addresses.begin(), host.addresses.end(), [&](const Address& a) {
            return std::find(ctl->addresses.begin(), ctl->addresses.end(), a) !=
                   ctl->addresses.end();
          });
      if (!is_controller) {
        others.push_back(absl::StrCat("`", host.name, "` (", host.location.FileLine(), ")"));
      }
    }
    if (others.empty()) continue;
    std::vector<std::string> addresses;
    for (const Address& a : ctl->addresses) {
      if (policy.Classify(a) == z) addresses.push_back(a.ToString());
    }
    out.Warning(policy.settings.location, "controller-zone-shared",
                absl::StrCat("the anti-lockout of settings.controller gives every managed host an "
                             "edge into the controller's zone ",
                             ZoneLabel(policy, z), " (tcp/", ctl->port,
                             "), and that zone also holds ", ListSome(others),
                             ": in the zone graph whatever they reach is reachable from every "
                             "managed zone, and invariants count those paths. Give the "
                             "controller's addresses (",
                             absl::StrJoin(addresses, ", "), ") a zone of their own."));
  }
}

}  // namespace

absl::StatusOr<absl::Duration> ParseExpiryWindow(std::string_view text) {
  if (text == "0") return absl::ZeroDuration();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(end, text.data() + text.size() - end);
  if (ec != std::errc() || end == text.data() || n < 0) unit = "?";
  if (unit == "d") return absl::Hours(24 * n);
  if (unit == "h") return absl::Hours(n);
  if (unit == "m") return absl::Minutes(n);
  return absl::InvalidArgumentError(
      absl::StrCat("`", std::string(text), "` is not a window; write e.g. 14d, 36h or 90m"));
}

void Lint(const Policy& policy, const ZoneGraph& graph, const LintOptions& options,
          DiagnosticList& out) {
  CheckNegatedAndUnusedDenies(policy, graph, out);
  CheckFlowsThatMatchNothing(policy, graph, out);
  CheckShadowed(policy, graph, out);
  CheckUnused(policy, out);
  CheckWideExposure(policy, out);
  CheckCarvedOut(policy, graph, out);
  CheckPrivateInExternal(policy, out);
  CheckUnenforced(policy, graph, out);
  CheckControllerZoneShared(policy, out);
  CheckExpiringSoon(policy, options, out);
}

}  // namespace polder
