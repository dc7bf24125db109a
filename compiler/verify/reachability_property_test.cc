// Brute-force reference for the zone graph and the invariants: many small
// random policies (IPv4 and IPv6, hosts, denies, `sources`, expiry, the
// controller's anti-lockout) are asked, connection by connection, through
// Decide() — the packet-level semantics — and every answer the graph gives
// is compared with what the connections say.
//
// Addresses and ports are enumerated by equivalence: every boundary of every
// range the policy mentions starts a stretch in which all values behave the
// same, so the start of each stretch stands for all of it and the
// enumeration is exhaustive.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "compiler/model/verdict.h"
#include "compiler/testing/policy_builder.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/policy_diff.h"
#include "compiler/verify/zone_graph.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

// ---------------------------------------------------------------- generator

class RandomPolicyMaker {
 public:
  explicit RandomPolicyMaker(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  // A prefix inside 10.0.0.0/24 or 2001:db8::/120, so that random prefixes
  // nest and overlap often.
  std::string RandomPrefix(int min_len_v4, int max_len_v4) {
    if (Chance(0.3)) {
      int len = Uniform(min_len_v4 + 96, max_len_v4 + 96);
      int size = 1 << (128 - len);
      int base = Uniform(0, 255 / size) * size;
      return absl::StrCat("2001:db8::", absl::Hex(base), "/", len);
    }
    int len = Uniform(min_len_v4, max_len_v4);
    int size = 1 << (32 - len);
    int base = Uniform(0, 255 / size) * size;
    return absl::StrCat("10.0.0.", base, "/", len);
  }

  Policy Make() {
    PolicyBuilder b;
    int zones = Uniform(2, 5);
    std::set<std::string> used;
    for (int z = 0; z < zones; ++z) {
      std::vector<std::string> cidrs;
      if (z == 0 && Chance(0.3)) {
        cidrs = {"0.0.0.0/0", "::/0"};
      } else {
        for (int k = Uniform(1, 2); k > 0; --k) {
          std::string c = RandomPrefix(24, 30);
          if (used.insert(c).second) cidrs.push_back(c);
        }
      }
      for (const auto& c : cidrs) used.insert(c);
      if (cidrs.empty()) cidrs.push_back(absl::StrCat("10.0.", 1 + z, ".0/24"));
      b.Zone(absl::StrCat("z", z), cidrs, z == 0);
      names_.push_back(absl::StrCat("z", z));
    }
    Policy zones_only = PolicyBuilder(b).Finish();
    AddHosts(b, zones_only);
    AddServices(b);
    if (Chance(0.35)) {
      std::string addr = !host_addrs_.empty() && Chance(0.5)
                             ? host_addrs_[Uniform(0, host_addrs_.size() - 1)]
                             : RandomAddressIn(zones_only);
      if (!addr.empty()) b.Controller({addr}, Chance(0.5) ? 7443 : 25);
    }
    for (int f = Uniform(1, 7); f > 0; --f) b.Flow(RandomFlow());
    return b.Finish();
  }

  PolicyBuilder::FlowSpec RandomFlow(std::optional<bool> deny = std::nullopt) {
    PolicyBuilder::FlowSpec f;
    for (int k = Uniform(1, 2); k > 0; --k) f.from.push_back(Pick(names_));
    for (int k = Uniform(1, 2); k > 0; --k) f.to.push_back(Pick(names_));
    f.services.clear();
    for (int k = Uniform(1, 2); k > 0; --k) {
      f.services.push_back(Chance(0.15) ? "any" : Pick(services_));
    }
    f.deny = deny ? *deny : Chance(0.35);
    if (Chance(0.3)) {
      for (int k = Uniform(1, 2); k > 0; --k) f.sources.push_back(RandomPrefix(25, 32));
    }
    f.active = Chance(0.85);
    return f;
  }

 private:
  const std::string& Pick(const std::vector<std::string>& v) { return v[Uniform(0, v.size() - 1)]; }

  std::string RandomAddressIn(const Policy& p) {
    std::vector<AddressRange> ranges;
    for (const Zone& z : p.zones) {
      for (const AddressRange& r : z.effective.Ranges()) {
        // Stay inside the small test space even for the catch-all zone.
        absl::uint128 lo = r.lo, hi = r.hi;
        if (hi - lo > 1000) hi = lo + 1000;
        ranges.push_back({r.family, lo, hi});
      }
    }
    if (ranges.empty()) return "";
    const AddressRange& r = ranges[Uniform(0, ranges.size() - 1)];
    uint64_t span = static_cast<uint64_t>(r.hi - r.lo);
    absl::uint128 v = r.lo + std::uniform_int_distribution<uint64_t>(0, span)(rng_);
    return Address{r.family, v}.ToString();
  }

  void AddHosts(PolicyBuilder& b, const Policy& zones_only) {
    std::set<std::string> taken;
    for (int h = Uniform(0, 4); h > 0; --h) {
      std::string first = RandomAddressIn(zones_only);
      if (first.empty() || !taken.insert(first).second) continue;
      std::vector<std::string> addrs{first};
      // A second address in the same zone, when it is free.
      std::string second = RandomAddressIn(zones_only);
      auto a = *Address::Parse(first), s = *Address::Parse(second);
      if (Chance(0.4) && zones_only.Classify(a) == zones_only.Classify(s) &&
          taken.insert(second).second) {
        addrs.push_back(second);
      }
      std::string name = absl::StrCat("h", names_.size());
      b.Host(name, addrs);
      names_.push_back(name);
      host_addrs_.insert(host_addrs_.end(), addrs.begin(), addrs.end());
    }
  }

  void AddServices(PolicyBuilder& b) {
    static const std::vector<std::string> kPorts = {
        "tcp/20-25", "tcp/22", "tcp/24-30",         "udp/53",  "udp/50-60", "sctp/25",
        "icmp",      "icmpv6", "icmp/echo-request", "tcp/443", "tcp/7443",  "udp/1-20"};
    for (int s = Uniform(1, 3); s > 0; --s) {
      std::vector<std::string> ports;
      for (int k = Uniform(1, 2); k > 0; --k) ports.push_back(Pick(kPorts));
      std::string name = absl::StrCat("s", services_.size());
      b.Service(name, ports);
      services_.push_back(name);
    }
  }

  std::mt19937 rng_;
  std::vector<std::string> names_;  // zones, then hosts
  std::vector<std::string> services_;
  std::vector<std::string> host_addrs_;
};

// ------------------------------------------------------- brute-force model

struct PortClass {
  Protocol protocol;
  int lo, hi;
};

std::vector<Address> RepresentativeAddresses(const Policy& p) {
  std::map<Family, std::set<absl::uint128>> cuts;
  auto range = [&](Family f, absl::uint128 lo, absl::uint128 hi) {
    cuts[f].insert(lo);
    if (hi != FamilyMax(f)) cuts[f].insert(hi + 1);
  };
  for (Family f : {Family::kV4, Family::kV6}) cuts[f].insert(0);
  for (const ZoneSegment& s : p.segments) range(s.family, s.lo, s.hi);
  for (const Host& h : p.hosts) {
    for (const Address& a : h.addresses) range(a.family, a.value, a.value);
  }
  for (const Flow& f : p.flows) {
    if (!f.sources) continue;
    for (const Prefix& pre : *f.sources) {
      AddressRange r = pre.Range();
      range(r.family, r.lo, r.hi);
    }
  }
  if (p.settings.controller) {
    for (const Address& a : p.settings.controller->addresses) range(a.family, a.value, a.value);
  }
  std::vector<Address> out;
  for (auto& [f, values] : cuts) {
    for (absl::uint128 v : values) out.push_back({f, v});
  }
  return out;
}

std::vector<PortClass> RepresentativePorts(const Policy& p) {
  std::vector<PortClass> out;
  for (Protocol proto : ServiceSpace::kProtocols) {
    int max = ServiceSpace::MaxPort(proto);
    std::set<int> cuts{0};
    auto range = [&](int lo, int hi) {
      cuts.insert(lo);
      if (hi < max) cuts.insert(hi + 1);
    };
    for (const Service& s : p.services) {
      for (const ServicePort& sp : s.ports) {
        if (sp.protocol == proto) range(sp.lo, std::min<int>(sp.hi, max));
      }
    }
    if (p.settings.controller && proto == Protocol::kTcp) {
      range(p.settings.controller->port, p.settings.controller->port);
    }
    std::vector<int> v(cuts.begin(), cuts.end());
    for (size_t i = 0; i < v.size(); ++i) {
      out.push_back({proto, v[i], i + 1 < v.size() ? v[i + 1] - 1 : max});
    }
  }
  return out;
}

struct BruteForce {
  int n = 0;
  std::vector<std::vector<bool>> adj;
  std::vector<std::vector<ServiceSpace>> services;
  std::vector<std::vector<std::set<FlowId>>> flows, narrowing;
  std::vector<std::vector<bool>> anti;
  std::vector<bool> allow_effective, deny_used;
};

BruteForce Enumerate(const Policy& p) {
  BruteForce bf;
  bf.n = static_cast<int>(p.zones.size());
  bf.adj.assign(bf.n, std::vector<bool>(bf.n, false));
  bf.anti = bf.adj;
  bf.services.assign(bf.n, std::vector<ServiceSpace>(bf.n));
  bf.flows.assign(bf.n, std::vector<std::set<FlowId>>(bf.n));
  bf.narrowing = bf.flows;
  bf.allow_effective.assign(p.flows.size(), false);
  bf.deny_used.assign(p.flows.size(), false);
  std::vector<Address> addrs = RepresentativeAddresses(p);
  std::vector<PortClass> ports = RepresentativePorts(p);
  for (const Address& s : addrs) {
    auto a = p.Classify(s);
    if (!a) continue;
    for (const Address& d : addrs) {
      auto b = p.Classify(d);
      if (!b) continue;
      for (const PortClass& pc : ports) {
        Verdict v = Decide(p, Connection{s, d, pc.protocol, static_cast<uint16_t>(pc.lo)});
        if (!v.denying.empty() && !v.allowing.empty()) {
          for (FlowId f : v.denying) {
            bf.deny_used[f] = true;
            bf.narrowing[*a][*b].insert(f);
          }
        }
        if (!v.allowed) continue;
        bf.adj[*a][*b] = true;
        bf.services[*a][*b].Add(ServiceSpace::Of(
            ServicePort{pc.protocol, static_cast<uint16_t>(pc.lo), static_cast<uint16_t>(pc.hi)}));
        if (v.anti_lockout) bf.anti[*a][*b] = true;
        if (v.denying.empty()) {
          for (FlowId f : v.allowing) {
            bf.allow_effective[f] = true;
            bf.flows[*a][*b].insert(f);
          }
        }
      }
    }
  }
  return bf;
}

constexpr int kInf = 1 << 20;

// All-pairs shortest path lengths (>= 1 edge) by Floyd-Warshall over the
// brute-force adjacency, with the zones in `removed` taken out.
std::vector<std::vector<int>> Distances(const BruteForce& bf, const std::vector<bool>& removed) {
  std::vector<std::vector<int>> d(bf.n, std::vector<int>(bf.n, kInf));
  for (int i = 0; i < bf.n; ++i) {
    for (int j = 0; j < bf.n; ++j) {
      if (bf.adj[i][j] && !removed[i] && !removed[j]) d[i][j] = 1;
    }
  }
  for (int k = 0; k < bf.n; ++k) {
    for (int i = 0; i < bf.n; ++i) {
      for (int j = 0; j < bf.n; ++j) d[i][j] = std::min(d[i][j], d[i][k] + d[k][j]);
    }
  }
  return d;
}

// ------------------------------------------------------------------- tests

void ExpectGraphMatches(const Policy& p, const ZoneGraph& g, const BruteForce& bf,
                        const std::string& ctx) {
  for (ZoneId a = 0; a < bf.n; ++a) {
    for (ZoneId b = 0; b < bf.n; ++b) {
      const ZoneEdge* e = g.Edge(a, b);
      std::string where = absl::StrCat(ctx, " edge ", p.zones[a].name, "->", p.zones[b].name);
      ASSERT_EQ(e != nullptr, bf.adj[a][b]) << where;
      if (!e) continue;
      EXPECT_EQ(e->services, bf.services[a][b]) << where << " graph=" << e->services.ToString()
                                                << " brute=" << bf.services[a][b].ToString();
      EXPECT_EQ(std::set<FlowId>(e->flows.begin(), e->flows.end()), bf.flows[a][b]) << where;
      EXPECT_EQ(std::set<FlowId>(e->narrowing.begin(), e->narrowing.end()), bf.narrowing[a][b])
          << where;
      EXPECT_EQ(e->anti_lockout, bf.anti[a][b]) << where;
    }
  }
  EXPECT_EQ(g.allow_effective, bf.allow_effective) << ctx;
  EXPECT_EQ(g.deny_used, bf.deny_used) << ctx;
}

std::vector<ZoneId> RandomZones(RandomPolicyMaker& m, int n, int max_count) {
  std::set<ZoneId> s;
  for (int k = m.Uniform(1, max_count); k > 0; --k) s.insert(m.Uniform(0, n - 1));
  return {s.begin(), s.end()};
}

// Checks the diagnostics of one path invariant: exactly the expected source
// zones, each with a valid path of the brute-force shortest length.
void ExpectPathDiagnostics(const Policy& p, const BruteForce& bf, const Invariant& inv,
                           const DiagnosticList& diags, const std::map<ZoneId, int>& expected,
                           const std::vector<bool>& removed, const std::vector<bool>& targets,
                           const std::string& ctx) {
  std::map<ZoneId, int> got;
  for (const Diagnostic& d : diags.items()) {
    if (d.invariant != inv.name) continue;
    EXPECT_EQ(d.code, "invariant-violated");
    EXPECT_EQ(d.location.line, inv.location.line);
    ASSERT_GE(d.path.size(), 2u) << ctx;
    std::vector<ZoneId> path;
    for (const PathStep& s : d.path) path.push_back(*p.FindZone(s.zone));
    for (size_t i = 1; i < path.size(); ++i) {
      EXPECT_TRUE(bf.adj[path[i - 1]][path[i]]) << ctx << " " << d.message;
      EXPECT_FALSE(d.path[i].flows.empty()) << ctx;
      if (i + 1 < path.size() || !removed.empty()) {
        EXPECT_TRUE(removed.empty() || !removed[path[i]]) << ctx << " " << d.message;
      }
    }
    EXPECT_TRUE(targets[path.back()]) << ctx << " " << d.message;
    got[path.front()] = static_cast<int>(path.size()) - 1;
  }
  EXPECT_EQ(got, expected) << ctx << " invariant " << inv.name;
}

void CheckInvariantsAgainstBruteForce(RandomPolicyMaker& m, Policy p, const BruteForce& bf,
                                      const std::string& ctx) {
  const int n = bf.n;
  std::vector<bool> none(n, false);
  auto dist = Distances(bf, none);
  for (int k = 0; k < 6; ++k) {
    Invariant inv;
    inv.name = absl::StrCat("inv", k);
    inv.kind = static_cast<InvariantKind>(k % 4);
    inv.location = {"invariants.yaml", k + 1, 3};
    inv.from = RandomZones(m, n, 2);
    inv.to = RandomZones(m, n, inv.kind == InvariantKind::kIsolate ? 1 : 2);
    inv.through = RandomZones(m, n, 2);
    inv.except = m.Chance(0.5) ? RandomZones(m, n, 2) : std::vector<ZoneId>{};
    std::map<ZoneId, int> expected;
    std::vector<bool> targets(n, false), removed;
    for (ZoneId z : inv.to) targets[z] = true;
    if (inv.kind == InvariantKind::kNoPath) {
      for (ZoneId a : inv.from) {
        int best = kInf;
        for (ZoneId b : inv.to) best = std::min(best, dist[a][b]);
        if (best < kInf) expected[a] = best;
      }
    } else if (inv.kind == InvariantKind::kIsolate) {
      ZoneId z = inv.to[0];
      for (ZoneId s = 0; s < n; ++s) {
        bool excepted = s == z || std::count(inv.except.begin(), inv.except.end(), s);
        if (!excepted && dist[s][z] < kInf) expected[s] = dist[s][z];
      }
    } else if (inv.kind == InvariantKind::kVia) {
      removed.assign(n, false);
      for (ZoneId w : inv.through) removed[w] = true;
      auto dw = Distances(bf, removed);
      for (ZoneId a : inv.from) {
        if (removed[a]) continue;
        int best = kInf;
        for (ZoneId b : inv.to) best = std::min(best, removed[b] ? kInf : dw[a][b]);
        if (best < kInf) expected[a] = best;
      }
    }
    int exposure = 0;
    if (inv.kind == InvariantKind::kExposure) {
      for (ZoneId b = 0; b < n; ++b) {
        ServiceSpace reached;
        bool any = false;
        for (ZoneId a : inv.from) {
          if (!bf.adj[a][b]) continue;
          any = true;
          reached.Add(bf.services[a][b]);
        }
        if (!any) continue;
        // Every port by itself (spec §6): tcp/udp/sctp ports 1-65535, ICMP types 0-255.
        for (int i = 0; i < ServiceSpace::kProtocolCount; ++i) {
          int first = IsIcmp(ServiceSpace::kProtocols[i]) ? 0 : 1;
          for (int port = first; port <= ServiceSpace::MaxPort(ServiceSpace::kProtocols[i]);
               ++port) {
            if (reached.Contains(ServiceSpace::kProtocols[i], port)) ++exposure;
          }
        }
      }
      inv.max = std::max(0, exposure + m.Uniform(-2, 1));
    }
    p.invariants = {inv};
    ZoneGraph g = BuildZoneGraph(p);
    DiagnosticList diags;
    CheckInvariants(p, g, diags);
    std::string where = absl::StrCat(ctx, " kind ", static_cast<int>(inv.kind));
    if (inv.kind == InvariantKind::kExposure) {
      EXPECT_EQ(ExposureCount(Exposure(g, inv.from)), exposure) << where;
      EXPECT_EQ(diags.error_count(), exposure > inv.max ? 1u : 0u) << where;
    } else {
      ExpectPathDiagnostics(p, bf, inv, diags, expected, removed, targets, where);
    }
  }
}

// The closure of the graph: which zones reach which.
std::vector<std::vector<bool>> Closure(const ZoneGraph& g) {
  std::vector<std::vector<bool>> out;
  for (ZoneId z = 0; z < g.zone_count(); ++z) out.push_back(ReachableFrom(g, z));
  return out;
}

bool Subset(const std::vector<std::vector<bool>>& a, const std::vector<std::vector<bool>>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a.size(); ++j) {
      if (a[i][j] && !b[i][j]) return false;
    }
  }
  return true;
}

constexpr int kPolicies = 1000;

TEST(ReachabilityPropertyTest, GraphAgreesWithDecideOnRandomPolicies) {
  int edges = 0, partial = 0, anti = 0;
  for (int seed = 1; seed <= kPolicies; ++seed) {
    RandomPolicyMaker maker(seed);
    Policy p = maker.Make();
    BruteForce bf = Enumerate(p);
    ZoneGraph g = BuildZoneGraph(p);
    ExpectGraphMatches(p, g, bf, absl::StrCat("seed ", seed));
    if (HasFailure()) return;
    for (const ZoneGraph::Arc& arc : g.arcs()) {
      ++edges;
      partial += !g.edge(arc).narrowing.empty();
      anti += g.edge(arc).anti_lockout;
    }
  }
  // The generator must exercise what it is meant to, or the test proves
  // little.
  EXPECT_GT(edges, kPolicies);
  EXPECT_GT(partial, kPolicies / 10);
  EXPECT_GT(anti, kPolicies / 20);
}

TEST(ReachabilityPropertyTest, InvariantsAgreeWithBruteForcePaths) {
  for (int seed = 1; seed <= kPolicies; ++seed) {
    RandomPolicyMaker maker(seed);
    Policy p = maker.Make();
    CheckInvariantsAgainstBruteForce(maker, p, Enumerate(p), absl::StrCat("seed ", seed));
    if (HasFailure()) return;
  }
}

TEST(ReachabilityPropertyTest, AllowsNeverRemoveAndDeniesNeverAddReachability) {
  for (int seed = 1; seed <= kPolicies; ++seed) {
    for (bool deny : {false, true}) {
      RandomPolicyMaker maker(seed);
      PolicyBuilder::FlowSpec extra;
      Policy before = maker.Make();
      // Rebuild the same policy with one more flow: same seed, same draws.
      RandomPolicyMaker again(seed);
      Policy after = again.Make();
      PolicyBuilder::FlowSpec spec = again.RandomFlow(deny);
      spec.active = true;
      Policy extended = after;
      {
        PolicyBuilder b;  // resolve the new flow's names against `after`
        Flow f;
        f.action = deny ? Action::kDeny : Action::kAllow;
        for (const auto& n : spec.from) {
          auto z = after.FindZone(n);
          f.from.push_back(z ? Endpoint{Endpoint::Kind::kZone, *z}
                             : Endpoint{Endpoint::Kind::kHost, *after.FindHost(n)});
        }
        for (const auto& n : spec.to) {
          auto z = after.FindZone(n);
          f.to.push_back(z ? Endpoint{Endpoint::Kind::kZone, *z}
                           : Endpoint{Endpoint::Kind::kHost, *after.FindHost(n)});
        }
        for (const auto& s : spec.services) f.services.push_back(*after.FindService(s));
        if (!spec.sources.empty()) {
          f.sources.emplace();
          for (const auto& s : spec.sources) f.sources->push_back(*Prefix::Parse(s));
        }
        f.location = {"extra.yaml", 1, 1};
        extended.flows.push_back(f);
      }
      ZoneGraph g0 = BuildZoneGraph(before), g1 = BuildZoneGraph(extended);
      auto c0 = Closure(g0), c1 = Closure(g1);
      std::string ctx = absl::StrCat("seed ", seed, deny ? " +deny" : " +allow");
      for (ZoneId a = 0; a < g0.zone_count(); ++a) {
        for (ZoneId b = 0; b < g0.zone_count(); ++b) {
          const ZoneEdge* e0 = g0.Edge(a, b);
          const ZoneEdge* e1 = g1.Edge(a, b);
          const ZoneEdge* small = deny ? e1 : e0;
          const ZoneEdge* big = deny ? e0 : e1;
          if (!small) continue;
          ASSERT_NE(big, nullptr) << ctx;
          EXPECT_TRUE(big->services.Covers(small->services)) << ctx;
        }
      }
      EXPECT_TRUE(deny ? Subset(c1, c0) : Subset(c0, c1)) << ctx;
      // The component-based closure the diff uses agrees with plain search.
      EXPECT_EQ(TransitiveClosure(g0), c0) << ctx;
      EXPECT_EQ(TransitiveClosure(g1), c1) << ctx;
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace polder
