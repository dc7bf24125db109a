#include "compiler/render/graph_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compiler/testing/policy_builder.h"
#include "compiler/verify/invariants.h"

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PolicyBuilder;

Policy Sample() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24"})
      .Zone("mgmt", {"10.0.0.0/24"})
      .Host("web-1", {"10.1.0.11"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432", "tcp/5433"})
      .Controller({"10.0.0.2"}, 7443)
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"web"},
             .to = {"db"},
             .services = {"pg"},
             .deny = true,
             .sources = {"10.1.0.0/25"}});
  Invariant inv;
  inv.name = "no-internet-to-db";
  inv.kind = InvariantKind::kNoPath;
  inv.from = b.Zones({"internet"});
  inv.to = b.Zones({"db"});
  b.Invariant(inv);
  return b.Finish();
}

DiagnosticList Violations(const Policy& p, const ZoneGraph& g) {
  DiagnosticList out;
  CheckInvariants(p, g, out);
  return out;
}

TEST(GraphExportTest, LabelsUseServiceNamesUnlessDeniesNarrowTheEdge) {
  Policy p = Sample();
  ZoneGraph g = BuildZoneGraph(p);
  EXPECT_EQ(EdgeLabel(p, *g.Edge(*p.FindZone("internet"), *p.FindZone("web"))), "https");
  // The deny only covers part of web, so the edge still carries all of pg.
  EXPECT_EQ(EdgeLabel(p, *g.Edge(*p.FindZone("web"), *p.FindZone("db"))), "pg");
  EXPECT_EQ(EdgeLabel(p, *g.Edge(*p.FindZone("web"), *p.FindZone("mgmt"))), "controller tcp/7443");
}

TEST(GraphExportTest, DotMarksExternalZonesAntiLockoutAndViolations) {
  Policy p = Sample();
  ZoneGraph g = BuildZoneGraph(p);
  std::string dot = ToDot(p, g, Violations(p, g));
  EXPECT_THAT(dot, HasSubstr("digraph polder {"));
  EXPECT_THAT(dot, HasSubstr("\"internet\" [shape=box, style=\"filled,dashed\""));
  EXPECT_THAT(dot, HasSubstr("\"internet\" -> \"web\" [label=\"https\\nviolates "
                             "no-internet-to-db\", color=red"));
  // Anti-lockout-only edges are summarised on the controller's zone.
  EXPECT_THAT(dot, Not(HasSubstr("\"web\" -> \"mgmt\"")));
  EXPECT_THAT(dot, HasSubstr("\"mgmt\" [color=\"#3366cc\", label=\"mgmt\\n(controller: tcp/7443 "
                             "from 1 zone)\"]"));
  std::string clean = ToDot(p, g, DiagnosticList());
  EXPECT_THAT(clean, Not(HasSubstr("color=red")));
}

TEST(GraphExportTest, JsonListsEdgesWithFlowsAndViolations) {
  Policy p = Sample();
  ZoneGraph g = BuildZoneGraph(p);
  auto j = nlohmann::json::parse(ToGraphJson(p, g, Violations(p, g)));
  ASSERT_EQ(j["zones"].size(), 4u);
  EXPECT_TRUE(j["zones"][0]["external"].get<bool>());
  bool found = false;
  for (const auto& e : j["edges"]) {
    if (e["from"] != "web" || e["to"] != "db") continue;
    found = true;
    EXPECT_EQ(e["services"], nlohmann::json::parse(R"(["tcp/5432-5433"])"));
    EXPECT_EQ(e["flows"][0]["location"], "flows.yaml:2");
    EXPECT_EQ(e["narrowed_by"][0]["location"], "flows.yaml:3");
    EXPECT_EQ(e["violates"][0], "no-internet-to-db");
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace polder
