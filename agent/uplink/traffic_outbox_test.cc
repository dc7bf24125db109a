#include "agent/uplink/traffic_outbox.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/traffic_spool.h"
#include "gtest/gtest.h"
#include "wire/limits.h"

namespace polder::agent {
namespace {

class TrafficOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("outbox_test." + std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  wire::TrafficReport Report(uint64_t seq, size_t samples = 1) {
    wire::TrafficReport r;
    r.host = "db-1";
    r.epoch = 7;
    r.sequence = seq;
    r.start = absl::FromUnixSeconds(1000 + seq * 60);
    r.end = r.start + absl::Seconds(60);
    for (size_t i = 0; i < samples; ++i)
      r.samples.push_back({"in", "10.0.0.1", "10.0.0.2", "tcp",
                           static_cast<uint32_t>(1 + i % 60000), "allowed", 1, 60});
    return r;
  }
  // Appends to the spool and to `outbox`.
  void Append(TrafficOutbox& outbox, const wire::TrafficReport& r) {
    uint64_t offset = 0;
    ASSERT_TRUE(TrafficSpool(spool()).Append(r, &offset).ok());
    outbox.Add(r, offset);
  }
  static std::vector<uint64_t> Sequences(const std::vector<v1::AgentMessage>& ms) {
    std::vector<uint64_t> out;
    for (const auto& m : ms) out.push_back(m.traffic_batch().sequence());
    return out;
  }
  std::filesystem::path spool() const { return dir_ / "traffic.jsonl"; }
  std::filesystem::path acked() const { return dir_ / "traffic.jsonl.acked"; }
  std::filesystem::path dir_;
};

TEST_F(TrafficOutboxTest, SendsAtMostTheInFlightLimitUntilAcknowledged) {
  TrafficOutbox outbox(spool(), acked());
  ASSERT_TRUE(outbox.Load().ok());
  for (uint64_t s = 1; s <= 10; ++s) Append(outbox, Report(s));
  std::vector<v1::AgentMessage> first = outbox.Take();
  ASSERT_EQ(first.size(), static_cast<size_t>(wire::kMaxTrafficBatchesInFlight));
  EXPECT_EQ(Sequences(first).front(), 1u);
  EXPECT_EQ(first[0].traffic_batch().samples(0).protocol(), v1::TRAFFIC_PROTOCOL_TCP);
  EXPECT_TRUE(outbox.Take().empty());  // nothing more until an ack
  outbox.Acked(7, 1);
  outbox.Acked(7, 2);
  EXPECT_EQ(Sequences(outbox.Take()), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(outbox.pending(), 8u);
}

TEST_F(TrafficOutboxTest, AStreamsEndPutsInFlightBatchesBack) {
  TrafficOutbox outbox(spool(), acked());
  ASSERT_TRUE(outbox.Load().ok());
  for (uint64_t s = 1; s <= 3; ++s) Append(outbox, Report(s));
  EXPECT_EQ(outbox.Take().size(), 3u);
  outbox.Acked(7, 2);  // out of order: 1 and 3 are still owed
  outbox.StreamEnded();
  EXPECT_EQ(Sequences(outbox.Take()), (std::vector<uint64_t>{1, 3}));
}

TEST_F(TrafficOutboxTest, ARestartReplaysOnlyWhatWasNotAcknowledged) {
  {
    TrafficOutbox outbox(spool(), acked());
    ASSERT_TRUE(outbox.Load().ok());
    for (uint64_t s = 1; s <= 5; ++s) Append(outbox, Report(s));
    outbox.Take();
    outbox.Acked(7, 1);
    outbox.Acked(7, 2);
    outbox.Acked(7, 4);  // not contiguous: 3 is owed, so 4 is resent too (harmless)
  }
  TrafficOutbox again(spool(), acked());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(Sequences(again.Take()), (std::vector<uint64_t>{3, 4, 5}));
}

TEST_F(TrafficOutboxTest, ACutLastLineIsNotSent) {
  TrafficOutbox outbox(spool(), acked());
  ASSERT_TRUE(outbox.Load().ok());
  Append(outbox, Report(1));
  { std::ofstream(spool(), std::ios::app) << "{\"host\":\"db-1\",\"ep"; }
  TrafficOutbox again(spool(), acked());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(Sequences(again.Take()), (std::vector<uint64_t>{1}));
}

TEST_F(TrafficOutboxTest, AnOversizedBatchIsClippedAndTheRestCountedLost) {
  TrafficOutbox outbox(spool(), acked());
  ASSERT_TRUE(outbox.Load().ok());
  size_t n = wire::kMaxTrafficSamplesPerBatch + 5;
  Append(outbox, Report(1, n));
  std::vector<v1::AgentMessage> out = outbox.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].traffic_batch().samples_size(), wire::kMaxTrafficSamplesPerBatch);
  EXPECT_EQ(out[0].traffic_batch().lost(), 5u);
  EXPECT_LE(out[0].ByteSizeLong(), wire::kMaxMessageToControllerBytes);
}

// Hits go to the controller too; beyond a batch's bound their packets are sent as lost hits.
TEST_F(TrafficOutboxTest, HitsAreSentAndWhatABatchCannotCarryIsCounted) {
  TrafficOutbox outbox(spool(), acked());
  ASSERT_TRUE(outbox.Load().ok());
  wire::TrafficReport r = Report(1);
  for (int i = 0; i < wire::kMaxTrafficHitsPerBatch + 3; ++i)
    r.hits.push_back({absl::StrCat("counter/c", i), 2, 120});
  Append(outbox, r);
  std::vector<v1::AgentMessage> out = outbox.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].traffic_batch().hits_size(), wire::kMaxTrafficHitsPerBatch);
  EXPECT_EQ(out[0].traffic_batch().hits(0).counter(), "counter/c0");
  EXPECT_EQ(out[0].traffic_batch().clipped_hit_packets(), 6u);  // 3 counters x 2 packets
  EXPECT_LE(out[0].ByteSizeLong(), wire::kMaxMessageToControllerBytes);
}

TEST_F(TrafficOutboxTest, BeyondTheBoundTheOldestIsGivenUpAndCounted) {
  std::vector<std::string> warnings;
  TrafficOutbox outbox(
      spool(), acked(), [&](const std::string& m) { warnings.push_back(m); }, 3);
  ASSERT_TRUE(outbox.Load().ok());
  for (uint64_t s = 1; s <= 5; ++s) Append(outbox, Report(s));
  EXPECT_EQ(outbox.given_up(), 2u);
  EXPECT_EQ(warnings.size(), 2u);
  EXPECT_EQ(Sequences(outbox.Take()), (std::vector<uint64_t>{3, 4, 5}));
}

}  // namespace
}  // namespace polder::agent
