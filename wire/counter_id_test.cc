#include "wire/counter_id.h"

#include "gtest/gtest.h"

namespace polder::wire {
namespace {

TEST(CounterIdTest, ElementsAreNamedByTheStartOfEachKeyPart) {
  NftElement range = NftElement::Of({{std::string("\x0a\x0a\x02\x00", 4), "\x0a\x0a\x02\xff"}});
  EXPECT_EQ(ElementCounterId("in4", range), "in4/0a0a0200");
  NftElement service = NftElement::Of({{"\x06", "\x06"}, {std::string("\x00\x16", 2), "\x00\x16"}});
  EXPECT_EQ(ElementCounterId("in_p3_l4", service), "in_p3_l4/06.0016");
  EXPECT_EQ(NamedCounterId("in_p2_any"), "counter/in_p2_any");
}

}  // namespace
}  // namespace polder::wire
