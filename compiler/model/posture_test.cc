#include "compiler/model/posture.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "compiler/model/service_space.h"
#include "compiler/model/verdict.h"
#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

bool Allowed(const Policy& p, const std::string& from, const std::string& to, Protocol proto,
             uint16_t port) {
  return Decide(p, Connection{*Address::Parse(from), *Address::Parse(to), proto, port}).allowed;
}

// internet and partners are external; app is isolated; mgmt keeps everything
// it had; partners keep https only; db is neither.
PolicyBuilder Lockdown() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("partners", {"192.0.2.0/24"}, true)
      .Zone("app", {"10.1.0.0/24"})
      .Zone("app2", {"10.2.0.0/24"})
      .Zone("mgmt", {"10.9.0.0/24"})
      .Zone("db", {"10.3.0.0/24"})
      .Host("app-1", {"10.1.0.11"})
      .Host("db-1", {"10.3.0.11"})
      .Service("https", {"tcp/443"})
      .Service("ssh", {"tcp/22"})
      .Service("pg", {"tcp/5432"})
      .Flow({.from = {"internet"}, .to = {"app"}, .services = {"https"}})
      .Flow({.from = {"partners"}, .to = {"app"}, .services = {"any"}})
      .Flow({.from = {"mgmt"}, .to = {"app", "db"}, .services = {"ssh"}})
      .Flow({.from = {"app"}, .to = {"db", "app2"}, .services = {"pg"}})
      .Flow({.from = {"partners"},
             .to = {"app"},
             .services = {"ssh"},
             .deny = true,
             .sources = {"192.0.2.128/25"}});
  b.Posture({.name = "lockdown",
             .isolate = {"app", "app2"},
             .allow = {{"partners", {"https"}}, {"mgmt", {}}},
             .owner = "ciso",
             .reason = "vulnerable applications"});
  return b;
}

TEST(PostureTest, CutsPairsWithAZoneNoAllowEntryNames) {
  Policy policy = Lockdown().Finish();
  absl::StatusOr<Policy> p = PostureApplied(policy, "lockdown");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(Allowed(policy, "203.0.113.5", "10.1.0.11", Protocol::kTcp, 443));
  EXPECT_FALSE(Allowed(*p, "203.0.113.5", "10.1.0.11", Protocol::kTcp, 443));
  EXPECT_TRUE(Allowed(policy, "10.1.0.11", "10.3.0.11", Protocol::kTcp, 5432));
  EXPECT_FALSE(Allowed(*p, "10.1.0.11", "10.3.0.11", Protocol::kTcp, 5432));
  // The cut cites the posture.
  Verdict v = Decide(*p, Connection{*Address::Parse("10.1.0.11"), *Address::Parse("10.3.0.11"),
                                    Protocol::kTcp, 5432});
  ASSERT_FALSE(v.denying.empty());
  EXPECT_EQ(p->flows[v.denying[0]].location.file, "postures.yaml");
  EXPECT_EQ(p->flows[v.denying[0]].owner, "ciso");
  EXPECT_NE(p->revision, policy.revision);
}

TEST(PostureTest, AnAllowEntryKeepsOnlyItsServices) {
  Policy policy = Lockdown().Finish();
  Policy p = *PostureApplied(policy, "lockdown");
  EXPECT_TRUE(Allowed(p, "192.0.2.5", "10.1.0.11", Protocol::kTcp, 443));
  EXPECT_TRUE(Allowed(policy, "192.0.2.5", "10.1.0.11", Protocol::kTcp, 8080));
  EXPECT_FALSE(Allowed(p, "192.0.2.5", "10.1.0.11", Protocol::kTcp, 8080));
  EXPECT_FALSE(Allowed(p, "192.0.2.5", "10.1.0.11", Protocol::kUdp, 443));
  // The narrowed flow still cites the policy's flow.
  Verdict v = Decide(p, Connection{*Address::Parse("192.0.2.5"), *Address::Parse("10.1.0.11"),
                                   Protocol::kTcp, 443});
  ASSERT_EQ(v.allowing.size(), 1u);
  EXPECT_EQ(p.flows[v.allowing[0]].location.FileLine(), "flows.yaml:2");
  // An entry without services keeps what the zone had, and nothing more.
  EXPECT_TRUE(Allowed(p, "10.9.0.5", "10.1.0.11", Protocol::kTcp, 22));
  EXPECT_FALSE(Allowed(p, "10.9.0.5", "10.1.0.11", Protocol::kTcp, 443));
  // mgmt -> db never involved an isolated zone.
  EXPECT_TRUE(Allowed(p, "10.9.0.5", "10.3.0.11", Protocol::kTcp, 22));
}

TEST(PostureTest, DeniesStayAndTrafficBetweenIsolatedZonesStays) {
  Policy p = *PostureApplied(Lockdown().Finish(), "lockdown");
  EXPECT_FALSE(Allowed(p, "192.0.2.200", "10.1.0.11", Protocol::kTcp, 22));
  EXPECT_TRUE(Allowed(p, "10.1.0.11", "10.2.0.7", Protocol::kTcp, 5432));
}

TEST(PostureTest, AnIsolatedHostIsCutButItsZoneKeepsWorking) {
  PolicyBuilder b;
  b.Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.3.0.0/24"})
      .Zone("partners", {"192.0.2.0/24"}, true)
      .Host("web-1", {"10.1.0.11"})
      .Host("web-2", {"10.1.0.12"})
      .Service("https", {"tcp/443"})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"any"}})
      .Flow({.from = {"web"}, .to = {"partners"}, .services = {"any"}})
      .Flow({.from = {"partners"}, .to = {"web"}, .services = {"any"}})
      .Posture({.name = "p", .isolate = {"web-1"}, .allow = {{"partners", {"https"}}}});
  Policy p = *PostureApplied(b.Finish(), "p");
  EXPECT_FALSE(Allowed(p, "10.1.0.11", "10.3.0.1", Protocol::kTcp, 5432));
  EXPECT_TRUE(Allowed(p, "10.1.0.12", "10.3.0.1", Protocol::kTcp, 5432));
  EXPECT_TRUE(Allowed(p, "10.1.0.99", "10.3.0.1", Protocol::kTcp, 5432));  // no host there
  // Source side: the zone's flow is split with `sources`.
  EXPECT_TRUE(Allowed(p, "10.1.0.11", "192.0.2.1", Protocol::kTcp, 443));
  EXPECT_FALSE(Allowed(p, "10.1.0.11", "192.0.2.1", Protocol::kTcp, 22));
  EXPECT_TRUE(Allowed(p, "10.1.0.12", "192.0.2.1", Protocol::kTcp, 22));
  // Destination side: the isolated host alone loses the rest.
  EXPECT_TRUE(Allowed(p, "192.0.2.1", "10.1.0.11", Protocol::kTcp, 443));
  EXPECT_FALSE(Allowed(p, "192.0.2.1", "10.1.0.11", Protocol::kTcp, 22));
  EXPECT_TRUE(Allowed(p, "192.0.2.1", "10.1.0.12", Protocol::kTcp, 22));
}

TEST(PostureTest, UnknownPostureIsNotFoundAndNamesTheDeclaredOnes) {
  absl::StatusOr<Policy> p = PostureApplied(Lockdown().Finish(), "lockdwn");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("lockdown"), std::string::npos) << p.status();
}

// ------------------------------------------------------------ property test

class RandomPostureMaker {
 public:
  explicit RandomPostureMaker(uint32_t seed) : rng_(seed) {}
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int>(v.size()) - 1)];
  }

  Policy Make() {
    PolicyBuilder b;
    int zones = Uniform(2, 5);
    for (int z = 0; z < zones; ++z) {
      std::string name = absl::StrCat("z", z);
      if (z == 0 && Chance(0.4)) {
        b.Zone(name, {"0.0.0.0/0", "::/0"}, true);
      } else {
        bool external = Chance(0.2);
        b.Zone(name, {absl::StrCat("10.0.", z, ".0/24"), absl::StrCat("2001:db8:", z, "::/120")},
               external);
        if (!external) internal_.push_back(z);
      }
      zones_.push_back(name);
    }
    ends_ = zones_;
    for (int h = 0; h < 5 && !internal_.empty(); ++h) {
      int z = Pick(internal_);
      std::string name = absl::StrCat("h", h);
      std::vector<std::string> addrs{absl::StrCat("10.0.", z, ".", 10 + h)};
      if (Chance(0.3)) addrs.push_back(absl::StrCat("2001:db8:", z, "::", 10 + h));
      b.Host(name, addrs);
      ends_.push_back(name);
    }
    static const std::vector<std::string> kPorts = {"tcp/20-25", "tcp/22",    "tcp/443",
                                                    "udp/53",    "udp/50-60", "sctp/25",
                                                    "icmp",      "icmpv6",    "icmp/echo-request"};
    for (int s = 0; s < 4; ++s) {
      std::vector<std::string> ports{Pick(kPorts)};
      if (Chance(0.5)) ports.push_back(Pick(kPorts));
      b.Service(absl::StrCat("s", s), ports);
      services_.push_back(absl::StrCat("s", s));
    }
    services_.push_back("any");
    if (Chance(0.3)) b.Controller({"10.0.1.2"}, 7443);
    for (int f = Uniform(2, 9); f > 0; --f) {
      PolicyBuilder::FlowSpec spec;
      spec.from = {Pick(ends_)};
      if (Chance(0.4)) spec.from.push_back(Pick(ends_));
      spec.to = {Pick(ends_)};
      if (Chance(0.4)) spec.to.push_back(Pick(ends_));
      spec.services = {Pick(services_)};
      spec.deny = Chance(0.25);
      if (Chance(0.25)) spec.sources = {absl::StrCat("10.0.", Uniform(0, zones - 1), ".0/28")};
      spec.active = Chance(0.9);
      b.Flow(spec);
    }
    PolicyBuilder::PostureSpec posture{.name = "p"};
    for (int k = Uniform(1, 3); k > 0; --k) posture.isolate.push_back(Pick(ends_));
    for (int k = Uniform(0, 2); k > 0; --k) {
      PolicyBuilder::PostureAllowSpec a{Pick(zones_), {}};
      if (Chance(0.6)) a.services.push_back(Pick(services_));
      posture.allow.push_back(a);
    }
    b.Posture(posture);
    return ValidOnly(b);
  }

 private:
  // Drops flows naming external zones on both sides (the loader refuses them).
  Policy ValidOnly(const PolicyBuilder& b) {
    Policy p = b.Finish();
    std::erase_if(p.flows, [&](const Flow& f) {
      auto ext = [&](const std::vector<Endpoint>& ends) {
        return std::any_of(ends.begin(), ends.end(), [&](const Endpoint& e) {
          return e.kind == Endpoint::Kind::kZone && p.zones[e.id].external;
        });
      };
      return ext(f.from) && ext(f.to);
    });
    return p;
  }

  std::mt19937 rng_;
  std::vector<std::string> zones_, ends_, services_;
  std::vector<int> internal_;
};

std::vector<Address> Representatives(const Policy& p) {
  std::map<Family, std::set<absl::uint128>> cuts;
  auto range = [&](Family f, absl::uint128 lo, absl::uint128 hi) {
    cuts[f].insert(lo);
    if (hi != FamilyMax(f)) cuts[f].insert(hi + 1);
  };
  for (const ZoneSegment& s : p.segments) range(s.family, s.lo, s.hi);
  for (const Host& h : p.hosts)
    for (const Address& a : h.addresses) range(a.family, a.value, a.value);
  for (const Flow& f : p.flows) {
    if (!f.sources) continue;
    for (const Prefix& pre : *f.sources) range(pre.Range().family, pre.Range().lo, pre.Range().hi);
  }
  if (p.settings.controller)
    for (const Address& a : p.settings.controller->addresses) range(a.family, a.value, a.value);
  std::vector<Address> out;
  for (auto& [f, values] : cuts)
    for (absl::uint128 v : values) out.push_back({f, v});
  return out;
}

std::vector<std::pair<Protocol, int>> RepresentativePorts(const Policy& p) {
  std::vector<std::pair<Protocol, int>> out;
  for (Protocol proto : ServiceSpace::kProtocols) {
    std::set<int> cuts{IsIcmp(proto) ? 0 : 1};
    for (const Service& s : p.services) {
      for (const ServicePort& sp : s.ports) {
        if (sp.protocol != proto) continue;
        cuts.insert(std::max<int>(sp.lo, 1));
        if (sp.hi < ServiceSpace::MaxPort(proto)) cuts.insert(sp.hi + 1);
      }
    }
    if (p.settings.controller && proto == Protocol::kTcp) {
      cuts.insert(p.settings.controller->port);
      cuts.insert(p.settings.controller->port + 1);
    }
    for (int c : cuts) out.push_back({proto, c});
  }
  return out;
}

// Spec §6a, stated address by address: what the posture keeps of a
// connection the policy allows. nullopt: everything; an empty space: nothing.
struct Oracle {
  const Policy& p;
  const Posture& posture;

  bool ZoneIsolated(ZoneId z) const {
    for (const Endpoint& e : posture.isolate)
      if (e.kind == Endpoint::Kind::kZone && e.id == z) return true;
    return false;
  }
  bool IsolatedAddress(const Address& a) const {
    if (ZoneIsolated(*p.Classify(a))) return true;
    for (const Endpoint& e : posture.isolate) {
      if (e.kind != Endpoint::Kind::kHost) continue;
      for (const Address& x : p.hosts[e.id].addresses)
        if (x == a) return true;
    }
    return false;
  }
  // Whether an isolated end keeps (protocol, port) towards zone `other`.
  bool Keeps(ZoneId other, Protocol proto, int port) const {
    if (ZoneIsolated(other)) return true;
    bool named = false, keeps = false;
    for (const PostureAllow& a : posture.allow) {
      if (a.zone != other) continue;
      named = true;
      keeps |= a.services.empty() || SpaceOfServices(p, a.services).Contains(proto, port);
    }
    return named && keeps;
  }
  bool Allows(const Connection& c) const {
    ZoneId sz = *p.Classify(c.source), dz = *p.Classify(c.destination);
    if (IsolatedAddress(c.source) && !Keeps(dz, c.protocol, c.port)) return false;
    if (IsolatedAddress(c.destination) && !Keeps(sz, c.protocol, c.port)) return false;
    return true;
  }
};

TEST(PostureProperty, DecisionsAreThePolicysMinusExactlyTheCutOfSpec6a) {
  int cut_seen = 0, kept_seen = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    RandomPostureMaker maker(seed);
    Policy policy = maker.Make();
    absl::StatusOr<Policy> effective = PostureApplied(policy, "p");
    ASSERT_TRUE(effective.ok()) << effective.status();
    Oracle oracle{policy, policy.postures[0]};
    std::vector<Address> addrs = Representatives(policy);
    std::vector<std::pair<Protocol, int>> ports = RepresentativePorts(policy);
    for (const Address& s : addrs) {
      if (!policy.Classify(s)) continue;
      for (const Address& d : addrs) {
        if (!policy.Classify(d) || s.family != d.family) continue;
        for (const auto& [proto, port] : ports) {
          Connection c{s, d, proto, static_cast<uint16_t>(port)};
          Verdict before = Decide(policy, c);
          Verdict after = Decide(*effective, c);
          bool expected = before.allowed && (before.anti_lockout || oracle.Allows(c));
          ASSERT_EQ(after.allowed, expected)
              << "seed " << seed << ": " << s.ToString() << " -> " << d.ToString() << " "
              << ProtocolName(proto) << "/" << port << " policy allows: " << before.allowed;
          if (before.allowed && !after.allowed) ++cut_seen;
          if (before.allowed && after.allowed && oracle.IsolatedAddress(s)) ++kept_seen;
        }
      }
    }
  }
  // The generator must exercise both outcomes, or the test proves nothing.
  EXPECT_GT(cut_seen, 100);
  EXPECT_GT(kept_seen, 100);
}

}  // namespace
}  // namespace polder
