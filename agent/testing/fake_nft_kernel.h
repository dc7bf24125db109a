// FakeNftKernel stands in for the kernel in unit tests: it keeps the table as the text of the
// script's `table inet polder { ... }` block, refuses scripts containing a chosen marker the way
// the kernel refuses invalid ones (atomically), and lets tests tamper with the table.
#ifndef POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_
#define POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_

#include <optional>
#include <string>

#include "agent/nft_kernel.h"

namespace polder::agent {

class FakeNftKernel : public NftKernel {
 public:
  absl::Status Run(absl::string_view script, bool dry_run) override;
  absl::StatusOr<std::string> ListPolderTable() override;
  absl::StatusOr<TableSnapshot> Snapshot() override;
  absl::StatusOr<TableSnapshot> Render(absl::string_view script) override;

  // What the fake shows for a script: its last table block.
  static std::string ListingOf(absl::string_view script);

  std::optional<std::string> table;       // The kernel's table inet polder, if any.
  std::string reject_marker = "INVALID";  // Scripts containing this fail.
  int applies = 0;                        // Committed (non-dry) runs.
  int dry_runs = 0;
  int snapshots = 0;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TESTING_FAKE_NFT_KERNEL_H_
