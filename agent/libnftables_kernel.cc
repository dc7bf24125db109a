#include "agent/libnftables_kernel.h"

#include <nftables/libnftables.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polder::agent {

absl::StatusOr<std::unique_ptr<LibNftablesKernel>> LibNftablesKernel::Create() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return absl::InternalError("nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    nft_ctx_free(ctx);
    return absl::InternalError("cannot buffer libnftables output");
  }
  // Stateless: counter and quota values are traffic, not configuration.
  nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_STATELESS);
  return std::unique_ptr<LibNftablesKernel>(new LibNftablesKernel(ctx));
}

LibNftablesKernel::~LibNftablesKernel() { nft_ctx_free(ctx_); }

absl::Status LibNftablesKernel::RunCommand(const std::string& cmd) {
  int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc == 0) return absl::OkStatus();
  absl::string_view msg = absl::StripTrailingAsciiWhitespace(err);
  if (msg.empty()) msg = "nft command failed";
  if (absl::StrContains(msg, "No such file or directory")) return absl::NotFoundError(msg);
  return absl::InvalidArgumentError(msg);
}

absl::Status LibNftablesKernel::Run(absl::string_view script, bool dry_run) {
  nft_ctx_set_dry_run(ctx_, dry_run);
  absl::Status st = RunCommand(std::string(script));
  nft_ctx_set_dry_run(ctx_, false);
  nft_ctx_get_output_buffer(ctx_);  // Discard, so the next listing starts clean.
  return st;
}

absl::StatusOr<std::string> LibNftablesKernel::ListPolderTable() {
  absl::Status st = RunCommand("list table inet polder");
  std::string out = nft_ctx_get_output_buffer(ctx_);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<TableSnapshot> LibNftablesKernel::Snapshot() { return reader_.Snapshot(); }

absl::StatusOr<TableSnapshot> LibNftablesKernel::Render(absl::string_view script) {
  // unshare(CLONE_NEWNET) moves only the calling thread, so a short-lived thread gets an empty
  // namespace to apply into; the namespace disappears with the thread.
  absl::StatusOr<TableSnapshot> result = absl::InternalError("render did not run");
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = absl::InternalError(absl::StrCat("unshare(CLONE_NEWNET): ", strerror(errno)));
      return;
    }
    auto scratch = Create();
    if (!scratch.ok()) {
      result = scratch.status();
      return;
    }
    if (absl::Status st = (*scratch)->Run(script, false); !st.ok()) {
      result = st;
      return;
    }
    result = (*scratch)->Snapshot();
  });
  worker.join();
  return result;
}

}  // namespace polder::agent
