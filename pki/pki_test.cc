#include "pki/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace polder::pki {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const char* name) {
  fs::path d = fs::temp_directory_path() /
               (std::string("pki-test-") + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PkiTest, InitWritesCaAndControllerWithPrivateKeys) {
  fs::path d = TempDir("init");
  ASSERT_TRUE(InitPki(d, {{"ctl.example"}, {"10.0.0.2"}}).ok());
  for (const char* f :
       {"ca/ca.crt", "ca/ca.key", "ca.crt", "crl.pem", "controller/ca.crt",
        "controller/controller.crt", "controller/controller.key", "controller/crl.pem"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  // The CA key is in a directory of its own; the controller's has no CA key.
  EXPECT_FALSE(fs::exists(d / "ca.key"));
  EXPECT_FALSE(fs::exists(d / "controller" / "ca.key"));
  EXPECT_EQ(ControllerDir(d), d / "controller");
  struct stat st;
  ASSERT_EQ(stat((d / "ca" / "ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((d / "ca").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  ASSERT_EQ(stat((d / "controller" / "controller.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(Slurp(d / "controller" / "ca.crt"), Slurp(d / "ca" / "ca.crt"));
  // The CRL starts empty and is signed by the CA.
  auto none = RevokedSerials(Slurp(d / "controller" / "crl.pem"), Slurp(d / "ca.crt"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  auto id = IdentityFromPem(Slurp(d / "controller" / "controller.crt"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->role, Role::kController);
  EXPECT_EQ(id->common_name, "ctl.example");
  EXPECT_EQ(InitPki(d, {}).code(), absl::StatusCode::kAlreadyExists);
  fs::remove_all(d);
}

TEST(PkiTest, AgentCertificateNamesItsHostOnly) {
  fs::path d = TempDir("agent");
  ASSERT_TRUE(InitPki(d, {}).ok());
  auto dir = IssueAgent(d, "web-1");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, d / "agents" / "web-1");
  auto id = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->role, Role::kAgent);
  EXPECT_EQ(id->common_name, "web-1");
  EXPECT_EQ(id->dns_names, std::vector<std::string>{"web-1"});
  EXPECT_TRUE(NamesHost(*id, "web-1"));
  EXPECT_FALSE(NamesHost(*id, "web-2"));
  EXPECT_EQ(Slurp(*dir / "ca.crt"), Slurp(d / "ca.crt"));
  fs::remove_all(d);
}

TEST(PkiTest, AdminCertificateIsMarkedAndNamesNoHost) {
  fs::path d = TempDir("admin");
  ASSERT_TRUE(InitPki(d, {}).ok());
  auto dir = IssueAdmin(d, "alice");
  ASSERT_TRUE(dir.ok());
  auto id = IdentityFromPem(Slurp(*dir / "admin.crt"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->role, Role::kAdmin);
  // An admin certificate is no agent certificate, even for a host "alice".
  EXPECT_FALSE(NamesHost(*id, "alice"));
  fs::remove_all(d);
}

TEST(PkiTest, RefusesBadNamesAndMissingCa) {
  fs::path d = TempDir("bad");
  EXPECT_FALSE(IssueAgent(d, "web-1").ok());  // no CA yet
  ASSERT_TRUE(InitPki(d, {}).ok());
  EXPECT_EQ(IssueAgent(d, "../etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueAgent(d, "Web").status().code(), absl::StatusCode::kInvalidArgument);
  fs::remove_all(d);
  EXPECT_EQ(InitPki(d, {{"bad name,DNS:evil"}, {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InitPki(d, {{}, {"10.0.0.300"}}).code(), absl::StatusCode::kInvalidArgument);
  fs::remove_all(d);
}

TEST(PkiTest, IssuingAgainRefusesToReplaceAKeyUnlessTold) {
  fs::path d = TempDir("again");
  ASSERT_TRUE(InitPki(d, {}).ok());
  auto first = IssueAgent(d, "web-1");
  ASSERT_TRUE(first.ok());
  std::string key = Slurp(*first / "agent.key");
  auto again = IssueAgent(d, "web-1");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("--force"), std::string::npos) << again.status();
  EXPECT_EQ(Slurp(*first / "agent.key"), key);  // untouched
  EXPECT_EQ(IssueAdmin(d, "alice").status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(IssueAdmin(d, "alice").status().code(), absl::StatusCode::kAlreadyExists);
  auto forced = IssueAgent(d, "web-1", {}, /*overwrite=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_NE(Slurp(*first / "agent.key"), key);
  fs::remove_all(d);
}

TEST(PkiTest, RenewKeepsTheKeyAndGivesANewSerialAndExpiry) {
  fs::path d = TempDir("renew");
  ASSERT_TRUE(InitPki(d, {}).ok());
  absl::Time soon = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 20)));
  auto dir = IssueAgent(d, "web-1", {std::nullopt, soon});
  ASSERT_TRUE(dir.ok());
  std::string key = Slurp(*dir / "agent.key");
  auto before = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->not_after, soon);
  auto renewed = RenewAgent(d, "web-1");
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  auto after = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->serial, before->serial);
  EXPECT_GT(after->not_after, absl::Now() + absl::Hours(24 * 700));
  EXPECT_EQ(after->common_name, "web-1");
  EXPECT_EQ(Slurp(*dir / "agent.key"), key);  // same key by default
  EXPECT_FALSE(fs::exists(*dir / "agent.crt.tmp"));
  ASSERT_TRUE(RenewAgent(d, "web-1", {}, /*new_key=*/true).ok());
  EXPECT_NE(Slurp(*dir / "agent.key"), key);
  ASSERT_TRUE(IssueAdmin(d, "alice").ok());
  EXPECT_TRUE(RenewAdmin(d, "alice").ok());
  EXPECT_EQ(RenewAgent(d, "web-2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RenewAgent(d, "../x").status().code(), absl::StatusCode::kInvalidArgument);
  fs::remove_all(d);
}

TEST(PkiTest, RevokeListsEveryCertificateOfTheNameInTheCrl) {
  fs::path d = TempDir("revoke");
  ASSERT_TRUE(InitPki(d, {}).ok());
  auto dir = IssueAgent(d, "web-1");
  ASSERT_TRUE(dir.ok());
  auto first = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(RenewAgent(d, "web-1").ok());
  auto second = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(IssueAgent(d, "web-2").ok());
  auto other = IdentityFromPem(Slurp(d / "agents" / "web-2" / "agent.crt"));
  ASSERT_TRUE(IssueAdmin(d, "alice").ok());
  auto alice = IdentityFromPem(Slurp(d / "admins" / "alice" / "admin.crt"));
  ASSERT_TRUE(first.ok() && second.ok() && other.ok() && alice.ok());

  auto n = RevokeAgent(d, "web-1", absl::Now());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);  // the renewed one and the one it replaced
  auto listed = RevokedSerials(Slurp(d / "controller" / "crl.pem"), Slurp(d / "ca.crt"));
  ASSERT_TRUE(listed.ok()) << listed.status();
  auto has = [&](const std::string& s) {
    return std::find(listed->begin(), listed->end(), s) != listed->end();
  };
  EXPECT_TRUE(has(first->serial));
  EXPECT_TRUE(has(second->serial));
  EXPECT_FALSE(has(other->serial));
  EXPECT_EQ(Slurp(d / "crl.pem"), Slurp(d / "controller" / "crl.pem"));
  // Again: nothing new; an admin next, and the earlier entries stay.
  EXPECT_EQ(*RevokeAgent(d, "web-1", absl::Now()), 0);
  EXPECT_EQ(*RevokeAdmin(d, "alice", absl::Now()), 1);
  listed = RevokedSerials(Slurp(d / "crl.pem"), Slurp(d / "ca.crt"));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_TRUE(has(alice->serial) && has(first->serial));
  EXPECT_EQ(RevokeAgent(d, "nobody", absl::Now()).status().code(), absl::StatusCode::kNotFound);
  // A revoked certificate is not renewed for the same key, which may be why it was revoked;
  // a new key is fine, and its certificate is not on the CRL.
  auto same_key = RenewAgent(d, "web-1");
  EXPECT_EQ(same_key.status().code(), absl::StatusCode::kFailedPrecondition) << same_key.status();
  EXPECT_NE(same_key.status().message().find("--new-key"), std::string::npos);
  ASSERT_TRUE(RenewAgent(d, "web-1", {}, /*new_key=*/true).ok());
  auto fresh = IdentityFromPem(Slurp(*dir / "agent.crt"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(has(fresh->serial));

  // A CRL from another CA, or garbage, is refused.
  fs::path o = TempDir("revoke-other");
  ASSERT_TRUE(InitPki(o, {}).ok());
  EXPECT_FALSE(RevokedSerials(Slurp(d / "crl.pem"), Slurp(o / "ca.crt")).ok());
  EXPECT_FALSE(RevokedSerials("garbage", Slurp(d / "ca.crt")).ok());
  fs::remove_all(o);
  fs::remove_all(d);
}

TEST(PkiTest, AnOldLayoutIsExplainedNotUsed) {
  fs::path d = TempDir("old");
  ASSERT_TRUE(InitPki(d, {}).ok());
  fs::rename(d / "ca" / "ca.key", d / "ca.key");
  auto r = IssueAgent(d, "web-1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("mv "), std::string::npos) << r.status();
  EXPECT_EQ(InitPki(d, {}).code(), absl::StatusCode::kAlreadyExists);
  fs::remove_all(d);
}

TEST(PkiTest, GarbageIsNoIdentity) { EXPECT_FALSE(IdentityFromPem("not a certificate").ok()); }

}  // namespace
}  // namespace polder::pki
