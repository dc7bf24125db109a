#include "controller/metrics.h"

#include <gtest/gtest.h>

namespace polder::controller {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, RendersGaugesCountersAndCumulativeHistogram) {
  MetricsSnapshot m;
  m.agents_connected = 3;
  m.revision = "abc";
  m.drift_events = 2;
  m.ObserveLatency(0.003);
  m.ObserveLatency(0.2);
  m.ObserveLatency(20);
  std::string t = RenderPrometheus(m);
  EXPECT_TRUE(Has(t, "polder_agents_connected 3"));
  EXPECT_TRUE(Has(t, "polder_policy_revision_info{revision=\"abc\"} 1"));
  EXPECT_TRUE(Has(t, "polder_drift_events_total 2"));
  EXPECT_TRUE(Has(t, "polder_apply_latency_seconds_bucket{le=\"0.005\"} 1"));
  EXPECT_TRUE(Has(t, "polder_apply_latency_seconds_bucket{le=\"0.25\"} 2"));
  EXPECT_TRUE(Has(t, "polder_apply_latency_seconds_bucket{le=\"10\"} 2"));
  EXPECT_TRUE(Has(t, "polder_apply_latency_seconds_bucket{le=\"+Inf\"} 3"));
  EXPECT_TRUE(Has(t, "polder_apply_latency_seconds_count 3"));
}

}  // namespace
}  // namespace polder::controller
