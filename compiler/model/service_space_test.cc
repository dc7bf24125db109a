#include "compiler/model/service_space.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

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

// Add, Subtract and Covers are merges over sorted ranges; a port-by-port model says what
// they must give, on random lists of tcp ranges in a small port space.
TEST(ServiceSpaceTest, MergesAgreeWithAPortByPortModel) {
  std::mt19937 rng(15);
  auto random_space = [&](std::vector<bool>& ports) {
    ServiceSpace s;
    int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) {
      int lo = static_cast<int>(rng() % 60), hi = lo + static_cast<int>(rng() % 8);
      s.Add(ServiceSpace::Of(
          ServicePort{Protocol::kTcp, static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)}));
      for (int p = lo; p <= hi; ++p) ports[p] = true;
    }
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    std::vector<bool> pa(70, false), pb(70, false);
    ServiceSpace a = random_space(pa), b = random_space(pb);
    bool covers = true;
    for (int p = 0; p < 70; ++p) {
      EXPECT_EQ(a.Contains(Protocol::kTcp, p), pa[p]) << a.ToString() << " port " << p;
      if (pb[p] && !pa[p]) covers = false;
      EXPECT_EQ(a.Subtract(b).Contains(Protocol::kTcp, p), pa[p] && !pb[p]);
    }
    EXPECT_EQ(a.Covers(b), covers) << a.ToString() << " / " << b.ToString();
    EXPECT_EQ(a.Covers(b), b.Subtract(a).Empty());
    // Normalised: no two ranges touch, so the printed form is the unique one.
    const auto& r = a.ranges(0);
    for (size_t k = 1; k < r.size(); ++k) EXPECT_GT(r[k].lo, r[k - 1].hi + 1) << a.ToString();
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace polder
