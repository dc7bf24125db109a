#include "compiler/verify/zone_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::PolicyBuilder;

PolicyBuilder ThreeZones() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0", "::/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24", "2001:db8:2::/64"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"});
  return b;
}

ZoneId Z(const Policy& p, const char* name) { return *p.FindZone(name); }

TEST(ZoneGraphTest, AllowMakesEdgeCarryingItsServices) {
  Policy p =
      ThreeZones().Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}}).Finish();
  ZoneGraph g = BuildZoneGraph(p);
  const ZoneEdge* e = g.Edge(Z(p, "internet"), Z(p, "web"));
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->flows, ElementsAre(0));
  EXPECT_EQ(e->services.ToString(), "tcp/443");
  EXPECT_EQ(g.Edge(Z(p, "web"), Z(p, "internet")), nullptr);
  EXPECT_EQ(g.edge_count(), 1);
}

TEST(ZoneGraphTest, FullDenyRemovesEdgePartialDenyNarrowsIt) {
  Policy full = ThreeZones()
                    .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                    .Flow({.from = {"web"}, .to = {"db"}, .services = {"any"}, .deny = true})
                    .Finish();
  ZoneGraph gf = BuildZoneGraph(full);
  EXPECT_EQ(gf.Edge(Z(full, "web"), Z(full, "db")), nullptr);
  EXPECT_FALSE(gf.allow_effective[0]);
  EXPECT_TRUE(gf.deny_used[1]);

  Policy ports = ThreeZones()
                     .Service("both", {"tcp/443", "tcp/5432"})
                     .Flow({.from = {"web"}, .to = {"db"}, .services = {"both"}})
                     .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}, .deny = true})
                     .Finish();
  ZoneGraph gp = BuildZoneGraph(ports);
  const ZoneEdge* e = gp.Edge(Z(ports, "web"), Z(ports, "db"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->services.ToString(), "tcp/443");
  EXPECT_THAT(e->narrowing, ElementsAre(1));
}

TEST(ZoneGraphTest, DenyNarrowedBySourcesLeavesTheRestOfTheZone) {
  Policy p = ThreeZones()
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .deny = true, .sources = {"10.1.0.0/25"}})
                 .Finish();
  ZoneGraph g = BuildZoneGraph(p);
  ASSERT_NE(g.Edge(Z(p, "web"), Z(p, "db")), nullptr);

  Policy all = ThreeZones()
                   .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                   .Flow({.from = {"web"},
                          .to = {"db"},
                          .deny = true,
                          .sources = {"10.1.0.0/25", "10.1.0.128/25"}})
                   .Finish();
  EXPECT_EQ(BuildZoneGraph(all).Edge(Z(all, "web"), Z(all, "db")), nullptr);
}

TEST(ZoneGraphTest, ExpiredFlowsHaveNoEffect) {
  Policy p = ThreeZones()
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}, .active = false})
                 .Finish();
  EXPECT_EQ(BuildZoneGraph(p).edge_count(), 0);
}

TEST(ZoneGraphTest, HostFlowsConnectTheHostsZones) {
  Policy p = ThreeZones()
                 .Host("web-1", {"10.1.0.11"})
                 .Host("db-1", {"10.2.0.5", "2001:db8:2::5"})
                 .Flow({.from = {"web-1"}, .to = {"db-1"}, .services = {"pg"}})
                 // A deny for another host of the zone does not touch web-1.
                 .Flow({.from = {"web"}, .to = {"db"}, .deny = true, .sources = {"10.1.0.12"}})
                 .Finish();
  ZoneGraph g = BuildZoneGraph(p);
  const ZoneEdge* e = g.Edge(Z(p, "web"), Z(p, "db"));
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->flows, ElementsAre(0));
  EXPECT_THAT(e->narrowing, IsEmpty());
  EXPECT_FALSE(g.deny_used[1]);
}

TEST(ZoneGraphTest, NoEdgeBetweenAddressFamilies) {
  // web has IPv4 only and db-6 IPv6 only: no connection can join them, whatever flows say.
  Policy p = ThreeZones()
                 .Zone("db6", {"2001:db8:6::/64"})
                 .Flow({.from = {"web"}, .to = {"db6"}, .services = {"pg"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Finish();
  ZoneGraph g = BuildZoneGraph(p);
  EXPECT_EQ(g.Edge(Z(p, "web"), Z(p, "db6")), nullptr);
  EXPECT_NE(g.Edge(Z(p, "web"), Z(p, "db")), nullptr);
}

TEST(ZoneGraphTest, AntiLockoutGivesManagedZonesAnEdgeToTheController) {
  Policy p = ThreeZones()
                 .Zone("mgmt", {"10.0.0.0/24"})
                 .Host("web-1", {"10.1.0.11"})
                 .Controller({"10.0.0.2"}, 7443)
                 .Flow({.from = {"web"}, .to = {"mgmt"}, .deny = true})
                 .Finish();
  ZoneGraph g = BuildZoneGraph(p);
  const ZoneEdge* e = g.Edge(Z(p, "web"), Z(p, "mgmt"));
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->anti_lockout);
  EXPECT_EQ(e->services.ToString(), "tcp/7443");
  EXPECT_THAT(EdgeCitations(p, *e),
              ElementsAre("settings.yaml:2 <anti-lockout settings.controller>"));
  // db has no managed hosts, so no anti-lockout edge from it.
  EXPECT_EQ(g.Edge(Z(p, "db"), Z(p, "mgmt")), nullptr);
}

TEST(ZoneGraphTest, ShortestPathNeedsAtLeastOneEdgeAndAvoidsBlockedZones) {
  Policy p = ThreeZones()
                 .Zone("bastion", {"10.9.0.0/24"})
                 .Flow({.from = {"internet"}, .to = {"bastion"}})
                 .Flow({.from = {"bastion"}, .to = {"db"}})
                 .Flow({.from = {"internet"}, .to = {"web"}})
                 .Flow({.from = {"web"}, .to = {"web"}})
                 .Finish();
  ZoneGraph g = BuildZoneGraph(p);
  std::vector<bool> db(g.zone_count(), false), web(g.zone_count(), false);
  db[Z(p, "db")] = true;
  web[Z(p, "web")] = true;
  auto path = ShortestPath(g, Z(p, "internet"), db);
  ASSERT_TRUE(path.has_value());
  EXPECT_THAT(*path, ElementsAre(Z(p, "internet"), Z(p, "bastion"), Z(p, "db")));
  std::vector<bool> blocked(g.zone_count(), false);
  blocked[Z(p, "bastion")] = true;
  EXPECT_FALSE(ShortestPath(g, Z(p, "internet"), db, blocked).has_value());
  auto loop = ShortestPath(g, Z(p, "web"), web);
  ASSERT_TRUE(loop.has_value());
  EXPECT_THAT(*loop, ElementsAre(Z(p, "web"), Z(p, "web")));
  EXPECT_FALSE(ShortestPath(g, Z(p, "db"), db).has_value());
  EXPECT_EQ(PathToString(DescribePath(p, g, *path)),
            "internet -> bastion (flows.yaml:1) -> db (flows.yaml:2)");
}

}  // namespace
}  // namespace polder
