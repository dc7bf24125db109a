#include "agent/traffic_baseline.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

class TrafficBaselineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/polder-baseline-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& text) { std::ofstream(path()) << text; }
  fs::path path() const { return dir_ / "traffic.jsonl.baseline"; }
  fs::path dir_;
};

TEST_F(TrafficBaselineTest, RoundTripsEveryValue) {
  TrafficBaseline b;
  b.epoch = 1800000000;
  b.sequence = 42;
  b.read_at = absl::FromUnixNanos(1800000000123456789);
  b.elements[{"seen_in4_deny", std::string("\x0a\x00\x00\x01\xff", 5)}] = {3, 180};
  b.overflow["seen_in4_deny_overflow"] = {uint64_t{1} << 40, 7};
  b.hits["in_p1_l4/0600000015380000"] = {9, 900};
  ASSERT_TRUE(SaveTrafficBaseline(path(), b).ok());
  absl::StatusOr<TrafficBaseline> got = LoadTrafficBaseline(path());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->epoch, b.epoch);
  EXPECT_EQ(got->sequence, b.sequence);
  EXPECT_EQ(got->read_at, b.read_at);
  ASSERT_EQ(got->elements.size(), 1u);
  EXPECT_EQ(got->elements.begin()->first, b.elements.begin()->first);
  EXPECT_EQ(got->elements.begin()->second.packets, 3u);
  EXPECT_EQ(got->overflow.at("seen_in4_deny_overflow").packets, uint64_t{1} << 40);
  EXPECT_EQ(got->hits.at("in_p1_l4/0600000015380000").bytes, 900u);
  // Replaced, not appended to; no temporary left beside it.
  b.sequence = 43;
  ASSERT_TRUE(SaveTrafficBaseline(path(), b).ok());
  EXPECT_EQ(LoadTrafficBaseline(path())->sequence, 43u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(TrafficBaselineTest, AnythingElseIsRefusedNotTrusted) {
  EXPECT_TRUE(absl::IsNotFound(LoadTrafficBaseline(path()).status()));
  for (const char* text : {
           "",
           "{\"format\":\"polder-traffic-baseline-v1\"",  // cut
           "[1,2]",
           "{\"format\":\"something-else\",\"epoch\":1,\"sequence\":1}",
           "{\"format\":\"polder-traffic-baseline-v1\",\"epoch\":-1,\"sequence\":1,"
           "\"read_at_unix_ns\":0,\"elements\":[],\"overflow\":{},\"hits\":{}}",
           "{\"format\":\"polder-traffic-baseline-v1\",\"epoch\":1,\"sequence\":1,"
           "\"read_at_unix_ns\":0,\"elements\":[[\"s\",\"zz\",1,1]],\"overflow\":{},\"hits\":{}}",
           "{\"format\":\"polder-traffic-baseline-v1\",\"epoch\":1,\"sequence\":1,"
           "\"read_at_unix_ns\":0,\"elements\":[],\"overflow\":{\"c\":[1]},\"hits\":{}}",
       }) {
    Write(text);
    absl::StatusOr<TrafficBaseline> got = LoadTrafficBaseline(path());
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_TRUE(absl::IsDataLoss(got.status())) << got.status();
    EXPECT_NE(got.status().message().find(path().string()), std::string::npos) << got.status();
  }
}

}  // namespace
}  // namespace polder::agent
