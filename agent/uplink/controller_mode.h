// The `polder-agent --controller` process: builds the Enforcer and the ControllerClient, enforces
// the locally stored ruleset first (so a restarted agent without its controller is not open),
// then serves the controller until SIGTERM/SIGINT. main.cc keeps the standalone mode.
#ifndef POLDER_AGENT_UPLINK_CONTROLLER_MODE_H_
#define POLDER_AGENT_UPLINK_CONTROLLER_MODE_H_

#include <signal.h>

#include <string>

#include "absl/time/time.h"
#include "agent/agent_process.h"

namespace polder::agent {

struct ControllerModeFlags {
  std::string controller;  // HOST:PORT[,HOST:PORT...]
  std::string host;
  std::string tls_dir;  // empty with insecure
  bool insecure = false;
  std::string state_dir = "/var/lib/polder-agent";
  // Observed traffic: read every `traffic_interval`, spooled (empty: <state_dir>/traffic.jsonl)
  // and sent to the controller until acknowledged.
  std::string traffic_spool;
  absl::Duration traffic_interval = absl::Seconds(60);
  EnforcerFlags enforcer;
};

// `signals` come from BlockStopSignals; the caller's thread waits for them. Returns the exit
// code.
int RunControllerMode(const ControllerModeFlags& flags, const sigset_t& signals);

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_CONTROLLER_MODE_H_
