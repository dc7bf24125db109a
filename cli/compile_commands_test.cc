#include "cli/compile_commands.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/render/ruleset_renderer.h"
#include "compiler/testing/policy_builder.h"
#include "gtest/gtest.h"
#include "wire/proto_convert.h"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(WriteRulesetsTest, WireFormatHoldsTheHeaderAndTheTableTheTextIsPrintedFrom) {
  testing::PolicyBuilder b;
  b.Zone("web", {"10.1.0.0/24"});
  b.Zone("db", {"10.2.0.0/24"});
  b.Host("web-1", {"10.1.0.11"});
  b.Host("db-1", {"10.2.0.5"});
  b.Service("postgres", {"tcp/5432"});
  b.Flow({.from = {"web"}, .to = {"db"}, .services = {"postgres"}});
  Policy p = b.Finish();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "compile_wire_test";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteRulesets(p, dir.string(), "wire").ok());
  ASSERT_FALSE(std::filesystem::exists(dir / "db-1.nft"));

  std::string bytes = Slurp(dir / "db-1.wire");
  absl::StatusOr<wire::RulesetFile> f = wire::ParseRulesetFile(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  HostRuleset expected = RulesetRenderer(p).RenderHost(*p.FindHost("db-1"));
  EXPECT_EQ(f->header.host, "db-1");
  EXPECT_EQ(f->header.revision, p.revision);
  EXPECT_TRUE(f->ruleset == *expected.ruleset);
  EXPECT_NE(Slurp(dir / "manifest.json").find(wire::Sha256Hex(bytes)), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace polder::cli
