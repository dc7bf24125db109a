#include "agent/ruleset.h"
#include "wire/sha256.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/testing/kernel_test_util.h"

namespace polder::agent {
namespace {

const std::string kHeader =
    absl::StrCat("# polder ruleset host=db-1 revision=", std::string(64, 'a'), " mode=enforce\n");

TEST(RulesetTest, ParsesHeaderAndHashesTheBytes) {
  std::string text = testing::SampleRuleset("db-1", {5432});
  absl::StatusOr<Ruleset> r = ParseRuleset(text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->host, "db-1");
  EXPECT_EQ(r->revision, wire::Sha256Hex("a"));
  EXPECT_EQ(r->mode, wire::Mode::kEnforce);
  EXPECT_EQ(r->hash, wire::Sha256Hex(text));
  EXPECT_EQ(r->text, text);
}

TEST(RulesetTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(wire::Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RulesetTest, RefusesMissingOrBadHeader) {
  EXPECT_FALSE(ParseRuleset("table inet polder {\n}\n").ok());
  EXPECT_FALSE(ParseRuleset("# polder ruleset host=x revision=12 mode=enforce\n").ok());
  EXPECT_FALSE(ParseRuleset(absl::StrCat("# polder ruleset revision=", std::string(64, 'b'),
                                         " mode=enforce\n"))
                   .ok());
  EXPECT_FALSE(ParseRuleset(absl::StrCat("# polder ruleset host=x revision=", std::string(64, 'b'),
                                         " mode=open\n"))
                   .ok());
}

TEST(RulesetTest, AcceptsOnlyPolderTableStatements) {
  EXPECT_TRUE(CheckScope("table inet polder\ndelete table inet polder\nflush table inet polder\n"
                         "table inet polder { chain c { } }\n")
                  .ok());
  EXPECT_TRUE(
      CheckScope("table inet polder; delete table inet polder; table inet polder { }").ok());
}

TEST(RulesetTest, RefusesStatementsOutsideThePolderTable) {
  for (const char* bad : {
           "flush ruleset\n",
           "delete table ip filter\n",
           "table ip polder { }\n",
           "table inet polderx { }\n",
           "table inet other { chain input { type filter hook input priority 0; policy accept; } "
           "}\n",
           "add rule inet polder input accept\n",
           "add table inet polder\n",
           "list ruleset\n",
           "table inet polder { }; table ip evil { }\n",
           "table inet polder { } table ip evil { }\n",
           "delete table inet polder { }\n",
           // Deleting or flushing alone would leave the host open.
           "delete table inet polder\n",
           "flush table inet polder\n",
           "",
           "{ }\n",
       }) {
    EXPECT_FALSE(CheckScope(bad).ok()) << bad;
  }
}

TEST(RulesetTest, RefusesIncludeAndTableFlags) {
  EXPECT_FALSE(CheckScope("include \"/etc/nftables.conf\"\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder {\n include \"/tmp/x\"\n}\n").ok());
  // nft's lexer ends a word at a quote: no space is needed before the file name.
  EXPECT_FALSE(CheckScope("include\"/etc/nftables.conf\"\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder { chain c { include\"/etc/shadow\" } }\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder {\n\tinclude\"/tmp/x\";\n}\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder { flags owner; }\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder {\n\tflags dormant\n}\n").ok());
  // Set and chain flags are part of the body.
  EXPECT_TRUE(CheckScope("table inet polder { set s { type ipv4_addr; flags interval; } }\n").ok());
}

TEST(RulesetTest, CommentsAndStringsDoNotHideOrFakeStatements) {
  EXPECT_TRUE(CheckScope("# table ip evil {\ntable inet polder { chain c { comment \"}{ flush "
                         "ruleset\"; } }\n")
                  .ok());
  EXPECT_FALSE(
      CheckScope("table inet polder { chain c { comment \"x\" } } \\\nflush ruleset\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder { chain c {\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder { } }\n").ok());
  EXPECT_FALSE(CheckScope("table inet polder { comment \"open }\n").ok());
}

TEST(RulesetTest, ParseRefusesHostileBodyEvenWithValidHeader) {
  absl::StatusOr<Ruleset> r = ParseRuleset(kHeader + "flush ruleset\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("flush ruleset"), std::string::npos);
}

}  // namespace
}  // namespace polder::agent
