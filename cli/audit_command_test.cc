#include "cli/audit_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "cli/fleet_commands.h"
#include "cli/fleet_test_policy.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/server.h"
#include "wire/rfc3339.h"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

namespace fs = std::filesystem;

// Runs `polder ARGS...` (fleet and audit commands); returns the exit code, stdout and stderr.
struct Outcome {
  int code;
  std::string out;
  std::string err;
};
Outcome RunPolder(const std::vector<std::string>& args) {
  CLI::App app;
  app.require_subcommand(1);
  ChosenCommand chosen;
  AddFleetCommands(app, chosen);
  AddAuditCommand(app, chosen);
  std::vector<const char*> argv{"polder"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = RunCommandLine(app, chosen, static_cast<int>(argv.size()), argv.data());
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

TEST(ParseSinceTest, SpansBackFromNowAndRfc3339Times) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  EXPECT_EQ(*ParseSince("30m", now), now - absl::Minutes(30));
  EXPECT_EQ(*ParseSince("12h", now), now - absl::Hours(12));
  EXPECT_EQ(*ParseSince("7d", now), now - absl::Hours(24 * 7));
  EXPECT_EQ(*ParseSince("90s", now), now - absl::Seconds(90));
  EXPECT_EQ(*ParseSince("2w", now), now - absl::Hours(24 * 14));
  EXPECT_EQ(*ParseSince("2026-11-22T10:00:00Z", now), *ParseRfc3339("2026-11-22T10:00:00Z"));
  for (const char* bad : {"", "7", "d", "7y", "-3d", "+3d", "3.5h", "seven days", "9999999999d"}) {
    absl::StatusOr<absl::Time> t = ParseSince(bad, now);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(t.status().message().find("30m, 12h, 7d"), std::string::npos) << t.status();
  }
}

// A controller on 127.0.0.1 with mutual TLS (the CA and admin alice made by `polder pki`) whose
// audit log already holds one entry ten days old.
class AuditLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller::SetLogEnabled(false);
    dir_ = fs::temp_directory_path() / ("audit-cmd-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string pki = (dir_ / "pki").string();
    ASSERT_EQ(RunPolder({"pki", "init", pki, "--controller-name", "ctl.example"}).code, 0);
    ASSERT_EQ(RunPolder({"pki", "issue", pki, "--admin", "alice"}).code, 0);
    admin_ = (dir_ / "pki" / "admins" / "alice").string();
    store_ = std::move(*controller::StateStore::Open(dir_ / "state.db"));
    ASSERT_TRUE(store_
                    ->Audit({0, absl::Now() - absl::Hours(24 * 10), "quarantine", "mallory",
                             "web-1", "allow []: old incident", "old incident", "r0"})
                    .ok());
    fleet_ = std::make_unique<controller::Fleet>(store_.get(), FleetTestPolicy({{"lockdown", ""}}));
    ASSERT_TRUE(fleet_->Start(absl::Now()).ok());
    // The controller's --tls-dir: DIR/controller where `polder pki init` keeps the CA key apart.
    fs::path tls =
        fs::exists(dir_ / "pki" / "controller") ? dir_ / "pki" / "controller" : dir_ / "pki";
    auto s = controller::ControllerServer::Start(fleet_.get(), {"127.0.0.1:0", tls});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_.reset();
    fleet_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  // `polder CMD... --controller C --tls-dir alice ARGS...`
  Outcome Admin(std::vector<std::string> cmd, const std::vector<std::string>& args) {
    cmd.insert(cmd.end(), {"--controller", target_, "--tls-dir", admin_});
    cmd.insert(cmd.end(), args.begin(), args.end());
    return RunPolder(cmd);
  }
  // The JSON entries of `polder audit` with `args`.
  nlohmann::json Entries(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--format", "json"};
    all.insert(all.end(), args.begin(), args.end());
    Outcome r = Admin({"audit"}, all);
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out)["entries"];
  }

  fs::path dir_;
  std::string admin_;
  std::unique_ptr<controller::StateStore> store_;
  std::unique_ptr<controller::Fleet> fleet_;
  std::unique_ptr<controller::ControllerServer> server_;
  std::string target_;
};

const nlohmann::json* Find(const nlohmann::json& entries, const std::string& kind) {
  for (const auto& e : entries)
    if (e["kind"] == kind) return &e;
  return nullptr;
}

TEST_F(AuditLoopbackTest, OrdersAppearWithWhoWhyWhenAndRevisionAndSinceFilters) {
  absl::Time before = absl::Now() - absl::Seconds(1);
  ASSERT_EQ(Admin({"quarantine"}, {"web-1", "--allow", "mgmt", "--reason", "incident 42"}).code, 0);
  std::string quarantined = fleet_->Status().revision;
  ASSERT_EQ(Admin({"release"}, {"web-1", "--reason", "all clear"}).code, 0);
  ASSERT_EQ(Admin({"posture", "activate"}, {"lockdown", "--reason", "crisis drill"}).code, 0);
  std::string posture_revision = fleet_->Status().revision;
  ASSERT_EQ(Admin({"posture", "release"}, {"lockdown", "--reason", "drill over"}).code, 0);

  nlohmann::json week = Entries({"--since", "7d"});
  const nlohmann::json* q = Find(week, "quarantine");
  ASSERT_NE(q, nullptr) << week.dump(1);
  EXPECT_EQ((*q)["actor"], "alice");
  EXPECT_EQ((*q)["target"], "web-1");
  EXPECT_EQ((*q)["reason"], "incident 42");
  EXPECT_EQ((*q)["revision"], quarantined);
  std::optional<absl::Time> when = ParseRfc3339((*q)["time"].get<std::string>());
  ASSERT_TRUE(when.has_value()) << (*q)["time"];
  EXPECT_GE(*when, before - absl::Seconds(1));
  EXPECT_LE(*when, absl::Now());
  const nlohmann::json* r = Find(week, "release");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ((*r)["actor"], "alice");
  EXPECT_EQ((*r)["reason"], "all clear");
  const nlohmann::json* pa = Find(week, "posture-activate");
  ASSERT_NE(pa, nullptr);
  EXPECT_EQ((*pa)["actor"], "alice");
  EXPECT_EQ((*pa)["target"], "lockdown");
  EXPECT_EQ((*pa)["reason"], "crisis drill");
  EXPECT_EQ((*pa)["revision"], posture_revision);
  const nlohmann::json* pr = Find(week, "posture-release");
  ASSERT_NE(pr, nullptr);
  EXPECT_EQ((*pr)["reason"], "drill over");
  // Each order rolled out, and the rollout says whose order it was.
  int rollouts_by_alice = 0;
  for (const auto& e : week) rollouts_by_alice += e["kind"] == "rollout" && e["actor"] == "alice";
  EXPECT_EQ(rollouts_by_alice, 4) << week.dump(1);
  // Newest first. A release or posture switch is committed before the rollout it causes (it is
  // pushed only after the commit), so its rollout may come first.
  size_t newest_order = week[0]["kind"] == "rollout" ? 1 : 0;
  ASSERT_GT(week.size(), newest_order);
  EXPECT_EQ(week[newest_order]["kind"], "posture-release") << "newest first";
  // Ten days ago is before 7d, within the whole log and after an older RFC 3339 time.
  for (const auto& e : week) EXPECT_NE(e["actor"], "mallory");
  nlohmann::json all = Entries({});
  EXPECT_EQ(all.size(), week.size() + 1);
  EXPECT_EQ(all.back()["actor"], "mallory");
  EXPECT_EQ(Entries({"--since", FormatRfc3339(absl::Now() - absl::Hours(24 * 11))}).size(),
            all.size());
  EXPECT_TRUE(Entries({"--since", FormatRfc3339(absl::Now() + absl::Hours(1))}).empty());

  // The text form: one line each, the reason in it.
  Outcome text = Admin({"audit"}, {"--since", "1h"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("quarantine"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("incident 42"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("mallory"), std::string::npos) << text.out;
}

TEST_F(AuditLoopbackTest, ABadSinceIsAUsageErrorThatSaysWhatIsAccepted) {
  Outcome r = Admin({"audit"}, {"--since", "last week"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("polder: --since 'last week' is neither"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(AuditLoopbackTest, ACertificateThatIsNoAdminsIsRefused) {
  ASSERT_EQ(RunPolder({"pki", "issue", (dir_ / "pki").string(), "--host", "web-1"}).code, 0);
  Outcome r = RunPolder({"audit", "--controller", target_, "--tls-dir",
                         (dir_ / "pki" / "agents" / "web-1").string()});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("polder: controller " + target_), std::string::npos) << r.err;
}

}  // namespace
}  // namespace polder::cli
