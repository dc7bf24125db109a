#include "wire/duration.h"

#include <gtest/gtest.h>

namespace polder::wire {
namespace {

TEST(DurationTest, SpecForms) {
  EXPECT_EQ(*ParseDuration("2s"), absl::Seconds(2));
  EXPECT_EQ(*ParseDuration("30m"), absl::Minutes(30));
  EXPECT_EQ(*ParseDuration("12h"), absl::Hours(12));
  EXPECT_EQ(*ParseDuration("90d"), absl::Hours(24 * 90));
  EXPECT_EQ(*ParseDuration("2w"), absl::Hours(24 * 14));
  for (const char* bad : {"", "s", "5", "-1d", "1y", "d1", "1.5h", "99999999999d", " 1d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace polder::wire
