#include "wire/rfc3339.h"

#include <gtest/gtest.h>

namespace polder {
namespace {

TEST(Rfc3339Test, AcceptsTheGrammar) {
  EXPECT_EQ(ParseRfc3339("2027-03-01T00:00:00Z"), absl::FromUnixSeconds(1803859200));
  EXPECT_EQ(ParseRfc3339("2027-03-01T01:00:00+01:00"), absl::FromUnixSeconds(1803859200));
  EXPECT_EQ(ParseRfc3339("2027-03-01t00:00:00.5z"),
            absl::FromUnixSeconds(1803859200) + absl::Milliseconds(500));
}

TEST(Rfc3339Test, RefusesWhatOnlyLooksLikeIt) {
  for (const char* bad : {
           "20270-01-01T00:00:00Z",  // a typo that would make a flow permanent
           "-001-01-01T00:00:00Z",
           "2027-1-1T0:0:0Z",
           "2027-03-01T00:00:00+0100",
           "2027-03-01T00:00:00",
           "2027-03-01",
           "2027-13-01T00:00:00Z",
           "2027-02-30T00:00:00Z",
           "2027-03-01T24:00:00Z",
           " 2027-03-01T00:00:00Z",
           "",
       }) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(Rfc3339Test, FormatsWholeSecondsInUtcAndParsesBack) {
  absl::Time t = absl::FromUnixSeconds(1803859200) + absl::Milliseconds(999);
  EXPECT_EQ(FormatRfc3339(t), "2027-03-01T00:00:00Z");
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), absl::FromUnixSeconds(1803859200));
}

}  // namespace
}  // namespace polder
