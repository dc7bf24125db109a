// ServiceSpace: a set of (protocol, destination port) pairs, the "service"
// dimension of a connection, with exact set arithmetic.
//
// The zone graph needs to know what an edge carries after denies are taken
// away (spec §5: deny wins), and the exposure invariant counts what is left
// as (protocol, port-range) pieces. Port items from services (tcp/443,
// icmp/echo-request, any) become sets here; `any` is every port of every
// protocol a Connection can carry: tcp, udp and sctp ports 0-65535, icmp and
// icmpv6 types 0-255.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "compiler/model/policy.h"
#include "compiler/model/service_port.h"

namespace polder {

class ServiceSpace {
 public:
  static constexpr int kProtocolCount = 5;
  // The protocols a connection may use, in the order ServiceSpace keeps them.
  static constexpr std::array<Protocol, kProtocolCount> kProtocols = {
      Protocol::kTcp, Protocol::kUdp, Protocol::kSctp, Protocol::kIcmp, Protocol::kIcmpv6};
  static int MaxPort(Protocol p) { return IsIcmp(p) ? 255 : 65535; }

  struct Range {
    int lo = 0;
    int hi = 0;
    friend bool operator==(const Range&, const Range&) = default;
  };

  ServiceSpace() = default;
  static ServiceSpace Of(const ServicePort& port);
  static ServiceSpace Of(const Service& service);
  static ServiceSpace Everything();

  void Add(const ServiceSpace& other);
  ServiceSpace Subtract(const ServiceSpace& other) const;
  ServiceSpace Intersect(const ServiceSpace& other) const;
  bool Overlaps(const ServiceSpace& other) const { return !Intersect(other).Empty(); }
  bool Empty() const;
  bool IsEverything() const { return *this == Everything(); }
  bool Contains(Protocol p, int port) const;
  // Whether other.Subtract(*this) is empty, computed without building it.
  bool Covers(const ServiceSpace& other) const;

  // Maximal (protocol, range) pieces. Everything is the single item `any`, so
  // that "any" counts as one exposure triple and prints as "any".
  std::vector<ServicePort> Items() const;
  std::string ToString() const;  // "tcp/443, udp/53" or "any"

  const std::vector<Range>& ranges(int protocol_index) const { return ranges_[protocol_index]; }
  friend bool operator==(const ServiceSpace&, const ServiceSpace&) = default;

 private:
  std::array<std::vector<Range>, kProtocolCount> ranges_;
};

// "tcp/443", "tcp" for every port, "icmp/3-5" for a range of types, "any".
std::string ServicePortLabel(const ServicePort& port);

// Every (protocol, port) the named services allow.
ServiceSpace SpaceOfServices(const Policy& policy, const std::vector<ServiceId>& services);

}  // namespace polder
