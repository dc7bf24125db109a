#include "compiler/model/address_set.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace polder {
namespace {

using Intervals = std::vector<Interval>;

// Every operation below merges normalised lists (sorted, disjoint, non-adjacent), so each is
// linear in the size of its inputs; the policy's 100,000-host sets are built by repeated Add
// and Union, which a sort per call made quadratic (a one-flow `polder diff` of such a policy
// took 15 s of CPU, three quarters of it sorting).

// Whether `next` (which starts at or after `prev`) touches or overlaps `prev`.
bool Touches(const Interval& prev, const Interval& next) {
  return prev.hi == absl::Uint128Max() || next.lo <= prev.hi + 1;
}

Intervals UnionOf(const Intervals& a, const Intervals& b) {
  Intervals out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const Interval& next = j == b.size() || (i < a.size() && a[i].lo <= b[j].lo) ? a[i++] : b[j++];
    if (!out.empty() && Touches(out.back(), next)) {
      out.back().hi = std::max(out.back().hi, next.hi);
    } else {
      out.push_back(next);
    }
  }
  return out;
}

Intervals IntersectOf(const Intervals& a, const Intervals& b) {
  Intervals out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    absl::uint128 lo = std::max(a[i].lo, b[j].lo);
    absl::uint128 hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    if (a[i].hi < b[j].hi) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

Intervals SubtractOf(const Intervals& a, const Intervals& b) {
  Intervals out;
  size_t j = 0;
  for (Interval cur : a) {
    while (j < b.size() && b[j].hi < cur.lo) ++j;
    size_t k = j;
    bool alive = true;
    while (k < b.size() && b[k].lo <= cur.hi) {
      if (b[k].lo > cur.lo) out.push_back({cur.lo, b[k].lo - 1});
      if (b[k].hi >= cur.hi) {
        alive = false;
        break;
      }
      cur.lo = b[k].hi + 1;
      ++k;
    }
    if (alive) out.push_back(cur);
  }
  return out;
}

bool ContainsValue(const Intervals& v, absl::uint128 x) {
  auto it = std::upper_bound(v.begin(), v.end(), x,
                             [](absl::uint128 val, const Interval& i) { return val < i.lo; });
  return it != v.begin() && std::prev(it)->hi >= x;
}

}  // namespace

AddressSet AddressSet::Of(const Prefix& p) { return Of(p.Range()); }

AddressSet AddressSet::Of(const AddressRange& r) {
  AddressSet s;
  s.Add(r);
  return s;
}

AddressSet AddressSet::Everything() {
  AddressSet s;
  s.v4_.push_back({0, FamilyMax(Family::kV4)});
  s.v6_.push_back({0, FamilyMax(Family::kV6)});
  return s;
}

void AddressSet::Add(const AddressRange& r) {
  Intervals& v = mutable_intervals(r.family);
  Interval add{r.lo, r.hi};
  // The intervals that `add` overlaps or touches are [first, last): `first` is the first
  // interval ending at or after add.lo - 1, `last` the first starting after add.hi + 1.
  auto first =
      std::lower_bound(v.begin(), v.end(), add.lo, [](const Interval& i, absl::uint128 lo) {
        return i.hi != absl::Uint128Max() && i.hi + 1 < lo;
      });
  auto last = std::upper_bound(first, v.end(), add.hi, [](absl::uint128 hi, const Interval& i) {
    return hi != absl::Uint128Max() && hi + 1 < i.lo;
  });
  if (first == last) {
    v.insert(first, add);
    return;
  }
  first->lo = std::min(first->lo, add.lo);
  first->hi = std::max(std::prev(last)->hi, add.hi);
  v.erase(std::next(first), last);
}

AddressSet AddressSet::Union(const AddressSet& other) const {
  AddressSet s;
  s.v4_ = UnionOf(v4_, other.v4_);
  s.v6_ = UnionOf(v6_, other.v6_);
  return s;
}

AddressSet AddressSet::Intersect(const AddressSet& other) const {
  AddressSet s;
  s.v4_ = IntersectOf(v4_, other.v4_);
  s.v6_ = IntersectOf(v6_, other.v6_);
  return s;
}

AddressSet AddressSet::Subtract(const AddressSet& other) const {
  AddressSet s;
  s.v4_ = SubtractOf(v4_, other.v4_);
  s.v6_ = SubtractOf(v6_, other.v6_);
  return s;
}

bool AddressSet::Contains(const Address& a) const {
  return ContainsValue(intervals(a.family), a.value);
}

Address AddressSet::Representative() const {
  if (!v4_.empty()) return Address{Family::kV4, v4_.front().lo};
  return Address{Family::kV6, v6_.front().lo};
}

std::vector<AddressRange> AddressSet::Ranges() const {
  std::vector<AddressRange> out;
  for (const Interval& i : v4_) out.push_back({Family::kV4, i.lo, i.hi});
  for (const Interval& i : v6_) out.push_back({Family::kV6, i.lo, i.hi});
  return out;
}

std::string AddressSet::ToString() const {
  std::vector<std::string> parts;
  for (const AddressRange& r : Ranges()) parts.push_back(r.ToString());
  return absl::StrJoin(parts, ", ");
}

}  // namespace polder
