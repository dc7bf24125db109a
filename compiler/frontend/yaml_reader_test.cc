// Spec §10: hostile input is refused quickly with a clear error.
#include "compiler/frontend/yaml_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace polder {
namespace {

struct Outcome {
  bool ok;
  std::string code;
  std::string message;
  double seconds;
};

Outcome Read(const std::string& content, YamlLimits limits = {}) {
  YamlBudget budget;
  DiagnosticList d;
  auto start = std::chrono::steady_clock::now();
  std::optional<YamlNode> root = ReadYaml("f.yaml", content, limits, budget, d);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (root) return {true, "", "", seconds};
  return {false, d.items().at(0).code, d.items().at(0).message, seconds};
}

TEST(YamlReaderTest, BuildsTreeWithPositions) {
  YamlBudget budget;
  DiagnosticList d;
  std::optional<YamlNode> root =
      ReadYaml("f.yaml", "zones:\n  - name: web\n    cidrs: [10.0.0.0/8]\n", {}, budget, d);
  ASSERT_TRUE(root);
  ASSERT_TRUE(root->IsMap());
  const YamlNode& zone = root->entries[0].value.items[0];
  EXPECT_EQ(zone.line, 2);
  EXPECT_EQ(zone.column, 5);
  EXPECT_EQ(zone.entries[1].value.items[0].scalar, "10.0.0.0/8");
  EXPECT_EQ(zone.entries[1].value.items[0].column, 13);
}

TEST(YamlReaderTest, SelfReferencingAliasStops) {
  Outcome o = Read("a: &a [*a]\n");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
  EXPECT_LT(o.seconds, 1.0);
}

TEST(YamlReaderTest, BillionLaughsStopsQuickly) {
  std::string doc =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  const char* names = "abcdefghi";
  for (int level = 1; level < 9; ++level) {
    std::string prev(1, names[level - 1]);
    doc += std::string(1, names[level]) + ": &" + names[level] + " [";
    for (int k = 0; k < 9; ++k) doc += (k ? ",*" : "*") + prev;
    doc += "]\n";
  }
  ASSERT_LT(doc.size(), 1000u);
  Outcome o = Read(doc);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
  EXPECT_NE(o.message.find("more than 1000 times"), std::string::npos) << o.message;
  EXPECT_LT(o.seconds, 1.0);
}

TEST(YamlReaderTest, FewAliasesAreFine) {
  Outcome o = Read("base: &b [tcp/443]\nx: *b\ny: *b\n");
  EXPECT_TRUE(o.ok) << o.message;
}

TEST(YamlReaderTest, DeepNestingIsRefused) {
  std::string deep(100000, '[');
  Outcome o = Read("a: " + deep + "\n");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
  EXPECT_NE(o.message.find("deeper than 64"), std::string::npos);
  std::string ok_depth = "a: " + std::string(60, '[') + std::string(60, ']') + "\n";
  EXPECT_TRUE(Read(ok_depth).ok);
}

TEST(YamlReaderTest, DeepBlockNestingIsRefused) {
  std::string doc;
  for (int i = 0; i < 200; ++i) doc += std::string(i * 2, ' ') + "k:\n";
  Outcome o = Read(doc);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
}

TEST(YamlReaderTest, TooManyNodesIsRefused) {
  YamlLimits limits;
  limits.max_nodes = 1000;
  std::string doc = "a: [";
  for (int i = 0; i < 2000; ++i) doc += "1,";
  doc += "1]\n";
  Outcome o = Read(doc, limits);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
}

TEST(YamlReaderTest, FourMillionNodeDefaultHolds) {
  // Spec §10: more than 4,000,000 nodes is refused.
  std::string doc = "a: [";
  doc.reserve(8'200'000);
  for (int i = 0; i < 4'000'001; ++i) doc += "1,";
  doc += "1]\n";
  Outcome o = Read(doc);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
}

TEST(YamlReaderTest, NestedAnchorsAreChargedForTheCopiesTheyKeep) {
  // No alias at all, but every level keeps a copy of what it holds: 40 levels of a
  // 101,000-item list would be 4.04 million nodes of copies.
  std::string doc = "x: ";
  for (int level = 0; level < 40; ++level) doc += "&a" + std::to_string(level) + " [";
  for (int i = 0; i < 101'000; ++i) doc += "1,";
  doc += "1" + std::string(40, ']') + "\n";
  Outcome o = Read(doc);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
  EXPECT_NE(o.message.find("anchored nodes twice"), std::string::npos) << o.message;
}

TEST(YamlReaderTest, StopsWhenTheFilesBeforeItFillTheBudget) {
  // The files before this one already hold 3,999,995 nodes: ten more are too many, and the
  // count this file publishes is what it had read when it stopped.
  std::atomic<size_t> published{0};
  YamlBudget budget{0, &published, [] { return size_t{3'999'995}; }};
  DiagnosticList d;
  EXPECT_FALSE(ReadYaml("f.yaml", "a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", {}, budget, d));
  ASSERT_FALSE(d.items().empty());
  EXPECT_EQ(d.items()[0].code, "limit-exceeded");
  EXPECT_LE(published.load(), 6u);
}

TEST(YamlReaderTest, OversizedFileIsRefusedBeforeParsing) {
  std::string big(16 * 1024 * 1024 + 1, '#');
  Outcome o = Read(big);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "limit-exceeded");
  EXPECT_LT(o.seconds, 1.0);
}

TEST(YamlReaderTest, GarbageIsAParseError) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919) % 255 + 1);
  Outcome o = Read(garbage);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "parse-error");
}

TEST(YamlReaderTest, TwoDocumentsAreRefused) {
  Outcome o = Read("zones: []\n---\nflows: []\n");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.code, "parse-error");
}

}  // namespace
}  // namespace polder
