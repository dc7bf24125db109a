#include "compiler/model/verdict.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace polder {
namespace {

bool EndpointContains(const Policy& policy, const Endpoint& e, const Address& a) {
  if (e.kind == Endpoint::Kind::kHost) {
    const auto& addrs = policy.hosts[e.id].addresses;
    return std::find(addrs.begin(), addrs.end(), a) != addrs.end();
  }
  return policy.Classify(a) == e.id;
}

bool AnyEndpointContains(const Policy& policy, const std::vector<Endpoint>& ends,
                         const Address& a) {
  return std::any_of(ends.begin(), ends.end(),
                     [&](const Endpoint& e) { return EndpointContains(policy, e, a); });
}

bool IsAntiLockout(const Policy& policy, const Connection& c) {
  const auto& ctl = policy.settings.controller;
  if (!ctl || c.protocol != Protocol::kTcp || c.port != ctl->port) return false;
  if (std::find(ctl->addresses.begin(), ctl->addresses.end(), c.destination) ==
      ctl->addresses.end()) {
    return false;
  }
  return policy.HostWithAddress(c.source).has_value();
}

std::string ZoneName(const Policy& policy, std::optional<ZoneId> z) {
  return z ? policy.zones[*z].name : "no zone";
}

// Does the flow's `from` (narrowed by `sources`) hold `source` and its `to`
// hold `destination`?
bool FlowCoversAddresses(const Policy& policy, const Flow& flow, const Address& source,
                         const Address& destination) {
  if (!AnyEndpointContains(policy, flow.from, source)) return false;
  if (!AnyEndpointContains(policy, flow.to, destination)) return false;
  return !flow.sources || std::any_of(flow.sources->begin(), flow.sources->end(),
                                      [&](const Prefix& p) { return p.Contains(source); });
}

// One row of the host-essential rules of the rulesets (ruleset_renderer.cc,
// AddHostEssentials): a protocol and port or ICMP type, which chains accept
// it, and what the source or destination address must be.
struct EssentialRule {
  Family family;
  Protocol protocol;
  int port;       // destination port, or ICMP type
  bool outbound;  // the sending host's output chain accepts it
  bool inbound;   // the receiving host's input chain accepts it
  const char* what;
  enum class Needs { kNothing, kLinkLocalSource, kLinkLocalOrUnspecifiedSource, kDhcpv6Servers };
  Needs needs = Needs::kNothing;
  bool dhcp = false;  // only with settings.host_dhcp
};

constexpr const char* kNd = "IPv6 neighbour and router discovery (RFC 4890), hop limit 255";
constexpr const char* kMld = "MLD from link-local or :: (RFC 4890)";
constexpr const char* kErrors = "an ICMP error";
constexpr const char* kDhcp = "the DHCP client (settings.host_dhcp)";
using Needs = EssentialRule::Needs;

constexpr EssentialRule kEssentialRules[] = {
    {Family::kV6, Protocol::kIcmpv6, 133, true, false, kNd},  // router solicitation: hosts send it
    {Family::kV6, Protocol::kIcmpv6, 134, false, true,
     kNd},  // router advertisement: hosts receive it
    {Family::kV6, Protocol::kIcmpv6, 135, true, true, kNd},
    {Family::kV6, Protocol::kIcmpv6, 136, true, true, kNd},
    {Family::kV6, Protocol::kIcmpv6, 137, false, true, kNd, Needs::kLinkLocalSource},  // redirect
    {Family::kV6, Protocol::kIcmpv6, 130, true, true, kMld, Needs::kLinkLocalOrUnspecifiedSource},
    {Family::kV6, Protocol::kIcmpv6, 131, true, true, kMld, Needs::kLinkLocalOrUnspecifiedSource},
    {Family::kV6, Protocol::kIcmpv6, 132, true, true, kMld, Needs::kLinkLocalOrUnspecifiedSource},
    {Family::kV6, Protocol::kIcmpv6, 143, true, true, kMld, Needs::kLinkLocalOrUnspecifiedSource},
    {Family::kV6, Protocol::kIcmpv6, 1, true, true, kErrors},
    {Family::kV6, Protocol::kIcmpv6, 2, true, true, kErrors},
    {Family::kV6, Protocol::kIcmpv6, 3, true, true, kErrors},
    {Family::kV6, Protocol::kIcmpv6, 4, true, true, kErrors},
    {Family::kV4, Protocol::kIcmp, 3, true, true, kErrors},
    {Family::kV4, Protocol::kIcmp, 11, true, true, kErrors},
    {Family::kV4, Protocol::kIcmp, 12, true, true, kErrors},
    {Family::kV4, Protocol::kUdp, 67, true, false, kDhcp, Needs::kNothing,
     true},  // DHCPv4 client -> server
    {Family::kV4, Protocol::kUdp, 68, false, true, kDhcp, Needs::kNothing,
     true},  // DHCPv4 server -> client
    {Family::kV6, Protocol::kUdp, 547, true, false, kDhcp, Needs::kDhcpv6Servers, true},
    {Family::kV6, Protocol::kUdp, 546, false, true, kDhcp, Needs::kLinkLocalSource, true},
};

bool InPrefix(const Address& a, const char* prefix) { return Prefix::Parse(prefix)->Contains(a); }

bool AddressesFit(const EssentialRule& r, const Connection& c) {
  if (c.source.family != r.family || c.destination.family != r.family) return false;
  switch (r.needs) {
    case Needs::kNothing:
      return true;
    case Needs::kLinkLocalSource:
      return InPrefix(c.source, "fe80::/10");
    case Needs::kLinkLocalOrUnspecifiedSource:
      return InPrefix(c.source, "fe80::/10") || InPrefix(c.source, "::/128");
    case Needs::kDhcpv6Servers:
      return InPrefix(c.destination, "ff02::1:2/128");
  }
  return false;
}

}  // namespace

std::optional<std::string> HostEssential(const Policy& policy, const Connection& c) {
  bool source_managed = policy.HostWithAddress(c.source).has_value();
  bool destination_managed = policy.HostWithAddress(c.destination).has_value();
  if (!source_managed && !destination_managed) return std::nullopt;
  for (const EssentialRule& r : kEssentialRules) {
    if (r.protocol != c.protocol || r.port != c.port) continue;
    if (r.dhcp && !policy.settings.host_dhcp) continue;
    if (!AddressesFit(r, c)) continue;
    if (source_managed && !r.outbound) continue;
    if (destination_managed && !r.inbound) continue;
    return absl::StrCat("host-essential (spec §7): ", r.what,
                        ", accepted by every managed host's ruleset before any flow or deny");
  }
  return std::nullopt;
}

std::vector<ServicePort> HostEssentialPorts() {
  std::vector<ServicePort> out;
  for (const EssentialRule& r : kEssentialRules) {
    auto port = static_cast<uint16_t>(r.port);
    out.push_back(ServicePort{r.protocol, port, port});
  }
  return out;
}

AddressSet HostEssentialAddresses() {
  AddressSet out;
  for (const char* p : {"fe80::/10", "::/128", "ff02::1:2/128"}) out.Add(*Prefix::Parse(p));
  return out;
}

ServiceSpace AllowedServices(const Policy& policy, const Address& source,
                             const Address& destination) {
  ServiceSpace allowed, denied;
  if (source.family != destination.family || !policy.Classify(source) ||
      !policy.Classify(destination)) {
    return allowed;
  }
  for (const Flow& f : policy.flows) {
    if (!f.active || !FlowCoversAddresses(policy, f, source, destination)) continue;
    (f.action == Action::kDeny ? denied : allowed).Add(SpaceOfServices(policy, f.services));
  }
  allowed = allowed.Subtract(denied);
  const auto& ctl = policy.settings.controller;
  if (ctl &&
      std::find(ctl->addresses.begin(), ctl->addresses.end(), destination) !=
          ctl->addresses.end() &&
      policy.HostWithAddress(source)) {
    allowed.Add(ServiceSpace::Of(ServicePort{Protocol::kTcp, ctl->port, ctl->port}));
  }
  return allowed;
}

bool ServiceMatches(const Service& service, Protocol protocol, uint16_t port) {
  for (const ServicePort& p : service.ports) {
    if (p.protocol == Protocol::kAny) return true;
    if (p.protocol == protocol && p.lo <= port && port <= p.hi) return true;
  }
  return false;
}

bool FlowMatches(const Policy& policy, const Flow& flow, const Connection& c) {
  if (!FlowCoversAddresses(policy, flow, c.source, c.destination)) return false;
  return std::any_of(flow.services.begin(), flow.services.end(), [&](ServiceId s) {
    return ServiceMatches(policy.services[s], c.protocol, c.port);
  });
}

Verdict Decide(const Policy& policy, const Connection& c) {
  Verdict v;
  v.source_zone = policy.Classify(c.source);
  v.destination_zone = policy.Classify(c.destination);
  if (!v.source_zone || !v.destination_zone) {
    v.reason = absl::StrCat(!v.source_zone ? c.source.ToString() : c.destination.ToString(),
                            " belongs to no zone, so no flow can allow it");
    return v;
  }
  if (c.source.family != c.destination.family) {
    v.reason = "an IPv4 and an IPv6 address cannot be the two ends of one connection";
    return v;
  }
  for (FlowId i = 0; i < static_cast<FlowId>(policy.flows.size()); ++i) {
    const Flow& f = policy.flows[i];
    if (!f.active || !FlowMatches(policy, f, c)) continue;
    (f.action == Action::kDeny ? v.denying : v.allowing).push_back(i);
  }
  if (IsAntiLockout(policy, c)) {
    v.allowed = v.anti_lockout = true;
    v.reason = "managed hosts may always reach the controller (settings.controller)";
  } else if (!v.denying.empty()) {
    v.reason = "denied: a deny flow matches, and deny wins over allow";
  } else if (!v.allowing.empty()) {
    v.allowed = true;
    v.reason = "allowed by flow";
  } else {
    v.reason = absl::StrCat("denied: no active flow allows ", ZoneName(policy, v.source_zone),
                            " -> ", ZoneName(policy, v.destination_zone), " on ",
                            ProtocolName(c.protocol), "/", c.port);
  }
  return v;
}

}  // namespace polder
