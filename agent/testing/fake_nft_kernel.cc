#include "agent/testing/fake_nft_kernel.h"

#include "absl/strings/match.h"

namespace polder::agent {

std::string FakeNftKernel::ListingOf(absl::string_view script) {
  size_t start = script.rfind("table inet polder {");
  if (start == absl::string_view::npos) return "";
  return std::string(script.substr(start));
}

absl::Status FakeNftKernel::Run(absl::string_view script, bool dry_run) {
  if (absl::StrContains(script, reject_marker)) {
    return absl::InvalidArgumentError("Error: syntax error, unexpected " + reject_marker);
  }
  if (dry_run) {
    ++dry_runs;
    return absl::OkStatus();
  }
  ++applies;
  std::string listing = ListingOf(script);
  if (listing.empty()) {
    table.reset();
  } else {
    table = listing;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeNftKernel::ListPolderTable() {
  if (!table) return absl::NotFoundError("Error: No such file or directory");
  return *table;
}

absl::StatusOr<TableSnapshot> FakeNftKernel::Snapshot() {
  if (!table) return absl::NotFoundError("Error: No such file or directory");
  ++snapshots;
  return TableSnapshot{*table, 0};
}

absl::StatusOr<TableSnapshot> FakeNftKernel::Render(absl::string_view script) {
  if (absl::StrContains(script, reject_marker)) return absl::InvalidArgumentError("invalid");
  return TableSnapshot{ListingOf(script), 0};
}

}  // namespace polder::agent
