#include "agent/uplink/backoff.h"

#include <algorithm>

namespace polder::agent {

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_(std::max(initial, absl::Milliseconds(1))),
      max_(std::max(max, initial_)),
      current_(initial_),
      rng_(seed) {}

absl::Duration Backoff::Next() {
  absl::Duration d = current_;
  current_ = std::min(current_ * 2, max_);
  std::uniform_real_distribution<double> half(0.5, 1.0);
  return d * half(rng_);
}

}  // namespace polder::agent
