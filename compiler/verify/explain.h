// Explain: the verdict for connections between two ends of a policy, and what
// decides it (spec §9, `polder explain`).
//
// An end is an address, a host (all its addresses) or a zone (its whole
// effective address space). The answer is over every address pair of the two
// ends, not one representative: the ends are split into address classes
// (address_classes.h) by every flow, host and controller address, and Decide()
// is asked about one pair per class pair, so "allowed" means some address pair
// is allowed and the addresses it holds for are named. ICMP uses IPv4
// addresses, ICMPv6 IPv6 ones. A port range or a service is split into port
// classes whose ports all answer alike, one verdict each. Host-essential
// traffic (spec §7) and the anti-lockout are allowed without a flow; expired
// flows that would have matched are named.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/model/address_set.h"
#include "compiler/model/policy.h"
#include "compiler/model/verdict.h"

namespace polder {

struct ExplainEnd {
  enum class Kind { kAddress, kHost, kZone };
  Kind kind = Kind::kAddress;
  std::string name;      // as given on the command line
  AddressSet addresses;  // every address the end stands for
};

// `text` as an address, a host or a zone of the policy (NotFound otherwise).
absl::StatusOr<ExplainEnd> ResolveExplainEnd(const Policy& policy, const std::string& text);

// What --port names: one port item (tcp/443, udp/1000-2000, icmpv6/echo-request,
// any) or a service, whose port items each get their verdicts.
struct ExplainPorts {
  std::string service;  // the service's name, or empty when a port item was given
  std::vector<ServicePort> ports;
};
absl::StatusOr<ExplainPorts> ResolveExplainPorts(const Policy& policy, const std::string& text);

// One pair of address classes and the verdict for it.
struct ExplainCase {
  AddressSet sources, destinations;
  Connection example;  // the addresses Decide() was asked about
  Verdict verdict;
  std::optional<std::string> host_essential;  // why, when it is host-essential
  bool allowed() const { return verdict.allowed || host_essential.has_value(); }
};

// What a port class's verdict rests on.
enum class ExplainBasis {
  kFlows,          // allowed by allow flows
  kAntiLockout,    // allowed by settings.controller only
  kHostEssential,  // allowed as host-essential traffic only
  kLoopback,       // one host or address to itself
  kDenied,         // no address pair is allowed
  kNoAddress,      // an end has no address of the family the protocol needs
};
const char* ExplainBasisName(ExplainBasis basis);  // "flows", "anti-lockout", ...

struct PortVerdict {
  ServicePort port;  // one port or type, or a range whose ports all answer alike
  bool allowed = false;
  ExplainBasis basis = ExplainBasis::kDenied;
  std::string reason;                 // one sentence for humans
  std::vector<ExplainCase> cases;     // every class pair asked about
  AddressSet allowed_sources;         // of the allowed cases
  AddressSet allowed_destinations;    // of the allowed cases
  bool partial = false;               // some address pairs are allowed, others denied
  std::optional<Connection> example;  // the addresses used for the verdict
  std::vector<FlowId> allowing;       // active allows deciding an allowed case (or overridden)
  std::vector<FlowId> denying;        // active denies matching some case
  std::vector<FlowId> expired;        // expired flows that would have matched some case
};

struct Explanation {
  ExplainEnd from, to;
  std::string service;  // as in ExplainPorts
  std::vector<PortVerdict> verdicts;
  bool AllAllowed() const;
};

// InvalidArgument when the question has no connection at all: two addresses
// of different families, or an ICMP type asked between addresses of the other
// family. An end named by host or zone that lacks the family is an answer
// (kNoAddress, not allowed).
absl::StatusOr<Explanation> Explain(const Policy& policy, const ExplainEnd& from,
                                    const ExplainEnd& to, const ExplainPorts& ports);

}  // namespace polder
