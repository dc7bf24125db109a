#include "controller/policy_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "wire/sha256.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

constexpr char kPolicy[] = R"(
settings:
  controller: { addresses: [10.9.0.2], port: 7443 }
zones:
  - name: internet
    external: true
    cidrs: [0.0.0.0/0]
  - name: web
    cidrs: [10.1.0.0/24]
  - name: db
    cidrs: [10.2.0.0/24]
  - name: mgmt
    cidrs: [10.9.0.0/24]
hosts:
  - name: web-1
    addresses: [10.1.0.11]
  - name: web-2
    addresses: [10.1.0.12]
  - name: db-1
    addresses: [10.2.0.5]
  - name: mgmt-1
    addresses: [10.9.0.5]
services:
  - name: https
    ports: [tcp/443]
  - name: pg
    ports: [tcp/5432]
flows:
  - from: internet
    to: web
    services: [https]
  - from: web
    to: db
    services: [pg]
    expires: 2030-01-01T00:00:00Z
)";

class PolicySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("policy-source-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write(kPolicy);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& text) { std::ofstream(dir_ / "policy.yaml") << text; }
  fs::path dir_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);  // 2027
};

TEST_F(PolicySourceTest, CompilesEveryHostWithItsZone) {
  auto c = DirectoryCompiler(dir_)(now_, {}, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(wire::IsSha256Hex(c->revision));
  ASSERT_EQ(c->hosts.size(), 4u);
  EXPECT_EQ(c->hosts.at("web-1").zone, "web");
  EXPECT_NE(c->hosts.at("db-1").ruleset.find("table inet polder"), std::string::npos);
  EXPECT_NE(c->hosts.at("web-1").ruleset, c->hosts.at("db-1").ruleset);
  // The structured table the agent loads travels with the text it was printed from.
  const auto& db = c->hosts.at("db-1");
  ASSERT_NE(db.nft_ruleset, nullptr);
  ASSERT_FALSE(db.nft_ruleset->chains.empty());
  EXPECT_EQ(db.nft_ruleset->chains.back().name, "output");
  EXPECT_NE(db.ruleset.find("map in4 {"), std::string::npos);
  EXPECT_EQ(c->next_expiry,
            absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(c->zones.count("mgmt"), 1u);
  EXPECT_EQ(c->mode, wire::Mode::kEnforce);
}

TEST_F(PolicySourceTest, ExpiredFlowChangesOnlyAffectedRulesetsAndClearsExpiry) {
  auto before = DirectoryCompiler(dir_)(now_, {}, "");
  auto after = DirectoryCompiler(dir_)(absl::FromUnixSeconds(1900000000), {}, "");  // 2030+
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_FALSE(after->next_expiry.has_value());
  EXPECT_NE(before->hosts.at("db-1").ruleset, after->hosts.at("db-1").ruleset);
  EXPECT_FALSE(after->warnings.empty());  // expired-flow
}

TEST_F(PolicySourceTest, PolicyWithErrorsIsRefusedWithDiagnostics) {
  Write(std::string(kPolicy) + "  - from: nowhere\n    to: web\n");
  auto c = DirectoryCompiler(dir_)(now_, {}, "");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown-ref"), absl::string_view::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("policy.yaml:"), absl::string_view::npos);
}

// A publish checks without rendering: the same revision, and the same refusal, as a compile.
TEST_F(PolicySourceTest, CheckingGivesTheCompilesRevisionOrItsRefusal) {
  auto compiled = DirectoryCompiler(dir_)(now_, {}, "");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  auto checked = CheckDirectory(dir_, now_);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, compiled->revision);
  Write(std::string(kPolicy) + "  - from: nowhere\n    to: web\n");
  auto refused = DirectoryCompiler(dir_)(now_, {}, "");
  auto check_refused = CheckDirectory(dir_, now_);
  ASSERT_FALSE(refused.ok());
  ASSERT_FALSE(check_refused.ok());
  EXPECT_EQ(check_refused.status(), refused.status());
}

TEST_F(PolicySourceTest, QuarantineGivesNewRevisionAndSparesAllowedZone) {
  auto base = DirectoryCompiler(dir_)(now_, {}, "");
  auto q = DirectoryCompiler(dir_)(now_, {{"web-1", {"mgmt"}, "incident", "alice", now_}}, "");
  ASSERT_TRUE(base.ok() && q.ok()) << q.status();
  EXPECT_NE(base->revision, q->revision);
  EXPECT_NE(base->hosts.at("web-1").ruleset, q->hosts.at("web-1").ruleset);
  auto body = [](const std::string& r) { return r.substr(r.find('\n')); };
  EXPECT_EQ(body(base->hosts.at("mgmt-1").ruleset), body(q->hosts.at("mgmt-1").ruleset));
  EXPECT_FALSE(DirectoryCompiler(dir_)(now_, {{"ghost", {}, "x", "a", now_}}, "").ok());
}

constexpr char kPostures[] = R"(
postures:
  - name: lockdown
    isolate: [web]
    allow:
      - { zone: db }
    keep:
      - reach: { from: web, to: db, services: [pg], direct: true }
  - name: broken
    isolate: [web]
    keep:
      - reach: { from: internet, to: web, services: [https] }
)";

TEST_F(PolicySourceTest, PostureIsAppliedAndABrokenOneDoesNotRefuseThePolicy) {
  Write(std::string(kPolicy) + kPostures);
  auto base = DirectoryCompiler(dir_)(now_, {}, "");
  ASSERT_TRUE(base.ok()) << base.status();
  ASSERT_EQ(base->postures.size(), 2u);
  EXPECT_EQ(base->postures.at("lockdown"), "");
  EXPECT_NE(base->postures.at("broken").find("invariant-violated"), std::string::npos)
      << base->postures.at("broken");
  auto locked = DirectoryCompiler(dir_)(now_, {}, "lockdown");
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_NE(locked->revision, base->revision);
  EXPECT_NE(locked->hosts.at("web-1").ruleset, base->hosts.at("web-1").ruleset);
  // Posture then quarantine: both apply.
  auto both =
      DirectoryCompiler(dir_)(now_, {{"db-1", {"mgmt"}, "incident", "alice", now_}}, "lockdown");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_NE(both->revision, locked->revision);
  auto unknown = DirectoryCompiler(dir_)(now_, {}, "nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();
}

}  // namespace
}  // namespace polder::controller
