#include "compiler/verify/posture_check.h"

#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/zone_graph.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

// partners reach app on https; backup pulls from db. The posture isolates
// app and db.
PolicyBuilder Plan() {
  PolicyBuilder b;
  b.Zone("partners", {"192.0.2.0/24"}, true)
      .Zone("app", {"10.1.0.0/24"})
      .Zone("db", {"10.3.0.0/24"})
      .Zone("backup", {"10.8.0.0/24"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"})
      .Flow({.from = {"partners"}, .to = {"app"}, .services = {"https"}})
      .Flow({.from = {"backup"}, .to = {"db"}, .services = {"pg"}});
  return b;
}

Invariant Reach(const PolicyBuilder& b, const std::string& from, const std::string& to,
                std::vector<ServiceId> services) {
  Invariant inv;
  inv.kind = InvariantKind::kReach;
  inv.from = b.Zones({from});
  inv.to = b.Zones({to});
  inv.services = std::move(services);
  inv.direct = true;
  return inv;
}

TEST(PostureCheckTest, AKeepThatTheAllowListHonoursHolds) {
  PolicyBuilder b = Plan();
  Policy zones = b.Finish();
  ServiceId https = *zones.FindService("https"), pg = *zones.FindService("pg");
  b.Posture({.name = "lockdown",
             .isolate = {"app", "db"},
             .allow = {{"partners", {"https"}}, {"backup", {}}},
             .keep = {Reach(b, "partners", "app", {https}), Reach(b, "backup", "db", {pg})}});
  DiagnosticList out;
  CheckPostures(b.Finish(), out);
  EXPECT_FALSE(out.HasErrors()) << (out.items().empty() ? "" : out.items()[0].message);
}

TEST(PostureCheckTest, ABrokenKeepIsReportedWithThePosture) {
  PolicyBuilder b = Plan();
  Policy zones = b.Finish();
  ServiceId pg = *zones.FindService("pg");
  // backup is not on the allow list: the plan cuts what it promises to keep.
  b.Posture({.name = "lockdown",
             .isolate = {"app", "db"},
             .allow = {{"partners", {"https"}}},
             .keep = {Reach(b, "backup", "db", {pg})}});
  Policy policy = b.Finish();
  DiagnosticList out;
  EXPECT_EQ(CheckPosture(policy, policy.postures[0], out), 1);
  ASSERT_EQ(out.items().size(), 1u);
  const Diagnostic& d = out.items()[0];
  EXPECT_EQ(d.code, "invariant-violated");
  EXPECT_EQ(d.posture, "lockdown");
  EXPECT_EQ(d.invariant, "lockdown.keep[0]");
  EXPECT_EQ(d.location.file, "postures.yaml");
  EXPECT_NE(d.message.find("in posture lockdown"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("backup -> db"), std::string::npos) << d.message;
}

TEST(PostureCheckTest, AKeepNeedingMoreServicesThanTheEntryKeepsIsBroken) {
  PolicyBuilder b = Plan();
  b.Service("web", {"tcp/80", "tcp/443"});
  b.Flow({.from = {"partners"}, .to = {"app"}, .services = {"web"}});
  Policy zones = b.Finish();
  ServiceId web = *zones.FindService("web");
  b.Posture({.name = "p",
             .isolate = {"app"},
             .allow = {{"partners", {"https"}}},
             .keep = {Reach(b, "partners", "app", {web})}});
  Policy policy = b.Finish();
  DiagnosticList out;
  EXPECT_EQ(CheckPosture(policy, policy.postures[0], out), 1);
  // Without the posture the same entry holds: it is the posture's narrowing that breaks it.
  DiagnosticList plain;
  CheckInvariant(policy, BuildZoneGraph(policy), policy.postures[0].keep[0], plain);
  EXPECT_FALSE(plain.HasErrors());
}

}  // namespace
}  // namespace polder
