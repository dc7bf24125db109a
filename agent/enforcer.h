// Enforcer is the agent's core, shared by the standalone CLI and the controller client: one
// thread owns the kernel and keeps table inet polder equal to the last good ruleset. Any
// thread may hand it a new ruleset (Apply) or ask for a full comparison (CheckNow); it watches
// nftables notifications, reports drift made by anyone else, restores the table unless told
// not to, and compares the whole table periodically in case notifications were lost. Every
// outcome goes to the observer, called on the enforcer's thread.
#ifndef POLDER_AGENT_ENFORCER_H_
#define POLDER_AGENT_ENFORCER_H_

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_event.h"
#include "agent/nft_generation.h"
#include "agent/nft_kernel.h"
#include "agent/nft_monitor.h"
#include "agent/quiet_commits.h"
#include "agent/ruleset_applier.h"

namespace polder::agent {

class Enforcer {
 public:
  struct Options {
    bool remediate = true;
    absl::Duration full_check_interval = absl::Seconds(60);
    bool watch_notifications = true;  // Off only in unit tests without a kernel.
    // Where notifications come from when watched; null: an NftMonitor that Start opens. Not
    // owned; must outlive the enforcer (FakeNftKernel::Notifications in unit tests).
    NftNotifications* notifications = nullptr;
    // Leave the notification group during the agent's own libnftnl commits (quiet_commits.h).
    bool quiet_own_commits = true;
    RulesetApplier::Options applier;
  };
  using Observer = std::function<void(const AgentEvent&)>;

  Enforcer(std::unique_ptr<NftKernel> kernel, Options options, Observer observer);
  ~Enforcer();  // Stops; never removes the table (a stopped agent leaves the host enforced).

  absl::Status Start();
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `text` for applying; the future holds the outcome (the observer sees it too).
  std::future<absl::Status> Apply(std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  // The same for a ruleset already checked (say one that came with its structured form, which
  // RulesetApplier then applies through libnftnl).
  std::future<absl::Status> Apply(Ruleset ruleset) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues a full comparison of the kernel table with the desired one.
  std::future<absl::Status> CheckNow() ABSL_LOCKS_EXCLUDED(mu_);

  // Why the last full comparison could not read table inet polder from the kernel, or "" when
  // it could (or none ran yet). While this is set the agent cannot see drift. Any thread.
  std::string KernelReadError() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Request {
    bool is_apply;
    std::string text;
    std::optional<Ruleset> ruleset;  // when set, applied instead of parsing `text`
    std::promise<absl::Status> done;
  };

  std::future<absl::Status> Enqueue(bool is_apply, std::string text,
                                    std::optional<Ruleset> ruleset = std::nullopt)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  void Wake();
  void HandleRequests() ABSL_LOCKS_EXCLUDED(mu_);
  void HandleNotifications();
  absl::Status HandleApply(std::string text, std::optional<Ruleset> ruleset);
  // `changed_sets`: the sets a notification said were changed (only those are read back);
  // null for a full comparison. `changed_chains` likewise for rules (null: read every chain's).
  absl::Status Verify(const std::string& source, uint32_t pid, const std::string& process,
                      const std::set<std::string>* changed_sets = nullptr,
                      const std::set<std::string>* changed_chains = nullptr);
  // After the agent's own commits: a full comparison when one may have hidden a foreign commit.
  void NoteOwnCommits();
  // Runs `apply` (commits and the read-back of the table as desired) and, when the ruleset
  // generation says a foreign commit landed meanwhile, reloads the table until a read-back is
  // the agent's alone (bounded); false when it never was.
  bool ApplyAlone(const std::function<void()>& apply);
  absl::StatusOr<uint32_t> ReadGeneration();
  void Emit(AgentEvent event);
  void EmitError(std::string message);

  std::unique_ptr<NftKernel> kernel_;
  Options options_;
  Observer observer_;
  RulesetApplier applier_;
  std::unique_ptr<NftMonitor> monitor_;  // when Start opened one
  NftNotifications* notifications_ = nullptr;
  std::unique_ptr<QuietCommits> quiet_;                     // when notifications are watched
  std::unique_ptr<NftGenerationReader> generation_reader_;  // opened on the loop's thread
  bool resync_pending_ = false;  // a full comparison is owed (NoteOwnCommits)
  std::string reported_deaf_reason_;
  int wake_fd_ = -1;
  pid_t loop_tid_ = 0;
  std::vector<std::string> last_reported_drift_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::deque<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::string read_error_ ABSL_GUARDED_BY(mu_);  // KernelReadError()
  // Started and joined by the owner's thread (Start, Stop); Enqueue only asks whether it runs.
  std::thread thread_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_ENFORCER_H_
