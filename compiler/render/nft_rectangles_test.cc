#include "compiler/render/nft_rectangles.h"

#include <random>

#include "gtest/gtest.h"

namespace polder {
namespace {

AddressSet Range(uint32_t lo, uint32_t hi) {
  return AddressSet::Of(AddressRange{Family::kV4, lo, hi});
}

TEST(DisjointRectanglesTest, SplitsOverlappingPortRanges) {
  // 10.0.0.0/24 on 80, and 10.0.0.0/25 on 80-90: port 80 once, 81-90 for the /25.
  AddressSet net = AddressSet::Of(*Prefix::Parse("10.0.0.0/24"));
  AddressSet half = AddressSet::Of(*Prefix::Parse("10.0.0.0/25"));
  auto rects = DisjointRectangles({{net, 80, 80}, {half, 80, 90}}, Family::kV4);
  ASSERT_EQ(rects.size(), 2u);
  EXPECT_EQ(rects[0].addresses.ToString(), "10.0.0.0/24");
  EXPECT_EQ(rects[0].lo, 80);
  EXPECT_EQ(rects[0].hi, 80);
  EXPECT_EQ(rects[1].addresses.ToString(), "10.0.0.0/25");
  EXPECT_EQ(rects[1].lo, 81);
  EXPECT_EQ(rects[1].hi, 90);
}

TEST(DisjointRectanglesTest, MergesAdjacentRangesWithEqualPeers) {
  AddressSet a = Range(100, 200);
  auto rects = DisjointRectangles({{a, 1, 10}, {a, 11, 20}, {a, 5, 15}}, Family::kV4);
  ASSERT_EQ(rects.size(), 1u);
  EXPECT_EQ(rects[0].lo, 1);
  EXPECT_EQ(rects[0].hi, 20);
}

TEST(DisjointRectanglesTest, KeepsOnlyTheRequestedFamily) {
  AddressSet both = AddressSet::Of(*Prefix::Parse("10.0.0.0/8"))
                        .Union(AddressSet::Of(*Prefix::Parse("2001:db8::/32")));
  auto v6 = DisjointRectangles({{both, 443, 443}}, Family::kV6);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].addresses.ToString(), "2001:db8::/32");
  EXPECT_TRUE(DisjointRectangles({{AddressSet(), 1, 2}}, Family::kV4).empty());
}

// Brute force on a small grid: every point in the union of the blocks lies in
// exactly one rectangle, and no other point lies in any.
TEST(DisjointRectanglesTest, RandomBlocksAreCoveredExactlyOnce) {
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<PortBlock> blocks;
    int n = 1 + rng() % 6;
    for (int i = 0; i < n; ++i) {
      AddressSet peers;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        uint32_t lo = rng() % 40, hi = lo + rng() % 10;
        peers.Add(AddressRange{Family::kV4, lo, hi});
      }
      uint16_t plo = rng() % 30, phi = plo + rng() % 12;
      blocks.push_back({peers, plo, phi});
    }
    auto rects = DisjointRectangles(blocks, Family::kV4);
    for (uint32_t a = 0; a < 52; ++a) {
      for (uint16_t p = 0; p < 45; ++p) {
        bool in_blocks = false;
        for (const auto& b : blocks) {
          in_blocks |= b.lo <= p && p <= b.hi && b.peers.Contains(Address{Family::kV4, a});
        }
        int hits = 0;
        for (const auto& r : rects) {
          hits += r.lo <= p && p <= r.hi && r.addresses.Contains(Address{Family::kV4, a});
        }
        ASSERT_EQ(hits, in_blocks ? 1 : 0) << "round " << round << " addr " << a << " port " << p;
      }
    }
  }
}

}  // namespace
}  // namespace polder
