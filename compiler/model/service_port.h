// ServicePort: one item of a service's `ports` list (spec §4), e.g. tcp/443,
// udp/1000-2000, icmp/echo-request, icmpv6, any.
//
// For tcp/udp/sctp, [lo, hi] is a destination port range; for icmp/icmpv6 it
// is a range of ICMP types (0-255 when every type is meant); for `any` the
// range is unused. Parsing validates and explains how to fix bad items.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace polder {

enum class Protocol : uint8_t {
  kAny = 0,
  kIcmp = 1,
  kTcp = 6,
  kUdp = 17,
  kIcmpv6 = 58,
  kSctp = 132,
};

const char* ProtocolName(Protocol p);  // "tcp", "icmpv6", "any", ...
bool IsIcmp(Protocol p);

struct ServicePort {
  Protocol protocol = Protocol::kAny;
  uint16_t lo = 0;
  uint16_t hi = 0;

  static absl::StatusOr<ServicePort> Parse(std::string_view text);
  static ServicePort Any() { return ServicePort{Protocol::kAny, 0, 65535}; }
  // "tcp/443", "udp/1000-2000", "icmp/echo-request", "icmp", "any".
  std::string ToString() const;
  friend bool operator==(const ServicePort&, const ServicePort&) = default;
  friend auto operator<=>(const ServicePort&, const ServicePort&) = default;
};

// The nftables name of an ICMP (v6 when `v6`) type number, or "" if unnamed.
const char* IcmpTypeName(bool v6, int type);

}  // namespace polder
