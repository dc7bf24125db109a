// Membership and fenced leadership on a real etcd (started by the test on 127.0.0.1, data on
// tmpfs, killed at the end): one leader at a time, members on leases, and a leader paused past
// its lease whose writes etcd refuses once another controller leads.
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "controller/etcd_leadership.h"
#include "controller/etcd_state_store.h"
#include "controller/log.h"
#include "tests/ha/etcd_process.h"

namespace polder::controller {
namespace {

using testing::EtcdProcess;

class LeadershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    auto etcd = EtcdProcess::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    auto store = EtcdStateStore::Open({etcd_->client_url()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  std::unique_ptr<EtcdLeadership> Member(const std::string& id) {
    auto l = EtcdLeadership::Start(store_->channel(), {id, id + ":7443", absl::Seconds(2)});
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? std::move(*l) : nullptr;
  }
  // Polls `done` every 20 ms for at most `within`.
  static bool Eventually(const std::function<bool()>& done, absl::Duration within) {
    absl::Time end = absl::Now() + within;
    while (!done()) {
      if (absl::Now() > end) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }
  static std::vector<std::string> Names(const std::vector<MemberInfo>& members) {
    std::vector<std::string> out;
    for (const auto& m : members) out.push_back(m.leader ? m.id + "*" : m.id);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<EtcdStateStore> store_;
};

TEST_F(LeadershipTest, OneLeaderEveryLiveMemberListedAndASuccessorWhenItLeaves) {
  auto a = Member("ctl-a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->leader()) << "the first member leads at once";
  auto b = Member("ctl-b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->leader());
  auto members = b->Members();
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(Names(*members), (std::vector<std::string>{"ctl-a*", "ctl-b"}));
  for (const auto& m : *members) EXPECT_EQ(m.address, m.id + ":7443");

  a.reset();  // a clean stop revokes its lease: b takes over within one renewal period
  absl::Time left = absl::Now();
  ASSERT_TRUE(Eventually([&] { return b->leader(); }, absl::Seconds(5)));
  EXPECT_LT(absl::Now() - left, absl::Seconds(2));
  members = b->Members();
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(Names(*members), (std::vector<std::string>{"ctl-b*"}));
}

TEST_F(LeadershipTest, ALeaderPausedPastItsLeaseHasItsStaleWritesRefused) {
  absl::Time old = absl::FromUnixSeconds(946684800);  // 2000-01-01
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store_->Audit({0, old + absl::Seconds(i), "rollout", "c", "", "", "", "r"}).ok());
  ASSERT_TRUE(store_->Audit({0, absl::Now(), "rollout", "c", "", "", "", "r"}).ok());

  auto a = Member("ctl-a");
  auto b = Member("ctl-b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->leader());
  // a stops (as SIGSTOP would stop it) while it still believes it leads.
  a->PauseRenewalsForTest();
  std::optional<Fence> stale = a->fence();
  ASSERT_TRUE(stale.has_value());
  absl::Time paused = absl::Now();
  ASSERT_TRUE(Eventually([&] { return b->leader(); }, absl::Seconds(10)))
      << "b never took over from a paused leader";
  absl::Duration takeover = absl::Now() - paused;
  EXPECT_LT(takeover, absl::Seconds(5)) << "lease 2 s";
  ASSERT_TRUE(a->fence().has_value()) << "the paused leader still believes it leads";

  // a resumes and does its leader job with the fence it had: etcd refuses the write.
  auto refused = store_->TrimAudit(old + absl::Hours(1), *stale);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  auto log = store_->AuditLog(100);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->size(), 4u) << "nothing was trimmed by the stale leader";

  // The real leader's trim goes through, and takes only the entries before the cut.
  auto fence = b->fence();
  ASSERT_TRUE(fence.has_value());
  EXPECT_GT(fence->create_revision, stale->create_revision);
  auto trimmed = store_->TrimAudit(old + absl::Hours(1), *fence);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 3);
  log = store_->AuditLog(100);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 1u);
}

}  // namespace
}  // namespace polder::controller
