#include "agent/libnftables_kernel.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polder::agent {
namespace {

bool WriteAllTo(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Render without CAP_SYS_ADMIN (the agent's systemd unit grants CAP_NET_ADMIN only, and a new
// network namespace needs CAP_SYS_ADMIN): a child process makes a user namespace, where it holds
// every capability, and a network namespace owned by it, applies the script there and sends the
// snapshot back through a pipe. A process, not a thread, because a threaded process cannot
// unshare its user namespace. Without this a restarted agent could not see that the table
// already holds its ruleset and would replace it (atomically, but as a delete and re-create).
absl::StatusOr<TableSnapshot> RenderInUserNamespace(absl::string_view script) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  std::string text(script);
  pid_t child = fork();
  if (child < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (child == 0) {
    close(pipe_fds[0]);
    // First byte: 'O' then "<elements>\n<lines>", or 'E' then the error message.
    std::string reply;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
      reply = absl::StrCat("Eunshare(CLONE_NEWUSER|CLONE_NEWNET): ", strerror(errno));
    } else {
      // No uid map: it would need CAP_SETFCAP to map root, and the capabilities the new user
      // namespace gives last until an exec, which never comes.
      absl::StatusOr<TableSnapshot> snapshot = absl::InternalError("render did not run");
      auto scratch = LibNftablesKernel::Create();
      if (!scratch.ok()) {
        snapshot = scratch.status();
      } else if (absl::Status st = (*scratch)->Run(text, false); !st.ok()) {
        snapshot = st;
      } else {
        snapshot = (*scratch)->Snapshot();
      }
      reply = snapshot.ok() ? absl::StrCat("O", snapshot->elements, "\n", snapshot->lines)
                            : absl::StrCat("E", snapshot.status().message());
    }
    _exit(WriteAllTo(pipe_fds[1], reply) ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string reply;
  char buf[65536];
  for (;;) {
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int wstatus = 0;
  while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (reply.empty() || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError("render in a scratch user namespace failed");
  }
  if (reply[0] == 'E') return absl::InvalidArgumentError(reply.substr(1));
  size_t eol = reply.find('\n');
  if (reply[0] != 'O' || eol == std::string::npos) {
    return absl::InternalError("render in a scratch user namespace gave no snapshot");
  }
  TableSnapshot snapshot;
  snapshot.elements = std::stoull(reply.substr(1, eol - 1));
  snapshot.lines = reply.substr(eol + 1);
  return snapshot;
}

}  // namespace

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

absl::StatusOr<TableSnapshot> LibNftablesKernel::Snapshot(const SnapshotScope& scope) {
  return reader_.Snapshot(scope);
}

absl::StatusOr<TableSnapshot> LibNftablesKernel::Render(absl::string_view script) {
  // unshare(CLONE_NEWNET) moves only the calling thread, so a short-lived thread gets an empty
  // namespace to apply into; the namespace disappears with the thread.
  absl::StatusOr<TableSnapshot> result = absl::InternalError("render did not run");
  bool may_not_unshare = false;
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      may_not_unshare = errno == EPERM;
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
  if (may_not_unshare) return RenderInUserNamespace(script);
  return result;
}

absl::StatusOr<NftnlWriter::Result> LibNftablesKernel::Sync(const wire::NftRuleset* applied,
                                                            const TableSnapshot* applied_snapshot,
                                                            const wire::NftRuleset& desired,
                                                            const TableSnapshot* kernel,
                                                            const TableSnapshot* desired_elements) {
  if (writer_ == nullptr) {
    absl::StatusOr<std::unique_ptr<NftnlWriter>> writer = NftnlWriter::Open();
    if (!writer.ok()) return writer.status();
    writer_ = std::move(*writer);
    writer_->set_commit_guard(commit_guard_);
  }
  return writer_->Sync(applied, applied_snapshot, desired, kernel, desired_elements);
}

void LibNftablesKernel::SetCommitGuard(CommitGuard* guard) {
  commit_guard_ = guard;
  if (writer_ != nullptr) writer_->set_commit_guard(guard);
}

absl::StatusOr<TableSnapshot> LibNftablesKernel::RenderStructured(const wire::NftRuleset& ruleset) {
  // As Render: a short-lived thread in an empty network namespace of its own. Without the
  // right to make one the caller falls back to an atomic replace.
  absl::StatusOr<TableSnapshot> result = absl::InternalError("render did not run");
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = absl::InternalError(absl::StrCat("unshare(CLONE_NEWNET): ", strerror(errno)));
      return;
    }
    absl::StatusOr<std::unique_ptr<NftnlWriter>> writer = NftnlWriter::Open();
    if (!writer.ok()) {
      result = writer.status();
      return;
    }
    if (absl::StatusOr<NftnlWriter::Result> r = (*writer)->Replace(ruleset); !r.ok()) {
      result = r.status();
      return;
    }
    TableReader reader;
    result = reader.Snapshot();
  });
  worker.join();
  return result;
}

}  // namespace polder::agent
