// The fleet's traffic high-water marks on a real etcd (started by the test on 127.0.0.1, data
// on tmpfs, killed at the end): a mark only rises, two controllers raising one host's mark at
// once leave the higher, and a store that is gone is an error within the call's bound, never
// a mark of zero (which would let a resend be counted twice).
#include "controller/traffic_marks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "controller/etcd_state_store.h"
#include "controller/log.h"
#include "tests/ha/etcd_process.h"

namespace polder::controller {
namespace {

using Mark = TrafficMarks::Mark;

class TrafficMarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    auto etcd = testing::EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    auto store = EtcdStateStore::Open({etcd_->client_url()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  std::unique_ptr<testing::EtcdProcess> etcd_;
  std::unique_ptr<EtcdStateStore> store_;
};

TEST_F(TrafficMarksTest, AMarkOnlyRises) {
  auto marks = EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443");
  EXPECT_EQ(*marks->Get("db-1"), (Mark{0, 0}));
  ASSERT_TRUE(marks->Advance("db-1", {1, 5}).ok());
  EXPECT_EQ(*marks->Get("db-1"), (Mark{1, 5}));
  ASSERT_TRUE(marks->Advance("db-1", {1, 3}).ok());  // a late, lower one
  EXPECT_EQ(*marks->Get("db-1"), (Mark{1, 5}));
  ASSERT_TRUE(marks->Advance("db-1", {2, 0}).ok());  // a new epoch beats any sequence
  EXPECT_EQ(*marks->Get("db-1"), (Mark{2, 0}));
  EXPECT_EQ(*marks->Get("web-1"), (Mark{0, 0}));
  // Another controller's view is the same.
  EXPECT_EQ(*EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443")->Get("db-1"), (Mark{2, 0}));
}

TEST_F(TrafficMarksTest, ControllersRaisingOneMarkAtOnceLeaveTheHighest) {
  std::vector<std::thread> controllers;
  std::vector<uint64_t> highest_taken(3, 0);
  for (int c = 0; c < 3; ++c) {
    controllers.emplace_back([this, c, &highest_taken] {
      auto marks = EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443");
      for (uint64_t seq = 1; seq <= 30; ++seq) {
        absl::Status s = marks->Advance("db-1", {1, seq * 3 + c});
        // Aborted: it kept changing under this one (only ever upwards).
        EXPECT_TRUE(s.ok() || absl::IsAborted(s)) << s;
        if (s.ok()) highest_taken[c] = seq * 3 + c;
      }
    });
  }
  for (std::thread& t : controllers) t.join();
  uint64_t highest = *std::max_element(highest_taken.begin(), highest_taken.end());
  EXPECT_GE(highest, 88u);  // each controller's last few raises cannot all have lost
  EXPECT_EQ(*EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443")->Get("db-1"), (Mark{1, highest}));
}

TEST_F(TrafficMarksTest, HoldersAreEveryControllerThatStoredTraffic) {
  auto c1 = EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443");
  auto c2 = EtcdTrafficMarks(store_->channel(), "c2", "127.0.0.1:7444");
  EXPECT_TRUE(c1->Holders()->empty());
  absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(c1->NoteStored(t).ok());
  ASSERT_TRUE(c2->NoteStored(t + absl::Seconds(5)).ok());
  ASSERT_TRUE(c1->NoteStored(t + absl::Seconds(30)).ok());  // within the minute: not written
  absl::StatusOr<std::vector<TrafficMarks::Holder>> holders = c2->Holders();
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 2u);
  EXPECT_EQ((*holders)[0].id, "c1");
  EXPECT_EQ((*holders)[0].address, "127.0.0.1:7443");
  EXPECT_EQ((*holders)[0].last_stored, t);
  EXPECT_EQ((*holders)[1].id, "c2");
  EXPECT_EQ((*holders)[1].last_stored, t + absl::Seconds(5));
  ASSERT_TRUE(c1->NoteStored(t + absl::Minutes(2)).ok());
  EXPECT_EQ((*c2->Holders())[0].last_stored, t + absl::Minutes(2));
}

TEST_F(TrafficMarksTest, AStoreThatIsGoneIsAnErrorNotAZeroMark) {
  auto marks = EtcdTrafficMarks(store_->channel(), "c1", "127.0.0.1:7443", absl::Milliseconds(500));
  ASSERT_TRUE(marks->Advance("db-1", {1, 5}).ok());
  etcd_->Kill();
  absl::Time start = absl::Now();
  absl::StatusOr<Mark> m = marks->Get("db-1");
  EXPECT_TRUE(absl::IsUnavailable(m.status())) << m.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_FALSE(marks->Advance("db-1", {1, 6}).ok());
  EXPECT_FALSE(marks->Holders().ok());
}

}  // namespace
}  // namespace polder::controller
