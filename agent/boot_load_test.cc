#include "agent/boot_load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "agent/ruleset_applier.h"
#include "agent/ruleset_store.h"
#include "agent/testing/fake_nft_kernel.h"
#include "agent/testing/kernel_test_util.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

class BootLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/polder-boot-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    options_.state_dir = root_ / "state";
    options_.bootstrap = root_ / "bootstrap.nft";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Store(const std::string& text) {
    ASSERT_TRUE(RulesetStore(options_.state_dir).Save({"rev", text}).ok());
  }
  void WriteBootstrap(const std::string& text) { std::ofstream(options_.bootstrap) << text; }
  BootLoadOutcome Run() {
    lines_.clear();
    return BootLoad(options_, &kernel_, [&](const std::string& l) { lines_.push_back(l); });
  }

  fs::path root_;
  BootLoadOptions options_;
  FakeNftKernel kernel_;
  std::vector<std::string> lines_;
  std::string stored_ = testing::SampleRuleset("db-1", {5432}, 0, "stored");
  std::string bootstrap_ = testing::SampleRuleset("db-1", {22}, 0, "bootstrap");
};

TEST_F(BootLoadTest, LoadsTheStoredRulesetInOneTransactionAfterADryRun) {
  Store(stored_);
  WriteBootstrap(bootstrap_);
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedStored);
  EXPECT_EQ(kernel_.table, FakeNftKernel::ListingOf(stored_));
  EXPECT_EQ(kernel_.applies, 1);
  EXPECT_EQ(kernel_.dry_runs, 1);
  EXPECT_THAT(lines_, Contains(AllOf(HasSubstr("loaded the stored ruleset"), HasSubstr("host db-1"),
                                     HasSubstr("one transaction"))));
  EXPECT_EQ(BootExitCode(BootLoadOutcome::kLoadedStored), 0);
}

TEST_F(BootLoadTest, WithNothingStoredLoadsTheBootstrapFile) {
  WriteBootstrap(bootstrap_);
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedBootstrap);
  EXPECT_EQ(kernel_.table, FakeNftKernel::ListingOf(bootstrap_));
  EXPECT_THAT(lines_, Contains(HasSubstr("no stored ruleset")));
  EXPECT_THAT(lines_, Contains(HasSubstr("loaded the bootstrap ruleset")));
}

TEST_F(BootLoadTest, WithNeitherTouchesNothingAndSucceeds) {
  kernel_.table = "table inet polder { something an operator put there }";
  EXPECT_EQ(Run(), BootLoadOutcome::kNothingToLoad);
  EXPECT_EQ(kernel_.table, "table inet polder { something an operator put there }");
  EXPECT_EQ(kernel_.applies, 0);
  EXPECT_EQ(kernel_.dry_runs, 0);
  EXPECT_THAT(lines_, Contains(HasSubstr("no bootstrap ruleset at")));
  EXPECT_THAT(lines_, Contains(HasSubstr("nothing to load")));
  EXPECT_EQ(BootExitCode(BootLoadOutcome::kNothingToLoad), 0);

  options_.bootstrap.clear();  // No --bootstrap at all: the same.
  EXPECT_EQ(Run(), BootLoadOutcome::kNothingToLoad);
  EXPECT_EQ(kernel_.applies, 0);
}

TEST_F(BootLoadTest, CorruptStoreFallsBackToTheBootstrapAndSaysSo) {
  fs::create_directories(options_.state_dir);
  std::ofstream(RulesetStore(options_.state_dir).path()) << "polder-agent-ruleset-v1 rev 99\nshort";
  WriteBootstrap(bootstrap_);
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedBootstrap);
  EXPECT_EQ(kernel_.table, FakeNftKernel::ListingOf(bootstrap_));
  EXPECT_THAT(lines_, Contains(AllOf(HasSubstr("stored ruleset unusable"),
                                     HasSubstr("falling back to the bootstrap"))));
}

TEST_F(BootLoadTest, CorruptStoreWithoutBootstrapFailsAndKeepsTheKernelAsItWas) {
  fs::create_directories(options_.state_dir);
  std::ofstream(RulesetStore(options_.state_dir).path()) << "garbage";
  kernel_.table = "table inet polder { before }";
  EXPECT_EQ(Run(), BootLoadOutcome::kFailed);
  EXPECT_EQ(kernel_.table, "table inet polder { before }");
  EXPECT_EQ(kernel_.applies, 0);
  EXPECT_THAT(lines_, Contains(HasSubstr("FAILED")));
  EXPECT_EQ(BootExitCode(BootLoadOutcome::kFailed), 1);
}

TEST_F(BootLoadTest, StoredRulesetOutsideThePolderTableIsNeverLoaded) {
  Store(stored_ + "flush ruleset\n");
  EXPECT_EQ(Run(), BootLoadOutcome::kFailed);
  EXPECT_FALSE(kernel_.table.has_value());
  EXPECT_EQ(kernel_.dry_runs + kernel_.applies, 0);
  EXPECT_THAT(lines_, Contains(HasSubstr("flush ruleset")));
  // A bootstrap file is the fallback for that too.
  WriteBootstrap(bootstrap_);
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedBootstrap);
}

TEST_F(BootLoadTest, KernelRefusalOfBothFailsWithoutChangingTheTable) {
  std::string bad = stored_;
  bad.insert(bad.find("\tchain input"), "\tINVALID\n");
  Store(bad);
  WriteBootstrap(bad);
  EXPECT_EQ(Run(), BootLoadOutcome::kFailed);
  EXPECT_FALSE(kernel_.table.has_value());
  EXPECT_EQ(kernel_.applies, 0);
  EXPECT_THAT(lines_, Contains(HasSubstr("could not be loaded")));
}

TEST_F(BootLoadTest, ARulesetForAnotherHostIsNotLoaded) {
  options_.host = "web-1";
  Store(stored_);  // db-1
  EXPECT_EQ(Run(), BootLoadOutcome::kFailed);
  EXPECT_FALSE(kernel_.table.has_value());
  EXPECT_THAT(lines_, Contains(HasSubstr("is for host db-1, not web-1")));
  options_.host = "db-1";
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedStored);
}

TEST_F(BootLoadTest, TheAgentStartedAfterwardsAdoptsWhatBootLoaded) {
  Store(stored_);
  ASSERT_EQ(Run(), BootLoadOutcome::kLoadedStored);
  int applies = kernel_.applies;
  // The agent's first Apply of the stored ruleset: no transaction at all.
  RulesetApplier agent(&kernel_, {});
  auto r = agent.Apply(stored_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kAdopted);
  EXPECT_EQ(kernel_.applies, applies);
  // Running boot mode again (a restarted unit) does not rewrite the table either.
  EXPECT_EQ(Run(), BootLoadOutcome::kLoadedStored);
  EXPECT_EQ(kernel_.applies, applies);
  EXPECT_THAT(lines_, Contains(HasSubstr("already in force")));
}

TEST_F(BootLoadTest, AnUnreadableBootstrapIsAFailureNotNothing) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  WriteBootstrap(bootstrap_);
  fs::permissions(options_.bootstrap, fs::perms::none);
  EXPECT_EQ(Run(), BootLoadOutcome::kFailed);
  EXPECT_THAT(lines_, Contains(HasSubstr("bootstrap ruleset unusable")));
}

}  // namespace
}  // namespace polder::agent
