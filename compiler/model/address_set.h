// AddressSet: a set of IPv4 and IPv6 addresses held as sorted, disjoint,
// non-adjacent inclusive ranges per family.
//
// Zones' effective address spaces, flow endpoints and `sources` narrowing are
// all AddressSets, so that "some address of A" questions become interval
// arithmetic instead of walks over hosts.
#pragma once

#include <string>
#include <vector>

#include "compiler/model/address.h"

namespace polder {

struct Interval {
  absl::uint128 lo = 0;
  absl::uint128 hi = 0;
  friend bool operator==(const Interval&, const Interval&) = default;
};

class AddressSet {
 public:
  AddressSet() = default;
  static AddressSet Of(const Prefix& p);
  static AddressSet Of(const AddressRange& r);
  static AddressSet Everything();

  void Add(const AddressRange& r);
  void Add(const Prefix& p) { Add(p.Range()); }
  void Add(const Address& a) { Add(AddressRange{a.family, a.value, a.value}); }

  AddressSet Union(const AddressSet& other) const;
  AddressSet Intersect(const AddressSet& other) const;
  AddressSet Subtract(const AddressSet& other) const;

  bool Empty() const { return v4_.empty() && v6_.empty(); }
  bool Contains(const Address& a) const;
  bool Overlaps(const AddressSet& other) const { return !Intersect(other).Empty(); }
  // Some address in the set, preferring IPv4; the set must not be empty.
  Address Representative() const;

  const std::vector<Interval>& intervals(Family f) const { return f == Family::kV4 ? v4_ : v6_; }
  std::vector<AddressRange> Ranges() const;
  std::string ToString() const;  // "10.0.0.0/24, 10.0.1.5-10.0.1.9"
  friend bool operator==(const AddressSet&, const AddressSet&) = default;

 private:
  std::vector<Interval>& mutable_intervals(Family f) { return f == Family::kV4 ? v4_ : v6_; }
  std::vector<Interval> v4_;
  std::vector<Interval> v6_;
};

}  // namespace polder
