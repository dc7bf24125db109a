#include "compiler/model/address.h"

#include <gtest/gtest.h>

#include "compiler/model/address_set.h"

namespace polder {
namespace {

TEST(PrefixTest, ParsesBothFamilies) {
  absl::StatusOr<Prefix> v4 = Prefix::Parse("10.1.0.0/24");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "10.1.0.0/24");
  EXPECT_TRUE(v4->Contains(*Address::Parse("10.1.0.255")));
  EXPECT_FALSE(v4->Contains(*Address::Parse("10.1.1.0")));
  absl::StatusOr<Prefix> v6 = Prefix::Parse("2001:db8:1::/48");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "2001:db8:1::/48");
  EXPECT_FALSE(v6->Contains(*Address::Parse("10.1.0.1")));
}

TEST(PrefixTest, RejectsHostBitsAndSaysTheFix) {
  absl::StatusOr<Prefix> p = Prefix::Parse("10.1.0.1/24");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "`10.1.0.1/24` has host bits set; write `10.1.0.0/24`");
}

TEST(PrefixTest, RejectsBadLengthsAndText) {
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/08").ok());  // leading zero
  EXPECT_TRUE(Prefix::Parse("0.0.0.0/0").ok());
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/-1").ok());
  EXPECT_FALSE(Prefix::Parse("banana/8").ok());
  EXPECT_FALSE(Prefix::Parse("::/129").ok());
  EXPECT_TRUE(Prefix::Parse("::/0").ok());
  EXPECT_TRUE(Prefix::Parse("0.0.0.0/0").ok());
}

TEST(AddressSetTest, SubtractSplitsRanges) {
  AddressSet all = AddressSet::Of(*Prefix::Parse("10.0.0.0/8"));
  AddressSet hole = AddressSet::Of(*Prefix::Parse("10.1.0.0/16"));
  AddressSet rest = all.Subtract(hole);
  EXPECT_EQ(rest.ToString(), "10.0.0.0/16, 10.2.0.0-10.255.255.255");
  EXPECT_FALSE(rest.Contains(*Address::Parse("10.1.2.3")));
  EXPECT_TRUE(rest.Contains(*Address::Parse("10.2.0.0")));
  EXPECT_EQ(rest.Union(hole), all);
  EXPECT_TRUE(rest.Intersect(hole).Empty());
}

TEST(AddressSetTest, FullIpv6SpaceDoesNotOverflow) {
  AddressSet all = AddressSet::Of(*Prefix::Parse("::/0"));
  AddressSet some = AddressSet::Of(*Prefix::Parse("2001:db8::/32"));
  AddressSet rest = all.Subtract(some);
  EXPECT_EQ(rest.Union(some), all);
  EXPECT_EQ(rest.intervals(Family::kV6).size(), 2u);
  EXPECT_EQ(all.ToString(), "::/0");
}

}  // namespace
}  // namespace polder
