#include "agent/testing/fake_clock.h"

namespace polder::agent {

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool FakeClock::AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition,
                                  absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    deadlines_.insert(deadline);
  }
  bool held = condition.Eval();
  while (!held && Now() < deadline) {
    // Advance does not touch `mu`, so nothing wakes this wait when time moves: look again soon.
    held = mu.AwaitWithTimeout(condition, absl::Milliseconds(1));
  }
  absl::MutexLock lock(&mu_);
  deadlines_.erase(deadlines_.find(deadline));
  return held;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

bool FakeClock::HasWaiterAhead() const { return deadlines_.upper_bound(now_) != deadlines_.end(); }

std::optional<absl::Duration> FakeClock::AwaitWaiter(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &FakeClock::HasWaiterAhead), timeout)) {
    return std::nullopt;
  }
  return *deadlines_.upper_bound(now_) - now_;
}

}  // namespace polder::agent
