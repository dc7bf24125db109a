#include "agent/set_counters.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "agent/testing/fake_clock.h"
#include "agent/testing/kernel_test_util.h"
#include "agent/traffic_collector.h"

namespace polder::agent {
namespace {

using testing::RunNft;
using testing::ScopedNetns;

// An observation set as issue 11 has them: new connections update a capped set of
// (source, protocol, port) tuples with a counter each; the update rule ends with a verdict,
// so a full set skips to the next rule, which counts the overflow.
constexpr char kObservation[] = R"(table inet polder {
  counter seen4_overflow {
  }
  set seen4 {
    type ipv4_addr . inet_proto . inet_service
    size 4
    flags dynamic
    counter
  }
  chain observe {
    update @seen4 { ip saddr . meta l4proto . th dport } return
    counter name "seen4_overflow"
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ct state new meta l4proto udp jump observe
  }
}
)";

// Sends one UDP datagram to 127.0.0.1:port from a fresh socket (a new source port, so a new
// connection for conntrack).
void SendUdp(uint16_t port, const char* from = nullptr, const char* to_addr = "127.0.0.1") {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  if (from != nullptr) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, to_addr, &to.sin_addr);
  ASSERT_EQ(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 1);
  close(fd);
}

// Key bytes of (127.0.0.1 . udp . port): each part padded to 4 bytes.
std::string Key(uint16_t port) {
  std::string k = {'\x7f', '\0', '\0', '\x01', '\x11', '\0', '\0', '\0'};
  k += static_cast<char>(port >> 8);
  k += static_cast<char>(port & 0xff);
  k += std::string(2, '\0');
  return k;
}

TEST(SetCountersTest, ReadsPerElementCountersAndTheOverflowCounter) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << "needs root (unshare CLONE_NEWNET)";
  ASSERT_EQ(std::system("ip link set lo up"), 0);
  std::string error;
  ASSERT_TRUE(RunNft(kObservation, &error)) << error;

  for (int i = 0; i < 3; ++i) SendUdp(5000);
  for (uint16_t p : {5001, 5002, 5003}) SendUdp(p);
  SendUdp(5004);  // the set is full: counted as overflow, not recorded
  SendUdp(5005);
  SendUdp(5000);  // an element already there is updated even when the set is full

  SetCounterReader reader;
  absl::StatusOr<std::vector<CountedElement>> seen = reader.ReadSet("seen4");
  ASSERT_TRUE(seen.ok()) << seen.status();
  std::map<std::string, CountedElement> by_key;
  for (const CountedElement& e : *seen) by_key[e.key] = e;
  ASSERT_EQ(by_key.size(), 4u);
  ASSERT_TRUE(by_key.count(Key(5000)));
  EXPECT_TRUE(by_key[Key(5000)].has_counter);
  EXPECT_EQ(by_key[Key(5000)].counter.packets, 4u);
  EXPECT_EQ(by_key[Key(5001)].counter.packets, 1u);
  EXPECT_FALSE(by_key.count(Key(5004)));

  absl::StatusOr<CounterValue> overflow = reader.ReadCounter("seen4_overflow");
  ASSERT_TRUE(overflow.ok()) << overflow.status();
  EXPECT_EQ(overflow->packets, 2u);

  EXPECT_EQ(reader.ReadSet("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader.ReadCounter("nope").status().code(), absl::StatusCode::kNotFound);
}

// The collector over the real kernel: observation sets found by name, keys decoded into the
// host's and the peer's addresses, and exact deltas from real new connections.
TEST(SetCountersTest, CollectorReportsExactCountsFromTheKernel) {
  ScopedNetns netns;
  ASSERT_TRUE(netns.ok()) << "needs root (unshare CLONE_NEWNET)";
  ASSERT_EQ(std::system("ip link set lo up && ip addr add 10.61.0.10/32 dev lo && "
                        "ip addr add 10.60.3.10/32 dev lo"),
            0);
  std::string error;
  ASSERT_TRUE(RunNft(R"(table inet polder {
  counter seen_in4_would_deny_overflow {
  }
  set seen_in4_would_deny {
    type ipv4_addr . ipv4_addr . inet_proto . inet_service
    size 1024
    flags dynamic
    counter
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ct state new meta l4proto udp update @seen_in4_would_deny { ip saddr . ip daddr . meta l4proto . th dport } accept
    ct state new meta l4proto udp counter name "seen_in4_would_deny_overflow"
  }
}
)",
                     &error))
      << error;
  KernelCounterSource kernel;
  absl::StatusOr<std::vector<std::string>> names = kernel.ListSets();
  ASSERT_TRUE(names.ok()) << names.status();
  std::vector<ObservationSource> sources = ObservationSourcesFromSetNames(*names);
  ASSERT_EQ(sources.size(), 1u);
  FakeClock clock;
  TrafficCollector collector("permits-1", sources, kernel, clock, 1);

  for (int i = 0; i < 3; ++i) SendUdp(6432, "10.60.3.10", "10.61.0.10");
  absl::StatusOr<TrafficCollector::Result> first = collector.Collect();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->report.samples.size(), 1u);
  const wire::TrafficReportSample& s = first->report.samples[0];
  EXPECT_EQ(s.local, "10.61.0.10");
  EXPECT_EQ(s.peer, "10.60.3.10");
  EXPECT_EQ(s.protocol, "udp");
  EXPECT_EQ(s.port, 6432u);
  EXPECT_EQ(s.verdict, "would-deny");
  EXPECT_EQ(s.connections, 3u);
  EXPECT_EQ(first->report.lost, 0u);

  for (int i = 0; i < 2; ++i) SendUdp(6432, "10.60.3.10", "10.61.0.10");
  absl::StatusOr<TrafficCollector::Result> second = collector.Collect();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->report.samples.size(), 1u);
  EXPECT_EQ(second->report.samples[0].connections, 2u);
}

}  // namespace
}  // namespace polder::agent
