#include "cli/fleet_commands.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/fleet_test_policy.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/server.h"
#include "pki/pki.h"
#include "wire/sha256.h"

namespace polder::cli {
namespace {

namespace fs = std::filesystem;

// Runs `polder ARGS...` through the fleet commands; returns the exit code.
int RunPolder(const std::vector<std::string>& args) {
  CLI::App app;
  app.require_subcommand(1);
  ChosenCommand chosen;
  AddFleetCommands(app, chosen);
  std::vector<const char*> argv{"polder"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return RunCommandLine(app, chosen, static_cast<int>(argv.size()), argv.data());
}

// A TCP port on 127.0.0.1 that accepts connections (the kernel completes the
// handshake) but never says a word, like a controller that hangs.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
std::string RefusingTarget() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

TEST(FleetCommandsTest, StatusJsonHasTheSpecShape) {
  v1::StatusResponse r;
  r.set_revision("abc");
  auto* h = r.add_hosts();
  h->set_host("db-1");
  h->set_connected(true);
  h->set_desired_revision("abc");
  h->set_applied_revision("abc");
  h->mutable_last_report()->set_seconds(1795341600);  // 2026-11-22T10:00:00Z
  auto* w = r.add_hosts();
  w->set_host("web-1");
  w->set_reported_revision("fff");
  EXPECT_EQ(StatusJson(r).dump(),
            R"({"revision":"abc","hosts":[)"
            R"({"host":"db-1","connected":true,"desired_revision":"abc","applied_revision":"abc",)"
            R"("drift":false,"last_report":"2026-11-22T10:00:00Z","quarantined":false,)"
            R"("degraded":[],"cert_expires":null},)"
            R"({"host":"web-1","connected":false,"desired_revision":"","applied_revision":"",)"
            R"("drift":false,"last_report":null,"quarantined":false,"reported_revision":"fff",)"
            R"("degraded":[],"cert_expires":null}],)"
            R"("quarantines":[],"posture":null})");
}

TEST(FleetCommandsTest, ARefusedPolicyIsOneShortLineAndErrorsHasItAll) {
  std::string long_message(400, 'x');
  std::string error = absl::StrCat(
      "3 error(s) in the policy; flows/a.yaml:3:5: unknown zone `dbb`; did you mean `db`? "
      "[unknown-reference]; flows/b.yaml:7:1: ",
      long_message, " [bad]; hosts.yaml:2:3: duplicate host [duplicate]");
  EXPECT_EQ(RefusalSummary(error),
            "flows/a.yaml:3:5: unknown zone `dbb`; did you mean `db`? [unknown-reference] "
            "(+2 more; polder status --errors)");
  EXPECT_EQ(RefusalSummary("1 error(s) in the policy; a.yaml:1:1: bad [x]"), "a.yaml:1:1: bad [x]");
  EXPECT_EQ(RefusalSummary("cannot read /etc/polder: Permission denied"),
            "cannot read /etc/polder: Permission denied");
  v1::StatusResponse r;
  r.set_revision("abc");
  r.set_policy_error(error);
  auto* h = r.add_hosts();
  h->set_host("db-1");
  h->set_last_error(std::string(300, 'e'));
  h->add_degraded("store-error: cannot create /var/lib/polder-agent: Read-only file system");
  h->add_degraded("clock-skew: the agent's clock is 93 s ahead of the controller's");
  std::string text = StatusText(r);
  size_t refused = text.find("NEWEST POLICY REFUSED");
  ASSERT_NE(refused, std::string::npos) << text;
  std::string line = text.substr(refused, text.find('\n', refused) - refused);
  EXPECT_LT(line.size(), 200u) << line;
  EXPECT_NE(line.find("(+2 more; polder status --errors)"), std::string::npos) << line;
  EXPECT_EQ(text.find(long_message), std::string::npos);
  EXPECT_NE(text.find(" HEALTH "), std::string::npos) << text;
  EXPECT_NE(text.find("store-error,clock-skew"), std::string::npos) << text;
  for (absl::string_view l : absl::StrSplit(text, '\n')) EXPECT_LT(l.size(), 300u) << l;

  std::string errors = StatusErrorsText(r);
  EXPECT_NE(errors.find("  flows/b.yaml:7:1: " + long_message + " [bad]\n"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("  hosts.yaml:2:3: duplicate host [duplicate]\n"), std::string::npos);
  EXPECT_NE(errors.find("host db-1: last apply failed: " + std::string(300, 'e')),
            std::string::npos);
  EXPECT_NE(errors.find("host db-1: degraded: store-error: cannot create /var/lib/polder-agent: "
                        "Read-only file system\n"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("host db-1: degraded: clock-skew: "), std::string::npos);

  auto j = StatusJson(r);
  EXPECT_EQ(j["hosts"][0]["degraded"].size(), 2u);
  v1::StatusResponse healthy;
  healthy.set_revision("abc");
  EXPECT_EQ(StatusErrorsText(healthy).rfind("no errors: ", 0), 0u);
}

TEST(FleetCommandsTest, WhyUnreachableSaysItInWords) {
  EXPECT_EQ(
      WhyUnreachable("failed to connect to all addresses; last error: UNKNOWN: "
                     "ipv4:127.0.0.1:9: Failed to connect to remote host: Connection refused"),
      "connection refused (is polder-controller listening there?)");
  std::string tls = WhyUnreachable(
      "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:7443: Ssl "
      "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
      "CERTIFICATE_VERIFY_FAILED");
  EXPECT_EQ(tls.rfind("TLS handshake failed (CERTIFICATE_VERIFY_FAILED); check that --tls-dir", 0),
            0u)
      << tls;
  EXPECT_EQ(WhyUnreachable("DNS resolution failed for nowhere.invalid:7443"),
            "cannot resolve the controller's name");
  EXPECT_EQ(WhyUnreachable("something new"), "something new");
}

class FleetCommandsLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller::SetLogEnabled(false);
    dir_ = fs::temp_directory_path() / ("fleet-cmd-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    fleet_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void StartController() {
    store_ = std::move(*controller::StateStore::Open(dir_ / "state.db"));
    fleet_ = std::make_unique<controller::Fleet>(
        store_.get(),
        FleetTestPolicy({{"lockdown", ""}, {"shaky", "postures.yaml:7:9: keep violated"}}));
    ASSERT_TRUE(fleet_->Start(absl::Now()).ok());
    auto s = controller::ControllerServer::Start(fleet_.get(),
                                                 {"127.0.0.1:0", pki::ControllerDir(dir_ / "pki")});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  fs::path dir_;
  std::unique_ptr<controller::StateStore> store_;
  std::unique_ptr<controller::Fleet> fleet_;
  std::unique_ptr<controller::ControllerServer> server_;
  std::string target_;
};

TEST_F(FleetCommandsLoopbackTest, PkiThenStatusQuarantineRelease) {
  std::string pki = (dir_ / "pki").string();
  ASSERT_EQ(RunPolder({"pki", "init", pki, "--controller-name", "ctl.example"}), 0);
  EXPECT_NE(RunPolder({"pki", "init", pki}), 0);  // never overwrites a CA
  ASSERT_EQ(RunPolder({"pki", "issue", pki, "--admin", "alice"}), 0);
  ASSERT_EQ(RunPolder({"pki", "issue", pki, "--host", "web-1"}), 0);
  EXPECT_EQ(RunPolder({"pki", "issue", pki}), 2);
  StartController();
  std::string admin = (dir_ / "pki" / "admins" / "alice").string();
  std::string agent = (dir_ / "pki" / "agents" / "web-1").string();

  ::testing::internal::CaptureStdout();
  int code = RunPolder({"status", "--controller", target_, "--format", "json", "--tls-dir", admin});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["revision"], fleet_->Status().revision);
  ASSERT_EQ(j["hosts"].size(), 1u);
  EXPECT_EQ(j["hosts"][0]["host"], "web-1");
  EXPECT_EQ(j["hosts"][0]["connected"], false);

  // An agent certificate is refused by the Admin service.
  EXPECT_EQ(RunPolder({"status", "--controller", target_, "--tls-dir", agent}), 1);
  ::testing::internal::CaptureStderr();
  code = RunPolder({"status", "--controller", target_});  // neither --tls-dir nor --insecure
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "polder: give --tls-dir DIR (an admin certificate) or --insecure\n");

  ::testing::internal::CaptureStdout();
  code = RunPolder({"quarantine", "--controller", target_, "--tls-dir", admin, "web-1", "--allow",
                    "mgmt", "--reason", "incident 9"});
  ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0);
  ASSERT_EQ(fleet_->Status().quarantines.size(), 1u);
  EXPECT_EQ(fleet_->Status().quarantines[0].actor, "alice");
  EXPECT_TRUE(fleet_->Status().hosts[0].quarantined);
  ::testing::internal::CaptureStdout();
  code = RunPolder({"release", "--controller", target_, "--tls-dir", admin, "web-1"});
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(fleet_->Status().quarantines.empty());
  // Releasing what is not quarantined is a refusal, a finding.
  ::testing::internal::CaptureStderr();
  code = RunPolder({"release", "--controller", target_, "--tls-dir", admin, "web-1"});
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("polder: controller " + target_ + ": "), std::string::npos) << err;
}

TEST_F(FleetCommandsLoopbackTest, PostureActivateStatusRelease) {
  std::string pki = (dir_ / "pki").string();
  ASSERT_EQ(RunPolder({"pki", "init", pki, "--controller-name", "ctl.example"}), 0);
  ASSERT_EQ(RunPolder({"pki", "issue", pki, "--admin", "alice"}), 0);
  StartController();
  std::string admin = (dir_ / "pki" / "admins" / "alice").string();
  auto posture = [&](std::vector<std::string> args, std::string* err = nullptr) {
    args.insert(args.begin() + 2, {"--controller", target_, "--tls-dir", admin});
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    int code = RunPolder(args);
    ::testing::internal::GetCapturedStdout();
    std::string e = ::testing::internal::GetCapturedStderr();
    if (err) *err = e;
    return code;
  };
  std::string err;
  // A broken plan is refused (a finding: exit 1) and says how to override.
  EXPECT_EQ(posture({"posture", "activate", "shaky", "--reason", "drill"}, &err), 1);
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  EXPECT_FALSE(fleet_->Status().posture.has_value());
  EXPECT_EQ(posture({"posture", "activate", "nope", "--reason", "drill"}, &err), 1);
  EXPECT_NE(err.find("no posture `nope`"), std::string::npos) << err;

  ASSERT_EQ(posture({"posture", "activate", "lockdown", "--reason", "crisis"}), 0);
  ASSERT_TRUE(fleet_->Status().posture.has_value());
  EXPECT_EQ(fleet_->Status().posture->actor, "alice");
  EXPECT_EQ(fleet_->Status().posture->reason, "crisis");
  EXPECT_EQ(posture({"posture", "activate", "shaky", "--force", "--reason", "x"}, &err), 1);
  EXPECT_NE(err.find("lockdown is active"), std::string::npos) << err;

  ::testing::internal::CaptureStdout();
  int code = RunPolder({"status", "--controller", target_, "--format", "json", "--tls-dir", admin});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0);
  EXPECT_EQ(nlohmann::json::parse(out)["posture"], "lockdown");
  ::testing::internal::CaptureStdout();
  code = RunPolder({"status", "--controller", target_, "--tls-dir", admin});
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("posture lockdown active since "), std::string::npos) << out;
  EXPECT_NE(out.find("by alice: crisis"), std::string::npos) << out;

  // The library calls `polder lab drill` uses.
  ControllerConnection c{target_, admin, false};
  absl::StatusOr<v1::StatusResponse> st = FetchStatus(c);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->posture().name(), "lockdown");
  absl::StatusOr<std::string> again = ActivatePostureOn(c, "lockdown", "again");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  absl::StatusOr<std::string> released = ReleasePostureOn(c, "lockdown");
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, fleet_->Status().revision);
  EXPECT_FALSE(fleet_->Status().posture.has_value());
  EXPECT_EQ(ReleasePostureOn(c, "lockdown").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(posture({"posture", "release", "lockdown"}), 1);

  // Forced, and shown as such.
  ASSERT_EQ(posture({"posture", "activate", "shaky", "--force", "--reason", "drill"}), 0);
  EXPECT_TRUE(fleet_->Status().posture->forced);
  ::testing::internal::CaptureStdout();
  RunPolder({"status", "--controller", target_, "--tls-dir", admin});
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("FORCED"), std::string::npos) << out;
}

TEST_F(FleetCommandsLoopbackTest, AControllerThatRefusesConnectionsCannotBeReached) {
  std::string target = RefusingTarget();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--controller", target, "--insecure"},
        {"quarantine", "--controller", target, "--insecure", "web-1", "--reason", "x"},
        {"release", "--controller", target, "--insecure", "web-1"},
        {"posture", "activate", "--controller", target, "--insecure", "p", "--reason", "x"},
        {"posture", "release", "--controller", target, "--insecure", "p"}}) {
    ::testing::internal::CaptureStderr();
    int code = RunPolder(args);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 2) << args[0] << ": " << err;
    EXPECT_NE(err.find("polder: cannot reach controller " + target + ": connection refused"),
              std::string::npos)
        << args[0] << ": " << err;
  }
}

TEST_F(FleetCommandsLoopbackTest, AnAdminCertificateOfAnotherCaIsATlsFailureInWords) {
  std::string pki = (dir_ / "pki").string();
  std::string other = (dir_ / "other").string();
  ASSERT_EQ(RunPolder({"pki", "init", pki, "--controller-address", "127.0.0.1"}), 0);
  ASSERT_EQ(RunPolder({"pki", "init", other, "--controller-address", "127.0.0.1"}), 0);
  ASSERT_EQ(RunPolder({"pki", "issue", other, "--admin", "eve"}), 0);
  StartController();
  ::testing::internal::CaptureStderr();
  absl::Time start = absl::Now();
  int code = RunPolder({"status", "--controller", target_, "--tls-dir",
                        (dir_ / "other" / "admins" / "eve").string()});
  absl::Duration took = absl::Now() - start;
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2) << err;
  // One line, ours: gRPC's own log line about the handshake is not shown.
  EXPECT_EQ(err.rfind("polder: cannot reach controller " + target_ + ": TLS handshake failed (", 0),
            0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_LT(took, absl::Seconds(6));
}

TEST_F(FleetCommandsLoopbackTest, AControllerThatNeverAnswersTimesOut) {
  std::string pki = (dir_ / "pki").string();
  ASSERT_EQ(RunPolder({"pki", "init", pki, "--controller-name", "ctl.example"}), 0);
  ASSERT_EQ(RunPolder({"pki", "issue", pki, "--admin", "alice"}), 0);
  SilentListener silent;
  ::testing::internal::CaptureStderr();
  absl::Time start = absl::Now();
  int code = RunPolder({"status", "--controller", silent.target(), "--tls-dir",
                        (dir_ / "pki" / "admins" / "alice").string()});
  absl::Duration took = absl::Now() - start;
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2) << err;
  EXPECT_EQ(err, "polder: cannot reach controller " + silent.target() +
                     ": connection timed out after 5 s\n");
  EXPECT_LT(took, absl::Seconds(10));  // the connect timeout, not the call's 15 s
}

}  // namespace
}  // namespace polder::cli
