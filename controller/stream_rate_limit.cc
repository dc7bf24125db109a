#include "controller/stream_rate_limit.h"

#include <algorithm>

namespace polder::controller {

StreamRateLimit::StreamRateLimit(double per_second, double burst)
    : per_second_(per_second), burst_(std::max(1.0, burst)), tokens_(std::max(1.0, burst)) {}

bool StreamRateLimit::Admit(absl::Time now) {
  if (per_second_ <= 0) return true;
  absl::MutexLock lock(&mu_);
  if (last_ != absl::InfinitePast() && now > last_)
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
  if (now > last_ || last_ == absl::InfinitePast()) last_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace polder::controller
