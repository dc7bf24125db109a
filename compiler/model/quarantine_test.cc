#include "compiler/model/quarantine.h"

#include <gtest/gtest.h>

#include "compiler/model/revision.h"
#include "compiler/model/verdict.h"
#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using testing::PolicyBuilder;

Policy Fleet() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24"})
      .Zone("mgmt", {"10.9.0.0/24"})
      .Host("web-1", {"10.1.0.11"})
      .Host("web-2", {"10.1.0.12"})
      .Host("db-1", {"10.2.0.5"})
      .Host("mgmt-1", {"10.9.0.5"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"})
      .Service("ssh", {"tcp/22"})
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"mgmt"}, .to = {"web", "db"}, .services = {"ssh"}})
      .Flow({.from = {"web"}, .to = {"web"}})
      .Controller({"10.9.0.2"}, 7443);
  Policy p = b.Finish();
  p.revision = ComputeRevision(p);
  return p;
}

bool Allowed(const Policy& p, const char* from, const char* to, uint16_t port) {
  Connection c{*Address::Parse(from), *Address::Parse(to), Protocol::kTcp, port};
  return Decide(p, c).allowed;
}

TEST(QuarantineTest, HostIsCutOffExceptFromAllowedZonesAndController) {
  Policy base = Fleet();
  auto q = Quarantined(base, {{"web-1", {"mgmt"}, "incident 42"}});
  ASSERT_TRUE(q.ok()) << q.status();
  // The base policy allows all of these.
  ASSERT_TRUE(Allowed(base, "203.0.113.9", "10.1.0.11", 443));
  ASSERT_TRUE(Allowed(base, "10.1.0.11", "10.2.0.5", 5432));
  ASSERT_TRUE(Allowed(base, "10.1.0.12", "10.1.0.11", 80));
  // Cut: into and out of web-1, including from its zone peers.
  EXPECT_FALSE(Allowed(*q, "203.0.113.9", "10.1.0.11", 443));
  EXPECT_FALSE(Allowed(*q, "10.1.0.11", "10.2.0.5", 5432));
  EXPECT_FALSE(Allowed(*q, "10.1.0.12", "10.1.0.11", 80));
  EXPECT_FALSE(Allowed(*q, "10.1.0.11", "10.1.0.12", 80));
  // Kept: the allowed management zone, the controller, and other hosts.
  EXPECT_TRUE(Allowed(*q, "10.9.0.5", "10.1.0.11", 22));
  EXPECT_TRUE(Allowed(*q, "10.1.0.11", "10.9.0.2", 7443));
  EXPECT_TRUE(Allowed(*q, "203.0.113.9", "10.1.0.12", 443));
  EXPECT_TRUE(Allowed(*q, "10.1.0.12", "10.2.0.5", 5432));
  EXPECT_NE(q->revision, base.revision);
}

TEST(QuarantineTest, ZoneTargetCutsTrafficWithinTheZone) {
  Policy base = Fleet();
  auto q = Quarantined(base, {{"web", {}, "worm"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(Allowed(*q, "10.1.0.11", "10.1.0.12", 80));
  EXPECT_FALSE(Allowed(*q, "10.1.0.12", "10.2.0.5", 5432));
  EXPECT_FALSE(Allowed(*q, "10.9.0.5", "10.1.0.11", 22));  // mgmt not allowed this time
  EXPECT_TRUE(Allowed(*q, "10.9.0.5", "10.2.0.5", 22));
  EXPECT_TRUE(Allowed(*q, "10.1.0.11", "10.9.0.2", 7443));
}

TEST(QuarantineTest, RevisionDependsOnTheQuarantines) {
  Policy base = Fleet();
  auto a = Quarantined(base, {{"web-1", {"mgmt"}, "x"}});
  auto b = Quarantined(base, {{"web-2", {"mgmt"}, "x"}});
  auto a2 = Quarantined(base, {{"web-1", {"mgmt"}, "x"}});
  ASSERT_TRUE(a.ok() && b.ok() && a2.ok());
  EXPECT_NE(a->revision, b->revision);
  EXPECT_EQ(a->revision, a2->revision);
  auto none = Quarantined(base, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->revision, base.revision);
}

TEST(QuarantineTest, UnknownNamesAreRefusedAndLeaveThePolicyAlone) {
  Policy p = Fleet();
  size_t flows = p.flows.size();
  EXPECT_EQ(ApplyQuarantine(p, {"nope", {}, "x"}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ApplyQuarantine(p, {"web-1", {"nozone"}, "x"}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ApplyQuarantine(p, {"web-1", {"web"}, "x"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.flows.size(), flows);
}

}  // namespace
}  // namespace polder
