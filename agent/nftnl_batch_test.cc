// Real-kernel tests of the libnftnl path, each in fresh network namespaces of its own: the same
// NftRuleset loaded as nft text (libnftables) and as one libnftnl batch leaves the same table.
#include "agent/nftnl_batch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <unistd.h>

#include <random>

#include "absl/strings/str_join.h"
#include "agent/listing_diff.h"
#include "agent/table_snapshot.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"

namespace polder::agent {
namespace {

std::string Diff(const TableSnapshot& want, const TableSnapshot& got) {
  return absl::StrJoin(DiffListings(want.lines, got.lines), "\n");
}

// Loads `text` with libnftables in a fresh namespace and returns its snapshot.
TableSnapshot LoadText(const std::string& text) {
  testing::ScopedNetns netns;
  EXPECT_TRUE(netns.ok());
  std::string error;
  EXPECT_TRUE(testing::RunNft(text, &error)) << error << "\n" << text;
  TableReader reader;
  auto snap = reader.Snapshot();
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : TableSnapshot{};
}

TableSnapshot LoadStructured(const wire::NftRuleset& rs) {
  testing::ScopedNetns netns;
  EXPECT_TRUE(netns.ok());
  mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  EXPECT_NE(sock, nullptr);
  EXPECT_EQ(mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID), 0);
  NftnlBatch batch;
  absl::Status st = AddFullTable(rs, batch);
  EXPECT_TRUE(st.ok()) << st;
  st = batch.Commit(sock);
  EXPECT_TRUE(st.ok()) << st;
  mnl_socket_close(sock);
  TableReader reader;
  auto snap = reader.Snapshot();
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : TableSnapshot{};
}

class NftnlBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  }
};

TEST_F(NftnlBatchTest, LayoutRulesetLeavesTheTableNftLeaves) {
  wire::NftRuleset rs = testing::LayoutRuleset(6, 3, 4);
  TableSnapshot text = LoadText(testing::PrintNft(rs));
  TableSnapshot structured = LoadStructured(rs);
  EXPECT_GT(text.elements, 20u);
  EXPECT_EQ(text.lines, structured.lines) << Diff(text, structured);
}

TEST_F(NftnlBatchTest, RandomRulesetsLeaveTheTableNftLeaves) {
  for (int seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset rs = testing::RandomRuleset(rng);
    for (int i = 0; i < seed; ++i) testing::RandomEdit(rng, rs);
    TableSnapshot text = LoadText(testing::PrintNft(rs));
    TableSnapshot structured = LoadStructured(rs);
    ASSERT_EQ(text.lines, structured.lines) << "seed " << seed << "\n"
                                            << Diff(text, structured) << "\n"
                                            << testing::PrintNft(rs);
  }
}

}  // namespace
}  // namespace polder::agent
