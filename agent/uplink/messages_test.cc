#include "agent/uplink/messages.h"

#include "agent/testing/kernel_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wire/limits.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

using ::testing::HasSubstr;

v1::Assignment Good(const std::string& host = "db-1") {
  std::string text = testing::SampleRuleset(host, {5432});
  auto parsed = ParseRuleset(text);
  EXPECT_TRUE(parsed.ok());
  v1::Assignment a;
  a.set_revision(parsed->revision);
  a.set_ruleset(text);
  a.set_ruleset_hash(wire::Sha256Hex(text));
  a.set_mode(v1::MODE_ENFORCE);
  a.mutable_confirm_deadline()->set_seconds(2000000000);
  return a;
}

TEST(CheckAssignmentTest, AcceptsAWellFormedAssignmentForThisHost) {
  auto checked = CheckAssignment(Good(), "db-1");
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->ruleset.host, "db-1");
  EXPECT_EQ(checked->ruleset.hash, Good().ruleset_hash());
  ASSERT_TRUE(checked->confirm_deadline.has_value());
  EXPECT_EQ(*checked->confirm_deadline, absl::FromUnixSeconds(2000000000));
}

TEST(CheckAssignmentTest, NoDeadlineMeansNoConfirmation) {
  v1::Assignment a = Good();
  a.clear_confirm_deadline();
  auto checked = CheckAssignment(a, "db-1");
  ASSERT_TRUE(checked.ok());
  EXPECT_FALSE(checked->confirm_deadline.has_value());
}

TEST(CheckAssignmentTest, KeepsTheStructuredFormForLibnftnlAndRefusesABrokenOne) {
  EXPECT_EQ(CheckAssignment(Good(), "db-1")->ruleset.structured, nullptr) << "text only";
  v1::Assignment a = Good();
  v1::NftChain* chain = a.mutable_nft_ruleset()->add_chains();
  chain->set_name("input");
  chain->set_base(true);
  chain->set_hook("input");
  chain->set_policy(v1::NFT_VERDICT_DROP);
  auto checked = CheckAssignment(a, "db-1");
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_NE(checked->ruleset.structured, nullptr);
  ASSERT_EQ(checked->ruleset.structured->chains.size(), 1u);
  EXPECT_EQ(checked->ruleset.hash, a.ruleset_hash()) << "the text stays the identity";
  chain->set_hook("");  // a base chain without a hook
  checked = CheckAssignment(a, "db-1");
  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.status().message(), HasSubstr("nft_ruleset"));
}

TEST(CheckAssignmentTest, RefusesAnotherHostsRuleset) {
  auto checked = CheckAssignment(Good("app-1"), "db-1");
  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.status().message(), HasSubstr("for host 'app-1'"));
}

TEST(CheckAssignmentTest, RefusesAHashThatDoesNotMatchTheText) {
  v1::Assignment a = Good();
  a.set_ruleset(a.ruleset() + "\n");
  auto checked = CheckAssignment(a, "db-1");
  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.status().message(), HasSubstr("not the SHA-256"));
}

TEST(CheckAssignmentTest, RefusesMalformedFields) {
  std::vector<std::function<void(v1::Assignment&)>> breakers = {
      [](v1::Assignment& a) { a.set_revision("abc"); },
      [](v1::Assignment& a) { a.set_revision(std::string(64, 'A')); },
      [](v1::Assignment& a) { a.set_ruleset_hash(""); },
      [](v1::Assignment& a) { a.set_mode(v1::MODE_UNSPECIFIED); },
      [](v1::Assignment& a) {
        a.set_ruleset("");
        a.set_ruleset_hash(wire::Sha256Hex(""));
      },
      [](v1::Assignment& a) { a.mutable_confirm_deadline()->set_nanos(-1); },
      [](v1::Assignment& a) {  // the header names another revision
        a.set_revision(std::string(64, 'e'));
      },
      [](v1::Assignment& a) {  // a script reaching beyond table inet polder
        std::string text = a.ruleset() + "flush ruleset\n";
        a.set_ruleset(text);
        a.set_ruleset_hash(wire::Sha256Hex(text));
      },
  };
  for (size_t i = 0; i < breakers.size(); ++i) {
    v1::Assignment a = Good();
    breakers[i](a);
    EXPECT_FALSE(CheckAssignment(a, "db-1").ok()) << "breaker " << i;
  }
}

TEST(CheckAssignmentTest, RefusesOversizedRulesets) {
  v1::Assignment a = Good();
  std::string text = a.ruleset() + "# " + std::string(wire::kMaxRulesetBytes, 'x') + "\n";
  a.set_ruleset(text);
  a.set_ruleset_hash(wire::Sha256Hex(text));
  auto checked = CheckAssignment(a, "db-1");
  ASSERT_FALSE(checked.ok());
  EXPECT_THAT(checked.status().message(), HasSubstr("bytes"));
}

TEST(AgentMessagesTest, ApplyResultAlwaysCarriesARequiredHash) {
  v1::AgentMessage m = ApplyResultMessage(false, "", absl::Milliseconds(1500), "", "");
  EXPECT_EQ(m.apply_result().ruleset_hash(), NoRulesetHash());
  EXPECT_FALSE(m.apply_result().error().empty());
  EXPECT_EQ(m.apply_result().duration().seconds(), 1);
  EXPECT_EQ(m.apply_result().duration().nanos(), 500000000);
  EXPECT_TRUE(m.apply_result().revision().empty());  // not a SHA-256: left out
}

TEST(AgentMessagesTest, DriftReportIsBoundedAndNeverEmpty) {
  std::vector<std::string> many(wire::kMaxDifferences + 10, "+ rule");
  many[0] = std::string(wire::kMaxDifferenceBytes + 100, 'x');
  v1::AgentMessage m = DriftMessage(many, absl::FromUnixSeconds(100), 42, true);
  EXPECT_EQ(m.drift_report().differences_size(), wire::kMaxDifferences);
  EXPECT_EQ(m.drift_report().differences(0).size(), wire::kMaxDifferenceBytes);
  EXPECT_EQ(m.drift_report().pid(), 42);
  EXPECT_TRUE(m.drift_report().remediated());
  EXPECT_EQ(DriftMessage({}, absl::Now(), 0, false).drift_report().differences_size(), 1);
}

TEST(AgentMessagesTest, ReportedTextIsValidUtf8EvenWhenCutOrMangled) {
  // A two-byte character straddles the limit, and nft's message holds a stray byte.
  std::string error = std::string(wire::kMaxErrorBytes - 1, 'e') + "\xc3\xa9";
  v1::AgentMessage m = ApplyResultMessage(false, error, absl::Milliseconds(1), "", "");
  EXPECT_EQ(m.apply_result().error(), std::string(wire::kMaxErrorBytes - 1, 'e'));
  m = ApplyResultMessage(false, "bad \xff byte, caf\xc3\xa9", absl::Milliseconds(1), "", "");
  EXPECT_EQ(m.apply_result().error(), "bad ? byte, caf\xc3\xa9");
  // What the agent sends, the controller can parse.
  v1::AgentMessage back;
  EXPECT_TRUE(back.ParseFromString(m.SerializeAsString()));
}

}  // namespace
}  // namespace polder::agent
