// LibNftablesKernel applies and lists nft scripts through libnftables, in the network
// namespace of the thread that creates it.
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
  absl::StatusOr<TableSnapshot> Render(absl::string_view script) override;

 private:
  explicit LibNftablesKernel(nft_ctx* ctx) : ctx_(ctx) {}
  absl::Status RunCommand(const std::string& cmd);

  nft_ctx* ctx_;
  TableReader reader_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_LIBNFTABLES_KERNEL_H_
