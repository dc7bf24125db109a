#include "compiler/verify/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/testing/policy_builder.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PolicyBuilder;

Explanation Ask(const Policy& p, const std::string& from, const std::string& to,
                const std::string& port) {
  absl::StatusOr<ExplainEnd> f = ResolveExplainEnd(p, from);
  absl::StatusOr<ExplainEnd> t = ResolveExplainEnd(p, to);
  absl::StatusOr<ExplainPorts> ports = ResolveExplainPorts(p, port);
  EXPECT_TRUE(f.ok() && t.ok() && ports.ok());
  absl::StatusOr<Explanation> ex = Explain(p, *f, *t, *ports);
  EXPECT_TRUE(ex.ok()) << ex.status();
  return *ex;
}

PolicyBuilder Office() {
  PolicyBuilder b;
  b.Zone("office", {"10.1.0.0/16", "2001:db8:1::/64"})
      .Zone("servers", {"10.2.0.0/24"})
      .Host("srv-1", {"10.2.0.10"})
      .Service("https", {"tcp/443"})
      .Service("dns", {"udp/53", "tcp/53"})
      .Service("ping6", {"icmpv6/echo-request"});
  return b;
}

// Issue 9: --port icmpv6/echo-request was answered with IPv4 addresses.
TEST(ExplainTest, IcmpV6NeedsIpv6AddressesOnBothEnds) {
  Policy p = Office().Flow({.from = {"office"}, .to = {"servers"}}).Finish();
  Explanation ex = Ask(p, "office", "servers", "icmpv6/echo-request");
  ASSERT_EQ(ex.verdicts.size(), 1u);
  EXPECT_FALSE(ex.verdicts[0].allowed);
  EXPECT_EQ(ex.verdicts[0].basis, ExplainBasis::kNoAddress);
  EXPECT_THAT(ex.verdicts[0].reason, HasSubstr("zone `servers` has no IPv6 address"));
  // IPv4 ICMP between the same zones is answered, with IPv4 addresses.
  Explanation v4 = Ask(p, "office", "servers", "icmp/echo-request");
  ASSERT_TRUE(v4.verdicts[0].allowed);
  EXPECT_EQ(v4.verdicts[0].example->source.family, Family::kV4);
}

TEST(ExplainTest, IcmpV6BetweenDualStackZonesUsesIpv6) {
  Policy p = Office()
                 .Zone("lab", {"10.3.0.0/24", "2001:db8:3::/64"})
                 .Flow({.from = {"office"}, .to = {"lab"}, .services = {"ping6"}})
                 .Finish();
  Explanation ex = Ask(p, "office", "lab", "icmpv6/echo-request");
  ASSERT_TRUE(ex.verdicts[0].allowed);
  EXPECT_EQ(ex.verdicts[0].example->source.ToString(), "2001:db8:1::1");
  EXPECT_EQ(ex.verdicts[0].example->destination.family, Family::kV6);
  EXPECT_FALSE(ex.verdicts[0].partial);
  // And IPv4 ping is not allowed by an ICMPv6 service.
  EXPECT_FALSE(Ask(p, "office", "lab", "icmp/echo-request").verdicts[0].allowed);
}

// Issue 9: a zone-to-zone explain used one representative address and said DENIED where a
// host-level flow allows the zone pair.
TEST(ExplainTest, ZoneEndsAnswerOverTheirWholeAddressSpace) {
  Policy p = Office()
                 .Flow({.from = {"office"},
                        .to = {"srv-1"},
                        .services = {"https"},
                        .sources = {"10.1.0.0/24"}})
                 .Finish();
  Explanation ex = Ask(p, "office", "servers", "tcp/443");
  ASSERT_EQ(ex.verdicts.size(), 1u);
  const PortVerdict& v = ex.verdicts[0];
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.partial);
  EXPECT_EQ(v.basis, ExplainBasis::kFlows);
  EXPECT_EQ(v.allowed_sources.ToString(), "10.1.0.0/24");
  EXPECT_EQ(v.allowed_destinations.ToString(), "10.2.0.10/32");
  EXPECT_EQ(v.example->destination.ToString(), "10.2.0.10");
  EXPECT_THAT(v.allowing, ElementsAre(0));
  EXPECT_TRUE(ex.AllAllowed());
  // Another port is denied for every pair, with the zones named.
  Explanation denied = Ask(p, "office", "servers", "tcp/22");
  EXPECT_FALSE(denied.verdicts[0].allowed);
  EXPECT_EQ(denied.verdicts[0].reason, "denied: no active flow allows office -> servers on tcp/22");
}

TEST(ExplainTest, DenyWinsForThePairsItCovers) {
  Policy p =
      Office()
          .Flow({.from = {"office"}, .to = {"servers"}, .services = {"https"}})
          .Flow({.from = {"office"}, .to = {"servers"}, .deny = true, .sources = {"10.1.0.0/17"}})
          .Finish();
  const PortVerdict v = Ask(p, "office", "servers", "tcp/443").verdicts[0];
  EXPECT_TRUE(v.allowed);
  EXPECT_TRUE(v.partial);
  EXPECT_EQ(v.allowed_sources.ToString(), "10.1.128.0/17");
  EXPECT_THAT(v.denying, ElementsAre(1));
  const PortVerdict all_denied = Ask(p, "10.1.0.5", "srv-1", "tcp/443").verdicts[0];
  EXPECT_FALSE(all_denied.allowed);
  EXPECT_THAT(all_denied.reason, HasSubstr("deny wins"));
}

// Spec §9: a service of several ports gets one verdict per port; every one must be allowed.
TEST(ExplainTest, AServiceGetsOneVerdictPerPort) {
  PolicyBuilder b = Office();
  b.Service("dns-udp", {"udp/53"})
      .Flow({.from = {"office"}, .to = {"servers"}, .services = {"dns-udp"}});
  Policy p = b.Finish();
  Explanation ex = Ask(p, "office", "servers", "dns");
  EXPECT_EQ(ex.service, "dns");
  ASSERT_EQ(ex.verdicts.size(), 2u);
  EXPECT_EQ(ex.verdicts[0].port.ToString(), "udp/53");
  EXPECT_TRUE(ex.verdicts[0].allowed);
  EXPECT_EQ(ex.verdicts[1].port.ToString(), "tcp/53");
  EXPECT_FALSE(ex.verdicts[1].allowed);
  EXPECT_FALSE(ex.AllAllowed());
}

TEST(ExplainTest, APortRangeIsSplitWhereTheAnswerChanges) {
  Policy p = Office()
                 .Service("web-alt", {"tcp/8000-8049"})
                 .Flow({.from = {"office"}, .to = {"servers"}, .services = {"web-alt"}})
                 .Finish();
  Explanation ex = Ask(p, "office", "servers", "tcp/8000-8099");
  ASSERT_EQ(ex.verdicts.size(), 2u);
  EXPECT_EQ(ex.verdicts[0].port.ToString(), "tcp/8000-8049");
  EXPECT_TRUE(ex.verdicts[0].allowed);
  EXPECT_EQ(ex.verdicts[1].port.ToString(), "tcp/8050-8099");
  EXPECT_FALSE(ex.verdicts[1].allowed);
}

TEST(ExplainTest, ExpiredFlowsThatWouldHaveMatchedAreNamed) {
  Policy p =
      Office()
          .Flow({.from = {"office"}, .to = {"srv-1"}, .services = {"https"}, .active = false})
          .Flow({.from = {"office"}, .to = {"servers"}, .services = {"dns"}, .active = false})
          .Finish();
  const PortVerdict v = Ask(p, "office", "servers", "https").verdicts[0];
  EXPECT_FALSE(v.allowed);
  EXPECT_THAT(v.expired, ElementsAre(0));  // not the dns flow: another port
}

// Spec §7: host-essential traffic is allowed without a flow, in its direction only.
TEST(ExplainTest, HostEssentialTrafficIsAllowedWithoutAFlow) {
  Policy p = Office()
                 .Zone("lab", {"10.3.0.0/24", "2001:db8:3::/64"})
                 .Host("lab-1", {"10.3.0.5", "2001:db8:3::5"})
                 .Host("lab-2", {"10.3.0.6", "2001:db8:3::6"})
                 .Finish();
  const PortVerdict ns = Ask(p, "office", "lab-1", "icmpv6/nd-neighbor-solicit").verdicts[0];
  EXPECT_TRUE(ns.allowed);
  EXPECT_EQ(ns.basis, ExplainBasis::kHostEssential);
  EXPECT_TRUE(ns.allowing.empty());
  EXPECT_TRUE(Ask(p, "lab-1", "office", "icmp/destination-unreachable").verdicts[0].allowed);
  // A managed host does not send router advertisements: its output chain drops them.
  EXPECT_FALSE(Ask(p, "lab-1", "lab-2", "icmpv6/nd-router-advert").verdicts[0].allowed);
  EXPECT_TRUE(Ask(p, "office", "lab-2", "icmpv6/nd-router-advert").verdicts[0].allowed);
  // Between two unmanaged ends no ruleset applies, so the flows decide: into servers, only
  // its managed host srv-1 accepts ICMP errors without a flow.
  EXPECT_FALSE(Ask(p, "office", "office", "icmp/destination-unreachable").verdicts[0].allowed);
  const PortVerdict error = Ask(p, "office", "servers", "icmp/destination-unreachable").verdicts[0];
  EXPECT_TRUE(error.partial);
  EXPECT_EQ(error.allowed_destinations.ToString(), "10.2.0.10/32");
  // The DHCP client only with settings.host_dhcp.
  EXPECT_FALSE(Ask(p, "lab-1", "office", "udp/67").verdicts[0].allowed);
  Policy dhcp = p;
  dhcp.settings.host_dhcp = true;
  const PortVerdict client = Ask(dhcp, "lab-1", "office", "udp/67").verdicts[0];
  EXPECT_TRUE(client.allowed);
  EXPECT_THAT(client.reason, HasSubstr("DHCP"));
}

TEST(ExplainTest, TheAntiLockoutAllowsManagedHostsToTheController) {
  Policy p = Office()
                 .Zone("control", {"10.0.0.0/28"})
                 .Host("ctl-1", {"10.0.0.2"})
                 .Controller({"10.0.0.2"}, 7443)
                 .Finish();
  const PortVerdict v = Ask(p, "servers", "control", "tcp/7443").verdicts[0];
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.basis, ExplainBasis::kAntiLockout);
  EXPECT_TRUE(v.partial);  // only srv-1 is a managed host, only 10.0.0.2 the controller
  EXPECT_EQ(v.allowed_sources.ToString(), "10.2.0.10/32");
  EXPECT_EQ(v.allowed_destinations.ToString(), "10.0.0.2/32");
  EXPECT_FALSE(Ask(p, "office", "control", "tcp/7443").verdicts[0].allowed);
}

TEST(ExplainTest, LoopbackAndImpossibleQuestions) {
  Policy p = Office().Finish();
  EXPECT_EQ(Ask(p, "srv-1", "srv-1", "tcp/22").verdicts[0].basis, ExplainBasis::kLoopback);
  ExplainEnd v4 = *ResolveExplainEnd(p, "10.2.0.10");
  ExplainEnd v6 = *ResolveExplainEnd(p, "2001:db8:1::1");
  ExplainPorts tcp = *ResolveExplainPorts(p, "tcp/22");
  EXPECT_THAT(std::string(Explain(p, v4, v6, tcp).status().message()),
              HasSubstr("share no address family"));
  ExplainPorts ping6 = *ResolveExplainPorts(p, "icmpv6/echo-request");
  EXPECT_THAT(std::string(Explain(p, v4, v4, ping6).status().message()),
              HasSubstr("runs over IPv6"));
  EXPECT_FALSE(ResolveExplainPorts(p, "htps").ok());
}

}  // namespace
}  // namespace polder
