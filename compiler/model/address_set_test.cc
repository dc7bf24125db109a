#include "compiler/model/address_set.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace polder {
namespace {

// Add and Union keep the list normalised (sorted, disjoint, non-adjacent) and hold exactly
// the addresses added: checked against a plain set over a small space, in random order.
TEST(AddressSetTest, AddAndUnionMatchAPlainSet) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    AddressSet a, b;
    std::set<uint32_t> ref_a, ref_b;
    for (int k = 0; k < 12; ++k) {
      uint32_t lo = rng() % 64, len = rng() % 6;
      bool to_a = rng() % 2 == 0;
      (to_a ? a : b).Add(AddressRange{Family::kV4, lo, lo + len});
      for (uint32_t x = lo; x <= lo + len; ++x) (to_a ? ref_a : ref_b).insert(x);
    }
    AddressSet u = a.Union(b);
    std::set<uint32_t> ref_u = ref_a;
    ref_u.insert(ref_b.begin(), ref_b.end());
    for (const auto& [set, ref] : {std::pair{&a, &ref_a}, {&u, &ref_u}}) {
      const std::vector<Interval>& v = set->intervals(Family::kV4);
      for (size_t i = 1; i < v.size(); ++i) {
        ASSERT_LT(v[i - 1].hi + 1, v[i].lo) << set->ToString();
      }
      for (uint32_t x = 0; x < 80; ++x) {
        ASSERT_EQ(set->Contains(Address{Family::kV4, x}), ref->count(x) > 0)
            << x << " in " << set->ToString();
      }
    }
  }
}

TEST(AddressSetTest, AddAtTheTopOfTheSpaceDoesNotWrap) {
  AddressSet s;
  s.Add(AddressRange{Family::kV6, absl::Uint128Max() - 5, absl::Uint128Max()});
  s.Add(AddressRange{Family::kV6, 0, 3});
  s.Add(AddressRange{Family::kV6, absl::Uint128Max() - 9, absl::Uint128Max() - 6});
  ASSERT_EQ(s.intervals(Family::kV6).size(), 2u);
  EXPECT_EQ(s.intervals(Family::kV6)[1].lo, absl::Uint128Max() - 9);
  EXPECT_EQ(s.Union(AddressSet::Everything()).intervals(Family::kV6).size(), 1u);
}

}  // namespace
}  // namespace polder
