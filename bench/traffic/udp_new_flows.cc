// udp_new_flows: sends COUNT UDP datagrams, each a new connection for conntrack, as fast as one
// core can, and prints the wall time per datagram in nanoseconds. Used by observe_cost.sh to
// measure what the observation sets cost per new connection: on a veth pair the receiving
// namespace's netfilter hooks run in the sender's context (the backlog is processed when the
// send path re-enables softirqs), so the difference between two rulesets is their cost.
//
//   udp_new_flows SRC DST DPORT_FROM DPORT_TO COUNT [RATE]
//
// With RATE (datagrams per second) the sender paces itself (checked every 500 datagrams), to
// hold a load while something else is measured (the agent's CPU and memory).
// Source ports cycle over 1024..65535 and destination ports over [DPORT_FROM, DPORT_TO], so
// every datagram has a 5-tuple of its own (up to 64,512 × the port range). Raw socket with
// IP_HDRINCL (root), so no socket per source port.
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

uint16_t Checksum(const void* data, size_t len) {
  const auto* p = static_cast<const uint16_t*>(data);
  uint32_t sum = 0;
  for (; len > 1; len -= 2) sum += *p++;
  if (len == 1) sum += *reinterpret_cast<const uint8_t*>(p);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: %s SRC DST DPORT_FROM DPORT_TO COUNT [RATE]\n", argv[0]);
    return 2;
  }
  in_addr src{}, dst{};
  if (inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1) {
    std::fprintf(stderr, "SRC and DST must be IPv4 addresses\n");
    return 2;
  }
  long dport_from = std::strtol(argv[3], nullptr, 10), dport_to = std::strtol(argv[4], nullptr, 10);
  long count = std::strtol(argv[5], nullptr, 10);
  double rate = argc == 7 ? std::strtod(argv[6], nullptr) : 0;
  if (dport_from < 1 || dport_to > 65535 || dport_from > dport_to || count < 1) {
    std::fprintf(stderr, "bad port range or count\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    std::perror("socket(SOCK_RAW) (needs root)");
    return 1;
  }
  struct Packet {
    iphdr ip;
    udphdr udp;
    char payload[8];
  } __attribute__((packed)) pkt{};
  pkt.ip.version = 4;
  pkt.ip.ihl = 5;
  pkt.ip.ttl = 64;
  pkt.ip.protocol = IPPROTO_UDP;
  pkt.ip.tot_len = htons(sizeof(pkt));
  pkt.ip.saddr = src.s_addr;
  pkt.ip.daddr = dst.s_addr;
  pkt.udp.len = htons(sizeof(pkt.udp) + sizeof(pkt.payload));
  std::memcpy(pkt.payload, "polder!!", 8);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr = dst;
  long sport = 1024, dport = dport_from, failed = 0;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    pkt.udp.source = htons(static_cast<uint16_t>(sport));
    pkt.udp.dest = htons(static_cast<uint16_t>(dport));
    pkt.udp.check = 0;  // optional for IPv4
    pkt.ip.id = htons(static_cast<uint16_t>(i));
    pkt.ip.check = 0;
    pkt.ip.check = Checksum(&pkt.ip, sizeof(pkt.ip));
    if (sendto(fd, &pkt, sizeof(pkt), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
      ++failed;
    if (rate > 0 && i % 500 == 499) {
      auto due = start + std::chrono::nanoseconds(static_cast<long>((i + 1) / rate * 1e9));
      while (std::chrono::steady_clock::now() < due) usleep(100);
    }
    if (++sport > 65535) sport = 1024;
    if (++dport > dport_to) dport = dport_from;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                 start)
                .count();
  close(fd);
  if (failed > 0) {
    std::fprintf(stderr, "%ld of %ld datagrams could not be sent\n", failed, count);
    return 1;
  }
  std::printf("%.1f\n", static_cast<double>(ns) / static_cast<double>(count));
  return 0;
}
