#include "controller/sqlite_state_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("state-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    fs::remove(path_);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }
  std::unique_ptr<StateStore> Open() {
    auto s = StateStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  fs::path path_;
  absl::Time t0_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(StateStoreTest, RolloutAndReportsSurviveReopen) {
  {
    auto s = Open();
    ASSERT_TRUE(s->SaveRollout("r1", wire::Mode::kEnforce,
                               {{"a", "r1", "rs-a", "ha"}, {"b", "r1", "rs-b", "hb"}}, {"a", "b"},
                               t0_)
                    .ok());
    ASSERT_TRUE(s->RecordApply("a", {true, "", absl::Milliseconds(5), "ha", "r1", t0_}).ok());
    ASSERT_TRUE(s->RecordDrift("b", {{"chain input changed"}, t0_, 42, false}).ok());
    ASSERT_TRUE(s->SaveQuarantine({"b", {"mgmt"}, "incident", "alice", t0_}).ok());
  }
  auto s = Open();
  auto served = s->LoadServed();
  ASSERT_TRUE(served.ok() && served->has_value());
  EXPECT_EQ((*served)->revision, "r1");
  ASSERT_EQ((*served)->hosts.size(), 2u);
  auto hosts = s->LoadHosts();
  ASSERT_TRUE(hosts.ok());
  ASSERT_EQ(hosts->size(), 2u);
  EXPECT_EQ((*hosts)[0].applied_hash, "ha");
  EXPECT_EQ((*hosts)[0].last_report, t0_);
  EXPECT_TRUE((*hosts)[1].drift);
  auto q = s->LoadQuarantines();
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].allow, std::vector<std::string>{"mgmt"});
  EXPECT_EQ(*s->CountApplyResults("a"), 1);
  EXPECT_EQ(*s->CountDriftReports("b"), 1);
}

TEST_F(StateStoreTest, RolloutForgetsHostsThatLeftThePolicyAndKeepsUnchangedOnes) {
  auto s = Open();
  ASSERT_TRUE(s->SaveRollout("r1", wire::Mode::kEnforce,
                             {{"a", "r1", "x", "h1"}, {"b", "r1", "y", "h2"}}, {"a", "b"}, t0_)
                  .ok());
  ASSERT_TRUE(
      s->SaveRollout("r2", wire::Mode::kAudit, {{"c", "r2", "z", "h3"}}, {"a", "c"}, t0_).ok());
  auto served = s->LoadServed();
  ASSERT_TRUE(served.ok() && served->has_value());
  EXPECT_EQ((*served)->revision, "r2");
  EXPECT_EQ((*served)->mode, wire::Mode::kAudit);
  std::vector<std::string> names;
  for (const auto& h : (*served)->hosts) names.push_back(h.host + "=" + h.ruleset);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a=x", "c=z"}));
}

TEST_F(StateStoreTest, OnlyTheNewestReportsAreKept) {
  auto s = Open();
  ASSERT_TRUE(
      s->SaveRollout("r1", wire::Mode::kEnforce, {{"a", "r1", "rs-a", "ha"}}, {"a"}, t0_).ok());
  ASSERT_TRUE(s->Begin().ok());
  for (int64_t i = 0; i < StateStore::kKeptReports + 50; ++i) {
    ASSERT_TRUE(s->RecordDrift("a", {{"rule added"}, t0_, 7, true}).ok());
  }
  ASSERT_TRUE(s->Commit().ok());
  EXPECT_EQ(*s->CountDriftReports("a"), StateStore::kKeptReports);
}

TEST_F(StateStoreTest, AStoredDriftReportIsBoundedInSize) {
  {
    auto s = Open();
    std::vector<std::string> lines(1000, std::string(4096, 'x'));
    ASSERT_TRUE(s->RecordDrift("a", {lines, t0_, 7, true}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT differences FROM drift_reports", -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  std::string stored(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
  sqlite3_finalize(q);
  sqlite3_close(db);
  EXPECT_LT(stored.size(), StateStore::kMaxStoredDriftBytes + 100);
  EXPECT_NE(stored.find("... 996 more"), std::string::npos) << stored.substr(stored.size() - 40);
}

TEST_F(StateStoreTest, AuditLogIsAppendOnlyAndNewestFirst) {
  auto s = Open();
  ASSERT_TRUE(s->Audit({0, t0_, "rollout", "controller", "", "r1"}).ok());
  ASSERT_TRUE(s->Audit({0, t0_ + absl::Seconds(1), "quarantine", "alice", "web-1", "x"}).ok());
  auto log = s->AuditLog(10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].kind, "quarantine");
  EXPECT_EQ((*log)[1].kind, "rollout");
  // Going around the API with raw SQL is refused by the triggers.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor='mallory'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(s->AuditLog(10)->size(), 2u);
}

TEST_F(StateStoreTest, AuditLogKeepsReasonAndRevisionAndFiltersByTime) {
  auto s = Open();
  ASSERT_TRUE(
      s->Audit({0, t0_, "rollout", "controller", "", "1 of 2", "policy changed", "r1"}).ok());
  ASSERT_TRUE(s->Audit({0, t0_ + absl::Hours(2), "quarantine", "alice", "web-1", "allow []",
                        "incident 42", "r2"})
                  .ok());
  auto all = s->AuditLog(10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].reason, "incident 42");
  EXPECT_EQ((*all)[0].revision, "r2");
  EXPECT_EQ((*all)[1].reason, "policy changed");
  auto recent = s->AuditLog(10, t0_ + absl::Hours(1));
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].kind, "quarantine");
  EXPECT_EQ(s->AuditLog(10, t0_ + absl::Hours(2))->size(), 1u);  // at or after
  EXPECT_TRUE(s->AuditLog(10, t0_ + absl::Hours(3))->empty());
}

TEST_F(StateStoreTest, AnAuditLogOfAnOlderControllerGainsReasonAndRevision) {
  {
    // The audit table as controllers before issue 13 made it, with one entry.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time_us "
                           "INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, target "
                           "TEXT NOT NULL, detail TEXT NOT NULL);"
                           "INSERT INTO audit (time_us, kind, actor, target, detail) "
                           "VALUES (1, 'release', 'bob', 'web', '')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Audit({0, t0_, "quarantine", "alice", "web", "", "incident", "r9"}).ok());
  auto log = s->AuditLog(10);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].revision, "r9");
  EXPECT_EQ((*log)[1].actor, "bob");
  EXPECT_EQ((*log)[1].reason, "");
}

TEST_F(StateStoreTest, ACorruptQuarantineRowIsAnErrorNotACrash) {
  auto s = Open();
  ASSERT_TRUE(s->SaveQuarantine({"web", {"mgmt"}, "incident", "alice", t0_}).ok());
  ASSERT_TRUE(s->LoadQuarantines().ok());
  // Rows as a disk error, a hand edit or another program could leave them.
  for (const char* allow : {"[1, 2]", "[\"mgmt\", null]", "{\"zone\": \"mgmt\"}", "[\"mgm"}) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* update = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE quarantines SET allow = ? WHERE target = 'web'", -1,
                                 &update, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(update, 1, allow, -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(update), SQLITE_DONE);
    sqlite3_finalize(update);
    sqlite3_close(db);
    auto q = s->LoadQuarantines();
    ASSERT_FALSE(q.ok()) << allow;
    EXPECT_EQ(q.status().code(), absl::StatusCode::kDataLoss) << q.status();
    EXPECT_NE(q.status().message().find("quarantine of `web` is corrupt"), std::string::npos)
        << q.status();
    EXPECT_NE(q.status().message().find(allow), std::string::npos) << q.status();
  }
}

TEST_F(StateStoreTest, DriftLinesThatAreNotUtf8AreStoredNotThrown) {
  auto s = Open();
  ASSERT_TRUE(s->RecordDrift("a", {{"rule \xff\xfe added"}, t0_, 7, false}).ok());
  EXPECT_EQ(*s->CountDriftReports("a"), 1);
  ASSERT_TRUE(s->SaveQuarantine({"web", {"mg\xffmt"}, "incident", "alice", t0_}).ok());
  auto q = s->LoadQuarantines();
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ((*q)[0].allow, std::vector<std::string>{"mg\xef\xbf\xbdmt"});  // U+FFFD
}

TEST_F(StateStoreTest, AtMostOnePostureIsKeptAndItSurvivesReopen) {
  {
    auto s = Open();
    auto none = s->LoadPosture();
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(s->SavePosture({"lockdown", "crisis", "alice", t0_, false}).ok());
    // Saving again replaces: the table has one slot.
    ASSERT_TRUE(s->SavePosture({"drill", "practice", "bob", t0_ + absl::Seconds(1), true}).ok());
  }
  auto s = Open();
  auto p = s->LoadPosture();
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->name, "drill");
  EXPECT_EQ((*p)->actor, "bob");
  EXPECT_EQ((*p)->since, t0_ + absl::Seconds(1));
  EXPECT_TRUE((*p)->forced);
  ASSERT_TRUE(s->DeletePosture().ok());
  EXPECT_FALSE(s->LoadPosture()->has_value());
}

TEST_F(StateStoreTest, EmptyStoreServesNothing) {
  auto s = Open();
  auto served = s->LoadServed();
  ASSERT_TRUE(served.ok());
  EXPECT_FALSE(served->has_value());
}

}  // namespace
}  // namespace polder::controller
