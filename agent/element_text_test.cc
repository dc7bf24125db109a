#include "agent/element_text.h"

#include <gtest/gtest.h>

#include "agent/nftnl_batch.h"
#include "agent/nftnl_writer.h"
#include "agent/testing/nft_ruleset_builder.h"

namespace polder::agent {
namespace {

// Lines as the snapshot keeps them (ExpectedElements: the same lines a kernel dump gives).
std::vector<std::string> LinesOf(const wire::NftRuleset& rs, const std::string& set) {
  auto expected = ExpectedElements(rs);
  EXPECT_TRUE(expected.ok()) << expected.status();
  return *expected->objects->element_lines.at(set);
}

TEST(ElementTextTest, VerdictMapIntervalsReadAsAddressesAndJumps) {
  wire::NftRuleset rs = testing::LayoutRuleset(2, 2, 1, 1);
  const wire::NftSet* found = nullptr;
  for (const wire::NftSet& s : rs.sets) {
    if (s.name == "in4") found = &s;
  }
  ASSERT_NE(found, nullptr);
  const wire::NftSet& map = *found;
  std::vector<std::string> text;
  for (const std::string& line : LinesOf(rs, "in4")) text.push_back(ElementText(line, map));
  EXPECT_NE(std::find(text.begin(), text.end(), "10.100.0.0 : jump in_p0"), text.end())
      << ::testing::PrintToString(text);
  EXPECT_NE(
      std::find(text.begin(), text.end(), "10.100.1.0 (end of the range before it, exclusive)"),
      text.end())
      << ::testing::PrintToString(text);
  EXPECT_NE(std::find(text.begin(), text.end(), "172.16.0.0 : jump in_p0"), text.end())
      << ::testing::PrintToString(text);
}

TEST(ElementTextTest, ConcatenationsReadPartByPart) {
  wire::NftRuleset rs = testing::LayoutRuleset(1, 1, 2, 0);
  const wire::NftSet* l4 = nullptr;
  for (const wire::NftSet& s : rs.sets) {
    if (s.key.size() == 2) l4 = &s;
  }
  ASSERT_NE(l4, nullptr);
  for (const std::string& line : LinesOf(rs, l4->name)) {
    std::string text = ElementText(line, *l4);
    EXPECT_TRUE(text.rfind("tcp . ", 0) == 0 || text.rfind("udp . ", 0) == 0) << text;
  }
}

TEST(ElementTextTest, WhatItCannotReadStaysAsItWas) {
  wire::NftSet set;
  set.key = {wire::NftKeyType::kIpv4Addr};
  for (std::string line : {"", "1=zz", "1=0800", "x=00", "1=0800010001 9", "7=00000000"}) {
    EXPECT_EQ(ElementText(line, set), line);
  }
}

}  // namespace
}  // namespace polder::agent
