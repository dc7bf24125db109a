// IP addresses and prefixes, IPv4 and IPv6 alike.
//
// Both families are held as 128-bit integers so that the address-space code
// (AddressSet, ZoneMap) has one arithmetic for both. Parsing goes through
// inet_pton; the factories reject what the policy language forbids (for
// prefixes: host bits set) with a message that says how to fix it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"

namespace polder {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

inline int FamilyBits(Family f) { return f == Family::kV4 ? 32 : 128; }
inline absl::uint128 FamilyMax(Family f) {
  return f == Family::kV4 ? absl::uint128(0xffffffffu) : absl::Uint128Max();
}

struct Address {
  Family family = Family::kV4;
  absl::uint128 value = 0;

  static absl::StatusOr<Address> Parse(std::string_view text);
  std::string ToString() const;
  friend bool operator==(const Address&, const Address&) = default;
  friend bool operator<(const Address& a, const Address& b) {
    return a.family != b.family ? a.family < b.family : a.value < b.value;
  }
};

// An inclusive range of addresses of one family.
struct AddressRange {
  Family family = Family::kV4;
  absl::uint128 lo = 0;
  absl::uint128 hi = 0;

  bool Contains(const Address& a) const {
    return a.family == family && lo <= a.value && a.value <= hi;
  }
  // "10.0.0.0/24" when the range is a prefix, else "10.0.0.5-10.0.0.9".
  std::string ToString() const;
  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};

struct Prefix {
  Address base;
  int length = 0;

  // Accepts "10.0.0.0/8", "2001:db8::/32" and a bare address (a /32 or /128).
  // Rejects host bits set, e.g. "10.0.0.1/24".
  static absl::StatusOr<Prefix> Parse(std::string_view text);
  static Prefix Host(const Address& a) { return Prefix{a, FamilyBits(a.family)}; }
  AddressRange Range() const;
  bool Contains(const Address& a) const { return Range().Contains(a); }
  std::string ToString() const;
  friend bool operator==(const Prefix&, const Prefix&) = default;
  friend bool operator<(const Prefix& a, const Prefix& b) {
    return a.base == b.base ? a.length < b.length : a.base < b.base;
  }
};

}  // namespace polder
