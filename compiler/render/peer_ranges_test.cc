#include "compiler/render/peer_ranges.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polder {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

AddressSet Of(const char* prefix) { return AddressSet::Of(*Prefix::Parse(prefix)); }
absl::uint128 V4(const char* a) { return Address::Parse(a)->value; }
ServiceItem Tcp(uint16_t port, Action action = Action::kAllow) {
  return {action, Protocol::kTcp, port, port};
}

TEST(PeerRangesTest, SplitsOverlappingPeersAndMergesEqualNeighbours) {
  AddressSet wide = Of("10.0.0.0/16"), narrow = Of("10.0.1.0/24"), next = Of("10.1.0.0/16");
  std::vector<PeerService> items = {{&wide, Tcp(443)}, {&narrow, Tcp(22)}, {&next, Tcp(443)}};
  EXPECT_THAT(PeerRanges(items, Family::kV4),
              ElementsAre(PeerRange{V4("10.0.0.0"), V4("10.0.0.255"), {Tcp(443)}},
                          PeerRange{V4("10.0.1.0"), V4("10.0.1.255"), {Tcp(22), Tcp(443)}},
                          // 10.0.2.0-10.0.255.255 and all of 10.1.0.0/16: one range
                          PeerRange{V4("10.0.2.0"), V4("10.1.255.255"), {Tcp(443)}}));
}

TEST(PeerRangesTest, SameServiceFromTwoFlowsCountsOnceAndDeniesSortFirst) {
  AddressSet a = Of("10.0.0.0/24"), b = Of("10.0.0.0/25");
  std::vector<PeerService> items = {
      {&a, Tcp(443)}, {&b, Tcp(443)}, {&b, {Action::kDeny, Protocol::kAny, 0, 0}}};
  auto ranges = PeerRanges(items, Family::kV4);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_THAT(ranges[0].services,
              ElementsAre(ServiceItem{Action::kDeny, Protocol::kAny, 0, 0}, Tcp(443)));
  EXPECT_EQ(ranges[0].hi, V4("10.0.0.127"));
  EXPECT_THAT(ranges[1].services, ElementsAre(Tcp(443)));
}

TEST(PeerRangesTest, IcmpCountsForItsFamilyOnlyAndTheTopAddressCloses) {
  AddressSet all = AddressSet::Of(*Prefix::Parse("0.0.0.0/0"));
  all = all.Union(AddressSet::Of(*Prefix::Parse("::/0")));
  ServiceItem ping4{Action::kAllow, Protocol::kIcmp, 8, 8};
  ServiceItem ping6{Action::kAllow, Protocol::kIcmpv6, 128, 128};
  std::vector<PeerService> items = {{&all, ping4}, {&all, ping6}};
  EXPECT_THAT(PeerRanges(items, Family::kV4),
              ElementsAre(PeerRange{0, V4("255.255.255.255"), {ping4}}));
  EXPECT_THAT(PeerRanges(items, Family::kV6),
              ElementsAre(PeerRange{0, absl::Uint128Max(), {ping6}}));
  std::vector<PeerService> only6 = {{&all, ping6}};
  EXPECT_THAT(PeerRanges(only6, Family::kV4), IsEmpty());
}

}  // namespace
}  // namespace polder
