#include "compiler/render/html_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"
#include "compiler/verify/invariants.h"

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PolicyBuilder;

absl::Time Now() { return absl::FromUnixSeconds(1700000000); }  // the builder's now

Invariant NoPath(const PolicyBuilder& b, const std::string& name, const std::string& from,
                 const std::string& to) {
  Invariant inv;
  inv.name = name;
  inv.kind = InvariantKind::kNoPath;
  inv.from = b.Zones({from});
  inv.to = b.Zones({to});
  return inv;
}

// internet -> web (https, web-alt) -> db; mgmt reaches nothing. Four flows
// expire: in 10 days (team-a), 20 days (team-a, a deny), 30 days (no owner)
// and 200 days (outside the window); one has expired.
Policy Sample() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("partners", {"192.0.2.0/24"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24"})
      .Zone("mgmt", {"10.0.0.0/24"})
      .Service("https", {"tcp/443"})
      .Service("web-alt", {"tcp/8000-8099"})
      .Service("pg", {"tcp/5432"})
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https", "web-alt"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"partners"},
             .to = {"web"},
             .services = {"https"},
             .name = "partner-web",
             .expires = Now() + absl::Hours(24 * 10)})
      .Flow({.from = {"partners"},
             .to = {"db"},
             .services = {"pg"},
             .deny = true,
             .name = "partner-db-deny",
             .expires = Now() + absl::Hours(24 * 20)})
      .Flow({.from = {"mgmt"},
             .to = {"db"},
             .services = {"pg"},
             .name = "mgmt-db",
             .expires = Now() + absl::Hours(24 * 30)})
      .Flow({.from = {"mgmt"},
             .to = {"web"},
             .services = {"https"},
             .name = "mgmt-web-later",
             .expires = Now() + absl::Hours(24 * 200)})
      .Flow({.from = {"mgmt"},
             .to = {"web"},
             .services = {"pg"},
             .active = false,
             .name = "long-gone",
             .expires = Now() - absl::Hours(24)});
  b.Invariant(NoPath(b, "no-internet-to-db", "internet", "db"));
  b.Invariant(NoPath(b, "no-db-to-internet", "db", "internet"));
  Invariant exposure;
  exposure.name = "small-surface";
  exposure.kind = InvariantKind::kExposure;
  exposure.from = b.Zones({"internet"});
  exposure.max = 500;
  b.Invariant(exposure);
  Policy p = b.Finish();
  p.flows[2].owner = "team-a";
  p.flows[2].ticket = "CHG-1";
  p.flows[2].reason = "pilot";
  p.flows[3].owner = "team-a";
  p.flows[3].ticket = "CHG-2";
  p.flows[5].owner = "team-b";
  return p;
}

struct Report {
  Policy policy = Sample();
  ZoneGraph graph = BuildZoneGraph(policy);
  DiagnosticList diagnostics;
  HtmlReportInput input;

  Report() {
    CheckInvariants(policy, graph, diagnostics);
    input.policy = &policy;
    input.graph = &graph;
    input.diagnostics = &diagnostics;
    input.title = "sample";
    input.graph_svg = "<svg><g><text>web</text></g></svg>";
  }
  std::string Html() const { return RenderHtmlReport(input); }
};

// The text of the page from `start` up to the next `end` (to look into one
// section or group).
std::string Between(const std::string& html, const std::string& start, const std::string& end) {
  size_t from = html.find(start);
  if (from == std::string::npos) return "";
  size_t to = html.find(end, from + start.size());
  return html.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

TEST(HtmlReportTest, IsOneSelfContainedPageWithEverySection) {
  Report r;
  std::string html = r.Html();
  EXPECT_THAT(html, ::testing::StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("</html>"));
  for (const char* id : {"graph", "invariants", "exposure", "expiring", "postures", "findings"}) {
    EXPECT_THAT(html, HasSubstr(absl::StrCat("<section id=\"", id, "\">"))) << id;
  }
  EXPECT_THAT(html, HasSubstr("<h2>Exposure</h2>"));
  EXPECT_THAT(html, HasSubstr("<div class=\"graph\"><svg><g><text>web</text></g></svg></div>"));
  // Nothing is fetched and nothing runs.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
}

TEST(HtmlReportTest, InvariantsShowTheirStateAndTheShortestPath) {
  Report r;
  std::string html = r.Html();
  EXPECT_THAT(html, HasSubstr("2 of 3 invariants hold"));
  std::string violated = Between(html, "<b>no-internet-to-db</b>", "</tr>");
  EXPECT_THAT(violated, HasSubstr("violated"));
  EXPECT_THAT(violated, HasSubstr("<span class=\"zone\">internet</span> &rarr; <span "
                                  "class=\"zone\">web</span> <span class=\"cite\">(flows.yaml:1)"
                                  "</span> &rarr; <span class=\"zone\">db</span>"));
  EXPECT_THAT(Between(html, "<b>no-db-to-internet</b>", "</tr>"), HasSubstr("holds"));
  EXPECT_THAT(Between(html, "<b>small-surface</b>", "</tr>"), HasSubstr("holds"));
}

TEST(HtmlReportTest, ExposureCountsEveryPortPerExternalZone) {
  Report r;
  std::string html = r.Html();
  // internet: tcp/443 and tcp/8000-8099 on web = 1 + 100.
  std::string internet = Between(html, "<h3>internet:", "<h3>");
  EXPECT_THAT(internet, HasSubstr("internet: 101 ports"));
  EXPECT_THAT(internet, HasSubstr("Budget: at most 500 (invariant <b>small-surface</b>)"));
  EXPECT_THAT(internet, HasSubstr("<td>web</td><td>tcp/443, tcp/8000-8099</td><td "
                                  "class=\"num\">101</td>"));
  EXPECT_THAT(Between(html, "<h3>partners:", "</section>"), HasSubstr("partners: 1 port"));
  EXPECT_THAT(html, HasSubstr("<div class=\"big\">102</div>ports open to 2 external zones"));
}

TEST(HtmlReportTest, ExpiringFlowsAreGroupedByOwnerWithTicketAndLocation) {
  Report r;
  auto groups = ExpiringFlowsByOwner(r.policy, absl::Hours(24 * 90));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].first, "team-a");
  EXPECT_THAT(groups[0].second, ::testing::ElementsAre(2, 3));
  EXPECT_EQ(groups[1].first, "");  // no owner: last
  EXPECT_THAT(groups[1].second, ::testing::ElementsAre(4));

  std::string html = r.Html();
  std::string section = Between(html, "<section id=\"expiring\">", "</section>");
  EXPECT_THAT(section, HasSubstr("Flows expiring within 90 days"));
  std::string team_a = Between(section, "Owner: team-a (2 flows)", "<h3>");
  EXPECT_THAT(team_a, HasSubstr("partner-web"));
  EXPECT_THAT(team_a, HasSubstr("CHG-1"));
  EXPECT_THAT(team_a, HasSubstr("<code>flows.yaml:3</code>"));
  EXPECT_THAT(team_a, HasSubstr("partner-db-deny <b>(deny: access returns when it expires)"));
  EXPECT_THAT(team_a, HasSubstr("CHG-2"));
  EXPECT_LT(team_a.find("partner-web"), team_a.find("partner-db-deny"));  // by expiry
  EXPECT_THAT(team_a, Not(HasSubstr("mgmt-db")));
  std::string nobody = Between(section, "No owner (1 flow)", "</table>");
  EXPECT_THAT(nobody, HasSubstr("mgmt-db"));
  EXPECT_THAT(nobody, HasSubstr("<span class=\"unknown\">none</span>"));  // no ticket
  EXPECT_THAT(section, Not(HasSubstr("mgmt-web-later")));                 // 200 days away
  EXPECT_THAT(section, Not(HasSubstr("team-b")));
  EXPECT_THAT(section, Not(HasSubstr("long-gone")));
  EXPECT_THAT(section, HasSubstr("1 flow has already expired"));
  EXPECT_THAT(html, HasSubstr("<div class=\"big\">3</div>flows expire within 90 days"));
}

TEST(HtmlReportTest, EveryStringFromThePolicyIsEscaped) {
  Report r;
  r.policy.zones[2].name = "<script>alert(1)</script>";
  r.policy.flows[2].owner = "<img src=x onerror=alert(2)>";
  r.policy.flows[2].reason = "\"quoted\" & 'single'";
  r.policy.flows[2].ticket = "</td><script>";
  r.policy.invariants[0].name = "<b>inv</b>";
  Posture posture;
  posture.name = "<i>p</i>";
  posture.owner = "<u>ciso</u>";
  posture.reason = "<style>body{display:none}</style>";
  posture.isolate = {{Endpoint::Kind::kZone, 2}};
  r.policy.postures.push_back(posture);
  r.input.title = "<title>";
  std::string html = r.Html();
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>inv</b>")));
  EXPECT_THAT(html, Not(HasSubstr("<i>p</i>")));
  EXPECT_THAT(html, Not(HasSubstr("<u>")));
  EXPECT_THAT(html, Not(HasSubstr("<style>body")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(html, HasSubstr("&quot;quoted&quot; &amp; &#39;single&#39;"));
  EXPECT_THAT(html, HasSubstr("Segmentation report: &lt;title&gt;"));
}

TEST(HtmlReportTest, AMissingOrUnsafePictureIsSaidNotOmitted) {
  Report r;
  r.input.graph_svg.clear();
  r.input.graph_note = "Graphviz `dot` is not installed";
  std::string html = r.Html();
  EXPECT_THAT(html, HasSubstr("No picture of the zone graph:</b> Graphviz `dot` is not installed"));
  EXPECT_THAT(html, Not(HasSubstr("<div class=\"graph\">")));

  r.input.graph_svg = "<svg><script>alert(1)</script></svg>";
  html = r.Html();
  EXPECT_THAT(html, HasSubstr("Graphviz&#39;s picture was refused"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
}

TEST(HtmlReportTest, InlineSvgDropsThePrologAndRefusesActiveContent) {
  EXPECT_EQ(InlineSvg("<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"x\">\n<svg width=\"8pt\">"
                      "<g id=\"graph0\"><title>polder</title></g></svg>\n"),
            "<svg width=\"8pt\"><g id=\"graph0\"><title>polder</title></g></svg>");
  EXPECT_EQ(InlineSvg("<svg><text>only online</text></svg>"),
            "<svg><text>only online</text></svg>");
  EXPECT_FALSE(InlineSvg("").has_value());
  EXPECT_FALSE(InlineSvg("not a picture").has_value());
  EXPECT_FALSE(InlineSvg("<svg><SCRIPT>x</SCRIPT></svg>").has_value());
  EXPECT_FALSE(InlineSvg("<svg onload=\"x()\"></svg>").has_value());
  EXPECT_FALSE(InlineSvg("<svg><g\nonclick=\"x()\"></g></svg>").has_value());
  EXPECT_FALSE(InlineSvg("<svg><foreignObject></foreignObject></svg>").has_value());
  EXPECT_FALSE(InlineSvg("<svg><a href=\"javascript:x()\"></a></svg>").has_value());
}

Posture Lockdown(const Policy& p) {
  Posture posture;
  posture.name = "lockdown";
  posture.owner = "ciso";
  posture.reason = "vulnerabilities found";
  posture.isolate = {{Endpoint::Kind::kZone, *p.FindZone("web")}};
  posture.allow = {{*p.FindZone("partners"), {*p.FindService("https")}, {}}};
  Invariant keep;
  keep.name = "lockdown.keep[0]";
  keep.kind = InvariantKind::kReach;
  keep.from = {*p.FindZone("partners")};
  keep.to = {*p.FindZone("web")};
  keep.direct = true;
  posture.keep = {keep};
  return posture;
}

TEST(HtmlReportTest, PosturesListTheirPlanCutsAndKeepState) {
  Report r;
  r.policy.postures.push_back(Lockdown(r.policy));
  ZoneId internet = *r.policy.FindZone("internet"), web = *r.policy.FindZone("web");
  r.input.posture_cuts = {{"lockdown", internet, web, true}};
  std::string html = r.Html();
  std::string section = Between(html, "<section id=\"postures\">", "</section>");
  EXPECT_THAT(section, HasSubstr("<h3 id=\"posture-lockdown\">lockdown</h3>"));
  EXPECT_THAT(section, HasSubstr("owner ciso"));
  EXPECT_THAT(section, HasSubstr("vulnerabilities found"));
  EXPECT_THAT(section, HasSubstr("<b>Isolates:</b> web"));
  EXPECT_THAT(section, HasSubstr("<b>partners</b> (https)"));
  EXPECT_THAT(section, HasSubstr("1 cut, 0 narrowed: <span class=\"path\">internet &rarr; web"));
  EXPECT_THAT(section, HasSubstr("1 of 1 hold"));
  EXPECT_THAT(Between(section, "<b>lockdown.keep[0]</b>", "</tr>"), HasSubstr("holds"));
  EXPECT_THAT(section, HasSubstr("No drill report for this posture was given"));

  // A violation reported for the posture (and only it) marks the keep entry.
  Diagnostic d;
  d.code = "invariant-violated";
  d.invariant = "lockdown.keep[0]";
  d.posture = "lockdown";
  d.message = "invariant `lockdown.keep[0]` is violated: partners -> web (no path)";
  r.diagnostics.Add(d);
  section = Between(r.Html(), "<section id=\"postures\">", "</section>");
  EXPECT_THAT(section, HasSubstr("0 of 1 hold"));
  EXPECT_THAT(Between(section, "<b>lockdown.keep[0]</b>", "</tr>"),
              HasSubstr("partners -&gt; web (no path)"));
  // The policy's own invariants are not affected by it.
  EXPECT_THAT(r.Html(), HasSubstr("2 of 3 invariants hold"));

  // While check does not verify postures, nothing claims they hold.
  r.input.postures_verified = false;
  section = Between(r.Html(), "<section id=\"postures\">", "</section>");
  EXPECT_THAT(section, HasSubstr("not verified"));
  EXPECT_THAT(section, Not(HasSubstr("holds")));
  EXPECT_THAT(section, Not(HasSubstr("violated")));
}

DrillResult Drill(const std::string& revision) {
  DrillResult d;
  d.policy_revision = revision;
  d.posture = "lockdown";
  d.started = "2026-12-02T08:00:00Z";
  d.activate = DrillTimingResult{412, 5000, {{"db-1", 390}, {"web-1", 412}}, ""};
  d.probe_posture = DrillProbe{120,
                               118,
                               2,
                               1,
                               {"web-1 -> db-1 tcp/5432: expected blocked, observed allowed"},
                               {{"sctp "
                                 "missing",
                                 2}}};
  d.release = DrillTimingResult{380, 5000, {}, ""};
  d.probe_normal = DrillProbe{120, 120, 0, 0, {}, {}};
  d.agree = false;
  return d;
}

TEST(HtmlReportTest, TheDrillIsShownWithItsPosture) {
  Report r;
  r.policy.postures.push_back(Lockdown(r.policy));
  r.input.drill = Drill(r.policy.revision);
  r.input.drill_file = "drill.json";
  std::string html = r.Html();
  std::string drill = Between(html, "<h4>Last drill", "</div>");
  EXPECT_THAT(drill, HasSubstr("started 2026-12-02T08:00:00Z"));
  EXPECT_THAT(drill, HasSubstr("disagreements found"));
  EXPECT_THAT(drill, HasSubstr("<code>drill.json</code>"));
  EXPECT_THAT(drill, HasSubstr("It ran against this revision of the policy."));
  EXPECT_THAT(drill, HasSubstr("enforced on every host 412 ms after the order"));
  EXPECT_THAT(drill, HasSubstr("<td>db-1</td><td class=\"num\">390 ms</td>"));
  EXPECT_THAT(drill, HasSubstr("118 of 120 cases probed, 1 disagreed"));
  EXPECT_THAT(drill, HasSubstr("2 not probed</b> (nothing is known about them: 2 sctp missing)"));
  EXPECT_THAT(drill, HasSubstr("web-1 -&gt; db-1 tcp/5432: expected blocked, observed allowed"));
  EXPECT_THAT(drill, HasSubstr("back on every host 380 ms after the order"));
  EXPECT_THAT(drill, HasSubstr("120 of 120 cases probed, 0 disagreed"));
  EXPECT_THAT(html, HasSubstr("lockdown: disagreed"));

  r.input.drill->agree = true;
  r.input.drill->policy_revision = std::string(64, 'f');
  r.input.drill->release = DrillTimingResult{std::nullopt, 5000, {{"db-1", std::nullopt}}, ""};
  r.input.drill->probe_normal.reset();
  drill = Between(r.Html(), "<h4>Last drill", "</div>");
  EXPECT_THAT(drill, HasSubstr("every probe agreed"));
  EXPECT_THAT(drill, HasSubstr("back on every host <span class=\"violated\">not within 5000 "
                               "ms</span>."));
  EXPECT_THAT(drill, HasSubstr("<td>db-1</td><td class=\"num\"><span class=\"violated\">not"));
  EXPECT_THAT(drill, HasSubstr("lacks a probe result"));
  r.input.drill->activate.reset();
  r.input.drill->release->error = "controller unreachable";
  drill = Between(r.Html(), "<h4>Last drill", "</div>");
  EXPECT_THAT(drill, HasSubstr("<b>Activation:</b> not done"));
  EXPECT_THAT(drill, HasSubstr("<b>Release failed:</b> controller unreachable"));
  EXPECT_THAT(drill, HasSubstr("This drill ran against policy revision <code>ffffffffffff</code>, "
                               "not the current one"));

  // A drill of a posture the policy lacks is said, not silently dropped.
  r.input.drill->posture = "gone";
  html = r.Html();
  EXPECT_THAT(html, HasSubstr("is for posture <code>gone</code>, which this policy does not have"));
  EXPECT_THAT(html, Not(HasSubstr("<h4>Last drill")));
}

}  // namespace
}  // namespace polder
