// `polder pki init | issue | renew | revoke`: the fleet's certificate
// authority (pki/pki.h). `issue --controller ADDR:PORT` also writes the
// host's bootstrap ruleset, rendered by the compiler here (pki/ links no
// compiler) and written by pki.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "cli/cli_common.h"

namespace polder::cli {

void AddPkiCommands(CLI::App& app, ChosenCommand& chosen);

// The nftables ruleset for host `host` before its agent has reached the
// controller: table inet polder allowing only loopback, host-essential
// traffic (with `host_dhcp`, the DHCP client too), established traffic and
// the controller at `controller` (IPv4:PORT or [IPv6]:PORT). Rendered from
// a one-host policy by the compiler, so it is the same script an agent
// applies and `polder-agent --boot --bootstrap FILE` loads.
absl::StatusOr<std::string> RenderBootstrapRuleset(const std::string& host,
                                                   const std::string& controller, bool host_dhcp);

}  // namespace polder::cli
