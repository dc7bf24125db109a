#include "agent/testing/fake_nft_kernel.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "absl/strings/match.h"

namespace polder::agent {
namespace {

uint32_t CallerTid() { return static_cast<uint32_t>(gettid()); }

NftTransaction Transaction(uint32_t pid, std::string process, bool touches_polder) {
  NftTransaction t;
  t.pid = pid;
  t.process = std::move(process);
  t.touches_polder = touches_polder;
  return t;
}

}  // namespace

FakeNftKernel::FakeNftKernel() : event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

FakeNftKernel::~FakeNftKernel() {
  if (event_fd_ >= 0) close(event_fd_);
}

std::string FakeNftKernel::ListingOf(absl::string_view script) {
  size_t start = script.rfind("table inet polder {");
  if (start == absl::string_view::npos) return "";
  return std::string(script.substr(start));
}

void FakeNftKernel::Record(Operation::Kind kind, uint32_t pid) {
  operations_.push_back({kind, pid});
}

void FakeNftKernel::Report(NftTransaction t) {
  if (!watched_) return;
  t.generation = ++generation_;
  unread_.push_back(std::move(t));
  uint64_t one = 1;
  if (write(event_fd_, &one, sizeof(one)) < 0) {
    // Only EAGAIN (counter saturated) is possible, and then the fd is readable anyway.
  }
}

absl::Status FakeNftKernel::Run(absl::string_view script, bool dry_run) {
  absl::MutexLock lock(&mu_);
  if (absl::StrContains(script, reject_marker)) {
    Record(Operation::Kind::kRefused, CallerTid());
    return absl::InvalidArgumentError("Error: syntax error, unexpected " + reject_marker);
  }
  if (dry_run) {
    Record(Operation::Kind::kDryRun, CallerTid());
    ++dry_runs;
    return absl::OkStatus();
  }
  Record(Operation::Kind::kCommit, CallerTid());
  ++applies;
  std::string listing = ListingOf(script);
  if (listing.empty()) {
    table.reset();
  } else {
    table = listing;
  }
  Report(Transaction(CallerTid(), "polder-agent", true));
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeNftKernel::ListPolderTable() {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kList, CallerTid());
  if (!table) return absl::NotFoundError("Error: No such file or directory");
  return *table;
}

absl::StatusOr<TableSnapshot> FakeNftKernel::Snapshot() {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kSnapshot, CallerTid());
  if (!snapshot_error.empty()) return absl::InternalError(snapshot_error);
  if (!table) return absl::NotFoundError("Error: No such file or directory");
  ++snapshots;
  return TableSnapshot{*table, 0, nullptr};
}

absl::StatusOr<TableSnapshot> FakeNftKernel::Render(absl::string_view script) {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kRender, CallerTid());
  if (absl::StrContains(script, reject_marker)) return absl::InvalidArgumentError("invalid");
  return TableSnapshot{ListingOf(script), 0, nullptr};
}

NftNotifications* FakeNftKernel::Notifications() {
  absl::MutexLock lock(&mu_);
  watched_ = true;
  return this;
}

void FakeNftKernel::ForeignCommit(std::optional<std::string> listing, uint32_t pid,
                                  const std::string& process) {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kForeignCommit, pid);
  table = std::move(listing);
  Report(Transaction(pid, process, true));
}

void FakeNftKernel::ForeignBaseChain(const std::string& chain, uint32_t pid,
                                     const std::string& process) {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kForeignCommit, pid);
  NftTransaction t = Transaction(pid, process, false);
  t.foreign_base_chains.insert(chain);
  Report(std::move(t));
}

void FakeNftKernel::ForeignCommitUnnotified(std::optional<std::string> listing, uint32_t pid) {
  absl::MutexLock lock(&mu_);
  Record(Operation::Kind::kForeignCommit, pid);
  table = std::move(listing);
  unread_.clear();
  lost_ = true;
  uint64_t one = 1;
  if (write(event_fd_, &one, sizeof(one)) < 0) {
    // As in Report.
  }
}

void FakeNftKernel::LoseNotifications() {
  absl::MutexLock lock(&mu_);
  unread_.clear();
  lost_ = true;
  uint64_t one = 1;
  if (write(event_fd_, &one, sizeof(one)) < 0) {
    // As in Report.
  }
}

bool FakeNftKernel::AwaitNotificationsRead(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &FakeNftKernel::AllRead), timeout);
}

int FakeNftKernel::fd() const { return event_fd_; }

absl::Status FakeNftKernel::ReadAvailable(
    const std::function<void(const NftTransaction&)>& on_transaction) {
  std::deque<NftTransaction> read;
  bool lost;
  {
    absl::MutexLock lock(&mu_);
    uint64_t count;
    while (::read(event_fd_, &count, sizeof(count)) > 0) {
    }
    read.swap(unread_);
    lost = lost_;
    lost_ = false;
  }
  // Outside mu_: the callback may ask this kernel for a snapshot.
  for (const NftTransaction& t : read) on_transaction(t);
  if (lost) return absl::DataLossError("nftables notifications lost (ENOBUFS)");
  return absl::OkStatus();
}

std::vector<FakeNftKernel::Operation> FakeNftKernel::operations() const {
  absl::MutexLock lock(&mu_);
  return operations_;
}

int FakeNftKernel::CountSince(size_t from, Operation::Kind kind) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (size_t i = from; i < operations_.size(); ++i) n += operations_[i].kind == kind;
  return n;
}

}  // namespace polder::agent
