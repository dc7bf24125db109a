// Clock is where the agent's timing code reads the time and waits for it (Envoy's TimeSource),
// so that tests can drive time themselves: Clock::Real() is absl's clock; testing/fake_clock.h
// moves only when a test advances it. Code that takes a Clock asks it, never absl::Now(), for
// every time that decides something (deadlines, how long a session lasted, backoff waits).
#ifndef POLDER_AGENT_CLOCK_H_
#define POLDER_AGENT_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polder::agent {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // absl::Mutex::AwaitWithDeadline on this clock: with `mu` held, waits until `condition`
  // holds or this clock reaches `deadline`, and returns whether the condition holds.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The process's real clock; never destroyed, safe from any thread.
  static Clock* Real();
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_CLOCK_H_
