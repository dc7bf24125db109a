#include "controller/revocation_list.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "pki/pki.h"

namespace polder::controller {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RevocationListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("revocation-list-" + std::to_string(getpid()));
    fs::remove_all(root_);
    ASSERT_TRUE(pki::InitPki(root_, {}).ok());
    ASSERT_TRUE(pki::IssueAgent(root_, "web-1").ok());
    auto id = pki::IdentityFromPem(Slurp(root_ / "agents" / "web-1" / "agent.crt"));
    ASSERT_TRUE(id.ok());
    serial_ = id->serial;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path crl() const { return pki::ControllerDir(root_) / "crl.pem"; }
  fs::path ca() const { return pki::ControllerDir(root_) / "ca.crt"; }

  fs::path root_;
  std::string serial_;
};

TEST_F(RevocationListTest, RefreshSeesARevocationAndKeepsItThroughBadFiles) {
  auto list = RevocationList::Load(crl(), ca());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_FALSE((*list)->IsRevoked(serial_));
  EXPECT_FALSE(*(*list)->Refresh());  // unchanged

  ASSERT_TRUE(pki::RevokeAgent(root_, "web-1", absl::Now()).ok());
  auto changed = (*list)->Refresh();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  EXPECT_TRUE((*list)->IsRevoked(serial_));
  EXPECT_EQ((*list)->size(), 1u);

  // A broken file is an error and leaves the list as it was; so does a deleted one.
  std::string good = Slurp(crl());
  std::ofstream(crl()) << "garbage";
  EXPECT_FALSE((*list)->Refresh().ok());
  EXPECT_TRUE((*list)->IsRevoked(serial_));
  fs::remove(crl());
  EXPECT_FALSE(*(*list)->Refresh());
  EXPECT_TRUE((*list)->IsRevoked(serial_));
  std::ofstream(crl()) << good;
  EXPECT_FALSE(*(*list)->Refresh());  // same serials
}

TEST_F(RevocationListTest, ACrlOfAnotherCaOrGarbageIsRefusedAtLoad) {
  fs::path other = root_ / "other";
  ASSERT_TRUE(pki::InitPki(other, {}).ok());
  auto foreign = RevocationList::Load(pki::ControllerDir(other) / "crl.pem", ca());
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("crl.pem"), std::string::npos) << foreign.status();
  // No file at all: nothing is revoked (a directory made before CRLs existed).
  auto none = RevocationList::Load(root_ / "no-such-crl.pem", ca());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->size(), 0u);
}

}  // namespace
}  // namespace polder::controller
