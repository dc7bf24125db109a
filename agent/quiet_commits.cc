#include "agent/quiet_commits.h"

#include "absl/strings/str_cat.h"

namespace polder::agent {

void QuietCommits::BeforeCommit() {
  before_.reset();
  if (!deaf_reason_.empty()) return;  // not listening anyway; the enforcer compares after
  // The generation is read while still listening: a commit between this read and leaving is
  // both heard and counted, which costs at most one needless comparison.
  absl::StatusOr<uint32_t> generation = generation_();
  if (!generation.ok()) return;  // stay in the group: slower, never blind
  if (!notifications_->LeaveGroup().ok()) return;
  before_ = *generation;
}

void QuietCommits::AfterCommit(bool committed) {
  if (committed) ++committed_;
  if (!before_) return;
  uint32_t before = *before_;
  before_.reset();
  ++quiet_commits_;
  if (absl::Status st = notifications_->JoinGroup(); !st.ok()) {
    deaf_reason_ = std::string(st.message());
    missed_ = true;
    ++missed_count_;
    return;
  }
  // Read after joining: a commit from now on is heard, and one before is counted here.
  absl::StatusOr<uint32_t> after = generation_();
  uint32_t own = committed ? 1 : 0;
  if (!after.ok() || static_cast<uint32_t>(*after - before) != own) {
    missed_ = true;
    ++missed_count_;
  }
}

bool QuietCommits::TakeMissed() {
  bool missed = missed_;
  missed_ = false;
  return missed;
}

absl::Status QuietCommits::Rejoin() {
  if (deaf_reason_.empty()) return absl::OkStatus();
  if (absl::Status st = notifications_->JoinGroup(); !st.ok()) {
    deaf_reason_ = std::string(st.message());
    return st;
  }
  deaf_reason_.clear();
  missed_ = true;  // what happened while deaf is unknown
  return absl::OkStatus();
}

}  // namespace polder::agent
