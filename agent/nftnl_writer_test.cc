// Real-kernel tests of NftnlWriter, each in fresh network namespaces of its own: after any
// incremental Sync the table equals a fresh full load of the same ruleset, and a Sync after a
// tamper puts back exactly what was changed.
#include "agent/nftnl_writer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
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

// One namespace with a writer and a reader in it.
class Kernel {
 public:
  Kernel() : netns_(std::make_unique<testing::ScopedNetns>()) {
    EXPECT_TRUE(netns_->ok());
    auto w = NftnlWriter::Open();
    EXPECT_TRUE(w.ok()) << w.status();
    writer_ = std::move(*w);
    reader_ = std::make_unique<TableReader>();
  }
  ~Kernel() {
    writer_.reset();
    reader_.reset();
    netns_.reset();
  }
  NftnlWriter& writer() { return *writer_; }
  TableSnapshot Snapshot() {
    auto snap = reader_->Snapshot();
    EXPECT_TRUE(snap.ok()) << snap.status();
    return snap.ok() ? *snap : TableSnapshot{};
  }

 private:
  std::unique_ptr<testing::ScopedNetns> netns_;
  std::unique_ptr<NftnlWriter> writer_;
  std::unique_ptr<TableReader> reader_;
};

TableSnapshot FreshLoad(const wire::NftRuleset& rs) {
  Kernel k;
  auto r = k.writer().Replace(rs);
  EXPECT_TRUE(r.ok()) << r.status();
  return k.Snapshot();
}

class NftnlWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  }
};

TEST_F(NftnlWriterTest, IncrementalUpdatesEqualAFreshFullLoad) {
  int incremental = 0, steps = 0;
  for (int seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset rs = testing::RandomRuleset(rng);
    std::unique_ptr<Kernel> k = std::make_unique<Kernel>();
    ASSERT_TRUE(k->writer().Replace(rs).ok());
    TableSnapshot applied = k->Snapshot();
    for (int step = 0; step < 25; ++step) {
      wire::NftRuleset next = rs;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) testing::RandomEdit(rng, next);
      TableSnapshot now = k->Snapshot();
      auto r = k->writer().Sync(&rs, &applied, next, &now);
      ASSERT_TRUE(r.ok()) << "seed " << seed << " step " << step << ": " << r.status();
      ++steps;
      if (!r->full) ++incremental;
      applied = k->Snapshot();
      k.reset();  // the fresh load makes its own namespace
      TableSnapshot fresh = FreshLoad(next);
      ASSERT_EQ(fresh.lines, applied.lines)
          << "seed " << seed << " step " << step << (r->full ? " (full)" : " (incremental)") << "\n"
          << Diff(fresh, applied);
      // Back into a namespace holding `applied`: the same table, loaded fresh.
      k = std::make_unique<Kernel>();
      ASSERT_TRUE(k->writer().Replace(next).ok());
      applied = k->Snapshot();
      rs = std::move(next);
    }
  }
  // Most random edits touch elements, rules or chains only: those must not replace the table.
  EXPECT_GT(incremental, steps * 3 / 4) << incremental << " of " << steps;
}

// An agent that just started knows neither the ruleset it applied nor the snapshot after it:
// it syncs from the kernel's table alone, which must still end equal to a fresh load, and send
// nothing at all when the table already is the desired one.
TEST_F(NftnlWriterTest, SyncsFromAnUnknownTableEqualAFreshLoad) {
  int in_place = 0, steps = 0;
  for (int seed = 11; seed <= 16; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset rs = testing::RandomRuleset(rng);
    for (int step = 0; step < 8; ++step) {
      wire::NftRuleset next = rs;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) testing::RandomEdit(rng, next);
      TableSnapshot synced;
      {
        Kernel k;
        ASSERT_TRUE(k.writer().Replace(rs).ok());
        TableSnapshot now = k.Snapshot();
        absl::StatusOr<NftnlWriter::Result> same = k.writer().Sync(nullptr, nullptr, rs, &now);
        ASSERT_TRUE(same.ok()) << same.status();
        EXPECT_EQ(same->messages, 0u) << "seed " << seed << " step " << step
                                      << ": the table already was the desired one";
        absl::StatusOr<NftnlWriter::Result> r = k.writer().Sync(nullptr, nullptr, next, &now);
        ASSERT_TRUE(r.ok()) << "seed " << seed << " step " << step << ": " << r.status();
        ++steps;
        if (!r->full) ++in_place;
        synced = k.Snapshot();
      }
      TableSnapshot fresh = FreshLoad(next);
      ASSERT_EQ(fresh.lines, synced.lines) << "seed " << seed << " step " << step << "\n"
                                           << Diff(fresh, synced);
      rs = std::move(next);
    }
  }
  EXPECT_GT(in_place, steps * 3 / 4) << in_place << " of " << steps;
}

// A set's flags cannot change in the kernel: the set and the rules that use it are added
// again, in the same batch, and the rest of the table stays.
TEST_F(NftnlWriterTest, ASetWhoseFlagsChangeIsAddedAgainInPlace) {
  wire::NftRuleset rs = testing::LayoutRuleset(4, 2, 3);
  wire::NftRuleset next = rs;
  for (wire::NftSet& set : next.sets) {
    if (set.name != "in_p1_l4") continue;
    set.interval = true;
    set.elements.push_back({{testing::Byte(6), testing::PortRange(5000, 5010)}, {}});
  }
  Kernel k;
  ASSERT_TRUE(k.writer().Replace(rs).ok());
  TableSnapshot applied = k.Snapshot();
  absl::StatusOr<NftnlWriter::Result> r = k.writer().Sync(&rs, &applied, next, &applied);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->full);
  EXPECT_EQ(r->element_sets, std::set<std::string>{"in_p1_l4"});
  EXPECT_EQ(r->rule_chains, std::set<std::string>{"in_p1"});
  TableSnapshot after = k.Snapshot();
  TableSnapshot fresh = FreshLoad(next);
  EXPECT_EQ(fresh.lines, after.lines) << Diff(fresh, after);
}

TEST_F(NftnlWriterTest, ConsecutiveIncrementalUpdatesStayEqualToAFullLoad) {
  std::mt19937 rng(99);
  wire::NftRuleset rs = testing::RandomRuleset(rng);
  Kernel k;
  ASSERT_TRUE(k.writer().Replace(rs).ok());
  TableSnapshot applied = k.Snapshot();
  std::vector<wire::NftRuleset> history;
  std::vector<TableSnapshot> seen;
  for (int step = 0; step < 60; ++step) {
    wire::NftRuleset next = rs;
    testing::RandomEdit(rng, next);
    TableSnapshot now = k.Snapshot();
    auto r = k.writer().Sync(&rs, &applied, next, &now);
    ASSERT_TRUE(r.ok()) << step << ": " << r.status();
    applied = k.Snapshot();
    history.push_back(next);
    seen.push_back(applied);
    rs = std::move(next);
  }
  for (size_t i = 0; i < history.size(); i += 7) {
    // Fresh loads in their own namespaces, from this thread's namespace.
    TableSnapshot fresh = FreshLoad(history[i]);
    EXPECT_EQ(fresh.lines, seen[i].lines) << "step " << i << "\n" << Diff(fresh, seen[i]);
  }
}

TEST_F(NftnlWriterTest, ExpectedElementsAreWhatTheKernelShows) {
  for (int seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset rs = testing::RandomRuleset(rng);
    for (int i = 0; i < seed; ++i) testing::RandomEdit(rng, rs);
    Kernel k;
    ASSERT_TRUE(k.writer().Replace(rs).ok());
    TableSnapshot read = k.Snapshot();
    auto expected = ExpectedElements(rs);
    ASSERT_TRUE(expected.ok()) << expected.status();
    for (const auto& [set, lines] : expected->objects->element_lines) {
      EXPECT_EQ(*read.objects->element_lines.at(set), *lines) << "seed " << seed << " set " << set;
      EXPECT_EQ(*read.objects->elements.at(set), *expected->objects->elements.at(set)) << set;
    }
    // Taken from there instead of the kernel, the snapshot is the same.
    std::set<std::string> none;
    auto scoped = TableReader().Snapshot({&none, &*expected});
    ASSERT_TRUE(scoped.ok());
    EXPECT_EQ(scoped->lines, read.lines);
  }
}

// Lines derived from the last apply's (few elements changed) are those computed from scratch:
// no kernel needed. Small random rulesets, and a 10k-address map with 1% of it changed.
TEST(ExpectedElementsTest, DerivedFromTheAppliedSetTheyEqualAFreshComputation) {
  // Returns how many sets were derived from the applied ones.
  auto check = [](const wire::NftRuleset& before, const wire::NftRuleset& after,
                  const std::string& what) -> size_t {
    auto applied = ExpectedElements(before);
    EXPECT_TRUE(applied.ok()) << applied.status();
    if (!applied.ok()) return 0;
    auto derived = ExpectedElements(after, &before, &*applied);
    auto fresh = ExpectedElements(after);
    EXPECT_TRUE(derived.ok() && fresh.ok()) << what;
    if (!derived.ok() || !fresh.ok()) return 0;
    EXPECT_EQ(derived->objects->element_digests, fresh->objects->element_digests) << what;
    for (const auto& [set, lines] : fresh->objects->element_lines) {
      EXPECT_EQ(*derived->objects->element_lines.at(set), *lines) << what << " set " << set;
      EXPECT_EQ(*derived->objects->elements.at(set), *fresh->objects->elements.at(set)) << set;
    }
    // A set derived from the wire elements that changed carries the batch's difference.
    for (const auto& [set, delta] : derived->objects->element_deltas) {
      const std::vector<KernelElement>& now = *fresh->objects->elements.at(set);
      std::vector<KernelElement> added, removed;
      std::set_difference(now.begin(), now.end(), delta.base->begin(), delta.base->end(),
                          std::back_inserter(added));
      std::set_difference(delta.base->begin(), delta.base->end(), now.begin(), now.end(),
                          std::back_inserter(removed));
      EXPECT_EQ(delta.added, added) << what << " set " << set;
      EXPECT_EQ(delta.removed, removed) << what << " set " << set;
    }
    return derived->objects->element_deltas.size();
  };
  // The compiler emits every set's elements sorted by key; only then are they derived.
  auto sorted = [](wire::NftRuleset rs) {
    for (wire::NftSet& s : rs.sets) {
      std::sort(s.elements.begin(), s.elements.end(),
                [](const wire::NftElement& a, const wire::NftElement& b) {
                  for (size_t i = 0; i < a.key.size() && i < b.key.size(); ++i) {
                    if (a.key[i].from != b.key[i].from) return a.key[i].from < b.key[i].from;
                    if (a.key[i].to != b.key[i].to) return a.key[i].to < b.key[i].to;
                  }
                  return a.key.size() < b.key.size();
                });
    }
    return rs;
  };
  size_t derived_sets = 0;
  for (int seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset before = sorted(testing::RandomRuleset(rng));
    wire::NftRuleset after = before;
    for (int i = 0; i < 1 + seed % 3; ++i) testing::RandomEdit(rng, after);
    derived_sets += check(before, sorted(after), absl::StrCat("sorted, seed ", seed));
  }
  EXPECT_GT(derived_sets, 50u) << "the derivation is exercised";
  // A one-field interval map whose first range moves to and from 0 (nft's zero end element),
  // and a range that only grows (its start element stays).
  {
    wire::NftRuleset rs = sorted(testing::LayoutRuleset(20, 5, 3, 100));
    wire::NftRuleset from_zero = rs, grown = rs;
    for (wire::NftSet& s : from_zero.sets) {
      if (s.name != "in4") continue;
      wire::NftElement e = s.elements.front();
      e.key = {testing::Ipv4Range("0.0.0.0", "0.0.0.255")};
      s.elements.insert(s.elements.begin(), e);
    }
    for (wire::NftSet& s : grown.sets) {
      if (s.name != "in4") continue;
      s.elements.front().key = {testing::Ipv4Range("10.100.0.0", "10.100.0.200")};
    }
    EXPECT_EQ(check(rs, from_zero, "first range from 0"), 1u);
    EXPECT_EQ(check(from_zero, rs, "first range no longer from 0"), 1u);
    EXPECT_EQ(check(rs, grown, "first range shrunk, same start"), 1u);
    EXPECT_EQ(check(grown, rs, "first range grown, same start"), 1u);
  }
  for (int seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    wire::NftRuleset before = testing::RandomRuleset(rng);
    wire::NftRuleset after = before;
    for (int i = 0; i < 1 + seed % 3; ++i) testing::RandomEdit(rng, after);
    check(before, after, absl::StrCat("seed ", seed));
  }
  wire::NftRuleset big = testing::LayoutRuleset(20, 5, 3, 10000);
  wire::NftRuleset changed = big;
  for (wire::NftSet& s : changed.sets) {
    if (s.name != "in4") continue;
    for (size_t i = 0; i < 50; ++i) s.elements.pop_back();
    for (size_t i = 0; i < 50; ++i) {
      wire::NftElement e = s.elements.front();
      e.key = {testing::Ipv4(absl::StrCat("192.168.7.", i))};
      s.elements.push_back(e);
    }
  }
  check(big, changed, "10k addresses, 100 changed");
  EXPECT_EQ(check(sorted(big), sorted(changed), "10k addresses sorted, 100 changed"), 1u);
}

// kill -9 of the writing process at random moments during applies: the kernel holds one
// revision or the other, never a mix, and a new writer converges.
TEST_F(NftnlWriterTest, AKilledWriterLeavesTheOldOrTheNewTable) {
  wire::NftRuleset a = testing::LayoutRuleset(200, 20, 10, 20000);
  wire::NftRuleset b = testing::LayoutRuleset(300, 30, 12, 25000);
  TableSnapshot want_a = FreshLoad(a), want_b = FreshLoad(b);
  ASSERT_NE(want_a.lines, want_b.lines);
  Kernel k;
  ASSERT_TRUE(k.writer().Replace(a).ok());
  std::mt19937 rng(5);
  int saw_a = 0, saw_b = 0;
  for (int round = 0; round < 50; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Alternate full replaces and incremental syncs between the two revisions, forever.
      auto w = NftnlWriter::Open();
      TableReader reader;
      for (int i = 0;; ++i) {
        const wire::NftRuleset& to = i % 2 ? a : b;
        const wire::NftRuleset& from = i % 2 ? b : a;
        auto now = reader.Snapshot();
        if (i % 3 == 0 || !now.ok()) {
          (void)(*w)->Replace(to);
        } else {
          (void)(*w)->Sync(&from, &*now, to, &*now);
        }
      }
    }
    usleep(static_cast<useconds_t>(rng() % 300000));  // a random moment to kill it, not a wait
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    auto snap = TableReader().Snapshot();
    ASSERT_TRUE(snap.ok()) << snap.status();
    bool is_a = snap->lines == want_a.lines, is_b = snap->lines == want_b.lines;
    ASSERT_TRUE(is_a || is_b) << "round " << round << ": a mix\n" << Diff(want_a, *snap);
    saw_a += is_a;
    saw_b += is_b;
  }
  EXPECT_EQ(saw_a + saw_b, 50);
  // A restarted writer converges from whatever it finds.
  TableSnapshot now = k.Snapshot();
  ASSERT_TRUE(k.writer().Sync(nullptr, nullptr, b, &now).ok());
  EXPECT_EQ(k.Snapshot().lines, want_b.lines);
}

class TamperTest : public NftnlWriterTest {
 protected:
  void SetUp() override {
    NftnlWriterTest::SetUp();
    if (IsSkipped()) return;
    k_ = std::make_unique<Kernel>();
    rs_ = testing::LayoutRuleset(20, 4, 5);
    ASSERT_TRUE(k_->writer().Replace(rs_).ok());
    applied_ = k_->Snapshot();
  }
  void TearDown() override { k_.reset(); }

  // Tampers with `script`, syncs back, and returns the batch's size.
  size_t TamperAndRestore(const std::string& script) {
    std::string error;
    EXPECT_TRUE(testing::RunNft(script, &error)) << error;
    TableSnapshot tampered = k_->Snapshot();
    EXPECT_NE(tampered.lines, applied_.lines) << "the tamper changed nothing";
    auto r = k_->writer().Sync(&rs_, &applied_, rs_, &tampered);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    EXPECT_FALSE(r->full) << script;
    TableSnapshot after = k_->Snapshot();
    EXPECT_EQ(applied_.lines, after.lines) << Diff(applied_, after);
    return r->messages;
  }

  std::unique_ptr<Kernel> k_;
  wire::NftRuleset rs_;
  TableSnapshot applied_;
};

TEST_F(TamperTest, AForeignRuleIsDeletedAlone) {
  EXPECT_EQ(TamperAndRestore("add rule inet polder input tcp dport 40000 accept"), 1u);
  EXPECT_EQ(TamperAndRestore("insert rule inet polder in_p1 tcp dport 40001 accept"), 1u);
}

TEST_F(TamperTest, ADeletedRuleIsPutBackInPlace) {
  const TableObjects::Rule* vmap_rule = nullptr;
  for (const TableObjects::Rule& r : applied_.objects->rules) {
    if (r.chain == "in_p2") vmap_rule = &r;
  }
  ASSERT_NE(vmap_rule, nullptr);
  EXPECT_EQ(
      TamperAndRestore(absl::StrCat("delete rule inet polder in_p2 handle ", vmap_rule->handle)),
      1u);
}

TEST_F(TamperTest, AFlushedChainIsRefilled) {
  EXPECT_EQ(TamperAndRestore("flush chain inet polder in_p0"), 1u);
}

TEST_F(TamperTest, RemovedAndAddedElementsArePutBack) {
  EXPECT_EQ(TamperAndRestore("delete element inet polder in_p3_l4 { tcp . 1021 }"), 1u);
  EXPECT_EQ(TamperAndRestore("add element inet polder in_p3_l4 { tcp . 2 }"), 1u);
  EXPECT_EQ(TamperAndRestore("delete element inet polder in4 { 10.100.5.0/24 }"), 1u);
}

TEST_F(TamperTest, ForeignChainsAndSetsInOurTableGo) {
  EXPECT_LE(TamperAndRestore("add chain inet polder extra { tcp dport 1 accept; }"), 2u);
  EXPECT_EQ(TamperAndRestore("add set inet polder extra_set { type ipv4_addr; }"), 1u);
}

TEST_F(TamperTest, APolicyFlipIsUndone) {
  EXPECT_EQ(
      TamperAndRestore(
          "add chain inet polder input { type filter hook input priority filter; policy accept; }"),
      1u);
}

}  // namespace
}  // namespace polder::agent
