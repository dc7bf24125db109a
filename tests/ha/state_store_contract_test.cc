// The state-store contract, run against both implementations: the SQLite store and the etcd
// store (a real etcd on 127.0.0.1 with its data on tmpfs, started and killed by the test). And
// the Fleet on etcd: a restart, and a second controller on the same store, see the same
// revision, generation, quarantines and audit log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "controller/etcd_state_store.h"
#include "controller/fleet.h"
#include "controller/log.h"
#include "controller/sqlite_state_store.h"
#include "controller/store_spec.h"
#include "tests/ha/etcd_process.h"
#include "wire/sha256.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;
using testing::EtcdProcess;

// One etcd for the whole binary; every test uses its own key space by wiping it first.
EtcdProcess* SharedEtcd() {
  static EtcdProcess* etcd = [] {
    auto started = EtcdProcess::Start();
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? started->release() : nullptr;
  }();
  return etcd;
}

class Environment : public ::testing::Environment {
 public:
  void TearDown() override { delete SharedEtcd(); }
};
[[maybe_unused]] auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new Environment());

enum class Backend { kSqlite, kEtcd };

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    SetLogEnabled(false);
    path_ = fs::temp_directory_path() /
            absl::StrCat("store-contract-", getpid(), "-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
    if (GetParam() == Backend::kEtcd) {
      ASSERT_NE(SharedEtcd(), nullptr);
      Wipe();
    }
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(path_);
  }
  // Removes every polder key, so that each test starts from an empty store.
  void Wipe() {
    auto store = EtcdStateStore::Open({SharedEtcd()->client_url()});
    ASSERT_TRUE(store.ok()) << store.status();
    // A rollout to no hosts forgets every host; the rest is removed record by record.
    ASSERT_TRUE((*store)->SaveRollout("", wire::Mode::kEnforce, {}, {}, absl::Now(), 0).ok());
    auto qs = (*store)->LoadQuarantines();
    ASSERT_TRUE(qs.ok());
    for (const auto& q : *qs) ASSERT_TRUE((*store)->DeleteQuarantine(q.target).ok());
    ASSERT_TRUE((*store)->DeletePosture().ok());
  }
  std::unique_ptr<StateStore> Open() {
    auto spec =
        ParseStoreSpec(GetParam() == Backend::kSqlite ? "sqlite:" + (path_ / "state.db").string()
                                                      : "etcd:" + SharedEtcd()->client_url());
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto store = OpenStateStore(*spec);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  fs::path path_;
  bool IsEtcd() const { return GetParam() == Backend::kEtcd; }
  std::unique_ptr<StateStore> store_;
};

TEST_P(StoreContractTest, RolloutGenerationAndHostsSurviveReopen) {
  absl::Time t = absl::FromUnixSeconds(1800000000);
  ASSERT_TRUE(store_
                  ->SaveRollout("r1", wire::Mode::kAudit,
                                {{"a", "r1", "ruleset a", "ha"}, {"b", "r1", "ruleset b", "hb"}},
                                {"a", "b"}, t, 7)
                  .ok());
  ASSERT_TRUE(store_->RecordApply("a", {true, "", absl::Milliseconds(2), "ha", "r1", t, 7}).ok());
  ASSERT_TRUE(store_->SetReported("a", "claimed", "claimed-hash").ok());
  ASSERT_TRUE(store_
                  ->RecordApply("b", {false, "kernel said no", absl::Milliseconds(2), "x", "r1",
                                      t + absl::Seconds(1)})
                  .ok());
  // Only b changes; a's ruleset stays as the first rollout set it; generation 0 keeps 7.
  ASSERT_TRUE(store_
                  ->SaveRollout("r2", wire::Mode::kEnforce, {{"b", "r2", "ruleset b2", "hb2"}},
                                {"a", "b"}, t, 0)
                  .ok());
  store_ = Open();
  auto served = store_->LoadServed();
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_TRUE(served->has_value());
  EXPECT_EQ((*served)->revision, "r2");
  EXPECT_EQ((*served)->mode, wire::Mode::kEnforce);
  EXPECT_EQ((*served)->generation, 7u);
  auto generation = store_->LoadGeneration();
  ASSERT_TRUE(generation.ok()) << generation.status();
  EXPECT_EQ(*generation, 7u);
  std::map<std::string, DesiredRuleset> desired;
  for (const auto& d : (*served)->hosts) desired[d.host] = d;
  ASSERT_EQ(desired.size(), 2u);
  EXPECT_EQ(desired["a"].revision, "r1");
  // SQLite keeps the text for a restart before the policy compiles; etcd only the hash (the
  // bundle is in the store, and 10,000 rulesets would be rewritten on every rollout).
  EXPECT_EQ(desired["a"].ruleset, IsEtcd() ? "" : "ruleset a");
  EXPECT_EQ(desired["a"].hash, "ha");
  EXPECT_EQ(desired["b"].hash, "hb2");
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  std::map<std::string, HostRecord> by_name;
  for (const auto& h : *hosts) by_name[h.host] = h;
  EXPECT_EQ(by_name["a"].applied_revision, "r1");
  EXPECT_EQ(by_name["a"].applied_hash, "ha");
  EXPECT_EQ(by_name["a"].reported_revision, "claimed");
  EXPECT_EQ(by_name["a"].reported_hash, "claimed-hash");
  EXPECT_EQ(by_name["b"].last_error, "kernel said no");
  EXPECT_EQ(by_name["b"].applied_revision, "");
  ASSERT_TRUE(by_name["b"].last_report.has_value());
  EXPECT_EQ(*by_name["b"].last_report, t + absl::Seconds(1));
}

TEST_P(StoreContractTest, HostsThatLeftThePolicyAreForgotten) {
  absl::Time t = absl::Now();
  ASSERT_TRUE(store_
                  ->SaveRollout("r1", wire::Mode::kEnforce,
                                {{"a", "r1", "a", "ha"}, {"b", "r1", "b", "hb"}}, {"a", "b"}, t, 1)
                  .ok());
  ASSERT_TRUE(store_->RecordApply("b", {true, "", absl::Milliseconds(1), "hb", "r1", t}).ok());
  ASSERT_TRUE(store_->SaveRollout("r2", wire::Mode::kEnforce, {}, {"a"}, t, 2).ok());
  auto served = store_->LoadServed();
  ASSERT_TRUE(served.ok() && served->has_value());
  ASSERT_EQ((*served)->hosts.size(), 1u);
  EXPECT_EQ((*served)->hosts[0].host, "a");
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok());
  for (const auto& h : *hosts) EXPECT_NE(h.host, "b");
}

TEST_P(StoreContractTest, ABatchLargerThanOneEtcdTransactionIsWrittenWhole) {
  std::vector<DesiredRuleset> many;
  std::vector<std::string> names;
  for (int i = 0; i < 3 * EtcdStateStore::kMaxOpsPerTxn + 5; ++i) {
    std::string name = absl::StrCat("h", i);
    names.push_back(name);
    many.push_back({name, "r1", "ruleset " + name, wire::Sha256Hex(name)});
  }
  absl::Time t = absl::Now();
  ASSERT_TRUE(store_->Begin().ok());
  ASSERT_TRUE(store_->SaveRollout("r1", wire::Mode::kEnforce, many, names, t, 3).ok());
  for (const auto& n : names)
    ASSERT_TRUE(
        store_->RecordApply(n, {true, "", absl::Milliseconds(1), wire::Sha256Hex(n), "r1", t})
            .ok());
  ASSERT_TRUE(store_->Commit().ok());
  auto hosts = store_->LoadHosts();
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  ASSERT_EQ(hosts->size(), names.size());
  for (const auto& h : *hosts) EXPECT_EQ(h.applied_revision, "r1") << h.host;
}

TEST_P(StoreContractTest, QuarantinesAndPosture) {
  absl::Time t = absl::FromUnixSeconds(1800000000);
  ASSERT_TRUE(store_->SaveQuarantine({"web", {"mgmt", "db"}, "incident 7", "alice", t}).ok());
  ASSERT_TRUE(store_->SaveQuarantine({"db-1", {}, "incident 8", "bob", t}).ok());
  ASSERT_TRUE(store_->DeleteQuarantine("db-1").ok());
  ASSERT_TRUE(store_->SavePosture({"lockdown", "storm", "carol", t, true}).ok());
  store_ = Open();
  auto qs = store_->LoadQuarantines();
  ASSERT_TRUE(qs.ok()) << qs.status();
  ASSERT_EQ(qs->size(), 1u);
  EXPECT_EQ((*qs)[0].target, "web");
  EXPECT_EQ((*qs)[0].allow, (std::vector<std::string>{"mgmt", "db"}));
  EXPECT_EQ((*qs)[0].actor, "alice");
  EXPECT_EQ((*qs)[0].since, t);
  auto posture = store_->LoadPosture();
  ASSERT_TRUE(posture.ok() && posture->has_value());
  EXPECT_EQ((*posture)->name, "lockdown");
  EXPECT_TRUE((*posture)->forced);
  ASSERT_TRUE(store_->DeletePosture().ok());
  posture = store_->LoadPosture();
  ASSERT_TRUE(posture.ok());
  EXPECT_FALSE(posture->has_value());
}

TEST_P(StoreContractTest, AuditLogIsNewestFirstWithLimitAndSince) {
  // After anything earlier tests left: the etcd audit log is append-only, never wiped.
  absl::Time base = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()) + 3600'000'000);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_
                    ->Audit({0, base + absl::Seconds(i), "quarantine", "alice",
                             absl::StrCat("t", i), "detail", "why", "rev"})
                    .ok());
  }
  auto all = store_->AuditLog(3);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].target, "t4");
  EXPECT_EQ((*all)[2].target, "t2");
  EXPECT_GT((*all)[0].id, (*all)[1].id);
  auto since = store_->AuditLog(100, base + absl::Seconds(3));
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 2u);
  EXPECT_EQ((*since)[1].target, "t3");
  EXPECT_EQ((*since)[1].reason, "why");
  EXPECT_EQ((*since)[1].time, base + absl::Seconds(3));
}

// A policy bundle larger than one etcd request (1.5 MiB by default) is stored whole, and on etcd
// a damaged chunk is refused, never served.
TEST_P(StoreContractTest, ABundleOfSeveralMegabytesIsStoredWhole) {
  auto before = store_->LoadDesiredPolicy();
  ASSERT_TRUE(before.ok()) << before.status();
  int64_t base = before->has_value() ? (*before)->version : 0;
  std::string bundle;
  for (int i = 0; bundle.size() < (5u << 19); ++i)
    absl::StrAppend(&bundle, "  - name: h", i, "\n    addresses: [10.0.", i % 250, ".1]\n");
  absl::Time t = absl::FromUnixSeconds(1800000000);
  DesiredPolicy p{"big-" + absl::StrCat(absl::ToUnixMicros(absl::Now())), "digest", "alice", t, 0};
  AuditRecord a{0, t, "publish", "alice", "policy", "files", "big", p.revision};
  auto won = store_->PublishPolicy(p, bundle, base, a);
  ASSERT_TRUE(won.ok()) << won.status();
  ASSERT_TRUE(won->won);
  store_ = Open();
  auto loaded = store_->LoadBundle(p.revision);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ(loaded->value().size(), bundle.size());
  EXPECT_TRUE(**loaded == bundle) << "the chunks came back in another order or cut";
  if (!IsEtcd()) return;
  std::string put =
      absl::StrCat("ETCDCTL_API=3 etcdctl --endpoints ", SharedEtcd()->client_url(),
                   " put /polder/v1/bundle/", p.revision, "/000001 damaged >/dev/null");
  ASSERT_EQ(std::system(put.c_str()), 0) << put;
  auto damaged = store_->LoadBundle(p.revision);
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << damaged.status();
}

// Publish is a compare-and-swap on the desired policy's version, with its bundle and audit
// entry in the same transaction; a loser learns the winner in the same call. (The etcd store is
// shared by the tests: start from whatever version it holds.)
TEST_P(StoreContractTest, PublishIsACompareAndSwapOnTheDesiredVersion) {
  auto before = store_->LoadDesiredPolicy();
  ASSERT_TRUE(before.ok()) << before.status();
  int64_t base = before->has_value() ? (*before)->version : 0;
  absl::Time t = absl::FromUnixSeconds(1800000000);
  std::string tag = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  DesiredPolicy p1{"rev1-" + tag, "digest1", "alice", t, 0};
  AuditRecord a1{0, t, "publish", "alice", "policy", "files", "first", p1.revision};
  auto won = store_->PublishPolicy(p1, "bundle one", base, a1);
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_TRUE(won->won);
  EXPECT_EQ(won->current.revision, p1.revision);
  EXPECT_GT(won->current.version, base);

  // A second publisher still on `base` loses and is told the winner; nothing of it is written.
  DesiredPolicy p2{"rev2-" + tag, "digest2", "bob", t, 0};
  AuditRecord a2{0, t, "publish", "bob", "policy", "files", "second", p2.revision};
  auto lost = store_->PublishPolicy(p2, "bundle two", base, a2);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_FALSE(lost->won);
  EXPECT_EQ(lost->current.revision, p1.revision);
  EXPECT_EQ(lost->current.actor, "alice");
  EXPECT_EQ(lost->current.version, won->current.version);
  auto missing = store_->LoadBundle(p2.revision);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // On the winner's version it wins.
  auto next = store_->PublishPolicy(p2, "bundle two", won->current.version, a2);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->won);
  EXPECT_GT(next->current.version, won->current.version);

  store_ = Open();
  auto desired = store_->LoadDesiredPolicy();
  ASSERT_TRUE(desired.ok() && desired->has_value());
  EXPECT_EQ((*desired)->revision, p2.revision);
  EXPECT_EQ((*desired)->digest, "digest2");
  EXPECT_EQ((*desired)->actor, "bob");
  EXPECT_EQ((*desired)->version, next->current.version);
  auto b1 = store_->LoadBundle(p1.revision);
  ASSERT_TRUE(b1.ok() && b1->has_value());
  EXPECT_EQ(**b1, "bundle one");
  auto log = store_->AuditLog(1000);
  ASSERT_TRUE(log.ok()) << log.status();
  int first = 0, second = 0;
  for (const auto& e : *log) {
    first += e.kind == "publish" && e.revision == p1.revision;
    second += e.kind == "publish" && e.revision == p2.revision;
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1) << "the lost publish left no audit entry";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::Values(Backend::kSqlite, Backend::kEtcd), [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Etcd";
                         });

TEST(StoreSpecTest, ParsesBothKindsAndNamesWhatIsWrong) {
  auto sqlite = ParseStoreSpec("sqlite:/var/lib/polder/state.db");
  ASSERT_TRUE(sqlite.ok());
  EXPECT_EQ(sqlite->kind, StoreSpec::Kind::kSqlite);
  EXPECT_EQ(sqlite->file, "/var/lib/polder/state.db");
  auto etcd = ParseStoreSpec("etcd:http://10.0.0.1:2379, http://10.0.0.2:2379");
  ASSERT_TRUE(etcd.ok());
  EXPECT_EQ(etcd->kind, StoreSpec::Kind::kEtcd);
  EXPECT_EQ(etcd->endpoints,
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_FALSE(ParseStoreSpec("postgres://x").ok());
  EXPECT_FALSE(ParseStoreSpec("etcd:").ok());
  EXPECT_FALSE(ParseStoreSpec("sqlite:").ok());
  auto bad_url = EtcdStateStore::Open({"10.0.0.1:2379"});
  ASSERT_FALSE(bad_url.ok());
  EXPECT_NE(bad_url.status().message().find("http://"), std::string::npos);
  auto no_tls = EtcdStateStore::Open({"https://10.0.0.1:2379"});
  ASSERT_FALSE(no_tls.ok());
  EXPECT_NE(no_tls.status().message().find("--store-tls-dir"), std::string::npos);
}

// A policy source for fleets: two hosts, their rulesets marked quarantined when ordered.
PolicyCompiler TwoHosts() {
  return [](absl::Time, const std::vector<QuarantineRecord>& q,
            const std::string&) -> absl::StatusOr<CompiledPolicy> {
    CompiledPolicy c;
    std::string all;
    for (const char* h : {"a", "b"}) {
      std::string text = absl::StrCat("ruleset ", h);
      for (const auto& o : q)
        if (o.target == h) text += "\nquarantined";
      c.hosts[h] = {"zone", text};
      absl::StrAppend(&all, h, "=", text, ";");
    }
    c.zones = {"zone"};
    c.revision = wire::Sha256Hex(all);
    return c;
  };
}

struct Sink : AgentSink {
  std::vector<AssignmentInfo> got;
  int in_sync = 0;
  void Assign(const AssignmentInfo& a) override { got.push_back(a); }
  void InSync(const std::string&, uint64_t) override { ++in_sync; }
  void Close(const absl::Status&) override {}
};

TEST(FleetOnEtcdTest, ASecondControllerOnTheSameStoreSeesTheSameState) {
  SetLogEnabled(false);
  ASSERT_NE(SharedEtcd(), nullptr);
  auto open = [] {
    auto s = EtcdStateStore::Open({SharedEtcd()->client_url()});
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  };
  auto store_a = open();
  // Start from an empty store (other tests share this etcd).
  ASSERT_TRUE(store_a->SaveRollout("", wire::Mode::kEnforce, {}, {}, absl::Now(), 0).ok());
  auto left = store_a->LoadQuarantines();  // by other tests on this etcd
  ASSERT_TRUE(left.ok()) << left.status();
  for (const auto& q : *left) ASSERT_TRUE(store_a->DeleteQuarantine(q.target).ok());
  absl::Time now = absl::Now();
  auto a = std::make_unique<Fleet>(store_a.get(), TwoHosts());
  ASSERT_TRUE(a->Start(now).ok());
  auto q = a->Quarantine({"b", {}, "incident 12", "alice", now}, now);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(a->Flush().ok());
  uint64_t generation = a->Generation();

  auto store_b = open();
  Fleet b(store_b.get(), TwoHosts());
  ASSERT_TRUE(b.Start(now).ok());
  EXPECT_EQ(b.Status().revision, *q);
  EXPECT_EQ(b.Generation(), generation) << "nothing changed: the same generation";
  ASSERT_EQ(b.Status().quarantines.size(), 1u);
  EXPECT_EQ(b.Status().quarantines[0].target, "b");
  auto log = b.AuditLog(100);
  ASSERT_TRUE(log.ok()) << log.status();
  bool audited = false;
  for (const auto& e : *log) audited |= e.kind == "quarantine" && e.reason == "incident 12";
  EXPECT_TRUE(audited);
  // An agent that applied a's assignment and fails over to b is in sync there: nothing sent.
  Sink on_a;
  auto session = a->Connect({"b", "test", "", ""}, &on_a, now);
  ASSERT_TRUE(session.ok());
  ASSERT_EQ(on_a.got.size(), 1u);
  Sink on_b;
  ASSERT_TRUE(
      b.Connect({"b", "test", on_a.got[0].revision, on_a.got[0].hash, {}, on_a.got[0].generation},
                &on_b, now)
          .ok());
  EXPECT_TRUE(on_b.got.empty());
  EXPECT_EQ(on_b.in_sync, 1);
}

TEST(FleetOnEtcdTest, OrdersGivenToOneControllerReachTheOthersAgents) {
  SetLogEnabled(false);
  ASSERT_NE(SharedEtcd(), nullptr);
  auto open = [] {
    auto s = EtcdStateStore::Open({SharedEtcd()->client_url()});
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  };
  auto store_a = open();
  ASSERT_TRUE(store_a->SaveRollout("", wire::Mode::kEnforce, {}, {}, absl::Now(), 0).ok());
  auto left = store_a->LoadQuarantines();  // by other tests on this etcd
  ASSERT_TRUE(left.ok()) << left.status();
  for (const auto& q : *left) ASSERT_TRUE(store_a->DeleteQuarantine(q.target).ok());
  absl::Time now = absl::Now();
  Fleet a(store_a.get(), TwoHosts());
  ASSERT_TRUE(a.Start(now).ok());
  ASSERT_TRUE(a.Flush().ok());
  auto store_b = open();
  Fleet b(store_b.get(), TwoHosts());
  ASSERT_TRUE(b.Start(now).ok());
  Sink agent;  // host b's agent, connected to controller b
  ASSERT_TRUE(b.Connect({"b", "test", "", ""}, &agent, now).ok());
  ASSERT_EQ(agent.got.size(), 1u);
  auto nothing = b.SyncFromStore(now);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(*nothing) << "no order yet: nothing rolled out";

  ASSERT_TRUE(a.Quarantine({"b", {}, "incident 13", "alice", now}, now).ok());
  auto synced = b.SyncFromStore(now);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_TRUE(*synced);
  ASSERT_EQ(agent.got.size(), 2u);
  EXPECT_NE(agent.got[1].ruleset->find("quarantined"), std::string::npos);
  EXPECT_GE(agent.got[1].generation, a.Generation());
  ASSERT_EQ(b.Status().quarantines.size(), 1u);
  EXPECT_FALSE(*b.SyncFromStore(now)) << "the same orders again: no churn";
  EXPECT_EQ(agent.got.size(), 2u);

  ASSERT_TRUE(a.Release("b", "alice", now, "over").ok());
  ASSERT_TRUE(*b.SyncFromStore(now));
  ASSERT_EQ(agent.got.size(), 3u);
  EXPECT_EQ(agent.got[2].ruleset->find("quarantined"), std::string::npos);

  // The shared audit log holds each order and its rollout once, by the controller that carried
  // it out, not once more per controller that followed it.
  ASSERT_TRUE(a.Flush().ok());
  ASSERT_TRUE(b.Flush().ok());
  auto log = a.AuditLog(1000, now - absl::Seconds(1));
  ASSERT_TRUE(log.ok()) << log.status();
  int orders = 0, rollouts = 0, followed = 0;
  for (const AuditRecord& e : *log) {
    if (e.kind == "quarantine" && e.reason == "incident 13") ++orders;
    if (e.kind == "rollout") ++rollouts;
    if (e.reason == "orders from another controller") ++followed;
  }
  EXPECT_EQ(orders, 1);
  EXPECT_EQ(followed, 0) << "controller b audited the rollout of a's order again";
  EXPECT_GE(rollouts, 2);  // a's: the quarantine's and the release's

  // A release given to b right after a's quarantine, before b's next read of the store (every
  // 100 ms in polder-controller), finds the quarantine: b reads the store when it does not.
  ASSERT_TRUE(a.Quarantine({"b", {}, "incident 14", "alice", now}, now).ok());
  auto released = b.Release("b", "bob", now, "over again");
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(agent.got.back().ruleset->find("quarantined"), std::string::npos);
  auto stored = open()->LoadQuarantines();  // a store of its own: a's and b's are in use
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(stored->empty());
}

}  // namespace
}  // namespace polder::controller
