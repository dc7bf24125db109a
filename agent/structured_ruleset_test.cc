// Real-kernel tests of RulesetApplier with structured rulesets (the wire form, through
// libnftnl), each in a fresh network namespace of its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/libnftables_kernel.h"
#include "agent/ruleset_applier.h"
#include "agent/testing/kernel_fixture.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

Ruleset Structured(wire::NftRuleset rs, const std::string& revision_seed) {
  Ruleset r;
  r.host = "db-1";
  r.revision = wire::Sha256Hex(revision_seed);
  r.hash = wire::Sha256Hex(testing::PrintNft(rs));
  r.structured = std::make_shared<const wire::NftRuleset>(std::move(rs));
  return r;
}

// `nft list table ...` output from this thread's network namespace.
std::string List(const std::string& table) {
  FILE* p = popen(absl::StrCat("nft list table ", table, " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::map<std::string, uint64_t> HandlesOf(const TableSnapshot& s) {
  std::map<std::string, uint64_t> out;
  for (const TableObjects::Rule& r : s.objects->rules) out[r.chain + r.line] = r.handle;
  return out;
}

class StructuredRulesetTest : public testing::KernelTest {};

TEST_F(StructuredRulesetTest, AppliesUpdatesAndKnowsWhenNothingChanged) {
  RulesetApplier applier(kernel_.get(), {});
  wire::NftRuleset v1 = testing::LayoutRuleset(10, 3, 4);
  auto r = applier.Apply(Structured(v1, "v1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_NE(applier.desired_listing().find("jump in_p1"), std::string::npos)
      << applier.desired_listing();
  r = applier.Apply(Structured(v1, "v1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kUnchanged);

  wire::NftRuleset v2 = testing::LayoutRuleset(12, 3, 5);
  std::map<std::string, uint64_t> before = HandlesOf(applier.desired_snapshot());
  r = applier.Apply(Structured(v2, "v2"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kApplied);
  EXPECT_TRUE(applier.Check()->empty());
  // Only elements changed: every rule is still the one loaded first (no reload).
  EXPECT_EQ(HandlesOf(applier.desired_snapshot()), before);
}

TEST_F(StructuredRulesetTest, RestoreUndoesOnlyTheTamper) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).ok());
  std::map<std::string, uint64_t> before = HandlesOf(applier.desired_snapshot());
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 40000 accept"));
  auto diff = applier.Check();
  ASSERT_TRUE(diff.ok());
  ASSERT_FALSE(diff->empty());
  EXPECT_NE(absl::StrJoin(*diff, "\n").find("40000"), std::string::npos)
      << absl::StrJoin(*diff, "\n");
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOf(*kernel_->Snapshot()), before);

  ASSERT_TRUE(testing::RunNft("flush chain inet polder in_p2"));
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());

  ASSERT_TRUE(testing::RunNft("delete table inet polder"));
  EXPECT_FALSE(applier.Check()->empty());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
}

// Handles of the rules outside `chain`: a full replace would renew them all.
std::map<std::string, uint64_t> HandlesOutside(const TableSnapshot& s, const std::string& chain) {
  std::map<std::string, uint64_t> out;
  for (const TableObjects::Rule& r : s.objects->rules) {
    if (r.chain != chain) out[r.chain + r.line] = r.handle;
  }
  return out;
}

// The base chains' rules match ICMP types and link-local sources in anonymous sets, which the
// kernel numbers (__set%d) by the lowest free number: a restore puts them back in place, and
// the table then compares equal to the fresh load, without replacing the rest.
TEST_F(StructuredRulesetTest, RulesWithAnonymousSetsArePutBackInPlace) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).ok());
  TableSnapshot loaded = applier.desired_snapshot();
  ASSERT_NE(loaded.lines.find("__set"), std::string::npos) << "no anonymous set to test with";
  EXPECT_EQ(loaded.lines.find(absl::BytesToHexString("__set0")), std::string::npos)
      << "snapshot lines carry the kernel's numbering";

  ASSERT_TRUE(testing::RunNft("flush chain inet polder input"));
  ASSERT_FALSE(applier.Check()->empty());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOutside(*kernel_->Snapshot(), "input"), HandlesOutside(loaded, "input"));

  // A foreign rule with an anonymous set of its own, behind ours: only it goes. (Ahead of
  // ours it would renumber them, and that chain's rules with anonymous sets are put back too.)
  TableSnapshot before = *kernel_->Snapshot();
  ASSERT_TRUE(testing::RunNft("add rule inet polder output tcp dport { 1, 2, 3 } accept"));
  ASSERT_FALSE(applier.Check()->empty());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOf(*kernel_->Snapshot()), HandlesOf(before));
  ASSERT_TRUE(testing::RunNft("insert rule inet polder output tcp dport { 1, 2, 3 } accept"));
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOutside(*kernel_->Snapshot(), "output"), HandlesOutside(before, "output"));
  before = *kernel_->Snapshot();

  // One of our rules with two anonymous sets deleted by handle: put back, the rest kept.
  uint64_t handle = 0;
  for (const TableObjects::Rule& r : before.objects->rules) {
    if (r.chain == "output" &&
        r.line.find(absl::BytesToHexString("__set.output.2")) != std::string::npos) {
      handle = r.handle;
    }
  }
  ASSERT_NE(handle, 0u) << before.lines;
  ASSERT_TRUE(testing::RunNft(absl::StrCat("delete rule inet polder output handle ", handle)));
  ASSERT_FALSE(applier.Check()->empty());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOutside(*kernel_->Snapshot(), "output"), HandlesOutside(before, "output"));
  EXPECT_EQ(*kernel_->Snapshot(), loaded);
}

// A check after a notification reads only the chains it named: a tamper there is seen and put
// back in place, the others' rules are taken as desired (the periodic full check reads them).
TEST_F(StructuredRulesetTest, ACheckReadsOnlyTheChainsANotificationNamed) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).ok());
  std::map<std::string, uint64_t> before = HandlesOf(applier.desired_snapshot());
  const std::set<std::string> no_sets;
  const std::set<std::string> input = {"input"};
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 40000 accept"));
  std::optional<TableSnapshot> read;
  auto diff = applier.Check(&no_sets, &read, &input);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_NE(absl::StrJoin(*diff, "\n").find("40000"), std::string::npos)
      << absl::StrJoin(*diff, "\n");
  ASSERT_TRUE(applier.Restore(&no_sets, std::move(read)).ok());
  EXPECT_TRUE(applier.Check()->empty());
  EXPECT_EQ(HandlesOf(*kernel_->Snapshot()), before);

  // The scope is trusted: a chain it does not name is not read...
  ASSERT_TRUE(testing::RunNft("flush chain inet polder in_p2"));
  EXPECT_TRUE(applier.Check(&no_sets, nullptr, &input)->empty());
  // ...and a full comparison sees it.
  EXPECT_FALSE(applier.Check()->empty());
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
}

// A drift left in place (no remediation) is not forgotten by the next scoped check: the desired
// snapshot no longer describes the chains that check does not read.
TEST_F(StructuredRulesetTest, ADriftLeftInPlaceStaysInTheNextScopedCheck) {
  RulesetApplier applier(kernel_.get(), {});
  // Big enough that reports come from the snapshots, not from a full text listing.
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(10, 3, 4, 2000), "v1")).ok());
  ASSERT_TRUE(applier.desired_listing().empty());
  const std::set<std::string> no_sets;
  const std::set<std::string> in_p2 = {"in_p2"}, input = {"input"};
  ASSERT_TRUE(testing::RunNft("flush chain inet polder in_p2"));
  auto first = applier.Check(&no_sets, nullptr, &in_p2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->empty());
  ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 40000 accept"));
  auto second = applier.Check(&no_sets, nullptr, &input);
  ASSERT_TRUE(second.ok()) << second.status();
  std::string report = absl::StrJoin(*second, "\n");
  EXPECT_NE(report.find("40000"), std::string::npos) << report;
  for (const std::string& line : *first) {
    EXPECT_NE(std::find(second->begin(), second->end(), line), second->end())
        << "lost from the report: " << line << "\nsecond report:\n"
        << report;
  }
  ASSERT_TRUE(applier.Restore().ok());
  EXPECT_TRUE(applier.Check()->empty());
}

TEST_F(StructuredRulesetTest, ARestartedAgentAdoptsTheTable) {
  {
    RulesetApplier first(kernel_.get(), {});
    ASSERT_TRUE(first.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1")).ok());
  }
  TableSnapshot loaded = *kernel_->Snapshot();
  RulesetApplier restarted(kernel_.get(), {});
  auto r = restarted.Apply(Structured(testing::LayoutRuleset(10, 3, 4), "v1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, RulesetApplier::Outcome::kAdopted);
  EXPECT_EQ(HandlesOf(*kernel_->Snapshot()), HandlesOf(loaded));
}

TEST_F(StructuredRulesetTest, TextAndStructuredFormsLeaveTheSameTable) {
  wire::NftRuleset rs = testing::LayoutRuleset(10, 3, 4);
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(Structured(rs, "v1")).ok());
  TableSnapshot structured = applier.desired_snapshot();
  ASSERT_TRUE(testing::RunNft(testing::PrintNft(rs)));
  EXPECT_EQ(kernel_->Snapshot()->lines, structured.lines);
}

TEST_F(StructuredRulesetTest, OtherTablesAreNeverTouched) {
  ASSERT_TRUE(
      testing::RunNft("table inet filter {\n"
                      "  set blocked { type ipv4_addr; elements = { 192.0.2.1 }; }\n"
                      "  chain input { type filter hook input priority 10; policy accept;\n"
                      "    ip saddr @blocked counter drop\n"
                      "    tcp dport 22 accept\n"
                      "  }\n"
                      "}\n"
                      "table ip nat {\n"
                      "  chain postrouting { type nat hook postrouting priority srcnat; oifname "
                      "\"eth9\" masquerade; }\n"
                      "}\n"));
  std::string filter = List("inet filter"), nat = List("ip nat");
  ASSERT_NE(filter.find("blocked"), std::string::npos) << filter;
  RulesetApplier applier(kernel_.get(), {});
  std::mt19937 rng(7);
  wire::NftRuleset rs = testing::RandomRuleset(rng);
  for (int i = 0; i < 100; ++i) {
    testing::RandomEdit(rng, rs);
    ASSERT_TRUE(applier.Apply(Structured(rs, absl::StrCat("v", i))).ok()) << i;
    if (i % 10 == 0) {
      ASSERT_TRUE(testing::RunNft("add rule inet polder input tcp dport 40000 accept"));
      ASSERT_TRUE(applier.Restore().ok());
      ASSERT_TRUE(applier.Check()->empty());
    }
  }
  EXPECT_EQ(List("inet filter"), filter);
  EXPECT_EQ(List("ip nat"), nat);
}

}  // namespace
}  // namespace polder::agent

namespace polder::agent {
namespace {

// A table too big for listing diffs reports a foreign element in words, not netlink bytes.
TEST_F(StructuredRulesetTest, DriftInABigSetNamesTheElementInWords) {
  RulesetApplier applier(kernel_.get(), {});
  ASSERT_TRUE(applier.Apply(Structured(testing::LayoutRuleset(10, 3, 4, 2000), "v1")).ok());
  ASSERT_TRUE(applier.desired_listing().empty()) << "the table is meant to be big";
  ASSERT_TRUE(testing::RunNft("add element inet polder in4 { 10.99.0.1 : jump in_p1 }"));
  auto diff = applier.Check();
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_NE(std::find(diff->begin(), diff->end(), "+ 10.99.0.1 : jump in_p1 (set in4)"),
            diff->end())
      << ::testing::PrintToString(*diff);
}

}  // namespace
}  // namespace polder::agent
