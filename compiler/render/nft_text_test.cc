#include "compiler/render/nft_text.h"

#include "compiler/model/address.h"
#include "compiler/render/nft_values.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polder {
namespace {

using ::testing::HasSubstr;

wire::NftKeyPart V4(const char* a) { return nft::Address(*Address::Parse(a)); }
wire::NftKeyPart V4Prefix(const char* p) {
  AddressRange r = Prefix::Parse(p)->Range();
  return nft::Addresses(Family::kV4, r.lo, r.hi);
}

TEST(NftTextTest, PrintsSetsJumpTargetsMapsAndBaseChainsInDeclarationOrder) {
  wire::NftRuleset rs;
  wire::NftSet& map = rs.sets.emplace_back();
  map.name = "in4";
  map.key = {wire::NftKeyType::kIpv4Addr};
  map.verdict_map = map.interval = true;
  map.elements.push_back(
      wire::NftElement::Of({V4Prefix("10.0.0.0/24")}, {wire::NftVerdict::kJump, "in_p1"}));
  map.elements.push_back(
      wire::NftElement::Of({nft::Addresses(Family::kV4, Address::Parse("10.0.1.5")->value,
                                           Address::Parse("10.0.1.9")->value)},
                           {wire::NftVerdict::kJump, "in_p1"}));
  wire::NftSet& l4 = rs.sets.emplace_back();
  l4.name = "in_p1_l4";
  l4.key = {wire::NftKeyType::kInetProto, wire::NftKeyType::kInetService};
  l4.interval = true;
  l4.elements.push_back(wire::NftElement::Of({nft::Proto(Protocol::kTcp), nft::Ports(22, 22)}));
  l4.elements.push_back(wire::NftElement::Of({nft::Proto(Protocol::kUdp), nft::Ports(9102, 9103)}));
  wire::NftChain& base = rs.chains.emplace_back();
  base.name = base.hook = "input";
  base.base = true;
  base.policy = wire::NftVerdict::kDrop;
  wire::NftRule& lo = base.rules.emplace_back();
  lo.matches.push_back(wire::NftMatch::Equal(wire::NftField::kIif, nft::Ifname("lo")));
  lo.statements.push_back(wire::NftStatement::Verdict(wire::NftVerdict::kAccept));
  lo.comment = "loopback";
  wire::NftRule& ct = base.rules.emplace_back();
  ct.matches.push_back(wire::NftMatch::Equal(wire::NftField::kCtState,
                                             nft::CtState(nft::kCtEstablished | nft::kCtRelated)));
  ct.statements.push_back(wire::NftStatement::Verdict(wire::NftVerdict::kAccept));
  wire::NftRule& vmap = base.rules.emplace_back();
  vmap.matches.push_back(wire::NftMatch::Vmap(wire::NftField::kIp4Saddr, "in4"));
  wire::NftChain& profile = rs.chains.emplace_back();
  profile.name = "in_p1";
  wire::NftRule& r = profile.rules.emplace_back();
  r.matches.push_back(
      wire::NftMatch::InSet({wire::NftField::kL4Proto, wire::NftField::kThDport}, "in_p1_l4"));
  r.statements.push_back(wire::NftStatement::Verdict(wire::NftVerdict::kAccept));

  std::string text = FormatNftTable(rs);
  EXPECT_EQ(text,
            "table inet polder {\n"
            "  set in_p1_l4 {\n"
            "    type inet_proto . inet_service\n"
            "    flags interval\n"
            "    elements = {\n"
            "      tcp . 22,\n"
            "      udp . 9102-9103\n"
            "    }\n"
            "  }\n"
            "\n"
            "  chain in_p1 {\n"
            "    meta l4proto . th dport @in_p1_l4 accept\n"
            "  }\n"
            "\n"
            "  map in4 {\n"
            "    type ipv4_addr : verdict\n"
            "    flags interval\n"
            "    elements = {\n"
            "      10.0.0.0/24 : jump in_p1,\n"
            "      10.0.1.5-10.0.1.9 : jump in_p1\n"
            "    }\n"
            "  }\n"
            "\n"
            "  chain input {\n"
            "    type filter hook input priority filter; policy drop;\n"
            "    # loopback\n"
            "    iif \"lo\" accept\n"
            "    ct state established,related accept\n"
            "    ip saddr vmap @in4\n"
            "  }\n"
            "}\n");
}

TEST(NftTextTest, PrintsValuesByField) {
  wire::NftRule r;
  r.matches.push_back(wire::NftMatch::InAnonSet(wire::NftField::kIcmpv6Type,
                                                {nft::Byte(133, 133), nft::Byte(200, 201)}));
  r.matches.push_back(wire::NftMatch::Equal(wire::NftField::kNfProto, nft::Byte(2, 2)));
  r.matches.push_back(wire::NftMatch::Equal(wire::NftField::kIp4Daddr, V4("10.0.0.1")));
  r.statements.push_back(wire::NftStatement::Counter());
  r.statements.push_back(wire::NftStatement::Limit(10, 20));
  r.statements.push_back(wire::NftStatement::Log("polder-deny "));
  r.statements.push_back(wire::NftStatement::Verdict(wire::NftVerdict::kGoto, "denied"));
  EXPECT_EQ(
      FormatNftRule(r),
      "icmpv6 type { nd-router-solicit, 200-201 } meta nfproto ipv4 ip daddr 10.0.0.1 "
      "counter limit rate 10/second burst 20 packets log prefix \"polder-deny \" goto denied");
}

}  // namespace
}  // namespace polder
