#include "agent/ruleset_applier.h"
#include "wire/sha256.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/testing/fake_nft_kernel.h"
#include "agent/testing/kernel_test_util.h"

namespace polder::agent {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class RulesetApplierTest : public ::testing::Test {
 protected:
  FakeNftKernel kernel_;
  RulesetApplier applier_{&kernel_, {}};
  std::string v1_ = testing::SampleRuleset("db-1", {5432}, 0, "v1");
  std::string v2_ = testing::SampleRuleset("db-1", {5432, 6432}, 0, "v2");
};

TEST_F(RulesetApplierTest, AppliesWithDryRunFirstAndKeepsTheReadBackAsDesired) {
  auto r = applier_.Apply(v1_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  EXPECT_EQ(kernel_.dry_runs, 1);
  EXPECT_EQ(kernel_.applies, 1);
  EXPECT_EQ(applier_.desired_listing(), *kernel_.table);
  EXPECT_EQ(applier_.current()->hash, wire::Sha256Hex(v1_));
}

TEST_F(RulesetApplierTest, RefusesOutOfScopeScriptWithoutTouchingTheKernel) {
  ASSERT_TRUE(applier_.Apply(v1_).ok());
  std::string hostile = v1_ + "flush ruleset\n";
  auto r = applier_.Apply(hostile);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(kernel_.dry_runs, 1);
  EXPECT_EQ(kernel_.applies, 1);
  EXPECT_EQ(applier_.current()->hash, wire::Sha256Hex(v1_));
}

TEST_F(RulesetApplierTest, KernelRejectionKeepsLastGood) {
  ASSERT_TRUE(applier_.Apply(v1_).ok());
  std::string before = *kernel_.table;
  std::string bad = v2_;
  bad.insert(bad.find("\tchain input"), "\tINVALID\n");
  auto r = applier_.Apply(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("refused"));
  EXPECT_EQ(*kernel_.table, before);
  EXPECT_EQ(applier_.current()->hash, wire::Sha256Hex(v1_));
  EXPECT_EQ(applier_.desired_listing(), before);
  auto check = applier_.Check();
  ASSERT_TRUE(check.ok());
  EXPECT_THAT(*check, IsEmpty());
}

TEST_F(RulesetApplierTest, SameRulesetInSyncIsUnchanged) {
  ASSERT_TRUE(applier_.Apply(v1_).ok());
  auto r = applier_.Apply(v1_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kUnchanged);
  EXPECT_EQ(kernel_.applies, 1);
}

TEST_F(RulesetApplierTest, RestartAdoptsMatchingKernelTableWithoutWriting) {
  kernel_.table = FakeNftKernel::ListingOf(v1_);
  auto r = applier_.Apply(v1_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kAdopted);
  EXPECT_EQ(kernel_.applies, 0);
  EXPECT_EQ(kernel_.dry_runs, 0);
}

TEST_F(RulesetApplierTest, RestartReplacesDifferentKernelTable) {
  kernel_.table = FakeNftKernel::ListingOf(v1_);
  auto r = applier_.Apply(v2_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  EXPECT_EQ(*kernel_.table, FakeNftKernel::ListingOf(v2_));
}

TEST_F(RulesetApplierTest, CheckReportsTamperingAndRestoreRepairsIt) {
  ASSERT_TRUE(applier_.Apply(v1_).ok());
  std::string good = *kernel_.table;
  kernel_.table->insert(kernel_.table->find("\t\tiif"), "\t\ttcp dport 22 accept\n");
  auto diff = applier_.Check();
  ASSERT_TRUE(diff.ok());
  EXPECT_THAT(*diff, Contains(HasSubstr("+ table inet polder: tcp dport 22 accept")));
  ASSERT_TRUE(applier_.Restore().ok());
  EXPECT_EQ(*kernel_.table, good);
  EXPECT_THAT(*applier_.Check(), IsEmpty());
}

TEST_F(RulesetApplierTest, CheckReportsDeletedTableAndReorderedRules) {
  ASSERT_TRUE(applier_.Apply(v1_).ok());
  std::string good = *kernel_.table;
  kernel_.table.reset();
  EXPECT_THAT(*applier_.Check(), Contains(HasSubstr("table deleted")));
  // Swap two rules: same lines, different verdict order.
  std::string swapped = good;
  size_t a = swapped.find("\t\tct state");
  size_t b = swapped.find("\t\tiif");
  size_t b_end = swapped.find('\n', b) + 1;
  std::string rule_b = swapped.substr(b, b_end - b);
  swapped.erase(b, b_end - b);
  swapped.insert(a, rule_b);
  kernel_.table = swapped;
  EXPECT_THAT(*applier_.Check(), Contains(HasSubstr("different order")));
}

TEST_F(RulesetApplierTest, CheckWithoutRulesetIsEmptyAndRestoreFails) {
  EXPECT_THAT(*applier_.Check(), IsEmpty());
  EXPECT_FALSE(applier_.Restore().ok());
}

}  // namespace
}  // namespace polder::agent
