#include "agent/ruleset_store.h"

#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

class RulesetStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/polder-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(RulesetStoreTest, NothingStoredIsNotAnError) {
  RulesetStore store(root_ / "state");
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(RulesetStoreTest, SavedRulesetComesBackByteForByte) {
  RulesetStore store(root_ / "a" / "b");
  std::string text = "# polder ruleset host=h\ntable inet polder {\n\tchain x { }\n}\n\xff\x01";
  ASSERT_TRUE(store.Save({"rev1", text}).ok());
  auto loaded = RulesetStore(root_ / "a" / "b").Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->revision, "rev1");
  EXPECT_EQ((*loaded)->text, text);
  EXPECT_EQ(fs::status(root_ / "a" / "b").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(RulesetStoreTest, StructuredFormComesBackApartFromTheText) {
  RulesetStore store(root_);
  ASSERT_TRUE(store.Save({"rev1", "text\n", std::string("\x0a\x00\xffwire", 7)}).ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->text, "text\n");
  EXPECT_EQ((*loaded)->structured, std::string("\x0a\x00\xffwire", 7));
}

TEST_F(RulesetStoreTest, FileOfAnOlderAgentStillLoads) {
  RulesetStore store(root_);
  std::ofstream(store.path()) << "polder-agent-ruleset-v1 rev0 5\nhello";
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->revision, "rev0");
  EXPECT_EQ((*loaded)->text, "hello");
  EXPECT_EQ((*loaded)->structured, "");
}

TEST_F(RulesetStoreTest, SaveReplacesAndLeavesNoTemporaries) {
  RulesetStore store(root_);
  ASSERT_TRUE(store.Save({"r1", "one"}).ok());
  ASSERT_TRUE(store.Save({"r2", "two"}).ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->revision, "r2");
  EXPECT_EQ((*loaded)->text, "two");
  int files = 0;
  for (const auto& e : fs::directory_iterator(root_)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(RulesetStoreTest, CorruptFileIsAnErrorNotAnEmptyRuleset) {
  RulesetStore store(root_);
  std::ofstream(store.path()) << "{\"revision\": 3";
  EXPECT_FALSE(store.Load().ok());
  ASSERT_TRUE(store.Save({"r1", "table inet polder {}\n"}).ok());
  // Truncated: the length in the header no longer matches.
  fs::resize_file(store.path(), fs::file_size(store.path()) - 3);
  EXPECT_FALSE(store.Load().ok());
  EXPECT_FALSE(store.Save({"two words", "x"}).ok());
}

TEST_F(RulesetStoreTest, UnwritableDirectoryFailsAndKeepsTheOldFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  RulesetStore store(root_);
  ASSERT_TRUE(store.Save({"r1", "one"}).ok());
  fs::permissions(root_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_FALSE(store.Save({"r2", "two"}).ok());
  fs::permissions(root_, fs::perms::owner_all);
  EXPECT_EQ((*store.Load())->text, "one");
}

}  // namespace
}  // namespace polder::agent
