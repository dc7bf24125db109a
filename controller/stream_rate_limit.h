// How many new agent streams the controller takes per second: a token bucket. When a
// controller is lost, thousands of agents reconnect to the survivors within seconds; refusing
// the excess at once (RESOURCE_EXHAUSTED, before TLS work beyond the handshake and before any
// Fleet state) keeps the survivors serving, and each refused agent tries its next controller
// after a random delay, which spreads the storm out.
#ifndef POLDER_CONTROLLER_STREAM_RATE_LIMIT_H_
#define POLDER_CONTROLLER_STREAM_RATE_LIMIT_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polder::controller {

class StreamRateLimit {
 public:
  // `per_second` <= 0: no limit. `burst`: how many may arrive at once after a quiet spell.
  StreamRateLimit(double per_second, double burst);
  // Takes one token if there is one at `now`.
  bool Admit(absl::Time now);

 private:
  const double per_second_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_STREAM_RATE_LIMIT_H_
