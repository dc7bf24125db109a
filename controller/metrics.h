// Controller metrics and their Prometheus text exposition.
#ifndef POLDER_CONTROLLER_METRICS_H_
#define POLDER_CONTROLLER_METRICS_H_

#include <array>
#include <cstdint>
#include <string>

namespace polder::controller {

// Upper bounds (seconds) of the apply-latency histogram buckets.
inline constexpr std::array<double, 10> kLatencyBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                           0.25,  0.5,  1,     2.5,  10};

struct MetricsSnapshot {
  int64_t agents_connected = 0;
  int64_t hosts = 0;
  std::string revision;
  bool policy_error = false;
  int64_t rollouts = 0;
  int64_t policy_rejections = 0;
  int64_t assignments_sent = 0;
  int64_t apply_ok = 0;
  int64_t apply_failed = 0;
  int64_t drift_events = 0;
  int64_t refused_agents = 0;
  int64_t unverified_results = 0;  // apply results that answer no assignment sent
  int64_t in_sync_replies = 0;     // Hellos answered "in sync": nothing sent
  int64_t agents_ahead = 0;        // Hellos of agents that applied a newer generation
  // Apply latency: time from sending an assignment to its ApplyResult.
  std::array<int64_t, kLatencyBuckets.size()> latency_buckets{};  // not cumulative
  int64_t latency_count = 0;
  double latency_sum = 0;

  void ObserveLatency(double seconds);
};

std::string RenderPrometheus(const MetricsSnapshot& m);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_METRICS_H_
