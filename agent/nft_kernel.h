// NftKernel is the agent's only path to the kernel's nftables state. The real implementation
// (LibNftablesKernel) talks netlink through libnftables; unit tests use FakeNftKernel. Calls on
// one instance must come from one thread at a time (libnftables contexts are not thread-safe).
#ifndef POLDER_AGENT_NFT_KERNEL_H_
#define POLDER_AGENT_NFT_KERNEL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/commit_guard.h"
#include "agent/nftnl_writer.h"
#include "agent/table_snapshot.h"
#include "wire/nft_ruleset.h"

namespace polder::agent {

class NftKernel {
 public:
  virtual ~NftKernel() = default;

  // Runs an nft script as one transaction. With `dry_run` the kernel checks the whole
  // transaction and then discards it. A failed script changes nothing.
  virtual absl::Status Run(absl::string_view script, bool dry_run) = 0;

  // `list table inet polder` without counter values (they change with traffic);
  // NotFoundError when the table does not exist.
  virtual absl::StatusOr<std::string> ListPolderTable() = 0;

  // Canonical snapshot of table inet polder (see table_snapshot.h); NotFoundError when the
  // table does not exist. Cheap even for very large sets, unlike the listing.
  virtual absl::StatusOr<TableSnapshot> Snapshot() = 0;
  // The same, reading set elements only as `scope` says (see SnapshotScope).
  virtual absl::StatusOr<TableSnapshot> Snapshot(const SnapshotScope& scope) {
    (void)scope;
    return Snapshot();
  }

  // The snapshot table `inet polder` would have if `script` were applied, computed without
  // touching the ruleset this kernel enforces (the real one uses a throwaway namespace).
  virtual absl::StatusOr<TableSnapshot> Render(absl::string_view script) = 0;

  // Whether Sync and RenderStructured work here. A kernel that takes text only (the unit
  // tests' fake) gets the text of a ruleset that came with both forms: they describe the same
  // table.
  virtual bool TakesStructured() const { return false; }

  // Structured rulesets, through libnftnl: one batch that turns the kernel's table (`kernel`,
  // just read; null when there is none) into `desired`, sending only the differences when it
  // can (see NftnlWriter::Sync).
  virtual absl::StatusOr<NftnlWriter::Result> Sync(const wire::NftRuleset* applied,
                                                   const TableSnapshot* applied_snapshot,
                                                   const wire::NftRuleset& desired,
                                                   const TableSnapshot* kernel,
                                                   const TableSnapshot* desired_elements) {
    (void)applied, (void)applied_snapshot, (void)desired, (void)kernel, (void)desired_elements;
    return absl::UnimplementedError("this kernel takes nft text only");
  }
  // Brackets every batch Sync commits from now on (not owned; null: none). Kernels without
  // libnftnl batches ignore it.
  virtual void SetCommitGuard(CommitGuard* guard) { (void)guard; }
  // Like Render, for a structured ruleset.
  virtual absl::StatusOr<TableSnapshot> RenderStructured(const wire::NftRuleset& ruleset) {
    (void)ruleset;
    return absl::UnimplementedError("this kernel takes nft text only");
  }
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_NFT_KERNEL_H_
