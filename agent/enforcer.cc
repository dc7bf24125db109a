#include "agent/enforcer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"

namespace polder::agent {

Enforcer::Enforcer(std::unique_ptr<NftKernel> kernel, Options options, Observer observer)
    : kernel_(std::move(kernel)),
      options_(options),
      observer_(std::move(observer)),
      applier_(kernel_.get(), options.applier) {}

Enforcer::~Enforcer() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status Enforcer::Start() {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  if (options_.watch_notifications && options_.notifications != nullptr) {
    notifications_ = options_.notifications;
  } else if (options_.watch_notifications) {
    absl::StatusOr<std::unique_ptr<NftMonitor>> monitor = NftMonitor::Open();
    if (!monitor.ok()) return monitor.status();
    monitor_ = std::move(*monitor);
    notifications_ = monitor_.get();
  }
  if (notifications_ != nullptr && options_.quiet_own_commits) {
    quiet_ = std::make_unique<QuietCommits>(notifications_, [this] { return ReadGeneration(); });
    kernel_->SetCommitGuard(quiet_.get());
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Enforcer::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  Wake();
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (Request& r : requests_) r.done.set_value(absl::CancelledError("enforcer stopped"));
  requests_.clear();
}

std::future<absl::Status> Enforcer::Apply(std::string text) {
  return Enqueue(true, std::move(text));
}

std::future<absl::Status> Enforcer::Apply(Ruleset ruleset) {
  return Enqueue(true, "", std::move(ruleset));
}

std::future<absl::Status> Enforcer::CheckNow() { return Enqueue(false, ""); }

std::string Enforcer::KernelReadError() const {
  absl::MutexLock lock(&mu_);
  return read_error_;
}

std::future<absl::Status> Enforcer::Enqueue(bool is_apply, std::string text,
                                            std::optional<Ruleset> ruleset) {
  Request r{is_apply, std::move(text), std::move(ruleset), {}};
  std::future<absl::Status> f = r.done.get_future();
  {
    absl::MutexLock lock(&mu_);
    if (stop_ || !thread_.joinable()) {
      r.done.set_value(absl::FailedPreconditionError("enforcer not running"));
      return f;
    }
    requests_.push_back(std::move(r));
  }
  Wake();
  return f;
}

void Enforcer::Wake() {
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // Only EAGAIN (counter saturated) is possible, and then a wake-up is pending anyway.
  }
}

void Enforcer::Loop() {
  loop_tid_ = gettid();
  absl::Time next_full_check = absl::Now() + options_.full_check_interval;
  while (!stop_) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0},
                     {notifications_ ? notifications_->fd() : -1, POLLIN, 0}};
    int64_t wait_ms = absl::ToInt64Milliseconds(next_full_check - absl::Now());
    if (resync_pending_) wait_ms = 0;
    int n = poll(fds, 2, static_cast<int>(std::clamp<int64_t>(wait_ms, 0, 3'600'000)));
    if (n < 0 && errno != EINTR) {
      EmitError(absl::StrCat("poll: ", strerror(errno)));
      return;
    }
    if (stop_) break;
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      while (read(wake_fd_, &count, sizeof(count)) > 0) {
      }
      HandleRequests();
    }
    if (fds[1].revents & (POLLIN | POLLERR)) HandleNotifications();
    if (quiet_ != nullptr && !quiet_->deaf_reason().empty()) {
      // Rejoining may fail again; until it works only the comparisons see drift.
      if (quiet_->Rejoin().ok()) {
        reported_deaf_reason_.clear();
      } else if (quiet_->deaf_reason() != reported_deaf_reason_) {
        reported_deaf_reason_ = quiet_->deaf_reason();
        EmitError(absl::StrCat("not watching nftables notifications (", reported_deaf_reason_,
                               "): drift is seen only by the periodic comparison"));
      }
      NoteOwnCommits();
    }
    if (resync_pending_) {
      resync_pending_ = false;
      Verify("resync", 0, "").IgnoreError();
    }
    if (absl::Now() >= next_full_check) {
      Verify("periodic", 0, "").IgnoreError();
      next_full_check = absl::Now() + options_.full_check_interval;
    }
  }
}

void Enforcer::HandleRequests() {
  for (;;) {
    Request r;
    {
      absl::MutexLock lock(&mu_);
      if (requests_.empty()) return;
      r = std::move(requests_.front());
      requests_.pop_front();
    }
    r.done.set_value(r.is_apply ? HandleApply(std::move(r.text), std::move(r.ruleset))
                                : Verify("request", 0, ""));
  }
}

void Enforcer::HandleNotifications() {
  std::optional<NftTransaction> foreign;
  PolderChanges changes;  // over all foreign transactions read now
  absl::Status st = notifications_->ReadAvailable([&](const NftTransaction& t) {
    if (t.pid != 0 && t.pid == static_cast<uint32_t>(loop_tid_)) return;  // Our own commit.
    for (const std::string& chain : t.foreign_base_chains) {
      AgentEvent e;
      e.kind = AgentEvent::Kind::kForeignTable;
      e.table = chain;
      e.pid = t.pid;
      e.process = t.process;
      Emit(std::move(e));
    }
    if (t.touches_polder || !t.foreign_base_chains.empty()) foreign = t;
    changes.Add(t);
  });
  if (absl::IsDataLoss(st)) {
    Verify("resync", 0, "").IgnoreError();
  } else if (!st.ok()) {
    EmitError(std::string(st.message()));
  } else if (foreign) {
    // Several foreign commits read at once are judged together: one comparison, one report.
    Verify("event", foreign->pid, foreign->process, &changes.sets,
           changes.other ? nullptr : &changes.chains)
        .IgnoreError();
  }
}

absl::Status Enforcer::HandleApply(std::string text, std::optional<Ruleset> ruleset) {
  absl::StatusOr<RulesetApplier::Result> result = absl::UnknownError("not applied");
  bool alone = ApplyAlone([&] {
    result = ruleset ? applier_.Apply(std::move(*ruleset)) : applier_.Apply(std::move(text));
  });
  NoteOwnCommits();
  if (!alone) {
    EmitError(
        "table inet polder kept changing while the agent applied it: the table read back may "
        "hold a foreign change; comparing it again");
    resync_pending_ = true;
  }
  if (!result.ok()) {
    EmitError(std::string(result.status().message()));
    return result.status();
  }
  last_reported_drift_.clear();
  AgentEvent e;
  switch (result->outcome) {
    case RulesetApplier::Outcome::kApplied:
      e.kind = AgentEvent::Kind::kApplied;
      break;
    case RulesetApplier::Outcome::kAdopted:
      e.kind = AgentEvent::Kind::kAdopted;
      break;
    case RulesetApplier::Outcome::kUnchanged:
      e.kind = AgentEvent::Kind::kUnchanged;
      break;
  }
  const Ruleset& r = *applier_.current();
  e.host = r.host;
  e.revision = r.revision;
  e.hash = r.hash;
  e.via = r.structured ? "libnftnl" : "libnftables";
  e.duration_ms = absl::ToDoubleMilliseconds(result->duration);
  Emit(std::move(e));
  return absl::OkStatus();
}

absl::Status Enforcer::Verify(const std::string& source, uint32_t pid, const std::string& process,
                              const std::set<std::string>* changed_sets,
                              const std::set<std::string>* changed_chains) {
  std::optional<TableSnapshot> read;
  absl::StatusOr<std::vector<std::string>> diff =
      applier_.Check(changed_sets, &read, changed_sets != nullptr ? changed_chains : nullptr);
  {
    absl::MutexLock lock(&mu_);
    read_error_ = diff.ok() ? "" : std::string(diff.status().message());
  }
  if (!diff.ok()) {
    EmitError(absl::StrCat("comparing table inet polder: ", diff.status().message()));
    return diff.status();
  }
  if (diff->empty()) {
    last_reported_drift_.clear();
    return absl::OkStatus();
  }
  // Without remediation the same drift would be found on every check; report it once.
  if (*diff != last_reported_drift_) {
    AgentEvent e;
    e.kind = AgentEvent::Kind::kDrift;
    e.differences = *diff;
    e.pid = pid;
    e.process = process;
    e.source = source;
    Emit(std::move(e));
    last_reported_drift_ = *diff;
  }
  if (!options_.remediate) return absl::OkStatus();
  absl::StatusOr<absl::Duration> took = applier_.Restore(changed_sets, std::move(read));
  NoteOwnCommits();
  if (!took.ok()) {
    EmitError(std::string(took.status().message()));
    return took.status();
  }
  last_reported_drift_.clear();
  AgentEvent e;
  e.kind = AgentEvent::Kind::kRestored;
  const Ruleset& r = *applier_.current();
  e.host = r.host;
  e.revision = r.revision;
  e.hash = r.hash;
  e.via = r.structured ? "libnftnl" : "libnftables";
  e.duration_ms = absl::ToDoubleMilliseconds(*took);
  Emit(std::move(e));
  return absl::OkStatus();
}

bool Enforcer::ApplyAlone(const std::function<void()>& apply) {
  if (quiet_ == nullptr) {
    apply();
    return true;
  }
  absl::StatusOr<uint32_t> start = ReadGeneration();
  uint64_t own = quiet_->committed();
  apply();
  // Only structured applies count their commits (libnftables' are not bracketed).
  constexpr int kReloads = 3;
  for (int reloads = 0;; ++reloads) {
    if (!applier_.current() || !applier_.current()->structured) return true;
    absl::StatusOr<uint32_t> end = ReadGeneration();
    // Without generations the notifications and the periodic comparison are what is left.
    if (!start.ok() || !end.ok()) return true;
    if (static_cast<uint32_t>(*end - *start) == quiet_->committed() - own) return true;
    if (reloads == kReloads) return false;
    start = end;
    own = quiet_->committed();
    if (absl::StatusOr<absl::Duration> reloaded = applier_.Reload(); !reloaded.ok()) {
      EmitError(std::string(reloaded.status().message()));
      return false;
    }
  }
}

void Enforcer::NoteOwnCommits() {
  if (quiet_ != nullptr && quiet_->TakeMissed()) resync_pending_ = true;
}

absl::StatusOr<uint32_t> Enforcer::ReadGeneration() {
  if (generation_reader_ == nullptr) {
    absl::StatusOr<std::unique_ptr<NftGenerationReader>> reader = NftGenerationReader::Open();
    if (!reader.ok()) return reader.status();
    generation_reader_ = std::move(*reader);
  }
  return generation_reader_->Read();
}

void Enforcer::Emit(AgentEvent event) {
  event.time = absl::Now();
  if (observer_) observer_(event);
}

void Enforcer::EmitError(std::string message) {
  AgentEvent e;
  e.kind = AgentEvent::Kind::kError;
  e.message = std::move(message);
  Emit(std::move(e));
}

}  // namespace polder::agent
