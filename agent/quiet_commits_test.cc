// QuietCommits: the watcher is out of the notification group only for the agent's own commits,
// and a foreign commit it could not hear is never missed silently.
#include "agent/quiet_commits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "absl/synchronization/mutex.h"
#include "agent/enforcer.h"
#include "agent/libnftables_kernel.h"
#include "agent/nft_generation.h"
#include "agent/ruleset_applier.h"
#include "agent/testing/kernel_fixture.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

// Notifications that only record whether they are listened to.
class GroupDouble : public NftNotifications {
 public:
  int fd() const override { return -1; }
  absl::Status ReadAvailable(const std::function<void(const NftTransaction&)>&) override {
    return absl::OkStatus();
  }
  absl::Status LeaveGroup() override {
    ++leaves;
    listening = false;
    return absl::OkStatus();
  }
  absl::Status JoinGroup() override {
    if (fail_join) return absl::InternalError("join refused");
    ++joins;
    listening = true;
    return absl::OkStatus();
  }
  bool listening = true;
  bool fail_join = false;
  int leaves = 0;
  int joins = 0;
};

TEST(QuietCommitsTest, OwnCommitAloneIsNotMissed) {
  GroupDouble group;
  uint32_t generation = 7;
  QuietCommits quiet(&group, [&]() -> absl::StatusOr<uint32_t> { return generation; });
  quiet.BeforeCommit();
  EXPECT_FALSE(group.listening);
  ++generation;  // the agent's commit
  quiet.AfterCommit(true);
  EXPECT_TRUE(group.listening);
  EXPECT_FALSE(quiet.TakeMissed());
  EXPECT_EQ(quiet.quiet_commits(), 1u);
}

TEST(QuietCommitsTest, ForeignCommitInTheWindowIsMissedAndSaid) {
  GroupDouble group;
  uint32_t generation = 0xffffffffu;  // wraps: the difference still counts
  QuietCommits quiet(&group, [&]() -> absl::StatusOr<uint32_t> { return generation; });
  quiet.BeforeCommit();
  generation += 2;  // someone else's commit, then ours
  quiet.AfterCommit(true);
  EXPECT_TRUE(quiet.TakeMissed());
  EXPECT_FALSE(quiet.TakeMissed());  // said once
  EXPECT_EQ(quiet.missed(), 1u);
}

TEST(QuietCommitsTest, RefusedBatchThatMovedTheGenerationIsMissed) {
  GroupDouble group;
  uint32_t generation = 3;
  QuietCommits quiet(&group, [&]() -> absl::StatusOr<uint32_t> { return generation; });
  quiet.BeforeCommit();
  quiet.AfterCommit(false);  // refused, nothing moved
  EXPECT_FALSE(quiet.TakeMissed());
  quiet.BeforeCommit();
  ++generation;  // not ours: ours was refused
  quiet.AfterCommit(false);
  EXPECT_TRUE(quiet.TakeMissed());
}

TEST(QuietCommitsTest, WithoutAGenerationItStaysListening) {
  GroupDouble group;
  QuietCommits quiet(
      &group, []() -> absl::StatusOr<uint32_t> { return absl::InternalError("no netlink"); });
  quiet.BeforeCommit();
  EXPECT_TRUE(group.listening);
  EXPECT_EQ(group.leaves, 0);
  quiet.AfterCommit(true);
  EXPECT_FALSE(quiet.TakeMissed());  // it heard everything
  EXPECT_EQ(quiet.quiet_commits(), 0u);
}

TEST(QuietCommitsTest, AFailedRejoinIsDeafAndMissedUntilRejoined) {
  GroupDouble group;
  uint32_t generation = 1;
  QuietCommits quiet(&group, [&]() -> absl::StatusOr<uint32_t> { return generation; });
  quiet.BeforeCommit();
  ++generation;
  group.fail_join = true;
  quiet.AfterCommit(true);
  EXPECT_TRUE(quiet.TakeMissed());
  EXPECT_EQ(quiet.deaf_reason(), "join refused");
  quiet.BeforeCommit();  // deaf: nothing to leave
  EXPECT_EQ(group.leaves, 1);
  quiet.AfterCommit(true);
  EXPECT_FALSE(quiet.Rejoin().ok());
  group.fail_join = false;
  EXPECT_TRUE(quiet.Rejoin().ok());
  EXPECT_TRUE(quiet.deaf_reason().empty());
  EXPECT_TRUE(quiet.TakeMissed());  // what happened while deaf is unknown
  EXPECT_TRUE(group.listening);
}

Ruleset Structured(wire::NftRuleset rs, const std::string& revision_seed) {
  Ruleset r;
  r.host = "db-1";
  r.revision = wire::Sha256Hex(revision_seed);
  r.hash = wire::Sha256Hex(testing::PrintNft(rs));
  r.structured = std::make_shared<const wire::NftRuleset>(std::move(rs));
  return r;
}

class QuietCommitsKernelTest : public testing::KernelTest {};

// The real kernel: the watcher hears nothing of the agent's own libnftnl commits, hears a
// foreign one after them, and the generation moved by exactly the agent's commits.
TEST_F(QuietCommitsKernelTest, OwnCommitsAreNotHeardForeignOnesAre) {
  auto monitor = NftMonitor::Open();
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  auto reader = NftGenerationReader::Open();
  ASSERT_TRUE(reader.ok()) << reader.status();
  QuietCommits quiet(monitor->get(), [&] { return (*reader)->Read(); });
  kernel_->SetCommitGuard(&quiet);
  RulesetApplier applier(kernel_.get(), {});
  absl::StatusOr<uint32_t> before = (*reader)->Read();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(50, 3, 4, 1000), "v1")).ok());
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(60, 3, 5, 1000), "v2")).ok());
  EXPECT_EQ(*(*reader)->Read() - *before, 2u);
  EXPECT_EQ(quiet.quiet_commits(), 2u);
  EXPECT_FALSE(quiet.TakeMissed());

  std::vector<NftTransaction> heard;
  auto collect = [&](const NftTransaction& t) { heard.push_back(t); };
  ASSERT_TRUE((*monitor)->ReadAvailable(collect).ok());
  EXPECT_TRUE(heard.empty()) << heard.size() << " transactions heard, first pid " << heard[0].pid;

  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 40000 accept"));
  for (int i = 0; i < 100 && heard.empty(); ++i) {
    ASSERT_TRUE((*monitor)->ReadAvailable(collect).ok());
    if (heard.empty()) usleep(10'000);
  }
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_TRUE(heard[0].touches_polder);
}

// A kernel that lets another thread commit inside the agent's quiet window, once.
class CommitsInTheWindow : public NftKernel, private CommitGuard {
 public:
  explicit CommitsInTheWindow(std::unique_ptr<NftKernel> inner) : inner_(std::move(inner)) {
    inner_->SetCommitGuard(this);
  }
  // `script` runs in another thread once, right after the agent's guard left the group before
  // a commit (`after` false) or right after the guard's work after the commit (`after` true).
  void Arm(std::string script, bool after = false) {
    script_ = std::move(script);
    after_ = after;
  }

  absl::Status Run(absl::string_view script, bool dry_run) override {
    return inner_->Run(script, dry_run);
  }
  absl::StatusOr<std::string> ListPolderTable() override { return inner_->ListPolderTable(); }
  absl::StatusOr<TableSnapshot> Snapshot() override { return inner_->Snapshot(); }
  absl::StatusOr<TableSnapshot> Snapshot(const SnapshotScope& scope) override {
    return inner_->Snapshot(scope);
  }
  absl::StatusOr<TableSnapshot> Render(absl::string_view script) override {
    return inner_->Render(script);
  }
  bool TakesStructured() const override { return true; }
  absl::StatusOr<NftnlWriter::Result> Sync(const wire::NftRuleset* applied,
                                           const TableSnapshot* applied_snapshot,
                                           const wire::NftRuleset& desired,
                                           const TableSnapshot* kernel,
                                           const TableSnapshot* desired_elements) override {
    return inner_->Sync(applied, applied_snapshot, desired, kernel, desired_elements);
  }
  void SetCommitGuard(CommitGuard* guard) override { outer_ = guard; }
  absl::StatusOr<TableSnapshot> RenderStructured(const wire::NftRuleset& ruleset) override {
    return inner_->RenderStructured(ruleset);
  }

 private:
  void BeforeCommit() override {
    if (outer_ != nullptr) outer_->BeforeCommit();
    if (!after_) RunArmed();
  }
  void AfterCommit(bool committed) override {
    if (outer_ != nullptr) outer_->AfterCommit(committed);
    if (after_) RunArmed();
  }
  void RunArmed() {
    if (script_.empty()) return;
    // Another thread (another task id than the enforcer's), in this namespace.
    std::thread foreign([script = script_] { testing::RunNft(script); });
    foreign.join();
    script_.clear();
  }

  std::unique_ptr<NftKernel> inner_;
  CommitGuard* outer_ = nullptr;
  std::string script_;
  bool after_ = false;
};

// A tamper is heard and restored; a foreign element committed while the agent was out of the
// group for that restore is found by the full comparison the generation asks for.
TEST_F(QuietCommitsKernelTest, EnforcerComparesTheTableWhenAForeignCommitWasUnheard) {
  auto wrapped = std::make_unique<CommitsInTheWindow>(std::move(kernel_));
  CommitsInTheWindow* kernel = wrapped.get();
  absl::Mutex mu;
  std::vector<AgentEvent> events;
  Enforcer::Options options;
  options.full_check_interval = absl::Seconds(600);  // only the resync can find it
  Enforcer enforcer(std::move(wrapped), options, [&](const AgentEvent& e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  });
  ASSERT_TRUE(enforcer.Start().ok());
  ASSERT_TRUE(enforcer.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).get().ok());
  kernel->Arm("add element inet polder in4 { 10.99.0.1 : jump in_p1 }");
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 22 accept"));
  auto restored = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
    bool drift = false;
    for (const AgentEvent& e : events) {
      if (e.kind == AgentEvent::Kind::kDrift && e.source == "resync") drift = true;
      if (drift && e.kind == AgentEvent::Kind::kRestored) return true;
    }
    return false;
  };
  {
    absl::MutexLock lock(&mu);
    std::string all;
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&restored), absl::Seconds(10)));
    // A small table's report is a listing diff; a big one's names elements through
    // ElementText.
    bool named = false;
    for (const AgentEvent& e : events) {
      if (e.kind != AgentEvent::Kind::kDrift || e.source != "resync") continue;
      for (const std::string& d : e.differences) {
        named |= d.find("10.99.0.1") != std::string::npos;
        all += d + "\n";
      }
    }
    EXPECT_TRUE(named) << "the drift report names the unheard element:\n" << all;
  }
  std::string error;
  EXPECT_FALSE(testing::RunNft("delete element inet polder in4 { 10.99.0.1 }", &error))
      << "the foreign element is still there";
}

// A foreign element committed while the agent applies is gone when the apply returns.
TEST_F(QuietCommitsKernelTest, AForeignCommitDuringAnApplyIsUndoneBeforeItAnswers) {
  auto wrapped = std::make_unique<CommitsInTheWindow>(std::move(kernel_));
  CommitsInTheWindow* kernel = wrapped.get();
  Enforcer::Options options;
  options.full_check_interval = absl::Seconds(600);
  Enforcer enforcer(std::move(wrapped), options, [](const AgentEvent&) {});
  ASSERT_TRUE(enforcer.Start().ok());
  ASSERT_TRUE(enforcer.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).get().ok());
  kernel->Arm("add element inet polder in4 { 10.99.0.1 : jump in_p1 }");
  ASSERT_TRUE(enforcer.Apply(Structured(testing::LayoutRuleset(12, 3, 4), "v2")).get().ok());
  std::string error;
  EXPECT_FALSE(testing::RunNft("delete element inet polder in4 { 10.99.0.1 }", &error))
      << "the foreign element is still there";
}

// A foreign rule committed after the agent's commit but before its read-back would be read back
// as part of the desired table, and so never be reported: the generation shows it, and the
// agent reloads its table before it answers.
TEST_F(QuietCommitsKernelTest, AForeignCommitBeforeTheReadBackIsNotTakenAsDesired) {
  auto wrapped = std::make_unique<CommitsInTheWindow>(std::move(kernel_));
  CommitsInTheWindow* kernel = wrapped.get();
  Enforcer::Options options;
  options.full_check_interval = absl::Seconds(600);
  Enforcer enforcer(std::move(wrapped), options, [](const AgentEvent&) {});
  ASSERT_TRUE(enforcer.Start().ok());
  ASSERT_TRUE(enforcer.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).get().ok());
  kernel->Arm("add rule inet polder input tcp dport 40000 accept", /*after=*/true);
  ASSERT_TRUE(enforcer.Apply(Structured(testing::LayoutRuleset(12, 3, 4), "v2")).get().ok());
  auto lister = LibNftablesKernel::Create();
  ASSERT_TRUE(lister.ok());
  absl::StatusOr<std::string> listing = (*lister)->ListPolderTable();
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->find("dport 40000"), std::string::npos) << *listing;
  EXPECT_NE(listing->find("10.100.11.0/24"), std::string::npos) << "v2 is applied";
}

}  // namespace
}  // namespace polder::agent
