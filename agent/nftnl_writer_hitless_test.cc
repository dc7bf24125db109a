// Real-kernel tests that an apply is hitless: while NftnlWriter replaces or edits table
// inet polder in one namespace, new TCP connections that both the old and the new ruleset allow
// keep getting through from another namespace over a veth pair, and one neither allows never
// does. A SYN the kernel drops shows up as a connect that times out (its retry comes after 1 s).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "agent/nftnl_writer.h"
#include "agent/table_snapshot.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/testing/nft_ruleset_builder.h"

namespace polder::agent {
namespace {

using testing::EnterNetns;
using testing::NamedNetns;

// Zone 0 of LayoutRuleset is 10.100.0.0/24 into profile in_p0, which allows tcp/1000.
constexpr const char* kClient = "10.100.0.1";
constexpr const char* kServer = "10.100.0.2";
constexpr uint16_t kAllowedPort = 1000;
constexpr uint16_t kDeniedPort = 2999;

int Listen(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, kServer, &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when a TCP connection to kServer:port is established within `timeout_ms`.
bool Connects(uint16_t port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Closed with a reset, so that thousands of probes leave no TIME_WAIT behind.
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, kServer, &a.sin_addr);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    ok = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
         err == 0;
  }
  close(fd);
  return ok;
}

struct ProbeCounts {
  std::atomic<int> allowed_ok{0}, allowed_failed{0}, denied_through{0};
};

// Two namespaces over a veth pair: the server's, where the table is written, and the client's,
// which probes while `changes` runs in the server's namespace on the calling thread.
class HitlessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    client_ = std::make_unique<NamedNetns>();
    server_ = std::make_unique<NamedNetns>();
    ASSERT_TRUE(client_->ok() && server_->ok());
    ASSERT_TRUE(testing::LinkNamespaces(*client_, std::string(kClient) + "/24", *server_,
                                        std::string(kServer) + "/24"));
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
  }

  // Loads `initial`, then runs `changes` (in the server's namespace, with the writer there)
  // while the client probes the allowed port every millisecond and the denied one every tenth
  // probe.
  void ProbeWhile(const wire::NftRuleset& initial,
                  const std::function<void(NftnlWriter&)>& changes, ProbeCounts& counts) {
    EnterNetns in_server(*server_);
    ASSERT_TRUE(in_server.ok());
    absl::StatusOr<std::unique_ptr<NftnlWriter>> writer = NftnlWriter::Open();
    ASSERT_TRUE(writer.ok()) << writer.status();
    absl::StatusOr<NftnlWriter::Result> loaded = (*writer)->Replace(initial);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    int allowed = Listen(kAllowedPort), denied = Listen(kDeniedPort);
    ASSERT_GE(allowed, 0);
    ASSERT_GE(denied, 0);
    std::atomic<bool> stop{false}, probing{false};
    std::thread server([&] {
      while (!stop) {
        pollfd p[2] = {{allowed, POLLIN, 0}, {denied, POLLIN, 0}};
        if (poll(p, 2, 50) <= 0) continue;
        for (const pollfd& q : p) {
          int c;
          while ((c = accept4(q.fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) close(c);
        }
      }
    });
    std::thread client([&] {
      EnterNetns in_client(*client_);
      if (!in_client.ok()) return;
      for (int i = 0; !stop; ++i) {
        if (Connects(kAllowedPort, 300)) {
          ++counts.allowed_ok;
          probing = true;
        } else {
          ++counts.allowed_failed;
        }
        if (i % 10 == 0 && Connects(kDeniedPort, 20)) ++counts.denied_through;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    // A positive signal before the changes: the client gets through (bounded wait).
    for (int i = 0; i < 500 && !probing; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(probing) << "the client never got through before the changes";
    changes(**writer);
    // A last round of probes after the final commit.
    int seen = counts.allowed_ok;
    for (int i = 0; i < 300 && counts.allowed_ok < seen + 20; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop = true;
    client.join();
    server.join();
    close(allowed);
    close(denied);
  }

  std::unique_ptr<NamedNetns> client_, server_;
};

// Big enough that preparing a batch takes the kernel tens of milliseconds: a window in which
// a drop-policy base chain without its rules would be hit by many probes.
wire::NftRuleset Big(int extra) { return testing::LayoutRuleset(8, 2, 3, 20000 + extra); }

TEST_F(HitlessTest, ReplacingAnExistingTableDropsNoAllowedConnection) {
  ProbeCounts counts;
  int replaces = 0;
  ProbeWhile(
      Big(0),
      [&](NftnlWriter& writer) {
        for (int i = 1; i <= 16; ++i) {
          absl::StatusOr<NftnlWriter::Result> r = writer.Replace(Big(i % 2));
          ASSERT_TRUE(r.ok()) << r.status();
          ++replaces;
        }
      },
      counts);
  EXPECT_EQ(replaces, 16);
  EXPECT_GT(counts.allowed_ok, 100);
  EXPECT_EQ(counts.allowed_failed, 0) << "allowed connects dropped during " << replaces
                                      << " replaces (" << counts.allowed_ok << " got through)";
  EXPECT_EQ(counts.denied_through, 0);
}

TEST_F(HitlessTest, AnUnknownTableSyncedAfterARestartDropsNoAllowedConnection) {
  // An agent that restarts knows neither what it applied nor the kernel's table by name: its
  // first Sync replaces whatever table it finds.
  ProbeCounts counts;
  ProbeWhile(
      Big(0),
      [&](NftnlWriter& writer) {
        TableReader reader;
        for (int i = 1; i <= 16; ++i) {
          absl::StatusOr<TableSnapshot> now = reader.Snapshot();
          ASSERT_TRUE(now.ok()) << now.status();
          absl::StatusOr<NftnlWriter::Result> r =
              writer.Sync(nullptr, nullptr, Big(i % 2), &*now);
          ASSERT_TRUE(r.ok()) << r.status();
        }
      },
      counts);
  EXPECT_GT(counts.allowed_ok, 100);
  EXPECT_EQ(counts.allowed_failed, 0);
  EXPECT_EQ(counts.denied_through, 0);
}

TEST_F(HitlessTest, IncrementalEditsDropNoAllowedConnection) {
  ProbeCounts counts;
  ProbeWhile(
      Big(0),
      [&](NftnlWriter& writer) {
        wire::NftRuleset applied = Big(0);
        TableReader reader;
        absl::StatusOr<TableSnapshot> applied_snapshot = reader.Snapshot();
        ASSERT_TRUE(applied_snapshot.ok());
        for (int i = 1; i <= 16; ++i) {
          wire::NftRuleset next = Big(i % 2);
          absl::StatusOr<TableSnapshot> now = reader.Snapshot();
          ASSERT_TRUE(now.ok());
          absl::StatusOr<NftnlWriter::Result> r =
              writer.Sync(&applied, &*applied_snapshot, next, &*now);
          ASSERT_TRUE(r.ok()) << r.status();
          EXPECT_FALSE(r->full) << "edit " << i;
          applied = std::move(next);
          applied_snapshot = reader.Snapshot();
          ASSERT_TRUE(applied_snapshot.ok());
        }
      },
      counts);
  EXPECT_GT(counts.allowed_ok, 100);
  EXPECT_EQ(counts.allowed_failed, 0);
  EXPECT_EQ(counts.denied_through, 0);
}

TEST_F(HitlessTest, ASetAddedAgainDropsNoConnectionThroughTheOthers) {
  // in_p1_l4 gains a port range, so it becomes an interval set: it is added again, with the
  // rule that uses it; zone 0's flows go through in_p0_l4, which stays.
  wire::NftRuleset plain = Big(0), ranged = Big(0);
  for (wire::NftSet& set : ranged.sets) {
    if (set.name != "in_p1_l4") continue;
    set.interval = true;
    set.elements.push_back({{testing::Byte(6), testing::PortRange(5000, 5010)}, {}});
  }
  ProbeCounts counts;
  ProbeWhile(
      plain,
      [&](NftnlWriter& writer) {
        wire::NftRuleset applied = plain;
        TableReader reader;
        absl::StatusOr<TableSnapshot> applied_snapshot = reader.Snapshot();
        ASSERT_TRUE(applied_snapshot.ok());
        for (int i = 1; i <= 16; ++i) {
          wire::NftRuleset next = i % 2 ? ranged : plain;
          absl::StatusOr<NftnlWriter::Result> r =
              writer.Sync(&applied, &*applied_snapshot, next, &*applied_snapshot);
          ASSERT_TRUE(r.ok()) << r.status();
          EXPECT_FALSE(r->full) << "edit " << i;
          applied = std::move(next);
          applied_snapshot = reader.Snapshot();
          ASSERT_TRUE(applied_snapshot.ok());
        }
      },
      counts);
  EXPECT_GT(counts.allowed_ok, 100);
  EXPECT_EQ(counts.allowed_failed, 0);
  EXPECT_EQ(counts.denied_through, 0);
}

}  // namespace
}  // namespace polder::agent
