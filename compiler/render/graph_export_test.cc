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

TEST(GraphExportTest, PostureCutsAreTheEdgesThePostureGraphLacksOrNarrows) {
  Policy p = Sample();
  ZoneGraph g = BuildZoneGraph(p);
  Policy cut = p;
  cut.flows[0].active = false;                        // internet -> web gone
  cut.flows[1].services = {*p.FindService("https")};  // web -> db on fewer ports
  std::vector<PostureCut> cuts = PostureCuts("lockdown", g, BuildZoneGraph(cut));
  ZoneId internet = *p.FindZone("internet"), web = *p.FindZone("web"), db = *p.FindZone("db");
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_EQ(cuts[0].posture, "lockdown");
  EXPECT_EQ(std::make_pair(cuts[0].from, cuts[0].to), std::make_pair(internet, web));
  EXPECT_TRUE(cuts[0].removed);
  EXPECT_EQ(std::make_pair(cuts[1].from, cuts[1].to), std::make_pair(web, db));
  EXPECT_FALSE(cuts[1].removed);
  EXPECT_TRUE(PostureCuts("none", g, g).empty());

  cuts.push_back({"quiet", web, db, true});
  std::string dot = ToDot(p, g, DiagnosticList(), cuts);
  EXPECT_THAT(dot, HasSubstr("\"internet\" -> \"web\" [label=\"https\\ncut in lockdown\", "
                             "style=dashed, color=\"#e07000\""));
  EXPECT_THAT(dot, HasSubstr("\"web\" -> \"db\" [label=\"pg\\ncut in quiet; narrowed in "
                             "lockdown\", style=dashed"));
  EXPECT_THAT(dot, HasSubstr("(dashed orange: cut by a posture)"));
  // A violated edge stays red and says both.
  std::string both = ToDot(p, g, Violations(p, g), cuts);
  EXPECT_THAT(both, HasSubstr("\"internet\" -> \"web\" [label=\"https\\ncut in lockdown\\n"
                              "violates no-internet-to-db\", color=red, fontcolor=red, "
                              "penwidth=2, style=dashed]"));
}

TEST(GraphExportTest, PostureKeepViolationsAreNotDrawnOnThePolicyGraph) {
  Policy p = Sample();
  ZoneGraph g = BuildZoneGraph(p);
  DiagnosticList keep;
  Diagnostic d;
  d.code = "invariant-violated";
  d.invariant = "lockdown.keep[0]";
  d.posture = "lockdown";
  d.path = {{"internet", {}}, {"web", {"flows.yaml:1"}}};
  keep.Add(d);
  EXPECT_THAT(ToDot(p, g, keep), Not(HasSubstr("color=red")));
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
