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
