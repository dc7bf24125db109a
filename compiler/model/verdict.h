// Verdict: what the policy says about one connection attempt.
//
// The single source of truth for packet-level semantics (spec §5, §7): deny
// wins over allow, expired flows have no effect, `sources` narrows `from`,
// and managed hosts may always reach the controller. `polder explain`, the
// lab's probe table and the brute-force tests all ask this function, so the
// compiler, the graph and the kernel are held to one definition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/model/policy.h"
#include "compiler/model/service_space.h"

namespace polder {

using FlowId = int;

struct Connection {
  Address source;
  Address destination;
  Protocol protocol = Protocol::kTcp;  // never kAny
  uint16_t port = 0;                   // destination port, or ICMP type
};

struct Verdict {
  bool allowed = false;
  std::optional<ZoneId> source_zone;
  std::optional<ZoneId> destination_zone;
  std::vector<FlowId> allowing;  // active allow flows that match
  std::vector<FlowId> denying;   // active deny flows that match (they win)
  bool anti_lockout = false;     // allowed by settings.controller
  std::string reason;            // one sentence for humans
};

// Does `flow` (ignoring expiry and action) cover this connection?
bool FlowMatches(const Policy& policy, const Flow& flow, const Connection& c);
bool ServiceMatches(const Service& service, Protocol protocol, uint16_t port);

Verdict Decide(const Policy& policy, const Connection& c);

// Host-essential traffic (spec §7): what every managed host's ruleset accepts
// whatever the flows say, so that the host's own network keeps working:
// ICMPv6 neighbour and router discovery (hop limit 255, which neighbour
// discovery always uses), MLD from link-local or ::, ICMP and ICMPv6 errors,
// and with settings.host_dhcp the DHCPv4/DHCPv6 client. It is no edge of the
// zone graph, which is why Decide() leaves it out. Each managed end accepts
// only its own direction (a host solicits routers, it does not advertise as
// one), an unmanaged end accepts anything, and at least one end must be a
// managed host. Returns why the connection is host-essential, or nullopt.
std::optional<std::string> HostEssential(const Policy& policy, const Connection& c);
// The ports and ICMP types HostEssential() may accept, and the addresses
// (link-local, ::, the DHCPv6 servers' group) its answer depends on, so that
// callers splitting the port or address space split where it changes.
std::vector<ServicePort> HostEssentialPorts();
AddressSet HostEssentialAddresses();

// Every (protocol, port) that Decide() allows from `source` to `destination`:
// the services of the active allow flows that match the two addresses, minus
// those of the matching denies, plus the anti-lockout's tcp port. The same
// rules as Decide(), for all ports at once.
ServiceSpace AllowedServices(const Policy& policy, const Address& source,
                             const Address& destination);

}  // namespace polder
