#include "compiler/verify/address_classes.h"

#include <gtest/gtest.h>

namespace polder {
namespace {

AddressSet Set(std::initializer_list<const char*> prefixes) {
  AddressSet s;
  for (const char* p : prefixes) s.Add(*Prefix::Parse(p));
  return s;
}

TEST(AddressClassesTest, SplitsWhereACutTellsAddressesApart) {
  // 10.0.0.0/24 with a host-sized cut and a /25 cut: {the host}, {rest of the low /25},
  // {the high /25}.
  std::vector<AddressSet> classes =
      AddressClasses(Set({"10.0.0.0/24"}), {Set({"10.0.0.7"}), Set({"10.0.0.0/25"})});
  ASSERT_EQ(classes.size(), 3u);
  EXPECT_EQ(classes[0].ToString(), "10.0.0.0-10.0.0.6, 10.0.0.8-10.0.0.127");
  EXPECT_EQ(classes[1].ToString(), "10.0.0.7/32");
  EXPECT_EQ(classes[2].ToString(), "10.0.0.128/25");
}

TEST(AddressClassesTest, SameMembershipIsOneClassAndFamiliesStayApart) {
  // Two disjoint ranges both outside the only cut form one class; IPv6 is a class of its own
  // even when it shares the membership.
  std::vector<AddressSet> classes =
      AddressClasses(Set({"10.0.0.0/24", "10.0.2.0/24", "2001:db8::/64"}), {Set({"10.0.1.0/24"})});
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_EQ(classes[0].ToString(), "10.0.0.0/24, 10.0.2.0/24");
  EXPECT_EQ(classes[1].ToString(), "2001:db8::/64");
}

TEST(AddressClassesTest, CutsAtTheTopOfTheSpaceDoNotOverflow) {
  std::vector<AddressSet> classes =
      AddressClasses(Set({"0.0.0.0/0", "::/0"}), {Set({"255.255.255.255", "ffff::/16"})});
  ASSERT_EQ(classes.size(), 4u);
  EXPECT_EQ(classes[1].ToString(), "255.255.255.255/32");
  EXPECT_EQ(classes[3].ToString(), "ffff::/16");
}

TEST(AddressClassesTest, ShortTextCountsWhatItLeavesOut) {
  EXPECT_EQ(ShortAddressText(Set({"10.0.0.1", "10.0.1.0/24", "10.0.3.0/24"}), 2),
            "10.0.0.1, 10.0.1.0/24 and 1 more ranges");
}

}  // namespace
}  // namespace polder
