#include "pki/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
  for (const char* f : {"ca.crt", "ca.key", "controller.crt", "controller.key"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  struct stat st;
  ASSERT_EQ(stat((d / "ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto id = IdentityFromPem(Slurp(d / "controller.crt"));
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

TEST(PkiTest, GarbageIsNoIdentity) { EXPECT_FALSE(IdentityFromPem("not a certificate").ok()); }

}  // namespace
}  // namespace polder::pki
