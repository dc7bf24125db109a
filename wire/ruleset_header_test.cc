#include "wire/ruleset_header.h"

#include <gtest/gtest.h>

namespace polder::wire {
namespace {

const std::string kRevision(64, 'a');

TEST(RulesetHeaderTest, FormatsAndParsesBack) {
  std::string line = FormatRulesetHeader({"db-1", kRevision, Mode::kAudit});
  EXPECT_EQ(line, "# polder ruleset host=db-1 revision=" + kRevision + " mode=audit\n");
  auto parsed = ParseRulesetHeader(line + "table inet polder {\n}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->host, "db-1");
  EXPECT_EQ(parsed->revision, kRevision);
  EXPECT_EQ(parsed->mode, Mode::kAudit);
}

TEST(RulesetHeaderTest, RefusesWhatIsMissingOrMalformed) {
  EXPECT_FALSE(ParseRulesetHeader("table inet polder {}\n").ok());
  EXPECT_FALSE(ParseRulesetHeader("# polder ruleset revision=" + kRevision + " mode=enforce").ok());
  EXPECT_FALSE(ParseRulesetHeader("# polder ruleset host=x revision=12 mode=enforce").ok());
  EXPECT_FALSE(
      ParseRulesetHeader("# polder ruleset host=x revision=" + std::string(64, 'A') + " mode=enforce")
          .ok());
  EXPECT_FALSE(ParseRulesetHeader("# polder ruleset host=x revision=" + kRevision + " mode=x").ok());
  EXPECT_FALSE(ParseRulesetHeader("# polder ruleset host=x revision=" + kRevision).ok());
}

}  // namespace
}  // namespace polder::wire
