// The lab's plan: which network namespaces stand for which part of a policy,
// with which addresses, and which ports to probe. Pure computation over the
// Policy, plus the lab state file that `lab probe` and `lab down` read back.
#pragma once

#include <limits>
#include <optional>
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
  // "tcp/445"; ICMP echo is "icmp/echo-request", other types "icmp/TYPE".
  std::string ToString() const;
  friend bool operator==(const ProbePort&, const ProbePort&) = default;
  friend auto operator<=>(const ProbePort&, const ProbePort&) = default;
};

// Ports (ICMP types) lo..hi of one protocol.
struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// A port class: (protocol, port) pairs that no service of the policy tells
// apart, so one probe inside it stands for all of them. Every elementary
// interval of the ranges services mention is a class of its own; the ports no
// service mentions form one more class (`outside`), which only `any` can
// allow.
struct PortClass {
  Protocol protocol = Protocol::kTcp;
  std::vector<PortRange> members;  // sorted, disjoint
  bool outside = false;
  // The port (ICMP type) a probe uses; none when the class cannot be probed,
  // and `skip_reason` says why.
  std::optional<uint16_t> probe;
  std::string skip_reason;
  // "tcp/445", "tcp/8000-8099", "udp/1-52,54-65535 (no service names them)".
  std::string Label() const;
};

// What the lab can do, and how far it may go.
struct PortClassLimits {
  bool sctp = false;  // this kernel opens SCTP sockets
  // How many tcp, udp and sctp classes may have listeners (each costs one
  // file descriptor per address of a namespace); the classes beyond it are
  // skipped, and said to be.
  size_t max_listened = std::numeric_limits<size_t>::max();
};

// Every port class of tcp and udp (and sctp, when a service names an sctp
// port), counting the controller's port, and of icmp and icmpv6 types. ICMP
// types are split at echo-request, the only type that can be probed (its
// reply comes back); host-essential types (HostEssentialIcmpTypes) belong to
// no class, since no policy decides them.
std::vector<PortClass> PlanPortClasses(const Policy& policy, const PortClassLimits& limits = {});

// The ICMP (v6 when `v6`) types every ruleset accepts whatever the policy
// (spec §7; HostEssentialPorts() in compiler/model/verdict.h), sorted.
const std::vector<uint16_t>& HostEssentialIcmpTypes(bool v6);

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
  // "agent" (standalone agents), "controller" (polder-controller in the
  // controller host's namespace, agents under it, a lab PKI), "nft" or "none"
  // (agents run under someone else's controller).
  std::string apply;
  // apply == "controller": where it listens and runs, and the admin
  // certificate the lab's own commands use.
  int controller_pid = 0;
  std::string controller_address;  // HOST:PORT
  std::string controller_netns;
  std::string admin_tls_dir;
  // A drill that brought the lab up for itself (and removes it when it ends);
  // 0 for a lab someone brought up with `lab up`.
  int owner_pid = 0;
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
