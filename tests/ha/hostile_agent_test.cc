// A hostile client built from proto/ against a real controller on 127.0.0.1 with mutual TLS:
// everything an agent can send that the controller must refuse or not believe (issue 12,
// "trust nothing from an agent"), and the in-sync and generation rules of the Hello.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include "absl/time/clock.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/policy_source.h"
#include "controller/server.h"
#include "controller/state_store.h"
#include "pki/pki.h"
#include "tests/ha/raw_agent.h"
#include "wire/limits.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;
using testing::RawAgent;

constexpr char kPolicy[] = R"(
settings:
  controller: { addresses: [10.9.0.2], port: 7443 }
zones:
  - { name: internet, external: true, cidrs: [0.0.0.0/0] }
  - { name: web, cidrs: [10.1.0.0/24] }
  - { name: db, cidrs: [10.2.0.0/24] }
hosts:
  - { name: web-1, addresses: [10.1.0.11] }
  - { name: web-2, addresses: [10.1.0.12] }
  - { name: db-1, addresses: [10.2.0.5] }
services:
  - { name: https, ports: [tcp/443] }
  - { name: pg, ports: [tcp/5432] }
flows:
  - { from: internet, to: web, services: [https] }
  - { from: web, to: db, services: [pg] }
)";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Keys for every test of the binary: making them is the slow part.
class Pki {
 public:
  Pki() {
    root_ = fs::temp_directory_path() / ("ha-hostile-" + std::to_string(getpid()));
    fs::remove_all(root_);
    ca_ = root_ / "pki";
    EXPECT_TRUE(pki::InitPki(ca_, {}).ok());
    for (const char* h : {"web-1", "web-2", "db-1"}) EXPECT_TRUE(pki::IssueAgent(ca_, h).ok());
    EXPECT_TRUE(pki::IssueAdmin(ca_, "alice").ok());
  }
  ~Pki() { fs::remove_all(root_); }
  std::shared_ptr<grpc::ChannelCredentials> Agent(const std::string& host) const {
    fs::path d = ca_ / "agents" / host;
    return grpc::SslCredentials(
        {Slurp(ca_ / "ca.crt"), Slurp(d / "agent.key"), Slurp(d / "agent.crt")});
  }
  std::shared_ptr<grpc::ChannelCredentials> Admin() const {
    fs::path d = ca_ / "admins" / "alice";
    return grpc::SslCredentials(
        {Slurp(ca_ / "ca.crt"), Slurp(d / "admin.key"), Slurp(d / "admin.crt")});
  }
  fs::path root_, ca_;
};

const Pki& SharedPki() {
  static const Pki* pki = new Pki();
  return *pki;
}

// Polls `done` every 10 ms for at most 10 s; true once it holds.
template <typename F>
bool Eventually(F done) {
  absl::Time by = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > by) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class HostileAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    dir_ = SharedPki().root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_ / "policy");
    std::ofstream(dir_ / "policy" / "p.yaml") << kPolicy;
    StartController();
  }
  void TearDown() override {
    StopController();
    fs::remove_all(dir_);
  }
  void StartController() {
    store_ = std::move(*StateStore::Open(dir_ / "state.db"));
    fleet_ = std::make_unique<Fleet>(store_.get(), DirectoryCompiler(dir_ / "policy"));
    ASSERT_TRUE(fleet_->Start(absl::Now()).ok());
    auto server =
        ControllerServer::Start(fleet_.get(), {"127.0.0.1:0", pki::ControllerDir(SharedPki().ca_)});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void StopController() {
    server_.reset();
    fleet_.reset();
    store_.reset();
  }
  std::unique_ptr<RawAgent> Agent(const std::string& cert_host) {
    return std::make_unique<RawAgent>(target_, SharedPki().Agent(cert_host));
  }
  // Expects the stream to end with `code` before the fleet ever counted it connected.
  void ExpectRefused(RawAgent& a, grpc::StatusCode code) {
    auto end = a.WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), code) << end->error_message();
    EXPECT_TRUE(a.Messages().empty());
    EXPECT_EQ(fleet_->Metrics().agents_connected, 0);
  }
  v1::HostStatus Status(const std::string& host) {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Admin()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StatusResponse out;
    grpc::Status s = stub->Status(&ctx, {}, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& h : out.hosts())
      if (h.host() == host) return h;
    ADD_FAILURE() << "no host " << host;
    return {};
  }
  // A good agent still gets served: whatever came before did not break the controller.
  void ExpectStillServing() {
    auto good = Agent("db-1");
    ASSERT_TRUE(good->SendHello("db-1"));
    auto got = good->WaitMessages(1, absl::Seconds(10));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has_assignment());
  }

  fs::path dir_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<ControllerServer> server_;
  std::string target_;
};

TEST_F(HostileAgentTest, MessagesBeforeHelloAreRefusedAndNothingIsRecorded) {
  v1::AgentMessage heartbeat;
  heartbeat.mutable_heartbeat();
  v1::AgentMessage result;
  result.mutable_apply_result()->set_ok(true);
  result.mutable_apply_result()->set_ruleset_hash(std::string(64, 'a'));
  result.mutable_apply_result()->set_revision(std::string(64, 'b'));
  v1::AgentMessage drift;
  drift.mutable_drift_report()->add_differences("table deleted");
  for (const v1::AgentMessage& first : {heartbeat, result, drift, v1::AgentMessage()}) {
    auto a = Agent("web-1");
    ASSERT_TRUE(a->Send(first));
    ExpectRefused(*a, grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_TRUE(fleet_->Flush().ok());
  EXPECT_EQ(*store_->CountApplyResults("web-1"), 0);
  EXPECT_EQ(*store_->CountDriftReports("web-1"), 0);
  EXPECT_EQ(Status("web-1").reported_revision(), "");
  ExpectStillServing();
}

TEST_F(HostileAgentTest, ASecondHelloEndsTheStream) {
  auto a = Agent("web-1");
  ASSERT_TRUE(a->SendHello("web-1"));
  ASSERT_EQ(a->WaitMessages(1, absl::Seconds(10)).size(), 1u);
  ASSERT_TRUE(a->SendHello("web-1", wire::Sha256Hex("something else")));
  auto end = a->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << end->error_message();
  ASSERT_TRUE(Eventually([&] { return fleet_->Metrics().agents_connected == 0; }));
  // A Hello for another host than the certificate's is refused before the fleet sees it.
  auto b = Agent("web-1");
  ASSERT_TRUE(b->SendHello("web-2"));
  ExpectRefused(*b, grpc::StatusCode::PERMISSION_DENIED);
  ExpectStillServing();
}

TEST_F(HostileAgentTest, HashesThatAreNotHexAreRefused) {
  const std::string not_hex = std::string(63, 'a') + "g";
  const std::string upper(64, 'A');
  for (const std::string& bad : {not_hex, upper, std::string("abc"), std::string(65, 'a')}) {
    auto a = Agent("web-1");
    ASSERT_TRUE(a->SendHello("web-1", bad));
    ExpectRefused(*a, grpc::StatusCode::INVALID_ARGUMENT);
    auto b = Agent("web-1");
    ASSERT_TRUE(b->SendHello("web-1", "", 0, bad));
    ExpectRefused(*b, grpc::StatusCode::INVALID_ARGUMENT);
  }
  // In an apply result after a good Hello: refused, and not recorded.
  auto a = Agent("web-1");
  ASSERT_TRUE(a->SendHello("web-1"));
  auto got = a->WaitMessages(1, absl::Seconds(10));
  ASSERT_EQ(got.size(), 1u);
  v1::AgentMessage m;
  m.mutable_apply_result()->set_ok(true);
  m.mutable_apply_result()->set_revision(got[0].assignment().revision());
  m.mutable_apply_result()->set_ruleset_hash(not_hex);
  ASSERT_TRUE(a->Send(m));
  auto end = a->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(fleet_->Flush().ok());
  EXPECT_EQ(*store_->CountApplyResults("web-1"), 0);
  EXPECT_EQ(Status("web-1").applied_revision(), "");
}

TEST_F(HostileAgentTest, HugeDriftReportsAreRefusedOrStoredBounded) {
  {  // more differences than the wire allows
    auto a = Agent("web-1");
    ASSERT_TRUE(a->SendHello("web-1"));
    ASSERT_EQ(a->WaitMessages(1, absl::Seconds(10)).size(), 1u);
    v1::AgentMessage m;
    for (int i = 0; i <= wire::kMaxDifferences; ++i) m.mutable_drift_report()->add_differences("x");
    ASSERT_TRUE(a->Send(m));
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << end->error_message();
  }
  {  // one difference longer than allowed
    auto a = Agent("web-1");
    ASSERT_TRUE(a->SendHello("web-1"));
    ASSERT_EQ(a->WaitMessages(1, absl::Seconds(10)).size(), 1u);
    v1::AgentMessage m;
    m.mutable_drift_report()->add_differences(std::string(wire::kMaxDifferenceBytes + 1, 'x'));
    ASSERT_TRUE(a->Send(m));
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << end->error_message();
  }
  {  // a message larger than the controller takes at all
    auto a = Agent("web-1");
    ASSERT_TRUE(a->SendHello("web-1"));
    ASSERT_EQ(a->WaitMessages(1, absl::Seconds(10)).size(), 1u);
    v1::AgentMessage m;
    for (int i = 0; i < 2 * static_cast<int>(wire::kMaxMessageToControllerBytes / 4096); ++i)
      m.mutable_drift_report()->add_differences(std::string(4096, 'y'));
    a->Send(m);  // may fail: the controller may already have reset the stream
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_FALSE(end->ok());
  }
  ASSERT_TRUE(fleet_->Flush().ok());
  EXPECT_EQ(*store_->CountDriftReports("web-1"), 0);
  {  // the largest report allowed is taken, and stored clipped
    auto a = Agent("web-1");
    ASSERT_TRUE(a->SendHello("web-1"));
    ASSERT_EQ(a->WaitMessages(1, absl::Seconds(10)).size(), 1u);
    v1::AgentMessage m;
    for (int i = 0; i < wire::kMaxDifferences; ++i)
      m.mutable_drift_report()->add_differences(std::string(wire::kMaxDifferenceBytes, 'z'));
    ASSERT_TRUE(a->Send(m));
    ASSERT_TRUE(Eventually([&] { return fleet_->Metrics().drift_events == 1; }));
    EXPECT_FALSE(a->WaitEnd(absl::Milliseconds(1)).has_value());
    ASSERT_TRUE(fleet_->Flush().ok());
    EXPECT_EQ(*store_->CountDriftReports("web-1"), 1);
  }
  ExpectStillServing();
}

TEST_F(HostileAgentTest, RandomBytesAreRefusedAndTheControllerServesOn) {
  std::mt19937 rng(12);  // fixed: a failure can be replayed
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    // Junk either fails to parse (the read fails and the stream ends) or parses into a message
    // without a Hello: either way the stream ends at once, unanswered.
    auto r = polder::testing::SendRawBytes(target_, SharedPki().Agent("web-1"), junk);
    EXPECT_NE(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << "junk " << i;
    EXPECT_FALSE(r.got_reply) << "junk " << i << " was answered";
  }
  // Bytes that are no TLS at all, straight on the port.
  for (int i = 0; i < 5; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::string junk(8192, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)!write(fd, junk.data(), junk.size());
    close(fd);
  }
  EXPECT_EQ(fleet_->Metrics().agents_connected, 0);
  ExpectStillServing();
}

TEST_F(HostileAgentTest, AnApplyResultForARevisionNeverSentIsOnlyAClaim) {
  auto a = Agent("web-1");
  ASSERT_TRUE(a->SendHello("web-1"));
  auto got = a->WaitMessages(1, absl::Seconds(10));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].has_assignment());
  const std::string forged(64, 'f');
  v1::AgentMessage m;
  auto* r = m.mutable_apply_result();
  r->set_ok(true);
  r->set_revision(forged);
  r->set_ruleset_hash(wire::Sha256Hex("a ruleset nobody sent"));
  r->set_generation(got[0].assignment().generation());
  ASSERT_TRUE(a->Send(m));
  ASSERT_TRUE(Eventually([&] { return fleet_->Metrics().unverified_results == 1; }));
  v1::HostStatus h = Status("web-1");
  EXPECT_NE(h.applied_revision(), forged);
  EXPECT_EQ(h.reported_revision(), forged);
  // What the agent claimed and what the controller verified are stored apart, and stay apart
  // across a restart of the controller.
  ASSERT_TRUE(fleet_->Flush().ok());
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok());
  for (const auto& rec : *hosts) {
    if (rec.host != "web-1") continue;
    EXPECT_EQ(rec.reported_revision, forged);
    EXPECT_NE(rec.applied_revision, forged);
  }
  a.reset();
  StopController();
  StartController();
  h = Status("web-1");
  EXPECT_NE(h.applied_revision(), forged);
  EXPECT_EQ(h.reported_revision(), forged);
}

TEST_F(HostileAgentTest, AHelloThatRunsTheWantedRulesetGetsASmallInSyncReply) {
  auto a = Agent("web-1");
  ASSERT_TRUE(a->SendHello("web-1"));
  auto got = a->WaitMessages(1, absl::Seconds(10));
  ASSERT_EQ(got.size(), 1u);
  const v1::Assignment assignment = got[0].assignment();
  EXPECT_GT(assignment.generation(), 0u);
  ASSERT_TRUE(a->Ack(assignment));
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(10)));
  a.reset();
  int64_t sent_before = fleet_->Metrics().assignments_sent;
  // Reconnecting (a restart, a failover) with the same ruleset: nothing to apply.
  auto again = Agent("web-1");
  ASSERT_TRUE(again->SendHello("web-1", wire::Sha256Hex(assignment.ruleset()),
                               assignment.generation(), assignment.revision()));
  auto reply = again->WaitMessages(1, absl::Seconds(10));
  ASSERT_EQ(reply.size(), 1u);
  ASSERT_TRUE(reply[0].has_in_sync()) << reply[0].DebugString();
  EXPECT_EQ(reply[0].in_sync().generation(), assignment.generation());
  EXPECT_LT(reply[0].ByteSizeLong(), 1024u);
  EXPECT_EQ(fleet_->Metrics().assignments_sent, sent_before);
  EXPECT_EQ(Status("web-1").applied_revision(), assignment.revision());
}

TEST_F(HostileAgentTest, AnAgentAheadOfTheControllerIsNotRolledBack) {
  uint64_t ours = fleet_->Generation();
  auto a = Agent("web-1");
  ASSERT_TRUE(a->SendHello("web-1", wire::Sha256Hex("what a newer controller sent"), ours + 10,
                           std::string(64, 'c')));
  ASSERT_TRUE(Eventually([&] { return fleet_->Metrics().agents_ahead == 1; }));
  EXPECT_TRUE(a->Messages().empty()) << a->Messages()[0].DebugString();
  v1::HostStatus h = Status("web-1");
  ASSERT_GT(h.degraded_size(), 0);
  EXPECT_NE(h.degraded(0).find("controller-behind"), std::string::npos) << h.degraded(0);
  EXPECT_FALSE(a->WaitEnd(absl::Milliseconds(1)).has_value()) << "the agent stays connected";
}

TEST_F(HostileAgentTest, AReconnectStormBeyondTheRateIsRefusedAtOnce) {
  ServerOptions options{"127.0.0.1:0", pki::ControllerDir(SharedPki().ca_)};
  options.max_new_streams_per_second = 1;  // a burst of 1, then 1 per second
  auto limited = ControllerServer::Start(fleet_.get(), options);
  ASSERT_TRUE(limited.ok()) << limited.status();
  std::string target = "127.0.0.1:" + std::to_string((*limited)->port());
  std::vector<std::unique_ptr<RawAgent>> storm;
  for (int i = 0; i < 8; ++i) {
    storm.push_back(std::make_unique<RawAgent>(target, SharedPki().Agent("web-1")));
  }
  int refused = 0;
  for (auto& a : storm) {
    // A refused stream ends at once; an admitted one waits for its Hello.
    auto end = a->WaitEnd(absl::Milliseconds(500));
    if (end && end->error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  // However slowly this machine makes the 8 TLS connections, most are refused, and the first
  // is taken.
  EXPECT_GE(refused, 3);
  EXPECT_LE(refused, 7);
}

}  // namespace
}  // namespace polder::controller
