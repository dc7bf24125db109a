#include "compiler/verify/lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::PolicyBuilder;

// "code@file:line" for each warning, to compare in one line.
std::vector<std::string> Warnings(const Policy& p, LintOptions options = {}) {
  DiagnosticList out;
  Lint(p, BuildZoneGraph(p), options, out);
  std::vector<std::string> got;
  for (const Diagnostic& d : out.items()) {
    EXPECT_EQ(d.severity, Severity::kWarning);
    got.push_back(d.code + "@" + d.location.FileLine());
  }
  return got;
}

// The internal space no zone of a test claims is a dark zone of its own, as
// `private-in-external` advises: isolated, named by no flow.
PolicyBuilder& WithUnassignedInternal(PolicyBuilder& b) {
  b.Zone("unassigned", {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"});
  Invariant dark;
  dark.name = "unassigned-is-dark";
  dark.kind = InvariantKind::kIsolate;
  dark.to = b.Zones({"unassigned"});
  b.Invariant(dark);
  return b;
}

PolicyBuilder Base() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24"})
      .Host("web-1", {"10.1.0.11"})
      .Host("db-1", {"10.2.0.5"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"});
  WithUnassignedInternal(b);
  return b;
}

// The first warning of `code`, or a failure.
Diagnostic Only(const Policy& p, const std::string& code) {
  DiagnosticList out;
  Lint(p, BuildZoneGraph(p), {}, out);
  std::vector<Diagnostic> found;
  for (const Diagnostic& d : out.items()) {
    if (d.code == code) found.push_back(d);
  }
  EXPECT_EQ(found.size(), 1u) << code;
  return found.empty() ? Diagnostic{} : found.front();
}

std::vector<std::string> WarningsOf(const Policy& p, const std::string& code) {
  std::vector<std::string> out;
  for (const std::string& w : Warnings(p)) {
    if (w.starts_with(code + "@")) out.push_back(w);
  }
  return out;
}

TEST(LintTest, CleanPolicyHasNoWarnings) {
  Policy p = Base()
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Finish();
  EXPECT_THAT(Warnings(p), IsEmpty());
}

TEST(LintTest, NegatedFlowAndUnusedDeny) {
  Policy p = Base()
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .deny = true})
                 .Flow({.from = {"db"}, .to = {"internet"}, .deny = true})
                 .Finish();
  EXPECT_THAT(Warnings(p), ElementsAre("negated-flow@flows.yaml:2", "unused-deny@flows.yaml:4"));
}

TEST(LintTest, SourcesOutsideFromMatchNothing) {
  Policy p =
      Base()
          .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
          .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
          .Flow(
              {.from = {"web"}, .to = {"db"}, .services = {"https"}, .sources = {"192.168.0.0/16"}})
          .Flow({.from = {"web"}, .to = {"db"}, .services = {"https"}, .sources = {"10.1.0.0/25"}})
          .Finish();
  // The second narrowed flow is shadowed by nothing and matches half of web: no warning.
  EXPECT_THAT(Warnings(p), ElementsAre("sources-outside-from@flows.yaml:3"));
}

TEST(LintTest, FlowBetweenAddressFamiliesAllowsNothing) {
  Policy p = Base()
                 .Zone("v6", {"2001:db8:6::/64"})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Flow({.from = {"web"}, .to = {"v6"}, .services = {"https"}})
                 .Finish();
  EXPECT_THAT(Warnings(p), ElementsAre("no-common-family@flows.yaml:3"));
}

TEST(LintTest, ShadowedFlowNamesTheWiderFlow) {
  Policy p = Base()
                 .Service("web", {"tcp/443", "tcp/80"})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"web"}})
                 .Flow({.from = {"internet"}, .to = {"web-1"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Finish();
  DiagnosticList out;
  Lint(p, BuildZoneGraph(p), {}, out);
  ASSERT_EQ(out.items().size(), 2u);
  EXPECT_EQ(out.items()[0].location.FileLine(), "flows.yaml:2");
  EXPECT_THAT(out.items()[0].message, HasSubstr("flows.yaml:1"));
  // Of two identical flows, the later one is the redundant one.
  EXPECT_EQ(out.items()[1].location.FileLine(), "flows.yaml:4");
}

// pg is still named by an expired flow, so it is not unused; db's only flow
// has expired, so db-1 has no active flows (web-1 has, through its zone).
TEST(LintTest, UnusedZoneServiceAndHostWithoutFlows) {
  Policy p = Base()
                 .Zone("lab", {"10.3.0.0/24"})  // zones.yaml:5, after unassigned
                 .Host("lab-1", {"10.3.0.1"})
                 .Service("smtp", {"tcp/25"})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}, .active = false})
                 .Finish();
  EXPECT_THAT(Warnings(p),
              ElementsAre("unused-zone@zones.yaml:5", "unused-service@services.yaml:3",
                          "host-without-flows@hosts.yaml:2", "host-without-flows@hosts.yaml:3"));
}

TEST(LintTest, ExpiringSoonUsesTheWindow) {
  PolicyBuilder b = Base();
  Policy probe = Base().Finish();
  b.Flow({.from = {"internet"},
          .to = {"web"},
          .services = {"https"},
          .expires = probe.now + absl::Hours(24 * 3)})
      .Flow({.from = {"web"},
             .to = {"db"},
             .services = {"pg"},
             .expires = probe.now + absl::Hours(24 * 30)});
  Policy p = b.Finish();
  EXPECT_THAT(Warnings(p), ElementsAre("expiring-soon@flows.yaml:1"));
  EXPECT_THAT(Warnings(p, {.expiry_window = absl::Hours(24 * 60)}),
              ElementsAre("expiring-soon@flows.yaml:1", "expiring-soon@flows.yaml:2"));
  EXPECT_THAT(Warnings(p, {.expiry_window = absl::ZeroDuration()}), IsEmpty());
}

TEST(LintTest, WideExposureFromExternalZones) {
  Policy p = Base()
                 .Service("ephemeral", {"tcp/49152-65535"})
                 .Service("sixteen", {"udp/1000-1015"})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"ephemeral"}})
                 .Flow({.from = {"internet"}, .to = {"db"}, .services = {"any"}})
                 .Flow({.from = {"internet"}, .to = {"db"}, .services = {"sixteen"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"any"}})
                 .Finish();
  std::vector<std::string> wide;
  for (const std::string& w : Warnings(p)) {
    if (w.starts_with("wide-exposure")) wide.push_back(w);
  }
  EXPECT_THAT(wide, ElementsAre("wide-exposure@flows.yaml:2", "wide-exposure@flows.yaml:3"));
}

// Suppliers moved into an allowlist zone of their own lose what `internet`
// could reach: the public website.
PolicyBuilder Suppliers() {
  PolicyBuilder b = Base();
  b.Zone("suppliers", {"192.0.2.0/24", "198.51.100.0/24"}, true)  // zones.yaml:5
      .Zone("sftp", {"10.5.0.0/24"})
      .Host("sftp-1", {"10.5.0.10"})
      .Service("sftp", {"tcp/22"})
      .Flow({.from = {"suppliers"}, .to = {"sftp"}, .services = {"sftp"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}});
  return b;
}

TEST(LintTest, CarvedOutNamesTheLargerZonesFlowsItLacks) {
  Policy p =
      Suppliers()
          .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}, .name = "public-web"})
          .Finish();
  EXPECT_THAT(WarningsOf(p, "carved-out"), ElementsAre("carved-out@zones.yaml:5"));
  Diagnostic d = Only(p, "carved-out");
  EXPECT_THAT(d.message, HasSubstr("zone `suppliers` carves 192.0.2.0/24, 198.51.100.0/24 out of "
                                   "zone `internet` (zones.yaml:1)"));
  EXPECT_THAT(d.message, HasSubstr("lacks 1 of them: flow `public-web` (flows.yaml:3): internet "
                                   "-> web on https"));
  EXPECT_THAT(d.message, HasSubstr("Add `suppliers` to the flows it still needs"));
}

TEST(LintTest, CarvedOutIsQuietWhenTheCarvedZoneKeepsTheFlows) {
  // Named beside internet in the flow, or given the same access by a flow of its own.
  Policy named =
      Suppliers()
          .Flow({.from = {"internet", "suppliers"}, .to = {"web"}, .services = {"https"}})
          .Finish();
  EXPECT_THAT(WarningsOf(named, "carved-out"), IsEmpty());
  Policy own = Suppliers()
                   .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                   .Flow({.from = {"suppliers"}, .to = {"web"}, .services = {"https"}})
                   .Finish();
  EXPECT_THAT(WarningsOf(own, "carved-out"), IsEmpty());
  // Only part of the access is kept: still lacking.
  Policy part = Suppliers()
                    .Service("web-all", {"tcp/443", "tcp/80"})
                    .Flow({.from = {"internet"}, .to = {"web"}, .services = {"web-all"}})
                    .Flow({.from = {"suppliers"}, .to = {"web"}, .services = {"https"}})
                    .Finish();
  EXPECT_THAT(WarningsOf(part, "carved-out"), ElementsAre("carved-out@zones.yaml:5"));
}

TEST(LintTest, CarvedOutCoversFlowsIntoTheLargerZoneAndInternalNesting) {
  // servers holds db's prefix: office's access to servers does not reach db's addresses.
  PolicyBuilder b = Base();
  b.Zone("servers", {"10.6.0.0/16"})
      .Zone("vault", {"10.6.5.0/24"})
      .Zone("office", {"10.7.0.0/16"})
      .Host("srv-1", {"10.6.0.10"})
      .Host("vault-1", {"10.6.5.10"})
      .Host("ws-1", {"10.7.0.10"})
      .Flow({.from = {"office"}, .to = {"servers"}, .services = {"https"}, .name = "office-web"})
      .Flow({.from = {"vault"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}});
  Policy p = b.Finish();
  Diagnostic d = Only(p, "carved-out");
  EXPECT_EQ(d.location.FileLine(), "zones.yaml:6");
  EXPECT_THAT(d.message, HasSubstr("zone `vault` carves 10.6.5.0/24 out of zone `servers`"));
  EXPECT_THAT(d.message, HasSubstr("flow `office-web` (flows.yaml:1): office -> servers on https"));
  // Internal zones inside the external catch-all (web, db, servers in internet) are by design.
  EXPECT_THAT(WarningsOf(Base()
                             .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                             .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                             .Finish(),
                         "carved-out"),
              IsEmpty());
}

TEST(LintTest, PrivateInExternalOncePerCatchAllWithTheUnclaimedRanges) {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("internet6", {"::/0"}, true)
      .Zone("partner-vpn", {"10.99.0.0/16"}, true)  // private on purpose: no warning
      .Zone("web", {"10.1.0.0/24", "192.168.0.0/16"})
      .Host("web-1", {"10.1.0.11"})
      .Service("https", {"tcp/443"})
      .Flow(
          {.from = {"internet", "internet6", "partner-vpn"}, .to = {"web"}, .services = {"https"}});
  Policy p = b.Finish();
  EXPECT_THAT(WarningsOf(p, "private-in-external"),
              ElementsAre("private-in-external@zones.yaml:1", "private-in-external@zones.yaml:2"));
  DiagnosticList out;
  Lint(p, BuildZoneGraph(p), {}, out);
  std::vector<std::string> messages;
  for (const Diagnostic& d : out.items()) {
    if (d.code == "private-in-external") messages.push_back(d.message);
  }
  ASSERT_EQ(messages.size(), 2u);
  // 10/8 minus web's 10.1.0.0/24 and the partner's 10.99.0.0/16, 172.16/12 whole, 192.168/16
  // claimed.
  EXPECT_THAT(messages[0], HasSubstr("external zone `internet` holds internal address space that "
                                     "no internal zone claims: most of 10.0.0.0/8 (the "));
  // Largest first: 10.128.0.0/9, then the /11s around the partner's 10.99.0.0/16.
  EXPECT_THAT(messages[0], HasSubstr("(the 21 prefixes no other zone claims: 10.128.0.0/9, "
                                     "10.32.0.0/11, 10.64.0.0/11, and 18 more)"));
  EXPECT_THAT(messages[0], HasSubstr("; 172.16.0.0/12. "));
  EXPECT_THAT(messages[0], Not(HasSubstr("192.168")));
  EXPECT_THAT(messages[0], HasSubstr("cidrs: [\"10.0.0.0/8\", \"172.16.0.0/12\"]"));
  EXPECT_THAT(messages[1], HasSubstr("external zone `internet6` holds internal address space that "
                                     "no internal zone claims: fc00::/7."));
}

TEST(LintTest, PrivateInExternalIsSilencedByAZoneForUnassignedSpace) {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Host("web-1", {"10.1.0.11"})
      .Service("https", {"tcp/443"})
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  EXPECT_THAT(Warnings(b.Finish()), ElementsAre("private-in-external@zones.yaml:1"));
  // The suggested fix leaves no warning behind (no unused-zone, no carved-out).
  WithUnassignedInternal(b);
  EXPECT_THAT(Warnings(b.Finish()), IsEmpty());
}

TEST(LintTest, UnenforcedFlowHasNoManagedHostOnEitherSide) {
  Policy p = Base()
                 .Zone("planned", {"10.7.0.0/24"})  // no hosts yet
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
                 .Flow({.from = {"internet"}, .to = {"planned"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"planned"}, .services = {"https"}})
                 .Flow({.from = {"web-1"}, .to = {"planned"}, .services = {"pg"}})
                 // web's other half holds no host: web-1 is 10.1.0.11.
                 .Flow({.from = {"web"},
                        .to = {"planned"},
                        .services = {"pg"},
                        .sources = {"10.1.0.128/25"}})
                 .Flow({.from = {"internet", "web"}, .to = {"planned"}, .services = {"pg"}})
                 .Finish();
  EXPECT_THAT(WarningsOf(p, "unenforced-flow"),
              ElementsAre("unenforced-flow@flows.yaml:3", "unenforced-flow@flows.yaml:6",
                          "unenforced-flow@flows.yaml:7"));
  DiagnosticList out;
  Lint(p, BuildZoneGraph(p), {}, out);
  std::vector<std::string> messages;
  for (const Diagnostic& d : out.items()) {
    if (d.code == "unenforced-flow") messages.push_back(d.message);
  }
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_THAT(messages[0], HasSubstr("the flow at flows.yaml:3 is enforced by nobody: neither its "
                                     "`from` nor its `to` holds a managed host"));
  EXPECT_THAT(messages[0], HasSubstr("Add the hosts that enforce it, or remove the flow."));
  EXPECT_THAT(messages[2], HasSubstr("is enforced by nobody between internet -> planned:"));
}

TEST(LintTest, ControllerZoneSharedNamesTheOtherHosts) {
  PolicyBuilder b = Base();
  b.Zone("control", {"10.0.0.0/28"})
      .Host("ctl-1", {"10.0.0.2"})
      .Controller({"10.0.0.2"}, 7443)
      .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
      .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}})
      .Flow({.from = {"control"}, .to = {"db"}, .services = {"pg"}});
  EXPECT_THAT(WarningsOf(b.Finish(), "controller-zone-shared"), IsEmpty());
  b.Host("jump-1", {"10.0.0.3"});  // hosts.yaml:4
  Policy p = b.Finish();
  Diagnostic d = Only(p, "controller-zone-shared");
  EXPECT_EQ(d.location.FileLine(), "settings.yaml:2");
  EXPECT_THAT(d.message, HasSubstr("edge into the controller's zone `control` (zones.yaml:5) "
                                   "(tcp/7443), and that zone also holds `jump-1` (hosts.yaml:4)"));
  EXPECT_THAT(d.message, Not(HasSubstr("ctl-1")));
  EXPECT_THAT(d.message,
              HasSubstr("Give the controller's addresses (10.0.0.2) a zone of their own."));
}

TEST(LintTest, ParsesExpiryWindows) {
  EXPECT_EQ(*ParseExpiryWindow("14d"), absl::Hours(24 * 14));
  EXPECT_EQ(*ParseExpiryWindow("36h"), absl::Hours(36));
  EXPECT_EQ(*ParseExpiryWindow("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseExpiryWindow("14").ok());
  EXPECT_FALSE(ParseExpiryWindow("d").ok());
  EXPECT_FALSE(ParseExpiryWindow("2w").ok());
}

}  // namespace
}  // namespace polder
