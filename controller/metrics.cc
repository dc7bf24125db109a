#include "controller/metrics.h"

#include "absl/strings/str_cat.h"

namespace polder::controller {

void MetricsSnapshot::ObserveLatency(double seconds) {
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++latency_buckets[i];
      break;
    }
  }
  ++latency_count;
  latency_sum += seconds;
}

namespace {
void Metric(std::string& out, const char* name, const char* type, const char* help,
            const std::string& value) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, value,
                  "\n");
}
}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& m) {
  std::string out;
  auto plain = [](int64_t v) { return absl::StrCat(" ", v); };
  Metric(out, "polder_agents_connected", "gauge", "Agents with an open stream.",
         plain(m.agents_connected));
  Metric(out, "polder_hosts", "gauge", "Hosts in the served policy.", plain(m.hosts));
  Metric(out, "polder_policy_revision_info", "gauge", "The revision being served.",
         absl::StrCat("{revision=\"", m.revision, "\"} 1"));
  Metric(out, "polder_policy_error", "gauge",
         "1 when the newest policy is refused and an older revision is served.",
         plain(m.policy_error ? 1 : 0));
  Metric(out, "polder_rollouts_total", "counter", "Revisions rolled out.", plain(m.rollouts));
  Metric(out, "polder_policy_rejections_total", "counter", "Policies refused for errors.",
         plain(m.policy_rejections));
  Metric(out, "polder_assignments_sent_total", "counter", "Rulesets sent to agents.",
         plain(m.assignments_sent));
  Metric(out, "polder_apply_results_total", "counter", "Apply results by outcome.",
         absl::StrCat("{result=\"ok\"} ", m.apply_ok));
  absl::StrAppend(&out, "polder_apply_results_total{result=\"error\"} ", m.apply_failed, "\n");
  Metric(out, "polder_drift_events_total", "counter", "Drift reports received.",
         plain(m.drift_events));
  Metric(out, "polder_refused_agents_total", "counter", "Agent streams refused.",
         plain(m.refused_agents));
  Metric(out, "polder_unverified_apply_results_total", "counter",
         "Apply results ignored because they answer no assignment this controller sent.",
         plain(m.unverified_results));
  Metric(out, "polder_in_sync_hellos_total", "counter",
         "Agent Hellos answered in sync: the agent already ran its ruleset, nothing was sent.",
         plain(m.in_sync_replies));
  Metric(out, "polder_agents_ahead_total", "counter",
         "Agent Hellos that reported a newer generation than this controller serves (nothing "
         "is sent to them).",
         plain(m.agents_ahead));
  absl::StrAppend(&out,
                  "# HELP polder_apply_latency_seconds From sending an assignment to its "
                  "apply result.\n# TYPE polder_apply_latency_seconds histogram\n");
  int64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += m.latency_buckets[i];
    absl::StrAppend(&out, "polder_apply_latency_seconds_bucket{le=\"", kLatencyBuckets[i], "\"} ",
                    cumulative, "\n");
  }
  absl::StrAppend(&out, "polder_apply_latency_seconds_bucket{le=\"+Inf\"} ", m.latency_count,
                  "\npolder_apply_latency_seconds_sum ", m.latency_sum,
                  "\npolder_apply_latency_seconds_count ", m.latency_count, "\n");
  return out;
}

}  // namespace polder::controller
