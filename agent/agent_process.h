// What both modes of the polder-agent process (standalone in main.cc, controller mode in
// uplink/controller_mode.cc) share, written once: one JSON line at a time on stdout, the
// Enforcer over the real kernel as the command line configures it, and the signals that stop
// the process or ask it to re-read its ruleset.
#ifndef POLDER_AGENT_AGENT_PROCESS_H_
#define POLDER_AGENT_AGENT_PROCESS_H_

#include <signal.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/enforcer.h"

namespace polder::agent {

// The command line's say on enforcing, in both modes.
struct EnforcerFlags {
  bool no_remediate = false;
  double full_check_seconds = 60;
  bool no_dry_run = false;
};

// Writes `line` (ending in '\n') to stdout whole, from any thread, and flushes it.
void PrintLine(const std::string& line);
// An error event, as the enforcer would report it.
void PrintError(std::string message);

// An Enforcer over LibNftablesKernel in this network namespace, not started yet. `parse`
// reads what it is given to apply (null: nft text only).
absl::StatusOr<std::unique_ptr<Enforcer>> MakeEnforcer(const EnforcerFlags& flags,
                                                       Enforcer::Observer observer,
                                                       RulesetParser parse = nullptr);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it starts later,
// so that only WaitForStop receives them; call before any thread starts.
sigset_t BlockStopSignals();
// Waits for the signals BlockStopSignals blocked: calls `on_hangup` (when set) for each
// SIGHUP and returns on SIGTERM or SIGINT.
void WaitForStop(const sigset_t& signals, const std::function<void()>& on_hangup);

}  // namespace polder::agent

#endif  // POLDER_AGENT_AGENT_PROCESS_H_
