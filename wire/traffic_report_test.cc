#include "wire/traffic_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace polder::wire {
namespace {

using ::testing::HasSubstr;

TrafficReport Example() {
  TrafficReport r;
  r.host = "db-1";
  r.epoch = 1764670000;
  r.sequence = 42;
  r.start = absl::FromUnixSeconds(1764669940);
  r.end = absl::FromUnixSeconds(1764670000);
  r.lost = 3;
  r.samples.push_back({"in", "10.10.3.10", "10.10.2.7", "tcp", 5432, "allowed", 12, 48211});
  r.samples.push_back({"in", "10.10.3.10", "192.0.2.9", "icmp", 8, "would-deny", 1, 84});
  r.hits.push_back({"in_p3_l4/0600000001bb0000", 12, 48211});
  r.hits.push_back({"counter/in_p2_any", 1, 60});
  return r;
}

TEST(TrafficReportTest, RoundTrips) {
  std::string line = TrafficReportToJsonLine(Example());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  absl::StatusOr<TrafficReport> back = ParseTrafficReportLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Example());
}

TEST(TrafficReportTest, RejectsWhatItWouldNotWriteNamingTheField) {
  std::string good = TrafficReportToJsonLine(Example());
  auto error_of = [](const std::string& line) {
    absl::StatusOr<TrafficReport> r = ParseTrafficReportLine(line);
    return r.ok() ? std::string("accepted") : std::string(r.status().message());
  };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_THAT(error_of("not json"), HasSubstr("not a JSON object"));
  EXPECT_THAT(error_of(with("\"sequence\":42", "\"sequence\":-1")), HasSubstr("sequence"));
  EXPECT_THAT(error_of(with("\"port\":5432", "\"port\":70000")), HasSubstr("samples[0].port"));
  EXPECT_THAT(error_of(with("\"port\":8", "\"port\":300")), HasSubstr("samples[1].port"));
  EXPECT_THAT(error_of(with("\"verdict\":\"allowed\"", "\"verdict\":\"ok\"")),
              HasSubstr("samples[0].verdict"));
  EXPECT_THAT(error_of(with("\"lost\":3", "\"lost\":3,\"extra\":1")),
              HasSubstr("extra: unknown field"));
  EXPECT_THAT(error_of(with("\"end\":\"2025-12-02", "\"end\":\"2020-12-02")),
              HasSubstr("before start"));
  EXPECT_THAT(error_of(with("\"packets\":12", "\"packets\":-12")), HasSubstr("hits[0].packets"));
  EXPECT_THAT(error_of(with("counter/in_p2_any", "in_p3_l4/0600000001bb0000")),
              HasSubstr("hits[1].counter: given twice"));
  EXPECT_THAT(error_of(with("counter/in_p2_any", "no slash")), HasSubstr("hits[1].counter"));
  TrafficReport no_hits = Example();
  no_hits.hits.clear();
  std::string bare = TrafficReportToJsonLine(no_hits);
  EXPECT_THAT(error_of(bare.substr(0, bare.size() - 1) + ",\"hits\":7}"),
              HasSubstr("hits: not a list"));
  EXPECT_THAT(error_of(with("\"bytes\":60}", "\"bytes\":60,\"x\":1}")),
              HasSubstr("hits[1].x: unknown field"));
}

TEST(TrafficReportTest, ALineWithoutHitsLeavesTheKeyOut) {
  TrafficReport r = Example();
  r.hits.clear();
  std::string line = TrafficReportToJsonLine(r);
  EXPECT_EQ(line.find("hits"), std::string::npos);
  absl::StatusOr<TrafficReport> back = ParseTrafficReportLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

// Random bytes and random cuts of a good line are refused, never a crash.
TEST(TrafficReportTest, GarbageIsRefused) {
  std::mt19937 rng(11);
  std::string good = TrafficReportToJsonLine(Example());
  for (int i = 0; i < 2000; ++i) {
    std::string s = good.substr(0, rng() % good.size());
    if (i % 2 == 1) {
      for (int k = 0; k < 5; ++k)
        s[rng() % (s.size() + 1 == 1 ? 1 : s.size())] = static_cast<char>(rng());
    }
    (void)ParseTrafficReportLine(s);  // must return, ok or not
  }
  EXPECT_FALSE(ParseTrafficReportLine(good.substr(0, good.size() - 1)).ok());
}

}  // namespace
}  // namespace polder::wire
