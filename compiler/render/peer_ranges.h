// Peer ranges: the address space seen from one host, cut into disjoint
// ranges, each with the services its addresses get (spec §8).
//
// The ruleset looks a peer address up once, in an interval verdict map whose
// elements are these ranges, and jumps to the chain of the range's service
// profile, where small sets keyed by (protocol, port) or ICMP type decide. So
// a flow costs the kernel one element per service in its profile and one per
// range, rather than one per (prefix x service) pair of an interval
// concatenation, while a packet still pays two lookups whatever the number of
// flows. Ranges are found by one sweep over the interval end points.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/numeric/int128.h"
#include "compiler/model/address_set.h"
#include "compiler/model/policy.h"
#include "compiler/model/service_port.h"
#include "compiler/model/verdict.h"

namespace polder {

// One item of a flow's services with the flow's action. For `any`, lo = hi = 0.
struct ServiceItem {
  Action action = Action::kAllow;
  Protocol protocol = Protocol::kAny;
  uint16_t lo = 0;
  uint16_t hi = 0;
  friend bool operator==(const ServiceItem&, const ServiceItem&) = default;
  // Denies first (a profile chain decides them first), then by protocol and range.
  friend bool operator<(const ServiceItem& a, const ServiceItem& b) {
    auto key = [](const ServiceItem& s) {
      return std::make_tuple(s.action != Action::kDeny, s.protocol, s.lo, s.hi);
    };
    return key(a) < key(b);
  }
};

// Peers that get one service item; `peers` must outlive the call.
struct PeerService {
  const AddressSet* peers = nullptr;
  ServiceItem service;
  FlowId flow = -1;  // whose item it is (for the provenance of counters); not used here
};

// A maximal run of addresses of one family that get the same services.
struct PeerRange {
  absl::uint128 lo = 0;
  absl::uint128 hi = 0;
  std::vector<ServiceItem> services;  // sorted, distinct, never empty
  friend bool operator==(const PeerRange&, const PeerRange&) = default;
};

// Disjoint ranges of `family`, in address order, covering exactly the peers
// of `items` (ICMP items count for IPv4 only, ICMPv6 ones for IPv6 only).
// Neighbouring ranges with equal services are one range.
std::vector<PeerRange> PeerRanges(const std::vector<PeerService>& items, Family family);

}  // namespace polder
