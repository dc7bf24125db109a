#include "compiler/render/diagnostic_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "compiler/testing/policy_builder.h"
#include "compiler/verify/invariants.h"
#include "compiler/verify/zone_graph.h"
#include "nlohmann/json.hpp"

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PolicyBuilder;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Three office-like zones reach backup through mgmt, and `web` reaches it
// through the controller's zone, whose anti-lockout edge every managed zone
// has: an isolate invariant on backup is violated by one path per source.
struct Violations {
  Policy policy;
  DiagnosticList diagnostics;
};

Violations IsolatedBackup() {
  PolicyBuilder b;
  b.Zone("office-a", {"10.1.0.0/24"})
      .Zone("office-b", {"10.2.0.0/24"})
      .Zone("office-c", {"10.3.0.0/24"})
      .Zone("mgmt", {"10.9.0.0/24"})
      .Zone("backup", {"10.8.0.0/24"})
      .Zone("control", {"10.0.0.0/24"})
      .Zone("web", {"10.4.0.0/24"})
      .Host("web-1", {"10.4.0.10"})
      .Host("ctl-1", {"10.0.0.2"})
      .Host("jump-1", {"10.0.0.3"})
      .Controller({"10.0.0.2"}, 7443)
      .Service("ssh", {"tcp/22"})
      .Flow({.from = {"office-a", "office-b", "office-c"}, .to = {"mgmt"}, .services = {"ssh"}})
      .Flow({.from = {"mgmt"}, .to = {"backup"}, .services = {"ssh"}})
      .Flow({.from = {"control"}, .to = {"backup"}, .services = {"ssh"}});
  Invariant inv;
  inv.name = "backups-isolated";
  inv.kind = InvariantKind::kIsolate;
  inv.to = b.Zones({"backup"});
  inv.except = b.Zones({"mgmt"});
  b.Invariant(inv);
  Violations v{b.Finish(), {}};
  CheckInvariants(v.policy, BuildZoneGraph(v.policy), v.diagnostics);
  v.diagnostics.Sort();
  return v;
}

std::vector<SourceFile> InvariantsFile() {
  SourceFile f;
  f.path = "invariants.yaml";
  f.content = "  - name: backups-isolated\n";
  return {f};
}

TEST(DiagnosticFormatTest, TextGivesOneDiagnosticPerViolatedInvariantWithEveryPath) {
  Violations v = IsolatedBackup();
  // office-a, office-b, office-c (through mgmt) and control, web-zone's hosts via control.
  ASSERT_EQ(v.diagnostics.items().size(), 5u);
  std::string text = FormatText(v.diagnostics, InvariantsFile());
  EXPECT_EQ(Count(text, "[invariant-violated]"), 1u) << text;
  EXPECT_EQ(Count(text, ": error: "), 1u) << text;
  EXPECT_THAT(text, HasSubstr("invariants.yaml:1:5: error: invariant `backups-isolated` is "
                              "violated by 5 paths, one shortest path per offending source zone"));
  for (const char* path : {"path: office-a -> mgmt -> backup", "path: office-b -> mgmt -> backup",
                           "path: office-c -> mgmt -> backup", "path: control -> backup",
                           "path: web -> control -> backup"}) {
    EXPECT_THAT(text, HasSubstr(path)) << text;
  }
  // Each path says what it violates and cites the flows of each edge.
  EXPECT_THAT(text, HasSubstr("path: office-b -> mgmt -> backup (office-b reaches backup, which "
                              "only mgmt may reach)"));
  EXPECT_THAT(text,
              HasSubstr("    office-b -> mgmt: flows.yaml:1\n    mgmt -> backup: flows.yaml:2"));
  // The source line is quoted once, not once per path.
  EXPECT_EQ(Count(text, "  - name: backups-isolated\n"), 1u) << text;
}

TEST(DiagnosticFormatTest, TextSaysWhenAPathUsesTheAntiLockout) {
  Violations v = IsolatedBackup();
  std::string text = FormatText(v.diagnostics, InvariantsFile());
  EXPECT_THAT(text,
              HasSubstr("web -> control: settings.yaml:2 <anti-lockout settings.controller>"));
  EXPECT_THAT(text, HasSubstr("Some paths use the anti-lockout of settings.controller, which no "
                              "flow or deny removes: web -> control (settings.yaml:2)"));
}

TEST(DiagnosticFormatTest, JsonKeepsOneEntryPerPath) {
  Violations v = IsolatedBackup();
  nlohmann::json doc = nlohmann::json::parse(FormatJson(v.diagnostics, "rev"));
  ASSERT_EQ(doc["diagnostics"].size(), 5u);
  std::set<std::string> sources;
  for (const auto& d : doc["diagnostics"]) {
    EXPECT_EQ(d["invariant"], "backups-isolated");
    sources.insert(d["path"][0].get<std::string>());
  }
  EXPECT_EQ(sources, (std::set<std::string>{"office-a", "office-b", "office-c", "control", "web"}));
}

TEST(DiagnosticFormatTest, SummaryCountsViolatedInvariantsAndTheirPaths) {
  Violations v = IsolatedBackup();
  v.diagnostics.Warning({"zones.yaml", 1, 5}, "unused-zone", "zone is unused");
  EXPECT_EQ(Summary(v.diagnostics), "1 error (1 invariant violated by 5 paths), 1 warning");
  v.diagnostics.Error({"flows.yaml", 2, 5}, "unknown-ref", "no such zone");
  EXPECT_EQ(Summary(v.diagnostics), "2 errors (1 invariant violated by 5 paths), 1 warning");
}

TEST(DiagnosticFormatTest, ASinglePathKeepsItsOwnMessage) {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("db", {"10.3.0.0/24"})
      .Host("db-1", {"10.3.0.5"})
      .Flow({.from = {"internet"}, .to = {"db"}});
  Invariant inv;
  inv.name = "no-internet-to-db";
  inv.kind = InvariantKind::kNoPath;
  inv.from = b.Zones({"internet"});
  inv.to = b.Zones({"db"});
  b.Invariant(inv);
  Policy p = b.Finish();
  DiagnosticList out;
  CheckInvariants(p, BuildZoneGraph(p), out);
  std::string text = FormatText(out, {});
  EXPECT_THAT(text, HasSubstr("invariant `no-internet-to-db` is violated: db is reachable from "
                              "internet; shortest path: internet -> db (flows.yaml:1)."));
  EXPECT_THAT(text, HasSubstr("  path: internet -> db\n    internet -> db: flows.yaml:1\n"));
  EXPECT_THAT(text, Not(HasSubstr("paths, one shortest path")));
  EXPECT_EQ(Summary(out), "1 error (1 invariant violated by 1 path), 0 warnings");
}

TEST(DiagnosticFormatTest, DistinctInvariantsStayDistinct) {
  Violations v = IsolatedBackup();
  DiagnosticList both = v.diagnostics;
  // The same violations under another invariant at another place.
  for (Diagnostic d : v.diagnostics.items()) {
    d.invariant = "backups-isolated-too";
    d.location.line = 7;
    both.Add(d);
  }
  both.Sort();
  std::string text = FormatText(both, {});
  EXPECT_EQ(Count(text, "[invariant-violated]"), 2u) << text;
  EXPECT_EQ(Summary(both), "2 errors (2 invariants violated by 10 paths), 0 warnings");
}

}  // namespace
}  // namespace polder
