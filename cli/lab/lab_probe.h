// Probing in the lab: listeners that answer on every probed port, and a
// prober that tries many connections at once from inside one namespace.
//
// Both run in a child forked into the namespace (lab_process.h). Allowed
// means the packet got through both rulesets: a TCP handshake or a refusal,
// a UDP echo, an ICMP echo reply. Silence or EPERM (dropped by our own output
// chain) means blocked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "compiler/model/address.h"
#include "compiler/model/service_port.h"

namespace polder::cli {

struct ProbeRequest {
  Address source;
  Address destination;
  Protocol protocol = Protocol::kTcp;  // tcp, udp, sctp, icmp, icmpv6 (echo)
  uint16_t port = 0;
};

enum class ProbeOutcome : uint8_t { kAllowed, kBlocked, kError };
const char* OutcomeName(ProbeOutcome o);

// Runs all probes concurrently (bounded by the fd limit) in the current
// namespace; each waits at most `timeout`.
std::vector<ProbeOutcome> RunProbes(const std::vector<ProbeRequest>& probes,
                                    absl::Duration timeout);

// Binds TCP and SCTP listeners and UDP echo sockets on every (address, port), writes
// one byte to `ready_fd` (0 on success, 1 on failure), then serves until
// `stop_fd` becomes readable or closes, or `max_lifetime` passes.
int ServeListeners(const std::vector<Address>& addresses, const std::vector<uint16_t>& tcp,
                   const std::vector<uint16_t>& udp, const std::vector<uint16_t>& sctp,
                   int ready_fd, int stop_fd, absl::Duration max_lifetime);

// Whether this kernel opens SCTP sockets (the sctp module is loaded).
bool KernelHasSctp();

}  // namespace polder::cli
