#include "controller/fleet.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "controller/log.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

// A policy source the test edits: host -> ruleset text, plus failure.
struct FakePolicy {
  std::map<std::string, std::string> rulesets;
  std::string error;
  std::vector<QuarantineRecord> last_quarantines;
  std::string last_posture;
  // The policy's postures: name -> why check finds it broken ("" when sound).
  std::map<std::string, std::string> postures = {{"lockdown", ""},
                                                 {"shaky", "postures.yaml:9: keep violated"}};
  std::function<void()> during_compile;

  PolicyCompiler Compiler() {
    return [this](absl::Time, const std::vector<QuarantineRecord>& q,
                  const std::string& posture) -> absl::StatusOr<CompiledPolicy> {
      if (during_compile) during_compile();
      last_quarantines = q;
      last_posture = posture;
      if (!error.empty()) return absl::FailedPreconditionError(error);
      if (!posture.empty() && !postures.count(posture))
        return absl::NotFoundError("the policy has no posture " + posture);
      CompiledPolicy c;
      c.postures = postures;
      std::string all;
      for (const auto& [h, r] : rulesets) {
        std::string text = r;
        if (!posture.empty()) text += "\nposture " + posture;
        for (const auto& o : q)
          if (o.target == h || o.target == "zone") text += "\nquarantined";
        c.hosts[h] = {"zone", text};
        absl::StrAppend(&all, h, "=", text, ";");
      }
      c.zones = {"zone", "mgmt"};
      c.revision = wire::Sha256Hex(all);
      return c;
    };
  }
};

struct RecordingSink : AgentSink {
  std::vector<AssignmentInfo> got;
  std::vector<std::pair<std::string, uint64_t>> in_sync;  // (revision, generation) per reply
  std::optional<absl::Status> closed;
  void Assign(const AssignmentInfo& a) override { got.push_back(a); }
  void InSync(const std::string& revision, uint64_t generation) override {
    in_sync.emplace_back(revision, generation);
  }
  void Close(const absl::Status& s) override { closed = s; }
};

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    path_ = fs::temp_directory_path() /
            ("fleet-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    Remove();
    policy_.rulesets = {{"a", "ruleset a"}, {"b", "ruleset b"}};
    Restart();
  }
  void TearDown() override {
    fleet_.reset();
    store_.reset();
    Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }
  void Restart() {
    fleet_.reset();
    store_.reset();
    store_ = std::move(*StateStore::Open(path_));
    fleet_ = std::make_unique<Fleet>(store_.get(), policy_.Compiler());
    start_status_ = fleet_->Start(now_);
  }
  uint64_t Connect(const std::string& host, RecordingSink& sink, const std::string& hash = "") {
    auto s = fleet_->Connect({host, "test", "", hash}, &sink, now_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : 0;
  }
  // Runs `sql` on the database as another process would.
  void Sql(const std::string& sql) {
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);  // the Fleet's writer thread may be in a transaction
    ASSERT_EQ(sqlite3_exec(other, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(other);
  }
  // Another process breaks the database: writes to `table` fail from now on.
  void DropTable(const std::string& table) { Sql("DROP TABLE " + table); }
  HostStatusInfo HostStatus(const std::string& host) {
    for (auto& h : fleet_->Status().hosts)
      if (h.host == host) return h;
    ADD_FAILURE() << "no host " << host;
    return {};
  }

  fs::path path_;
  FakePolicy policy_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Fleet> fleet_;
  absl::Status start_status_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(FleetTest, EachHostGetsOnlyItsOwnRuleset) {
  ASSERT_TRUE(start_status_.ok());
  RecordingSink a, b;
  Connect("a", a);
  Connect("b", b);
  ASSERT_EQ(a.got.size(), 1u);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_EQ(*a.got[0].ruleset, "ruleset a");
  EXPECT_EQ(a.got[0].hash, wire::Sha256Hex("ruleset a"));
  EXPECT_EQ(*b.got[0].ruleset, "ruleset b");
  EXPECT_EQ(a.got[0].revision, fleet_->Status().revision);
}

TEST_F(FleetTest, AgentThatAlreadyRunsTheRulesetGetsNothing) {
  RecordingSink a;
  Connect("a", a, wire::Sha256Hex("ruleset a"));
  EXPECT_TRUE(a.got.empty());
  EXPECT_EQ(fleet_->ConnectedInSync(), 1);
  EXPECT_EQ(HostStatus("a").applied_revision, fleet_->Status().revision);
}

TEST_F(FleetTest, OnlyChangedHostsReceiveNewAssignments) {
  RecordingSink a, b;
  uint64_t sa = Connect("a", a);
  uint64_t sb = Connect("b", b);
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(3), a.got[0].hash, a.got[0].revision, now_});
  fleet_->OnApplyResult("b", sb,
                        {true, "", absl::Milliseconds(3), b.got[0].hash, b.got[0].revision, now_});
  EXPECT_EQ(fleet_->ConnectedInSync(), 2);
  policy_.rulesets["b"] = "ruleset b v2";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_EQ(a.got.size(), 1u);
  ASSERT_EQ(b.got.size(), 2u);
  EXPECT_EQ(*b.got[1].ruleset, "ruleset b v2");
  EXPECT_EQ(fleet_->ConnectedInSync(), 1);
  // A recompilation that changes nothing sends nothing.
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_EQ(b.got.size(), 2u);
}

TEST_F(FleetTest, ChangeInTheHeaderCommentAloneIsNotSent) {
  policy_.rulesets = {{"a", "# polder ruleset revision=1\nrules a"}, {"b", "rules b"}};
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  RecordingSink a;
  Connect("a", a);
  ASSERT_EQ(a.got.size(), 1u);
  policy_.rulesets["a"] = "# polder ruleset revision=2\nrules a";
  policy_.rulesets["b"] = "rules b changed";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_EQ(a.got.size(), 1u);
  policy_.rulesets["a"] = "# polder ruleset revision=3\nrules a changed";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_EQ(a.got.size(), 2u);
  EXPECT_EQ(*a.got[1].ruleset, "# polder ruleset revision=3\nrules a changed");
}

TEST_F(FleetTest, UnchangedRulesetIsAssignedWithTheRevisionItWasCompiledFor) {
  std::string first = fleet_->Status().revision;
  policy_.rulesets["b"] = "ruleset b v2";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_NE(fleet_->Status().revision, first);
  // A new agent for `a`, whose rules the second revision left alone: the assignment names the
  // revision in the ruleset's header, or the agent would refuse it.
  RecordingSink a;
  Connect("a", a);
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].revision, first);
  RecordingSink b;
  Connect("b", b);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_EQ(b.got[0].revision, fleet_->Status().revision);
  ASSERT_TRUE(fleet_->Flush().ok());
  Restart();
  RecordingSink a2;
  Connect("a", a2);
  ASSERT_EQ(a2.got.size(), 1u);
  EXPECT_EQ(a2.got[0].revision, first);
}

TEST_F(FleetTest, ReportsAndStatusAreServedWhileAPolicyCompiles) {
  RecordingSink a;
  uint64_t session = Connect("a", a);
  absl::Notification compiling, finish_compile, served;
  policy_.during_compile = [&] {
    compiling.Notify();
    finish_compile.WaitForNotification();
  };
  std::thread reload([&] { fleet_->Reload(now_).IgnoreError(); });
  compiling.WaitForNotification();
  std::thread agent([&] {
    fleet_->OnHeartbeat("a", session, now_ + absl::Seconds(1));
    fleet_->Status();
    served.Notify();
  });
  EXPECT_TRUE(served.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "a heartbeat or status call waited for the compile";
  finish_compile.Notify();
  agent.join();
  reload.join();
  EXPECT_EQ(HostStatus("a").last_report, now_ + absl::Seconds(1));
}

TEST_F(FleetTest, UnknownHostIsRefusedWithAClearMessage) {
  RecordingSink x;
  auto s = fleet_->Connect({"ghost", "test", "", ""}, &x, now_);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("not in the policy"), absl::string_view::npos);
  EXPECT_EQ(fleet_->Metrics().refused_agents, 1);
}

TEST_F(FleetTest, BrokenPolicyIsNotRolledOutAndTheReasonIsKept) {
  RecordingSink a;
  Connect("a", a);
  std::string good = fleet_->Status().revision;
  policy_.rulesets["a"] = "would be new";
  policy_.error = "flows.yaml:3:5: error: unknown zone [unknown-ref]";
  EXPECT_FALSE(fleet_->Reload(now_).ok());
  FleetStatus st = fleet_->Status();
  EXPECT_EQ(st.revision, good);
  EXPECT_EQ(st.policy_error, policy_.error);
  EXPECT_EQ(a.got.size(), 1u);
  EXPECT_EQ(fleet_->AuditLog(1)->front().kind, "policy-rejected");
  policy_.error.clear();
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_TRUE(fleet_->Status().policy_error.empty());
  EXPECT_EQ(a.got.size(), 2u);
}

TEST_F(FleetTest, RestartServesLastGoodRevisionEvenIfPolicyNowFails) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(3), a.got[0].hash, a.got[0].revision, now_});
  std::string good = fleet_->Status().revision;
  policy_.error = "broken";
  Restart();
  EXPECT_FALSE(start_status_.ok());
  EXPECT_EQ(fleet_->Status().revision, good);
  // The host's applied state came back from the store; nothing to resend.
  RecordingSink a2, b2;
  Connect("a", a2, wire::Sha256Hex("ruleset a"));
  Connect("b", b2);
  EXPECT_TRUE(a2.got.empty());
  ASSERT_EQ(b2.got.size(), 1u);
  EXPECT_EQ(*b2.got[0].ruleset, "ruleset b");
}

TEST_F(FleetTest, NewerStreamReplacesOlderOne) {
  RecordingSink first, second;
  uint64_t s1 = Connect("a", first);
  Connect("a", second);
  ASSERT_TRUE(first.closed.has_value());
  EXPECT_EQ(first.closed->code(), absl::StatusCode::kAlreadyExists);
  // The old stream ending later must not mark the host disconnected.
  fleet_->Disconnect("a", s1, now_);
  EXPECT_TRUE(HostStatus("a").connected);
  EXPECT_EQ(fleet_->Metrics().agents_connected, 1);
}

TEST_F(FleetTest, QuarantineIsPushedAuditedAndSurvivesRestart) {
  RecordingSink a, b;
  Connect("a", a);
  Connect("b", b);
  auto rev = fleet_->Quarantine({"a", {"mgmt"}, "incident 7", "alice", {}}, now_);
  ASSERT_TRUE(rev.ok()) << rev.status();
  ASSERT_EQ(a.got.size(), 2u);
  EXPECT_EQ(*a.got[1].ruleset, "ruleset a\nquarantined");
  EXPECT_EQ(b.got.size(), 1u);
  EXPECT_TRUE(HostStatus("a").quarantined);
  EXPECT_FALSE(HostStatus("b").quarantined);
  auto log = fleet_->AuditLog(5);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(std::any_of(log->begin(), log->end(), [](const AuditRecord& r) {
    return r.kind == "quarantine" && r.actor == "alice" && r.target == "a";
  }));
  Restart();
  ASSERT_TRUE(start_status_.ok());
  ASSERT_EQ(policy_.last_quarantines.size(), 1u);
  EXPECT_EQ(policy_.last_quarantines[0].reason, "incident 7");
  EXPECT_TRUE(HostStatus("a").quarantined);
  EXPECT_EQ(fleet_->Status().revision, *rev);
  ASSERT_TRUE(fleet_->Release("a", "bob", now_).ok());
  EXPECT_FALSE(HostStatus("a").quarantined);
  EXPECT_EQ(fleet_->Release("a", "bob", now_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fleet_->Quarantine({"nope", {}, "x", "alice", {}}, now_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FleetTest, PostureIsPushedAuditedExclusiveAndSurvivesRestart) {
  RecordingSink a, b;
  Connect("a", a);
  Connect("b", b);
  auto rev = fleet_->ActivatePosture({"lockdown", "vulnerabilities", "alice", {}, false}, now_);
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(policy_.last_posture, "lockdown");
  ASSERT_EQ(a.got.size(), 2u);
  EXPECT_EQ(*a.got[1].ruleset, "ruleset a\nposture lockdown");
  ASSERT_EQ(b.got.size(), 2u);
  ASSERT_TRUE(fleet_->Status().posture.has_value());
  EXPECT_EQ(fleet_->Status().posture->name, "lockdown");
  EXPECT_EQ(fleet_->Status().revision, *rev);
  // At most one at a time: another is refused, naming the active one.
  auto second = fleet_->ActivatePosture({"shaky", "x", "bob", {}, true}, now_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("lockdown"), std::string::npos) << second.status();
  EXPECT_EQ(fleet_->ReleasePosture("shaky", "bob", now_).status().code(),
            absl::StatusCode::kNotFound);
  auto log = fleet_->AuditLog(10);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(std::any_of(log->begin(), log->end(),
                          [](const AuditRecord& r) {
                            return r.kind == "posture-activate" && r.actor == "alice" &&
                                   r.target == "lockdown" && r.detail == "vulnerabilities";
                          }))
      << log->front().kind << " " << log->front().detail;

  Restart();
  ASSERT_TRUE(start_status_.ok()) << start_status_;
  EXPECT_EQ(policy_.last_posture, "lockdown");
  ASSERT_TRUE(fleet_->Status().posture.has_value());
  EXPECT_EQ(fleet_->Status().posture->actor, "alice");
  EXPECT_EQ(fleet_->Status().revision, *rev);

  RecordingSink a2;
  Connect("a", a2);
  auto released = fleet_->ReleasePosture("lockdown", "bob", now_);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(policy_.last_posture, "");
  EXPECT_FALSE(fleet_->Status().posture.has_value());
  ASSERT_FALSE(a2.got.empty());
  EXPECT_EQ(*a2.got.back().ruleset, "ruleset a");
  EXPECT_EQ(fleet_->ReleasePosture("lockdown", "bob", now_).status().code(),
            absl::StatusCode::kNotFound);
  // The order was committed before the rollout it caused (newest first).
  log = fleet_->AuditLog(2);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ(log->front().kind, "rollout");
  EXPECT_EQ(log->back().kind, "posture-release");
  EXPECT_EQ(log->back().actor, "bob");
  Restart();
  EXPECT_FALSE(fleet_->Status().posture.has_value());
  EXPECT_EQ(policy_.last_posture, "");
}

TEST_F(FleetTest, BrokenOrUnknownPostureIsRefusedAndForceIsAudited) {
  auto unknown = fleet_->ActivatePosture({"nope", "x", "alice", {}, false}, now_);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("lockdown"), std::string::npos) << unknown.status();
  auto broken = fleet_->ActivatePosture({"shaky", "drill", "alice", {}, false}, now_);
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(broken.status().message().find("keep violated"), std::string::npos) << broken.status();
  EXPECT_NE(broken.status().message().find("--force"), std::string::npos) << broken.status();
  EXPECT_EQ(policy_.last_posture, "");
  EXPECT_FALSE(fleet_->Status().posture.has_value());

  auto forced = fleet_->ActivatePosture({"shaky", "drill", "alice", {}, true}, now_);
  ASSERT_TRUE(forced.ok()) << forced.status();
  ASSERT_TRUE(fleet_->Status().posture.has_value());
  EXPECT_TRUE(fleet_->Status().posture->forced);
  auto log = fleet_->AuditLog(2);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ(log->back().kind, "posture-activate");
  EXPECT_NE(log->back().detail.find("FORCED"), std::string::npos) << log->back().detail;
  EXPECT_NE(log->back().detail.find("keep violated"), std::string::npos) << log->back().detail;
  Restart();
  ASSERT_TRUE(fleet_->Status().posture.has_value());
  EXPECT_TRUE(fleet_->Status().posture->forced);
}

TEST_F(FleetTest, PostureAndQuarantineCombine) {
  RecordingSink a;
  Connect("a", a);
  ASSERT_TRUE(fleet_->Quarantine({"a", {"mgmt"}, "incident", "alice", {}}, now_).ok());
  ASSERT_TRUE(fleet_->ActivatePosture({"lockdown", "crisis", "alice", {}, false}, now_).ok());
  EXPECT_EQ(policy_.last_posture, "lockdown");
  ASSERT_EQ(policy_.last_quarantines.size(), 1u);
  ASSERT_TRUE(fleet_->Release("a", "bob", now_).ok());
  // Releasing the quarantine keeps the posture.
  EXPECT_EQ(policy_.last_posture, "lockdown");
  EXPECT_TRUE(policy_.last_quarantines.empty());
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_EQ(policy_.last_posture, "lockdown");
}

TEST_F(FleetTest, QuarantineTheDatabaseDidNotRecordIsNotAcknowledged) {
  // Another process breaks the database: the order's own write fails.
  ASSERT_NO_FATAL_FAILURE(DropTable("quarantines"));
  auto rev = fleet_->Quarantine({"a", {"mgmt"}, "incident 8", "alice", {}}, now_);
  ASSERT_FALSE(rev.ok());
  EXPECT_EQ(rev.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(rev.status().message().find("has not recorded"), std::string::npos) << rev.status();
  // It is in force all the same, which the message says.
  EXPECT_TRUE(HostStatus("a").quarantined);
}

// A release opens paths: it is pushed only once the store has it, so a controller restart (or
// another controller) can never re-quarantine behind an operator's back, nor one open what
// the store says is closed.
TEST_F(FleetTest, AReleaseTheStoreDidNotRecordIsNotPushed) {
  RecordingSink a;
  Connect("a", a);
  ASSERT_TRUE(fleet_->Quarantine({"a", {"mgmt"}, "incident 8", "alice", {}}, now_).ok());
  ASSERT_FALSE(a.got.empty());
  size_t sent = a.got.size();
  std::string quarantined = a.got.back().revision;
  ASSERT_NO_FATAL_FAILURE(DropTable("quarantines"));
  auto released = fleet_->Release("a", "bob", now_);
  ASSERT_FALSE(released.ok());
  EXPECT_EQ(released.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(released.status().message().find("nothing was pushed"), std::string::npos)
      << released.status();
  EXPECT_EQ(a.got.size(), sent) << "the release reached the agent before the store had it";
  EXPECT_TRUE(HostStatus("a").quarantined);
  EXPECT_EQ(fleet_->Status().revision, quarantined);
}

// What the store holds (read through the Fleet, serialised with its writer thread).
std::vector<std::string> StoredQuarantines(Fleet& fleet) {
  std::vector<std::string> out;
  fleet
      .UseStore([&](StateStore& st) {
        auto qs = st.LoadQuarantines();
        if (!qs.ok()) return qs.status();
        for (const auto& q : *qs) out.push_back(q.target);
        return absl::OkStatus();
      })
      .IgnoreError();
  return out;
}

bool EventuallyStored(Fleet& fleet, const std::string& target) {
  for (int i = 0; i < 200; ++i) {  // 10 s at most
    auto stored = StoredQuarantines(fleet);
    if (std::find(stored.begin(), stored.end(), target) != stored.end()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// A quarantine the store refuses stays in force and is recorded once the store takes it again,
// before anything later: a release meanwhile is refused, since recording it first would leave
// the store saying "quarantined" after the release.
TEST_F(FleetTest, AQuarantineTheStoreMissedIsRecordedOnceItCanAndBeforeARelease) {
  RecordingSink a;
  Connect("a", a);
  // New quarantines are refused; reading and deleting them still works.
  ASSERT_NO_FATAL_FAILURE(
      Sql("CREATE TRIGGER refuse BEFORE INSERT ON quarantines "
          "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"));
  auto q = fleet_->Quarantine({"a", {"mgmt"}, "incident 10", "alice", {}}, now_);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("keeps trying"), std::string::npos) << q.status();
  EXPECT_TRUE(HostStatus("a").quarantined);
  EXPECT_EQ(fleet_->Status().unrecorded_quarantines, std::set<std::string>{"a"})
      << "status must say the quarantine is not in the store";
  // The store's view (no quarantine) must not lift it.
  ASSERT_TRUE(fleet_->SyncFromStore(now_).ok());
  EXPECT_TRUE(HostStatus("a").quarantined) << "the store's older view lifted the quarantine";
  size_t sent = a.got.size();
  auto released = fleet_->Release("a", "bob", now_);
  ASSERT_FALSE(released.ok()) << "a release recorded before the quarantine it lifts";
  EXPECT_EQ(a.got.size(), sent);
  EXPECT_TRUE(HostStatus("a").quarantined);
  // The database takes quarantines again: the writer thread records it.
  ASSERT_NO_FATAL_FAILURE(Sql("DROP TRIGGER refuse"));
  ASSERT_TRUE(EventuallyStored(*fleet_, "a")) << "the quarantine never reached the store";
  EXPECT_TRUE(fleet_->Status().unrecorded_quarantines.empty());
  auto log = fleet_->AuditLog(100);
  ASSERT_TRUE(log.ok()) << log.status();
  int audited = 0;
  for (const auto& e : *log) audited += e.kind == "quarantine" && e.reason == "incident 10";
  EXPECT_EQ(audited, 1);
  ASSERT_TRUE(fleet_->Release("a", "bob", now_).ok());
  EXPECT_FALSE(HostStatus("a").quarantined);
  EXPECT_TRUE(StoredQuarantines(*fleet_).empty());
}

// The answer waits for the store at most order_record_wait (a store without quorum answers in
// seconds); the quarantine is in force at once and recorded when the store answers.
TEST_F(FleetTest, AQuarantineIsAnsweredWithinItsWaitAndRecordedAfter) {
  fleet_.reset();
  FleetOptions options;
  options.order_record_wait = absl::ZeroDuration();
  fleet_ = std::make_unique<Fleet>(store_.get(), policy_.Compiler(), options);
  ASSERT_TRUE(fleet_->Start(now_).ok());
  RecordingSink a;
  Connect("a", a);
  auto q = fleet_->Quarantine({"a", {"mgmt"}, "incident 11", "alice", {}}, now_);
  if (q.ok()) GTEST_SKIP() << "the writer recorded it before the answer: nothing to see";
  EXPECT_NE(q.status().message().find("did not answer within 0"), std::string::npos) << q.status();
  EXPECT_TRUE(HostStatus("a").quarantined);
  EXPECT_TRUE(EventuallyStored(*fleet_, "a"));
}

// An order and its audit entry are one transaction: no order without its entry.
TEST_F(FleetTest, AnOrderWhoseAuditEntryFailsIsNotRecordedEither) {
  ASSERT_NO_FATAL_FAILURE(DropTable("audit"));
  auto rev = fleet_->Quarantine({"a", {"mgmt"}, "incident 9", "alice", {}}, now_);
  ASSERT_FALSE(rev.ok());
  EXPECT_NE(rev.status().message().find("has not recorded"), std::string::npos) << rev.status();
  auto stored = store_->LoadQuarantines();
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(stored->empty()) << "the quarantine was stored without its audit entry";
}

TEST_F(FleetTest, ApplyFailureAndDriftShowInStatusAndMetrics) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  fleet_->OnApplyResult("a", sa,
                        {false, "nft: syntax error", absl::Milliseconds(1), wire::Sha256Hex("old"),
                         a.got[0].revision, now_ + absl::Milliseconds(20)});
  EXPECT_EQ(HostStatus("a").last_error, "nft: syntax error");
  fleet_->OnDrift("a", sa, {{"rule added to chain input"}, now_, 99, false});
  EXPECT_TRUE(HostStatus("a").drift);
  MetricsSnapshot m = fleet_->Metrics();
  EXPECT_EQ(m.apply_failed, 1);
  EXPECT_EQ(m.drift_events, 1);
  EXPECT_EQ(m.latency_count, 0);  // the failed apply answered an older hash
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(1), a.got[0].hash, a.got[0].revision,
                         now_ + absl::Milliseconds(30)});
  EXPECT_FALSE(HostStatus("a").drift);
  EXPECT_EQ(fleet_->Metrics().latency_count, 1);
  EXPECT_NEAR(fleet_->Metrics().latency_sum, 0.030, 1e-6);
  // Reports from a stale session are ignored.
  fleet_->OnDrift("a", sa + 100, {{"x"}, now_, 1, false});
  EXPECT_FALSE(HostStatus("a").drift);
}

TEST_F(FleetTest, AnAgentsDegradedStateShowsInStatusUntilItIsHealthy) {
  RecordingSink a, b;
  uint64_t sa =
      fleet_->Connect({"a", "test", "", "", {"store-error: cannot write /x: EROFS"}}, &a, now_)
          .value();
  Connect("b", b);
  EXPECT_EQ(HostStatus("a").degraded,
            std::vector<std::string>{"store-error: cannot write /x: EROFS"});
  EXPECT_TRUE(HostStatus("b").degraded.empty());
  // A heartbeat carries the whole state: a second problem, then none.
  fleet_->OnHeartbeat("a", sa, now_, now_,
                      std::vector<std::string>{"store-error: x", "kernel-read-error: y"});
  EXPECT_EQ(HostStatus("a").degraded.size(), 2u);
  fleet_->OnHeartbeat("a", sa, now_, now_, std::vector<std::string>{});
  EXPECT_TRUE(HostStatus("a").degraded.empty());
  // A heartbeat of an older session changes nothing.
  fleet_->OnHeartbeat("a", sa + 100, now_, now_, std::vector<std::string>{"store-error: z"});
  EXPECT_TRUE(HostStatus("a").degraded.empty());
}

TEST_F(FleetTest, AnAgentWhoseClockIsFarOffIsDegraded) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  fleet_->OnHeartbeat("a", sa, now_, now_ + absl::Seconds(59), std::vector<std::string>{});
  EXPECT_TRUE(HostStatus("a").degraded.empty()) << "59 s is within the 60 s allowed";
  fleet_->OnHeartbeat("a", sa, now_, now_ + absl::Seconds(93), std::vector<std::string>{});
  ASSERT_EQ(HostStatus("a").degraded.size(), 1u);
  EXPECT_EQ(HostStatus("a").degraded[0],
            "clock-skew: the agent's clock is 93 s ahead of the controller's (more than 60 s)");
  fleet_->OnHeartbeat("a", sa, now_, now_ - absl::Minutes(5),
                      std::vector<std::string>{"store-error: x"});
  EXPECT_EQ(
      HostStatus("a").degraded,
      (std::vector<std::string>{
          "store-error: x",
          "clock-skew: the agent's clock is 300 s behind the controller's (more than 60 s)"}));
  fleet_->OnHeartbeat("a", sa, now_, now_, std::vector<std::string>{});
  EXPECT_TRUE(HostStatus("a").degraded.empty());
}

TEST_F(FleetTest, TheAuditLogSaysWhoWhyAndWhichRevision) {
  RecordingSink a;
  Connect("a", a);
  absl::Time t1 = now_ + absl::Hours(1);
  auto q = fleet_->Quarantine({"a", {"mgmt"}, "incident 7", "alice", {}}, t1);
  ASSERT_TRUE(q.ok()) << q.status();
  absl::Time t2 = now_ + absl::Hours(2);
  auto r = fleet_->Release("a", "bob", t2, "all clear");
  ASSERT_TRUE(r.ok()) << r.status();
  policy_.error = "flows.yaml:3: unknown zone";
  EXPECT_FALSE(fleet_->Reload(now_ + absl::Hours(3), "policy directory changed").ok());
  auto log = fleet_->AuditLog(10);
  ASSERT_TRUE(log.ok());
  auto find = [&](const std::string& kind) -> AuditRecord {
    for (const auto& e : *log)
      if (e.kind == kind) return e;
    ADD_FAILURE() << "no " << kind << " entry";
    return {};
  };
  AuditRecord quarantine = find("quarantine");
  EXPECT_EQ(quarantine.actor, "alice");
  EXPECT_EQ(quarantine.reason, "incident 7");
  EXPECT_EQ(quarantine.revision, *q);
  EXPECT_EQ(quarantine.time, t1);
  AuditRecord release = find("release");
  EXPECT_EQ(release.actor, "bob");
  EXPECT_EQ(release.reason, "all clear");
  EXPECT_EQ(release.revision, *r);
  AuditRecord rejected = find("policy-rejected");
  EXPECT_EQ(rejected.reason, "flows.yaml:3: unknown zone");
  EXPECT_EQ(rejected.revision, *r) << "the revision still served";
  // The start's rollout and the two the orders caused, each with its cause.
  int rollouts = 0;
  for (const auto& e : *log) {
    if (e.kind != "rollout") continue;
    ++rollouts;
    EXPECT_FALSE(e.reason.empty());
    EXPECT_FALSE(e.revision.empty());
  }
  EXPECT_EQ(rollouts, 3);
  EXPECT_EQ(log->front().kind, "policy-rejected");
  auto since = fleet_->AuditLog(10, t2);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 3u);  // the release, its rollout and the refusal
  for (const auto& e : *since) EXPECT_GE(e.time, t2);
}

TEST_F(FleetTest, ResultsThatAnswerNoAssignmentAreOnlyReported) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  const std::string forged(64, 'e');
  fleet_->OnApplyResult("a", sa, {true, "", absl::Milliseconds(1), a.got[0].hash, forged, now_});
  fleet_->OnApplyResult(
      "a", sa, {true, "", absl::Milliseconds(1), wire::Sha256Hex("x"), a.got[0].revision, now_});
  EXPECT_EQ(fleet_->Metrics().unverified_results, 2);
  EXPECT_EQ(fleet_->Metrics().apply_ok, 0);
  EXPECT_EQ(fleet_->ConnectedInSync(), 0);
  EXPECT_NE(HostStatus("a").applied_revision, a.got[0].revision);
  EXPECT_EQ(HostStatus("a").reported_revision, a.got[0].revision);
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(1), a.got[0].hash, a.got[0].revision, now_});
  EXPECT_EQ(fleet_->ConnectedInSync(), 1);
  EXPECT_EQ(HostStatus("a").applied_revision, fleet_->Status().revision);
  EXPECT_EQ(HostStatus("a").reported_revision, "");
}

TEST_F(FleetTest, AResultForAnAssignmentAlreadySupersededIsNotBelieved) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  ASSERT_EQ(a.got.size(), 1u);
  AssignmentInfo first = a.got[0];
  fleet_->OnApplyResult(
      "a", sa,
      {true, "", absl::Milliseconds(1), first.hash, first.revision, now_, first.generation});
  policy_.rulesets["a"] = "ruleset a v2";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_EQ(a.got.size(), 2u);
  AssignmentInfo second = a.got[1];
  fleet_->OnApplyResult(
      "a", sa,
      {true, "", absl::Milliseconds(1), second.hash, second.revision, now_, second.generation});
  ASSERT_EQ(fleet_->ConnectedInSync(), 1);
  // Replaying the answer to the first assignment (sent on this stream, but no longer in
  // flight) must not roll the verified state back.
  fleet_->OnApplyResult(
      "a", sa,
      {true, "", absl::Milliseconds(1), first.hash, first.revision, now_, first.generation});
  EXPECT_EQ(fleet_->Metrics().unverified_results, 1);
  EXPECT_EQ(fleet_->ConnectedInSync(), 1);
  EXPECT_EQ(HostStatus("a").applied_revision, fleet_->Status().revision);
  EXPECT_EQ(HostStatus("a").reported_revision, first.revision);
  // A generation that does not match the one sent is refused as well.
  policy_.rulesets["a"] = "ruleset a v3";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_EQ(a.got.size(), 3u);
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(1), a.got[2].hash, a.got[2].revision, now_,
                         a.got[2].generation + 7});
  EXPECT_EQ(fleet_->Metrics().unverified_results, 2);
  EXPECT_EQ(fleet_->ConnectedInSync(), 0);
}

TEST_F(FleetTest, TheAgentsClaimIsStoredApartFromWhatWasVerified) {
  RecordingSink a;
  uint64_t sa = Connect("a", a);
  const std::string forged(64, 'e');
  fleet_->OnApplyResult("a", sa,
                        {true, "", absl::Milliseconds(1), wire::Sha256Hex("x"), forged, now_});
  ASSERT_TRUE(fleet_->Flush().ok());
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok());
  bool seen = false;
  for (const auto& h : *hosts) {
    if (h.host != "a") continue;
    seen = true;
    EXPECT_EQ(h.reported_revision, forged);
    EXPECT_EQ(h.reported_hash, wire::Sha256Hex("x"));
    EXPECT_NE(h.applied_revision, forged);
    EXPECT_EQ(h.applied_hash, "");
  }
  EXPECT_TRUE(seen);
  Restart();
  EXPECT_EQ(HostStatus("a").reported_revision, forged) << "the claim survives a restart";
  EXPECT_NE(HostStatus("a").applied_revision, forged);
}

TEST_F(FleetTest, GenerationGrowsWithEveryChangeAndSurvivesRestart) {
  uint64_t g1 = fleet_->Generation();
  EXPECT_GE(g1, 1u);
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_EQ(fleet_->Generation(), g1) << "nothing changed";
  policy_.rulesets["a"] = "ruleset a v2";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  uint64_t g2 = fleet_->Generation();
  EXPECT_GT(g2, g1);
  // A release returns to an earlier revision: its generation is newer all the same.
  policy_.rulesets["a"] = "ruleset a";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  EXPECT_GT(fleet_->Generation(), g2);
  uint64_t g3 = fleet_->Generation();
  ASSERT_TRUE(fleet_->Flush().ok());
  Restart();
  EXPECT_EQ(fleet_->Generation(), g3);
  RecordingSink a;
  Connect("a", a);
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].generation, g3);
}

TEST_F(FleetTest, AHelloThatRunsTheWantedRulesetIsAnsweredInSync) {
  RecordingSink a;
  auto s = fleet_->Connect({"a", "test", "", wire::Sha256Hex("ruleset a"), {}, 1}, &a, now_);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(a.got.empty());
  ASSERT_EQ(a.in_sync.size(), 1u);
  EXPECT_EQ(a.in_sync[0].first, fleet_->Status().revision);
  EXPECT_EQ(a.in_sync[0].second, fleet_->Generation());
  EXPECT_EQ(fleet_->Metrics().in_sync_replies, 1);
  EXPECT_EQ(fleet_->Metrics().assignments_sent, 0);
}

TEST_F(FleetTest, AnAgentAheadOfTheControllerIsSentNothing) {
  uint64_t ours = fleet_->Generation();
  RecordingSink a;
  auto s = fleet_->Connect(
      {"a", "test", std::string(64, 'a'), wire::Sha256Hex("newer ruleset"), {}, ours + 5}, &a,
      now_);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(a.got.empty()) << "an older generation would roll the host back";
  EXPECT_TRUE(a.in_sync.empty());
  EXPECT_EQ(fleet_->Metrics().agents_ahead, 1);
  ASSERT_FALSE(HostStatus("a").degraded.empty());
  EXPECT_NE(HostStatus("a").degraded[0].find("controller-behind"), std::string::npos);
  // Rollouts that still leave this controller behind send nothing either...
  for (int i = 0; i < 4; ++i) {
    policy_.rulesets["a"] = "ruleset a v" + std::to_string(i);
    ASSERT_TRUE(fleet_->Reload(now_).ok());
  }
  EXPECT_EQ(fleet_->Generation(), ours + 4);
  EXPECT_TRUE(a.got.empty());
  // ...the first at least as new as the agent's goes out.
  policy_.rulesets["a"] = "ruleset a v9";
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].generation, ours + 5);
}

TEST_F(FleetTest, RemovedHostIsDisconnected) {
  RecordingSink b;
  Connect("b", b);
  policy_.rulesets.erase("b");
  ASSERT_TRUE(fleet_->Reload(now_).ok());
  ASSERT_TRUE(b.closed.has_value());
  EXPECT_EQ(b.closed->code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fleet_->Status().hosts.size(), 1u);
  EXPECT_EQ(fleet_->Metrics().agents_connected, 0);
}

}  // namespace
}  // namespace polder::controller
