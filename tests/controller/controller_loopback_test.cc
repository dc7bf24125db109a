// End-to-end controller tests over 127.0.0.1 with real mutual TLS.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "controller/agent_service.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/policy_source.h"
#include "controller/server.h"
#include "controller/state_store.h"
#include "controller/traffic_marks.h"
#include "pki/pki.h"
#include "tests/controller/test_agent.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;
using testing::TestAgent;

constexpr char kPolicy[] = R"(
settings:
  controller: { addresses: [10.9.0.2], port: 7443 }
zones:
  - { name: internet, external: true, cidrs: [0.0.0.0/0] }
  - { name: web, cidrs: [10.1.0.0/24] }
  - { name: db, cidrs: [10.2.0.0/24] }
  - { name: mgmt, cidrs: [10.9.0.0/24] }
hosts:
  - { name: web-1, addresses: [10.1.0.11] }
  - { name: web-2, addresses: [10.1.0.12] }
  - { name: db-1, addresses: [10.2.0.5] }
  - { name: mgmt-1, addresses: [10.9.0.5] }
services:
  - { name: https, ports: [tcp/443] }
  - { name: pg, ports: [tcp/5432] }
  - { name: ssh, ports: [tcp/22] }
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

std::shared_ptr<grpc::ChannelCredentials> Creds(const fs::path& ca, const fs::path& dir,
                                                const std::string& stem) {
  return grpc::SslCredentials(
      {Slurp(ca), Slurp(dir / (stem + ".key")), Slurp(dir / (stem + ".crt"))});
}

// PKI shared by all tests: making keys is the slow part.
class Pki {
 public:
  Pki() {
    root_ = fs::temp_directory_path() / ("ctl-loopback-" + std::to_string(getpid()));
    fs::remove_all(root_);
    ca_ = root_ / "pki";
    EXPECT_TRUE(pki::InitPki(ca_, {}).ok());
    // Expired certificate for web-1, kept aside before the valid one is made.
    absl::Time now = absl::Now();
    auto expired = pki::IssueAgent(ca_, "web-1", {now - absl::Hours(48), now - absl::Hours(24)});
    EXPECT_TRUE(expired.ok());
    fs::rename(*expired, root_ / "expired-web-1");
    for (const char* h : {"web-1", "web-2", "db-1", "mgmt-1", "ghost"})
      EXPECT_TRUE(pki::IssueAgent(ca_, h).ok());
    EXPECT_TRUE(pki::IssueAdmin(ca_, "alice").ok());
    // A second CA whose certificates must not get in.
    EXPECT_TRUE(pki::InitPki(root_ / "other", {}).ok());
    EXPECT_TRUE(pki::IssueAgent(root_ / "other", "web-1").ok());
  }
  ~Pki() { fs::remove_all(root_); }
  fs::path ca_file() const { return ca_ / "ca.crt"; }
  std::shared_ptr<grpc::ChannelCredentials> Agent(const std::string& host) const {
    return Creds(ca_file(), ca_ / "agents" / host, "agent");
  }
  std::shared_ptr<grpc::ChannelCredentials> Admin() const {
    return Creds(ca_file(), ca_ / "admins" / "alice", "admin");
  }
  std::shared_ptr<grpc::ChannelCredentials> Expired() const {
    return Creds(ca_file(), root_ / "expired-web-1", "agent");
  }
  std::shared_ptr<grpc::ChannelCredentials> OtherCa() const {
    return Creds(ca_file(), root_ / "other" / "agents" / "web-1", "agent");
  }
  std::shared_ptr<grpc::ChannelCredentials> NoCertificate() const {
    return grpc::SslCredentials({Slurp(ca_file()), "", ""});
  }
  fs::path root_, ca_;
};

const Pki& SharedPki() {
  static const Pki* pki = new Pki();
  return *pki;
}

class ControllerLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = SharedPki().root_ / info->name();
    fs::create_directories(dir_ / "policy");
    WritePolicy(kPolicy);
    StartController();
  }
  void TearDown() override {
    StopController();
    fs::remove_all(dir_);
  }
  void WritePolicy(const std::string& text) { std::ofstream(dir_ / "policy" / "p.yaml") << text; }
  void StartController() {
    store_ = std::move(*StateStore::Open(dir_ / "state.db"));
    fleet_ = std::make_unique<Fleet>(store_.get(), DirectoryCompiler(dir_ / "policy"));
    ASSERT_TRUE(fleet_->Start(absl::Now()).ok());
    traffic_ = std::move(*TrafficStore::Open(dir_ / traffic_db_));
    ServerOptions options{"127.0.0.1:0", pki::ControllerDir(SharedPki().ca_)};
    options.traffic = traffic_.get();
    options.traffic_marks = traffic_marks_;
    auto server = ControllerServer::Start(fleet_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void StopController() {
    server_.reset();
    traffic_.reset();
    fleet_.reset();
    store_.reset();
  }
  std::unique_ptr<TestAgent> Agent(std::shared_ptr<grpc::ChannelCredentials> creds) {
    return std::make_unique<TestAgent>(target_, creds);
  }
  // A connected agent for `host` that applied its first assignment.
  std::unique_ptr<TestAgent> SyncedAgent(const std::string& host) {
    auto a = Agent(SharedPki().Agent(host));
    EXPECT_TRUE(a->SendHello(host));
    auto got = a->WaitAssignments(1, absl::Seconds(10));
    EXPECT_EQ(got.size(), 1u) << host;
    if (!got.empty()) a->Ack(got[0]);
    return a;
  }
  grpc::Status AdminStatus(std::shared_ptr<grpc::ChannelCredentials> creds,
                           v1::StatusResponse* out) {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Status(&ctx, {}, out);
  }
  const v1::HostStatus* Find(const v1::StatusResponse& s, const std::string& host) {
    for (const auto& h : s.hosts())
      if (h.host() == host) return &h;
    return nullptr;
  }
  // Expects the stream to be refused with `code`; the fleet never saw it.
  void ExpectRefused(TestAgent& a, grpc::StatusCode code) {
    auto end = a.WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), code) << end->error_message();
    EXPECT_TRUE(a.Assignments().empty());
    EXPECT_EQ(fleet_->Metrics().agents_connected, 0);
  }

  fs::path dir_;
  // Another name stands for another controller of the fleet, with a database of its own.
  std::string traffic_db_ = "traffic.db";
  TrafficMarks* traffic_marks_ = nullptr;  // the fleet's shared marks, if any
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Fleet> fleet_;
  std::unique_ptr<TrafficStore> traffic_;
  std::unique_ptr<ControllerServer> server_;
  std::string target_;
};

v1::AgentMessage TrafficBatch(const std::string& host, uint64_t sequence, uint64_t connections) {
  v1::AgentMessage m;
  auto* b = m.mutable_traffic_batch();
  b->set_host(host);
  b->set_epoch(7);
  b->set_sequence(sequence);
  int64_t end = absl::ToUnixSeconds(absl::Now());
  b->mutable_start()->set_seconds(end - 60);
  b->mutable_end()->set_seconds(end);
  auto* s = b->add_samples();
  s->set_direction(v1::TRAFFIC_DIRECTION_IN);
  s->set_local("10.0.0.1");
  s->set_peer("10.0.0.2");
  s->set_protocol(v1::TRAFFIC_PROTOCOL_TCP);
  s->set_port(443);
  s->set_verdict(v1::TRAFFIC_VERDICT_ALLOWED);
  s->set_connections(connections);
  return m;
}

uint64_t Connections(const v1::TrafficResponse& r) {
  uint64_t n = 0;
  for (const auto& b : r.reports())
    for (const auto& s : b.samples()) n += s.connections();
  return n;
}

// Each batch is acknowledged; one sent again (an agent's replay after a lost ack) is
// acknowledged again and counted once, on a new stream and after a controller restart too.
TEST_F(ControllerLoopbackTest, TrafficBatchesAreAckedAndAResendCountsOnce) {
  auto traffic = [&](v1::TrafficResponse* out) {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Admin()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Traffic(&ctx, {}, out);
  };
  {
    auto a = SyncedAgent("web-1");
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 1, 3)));
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 2, 4)));
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 2, 4)));  // resent
    auto acks = a->WaitTrafficAcks(3, absl::Seconds(10));
    ASSERT_EQ(acks.size(), 3u);
    EXPECT_EQ(acks[0].sequence(), 1u);
    EXPECT_EQ(acks[1].sequence(), 2u);
    EXPECT_EQ(acks[2].sequence(), 2u);
    EXPECT_EQ(acks[2].epoch(), 7u);
  }
  StopController();
  StartController();
  auto a = SyncedAgent("web-1");
  ASSERT_TRUE(a->Send(TrafficBatch("web-1", 1, 3)));  // replayed after a restart
  ASSERT_TRUE(a->Send(TrafficBatch("web-1", 3, 5)));
  ASSERT_EQ(a->WaitTrafficAcks(2, absl::Seconds(10)).size(), 2u);
  v1::TrafficResponse r;
  ASSERT_TRUE(traffic(&r).ok());
  EXPECT_EQ(Connections(r), 12u);
  ASSERT_EQ(r.coverage_size(), 1);
  EXPECT_EQ(r.coverage(0).batches(), 3u);
  EXPECT_EQ(r.coverage(0).duplicates(), 2u);
  // An agent certificate may not read traffic.
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Agent("web-1")));
  grpc::ClientContext ctx;
  v1::TrafficResponse denied;
  EXPECT_EQ(stub->Traffic(&ctx, {}, &denied).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// The fleet's shared marks in memory (etcd's are tested in tests/ha/traffic_marks_test.cc).
class MemoryMarks : public TrafficMarks {
 public:
  absl::StatusOr<Mark> Get(const std::string& host) override {
    absl::MutexLock lock(&mu_);
    if (!reachable_) return absl::UnavailableError("the store is down (test)");
    return marks_[host];
  }
  absl::Status Advance(const std::string& host, Mark to) override {
    absl::MutexLock lock(&mu_);
    if (!reachable_) return absl::UnavailableError("the store is down (test)");
    marks_[host] = std::max(marks_[host], to);
    return absl::OkStatus();
  }
  absl::Status NoteStored(absl::Time now) override {
    absl::MutexLock lock(&mu_);
    last_stored_ = now;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Holder>> Holders() override {
    absl::MutexLock lock(&mu_);
    return std::vector<Holder>{{id_, "127.0.0.1:1", last_stored_}};
  }
  const std::string& id() const override { return id_; }
  void set_reachable(bool r) {
    absl::MutexLock lock(&mu_);
    reachable_ = r;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, Mark> marks_ ABSL_GUARDED_BY(mu_);
  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time last_stored_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  const std::string id_ = "controller-under-test";
};

// An agent that fails over sends the batches its old controller stored but never acknowledged
// to the new one, whose own database does not have them: the fleet's mark makes them
// duplicates there, so the fleet counts each batch once. Without the mark, none is taken.
TEST_F(ControllerLoopbackTest, AResendToAnotherControllerIsCountedOnceInTheFleet) {
  MemoryMarks marks;
  StopController();
  traffic_marks_ = &marks;
  traffic_db_ = "controller-a.db";
  StartController();
  {
    auto a = SyncedAgent("web-1");
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 1, 3)));
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 2, 4)));
    ASSERT_EQ(a->WaitTrafficAcks(2, absl::Seconds(10)).size(), 2u);
  }
  EXPECT_EQ(*marks.Get("web-1"), (TrafficMarks::Mark{7, 2}));
  StopController();
  traffic_db_ = "controller-b.db";
  StartController();
  auto admin_traffic = [&](v1::TrafficResponse* out) {
    auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Admin()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Traffic(&ctx, {}, out);
  };
  {
    auto a = SyncedAgent("web-1");
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 2, 4)));  // its ack was lost with controller A
    ASSERT_TRUE(a->Send(TrafficBatch("web-1", 3, 5)));
    ASSERT_EQ(a->WaitTrafficAcks(2, absl::Seconds(10)).size(), 2u);
  }
  v1::TrafficResponse b;
  ASSERT_TRUE(admin_traffic(&b).ok());
  EXPECT_EQ(Connections(b), 5u);  // batch 3 only: 1 and 2 are controller A's
  ASSERT_EQ(b.coverage_size(), 1);
  EXPECT_EQ(b.coverage(0).batches(), 1u);
  EXPECT_EQ(b.coverage(0).duplicates(), 1u);
  EXPECT_EQ(*marks.Get("web-1"), (TrafficMarks::Mark{7, 3}));
  // The answer names this controller among the fleet's holders of traffic, for the CLI.
  EXPECT_EQ(b.controller_id(), "controller-under-test");
  ASSERT_EQ(b.holders_size(), 1);
  EXPECT_GT(b.holders(0).last_stored().seconds(), 0);
  // A mark that cannot be read: the batch is neither stored nor acknowledged (the agent keeps
  // it and sends it again).
  marks.set_reachable(false);
  auto a = SyncedAgent("web-1");
  ASSERT_TRUE(a->Send(TrafficBatch("web-1", 4, 6)));
  auto end = a->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE) << end->error_message();
  EXPECT_TRUE(a->WaitTrafficAcks(1, absl::ZeroDuration()).empty());
  marks.set_reachable(true);
  v1::TrafficResponse after;
  ASSERT_TRUE(admin_traffic(&after).ok());
  EXPECT_EQ(Connections(after), 5u);
  StopController();
  traffic_marks_ = nullptr;
}

// A batch for another host, or a malformed one, ends the stream and stores nothing.
TEST_F(ControllerLoopbackTest, ForeignOrMalformedTrafficBatchesAreRejected) {
  {
    auto a = SyncedAgent("web-1");
    a->Send(TrafficBatch("db-1", 1, 3));
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::PERMISSION_DENIED) << end->error_message();
  }
  {
    auto a = SyncedAgent("web-1");
    v1::AgentMessage m = TrafficBatch("web-1", 1, 3);
    m.mutable_traffic_batch()->mutable_samples(0)->set_peer("not an address");
    a->Send(m);
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << end->error_message();
  }
  auto answer = traffic_->Query(absl::InfinitePast(), "", absl::Now(), 1000);
  ASSERT_TRUE(answer.ok());
  EXPECT_TRUE(answer->reports.empty());
  EXPECT_TRUE(answer->coverage.empty());
}

TEST_F(ControllerLoopbackTest, AgentGetsItsOwnRulesetAndReportsBack) {
  auto a = Agent(SharedPki().Agent("web-1"));
  ASSERT_TRUE(a->SendHello("web-1"));
  auto got = a->WaitAssignments(1, absl::Seconds(10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(absl::StrContains(got[0].ruleset(), "host=web-1")) << got[0].ruleset();
  EXPECT_EQ(got[0].ruleset_hash(), wire::Sha256Hex(got[0].ruleset()));
  EXPECT_EQ(got[0].mode(), v1::MODE_ENFORCE);
  EXPECT_GT(got[0].confirm_deadline().seconds(), absl::ToUnixSeconds(absl::Now()));
  ASSERT_TRUE(a->Ack(got[0]));
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(10)));
  v1::StatusResponse st;
  ASSERT_TRUE(AdminStatus(SharedPki().Admin(), &st).ok());
  const auto* h = Find(st, "web-1");
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->connected());
  EXPECT_EQ(h->applied_revision(), st.revision());
  EXPECT_FALSE(Find(st, "db-1")->connected());
}

TEST_F(ControllerLoopbackTest, ClientWithoutCertificateIsRefused) {
  auto a = Agent(SharedPki().NoCertificate());
  a->SendHello("web-1");
  ExpectRefused(*a, grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ControllerLoopbackTest, CertificateFromAnotherCaIsRefused) {
  auto a = Agent(SharedPki().OtherCa());
  a->SendHello("web-1");
  ExpectRefused(*a, grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ControllerLoopbackTest, ExpiredCertificateIsRefused) {
  auto a = Agent(SharedPki().Expired());
  a->SendHello("web-1");
  ExpectRefused(*a, grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ControllerLoopbackTest, AnotherHostsCertificateIsRefused) {
  auto a = Agent(SharedPki().Agent("web-2"));
  a->SendHello("web-1");
  ExpectRefused(*a, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ControllerLoopbackTest, AdminCertificateCannotPoseAsAgent) {
  auto a = Agent(SharedPki().Admin());
  a->SendHello("alice");
  ExpectRefused(*a, grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ControllerLoopbackTest, HostNotInPolicyIsRefusedWithClearMessage) {
  auto a = Agent(SharedPki().Agent("ghost"));
  a->SendHello("ghost");
  auto end = a->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(end->error_message(), "not in the policy")) << end->error_message();
}

TEST_F(ControllerLoopbackTest, AdminServiceRefusesAgentCertificates) {
  v1::StatusResponse st;
  grpc::Status s = AdminStatus(SharedPki().Agent("web-1"), &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.hosts_size(), 0);
  EXPECT_EQ(AdminStatus(SharedPki().NoCertificate(), &st).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Agent("web-1")));
  grpc::ClientContext ctx;
  v1::QuarantineRequest q;
  q.set_target("web-2");
  q.set_reason("hijack attempt");
  v1::QuarantineResponse qr;
  EXPECT_EQ(stub->Quarantine(&ctx, q, &qr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(fleet_->Status().quarantines.empty());
}

TEST_F(ControllerLoopbackTest, MalformedMessagesAreRejected) {
  {  // first message not a Hello
    auto a = Agent(SharedPki().Agent("web-1"));
    v1::AgentMessage m;
    m.mutable_heartbeat();
    a->Send(m);
    ExpectRefused(*a, grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // Hello with a hash that is no hash
    auto a = Agent(SharedPki().Agent("web-1"));
    a->SendHello("web-1", "not-a-sha256");
    ExpectRefused(*a, grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // empty message
    auto a = Agent(SharedPki().Agent("web-1"));
    a->Send(v1::AgentMessage());
    ExpectRefused(*a, grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // a bad report after a good Hello; the report is not recorded
    auto a = Agent(SharedPki().Agent("web-1"));
    a->SendHello("web-1");
    ASSERT_EQ(a->WaitAssignments(1, absl::Seconds(10)).size(), 1u);
    v1::AgentMessage m;
    m.mutable_drift_report()->set_pid(-1);
    a->Send(m);
    auto end = a->WaitEnd(absl::Seconds(10));
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    ASSERT_TRUE(fleet_->Flush().ok());
    EXPECT_EQ(*store_->CountDriftReports("web-1"), 0);
  }
}

TEST_F(ControllerLoopbackTest, ApplyResultsThatAnswerNothingSentAreNotBelieved) {
  auto a = Agent(SharedPki().Agent("web-1"));
  ASSERT_TRUE(a->SendHello("web-1"));
  auto got = a->WaitAssignments(1, absl::Seconds(10));
  ASSERT_EQ(got.size(), 1u);
  // Well formed, but a revision and ruleset this controller never sent.
  const std::string forged(64, 'f');
  v1::AgentMessage m;
  auto* r = m.mutable_apply_result();
  r->set_ok(true);
  r->set_revision(forged);
  r->set_ruleset_hash(wire::Sha256Hex("a ruleset nobody sent"));
  ASSERT_TRUE(a->Send(m));
  // A success for the right revision with another ruleset's hash is not believed either.
  r->set_revision(got[0].revision());
  ASSERT_TRUE(a->Send(m));
  absl::Time by = absl::Now() + absl::Seconds(10);
  while (fleet_->Metrics().unverified_results < 2 && absl::Now() < by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(fleet_->Metrics().unverified_results, 2);
  v1::StatusResponse st;
  ASSERT_TRUE(AdminStatus(SharedPki().Admin(), &st).ok());
  const v1::HostStatus* h = Find(st, "web-1");
  ASSERT_NE(h, nullptr);
  EXPECT_NE(h->applied_revision(), forged);
  EXPECT_NE(h->applied_revision(), got[0].revision());
  EXPECT_EQ(h->reported_revision(), got[0].revision());
  EXPECT_TRUE(a->Ack(got[0]));  // the real answer is taken
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(10)));
  ASSERT_TRUE(AdminStatus(SharedPki().Admin(), &st).ok());
  EXPECT_EQ(Find(st, "web-1")->applied_revision(), st.revision());
  EXPECT_EQ(Find(st, "web-1")->reported_revision(), "");
  EXPECT_FALSE(a->WaitEnd(absl::Milliseconds(1)).has_value());  // ignored, not a reason to hang up
}

TEST_F(ControllerLoopbackTest, StreamsThatNeverSayHelloAreBoundedPerCertificate) {
  std::vector<std::unique_ptr<TestAgent>> silent;
  for (int i = 0; i < SilentStreams::kMaxPerPeer; ++i) {
    silent.push_back(Agent(SharedPki().Agent("web-1")));
  }
  // The server must have seen every silent stream before the extra one arrives.
  absl::Time seen_by = absl::Now() + absl::Seconds(10);
  while (server_->agent_service().StreamsWithoutHello("web-1") < SilentStreams::kMaxPerPeer &&
         absl::Now() < seen_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server_->agent_service().StreamsWithoutHello("web-1"), SilentStreams::kMaxPerPeer);
  auto extra = Agent(SharedPki().Agent("web-1"));
  auto end = extra->WaitEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << end->error_message();
  // Another certificate is not held back by them, and once one of them speaks, web-1 may
  // open a stream again.
  auto db = Agent(SharedPki().Agent("db-1"));
  ASSERT_TRUE(db->SendHello("db-1"));
  EXPECT_EQ(db->WaitAssignments(1, absl::Seconds(10)).size(), 1u);
  ASSERT_TRUE(silent[0]->SendHello("web-1"));
  EXPECT_EQ(silent[0]->WaitAssignments(1, absl::Seconds(10)).size(), 1u);
  // The freed slot admits a new silent stream: it is served once it speaks (a refused one
  // would have ended before its Hello and received nothing).
  auto again = Agent(SharedPki().Agent("web-1"));
  absl::Time admitted_by = absl::Now() + absl::Seconds(10);
  while (server_->agent_service().StreamsWithoutHello("web-1") < SilentStreams::kMaxPerPeer &&
         absl::Now() < admitted_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server_->agent_service().StreamsWithoutHello("web-1"), SilentStreams::kMaxPerPeer);
  ASSERT_TRUE(again->SendHello("web-1"));
  EXPECT_EQ(again->WaitAssignments(1, absl::Seconds(10)).size(), 1u);
  EXPECT_FALSE(again->WaitEnd(absl::Milliseconds(1)).has_value());
}

TEST_F(ControllerLoopbackTest, OnlyChangedHostsReceiveNewAssignments) {
  std::map<std::string, std::unique_ptr<TestAgent>> agents;
  for (const char* h : {"web-1", "web-2", "db-1", "mgmt-1"}) agents[h] = SyncedAgent(h);
  ASSERT_TRUE(fleet_->WaitConnectedInSync(4, absl::Seconds(10)));
  // mgmt -> db ssh concerns db-1 (inbound) and mgmt-1 (outbound) only.
  WritePolicy(std::string(kPolicy) + "  - { from: mgmt, to: db, services: [ssh] }\n");
  ASSERT_TRUE(fleet_->Reload(absl::Now()).ok());
  // Reload decides every assignment before it returns: exactly two were added.
  EXPECT_EQ(fleet_->Metrics().assignments_sent, 6);
  EXPECT_EQ(agents["db-1"]->WaitAssignments(2, absl::Seconds(10)).size(), 2u);
  EXPECT_EQ(agents["mgmt-1"]->WaitAssignments(2, absl::Seconds(10)).size(), 2u);
  std::string middle = fleet_->Status().revision;
  // A change that does concern web-1 and web-2 is their marker: a stream delivers in order, so
  // when it arrives as their second assignment, nothing came from the rollout before it.
  WritePolicy(std::string(kPolicy) + "  - { from: mgmt, to: db, services: [ssh] }\n" +
              "  - { from: mgmt, to: web, services: [ssh] }\n");
  ASSERT_TRUE(fleet_->Reload(absl::Now()).ok());
  for (const char* h : {"web-1", "web-2"}) {
    auto got = agents[h]->WaitAssignments(2, absl::Seconds(10));
    ASSERT_EQ(got.size(), 2u) << h;
    EXPECT_NE(got[1].revision(), middle) << h;
    EXPECT_EQ(got[1].revision(), fleet_->Status().revision) << h;
  }
}

TEST_F(ControllerLoopbackTest, BrokenPolicyKeepsServingLastGoodRevision) {
  auto a = SyncedAgent("db-1");
  std::string good = fleet_->Status().revision;
  WritePolicy(std::string(kPolicy) + "  - { from: nowhere, to: db, services: [ssh] }\n");
  EXPECT_FALSE(fleet_->Reload(absl::Now()).ok());
  v1::StatusResponse st;
  ASSERT_TRUE(AdminStatus(SharedPki().Admin(), &st).ok());
  EXPECT_EQ(st.revision(), good);
  EXPECT_TRUE(absl::StrContains(st.policy_error(), "unknown-ref")) << st.policy_error();
  // A fixed policy that concerns db-1 is the marker: its assignment must be the second one,
  // so the broken revision sent nothing.
  WritePolicy(std::string(kPolicy) + "  - { from: mgmt, to: db, services: [ssh] }\n");
  ASSERT_TRUE(fleet_->Reload(absl::Now()).ok());
  auto got = a->WaitAssignments(2, absl::Seconds(10));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].revision(), fleet_->Status().revision);
  EXPECT_NE(got[1].revision(), good);
}

TEST_F(ControllerLoopbackTest, QuarantineAndStateSurviveRestart) {
  auto web1 = SyncedAgent("web-1");
  auto mgmt = SyncedAgent("mgmt-1");
  ASSERT_TRUE(fleet_->WaitConnectedInSync(2, absl::Seconds(10)));
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Admin()));
  int64_t sent_before = fleet_->Metrics().assignments_sent;
  {
    grpc::ClientContext ctx;
    v1::QuarantineRequest q;
    q.set_target("web-1");
    q.add_allow("mgmt");
    q.set_reason("incident 42");
    v1::QuarantineResponse r;
    ASSERT_TRUE(stub->Quarantine(&ctx, q, &r).ok());
  }
  // Pushed at once to the quarantined host; the allowed zone is untouched.
  auto got = web1->WaitAssignments(2, absl::Seconds(10));
  ASSERT_EQ(got.size(), 2u);
  web1->Ack(got[1]);
  // The order's rollout was decided before the RPC answered: one assignment, to web-1 only.
  EXPECT_EQ(fleet_->Metrics().assignments_sent, sent_before + 1);
  EXPECT_EQ(mgmt->Assignments().size(), 1u);
  ASSERT_TRUE(fleet_->WaitConnectedInSync(2, absl::Seconds(10)));
  std::string revision = fleet_->Status().revision;
  web1.reset();
  mgmt.reset();

  StopController();
  StartController();
  v1::StatusResponse st;
  ASSERT_TRUE(AdminStatus(SharedPki().Admin(), &st).ok());
  EXPECT_EQ(st.revision(), revision);
  ASSERT_EQ(st.quarantines_size(), 1);
  EXPECT_EQ(st.quarantines(0).reason(), "incident 42");
  EXPECT_EQ(st.quarantines(0).actor(), "alice");
  EXPECT_TRUE(Find(st, "web-1")->quarantined());
  EXPECT_EQ(Find(st, "web-1")->applied_revision(), revision);
  EXPECT_FALSE(Find(st, "web-1")->connected());
  EXPECT_TRUE(Find(st, "web-1")->has_last_report());
  // An agent that reconnects with what it applied gets nothing new.
  auto again = Agent(SharedPki().Agent("web-1"));
  again->SendHello("web-1", got[1].ruleset_hash());
  ASSERT_TRUE(fleet_->WaitConnectedInSync(1, absl::Seconds(10)));
  EXPECT_TRUE(again->Assignments().empty());

  v1::AuditLogResponse log;
  auto stub2 = v1::Admin::NewStub(grpc::CreateChannel(target_, SharedPki().Admin()));
  grpc::ClientContext ctx2;
  ASSERT_TRUE(stub2->AuditLog(&ctx2, {}, &log).ok());
  bool found = false;
  for (const auto& e : log.entries())
    found |= e.kind() == "quarantine" && e.target() == "web-1" && e.actor() == "alice";
  EXPECT_TRUE(found);
  grpc::ClientContext ctx3;
  v1::ReleaseRequest rel;
  rel.set_target("web-1");
  v1::ReleaseResponse rr;
  ASSERT_TRUE(stub2->Release(&ctx3, rel, &rr).ok());
  EXPECT_EQ(again->WaitAssignments(1, absl::Seconds(10)).size(), 1u);
}

}  // namespace
}  // namespace polder::controller
