// FakeClock is a Clock for tests: its time stands still until the test calls Advance, so a
// test decides exactly how long a session lasted or a wait took. It also tells the test who is
// waiting on it (AwaitWaiter), the positive signal to wait for before advancing: a test that
// advances before the code under test has started its wait would move that wait's start too.
#ifndef POLDER_AGENT_TESTING_FAKE_CLOCK_H_
#define POLDER_AGENT_TESTING_FAKE_CLOCK_H_

#include <optional>
#include <set>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/clock.h"

namespace polder::agent {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}

  absl::Time Now() ABSL_LOCKS_EXCLUDED(mu_) override;
  // Waits in short slices of real time, looking at this clock between them; returns at once
  // when the condition holds.
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_LOCKS_EXCLUDED(mu_) override;

  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits (up to `timeout` of real time) until some thread waits on this clock for a deadline
  // still ahead, and returns how far ahead the earliest such deadline is; nullopt on timeout.
  std::optional<absl::Duration> AwaitWaiter(absl::Duration timeout = absl::Seconds(10))
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool HasWaiterAhead() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Lock order: a waiter's own mutex, then mu_.
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::multiset<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);  // of the threads waiting now
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TESTING_FAKE_CLOCK_H_
