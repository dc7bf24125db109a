#include "agent/agent_process.h"

#include <pthread.h>

#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/libnftables_kernel.h"

namespace polder::agent {
namespace {

ABSL_CONST_INIT absl::Mutex stdout_mu(absl::kConstInit);

}  // namespace

void PrintLine(const std::string& line) {
  absl::MutexLock lock(&stdout_mu);
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

void PrintError(std::string message) {
  AgentEvent e;
  e.kind = AgentEvent::Kind::kError;
  e.time = absl::Now();
  e.message = std::move(message);
  PrintLine(ToJsonLine(e));
}

absl::StatusOr<std::unique_ptr<Enforcer>> MakeEnforcer(const EnforcerFlags& flags,
                                                       Enforcer::Observer observer,
                                                       RulesetParser parse) {
  absl::StatusOr<std::unique_ptr<LibNftablesKernel>> kernel = LibNftablesKernel::Create();
  if (!kernel.ok()) return kernel.status();
  Enforcer::Options options;
  options.remediate = !flags.no_remediate;
  options.full_check_interval = absl::Seconds(flags.full_check_seconds);
  options.applier.dry_run = !flags.no_dry_run;
  options.applier.parse = std::move(parse);
  return std::make_unique<Enforcer>(std::move(*kernel), options, std::move(observer));
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void WaitForStop(const sigset_t& signals, const std::function<void()>& on_hangup) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) return;
    if (on_hangup) on_hangup();
  }
}

}  // namespace polder::agent
