#include "controller/bundle_sync.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "controller/log.h"
#include "controller/sqlite_state_store.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

constexpr char kPolicy[] = R"(
settings:
  controller: { addresses: [10.9.0.2], port: 7443 }
zones:
  - name: web
    cidrs: [10.1.0.0/24]
  - name: db
    cidrs: [10.2.0.0/24]
hosts:
  - name: web-1
    addresses: [10.1.0.11]
  - name: db-1
    addresses: [10.2.0.5]
services:
  - name: pg
    ports: [tcp/5432]
flows:
  - from: web
    to: db
    services: [pg]
)";

// Two controllers' BundleSyncs on one store (two SQLite connections on one file: the same
// compare-and-swap semantics the etcd store has; tests/ha runs the etcd side).
class BundleSyncTest : public ::testing::Test {
 protected:
  struct Controller {
    std::unique_ptr<SqliteStateStore> store;
    std::unique_ptr<BundleSync> sync;
    std::vector<std::string> reloads;
  };

  void SetUp() override {
    SetLogEnabled(false);
    dir_ = fs::temp_directory_path() /
           absl::StrCat("bundle-sync-", getpid(), "-",
                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    a_.sync.reset();
    b_.sync.reset();
    fs::remove_all(dir_);
  }
  // A policy directory: kPolicy with the pg port replaced by `port` ("" keeps 5432).
  fs::path PolicyDir(const std::string& name, const std::string& port = "5432") {
    fs::path d = dir_ / name;
    fs::create_directories(d);
    std::ofstream(d / "policy.yaml") << absl::StrReplaceAll(kPolicy, {{"5432", port}});
    return d;
  }
  void Make(Controller& c, const std::string& name, const fs::path& policy, bool adopt) {
    auto store = SqliteStateStore::Open(dir_ / "state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    c.store = std::move(*store);
    Controller* self = &c;
    c.sync = std::make_unique<BundleSync>(
        BundleSyncOptions{policy, dir_ / ("cache-" + name), adopt},
        [self](const std::function<absl::Status(StateStore&)>& f) { return f(*self->store); },
        [self](const std::string& reason, bool /*adopted*/) {
          self->reloads.push_back(reason);
          return absl::OkStatus();
        });
  }
  std::string Desired(Controller& c) {
    auto d = c.store->LoadDesiredPolicy();
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() && d->has_value() ? (*d)->revision : "";
  }
  PolicyBundle Bundle(const fs::path& d) {
    auto b = PolicyBundle::ReadDirectory(d);
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }
  std::string ServedPlain(Controller& c) {
    auto compiled = c.sync->Compiler()(absl::Now(), {}, "");
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return compiled.ok() ? compiled->revision : "";
  }

  fs::path dir_;
  Controller a_, b_;
};

TEST_F(BundleSyncTest, AtStartAControllerAdoptsTheStoresBundleAndDoesNotPublishItsDirectory) {
  Make(a_, "a", PolicyDir("new"), /*adopt=*/true);
  ASSERT_TRUE(a_.sync->Start(absl::Now()).ok());
  std::string published = Desired(a_);
  ASSERT_FALSE(published.empty()) << "an empty store takes the first controller's directory";
  EXPECT_EQ(a_.sync->adopted()->revision, published);

  // B restarts on an old checkout: it serves the store's revision, not its directory's.
  Make(b_, "b", PolicyDir("old", "5433"), /*adopt=*/true);
  ASSERT_TRUE(b_.sync->Start(absl::Now()).ok());
  EXPECT_EQ(Desired(b_), published) << "the old checkout rolled the fleet back";
  EXPECT_EQ(b_.sync->adopted()->revision, published);
  EXPECT_EQ(ServedPlain(b_), published) << "B compiles the adopted bundle, not --policy";
  EXPECT_TRUE(b_.reloads.empty());
}

TEST_F(BundleSyncTest, ACompareAndSwapLoserAdoptsTheWinnerAndNothingFlipFlops) {
  Make(a_, "a", PolicyDir("start"), true);
  ASSERT_TRUE(a_.sync->Start(absl::Now()).ok());
  Make(b_, "b", PolicyDir("start-b"), true);
  ASSERT_TRUE(b_.sync->Start(absl::Now()).ok());
  std::string first = Desired(a_);

  auto won = a_.sync->Publish(Bundle(PolicyDir("a2", "6000")), "alice", "change 1", absl::Now());
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_TRUE(won->published);
  EXPECT_EQ(won->previous_revision, first);
  std::string second = won->revision;
  EXPECT_NE(second, first);

  // B has not seen A's publish: its CAS on the version it adopted loses, and it adopts A's.
  auto lost = b_.sync->Publish(Bundle(PolicyDir("b2", "7000")), "bob", "change 2", absl::Now());
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_FALSE(lost->published);
  EXPECT_TRUE(lost->lost_race);
  EXPECT_EQ(lost->revision, second);
  EXPECT_EQ(Desired(b_), second);
  EXPECT_EQ(b_.sync->adopted()->revision, second);
  EXPECT_EQ(ServedPlain(b_), second);
  ASSERT_EQ(b_.reloads.size(), 1u);
  auto polled = b_.sync->Poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(*polled) << "B already serves the desired revision";
  polled = a_.sync->Poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(*polled);

  // Now that B has seen it, B's publish wins, and A adopts it on its next poll.
  auto again = b_.sync->Publish(Bundle(PolicyDir("b2")), "bob", "change 2", absl::Now());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->published);
  polled = a_.sync->Poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_TRUE(*polled);
  EXPECT_EQ(a_.sync->adopted()->revision, again->revision);
  EXPECT_EQ(ServedPlain(a_), again->revision);

  // Publishing what is already desired writes nothing.
  auto same = a_.sync->Publish(Bundle(PolicyDir("b2")), "alice", "", absl::Now());
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->published);
  EXPECT_FALSE(same->lost_race);

  // Every publish that won is audited once, with its revision.
  auto log = a_.store->AuditLog(100);
  ASSERT_TRUE(log.ok());
  int publishes = 0;
  for (const auto& e : *log) publishes += e.kind == "publish";
  EXPECT_EQ(publishes, 3) << "the first (empty store), alice's and bob's second";
}

TEST_F(BundleSyncTest, ABundleThatDoesNotCompileIsNotPublished) {
  Make(a_, "a", PolicyDir("start"), true);
  ASSERT_TRUE(a_.sync->Start(absl::Now()).ok());
  std::string first = Desired(a_);
  fs::path broken = PolicyDir("broken");
  std::ofstream(broken / "policy.yaml", std::ios::app) << "  - from: nowhere\n    to: db\n";
  auto r = a_.sync->Publish(Bundle(broken), "alice", "", absl::Now());
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nowhere"), std::string::npos) << r.status();
  EXPECT_EQ(Desired(a_), first);
  EXPECT_EQ(a_.sync->adopted()->revision, first);
  EXPECT_TRUE(a_.reloads.empty());
}

TEST_F(BundleSyncTest, AStoreOfOneControllerTakesItsDirectoryAtStart) {
  Make(a_, "a", PolicyDir("one"), /*adopt=*/false);
  ASSERT_TRUE(a_.sync->Start(absl::Now()).ok());
  a_.sync.reset();
  Make(a_, "a", PolicyDir("two", "6000"), /*adopt=*/false);  // SQLite: edited while stopped
  ASSERT_TRUE(a_.sync->Start(absl::Now()).ok());
  EXPECT_EQ(Desired(a_), ServedPlain(a_));
  EXPECT_EQ(a_.sync->adopted()->revision, ServedPlain(a_));
  auto log = a_.store->AuditLog(100);
  ASSERT_TRUE(log.ok());
  int publishes = 0;
  for (const auto& e : *log) publishes += e.kind == "publish";
  EXPECT_EQ(publishes, 2);
}

}  // namespace
}  // namespace polder::controller
