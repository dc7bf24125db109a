// Real-kernel tests of TableReader's scoped snapshots, in a fresh network namespace: a snapshot
// that reads only what a change's notifications name, taking the rest from the snapshot before
// the change, equals a full snapshot taken after it.
#include "agent/table_snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/listing_diff.h"
#include "agent/nft_monitor.h"
#include "agent/nftnl_writer.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"

namespace polder::agent {
namespace {

// What the enforcer makes of the transactions read at once.
PolderChanges ReadChanges(NftMonitor& monitor) {
  PolderChanges changes;
  absl::Status st = monitor.ReadAvailable([&](const NftTransaction& t) { changes.Add(t); });
  EXPECT_TRUE(st.ok()) << st;
  return changes;
}

class ScopedSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
    netns_ = std::make_unique<testing::ScopedNetns>();
    ASSERT_TRUE(netns_->ok());
    auto writer = NftnlWriter::Open();
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
    ASSERT_TRUE(writer_->Replace(testing::LayoutRuleset(20, 4, 5)).ok());
    auto monitor = NftMonitor::Open(1 << 20);
    ASSERT_TRUE(monitor.ok()) << monitor.status();
    monitor_ = std::move(*monitor);
  }
  void TearDown() override {
    monitor_.reset();
    writer_.reset();
    reader_.reset();
    netns_.reset();
  }

  TableSnapshot Full() {
    auto snap = reader_->Snapshot();
    EXPECT_TRUE(snap.ok()) << snap.status();
    return snap.ok() ? *snap : TableSnapshot{};
  }

  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<NftnlWriter> writer_;
  std::unique_ptr<NftMonitor> monitor_;
  std::unique_ptr<TableReader> reader_ = std::make_unique<TableReader>();
};

TEST_F(ScopedSnapshotTest, ASnapshotOfWhatTheNotificationsNameEqualsAFullOne) {
  uint64_t anonymous_rule = 0;  // set below: the handle of a foreign rule with an anonymous set
  std::vector<std::string> tampers = {
      "add rule inet polder input tcp dport 40000 accept",
      "insert rule inet polder in_p1 tcp dport 40001 accept",
      "flush chain inet polder in_p0",
      "add chain inet polder input { type filter hook input priority filter; policy accept; }",
      "add chain inet polder extra { tcp dport 1 accept; }",
      "add set inet polder extra_set { type ipv4_addr; elements = { 192.0.2.1 }; }",
      "add element inet polder extra_set { 192.0.2.2 }",
      "delete element inet polder in_p3_l4 { tcp . 1021 }",
      "add element inet polder in4 { 10.99.0.1 : jump in_p1 }",
      "add rule inet polder input tcp dport { 40002, 40003 } accept",
      // Renames the anonymous sets after it ("__set.input.<n>"), which no notification names.
      "insert rule inet polder input tcp dport { 40004, 40005 } accept",
      "",  // deletes the rule just added, with its anonymous set (handle found below)
      "add rule inet polder extra tcp dport { 50000, 50001 } drop",
      "flush chain inet polder extra\ndelete chain inet polder extra",
      "delete set inet polder extra_set",
      "add counter inet polder extra_counter",
  };
  TableSnapshot before = Full();
  ASSERT_TRUE(ReadChanges(*monitor_).sets.empty());
  for (std::string tamper : tampers) {
    if (tamper.empty()) {
      ASSERT_NE(anonymous_rule, 0u);
      tamper = absl::StrCat("delete rule inet polder input handle ", anonymous_rule);
    }
    std::string error;
    ASSERT_TRUE(testing::RunNft(tamper, &error)) << tamper << ": " << error;
    PolderChanges notified = ReadChanges(*monitor_);
    SnapshotScope scope{&notified.sets, &before, notified.other ? nullptr : &notified.chains};
    auto scoped = reader_->Snapshot(scope);
    ASSERT_TRUE(scoped.ok()) << scoped.status();
    TableSnapshot full = Full();
    ASSERT_NE(full.lines, before.lines) << tamper << " changed nothing";
    EXPECT_EQ(scoped->lines, full.lines)
        << tamper << "\n"
        << absl::StrJoin(DiffListings(full.lines, scoped->lines), "\n");
    EXPECT_EQ(scoped->objects->chains, full.objects->chains) << tamper;
    EXPECT_EQ(scoped->objects->sets, full.objects->sets) << tamper;
    EXPECT_EQ(scoped->objects->kernel_names, full.objects->kernel_names) << tamper;
    EXPECT_EQ(scoped->objects->set_flags, full.objects->set_flags) << tamper;
    EXPECT_EQ(scoped->objects->rules.size(), full.objects->rules.size()) << tamper;
    for (const TableObjects::Rule& r : full.objects->rules) {
      if (r.chain == "input" &&
          r.line.find(absl::BytesToHexString("__set.input.")) != std::string::npos) {
        anonymous_rule = r.handle;
      }
    }
    before = std::move(full);
  }
}

}  // namespace
}  // namespace polder::agent
