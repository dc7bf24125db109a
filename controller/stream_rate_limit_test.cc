#include "controller/stream_rate_limit.h"

#include <gtest/gtest.h>

namespace polder::controller {
namespace {

TEST(StreamRateLimitTest, TakesABurstThenTheRate) {
  StreamRateLimit limit(100, 10);
  absl::Time t = absl::FromUnixSeconds(1800000000);
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += limit.Admit(t);
  EXPECT_EQ(admitted, 10) << "the burst, all at once";
  // A second later: 100 more tokens, but never more than the burst.
  t += absl::Seconds(1);
  admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += limit.Admit(t);
  EXPECT_EQ(admitted, 10);
  // 100 per second: one every 10 ms.
  admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    t += absl::Milliseconds(1);
    admitted += limit.Admit(t);
  }
  EXPECT_GE(admitted, 99);
  EXPECT_LE(admitted, 101);
}

TEST(StreamRateLimitTest, ZeroMeansNoLimitAndAClockGoingBackGivesNothing) {
  StreamRateLimit none(0, 0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(none.Admit(absl::UnixEpoch()));
  StreamRateLimit limit(10, 1);
  absl::Time t = absl::FromUnixSeconds(1800000000);
  EXPECT_TRUE(limit.Admit(t));
  EXPECT_FALSE(limit.Admit(t - absl::Seconds(5)));
  EXPECT_TRUE(limit.Admit(t + absl::Milliseconds(100)));
}

}  // namespace
}  // namespace polder::controller
