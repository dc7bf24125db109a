#include "compiler/model/service_space.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polder {
namespace {

ServiceSpace Of(const char* item) { return ServiceSpace::Of(*ServicePort::Parse(item)); }

TEST(ServiceSpaceTest, SetArithmeticMergesAdjacentRanges) {
  ServiceSpace s = Of("tcp/80");
  s.Add(Of("tcp/81-90"));
  s.Add(Of("udp/53"));
  EXPECT_EQ(s.ToString(), "tcp/80-90, udp/53");
  EXPECT_EQ(s.Subtract(Of("tcp/85")).ToString(), "tcp/80-84, tcp/86-90, udp/53");
  EXPECT_EQ(s.Intersect(Of("tcp/1-82")).ToString(), "tcp/80-82");
  EXPECT_TRUE(s.Covers(Of("tcp/83")));
  EXPECT_FALSE(s.Covers(Of("tcp/91")));
  EXPECT_TRUE(s.Subtract(s).Empty());
}

TEST(ServiceSpaceTest, AnyIsEveryPortOfEveryProtocolAndOneItem) {
  ServiceSpace any = Of("any");
  EXPECT_TRUE(any.IsEverything());
  EXPECT_EQ(any.Items().size(), 1u);
  EXPECT_EQ(any.ToString(), "any");
  EXPECT_TRUE(any.Contains(Protocol::kSctp, 0));
  EXPECT_TRUE(any.Contains(Protocol::kIcmpv6, 255));
  ServiceSpace rest = any.Subtract(Of("tcp/22"));
  EXPECT_EQ(rest.ToString(), "tcp/0-21, tcp/23-65535, udp, sctp, icmp, icmpv6");
  EXPECT_EQ(rest.Items().size(), 6u);
}

TEST(ServiceSpaceTest, IcmpTypesPrintByNameOrRange) {
  EXPECT_EQ(Of("icmp/echo-request").ToString(), "icmp/echo-request");
  EXPECT_EQ(Of("icmp").ToString(), "icmp");
  ServiceSpace types = Of("icmp/destination-unreachable");
  types.Add(Of("icmp/source-quench"));
  EXPECT_EQ(types.ToString(), "icmp/3-4");
  EXPECT_EQ(ServiceSpace().ToString(), "nothing");
}

}  // namespace
}  // namespace polder
