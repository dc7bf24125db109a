// ControllerClient against an in-process fake controller (gRPC on 127.0.0.1, insecure) and an
// Enforcer over the fake kernel: Hello contents, applying and reporting, refusing malformed
// assignments, drift reports, commit confirmed with rollback, reconnecting, and the stored
// ruleset enforced by a restarted agent before any controller is reachable.
#include "agent/uplink/controller_client.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/testing/fake_clock.h"
#include "agent/testing/fake_nft_kernel.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/uplink/messages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "polder/v1/polder.grpc.pb.h"
#include "wire/sha256.h"

namespace polder::agent {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Records what agents send and sends what the test queues, on every stream it serves.
class FakeController final : public v1::AgentService::Service {
 public:
  grpc::Status Connect(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::AgentMessage>* stream) override {
    {
      absl::MutexLock lock(&mu_);
      live_.insert(ctx);
    }
    std::atomic<bool> done{false};
    std::thread writer([&] {
      while (!done) {
        std::optional<v1::ControllerMessage> next;
        {
          absl::MutexLock lock(&mu_);
          // `done` is no member of mu_'s state: look at it again every 20 ms.
          mu_.AwaitWithTimeout(absl::Condition(this, &FakeController::HasToSend),
                               absl::Milliseconds(20));
          if (to_send_.empty()) continue;
          next = std::move(to_send_.front());
          to_send_.pop_front();
        }
        stream->Write(*next);
      }
    });
    v1::AgentMessage m;
    while (stream->Read(&m)) {
      absl::MutexLock lock(&mu_);
      received_.push_back(m);
    }
    done = true;
    writer.join();
    absl::MutexLock lock(&mu_);
    live_.erase(ctx);
    return grpc::Status::OK;
  }

  // Ends every stream being served now, as a controller going away would.
  void EndStreams() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (grpc::ServerContext* ctx : live_) ctx->TryCancel();
  }

  void Assign(const v1::Assignment& a) ABSL_LOCKS_EXCLUDED(mu_) {
    v1::ControllerMessage m;
    *m.mutable_assignment() = a;
    Send(m);
  }
  void Send(const v1::ControllerMessage& m) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    to_send_.push_back(m);
  }

  // The first message at index >= from matching `pred`, waiting up to `timeout`.
  std::optional<v1::AgentMessage> WaitFor(std::function<bool(const v1::AgentMessage&)> pred,
                                          size_t from = 0,
                                          absl::Duration timeout = absl::Seconds(10))
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::optional<v1::AgentMessage> found;
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (size_t i = from; i < received_.size(); ++i) {
        if (pred(received_[i])) {
          found = received_[i];
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
    return found;
  }
  size_t received() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return received_.size();
  }

 private:
  bool HasToSend() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !to_send_.empty(); }

  absl::Mutex mu_;
  std::vector<v1::AgentMessage> received_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ControllerMessage> to_send_ ABSL_GUARDED_BY(mu_);
  std::set<grpc::ServerContext*> live_ ABSL_GUARDED_BY(mu_);
};

bool IsHello(const v1::AgentMessage& m) { return m.has_hello(); }
bool IsResult(const v1::AgentMessage& m) { return m.has_apply_result(); }

v1::Assignment AssignmentFor(const std::string& text, std::optional<absl::Time> deadline = {}) {
  auto parsed = ParseRuleset(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  v1::Assignment a;
  a.set_revision(parsed->revision);
  a.set_ruleset(text);
  a.set_ruleset_hash(parsed->hash);
  a.set_mode(v1::MODE_ENFORCE);
  if (deadline) a.mutable_confirm_deadline()->set_seconds(absl::ToUnixSeconds(*deadline));
  return a;
}

class ControllerClientTest : public ::testing::Test {
 protected:
  // Applies V1, then the table cannot be read: the controller must hear it.
  void ExpectKernelReadErrorReported();
  void SetUp() override {
    char tmpl[] = "/tmp/polder-client-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_dir_ = dir_ / "state";
    StartServer(0);
  }
  void TearDown() override {
    StopAgent();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    fs::remove_all(dir_);
  }

  void StartServer(int port) {
    fake_ = std::make_unique<FakeController>();
    grpc::ServerBuilder b;
    b.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(fake_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void KillServer() {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }

  // `adjust` changes the client's options after the test defaults are set.
  void StartAgent(const std::function<void(ControllerClient::Options&)>& adjust = {}) {
    auto kernel = std::make_unique<FakeNftKernel>();
    kernel_ = kernel.get();
    Enforcer::Options eo;
    eo.watch_notifications = false;
    eo.full_check_interval = absl::Hours(1);
    enforcer_ = std::make_unique<Enforcer>(std::move(kernel), eo, [this](const AgentEvent& e) {
      if (e.kind == AgentEvent::Kind::kApplied) {
        absl::MutexLock lock(&log_mu_);
        applied_hashes_.push_back(e.hash);
      }
      if (ControllerClient* c = client_ptr_.load()) c->OnEnforcerEvent(e);
    });
    store_ = std::make_unique<RulesetStore>(state_dir_);
    ControllerClient::Options o;
    o.target = absl::StrCat("127.0.0.1:", port_);
    o.host = "db-1";
    o.agent_version = "test/1";
    o.heartbeat_interval = absl::Milliseconds(200);
    o.backoff_initial = absl::Milliseconds(50);
    o.backoff_max = absl::Milliseconds(300);
    o.connect_timeout = absl::Milliseconds(500);
    o.confirm_min = absl::Seconds(1);
    o.confirm_attempt = absl::Milliseconds(300);
    o.reachable = [this](absl::Time deadline) {
      if (reachable_) return true;
      absl::SleepFor(std::max(absl::ZeroDuration(), deadline - absl::Now()));
      return false;
    };
    if (adjust) adjust(o);
    auto c =
        ControllerClient::Create(o, enforcer_.get(), store_.get(), [this](const std::string& l) {
          absl::MutexLock lock(&log_mu_);
          log_ += l;
        });
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    client_ptr_ = client_.get();
    ASSERT_TRUE(enforcer_->Start().ok());
    client_->RestoreStored();
    runner_ = std::thread([this] { client_->Run(); });
  }
  void StopAgent() {
    if (!client_) return;
    client_->Stop();
    runner_.join();
    enforcer_->Stop();
    client_ptr_ = nullptr;
    client_.reset();
    enforcer_.reset();
  }
  // The fake kernel's table, read on the enforcer's thread.
  std::string Table() {
    enforcer_->CheckNow().get().IgnoreError();
    return kernel_->table.value_or("");
  }
  bool AppliedHash(const std::string& hash) {
    absl::MutexLock lock(&log_mu_);
    return std::find(applied_hashes_.begin(), applied_hashes_.end(), hash) != applied_hashes_.end();
  }
  std::string LogText() {
    absl::MutexLock lock(&log_mu_);
    return log_;
  }
  // How many lines of `event` the client has logged, in this test's every agent.
  int Logged(const std::string& event) ABSL_LOCKS_EXCLUDED(log_mu_) {
    absl::MutexLock lock(&log_mu_);
    return CountLogged(event);
  }
  // Waits (up to 10 s) until the client has logged `n` lines of `event`; false on timeout.
  bool WaitForLogged(const std::string& event, int n) ABSL_LOCKS_EXCLUDED(log_mu_) {
    absl::MutexLock lock(&log_mu_);
    auto logged = [&]() ABSL_SHARED_LOCKS_REQUIRED(log_mu_) { return CountLogged(event) >= n; };
    return log_mu_.AwaitWithTimeout(absl::Condition(&logged), absl::Seconds(10));
  }
  int CountLogged(const std::string& event) ABSL_SHARED_LOCKS_REQUIRED(log_mu_) {
    std::string key = absl::StrCat("\"event\":\"", event, "\"");
    int count = 0;
    for (size_t at = log_.find(key); at != std::string::npos; at = log_.find(key, at + 1)) {
      ++count;
    }
    return count;
  }

  // On the fake clock: two sessions of `length` each, every one ended by the controller once the
  // clock has moved by `length`; `second_wait` is the backoff wait after the second session.
  void TwoSessionsOf(absl::Duration length, absl::Duration* second_wait) {
    FakeClock& clock = fake_clock_;
    size_t from = fake_->received();
    for (int session = 1; session <= 2; ++session) {
      if (session == 1) {
        StartAgent([&](ControllerClient::Options& o) {
          o.clock = &clock;
          o.backoff_initial = absl::Seconds(1);
          o.backoff_max = absl::Minutes(1);
          o.heartbeat_interval = absl::Hours(1);
          o.connect_timeout = absl::Hours(1);
        });
      }
      ASSERT_TRUE(fake_->WaitFor(IsHello, from)) << "session " << session;
      clock.Advance(length);
      fake_->EndStreams();
      // Logged once the session is over and the backoff has drawn its wait.
      ASSERT_TRUE(WaitForLogged("reconnect", session)) << LogText();
      std::optional<absl::Duration> wait = clock.AwaitWaiter();
      ASSERT_TRUE(wait.has_value()) << "the client does not wait on its clock";
      *second_wait = *wait;
      if (session == 2) break;
      EXPECT_GE(*wait, absl::Milliseconds(500)) << "first wait, from backoff_initial";
      EXPECT_LT(*wait, absl::Seconds(1)) << "first wait, from backoff_initial";
      from = fake_->received();
      clock.Advance(*wait);
    }
  }

  fs::path dir_;
  fs::path state_dir_;  // the agent's --state-dir
  int port_ = 0;
  std::unique_ptr<FakeController> fake_;
  std::unique_ptr<grpc::Server> server_;
  FakeNftKernel* kernel_ = nullptr;
  std::unique_ptr<Enforcer> enforcer_;
  std::unique_ptr<RulesetStore> store_;
  std::atomic<ControllerClient*> client_ptr_{nullptr};
  std::unique_ptr<ControllerClient> client_;
  std::thread runner_;
  std::atomic<bool> reachable_{true};
  absl::Mutex log_mu_;
  std::string log_ ABSL_GUARDED_BY(log_mu_);
  std::vector<std::string> applied_hashes_ ABSL_GUARDED_BY(log_mu_);
  FakeClock fake_clock_;  // for tests that give it to the client; outlives it (TearDown)
};

const std::string& V1() {
  static const std::string s = testing::SampleRuleset("db-1", {5432}, 0, "v1");
  return s;
}
const std::string& V2() {
  static const std::string s = testing::SampleRuleset("db-1", {5432, 6432}, 0, "v2");
  return s;
}

TEST_F(ControllerClientTest, SaysHelloAppliesAssignmentReportsAndStoresIt) {
  StartAgent();
  auto hello = fake_->WaitFor(IsHello);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().host(), "db-1");
  EXPECT_EQ(hello->hello().agent_version(), "test/1");
  EXPECT_TRUE(hello->hello().applied_revision().empty());

  fake_->Assign(AssignmentFor(V1(), absl::Now() + absl::Seconds(10)));
  auto result = fake_->WaitFor(IsResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->apply_result().ok()) << result->apply_result().error();
  EXPECT_EQ(result->apply_result().ruleset_hash(), wire::Sha256Hex(V1()));
  EXPECT_EQ(result->apply_result().revision(), ParseRuleset(V1())->revision);
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  auto stored = store_->Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->text, V1());
  // Heartbeats follow while connected.
  EXPECT_TRUE(fake_->WaitFor([](const v1::AgentMessage& m) { return m.has_heartbeat(); }));
}

bool IsDegradedHeartbeat(const v1::AgentMessage& m) {
  return m.has_heartbeat() && m.heartbeat().degraded_size() > 0;
}

TEST_F(ControllerClientTest, AStoreItCannotWriteMakesItDegradedAndTheControllerHearsAtOnce) {
  // The state directory's parent is a regular file: nothing can be stored there.
  { std::ofstream(dir_ / "file") << "not a directory\n"; }
  state_dir_ = dir_ / "file" / "state";
  StartAgent([](ControllerClient::Options& o) { o.heartbeat_interval = absl::Hours(1); });
  auto hello = fake_->WaitFor(IsHello);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().degraded_size(), 0) << "nothing was stored or failed yet";
  fake_->Assign(AssignmentFor(V1(), absl::Now() + absl::Seconds(10)));
  auto result = fake_->WaitFor(IsResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->apply_result().ok()) << "the ruleset is enforced all the same";
  // Not with the next heartbeat (an hour away): at once.
  auto degraded = fake_->WaitFor(IsDegradedHeartbeat);
  ASSERT_TRUE(degraded.has_value()) << LogText();
  ASSERT_EQ(degraded->heartbeat().degraded_size(), 1);
  EXPECT_THAT(degraded->heartbeat().degraded(0), ::testing::StartsWith("store-error: "));
  EXPECT_THAT(degraded->heartbeat().degraded(0), ::testing::HasSubstr((dir_ / "file").string()));
  EXPECT_EQ(client_->Degraded().size(), 1u);
  // A new stream says so in its Hello.
  size_t from = fake_->received();
  fake_->EndStreams();
  auto again = fake_->WaitFor(IsHello, from);
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->hello().degraded_size(), 1);
  EXPECT_THAT(again->hello().degraded(0), ::testing::StartsWith("store-error: "));
}

void ControllerClientTest::ExpectKernelReadErrorReported() {
  ControllerClientTest& t = *this;
  ASSERT_TRUE(t.fake_->WaitFor(IsHello));
  t.fake_->Assign(AssignmentFor(V1(), absl::Now() + absl::Seconds(10)));
  ASSERT_TRUE(t.fake_->WaitFor(IsResult));
  t.kernel_->snapshot_error = "netlink: Operation not permitted";
  EXPECT_FALSE(t.enforcer_->CheckNow().get().ok());
  auto degraded = t.fake_->WaitFor(IsDegradedHeartbeat);
  ASSERT_TRUE(degraded.has_value());
  EXPECT_EQ(degraded->heartbeat().degraded(0),
            "kernel-read-error: netlink: Operation not permitted");
}

TEST_F(ControllerClientTest, AKernelItCannotReadMakesItDegraded) {
  StartAgent();
  ASSERT_NO_FATAL_FAILURE(ExpectKernelReadErrorReported());
  kernel_->snapshot_error.clear();
  size_t from = fake_->received();
  ASSERT_TRUE(enforcer_->CheckNow().get().ok());
  auto healthy = fake_->WaitFor(
      [](const v1::AgentMessage& m) {
        return m.has_heartbeat() && m.heartbeat().degraded_size() == 0;
      },
      from);
  EXPECT_TRUE(healthy.has_value());
}

TEST_F(ControllerClientTest, AKernelItCannotReadIsReportedAtOnceNotWithTheNextHeartbeat) {
  // An hourly heartbeat: only the error itself can have sent the report.
  StartAgent([](ControllerClient::Options& o) { o.heartbeat_interval = absl::Hours(1); });
  ASSERT_NO_FATAL_FAILURE(ExpectKernelReadErrorReported());
}

TEST_F(ControllerClientTest, RefusesMalformedAssignmentsAndNeverAppliesThem) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  v1::Assignment bad = AssignmentFor(V1());
  bad.set_ruleset_hash(wire::Sha256Hex("something else"));
  fake_->Assign(bad);
  auto result = fake_->WaitFor(IsResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->apply_result().ok());
  EXPECT_THAT(result->apply_result().error(), HasSubstr("refused"));
  EXPECT_EQ(result->apply_result().ruleset_hash(), NoRulesetHash());
  // Counted before the assignment goes out: its result may arrive before Assign returns.
  size_t from = fake_->received();
  fake_->Assign(AssignmentFor(testing::SampleRuleset("app-1", {443})));
  auto second = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(second.has_value());
  EXPECT_THAT(second->apply_result().error(), HasSubstr("for host 'app-1'"));
  EXPECT_EQ(kernel_->applies, 0);
  EXPECT_FALSE(store_->Load()->has_value());
}

TEST_F(ControllerClientTest, ForwardsDriftAndRestoreAsDriftReports) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  fake_->Assign(AssignmentFor(V1()));
  ASSERT_TRUE(fake_->WaitFor(IsResult));
  // Tamper with the fake kernel's table and let the enforcer find and restore it.
  enforcer_->CheckNow().get().IgnoreError();
  kernel_->table = kernel_->table.value_or("") + "\n\tchain sneaky { }";
  enforcer_->CheckNow().get().IgnoreError();
  auto drift = fake_->WaitFor([](const v1::AgentMessage& m) {
    return m.has_drift_report() && !m.drift_report().remediated();
  });
  ASSERT_TRUE(drift.has_value());
  EXPECT_GT(drift->drift_report().differences_size(), 0);
  auto restored = fake_->WaitFor([](const v1::AgentMessage& m) {
    return m.has_drift_report() && m.drift_report().remediated();
  });
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
}

TEST_F(ControllerClientTest, RollsBackWhenTheControllerIsUnreachableBeforeTheDeadline) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  fake_->Assign(AssignmentFor(V1()));
  ASSERT_TRUE(fake_->WaitFor(IsResult));
  ASSERT_EQ(client_->applied_hash(), wire::Sha256Hex(V1()));

  // V2 cuts the agent off: no new connection to the controller gets through.
  reachable_ = false;
  size_t from = fake_->received();
  fake_->Assign(AssignmentFor(V2(), absl::Now() + absl::Seconds(1)));
  auto result = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->apply_result().ok());
  EXPECT_THAT(result->apply_result().error(), HasSubstr("rolled back: "));
  EXPECT_EQ(result->apply_result().ruleset_hash(), wire::Sha256Hex(V1()));
  EXPECT_THAT(LogText(), HasSubstr("rolled-back"));
  EXPECT_TRUE(AppliedHash(wire::Sha256Hex(V2()))) << "V2 was never applied";
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  EXPECT_EQ(client_->applied_hash(), wire::Sha256Hex(V1()));
  EXPECT_EQ((*store_->Load())->text, V1());

  // The same ruleset again is not re-applied (it would cut the agent off again).
  reachable_ = true;
  int applies = kernel_->applies;
  from = fake_->received();
  fake_->Assign(AssignmentFor(V2(), absl::Now() + absl::Seconds(2)));
  auto again = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(again.has_value());
  EXPECT_THAT(again->apply_result().error(), HasSubstr("not applied again"));
  EXPECT_EQ(kernel_->applies, applies);
}

TEST_F(ControllerClientTest, ReportsWhatHappenedWhileDisconnectedAfterReconnecting) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  fake_->Assign(AssignmentFor(V1()));
  ASSERT_TRUE(fake_->WaitFor(IsResult));
  int port = port_;
  KillServer();
  // Drift found while no controller listens is reported to the next one.
  enforcer_->CheckNow().get().IgnoreError();
  kernel_->table = kernel_->table.value_or("") + "\n\tchain sneaky { }";
  enforcer_->CheckNow().get().IgnoreError();
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));  // restored while disconnected
  StartServer(port);
  auto hello = fake_->WaitFor(IsHello);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().ruleset_hash(), wire::Sha256Hex(V1()));
  EXPECT_TRUE(fake_->WaitFor([](const v1::AgentMessage& m) {
    return m.has_drift_report() && m.drift_report().remediated();
  }));
}

TEST_F(ControllerClientTest, ConfirmsWhenReachableAndKeepsTheNewRuleset) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  fake_->Assign(AssignmentFor(V1()));
  ASSERT_TRUE(fake_->WaitFor(IsResult));
  size_t from = fake_->received();
  fake_->Assign(AssignmentFor(V2(), absl::Now() + absl::Seconds(3)));
  auto result = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->apply_result().ok()) << result->apply_result().error();
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V2()));
  EXPECT_EQ((*store_->Load())->text, V2());
}

TEST_F(ControllerClientTest, RestartedAgentEnforcesTheStoredRulesetWithoutAController) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  fake_->Assign(AssignmentFor(V1()));
  ASSERT_TRUE(fake_->WaitFor(IsResult));
  StopAgent();
  int port = port_;
  KillServer();

  StartAgent();  // fresh fake kernel: empty table
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  EXPECT_THAT(LogText(), HasSubstr("\"restored\""));
  // Disconnected: nothing changes the rules while retrying. Two failed attempts logged show
  // the client did retry before the rules are looked at.
  int applies = kernel_->applies;
  ASSERT_TRUE(WaitForLogged("unreachable", Logged("unreachable") + 2)) << LogText();
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  EXPECT_EQ(kernel_->applies, applies);
  StartServer(port);
  auto hello = fake_->WaitFor(IsHello);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().ruleset_hash(), wire::Sha256Hex(V1()));
  EXPECT_EQ(hello->hello().applied_revision(), ParseRuleset(V1())->revision);
}

void InSync(FakeController& fake, uint64_t generation) {
  v1::ControllerMessage m;
  m.mutable_in_sync()->set_generation(generation);
  fake.Send(m);
}

TEST_F(ControllerClientTest, GenerationIsEchoedKeptAcrossRestartsAndNeverGoesBack) {
  StartAgent();
  ASSERT_TRUE(fake_->WaitFor(IsHello));
  v1::Assignment a1 = AssignmentFor(V1());
  a1.set_generation(7);
  size_t from = fake_->received();
  fake_->Assign(a1);
  auto result = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->apply_result().ok());
  EXPECT_EQ(result->apply_result().generation(), 7u);
  EXPECT_EQ(client_->applied_generation(), 7u);
  // The controller says the agent is in sync at a newer generation: adopted, nothing applied.
  int applies = kernel_->applies;
  InSync(*fake_, 9);
  ASSERT_TRUE(WaitForLogged("in-sync", 1)) << LogText();
  EXPECT_EQ(client_->applied_generation(), 9u);
  EXPECT_EQ(kernel_->applies, applies);
  // An older generation (a controller behind) is refused: no rollback.
  v1::Assignment old = AssignmentFor(V2());
  old.set_generation(8);
  from = fake_->received();
  fake_->Assign(old);
  result = fake_->WaitFor(IsResult, from);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->apply_result().ok());
  EXPECT_THAT(result->apply_result().error(), HasSubstr("older than the applied 9"));
  EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  // After a restart the Hello still says which generation is applied.
  StopAgent();
  from = fake_->received();
  StartAgent();
  auto hello = fake_->WaitFor(IsHello, from);
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->hello().applied_generation(), 9u);
  EXPECT_EQ(hello->hello().ruleset_hash(), wire::Sha256Hex(V1()));
}

TEST_F(ControllerClientTest, FailsOverToTheNextControllerWhenThePreferredOneIsLost) {
  // A second controller beside the fixture's.
  FakeController other;
  int other_port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &other_port);
  b.RegisterService(&other);
  std::unique_ptr<grpc::Server> other_server = b.BuildAndStart();
  ASSERT_NE(other_server, nullptr);
  const std::string mine = absl::StrCat("127.0.0.1:", port_);
  const std::string theirs = absl::StrCat("127.0.0.1:", other_port);
  StartAgent([&](ControllerClient::Options& o) {
    o.target = absl::StrCat(mine, ",", theirs);
    o.failover_delay_max = absl::Milliseconds(200);
  });
  ASSERT_EQ(client_->targets().size(), 2u);
  bool mine_preferred = client_->targets()[0] == mine;
  FakeController& preferred = mine_preferred ? *fake_ : other;
  FakeController& next = mine_preferred ? other : *fake_;
  ASSERT_TRUE(preferred.WaitFor(IsHello)) << LogText();
  EXPECT_EQ(next.received(), 0u) << "only the preferred controller is used while it serves";
  fake_->Assign(AssignmentFor(V1()));  // whichever serves it: only the preferred one is heard
  if (mine_preferred) {
    ASSERT_TRUE(fake_->WaitFor(IsResult));
  }
  // The preferred controller goes away: the agent says Hello to the next one, without waiting
  // for a backoff, and keeps enforcing meanwhile.
  absl::Time lost = absl::Now();
  if (mine_preferred) {
    KillServer();
  } else {
    other_server->Shutdown(std::chrono::system_clock::now());
  }
  auto hello = next.WaitFor(IsHello, 0, absl::Seconds(5));
  ASSERT_TRUE(hello.has_value()) << LogText();
  EXPECT_LT(absl::Now() - lost, absl::Seconds(3));
  EXPECT_EQ(client_->current_target(), client_->targets()[1]);
  EXPECT_GE(Logged("failover"), 1) << LogText();
  if (mine_preferred) {
    EXPECT_EQ(hello->hello().ruleset_hash(), wire::Sha256Hex(V1()));
    EXPECT_EQ(Table(), FakeNftKernel::ListingOf(V1()));
  }
  StopAgent();
  if (!mine_preferred)
    KillServer();
  else
    other_server->Shutdown(std::chrono::system_clock::now());
}

// The 2-second rule: a stream that lasted 2 s counts as established and resets the backoff, so
// the wait after the second session is drawn from backoff_initial (1 s) again: in [0.5, 1) s.
TEST_F(ControllerClientTest, SessionOfTwoSecondsResetsTheBackoff) {
  absl::Duration wait;
  ASSERT_NO_FATAL_FAILURE(TwoSessionsOf(absl::Seconds(2), &wait));
  EXPECT_GE(wait, absl::Milliseconds(500));
  EXPECT_LT(wait, absl::Seconds(1)) << "the backoff was not reset";
}

// A stream the controller ends sooner does not: the second wait has doubled, to [1, 2) s.
TEST_F(ControllerClientTest, SessionShorterThanTwoSecondsKeepsBackingOff) {
  absl::Duration wait;
  ASSERT_NO_FATAL_FAILURE(TwoSessionsOf(absl::Seconds(2) - absl::Milliseconds(1), &wait));
  EXPECT_GE(wait, absl::Seconds(1)) << "the backoff was reset";
  EXPECT_LT(wait, absl::Seconds(2));
}

}  // namespace
}  // namespace polder::agent
