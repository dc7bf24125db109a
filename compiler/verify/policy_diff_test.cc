#include "compiler/verify/policy_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "compiler/model/verdict.h"
#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PolicyBuilder;

PolicyBuilder Chain() {
  PolicyBuilder b;
  b.Zone("a", {"10.1.0.0/24"})
      .Zone("b", {"10.2.0.0/24"})
      .Zone("c", {"10.3.0.0/24"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"})
      .Flow({.from = {"a"}, .to = {"b"}, .services = {"https"}});
  return b;
}

PolicyDiff Diff(const Policy& x, const Policy& y) {
  return DiffPolicies(x, BuildZoneGraph(x), y, BuildZoneGraph(y));
}

TEST(PolicyDiffTest, IdenticalPoliciesHaveNoDiff) {
  Policy p = Chain().Finish();
  EXPECT_TRUE(Diff(p, p).Empty());
  EXPECT_EQ(FormatDiff(Diff(p, p)), "no change in access, reachability or flow metadata\n");
}

TEST(PolicyDiffTest, OneNewFlowAddsAnEdgeAndTransitivePairs) {
  Policy before = Chain().Finish();
  Policy after = Chain().Flow({.from = {"b"}, .to = {"c"}, .services = {"pg"}}).Finish();
  PolicyDiff d = Diff(before, after);
  ASSERT_EQ(d.edges.size(), 1u);
  EXPECT_EQ(d.edges[0].change, Change::kAdded);
  EXPECT_EQ(d.edges[0].from, "b");
  EXPECT_EQ(d.edges[0].services_after, "tcp/5432");
  EXPECT_THAT(d.edges[0].flows, ElementsAre("flows.yaml:2"));
  std::vector<std::string> pairs;
  for (const PairChange& p : d.pairs) {
    EXPECT_EQ(p.change, Change::kAdded);
    pairs.push_back(p.from + ">" + p.to);
  }
  EXPECT_THAT(pairs, ElementsAre("a>c", "b>c"));
  EXPECT_EQ(d.pairs[0].path.size(), 3u);
  EXPECT_THAT(FormatDiff(d), HasSubstr("+ c is now reachable from a by a -> b (flows.yaml:1) -> "
                                       "c (flows.yaml:2)"));
  // And the other way round, everything is removed.
  PolicyDiff back = Diff(after, before);
  ASSERT_EQ(back.edges.size(), 1u);
  EXPECT_EQ(back.edges[0].change, Change::kRemoved);
  EXPECT_EQ(back.pairs.size(), 2u);
  EXPECT_EQ(back.pairs[0].change, Change::kRemoved);
}

TEST(PolicyDiffTest, NarrowedServicesAreAChangedEdge) {
  Policy before = Chain().Finish();
  Policy after = Chain().Flow({.from = {"a"}, .to = {"b"}, .services = {"pg"}}).Finish();
  PolicyDiff d = Diff(before, after);
  ASSERT_EQ(d.edges.size(), 1u);
  EXPECT_EQ(d.edges[0].change, Change::kChanged);
  EXPECT_EQ(d.edges[0].services_before, "tcp/443");
  EXPECT_EQ(d.edges[0].services_after, "tcp/443, tcp/5432");
  EXPECT_TRUE(d.pairs.empty());
}

// Spec §9: a longer expiry with a new owner changes no reachability today but
// is what a reviewer must see.
TEST(PolicyDiffTest, ExpiryAndOwnerChangesAreReported) {
  Policy before = Chain()
                      .Flow({.from = {"b"},
                             .to = {"c"},
                             .name = "supplier",
                             .expires = absl::FromUnixSeconds(1800000000)})
                      .Finish();
  Policy after = before;
  after.flows[1].expires = absl::FromUnixSeconds(1800000000 + 3 * 365 * 86400);
  after.flows[1].owner = "new-team";
  PolicyDiff d = Diff(before, after);
  EXPECT_TRUE(d.edges.empty());
  EXPECT_TRUE(d.pairs.empty());
  ASSERT_EQ(d.metadata.size(), 2u);
  EXPECT_FALSE(d.Empty());
  EXPECT_EQ(d.metadata[0].flow, "supplier");
  EXPECT_EQ(d.metadata[0].field, "expires");
  EXPECT_EQ(d.metadata[0].before, "2027-01-15T08:00:00Z");
  EXPECT_EQ(d.metadata[1].field, "owner");
  EXPECT_EQ(d.metadata[1].after, "new-team");
  EXPECT_THAT(FormatDiff(d),
              HasSubstr("~ flows.yaml:2  flow `supplier` owner: (none) => new-team"));
}

// Issue 9: widening a host-level flow to its zone changes no zone edge, yet every other
// address of the zone gains access.
TEST(PolicyDiffTest, WideningAHostLevelFlowIsAnAccessChange) {
  PolicyBuilder base = Chain();
  base.Host("a-1", {"10.1.0.10"}).Host("c-1", {"10.3.0.10"});
  Policy before =
      PolicyBuilder(base).Flow({.from = {"a-1"}, .to = {"c-1"}, .services = {"pg"}}).Finish();
  Policy after =
      PolicyBuilder(base).Flow({.from = {"a"}, .to = {"c-1"}, .services = {"pg"}}).Finish();
  PolicyDiff d = Diff(before, after);
  EXPECT_TRUE(d.edges.empty());
  EXPECT_TRUE(d.pairs.empty());
  ASSERT_EQ(d.access.size(), 1u);
  const AccessChange& a = d.access[0];
  EXPECT_EQ(a.change, Change::kAdded);
  EXPECT_EQ(a.from, "a");  // the zone's other addresses: a-1 is named by a flow
  EXPECT_FALSE(a.from_is_host);
  EXPECT_TRUE(a.from_whole);
  EXPECT_EQ(a.from_addresses.ToString(), "10.1.0.0-10.1.0.9, 10.1.0.11-10.1.0.255");
  EXPECT_EQ(a.to, "c-1");
  EXPECT_TRUE(a.to_is_host);
  EXPECT_EQ(a.services.ToString(), "tcp/5432");
  EXPECT_THAT(a.flows, ElementsAre("flows.yaml:2"));
  EXPECT_FALSE(d.Empty());
  EXPECT_THAT(FormatDiff(d), HasSubstr("+ a -> c-1: tcp/5432 becomes allowed (flows.yaml:2)"));
  // Back again: the same pairs become denied, citing the flow that allowed them.
  PolicyDiff back = Diff(after, before);
  ASSERT_EQ(back.access.size(), 1u);
  EXPECT_EQ(back.access[0].change, Change::kRemoved);
  EXPECT_THAT(FormatDiff(back),
              HasSubstr("- a -> c-1: tcp/5432 becomes denied; was allowed by flows.yaml:2"));
}

TEST(PolicyDiffTest, NarrowedSourcesNameThePartThatLosesAccess) {
  Policy before = Chain().Finish();
  Policy after =
      Chain().Flow({.from = {"a"}, .to = {"b"}, .deny = true, .sources = {"10.1.0.0/25"}}).Finish();
  PolicyDiff d = Diff(before, after);
  ASSERT_EQ(d.access.size(), 1u);
  EXPECT_EQ(d.access[0].change, Change::kRemoved);
  EXPECT_FALSE(d.access[0].from_whole);
  EXPECT_TRUE(d.access[0].to_whole);
  EXPECT_THAT(FormatDiff(d), HasSubstr("- a (10.1.0.0/25 only) -> b: tcp/443 becomes denied; was "
                                       "allowed by flows.yaml:1; now denied by flows.yaml:2"));
}

TEST(PolicyDiffTest, PortClassesAreRangesPerProtocol) {
  Policy before = Chain().Service("alt", {"tcp/8000-8099", "udp/53"}).Finish();
  Policy after = Chain()
                     .Service("alt", {"tcp/8000-8099", "udp/53"})
                     .Flow({.from = {"a"}, .to = {"b"}, .services = {"alt"}})
                     .Finish();
  PolicyDiff d = Diff(before, after);
  ASSERT_EQ(d.access.size(), 1u);
  EXPECT_EQ(d.access[0].services.ToString(), "tcp/8000-8099, udp/53");
  ASSERT_EQ(d.edges.size(), 1u);
  EXPECT_EQ(d.edges[0].change, Change::kChanged);
}

// The access changes are computed only where some flow differs, per address class; they
// must agree with AllowedServices() (the packet-level rules) for every address pair.
TEST(PolicyDiffTest, AccessChangesAgreeWithAllowedServicesOnRandomPolicies) {
  std::mt19937 rng(20261202);
  const std::vector<std::string> ends = {"a", "b", "c", "a-1", "b-1", "c-1"};
  const std::vector<std::string> services = {"https", "web", "dns", "any"};
  const std::vector<std::string> sources = {"10.1.0.0/25", "10.2.0.0/28", "2001:db8:3::/120"};
  auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  auto random_flow = [&]() {
    PolicyBuilder::FlowSpec f{
        .from = {pick(ends)}, .to = {pick(ends)}, .services = {pick(services)}};
    f.deny = rng() % 5 == 0;
    if (rng() % 5 == 0) f.sources = {pick(sources)};
    f.active = rng() % 8 != 0;
    return f;
  };
  std::vector<Address> samples;
  for (const char* a : {"10.1.0.0", "10.1.0.10", "10.1.0.11", "10.1.0.200", "10.2.0.0", "10.2.0.10",
                        "10.2.0.99", "10.3.0.0", "10.3.0.10", "10.3.0.77",
                        "2001:db8:3::", "2001:db8:3::10", "2001:db8:3::1:0"}) {
    samples.push_back(*Address::Parse(a));
  }
  for (int round = 0; round < 150; ++round) {
    std::vector<PolicyBuilder::FlowSpec> flows;
    for (int i = 0, n = 2 + rng() % 5; i < n; ++i) flows.push_back(random_flow());
    std::vector<PolicyBuilder::FlowSpec> changed = flows;
    switch (rng() % 3) {
      case 0:
        changed.erase(changed.begin() + rng() % changed.size());
        break;
      case 1:
        changed.push_back(random_flow());
        break;
      default:
        changed[rng() % changed.size()] = random_flow();
    }
    auto build = [&](const std::vector<PolicyBuilder::FlowSpec>& specs, bool controller) {
      PolicyBuilder b;
      b.Zone("a", {"10.1.0.0/24"})
          .Zone("b", {"10.2.0.0/24"})
          .Zone("c", {"10.3.0.0/24", "2001:db8:3::/64"})
          .Host("a-1", {"10.1.0.10"})
          .Host("b-1", {"10.2.0.10"})
          .Host("c-1", {"10.3.0.10", "2001:db8:3::10"})
          .Service("https", {"tcp/443"})
          .Service("web", {"tcp/400-500"})
          .Service("dns", {"udp/53", "tcp/53"});
      if (controller) b.Controller({"10.3.0.10"}, 7443);
      for (const auto& f : specs) b.Flow(f);
      return b.Finish();
    };
    bool c0 = rng() % 2, c1 = rng() % 4 == 0 ? !c0 : c0;
    Policy before = build(flows, c0), after = build(changed, c1);
    PolicyDiff d = Diff(before, after);
    for (const Address& s : samples) {
      for (const Address& t : samples) {
        if (s == t || s.family != t.family) continue;
        ServiceSpace old_space = AllowedServices(before, s, t);
        ServiceSpace new_space = AllowedServices(after, s, t);
        ServiceSpace added, removed;
        for (const AccessChange& a : d.access) {
          if (!a.from_addresses.Contains(s) || !a.to_addresses.Contains(t)) continue;
          (a.change == Change::kAdded ? added : removed).Add(a.services);
        }
        std::string where = absl::StrCat("round ", round, " ", s.ToString(), " -> ", t.ToString());
        ASSERT_EQ(added, new_space.Subtract(old_space)) << where << "\n" << FormatDiff(d);
        ASSERT_EQ(removed, old_space.Subtract(new_space)) << where << "\n" << FormatDiff(d);
      }
    }
  }
}

TEST(PolicyDiffTest, ClosureHandlesCyclesAndSelfLoops) {
  Policy p = Chain().Flow({.from = {"b"}, .to = {"a"}}).Flow({.from = {"c"}, .to = {"c"}}).Finish();
  auto r = TransitiveClosure(BuildZoneGraph(p));
  EXPECT_THAT(r[0], ElementsAre(true, true, false));
  EXPECT_THAT(r[1], ElementsAre(true, true, false));
  EXPECT_THAT(r[2], ElementsAre(false, false, true));
  Policy dag = Chain().Flow({.from = {"b"}, .to = {"c"}}).Finish();
  auto d = TransitiveClosure(BuildZoneGraph(dag));
  EXPECT_THAT(d[0], ElementsAre(false, true, true));
  EXPECT_THAT(d[2], ElementsAre(false, false, false));
}

}  // namespace
}  // namespace polder
