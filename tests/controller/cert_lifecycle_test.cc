// Certificates over their life, end to end on 127.0.0.1: the real controller
// (mutual TLS, the CRL in its --tls-dir) and the real agent uplink
// (ControllerClient over a fake kernel). A renewed certificate is used by
// the agent's next connection without a restart; a revoked one is cut from
// its open stream within 10 s and cannot connect again; a revoked admin
// certificate is refused while another admin's still works.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/enforcer.h"
#include "agent/ruleset_store.h"
#include "agent/testing/fake_nft_kernel.h"
#include "agent/uplink/controller_client.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/policy_source.h"
#include "controller/server.h"
#include "controller/state_store.h"
#include "pki/pki.h"
#include "polder/v1/polder.grpc.pb.h"

namespace polder {
namespace {

namespace fs = std::filesystem;

constexpr char kPolicy[] = R"(
settings:
  controller: { addresses: [10.9.0.2], port: 7443 }
zones:
  - { name: web, cidrs: [10.1.0.0/24] }
  - { name: db, cidrs: [10.2.0.0/24] }
hosts:
  - { name: web-1, addresses: [10.1.0.11] }
  - { name: db-1, addresses: [10.2.0.5] }
services:
  - { name: pg, ports: [tcp/5432] }
flows:
  - { from: web, to: db, services: [pg] }
)";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time end = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// One agent: the uplink over a fake kernel, as polder-agent runs it.
class Agent {
 public:
  Agent(const std::string& target, const std::string& host, const fs::path& tls_dir,
        const fs::path& state) {
    agent::Enforcer::Options eo;
    eo.watch_notifications = false;
    eo.full_check_interval = absl::Hours(1);
    enforcer_ = std::make_unique<agent::Enforcer>(
        std::make_unique<agent::FakeNftKernel>(), eo, [this](const agent::AgentEvent& e) {
          if (agent::ControllerClient* c = client_ptr_.load()) c->OnEnforcerEvent(e);
        });
    store_ = std::make_unique<agent::RulesetStore>(state);
    agent::ControllerClient::Options o;
    o.target = target;
    o.host = host;
    o.tls_dir = tls_dir.string();
    o.heartbeat_interval = absl::Milliseconds(200);
    o.backoff_initial = absl::Milliseconds(50);
    o.backoff_max = absl::Milliseconds(300);
    o.connect_timeout = absl::Seconds(2);
    auto c = agent::ControllerClient::Create(o, enforcer_.get(), store_.get(),
                                             [this](const std::string& l) {
                                               absl::MutexLock lock(&mu_);
                                               log_ += l;
                                             });
    EXPECT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    client_ptr_ = client_.get();
    EXPECT_TRUE(enforcer_->Start().ok());
    runner_ = std::thread([this] { client_->Run(); });
  }
  ~Agent() {
    client_->Stop();
    runner_.join();
    enforcer_->Stop();
    client_ptr_ = nullptr;
  }
  std::string log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }

 private:
  std::unique_ptr<agent::Enforcer> enforcer_;
  std::unique_ptr<agent::RulesetStore> store_;
  std::unique_ptr<agent::ControllerClient> client_;
  std::atomic<agent::ControllerClient*> client_ptr_{nullptr};
  std::thread runner_;
  absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
};

class CertLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller::SetLogEnabled(false);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ =
        fs::temp_directory_path() / absl::StrCat("cert-lifecycle-", getpid(), "-", info->name());
    fs::remove_all(root_);
    pki_ = root_ / "pki";
    ASSERT_TRUE(pki::InitPki(pki_, {}).ok());
    fs::create_directories(root_ / "policy");
    std::ofstream(root_ / "policy" / "p.yaml") << kPolicy;
  }
  void TearDown() override {
    StopController();
    fs::remove_all(root_);
  }
  // `listen` 127.0.0.1:0 the first time; the same port again after a restart.
  void StartController() {
    store_ = std::move(*controller::StateStore::Open(root_ / "state.db"));
    fleet_ = std::make_unique<controller::Fleet>(store_.get(),
                                                 controller::DirectoryCompiler(root_ / "policy"));
    ASSERT_TRUE(fleet_->Start(absl::Now()).ok());
    controller::ServerOptions options{absl::StrCat("127.0.0.1:", port_), pki::ControllerDir(pki_)};
    options.crl_check_period = absl::Milliseconds(200);
    auto server = controller::ControllerServer::Start(fleet_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    port_ = server_->port();
  }
  void StopController() {
    server_.reset();
    fleet_.reset();
    store_.reset();
  }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  bool Connected(const std::string& host) {
    for (const auto& h : fleet_->Status().hosts)
      if (h.host == host) return h.connected;
    return false;
  }
  grpc::Status AdminStatus(const std::string& admin) {
    fs::path d = pki_ / "admins" / admin;
    auto creds =
        grpc::SslCredentials({Slurp(d / "ca.crt"), Slurp(d / "admin.key"), Slurp(d / "admin.crt")});
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(target(), creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StatusResponse out;
    return stub->Status(&ctx, {}, &out);
  }

  fs::path root_, pki_;
  int port_ = 0;
  std::unique_ptr<controller::StateStore> store_;
  std::unique_ptr<controller::Fleet> fleet_;
  std::unique_ptr<controller::ControllerServer> server_;
};

TEST_F(CertLifecycleTest, RenewedFilesAreUsedByTheNextConnectionWithoutARestart) {
  // The first certificate expires a few seconds from now: only the renewed files can connect
  // once it has.
  // 20 s: the controller start and the first connection must fit before it, also on a loaded
  // 2-core machine.
  absl::Time expires = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 20);
  auto dir = pki::IssueAgent(pki_, "web-1", {std::nullopt, expires});
  ASSERT_TRUE(dir.ok()) << dir.status();
  StartController();
  Agent agent(target(), "web-1", *dir, root_ / "state-web-1");
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(20))) << agent.log();

  // Renewed with a new key while the agent runs; its open stream is left alone.
  ASSERT_TRUE(pki::RenewAgent(pki_, "web-1", {}, /*new_key=*/true).ok());
  EXPECT_TRUE(Connected("web-1"));

  // Wait until the first certificate has expired, then make the agent reconnect.
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > expires + absl::Seconds(1); }, absl::Seconds(30)));
  StopController();
  StartController();
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(20)))
      << "the agent did not reconnect with its renewed certificate:\n"
      << agent.log();
}

TEST_F(CertLifecycleTest, RevokedAgentIsCutWithinTenSecondsAndCannotReconnect) {
  ASSERT_TRUE(pki::IssueAgent(pki_, "web-1").ok());
  ASSERT_TRUE(pki::IssueAgent(pki_, "db-1").ok());
  StartController();
  Agent web(target(), "web-1", pki_ / "agents" / "web-1", root_ / "state-web-1");
  Agent db(target(), "db-1", pki_ / "agents" / "db-1", root_ / "state-db-1");
  ASSERT_TRUE(fleet_->WaitConnectedInSync(2, absl::Seconds(20))) << web.log() << db.log();
  ASSERT_EQ(server_->open_streams(), 2);

  absl::Time revoked_at = absl::Now();
  auto n = pki::RevokeAgent(pki_, "web-1", revoked_at);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1);
  ASSERT_TRUE(WaitFor([&] { return !Connected("web-1"); }, absl::Seconds(10)))
      << "web-1 still connected 10 s after its certificate was revoked";
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(10));
  EXPECT_GE(server_->crl_reloads(), 1);

  // It keeps trying and keeps being refused; db-1 is untouched.
  size_t refusals_before = 0;
  for (size_t p = 0; (p = web.log().find("\"reconnect\"", p)) != std::string::npos; ++p)
    ++refusals_before;
  ASSERT_TRUE(WaitFor(
      [&] {
        size_t count = 0;
        std::string log = web.log();
        for (size_t p = 0; (p = log.find("\"reconnect\"", p)) != std::string::npos; ++p) ++count;
        return count >= refusals_before + 3;
      },
      absl::Seconds(20)))
      << web.log();
  EXPECT_FALSE(Connected("web-1"));
  EXPECT_TRUE(Connected("db-1"));
  EXPECT_EQ(fleet_->ConnectedInSync(), 1);
}

TEST_F(CertLifecycleTest, RevokedAdminIsRefusedAndOtherAdminsAreNot) {
  ASSERT_TRUE(pki::IssueAdmin(pki_, "alice").ok());
  ASSERT_TRUE(pki::IssueAdmin(pki_, "mallory").ok());
  StartController();
  ASSERT_TRUE(AdminStatus("mallory").ok());
  ASSERT_TRUE(pki::RevokeAdmin(pki_, "mallory", absl::Now()).ok());
  // Refused once the controller has read the CRL (every call checks the serial).
  ASSERT_TRUE(WaitFor([&] { return server_->crl_reloads() >= 1; }, absl::Seconds(10)));
  grpc::Status s = AdminStatus("mallory");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "revoked")) << s.error_message();
  EXPECT_TRUE(AdminStatus("alice").ok());
}

TEST_F(CertLifecycleTest, ControllerRefusesADirectoryHoldingTheCaKeyAndABadCrl) {
  store_ = std::move(*controller::StateStore::Open(root_ / "state.db"));
  fleet_ = std::make_unique<controller::Fleet>(store_.get(),
                                               controller::DirectoryCompiler(root_ / "policy"));
  auto root = controller::ControllerServer::Start(fleet_.get(), {"127.0.0.1:0", pki_});
  ASSERT_FALSE(root.ok());
  EXPECT_TRUE(
      absl::StrContains(root.status().message(), "--tls-dir " + pki::ControllerDir(pki_).string()))
      << root.status();
  std::ofstream(pki::ControllerDir(pki_) / "crl.pem") << "not a CRL";
  auto bad =
      controller::ControllerServer::Start(fleet_.get(), {"127.0.0.1:0", pki::ControllerDir(pki_)});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "crl.pem")) << bad.status();
}

}  // namespace
}  // namespace polder
