// The bootstrap ruleset `polder pki issue --controller` renders, and how
// `polder status` shows certificate expiry (CERT column, warning, JSON).
#include "cli/pki_commands.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "cli/fleet_commands.h"
#include "wire/proto_convert.h"

namespace polder::cli {
namespace {

TEST(BootstrapRulesetTest, AllowsTheControllerAndNoFlow) {
  auto r = RenderBootstrapRuleset("db-1", "10.0.0.2:7443", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StartsWith(*r, "# polder ruleset host=db-1 ")) << *r;
  EXPECT_TRUE(absl::StrContains(*r, "10.0.0.2 . 7443")) << *r;
  EXPECT_TRUE(absl::StrContains(*r, "policy drop;")) << *r;
  EXPECT_TRUE(absl::StrContains(*r, "nd-neighbor-solicit")) << *r;  // host essentials
  EXPECT_FALSE(absl::StrContains(*r, "vmap @in4")) << *r;           // no flow at all
  EXPECT_FALSE(absl::StrContains(*r, "udp dport 67")) << *r;
  auto dhcp = RenderBootstrapRuleset("db-1", "[2001:db8::2]:7443", true);
  ASSERT_TRUE(dhcp.ok()) << dhcp.status();
  EXPECT_TRUE(absl::StrContains(*dhcp, "2001:db8::2 . 7443")) << *dhcp;
  EXPECT_TRUE(absl::StrContains(*dhcp, "udp dport 67")) << *dhcp;
}

TEST(BootstrapRulesetTest, RefusesWhatIsNoAddressAndPort) {
  for (const char* bad : {"ctl.example:7443", "10.0.0.2", "10.0.0.2:0", "10.0.0.2:70000",
                          "2001:db8::2:7443", "[2001:db8::2]", "10.0.0.300:7443"}) {
    auto r = RenderBootstrapRuleset("db-1", bad, false);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(r.status().message(), "--controller")) << r.status();
  }
  EXPECT_FALSE(RenderBootstrapRuleset("Bad Name", "10.0.0.2:7443", false).ok());
}

TEST(StatusCertTest, ColumnDateWarningAndJson) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::StatusResponse s;
  s.set_revision("r");
  auto* far = s.add_hosts();
  far->set_host("web-1");
  far->set_connected(true);
  wire::SetTimestamp(now + absl::Hours(24 * 400), far->mutable_cert_expires());
  auto* soon = s.add_hosts();
  soon->set_host("db-1");
  soon->set_connected(true);
  wire::SetTimestamp(now + absl::Hours(24 * 12 + 1), soon->mutable_cert_expires());
  auto* gone = s.add_hosts();
  gone->set_host("app-1");

  std::string text = StatusText(s, now);
  EXPECT_TRUE(absl::StrContains(text, " CERT ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "EXPIRES-12d")) << text;
  EXPECT_TRUE(absl::StrContains(text, "WARNING: the certificate of host db-1 expires ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "polder pki renew PKI_DIR --host db-1")) << text;
  EXPECT_FALSE(absl::StrContains(text, "host web-1 expires")) << text;  // 400 days: no warning
  EXPECT_TRUE(absl::StrContains(
      text, absl::FormatTime("%Y-%m-%d", now + absl::Hours(24 * 400), absl::UTCTimeZone())))
      << text;
  // Past the expiry: EXPIRED.
  EXPECT_TRUE(absl::StrContains(StatusText(s, now + absl::Hours(24 * 13)), "EXPIRED"));

  auto j = StatusJson(s);
  EXPECT_TRUE(j["hosts"][2]["cert_expires"].is_null());
  EXPECT_EQ(
      j["hosts"][1]["cert_expires"],
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now + absl::Hours(24 * 12 + 1), absl::UTCTimeZone()));
}

}  // namespace
}  // namespace polder::cli
