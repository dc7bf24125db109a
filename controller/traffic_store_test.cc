#include "controller/traffic_store.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "gtest/gtest.h"

namespace polder::controller {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1764670000);  // 2025-12-02T10:06:40Z

class TrafficStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("traffic_store_test." + std::to_string(getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    Remove();
  }
  void TearDown() override { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix);
  }
  std::unique_ptr<TrafficStore> Open(TrafficStoreOptions o = {}) {
    auto s = TrafficStore::Open(path_, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  static wire::TrafficReport Batch(uint64_t seq, absl::Time end, uint64_t connections,
                                   const std::string& host = "db-1", uint32_t port = 5432) {
    wire::TrafficReport r;
    r.host = host;
    r.epoch = 1;
    r.sequence = seq;
    r.start = end - absl::Seconds(60);
    r.end = end;
    r.samples.push_back({"in", "10.0.0.1", "10.0.0.2", "tcp", port, "allowed", connections, 100});
    return r;
  }
  static uint64_t Connections(const TrafficStore::Answer& a) {
    uint64_t n = 0;
    for (const auto& r : a.reports)
      for (const auto& s : r.samples) n += s.connections;
    return n;
  }
  std::filesystem::path path_;
};

// The kernel's hit counts (per counter id) are summed per hour like samples, a resend is not
// summed twice, and hits an agent left out of its batches are counted as missing.
TEST_F(TrafficStoreTest, HitsAreSummedPerCounterAndWhatWasLeftOutIsCounted) {
  auto store = Open();
  wire::TrafficReport b1 = Batch(1, kNow, 3);
  b1.hits = {{"in_p1_l4/0600000015380000", 3, 180}, {"counter/allow_any_in", 1, 60}};
  wire::TrafficReport b2 = Batch(2, kNow + absl::Seconds(60), 4);
  b2.hits = {{"in_p1_l4/0600000015380000", 4, 240}};
  b2.clipped_hit_packets = 9;
  ASSERT_EQ(*store->Add(b1, kNow), TrafficStore::Added::kStored);
  ASSERT_EQ(*store->Add(b2, kNow), TrafficStore::Added::kStored);
  ASSERT_EQ(*store->Add(b2, kNow), TrafficStore::Added::kDuplicate);
  auto a = store->Query(absl::InfinitePast(), "", kNow, 1000);
  ASSERT_TRUE(a.ok()) << a.status();
  std::map<std::string, uint64_t> packets;
  for (const wire::TrafficReport& r : a->reports)
    for (const wire::TrafficHit& h : r.hits) packets[h.counter] += h.packets;
  EXPECT_EQ(packets["in_p1_l4/0600000015380000"], 7u);
  EXPECT_EQ(packets["counter/allow_any_in"], 1u);
  EXPECT_EQ(a->dropped_hit_packets, 9u);
  // Another host's hits are not this one's.
  auto one = store->Query(absl::InfinitePast(), "web-1", kNow, 1000);
  ASSERT_TRUE(one.ok());
  for (const wire::TrafficReport& r : one->reports) EXPECT_TRUE(r.hits.empty());
}

TEST_F(TrafficStoreTest, SumsPerHourAndIgnoresResendsAtOrBelowTheHighWaterMark) {
  auto store = Open();
  ASSERT_EQ(*store->Add(Batch(1, kNow, 3), kNow), TrafficStore::Added::kStored);
  ASSERT_EQ(*store->Add(Batch(2, kNow + absl::Seconds(60), 4), kNow), TrafficStore::Added::kStored);
  EXPECT_EQ(*store->Add(Batch(2, kNow + absl::Seconds(60), 4), kNow),
            TrafficStore::Added::kDuplicate);
  EXPECT_EQ(*store->Add(Batch(1, kNow, 3), kNow), TrafficStore::Added::kDuplicate);
  auto a = store->Query(absl::InfinitePast(), "", kNow, 1000);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->reports.size(), 1u);  // one hour
  ASSERT_EQ(a->reports[0].samples.size(), 1u);
  EXPECT_EQ(a->reports[0].samples[0].connections, 7u);
  EXPECT_EQ(a->reports[0].samples[0].bytes, 200u);
  ASSERT_EQ(a->coverage.size(), 1u);
  EXPECT_EQ(a->coverage[0].batches, 2u);
  EXPECT_EQ(a->coverage[0].duplicates, 2u);
  EXPECT_EQ(a->coverage[0].hours, 1u);
}

TEST_F(TrafficStoreTest, TheHighWaterMarkSurvivesAReopen) {
  { ASSERT_TRUE(Open()->Add(Batch(5, kNow, 1), kNow).ok()); }
  auto store = Open();
  EXPECT_EQ(*store->Add(Batch(5, kNow, 1), kNow), TrafficStore::Added::kDuplicate);
  EXPECT_EQ(*store->Add(Batch(6, kNow, 1), kNow), TrafficStore::Added::kStored);
  EXPECT_EQ(Connections(*store->Query(absl::InfinitePast(), "", kNow, 1000)), 2u);
}

TEST_F(TrafficStoreTest, AnHourWithoutTrafficIsStillEvidence) {
  auto store = Open();
  wire::TrafficReport quiet = Batch(1, kNow, 0);
  quiet.samples.clear();
  quiet.lost = 9;
  ASSERT_TRUE(store->Add(quiet, kNow).ok());
  auto a = store->Query(absl::InfinitePast(), "", kNow, 1000);
  ASSERT_EQ(a->reports.size(), 1u);
  EXPECT_TRUE(a->reports[0].samples.empty());
  EXPECT_EQ(a->reports[0].lost, 9u);
  EXPECT_EQ(a->coverage[0].lost, 9u);
}

TEST_F(TrafficStoreTest, BeyondRawRetentionDailyRollUpsAnswerAndThenExpire) {
  auto store = Open();
  absl::Time old = kNow - absl::Hours(20 * 24);
  ASSERT_TRUE(store->Add(Batch(1, old, 5), old).ok());
  ASSERT_TRUE(store->Add(Batch(2, old + absl::Hours(2), 6), old).ok());
  ASSERT_TRUE(store->Add(Batch(3, kNow, 1), kNow).ok());
  ASSERT_TRUE(store->Maintain(kNow).ok());
  auto a = store->Query(absl::InfinitePast(), "", kNow, 1000);
  // The old day as one roll-up (its hours are past raw retention), today's hour.
  ASSERT_EQ(a->reports.size(), 2u);
  EXPECT_EQ(a->reports[0].samples[0].connections, 11u);
  EXPECT_EQ(a->reports[1].samples[0].connections, 1u);
  // Since a week ago: only today.
  EXPECT_EQ(Connections(*store->Query(kNow - absl::Hours(7 * 24), "", kNow, 1000)), 1u);
  absl::Time much_later = kNow + absl::Hours(400 * 24);
  ASSERT_TRUE(store->Maintain(much_later).ok());
  EXPECT_TRUE(store->Query(absl::InfinitePast(), "", much_later, 1000)->reports.empty());
}

TEST_F(TrafficStoreTest, OverTheBudgetTheOldestRowsGoAndAreCounted) {
  TrafficStoreOptions o;
  o.max_bytes = 256 * 1024;
  o.maintain_every = absl::InfiniteDuration();  // only when asked
  auto store = Open(o);
  uint64_t stored = 0;
  for (uint64_t i = 0; i < 3000; ++i) {
    absl::Time at = kNow - absl::Hours(24) + absl::Seconds(static_cast<int64_t>(i) * 20);
    ASSERT_TRUE(store->Add(Batch(i + 1, at, 1, "db-1", static_cast<uint32_t>(1 + i)), at).ok());
    ++stored;
  }
  ASSERT_GT(*store->UsedBytes(), o.max_bytes);
  ASSERT_TRUE(store->Maintain(kNow).ok());
  EXPECT_LE(*store->UsedBytes(), o.max_bytes);
  auto a = store->Query(absl::InfinitePast(), "", kNow, 1000000);
  ASSERT_TRUE(a.ok());
  EXPECT_GT(a->dropped_rows, 0u);
  // Nothing vanishes unaccounted: the day is within raw retention, so answers are its hourly
  // rows, and what they show plus what was dropped is exactly what came in.
  EXPECT_GT(a->dropped_connections, 0u);
  EXPECT_EQ(Connections(*a) + a->dropped_connections, stored);
}

TEST_F(TrafficStoreTest, AnAnswerOverItsCapSaysHowManyReportsItLeftOut) {
  auto store = Open();
  for (uint64_t h = 0; h < 10; ++h) {  // one batch an hour, oldest first
    absl::Time at = kNow - absl::Hours(static_cast<int64_t>(9 - h));
    ASSERT_EQ(*store->Add(Batch(h + 1, at, 1), kNow), TrafficStore::Added::kStored);
  }
  auto all = store->Query(absl::InfinitePast(), "", kNow, 1000);
  size_t n = all->reports.size();
  ASSERT_EQ(n, 10u);
  auto capped = store->Query(absl::InfinitePast(), "", kNow, 1);
  EXPECT_EQ(capped->reports.size(), 1u);
  EXPECT_EQ(capped->truncated_reports, n - 1);
  EXPECT_EQ(capped->reports[0].end, all->reports.back().end);  // the newest kept
}

TEST_F(TrafficStoreTest, OneHostsReportsOnly) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Batch(1, kNow, 1, "db-1"), kNow).ok());
  ASSERT_TRUE(store->Add(Batch(1, kNow, 2, "web-1"), kNow).ok());
  auto a = store->Query(absl::InfinitePast(), "web-1", kNow, 1000);
  EXPECT_EQ(Connections(*a), 2u);
  ASSERT_EQ(a->coverage.size(), 1u);
  EXPECT_EQ(a->coverage[0].host, "web-1");
}

}  // namespace
}  // namespace polder::controller
