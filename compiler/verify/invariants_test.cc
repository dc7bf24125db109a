#include "compiler/verify/invariants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::PolicyBuilder;

// internet -> dmz -> app -> db, office -> bastion -> db, office -> app.
PolicyBuilder Net() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("dmz", {"10.1.0.0/24"})
      .Zone("app", {"10.2.0.0/24"})
      .Zone("db", {"10.3.0.0/24"})
      .Zone("office", {"10.4.0.0/24"})
      .Zone("bastion", {"10.5.0.0/24"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"})
      .Service("ssh", {"tcp/22"})
      .Flow({.from = {"internet"}, .to = {"dmz"}, .services = {"https"}})
      .Flow({.from = {"dmz"}, .to = {"app"}, .services = {"https"}})
      .Flow({.from = {"app"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"office"}, .to = {"bastion"}, .services = {"ssh"}})
      .Flow({.from = {"bastion"}, .to = {"db"}, .services = {"ssh"}})
      .Flow({.from = {"office"}, .to = {"app"}, .services = {"ssh"}});
  return b;
}

Invariant Make(const PolicyBuilder& b, std::string name, InvariantKind kind,
               std::vector<std::string> from, std::vector<std::string> to) {
  Invariant inv;
  inv.name = std::move(name);
  inv.kind = kind;
  inv.from = b.Zones(from);
  inv.to = b.Zones(to);
  return inv;
}

DiagnosticList Check(const Policy& p) {
  DiagnosticList out;
  CheckInvariants(p, BuildZoneGraph(p), out);
  return out;
}

std::vector<std::string> Zones(const Diagnostic& d) {
  std::vector<std::string> out;
  for (const PathStep& s : d.path) out.push_back(s.zone);
  return out;
}

TEST(InvariantsTest, NoPathReportsAShortestPathWithFlows) {
  PolicyBuilder b = Net();
  b.Invariant(Make(b, "no-internet-to-db", InvariantKind::kNoPath, {"internet"}, {"db"}));
  b.Invariant(Make(b, "no-db-to-internet", InvariantKind::kNoPath, {"db"}, {"internet"}));
  DiagnosticList out = Check(b.Finish());
  ASSERT_EQ(out.items().size(), 1u);
  const Diagnostic& d = out.items()[0];
  EXPECT_EQ(d.code, "invariant-violated");
  EXPECT_EQ(d.invariant, "no-internet-to-db");
  EXPECT_EQ(d.location.FileLine(), "invariants.yaml:1");
  EXPECT_THAT(Zones(d), ElementsAre("internet", "dmz", "app", "db"));
  EXPECT_THAT(d.path[3].flows, ElementsAre("flows.yaml:3"));
  EXPECT_THAT(d.message, HasSubstr("db is reachable from internet; shortest path: internet -> dmz "
                                   "(flows.yaml:1) -> app (flows.yaml:2) -> db (flows.yaml:3)"));
}

TEST(InvariantsTest, AViolationSaysWhenItsPathUsesTheAntiLockout) {
  // web's hosts reach the controller's zone, where a jump host reaches db.
  PolicyBuilder b;
  b.Zone("web", {"10.1.0.0/24"})
      .Zone("control", {"10.0.0.0/24"})
      .Zone("db", {"10.3.0.0/24"})
      .Host("web-1", {"10.1.0.10"})
      .Host("jump-1", {"10.0.0.3"})
      .Controller({"10.0.0.2"}, 7443)
      .Flow({.from = {"control"}, .to = {"db"}});
  b.Invariant(Make(b, "web-not-to-db", InvariantKind::kNoPath, {"web"}, {"db"}));
  DiagnosticList out = Check(b.Finish());
  ASSERT_EQ(out.items().size(), 1u);
  const Diagnostic& d = out.items()[0];
  EXPECT_THAT(Zones(d), ElementsAre("web", "control", "db"));
  EXPECT_THAT(d.path[1].flows, ElementsAre("settings.yaml:2 <anti-lockout settings.controller>"));
  EXPECT_THAT(d.message, HasSubstr("The path uses the anti-lockout of settings.controller "
                                   "(settings.yaml:2) on web -> control, which no flow makes"));
  // Without the anti-lockout on the path, nothing is said about it.
  DiagnosticList plain = Check(
      Net()
          .Invariant(Make(Net(), "no-internet-to-db", InvariantKind::kNoPath, {"internet"}, {"db"}))
          .Finish());
  ASSERT_EQ(plain.items().size(), 1u);
  EXPECT_THAT(plain.items()[0].message, Not(HasSubstr("anti-lockout")));
}

TEST(InvariantsTest, IsolateCountsPathsThroughExceptedZones) {
  PolicyBuilder b = Net();
  Invariant inv = Make(b, "db-isolated", InvariantKind::kIsolate, {}, {"db"});
  inv.except = b.Zones({"app", "bastion"});
  b.Invariant(inv);
  DiagnosticList out = Check(b.Finish());
  // internet (via dmz, app), dmz (via app) and office (via bastion or app).
  std::vector<std::vector<std::string>> paths;
  for (const Diagnostic& d : out.items()) paths.push_back(Zones(d));
  EXPECT_THAT(paths, ElementsAre(ElementsAre("internet", "dmz", "app", "db"),
                                 ElementsAre("dmz", "app", "db"), ::testing::SizeIs(3)));
  EXPECT_EQ(paths[2][0], "office");
}

TEST(InvariantsTest, ViaFindsThePathThatAvoidsTheWaypoint) {
  PolicyBuilder b = Net();
  Invariant inv = Make(b, "admin-via-bastion", InvariantKind::kVia, {"office"}, {"db"});
  inv.through = b.Zones({"bastion"});
  b.Invariant(inv);
  DiagnosticList out = Check(b.Finish());
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(Zones(out.items()[0]), ElementsAre("office", "app", "db"));
  EXPECT_THAT(out.items()[0].message, HasSubstr("without passing through bastion"));

  PolicyBuilder ok = Net();
  ok.Flow({.from = {"office"}, .to = {"app"}, .deny = true});
  inv.from = ok.Zones({"office"});
  ok.Invariant(inv);
  EXPECT_THAT(Check(ok.Finish()).items(), IsEmpty());
}

TEST(InvariantsTest, ExposureCountsEveryPort) {
  PolicyBuilder b = Net();
  b.Service("web", {"tcp/80", "tcp/443", "tcp/8000-8099"})
      .Service("all-tcp", {"tcp/1-65535"})
      .Service("ping", {"icmp/echo-request", "icmpv6"})
      .Flow({.from = {"internet"}, .to = {"dmz"}, .services = {"web"}})
      .Flow({.from = {"internet"}, .to = {"app"}, .services = {"any"}})
      .Flow({.from = {"internet"}, .to = {"office"}, .services = {"all-tcp"}})
      .Flow({.from = {"internet"}, .to = {"bastion"}, .services = {"ping"}});
  Policy p = b.Finish();
  ZoneGraph g = BuildZoneGraph(p);
  std::vector<ZoneId> internet = b.Zones({"internet"});
  // dmz: 1 + 1 + 100 (already had tcp/443); app: 3 x 65,535 + 2 x 256;
  // office: 65,535 (port 0 does not count); bastion: 1 + 256.
  EXPECT_EQ(ExposureCount(Exposure(g, internet)), 102 + 197117 + 65535 + 257);
  EXPECT_EQ(PortCount(ServicePort{Protocol::kTcp, 0, 65535}), 65535);
  EXPECT_EQ(PortCount(*ServicePort::Parse("icmp")), 256);
  Invariant inv = Make(b, "small-surface", InvariantKind::kExposure, {"internet"}, {});
  inv.max = 102 + 197117 + 65535 + 257;
  p.invariants = {inv};
  EXPECT_THAT(Check(p).items(), IsEmpty());
  p.invariants[0].max -= 1;
  DiagnosticList out = Check(p);
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(out.items()[0].message, HasSubstr("reaches 263011 distinct (zone, protocol, port)"));
}

TEST(InvariantsTest, ServiceScopedViaConcernsOnlyPathsEndingWithTheService) {
  // office -> app (ssh) -> db (pg) is left alone; office -> bastion -> db (ssh) passes.
  PolicyBuilder b = Net();
  Invariant inv = Make(b, "ssh-via-bastion", InvariantKind::kVia, {"office"}, {"db"});
  inv.through = b.Zones({"bastion"});
  inv.services = {*b.Finish().FindService("ssh")};
  b.Invariant(inv);
  EXPECT_THAT(Check(b.Finish()).items(), IsEmpty());
  // An ssh edge app -> db: office -> app -> db now ends with ssh.
  b.Flow({.from = {"app"}, .to = {"db"}, .services = {"ssh"}});
  DiagnosticList out = Check(b.Finish());
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(Zones(out.items()[0]), ElementsAre("office", "app", "db"));
  EXPECT_THAT(out.items()[0].message, HasSubstr("by a path whose last edge carries ssh"));
}

TEST(InvariantsTest, ServiceScopedNoPathFindsTheShortestQualifyingPath) {
  PolicyBuilder b = Net();
  Invariant inv = Make(b, "no-ssh-into-db", InvariantKind::kNoPath, {"internet"}, {"db"});
  inv.services = {*b.Finish().FindService("ssh")};
  b.Invariant(inv);
  EXPECT_THAT(Check(b.Finish()).items(), IsEmpty());  // internet's path ends with pg
  b.Flow({.from = {"dmz"}, .to = {"bastion"}, .services = {"https"}});
  DiagnosticList out = Check(b.Finish());
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(Zones(out.items()[0]), ElementsAre("internet", "dmz", "bastion", "db"));
}

TEST(InvariantsTest, ReachNamesThePairsThatFailAndWhy) {
  PolicyBuilder b = Net();
  Invariant inv = Make(b, "office-reaches", InvariantKind::kReach, {"office"}, {"db", "app"});
  b.Invariant(inv);
  EXPECT_THAT(Check(b.Finish()).items(), IsEmpty());
  Policy p = b.Finish();
  p.invariants[0].services = {*p.FindService("ssh")};
  EXPECT_THAT(Check(p).items(), IsEmpty());  // bastion -> db and office -> app carry ssh
  p.invariants[0].services = {*p.FindService("pg")};
  DiagnosticList out = Check(p);
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(out.items()[0].message,
              HasSubstr("office -> app (no path whose last edge carries every port of pg)"));
  EXPECT_THAT(out.items()[0].message, Not(HasSubstr("office -> db")));
  p.invariants[0].services = {};
  p.invariants[0].direct = true;
  out = Check(p);
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(out.items()[0].message, HasSubstr("office -> db (not in one edge"));
  p.invariants[0].from = p.invariants[0].to = {*p.FindZone("db")};
  p.invariants[0].direct = false;
  out = Check(p);
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(out.items()[0].message, HasSubstr("db -> db (no path)"));
}

TEST(InvariantsTest, ExposureCountsZoneProtocolRangeTriples) {
  PolicyBuilder b = Net();
  b.Service("web", {"tcp/80", "tcp/443", "tcp/8000-8099"})
      .Flow({.from = {"internet"}, .to = {"dmz"}, .services = {"web"}})
      .Flow({.from = {"internet"}, .to = {"app"}, .services = {"any"}});
  Invariant inv = Make(b, "small-surface", InvariantKind::kExposure, {"internet"}, {});
  Policy p = b.Finish();
  ZoneGraph g = BuildZoneGraph(p);
  // dmz: tcp/80, tcp/443, tcp/8000-8099; app: any.
  EXPECT_EQ(Exposure(g, inv.from).size(), 4u);
  inv.max = 102 + 197117;
  p.invariants = {inv};
  EXPECT_THAT(Check(p).items(), IsEmpty());
  p.invariants[0].max = 102 + 197116;
  DiagnosticList out = Check(p);
  ASSERT_EQ(out.items().size(), 1u);
  EXPECT_THAT(out.items()[0].message,
              HasSubstr("dmz tcp/80; dmz tcp/443; dmz tcp/8000-8099; app any"));
}

}  // namespace
}  // namespace polder
