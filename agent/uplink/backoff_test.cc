#include "agent/uplink/backoff.h"

#include <set>

#include "gtest/gtest.h"

namespace polder::agent {
namespace {

TEST(BackoffTest, DoublesUpToTheBoundWithJitterInTheUpperHalf) {
  Backoff b(absl::Milliseconds(100), absl::Seconds(2), 7);
  absl::Duration ceiling = absl::Milliseconds(100);
  for (int i = 0; i < 20; ++i) {
    absl::Duration d = b.Next();
    EXPECT_GE(d, ceiling / 2) << "attempt " << i;
    EXPECT_LE(d, ceiling) << "attempt " << i;
    ceiling = std::min(ceiling * 2, absl::Seconds(2));
  }
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff b(absl::Milliseconds(100), absl::Seconds(10), 1);
  for (int i = 0; i < 8; ++i) b.Next();
  EXPECT_GT(b.Next(), absl::Seconds(1));
  b.Reset();
  EXPECT_LE(b.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, AgentsWithDifferentSeedsSpreadOut) {
  std::set<int64_t> waits;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Backoff b(absl::Seconds(1), absl::Seconds(1), seed);
    waits.insert(absl::ToInt64Microseconds(b.Next()));
  }
  EXPECT_GT(waits.size(), 15u);
}

}  // namespace
}  // namespace polder::agent
