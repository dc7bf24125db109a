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

}  // namespace

bool ServiceMatches(const Service& service, Protocol protocol, uint16_t port) {
  for (const ServicePort& p : service.ports) {
    if (p.protocol == Protocol::kAny) return true;
    if (p.protocol == protocol && p.lo <= port && port <= p.hi) return true;
  }
  return false;
}

bool FlowMatches(const Policy& policy, const Flow& flow, const Connection& c) {
  if (!AnyEndpointContains(policy, flow.from, c.source)) return false;
  if (!AnyEndpointContains(policy, flow.to, c.destination)) return false;
  if (flow.sources && std::none_of(flow.sources->begin(), flow.sources->end(),
                                   [&](const Prefix& p) { return p.Contains(c.source); })) {
    return false;
  }
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
