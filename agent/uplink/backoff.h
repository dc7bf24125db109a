// Backoff spaces out reconnection attempts to the controller: the wait doubles from `initial` up
// to `max`, and each wait is drawn uniformly from its upper half so that a fleet of agents that
// lost the controller at the same moment does not reconnect in one burst.
#ifndef POLDER_AGENT_UPLINK_BACKOFF_H_
#define POLDER_AGENT_UPLINK_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace polder::agent {

class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);
  // The next wait, in [d/2, d] where d = min(initial * 2^attempts, max).
  absl::Duration Next();
  // After a successful connection the next failure waits `initial` again.
  void Reset() { current_ = initial_; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  absl::Duration current_;
  std::mt19937_64 rng_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_UPLINK_BACKOFF_H_
