// QuietCommits is the drift watcher's CommitGuard: around each of the agent's own commits it
// leaves the nf_tables notification group (so the kernel, with nobody else listening, builds no
// per-element notifications) and joins it again right after. A foreign commit in that window
// would go unheard, so it reads the ruleset generation before and after: when the kernel counted
// more commits than the agent made, TakeMissed() says so and the enforcer compares the whole
// table, as it does when notifications were lost.
//
//   QuietCommits quiet(monitor, [&] { return generation_reader->Read(); });
//   kernel->SetCommitGuard(&quiet);
//   ... apply ...
//   if (quiet.TakeMissed()) CompareWholeTable();
#ifndef POLDER_AGENT_QUIET_COMMITS_H_
#define POLDER_AGENT_QUIET_COMMITS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/commit_guard.h"
#include "agent/nft_monitor.h"

namespace polder::agent {

class QuietCommits final : public CommitGuard {
 public:
  using GenerationSource = std::function<absl::StatusOr<uint32_t>()>;

  QuietCommits(NftNotifications* notifications, GenerationSource generation)
      : notifications_(notifications), generation_(std::move(generation)) {}

  void BeforeCommit() override;
  void AfterCommit(bool committed) override;

  // Whether a commit since the last call may have gone unheard (then the caller compares the
  // whole table); clears it.
  bool TakeMissed();
  // Why the watcher is not listening now ("" while it is): it could not join the group again.
  // The enforcer retries with Rejoin() and reports it.
  const std::string& deaf_reason() const { return deaf_reason_; }
  absl::Status Rejoin();

  // Batches the kernel took so far (quiet or not): what the agent's own commits added to the
  // ruleset generation.
  uint64_t committed() const { return committed_; }
  // Commits done quietly so far, and those after which the table had to be compared (tests).
  uint64_t quiet_commits() const { return quiet_commits_; }
  uint64_t missed() const { return missed_count_; }

 private:
  NftNotifications* notifications_;
  GenerationSource generation_;
  std::optional<uint32_t> before_;  // generation read before the commit; none: not quiet
  bool missed_ = false;
  uint64_t committed_ = 0;
  uint64_t quiet_commits_ = 0;
  uint64_t missed_count_ = 0;
  std::string deaf_reason_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_QUIET_COMMITS_H_
