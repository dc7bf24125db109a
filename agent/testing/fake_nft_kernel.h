// FakeNftKernel stands in for the kernel in unit tests: it keeps the table as the text of the
// script's `table inet polder { ... }` block, refuses scripts containing a chosen marker the way
// the kernel refuses invalid ones (atomically), and lets tests tamper with the table.
//
// Like ninja's VirtualFileSystem it records what was done to it (operations()), and like the
// kernel it reports committed transactions to whoever watches (Notifications(), what the
// Enforcer takes instead of an NftMonitor): each commit of ours carries the committing thread's
// id, as NFT_MSG_NEWGEN does, and tests commit as another process with ForeignCommit and
// ForeignBaseChain, or drop notifications as a full socket would (LoseNotifications).
#ifndef POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_
#define POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/nft_kernel.h"
#include "agent/nft_monitor.h"

namespace polder::agent {

class FakeNftKernel : public NftKernel, private NftNotifications {
 public:
  struct Operation {
    enum class Kind { kCommit, kDryRun, kRefused, kList, kSnapshot, kRender, kForeignCommit };
    Kind kind;
    uint32_t pid;  // thread id of the caller (ForeignCommit: the pid it was given)
  };

  FakeNftKernel();
  ~FakeNftKernel() override;

  absl::Status Run(absl::string_view script, bool dry_run) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> ListPolderTable() override ABSL_LOCKS_EXCLUDED(mu_);
  using NftKernel::Snapshot;
  absl::StatusOr<TableSnapshot> Snapshot() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<TableSnapshot> Render(absl::string_view script) override ABSL_LOCKS_EXCLUDED(mu_);

  // What the fake shows for a script: its last table block.
  static std::string ListingOf(absl::string_view script);

  // Starts reporting transactions (committed from now on) and returns where they are read.
  NftNotifications* Notifications() ABSL_LOCKS_EXCLUDED(mu_);

  // Another process (`pid`, `process`) commits: the table becomes `listing` (nullopt: the
  // table is deleted) and a transaction touching table inet polder is reported.
  void ForeignCommit(std::optional<std::string> listing, uint32_t pid = 4242,
                     const std::string& process = "nft") ABSL_LOCKS_EXCLUDED(mu_);
  // Another process adds base chain `chain` ("ip intruder/in") outside table inet polder.
  void ForeignBaseChain(const std::string& chain, uint32_t pid = 4242,
                        const std::string& process = "nft") ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the notifications not read yet; the next read reports the loss.
  void LoseNotifications() ABSL_LOCKS_EXCLUDED(mu_);
  // ForeignCommit whose notification is lost with the ones not read yet, in one step, so
  // the watcher cannot read it first: the next read reports only the loss.
  void ForeignCommitUnnotified(std::optional<std::string> listing, uint32_t pid = 4242)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Waits (up to `timeout`) until every reported transaction has been read; false on timeout.
  bool AwaitNotificationsRead(absl::Duration timeout = absl::Seconds(5)) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<Operation> operations() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many operations of `kind` were done at index `from` of operations() or later.
  int CountSince(size_t from, Operation::Kind kind) const ABSL_LOCKS_EXCLUDED(mu_);

  // Tests may change these directly only while nothing else uses the fake (the enforcer's
  // thread waits between requests); ForeignCommit may be called at any time.
  std::optional<std::string> table;       // The kernel's table inet polder, if any.
  std::string reject_marker = "INVALID";  // Scripts containing this fail.
  int applies = 0;                        // Committed (non-dry) runs.
  int dry_runs = 0;
  int snapshots = 0;
  std::string snapshot_error;  // When set, Snapshot fails with it (a kernel that cannot be read).

 private:
  int fd() const override;
  absl::Status ReadAvailable(const std::function<void(const NftTransaction&)>& on_transaction)
      override ABSL_LOCKS_EXCLUDED(mu_);

  void Record(Operation::Kind kind, uint32_t pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Report(NftTransaction t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllRead() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return unread_.empty() && !lost_; }

  const int event_fd_;  // readable while transactions are unread
  mutable absl::Mutex mu_;
  std::vector<Operation> operations_ ABSL_GUARDED_BY(mu_);
  bool watched_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<NftTransaction> unread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_
