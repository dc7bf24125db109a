#include "agent/nft_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/testing/kernel_test_util.h"

namespace polder::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class NftMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
    netns_ = std::make_unique<testing::ScopedNetns>();
    ASSERT_TRUE(netns_->ok());
    auto m = NftMonitor::Open();
    ASSERT_TRUE(m.ok()) << m.status();
    monitor_ = std::move(*m);
  }
  void TearDown() override {
    monitor_.reset();
    netns_.reset();
  }
  std::vector<NftTransaction> Read() {
    std::vector<NftTransaction> out;
    EXPECT_TRUE(monitor_->ReadAvailable([&](const NftTransaction& t) { out.push_back(t); }).ok());
    return out;
  }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<NftMonitor> monitor_;
};

TEST_F(NftMonitorTest, NothingHappensNothingIsRead) { EXPECT_THAT(Read(), IsEmpty()); }

TEST_F(NftMonitorTest, SeesPolderChangesWithTheCommittingThread) {
  ASSERT_TRUE(testing::RunNft("table inet polder { chain input { }; }"));
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 22 accept"));
  std::vector<NftTransaction> t = Read();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_TRUE(t[0].touches_polder);
  EXPECT_TRUE(t[1].touches_polder);
  EXPECT_EQ(t[1].pid, static_cast<uint32_t>(gettid()));
  EXPECT_GT(t[1].generation, t[0].generation);
  EXPECT_THAT(t[1].foreign_base_chains, IsEmpty());
}

// What a check after the transaction must read: the chains whose rules changed (a rule added,
// a chain flushed), or everything when the table itself was touched.
TEST_F(NftMonitorTest, NamesTheChainsWhoseRulesChanged) {
  ASSERT_TRUE(testing::RunNft("table inet polder { chain input { }; chain other { }; }"));
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 22 accept"));
  ASSERT_TRUE(testing::RunNft("add rule inet polder other tcp dport 23 accept"));
  ASSERT_TRUE(testing::RunNft("flush chain inet polder input"));
  std::vector<NftTransaction> t = Read();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_TRUE(t[0].polder_other);  // the table
  EXPECT_THAT(t[1].polder_chains, ElementsAre("input"));
  EXPECT_FALSE(t[1].polder_other);
  EXPECT_THAT(t[2].polder_chains, ElementsAre("other"));
  EXPECT_THAT(t[3].polder_chains, ElementsAre("input"));
  EXPECT_FALSE(t[3].polder_other);
}

TEST_F(NftMonitorTest, ReportsForeignBaseChainsButNotRegularOnes) {
  ASSERT_TRUE(testing::RunNft("table ip other { chain regular { }; }"));
  ASSERT_TRUE(testing::RunNft(
      "table ip other { chain hooked { type filter hook input priority 0; policy accept; }; }"));
  std::vector<NftTransaction> t = Read();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_FALSE(t[0].touches_polder);
  EXPECT_THAT(t[0].foreign_base_chains, IsEmpty());
  EXPECT_FALSE(t[1].touches_polder);
  EXPECT_THAT(t[1].foreign_base_chains, ElementsAre("ip other/hooked"));
}

TEST_F(NftMonitorTest, TableNamedPolderInAnotherFamilyIsForeign) {
  ASSERT_TRUE(testing::RunNft("table ip polder { chain c { }; }"));
  std::vector<NftTransaction> t = Read();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_FALSE(t[0].touches_polder);
}

}  // namespace
}  // namespace polder::agent
