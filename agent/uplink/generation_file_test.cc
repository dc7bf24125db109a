#include "agent/uplink/generation_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

class GenerationFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("generation-file-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(GenerationFileTest, NothingStoredIsZero) {
  auto g = GenerationFile(dir_).Load();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(*g, 0u);
}

TEST_F(GenerationFileTest, SavedIsLoadedBack) {
  GenerationFile f(dir_);
  ASSERT_TRUE(f.Save(41).ok());
  ASSERT_TRUE(f.Save(18446744073709551615u).ok());
  auto g = f.Load();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(*g, 18446744073709551615u);
  EXPECT_FALSE(fs::exists(dir_ / "generation.tmp"));
}

TEST_F(GenerationFileTest, ACorruptFileIsAnError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "generation") << "forty-two";
  auto g = GenerationFile(dir_).Load();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("generation"), std::string::npos);
}

}  // namespace
}  // namespace polder::agent
