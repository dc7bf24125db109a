// The lab's plan: which network namespaces stand for which part of a policy,
// with which addresses, and which ports to probe. Pure computation over the
// Policy, plus the lab state file that `lab probe` and `lab down` read back.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "compiler/model/policy.h"

namespace polder::cli {

// One namespace of the lab: a managed host (runs an agent) or a stand-in for
// a zone without hosts (an external zone such as the internet).
struct LabEndpoint {
  std::string name;  // host name, or the zone name for a stand-in
  bool managed = false;
  std::string zone;
  std::vector<Address> addresses;
  std::string netns;
};

// Hosts first (policy order), then one stand-in per zone without hosts whose
// effective space has a usable address no host uses.
std::vector<LabEndpoint> PlanEndpoints(const Policy& policy);

// An address of `space` in `family` that is ordinary unicast (not 0/8,
// 127/8, link-local, multicast...) and not in `used`; prefers well-known
// documentation addresses. False if there is none.
bool PickStandInAddress(const AddressSet& space, Family family, const AddressSet& used,
                        Address* out);

struct ProbePort {
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;  // ICMP: the type (echo-request)
  std::string ToString() const;
  friend bool operator==(const ProbePort&, const ProbePort&) = default;
  friend auto operator<=>(const ProbePort&, const ProbePort&) = default;
};

// Ports worth probing: both ends of every tcp/udp range any flow names and
// the ports just outside them, the controller port, one port no service
// names, and ICMP echo for both families. At most kMaxPortsPerProtocol per
// protocol.
inline constexpr size_t kMaxPortsPerProtocol = 24;
std::vector<ProbePort> PlanPorts(const Policy& policy);

struct AgentRecord {
  std::string host;
  int pid = 0;
};

struct LabState {
  std::string name;
  std::string policy_dir;
  std::string ns_prefix;
  std::string bridge_netns;
  std::vector<LabEndpoint> endpoints;
  std::vector<AgentRecord> agents;
  std::string apply;  // "agent", "nft" or "none" (agents run under a controller)
};

// /run/polder-lab/NAME (or $POLDER_LAB_DIR/NAME).
std::string LabDir(const std::string& name);
// The namespace prefix of a lab: ns_prefix + 8 hex digits of SHA-256(name) + "-".
std::string LabNetnsPrefix(const std::string& ns_prefix, const std::string& name);

std::string StateToJson(const LabState& state);
// A wrong type or an unparsable address is an error saying where it is
// (e.g. `endpoints[2].addresses[0]`); a missing key keeps its default.
absl::StatusOr<LabState> StateFromJson(const std::string& text);

// LabDir(name) + "/state.json".
std::string LabStatePath(const std::string& name);
// The state of lab `name`: NotFound when there is no state file, DataLoss
// naming the file when it cannot be read back.
absl::StatusOr<LabState> ReadLabState(const std::string& name);
// Replaces the state file of lab `state.name` (its LabDir must exist).
absl::Status WriteLabState(const LabState& state);

}  // namespace polder::cli
