#include "wire/counter_id.h"

#include "gtest/gtest.h"

namespace polder::wire {
namespace {

TEST(CounterIdTest, ElementsAreNamedByTheirStartAsTheKernelStoresIt) {
  NftElement range = NftElement::Of({{std::string("\x0a\x0a\x02\x00", 4), "\x0a\x0a\x02\xff"}});
  EXPECT_EQ(ElementCounterId("in4", range), "in4/0a0a0200");
  NftElement service =
      NftElement::Of({{"\x06", "\x06"}, {std::string("\x00\x16", 2), std::string("\x00\x16", 2)}});
  EXPECT_EQ(ElementCounterId("in_p3_l4", service), "in_p3_l4/0600000000160000");
  EXPECT_EQ(KernelElementCounterId("in_p3_l4", std::string("\x06\0\0\0\0\x16\0\0", 8)),
            ElementCounterId("in_p3_l4", service));
  NftElement icmp = NftElement::Of({{"\x08", "\x08"}});  // one part: not padded
  EXPECT_EQ(ElementCounterId("in_p1_icmp", icmp), "in_p1_icmp/08");
  EXPECT_EQ(NamedCounterId("in_p2_any"), "counter/in_p2_any");
}

}  // namespace
}  // namespace polder::wire
