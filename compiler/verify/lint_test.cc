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

PolicyBuilder Base() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0"}, true)
      .Zone("web", {"10.1.0.0/24"})
      .Zone("db", {"10.2.0.0/24"})
      .Host("web-1", {"10.1.0.11"})
      .Host("db-1", {"10.2.0.5"})
      .Service("https", {"tcp/443"})
      .Service("pg", {"tcp/5432"});
  return b;
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
                 .Zone("lab", {"10.3.0.0/24"})
                 .Host("lab-1", {"10.3.0.1"})
                 .Service("smtp", {"tcp/25"})
                 .Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}})
                 .Flow({.from = {"web"}, .to = {"db"}, .services = {"pg"}, .active = false})
                 .Finish();
  EXPECT_THAT(Warnings(p),
              ElementsAre("unused-zone@zones.yaml:4", "unused-service@services.yaml:3",
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
