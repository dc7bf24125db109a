#include "controller/policy_bundle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"

namespace polder::controller {
namespace {
namespace fs = std::filesystem;

class PolicyBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("bundle-test-", getpid(), "-",
                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src" / "zones");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  fs::path dir_;
};

TEST_F(PolicyBundleTest, ReadsFilesLeavesHiddenOnesOutAndRoundTrips) {
  Write(dir_ / "src" / "polder.yaml", "settings: {}\n");
  Write(dir_ / "src" / "zones" / "web.yaml", "zone: web\n");
  Write(dir_ / "src" / ".git" / "HEAD", "ref\n");
  Write(dir_ / "src" / ".polder.yaml.swp", "x");
  auto b = PolicyBundle::ReadDirectory(dir_ / "src");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->files().size(), 2u);
  EXPECT_EQ(b->files().at("zones/web.yaml"), "zone: web\n");

  auto parsed = PolicyBundle::Parse(b->Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Digest(), b->Digest());

  ASSERT_TRUE(parsed->WriteTo(dir_ / "out").ok());
  auto again = PolicyBundle::ReadDirectory(dir_ / "out");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Digest(), b->Digest());
  EXPECT_FALSE(parsed->WriteTo(dir_ / "out").ok()) << "the target must not exist yet";
}

TEST_F(PolicyBundleTest, DigestChangesWithAnyByteOrName) {
  auto a = PolicyBundle::FromFiles({{"a.yaml", "x"}});
  auto b = PolicyBundle::FromFiles({{"a.yaml", "y"}});
  auto c = PolicyBundle::FromFiles({{"b.yaml", "x"}});
  auto d = PolicyBundle::FromFiles({{"a.yaml", "x"}});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_NE(a->Digest(), b->Digest());
  EXPECT_NE(a->Digest(), c->Digest());
  EXPECT_EQ(a->Digest(), d->Digest());
}

TEST_F(PolicyBundleTest, RefusesPathsThatLeaveTheDirectoryAndOversizedBundles) {
  for (const char* bad : {"../x.yaml", "/etc/passwd", "a/../../b", "a//b", "./a", ".hidden", ""}) {
    auto b = PolicyBundle::FromFiles({{bad, "x"}});
    EXPECT_FALSE(b.ok()) << bad;
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_FALSE(
      PolicyBundle::FromFiles({{"a.yaml", std::string(PolicyBundle::kMaxBytes, 'x')}}).ok());
  EXPECT_FALSE(PolicyBundle::FromFiles({{"a.yaml", "\xff\xfe"}}).ok()) << "not UTF-8";
  EXPECT_TRUE(PolicyBundle::FromFiles({{"a.yaml", "caf\xc3\xa9"}}).ok());
  std::map<std::string, std::string> many;
  for (size_t i = 0; i <= PolicyBundle::kMaxFiles; ++i) many[absl::StrCat("f", i)] = "";
  EXPECT_FALSE(PolicyBundle::FromFiles(many).ok());
  EXPECT_FALSE(PolicyBundle::Parse("{\"files\": [1]}").ok());
  EXPECT_FALSE(PolicyBundle::Parse("garbage").ok());
}

}  // namespace
}  // namespace polder::controller
