// LibNftablesKernel applies and lists nft scripts through libnftables, and structured rulesets
// through libnftnl (NftnlWriter), in the network namespace of the thread that creates it.
#ifndef POLDER_AGENT_LIBNFTABLES_KERNEL_H_
#define POLDER_AGENT_LIBNFTABLES_KERNEL_H_

#include <memory>

#include "agent/nft_kernel.h"
#include "agent/table_snapshot.h"

struct nft_ctx;

namespace polder::agent {

class LibNftablesKernel : public NftKernel {
 public:
  static absl::StatusOr<std::unique_ptr<LibNftablesKernel>> Create();
  ~LibNftablesKernel() override;

  absl::Status Run(absl::string_view script, bool dry_run) override;
  absl::StatusOr<std::string> ListPolderTable() override;
  absl::StatusOr<TableSnapshot> Snapshot() override;
  absl::StatusOr<TableSnapshot> Snapshot(const SnapshotScope& scope) override;
  absl::StatusOr<TableSnapshot> Render(absl::string_view script) override;
  absl::StatusOr<NftnlWriter::Result> Sync(const wire::NftRuleset* applied,
                                           const TableSnapshot* applied_snapshot,
                                           const wire::NftRuleset& desired,
                                           const TableSnapshot* kernel,
                                           const TableSnapshot* desired_elements) override;
  absl::StatusOr<TableSnapshot> RenderStructured(const wire::NftRuleset& ruleset) override;
  bool TakesStructured() const override { return true; }
  void SetCommitGuard(CommitGuard* guard) override;

 private:
  explicit LibNftablesKernel(nft_ctx* ctx) : ctx_(ctx) {}
  absl::Status RunCommand(const std::string& cmd);

  nft_ctx* ctx_;
  TableReader reader_;
  std::unique_ptr<NftnlWriter> writer_;  // opened by the first Sync, in its thread's namespace
  CommitGuard* commit_guard_ = nullptr;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_LIBNFTABLES_KERNEL_H_
