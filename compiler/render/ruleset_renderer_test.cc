#include "compiler/render/ruleset_renderer.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "compiler/testing/policy_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polder {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PolicyBuilder;

// internet, web (two hosts), db (one host), https/postgres/ping.
PolicyBuilder SmallPolicy() {
  PolicyBuilder b;
  b.Zone("internet", {"0.0.0.0/0", "::/0"}, true);
  b.Zone("web", {"10.1.0.0/24", "2001:db8:1::/64"});
  b.Zone("db", {"10.2.0.0/24"});
  b.Host("web-1", {"10.1.0.11", "2001:db8:1::11"});
  b.Host("web-2", {"10.1.0.12", "2001:db8:1::12"});
  b.Host("db-1", {"10.2.0.5"});
  b.Service("https", {"tcp/443"});
  b.Service("postgres", {"tcp/5432"});
  b.Service("ping", {"icmp/echo-request", "icmpv6/echo-request"});
  return b;
}

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n'); }

// The rules of one chain, between its header and its closing brace.
std::string Chain(const std::string& text, const std::string& name) {
  size_t begin = text.find("  chain " + name + " {\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find("\n  }\n", begin) - begin);
}

// The elements of one set or map.
std::string Elements(const std::string& text, const std::string& name) {
  size_t begin = text.find(" " + name + " {\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find("\n  }\n", begin) - begin);
}

// The chain a verdict map element (printed as `<element> : jump <chain>`) jumps to.
std::string JumpOf(const std::string& text, const std::string& element) {
  std::string needle = "      " + element + " : jump ";
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  size_t end = text.find_first_of(",\n", at);
  return text.substr(at, end - at);
}

TEST(RulesetRendererTest, StartsWithHeaderAndReplacesTheTable) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  Policy p = b.Finish();
  auto lines = Lines(RenderRuleset(p, *p.FindHost("web-1")));
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "# polder ruleset host=web-1 revision=" + std::string(64, '0') + " mode=enforce");
  EXPECT_EQ(lines[1], "table inet polder");
  EXPECT_EQ(lines[2], "delete table inet polder");
  EXPECT_EQ(lines[3], "table inet polder {");
}

TEST(RulesetRendererTest, InboundUsesEffectiveSpaceOfTheSourceZone) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  Policy p = b.Finish();
  std::string web = RenderRuleset(p, *p.FindHost("web-1"));
  // internet minus web and db: 10.1.0.0/24 and 10.2.0.0/24 are carved out, and every
  // range of it jumps to one profile that accepts tcp/443.
  EXPECT_EQ(JumpOf(web, "0.0.0.0-10.0.255.255"), "in_p1") << web;
  EXPECT_EQ(JumpOf(web, "10.1.1.0-10.1.255.255"), "in_p1");
  EXPECT_EQ(JumpOf(web, "10.2.1.0-255.255.255.255"), "in_p1");
  EXPECT_THAT(web, Not(HasSubstr("10.1.0.0/24 :")));
  EXPECT_THAT(web, Not(HasSubstr("10.2.0.0/24 :")));
  EXPECT_THAT(Chain(web, "in_p1"), HasSubstr("meta l4proto . th dport @in_p1_l4 goto accept_in"));
  EXPECT_THAT(Elements(web, "in_p1_l4"), HasSubstr("      tcp . 443\n"));
  EXPECT_THAT(Chain(web, "input"), HasSubstr("ip saddr vmap @in4\n    ip6 saddr vmap @in6"));
  EXPECT_EQ(JumpOf(web, "::-2001:db8:0:ffff:ffff:ffff:ffff:ffff"), "in_p1");
  // db is not involved in the flow at all.
  std::string db = RenderRuleset(p, *p.FindHost("db-1"));
  EXPECT_THAT(db, Not(HasSubstr("443")));
}

TEST(RulesetRendererTest, OutboundKeysOnDestinationAndSkipsOtherHostsFlows) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"web-1"}, .to = {"db"}, .services = {"postgres"}});
  Policy p = b.Finish();
  std::string web1 = RenderRuleset(p, *p.FindHost("web-1"));
  EXPECT_THAT(Chain(web1, "output"), HasSubstr("ip daddr vmap @out4"));
  EXPECT_EQ(JumpOf(web1, "10.2.0.0/24"), "out_p1");
  EXPECT_THAT(Elements(web1, "out_p1_l4"), HasSubstr("tcp . 5432"));
  EXPECT_THAT(RenderRuleset(p, *p.FindHost("web-2")), Not(HasSubstr("5432")));
  std::string db = RenderRuleset(p, *p.FindHost("db-1"));
  EXPECT_EQ(JumpOf(db, "10.1.0.11"), "in_p1");
  EXPECT_THAT(Elements(db, "in_p1_l4"), HasSubstr("tcp . 5432"));
  EXPECT_THAT(db, Not(HasSubstr("10.1.0.12")));
}

TEST(RulesetRendererTest, DenySetsComeBeforeAllowSetsWithCounters) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  b.Flow({.from = {"internet"},
          .to = {"web"},
          .services = {"any"},
          .deny = true,
          .sources = {"203.0.113.0/24"}});
  Policy p = b.Finish();
  std::string text = RenderRuleset(p, *p.FindHost("web-1"));
  // The deny is narrowed to its sources: their range gets a profile that drops everything
  // (counted) before the https allow could accept; the rest of internet keeps the allow.
  std::string denied = JumpOf(text, "203.0.113.0/24");
  ASSERT_FALSE(denied.empty()) << text;
  EXPECT_EQ(Chain(text, denied), "  chain " + denied + " {\n    counter drop");
  std::string allowed = JumpOf(text, "0.0.0.0-10.0.255.255");
  EXPECT_NE(allowed, denied);
  EXPECT_THAT(Chain(text, allowed), HasSubstr("th dport @" + allowed + "_l4 goto accept_in"));

  PolicyBuilder b2 = SmallPolicy();
  b2.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https", "postgres"}});
  b2.Flow({.from = {"internet"}, .to = {"web"}, .services = {"postgres"}, .deny = true});
  Policy p2 = b2.Finish();
  std::string both = Chain(RenderRuleset(p2, *p2.FindHost("web-1")), "in_p1");
  size_t deny = both.find("@in_p1_l4_deny counter drop");
  size_t allow = both.find("@in_p1_l4 goto accept_in");
  ASSERT_NE(deny, std::string::npos) << both;
  ASSERT_NE(allow, std::string::npos) << both;
  EXPECT_LT(deny, allow);
}

TEST(RulesetRendererTest, IcmpUsesTypeSetsPerFamily) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"web"}, .to = {"web"}, .services = {"ping"}});
  Policy p = b.Finish();
  std::string text = RenderRuleset(p, *p.FindHost("web-1"));
  // One profile for both families: icmp type counts for IPv4 packets, icmpv6 type for IPv6.
  EXPECT_EQ(JumpOf(text, "10.1.0.0/24"), "in_p1") << text;
  EXPECT_EQ(JumpOf(text, "2001:db8:1::/64"), "in_p2");
  EXPECT_THAT(Chain(text, "in_p1"), HasSubstr("icmp type @in_p1_icmp goto accept_in"));
  EXPECT_THAT(Elements(text, "in_p1_icmp"), HasSubstr("      echo-request\n"));
  EXPECT_THAT(Chain(text, "in_p2"), HasSubstr("icmpv6 type @in_p2_icmpv6 goto accept_in"));
  EXPECT_THAT(Elements(text, "in_p2_icmpv6"), HasSubstr("      echo-request\n"));
  // (Observation rules read `th dport` only behind `meta l4proto { tcp, udp, sctp }`.)
  EXPECT_THAT(text, Not(HasSubstr("th dport @")));
}

TEST(RulesetRendererTest, ExpiredFlowsHaveNoEffect) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}, .active = false});
  Policy p = b.Finish();
  EXPECT_THAT(RenderRuleset(p, *p.FindHost("web-1")), Not(HasSubstr("443")));
}

TEST(RulesetRendererTest, AntiLockoutBeforeDenies) {
  PolicyBuilder b = SmallPolicy();
  b.Controller({"10.2.0.5"}, 7443);
  b.Flow({.from = {"web"}, .to = {"db"}, .services = {"any"}, .deny = true});
  Policy p = b.Finish();
  std::string web = RenderRuleset(p, *p.FindHost("web-1"));
  size_t ctl = web.find("ip daddr . tcp dport @controller4 accept");
  ASSERT_NE(ctl, std::string::npos) << web;
  EXPECT_LT(ctl, web.find("ip daddr vmap @out4"));
  EXPECT_EQ(Chain(web, "out_p1"), "  chain out_p1 {\n    counter drop");
  EXPECT_THAT(web, HasSubstr("10.2.0.5 . 7443"));
  EXPECT_THAT(web, Not(HasSubstr("@managed4")));
  std::string db = RenderRuleset(p, *p.FindHost("db-1"));
  EXPECT_THAT(db, HasSubstr("ip daddr . tcp dport @controller4 ip saddr @managed4 accept"));
  EXPECT_THAT(db, HasSubstr("10.1.0.11-10.1.0.12"));
}

TEST(RulesetRendererTest, AuditModeLogsCountsAndAccepts) {
  PolicyBuilder b = SmallPolicy();
  b.Mode(Mode::kAudit);
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"any"}, .deny = true});
  Policy p = b.Finish();
  std::string text = RenderRuleset(p, *p.FindHost("web-1"));
  EXPECT_THAT(text, HasSubstr("mode=audit"));
  EXPECT_THAT(text, HasSubstr("policy accept;"));
  EXPECT_THAT(text, Not(HasSubstr("policy drop;")));
  EXPECT_EQ(Chain(text, "in_p1"),
            "  chain in_p1 {\n    counter log prefix \"polder-audit \" accept");
  EXPECT_THAT(text, HasSubstr("    log prefix \"polder-audit \" counter accept\n  }"));
  EXPECT_THAT(text, Not(HasSubstr(" drop")));
}

TEST(RulesetRendererTest, LogDeniedRateLimitsBeforeThePolicyDrop) {
  PolicyBuilder b = SmallPolicy();
  b.LogDenied();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"any"}, .deny = true});
  Policy p = b.Finish();
  std::string text = RenderRuleset(p, *p.FindHost("web-1"));
  EXPECT_EQ(Chain(text, "in_p1"), "  chain in_p1 {\n    counter goto denied");
  EXPECT_THAT(text,
              HasSubstr("    limit rate 10/second burst 20 packets log prefix \"polder-deny \"\n"
                        "  }"));
  EXPECT_THAT(text, HasSubstr("chain denied {"));
}

TEST(RulesetRendererTest, PartialSourcesKeyOutboundOnTheHostAddress) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"web"}, .to = {"db"}, .services = {"postgres"}, .sources = {"10.1.0.11/32"}});
  Policy p = b.Finish();
  // web-1 has 10.1.0.11 (admitted) and an IPv6 address; only IPv4 matters here.
  std::string web1 = RenderRuleset(p, *p.FindHost("web-1"));
  EXPECT_EQ(JumpOf(web1, "10.2.0.0/24"), "out_p1");
  std::string web2 = RenderRuleset(p, *p.FindHost("web-2"));
  EXPECT_THAT(web2, Not(HasSubstr("5432")));

  PolicyBuilder b2 = SmallPolicy();
  b2.Host("web-3", {"10.1.0.13", "10.1.0.14"});
  b2.Flow({.from = {"web"}, .to = {"db"}, .services = {"postgres"}, .sources = {"10.1.0.13/32"}});
  Policy p2 = b2.Finish();
  std::string web3 = RenderRuleset(p2, *p2.FindHost("web-3"));
  EXPECT_THAT(Chain(web3, "output"), HasSubstr("ip saddr @out4s_self ip daddr vmap @out4s"));
  EXPECT_THAT(Elements(web3, "out4s_self"), HasSubstr("      10.1.0.13\n"));
  EXPECT_THAT(web3, Not(HasSubstr("10.1.0.14")));
  EXPECT_THAT(Elements(web3, "out4s"), HasSubstr("      10.2.0.0/24 : jump out_p1\n"));
  EXPECT_THAT(web3, Not(HasSubstr("vmap @out4\n")));  // no flow for every address
}

TEST(RulesetRendererTest, DeterministicAndCachedByContent) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  b.Flow({.from = {"web"}, .to = {"db"}, .services = {"postgres"}});
  Policy p = b.Finish();
  auto first = RenderAllRulesets(p);
  auto second = RenderAllRulesets(p);
  ASSERT_EQ(first.size(), 3u);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].text, second[i].text);

  RulesetRenderer renderer(p);
  std::string w1 = renderer.Render(*p.FindHost("web-1"));
  std::string w2 = renderer.Render(*p.FindHost("web-2"));
  renderer.Render(*p.FindHost("db-1"));
  EXPECT_EQ(renderer.distinct_bodies(), 2u);
  EXPECT_EQ(w1.substr(w1.find('\n')), w2.substr(w2.find('\n')));
  EXPECT_NE(w1, w2);  // the header names the host
}

TEST(RulesetRendererTest, OverlappingFlowsBecomeDisjointElements) {
  PolicyBuilder b = SmallPolicy();
  b.Service("web-alt", {"tcp/440-450"});
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https"}});
  b.Flow({.from = {"db"}, .to = {"web"}, .services = {"web-alt"}});
  Policy p = b.Finish();
  std::string text = RenderRuleset(p, *p.FindHost("web-1"));
  // db gets 440-450 and internet's 443 inside it: one element, since an interval set
  // refuses overlapping ones; the rest of internet gets 443 alone.
  std::string db = JumpOf(text, "10.2.0.0/24");
  EXPECT_THAT(
      Elements(text, db + "_l4"),
      HasSubstr("    flags interval\n    counter\n    elements = {\n      tcp . 440-450\n    }"))
      << text;
  std::string internet = JumpOf(text, "10.2.1.0-255.255.255.255");
  EXPECT_NE(db, internet);
  EXPECT_THAT(Elements(text, internet + "_l4"), HasSubstr("elements = {\n      tcp . 443\n    }"));
}

TEST(RulesetRendererTest, HostEssentialsComeBeforeThePolicyInBothModes) {
  for (Mode mode : {Mode::kEnforce, Mode::kAudit}) {
    PolicyBuilder b = SmallPolicy();
    b.Mode(mode);
    b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"any"}, .deny = true});
    b.Flow({.from = {"web"}, .to = {"internet"}, .services = {"any"}, .deny = true});
    Policy p = b.Finish();
    std::string text = RenderRuleset(p, *p.FindHost("web-1"));
    std::string in = Chain(text, "input");
    std::string out = Chain(text, "output");
    EXPECT_THAT(in, HasSubstr("icmpv6 type { nd-router-advert, nd-neighbor-solicit, "
                              "nd-neighbor-advert } ip6 hoplimit 255 accept"));
    EXPECT_THAT(out, HasSubstr("icmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
                               "nd-neighbor-advert } ip6 hoplimit 255 accept"));
    EXPECT_THAT(in,
                HasSubstr("icmpv6 type nd-redirect ip6 saddr fe80::/10 ip6 hoplimit 255 accept"));
    EXPECT_THAT(out, Not(HasSubstr("nd-redirect")));
    EXPECT_THAT(out, Not(HasSubstr("nd-router-advert")));
    for (const std::string& chain : {in, out}) {
      EXPECT_THAT(chain, HasSubstr("icmpv6 type { mld-listener-query, mld-listener-report, "
                                   "mld-listener-done, mld2-listener-report } ip6 saddr { ::, "
                                   "fe80::/10 } accept"));
      EXPECT_THAT(chain, HasSubstr("icmpv6 type { destination-unreachable, packet-too-big, "
                                   "time-exceeded, parameter-problem } accept"));
      EXPECT_THAT(chain, HasSubstr("icmp type { destination-unreachable, time-exceeded, "
                                   "parameter-problem } accept"));
      EXPECT_THAT(chain, HasSubstr("    # host essentials: IPv6 neighbour and router discovery"));
      // Before the denies, and before `ct state invalid` (an untracked ICMP error is invalid).
      size_t last = chain.find("icmp type { destination-unreachable");
      EXPECT_LT(last, chain.find(" vmap @"));
      if (mode == Mode::kEnforce) {
        EXPECT_LT(last, chain.find("ct state invalid counter drop"));
      }
      EXPECT_LT(chain.find("ct state established,related accept"), chain.find("# host essentials"));
    }
    EXPECT_THAT(text, Not(HasSubstr("th dport @")));
    EXPECT_THAT(text, Not(HasSubstr("sport 67")));  // host_dhcp defaults to false
    EXPECT_THAT(text, Not(HasSubstr("546")));
  }
}

TEST(RulesetRendererTest, HostDhcpAllowsTheDhcpClient) {
  PolicyBuilder b = SmallPolicy();
  Policy p = b.Finish();
  p.settings.host_dhcp = true;
  std::string text = RenderRuleset(p, *p.FindHost("db-1"));
  std::string in = Chain(text, "input");
  std::string out = Chain(text, "output");
  EXPECT_THAT(in, HasSubstr("    # host essentials: DHCP client (settings.host_dhcp)\n"));
  EXPECT_THAT(in, HasSubstr("meta nfproto ipv4 udp sport 67 udp dport 68 accept"));
  EXPECT_THAT(in, HasSubstr("ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept"));
  EXPECT_THAT(out, HasSubstr("meta nfproto ipv4 udp sport 68 udp dport 67 accept"));
  EXPECT_THAT(out, HasSubstr("ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept"));
  EXPECT_THAT(in, Not(HasSubstr("dport 67")));
  EXPECT_THAT(out, Not(HasSubstr("dport 68")));
  EXPECT_LT(in.find("udp dport 68"), in.find("ct state invalid"));
}

}  // namespace
// Issue 11: the kernel counts what each allow element and each peer range let through.
TEST(RulesetRendererTest, AllowSetsAndPeerMapsCountPerElementAndAnAllowOfAnyHasANamedCounter) {
  PolicyBuilder b = SmallPolicy();
  b.Flow({.from = {"internet"}, .to = {"web"}, .services = {"https", "ping"}});
  b.Flow({.from = {"db"}, .to = {"web"}, .services = {"postgres"}, .deny = true});
  b.Flow({.from = {"web"}, .to = {"web"}, .services = {"any"}});
  Policy p = b.Finish();
  HostRuleset r = RulesetRenderer(p).RenderHost(*p.FindHost("web-1"));
  std::map<std::string, bool> counted;
  for (const wire::NftSet& s : r.ruleset->sets) counted[s.name] = s.counter;
  EXPECT_TRUE(counted.at("in4")) << r.text;
  EXPECT_TRUE(counted.at("in6"));
  int allow_sets = 0, deny_sets = 0;
  for (const auto& [name, counter] : counted) {
    if (absl::StartsWith(name, "in_p") && absl::EndsWith(name, "_deny")) {
      ++deny_sets;
      EXPECT_FALSE(counter) << name << ": its rule's own counter counts denies";
    } else if (absl::StartsWith(name, "in_p")) {
      ++allow_sets;
      EXPECT_TRUE(counter) << name;
    }
  }
  EXPECT_GE(allow_sets, 2);  // https and echo-request
  EXPECT_EQ(deny_sets, 1);
  // web -> web allows everything: no set, a named counter declared in the table.
  EXPECT_THAT(r.text, HasSubstr("counter name \"in_p"));
  bool declared = false;
  for (const wire::NftNamedCounter& c : r.ruleset->counters) {
    declared |= absl::StartsWith(c.name, "in_p") && absl::EndsWith(c.name, "_any");
  }
  EXPECT_TRUE(declared);
  EXPECT_THAT(r.text, HasSubstr("    counter\n    elements"));
}

}  // namespace polder
