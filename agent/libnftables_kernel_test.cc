// Real-kernel tests. Each runs in a fresh network namespace of its own (never the host's).
#include "agent/libnftables_kernel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/nft_monitor.h"
#include "agent/ruleset_applier.h"
#include "agent/testing/kernel_fixture.h"
#include "agent/testing/kernel_test_util.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class LibNftablesKernelTest : public testing::KernelTest {
 protected:
  std::string v1_ = testing::SampleRuleset("db-1", {5432}, 0, "v1");
  std::string v2_ = testing::SampleRuleset("db-1", {5432, 6432}, 0, "v2");
};

TEST_F(LibNftablesKernelTest, AppliesAndReadsBack) {
  EXPECT_TRUE(absl::IsNotFound(kernel_->ListPolderTable().status()));
  RulesetApplier applier(kernel_.get(), {});
  auto r = applier.Apply(v1_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  auto listing = kernel_->ListPolderTable();
  ASSERT_TRUE(listing.ok());
  EXPECT_THAT(*listing, HasSubstr("10.1.0.0/24 . tcp . 5432"));
  EXPECT_THAT(*listing, HasSubstr("policy drop"));
  EXPECT_EQ(*listing, applier.desired_listing());
  EXPECT_THAT(*applier.Check(), IsEmpty());

  ASSERT_TRUE(applier.Apply(v2_).ok());
  EXPECT_THAT(*kernel_->ListPolderTable(), HasSubstr("10.1.0.0/24 . tcp . 6432"));
}

TEST_F(LibNftablesKernelTest, KernelInvalidRulesetLeavesPreviousInForce) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(v1_).ok());
  std::string before = *kernel_->ListPolderTable();
  std::string bad = v2_;
  bad.insert(bad.find("\tchain output"), "\tchain input2 { ip saddr @no_such_set accept }\n");
  auto r = applier.Apply(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*kernel_->ListPolderTable(), before);
  EXPECT_EQ(applier.current()->hash, wire::Sha256Hex(v1_));
}

TEST_F(LibNftablesKernelTest, CommitTimeRejectionIsAtomicWithoutDryRun) {
  RulesetApplier applier(kernel_.get(), {.dry_run = false});
  ASSERT_TRUE(applier.Apply(v1_).ok());
  std::string before = *kernel_->ListPolderTable();
  // A jump loop passes the parser; only the kernel's commit-time validation refuses it, after
  // the script's `delete table` has been queued in the same transaction.
  std::string looping = v2_;
  looping.insert(looping.find("\tchain output"),
                 "\tchain a { jump b }\n\tchain b { jump a }\n\tchain c { type filter hook "
                 "forward priority 0; jump a }\n");
  auto r = applier.Apply(looping);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*kernel_->ListPolderTable(), before);
}

TEST_F(LibNftablesKernelTest, RenderDoesNotTouchThisNamespace) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(v1_).ok());
  auto rendered = kernel_->Render(v2_);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_EQ(rendered->elements, 2u);
  EXPECT_EQ(kernel_->Snapshot()->elements, 1u);
  EXPECT_THAT(*kernel_->ListPolderTable(), Not(HasSubstr("6432")));
  // Rendering the applied ruleset gives exactly the kernel's snapshot.
  EXPECT_EQ(*kernel_->Render(v1_), *kernel_->Snapshot());
}

TEST_F(LibNftablesKernelTest, SnapshotSeesEveryKindOfChangeAndIgnoresHandles) {
  EXPECT_TRUE(absl::IsNotFound(kernel_->Snapshot().status()));
  ASSERT_TRUE(kernel_->Run(v1_, false).ok());
  TableSnapshot base = *kernel_->Snapshot();
  EXPECT_EQ(base.elements, 1u);
  // Re-applying creates new handles for everything but must compare equal.
  ASSERT_TRUE(kernel_->Run(v1_, false).ok());
  EXPECT_EQ(*kernel_->Snapshot(), base);
  for (const char* change : {
           "add rule inet polder input tcp dport 22 accept",
           "insert rule inet polder input tcp dport 22 accept",
           "add element inet polder in_allow_v4 { 10.9.0.0/16 . udp . 53 }",
           "delete element inet polder in_allow_v4 { 10.1.0.0/24 . tcp . 5432 }",
           "add chain inet polder input { policy accept; }",
           "add chain inet polder extra",
           "add set inet polder extra { type ipv4_addr; }",
           "add counter inet polder extra",
       }) {
    ASSERT_TRUE(testing::RunNft(change)) << change;
    auto snap = kernel_->Snapshot();
    ASSERT_TRUE(snap.ok());
    EXPECT_NE(*snap, base) << change;
    ASSERT_TRUE(kernel_->Run(v1_, false).ok());
    EXPECT_EQ(*kernel_->Snapshot(), base) << change;
  }
}

TEST_F(LibNftablesKernelTest, SnapshotIgnoresCounterValues) {
  std::string counted = v1_;
  counted.insert(counted.find("\t\tiif \"lo\" accept"), "\t\tcounter\n");
  ASSERT_TRUE(kernel_->Run(counted, false).ok());
  TableSnapshot before = *kernel_->Snapshot();
  // Loopback traffic passes the counter rule first.
  ASSERT_EQ(system("ip link set lo up && ping -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1"), 0);
  ASSERT_EQ(system("nft list table inet polder | grep -q 'counter packets [1-9]'"), 0);
  EXPECT_EQ(*kernel_->Snapshot(), before);
}

TEST_F(LibNftablesKernelTest, RestartedApplierAdoptsWithoutAnyTransaction) {
  {
    RulesetApplier first(kernel_.get(), {});
    ASSERT_TRUE(first.Apply(v1_).ok());
  }
  auto monitor = NftMonitor::Open();
  ASSERT_TRUE(monitor.ok());
  auto fresh = LibNftablesKernel::Create();
  ASSERT_TRUE(fresh.ok());
  RulesetApplier second(fresh->get(), {});
  auto r = second.Apply(v1_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kAdopted);
  int transactions = 0;
  ASSERT_TRUE((*monitor)->ReadAvailable([&](const NftTransaction&) { ++transactions; }).ok());
  EXPECT_EQ(transactions, 0);
  EXPECT_THAT(*second.Check(), IsEmpty());

  // A restart with a different ruleset replaces the table in one transaction.
  auto other = LibNftablesKernel::Create();
  RulesetApplier third(other->get(), {});
  r = third.Apply(v2_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  transactions = 0;
  ASSERT_TRUE((*monitor)->ReadAvailable([&](const NftTransaction&) { ++transactions; }).ok());
  EXPECT_EQ(transactions, 1);
}

TEST_F(LibNftablesKernelTest, ForeignTablesAreLeftAlone) {
  ASSERT_TRUE(
      testing::RunNft("table ip foreign { chain c { type filter hook input priority 0; "
                      "policy accept; }; }"));
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(v1_).ok());
  ASSERT_TRUE(applier.Apply(v2_).ok());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(testing::RunNft("list table ip foreign"));
}

}  // namespace
}  // namespace polder::agent
