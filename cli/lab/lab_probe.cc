#include "cli/lab/lab_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace polder::cli {
namespace {

socklen_t ToSockaddr(const Address& a, uint16_t port, sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  if (a.family == Family::kV4) {
    auto* s = reinterpret_cast<sockaddr_in*>(ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr.s_addr = htonl(static_cast<uint32_t>(a.value));
    return sizeof *s;
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  for (int i = 0; i < 16; ++i) {
    s->sin6_addr.s6_addr[i] = static_cast<uint8_t>(a.value >> (8 * (15 - i)));
  }
  return sizeof *s;
}

int Domain(const Address& a) { return a.family == Family::kV4 ? AF_INET : AF_INET6; }

struct Pending {
  int fd = -1;
  ProbeOutcome outcome = ProbeOutcome::kBlocked;
  bool done = false;
  bool tcp = false;
};

// Starts one probe; returns a socket to wait on, or marks it done.
void Start(const ProbeRequest& p, Pending* out) {
  int type = SOCK_DGRAM;
  int proto = 0;
  if (p.protocol == Protocol::kTcp) type = SOCK_STREAM;
  if (p.protocol == Protocol::kSctp) {
    // One-to-one style: connect() and SO_ERROR as for TCP (an ABORT is a refusal).
    type = SOCK_STREAM;
    proto = IPPROTO_SCTP;
  }
  if (p.protocol == Protocol::kIcmp) proto = IPPROTO_ICMP;
  if (p.protocol == Protocol::kIcmpv6) proto = IPPROTO_ICMPV6;
  out->tcp = p.protocol == Protocol::kTcp || p.protocol == Protocol::kSctp;
  int fd = socket(Domain(p.source), type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    out->outcome = ProbeOutcome::kError;
    out->done = true;
    return;
  }
  out->fd = fd;
  sockaddr_storage src, dst;
  socklen_t src_len = ToSockaddr(p.source, 0, &src);
  bool icmp = IsIcmp(p.protocol);
  socklen_t dst_len = ToSockaddr(p.destination, icmp ? 0 : p.port, &dst);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), src_len) != 0) {
    out->outcome = ProbeOutcome::kError;
    out->done = true;
    return;
  }
  int r = connect(fd, reinterpret_cast<sockaddr*>(&dst), dst_len);
  if (r != 0 && errno != EINPROGRESS) {
    // EPERM: our own output chain dropped the SYN.
    out->outcome =
        errno == EPERM || errno == ETIMEDOUT ? ProbeOutcome::kBlocked : ProbeOutcome::kError;
    out->done = true;
    return;
  }
  if (out->tcp) return;
  char payload[16] = "polder-probe";
  if (icmp) {
    // Ping sockets: the kernel fills in the identifier and checksum.
    memset(payload, 0, sizeof payload);
    payload[0] = static_cast<char>(p.protocol == Protocol::kIcmp ? ICMP_ECHO : ICMP6_ECHO_REQUEST);
    payload[7] = 1;  // sequence
  }
  if (send(fd, payload, sizeof payload, 0) < 0) {
    out->outcome = errno == EPERM ? ProbeOutcome::kBlocked : ProbeOutcome::kError;
    out->done = true;
  }
}

// Looks at a socket that poll() reported.
void Finish(Pending* p) {
  if (p->tcp) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    // A refusal came from the destination, so the SYN got through.
    p->outcome = err == 0 || err == ECONNREFUSED ? ProbeOutcome::kAllowed : ProbeOutcome::kBlocked;
    p->done = true;
    return;
  }
  char buf[256];
  ssize_t n = recv(p->fd, buf, sizeof buf, 0);
  if (n > 0 || (n < 0 && errno == ECONNREFUSED)) {
    p->outcome = ProbeOutcome::kAllowed;
    p->done = true;
  } else if (n < 0 && errno != EAGAIN) {
    p->outcome = ProbeOutcome::kBlocked;
    p->done = true;
  }
}

void RaiseFdLimit() {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = std::min<rlim_t>(r.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

bool KernelHasSctp() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
  if (fd < 0) return false;
  close(fd);
  return true;
}

const char* OutcomeName(ProbeOutcome o) {
  switch (o) {
    case ProbeOutcome::kAllowed:
      return "allowed";
    case ProbeOutcome::kBlocked:
      return "blocked";
    default:
      return "error";
  }
}

std::vector<ProbeOutcome> RunProbes(const std::vector<ProbeRequest>& probes,
                                    absl::Duration timeout) {
  RaiseFdLimit();
  // Blocked probes each wait the whole timeout, so the batch is what bounds the run time; it
  // stays well under the fd limit raised above.
  constexpr size_t kBatch = 2048;
  std::vector<ProbeOutcome> results(probes.size(), ProbeOutcome::kError);
  for (size_t base = 0; base < probes.size(); base += kBatch) {
    size_t n = std::min(kBatch, probes.size() - base);
    std::vector<Pending> pending(n);
    for (size_t i = 0; i < n; ++i) Start(probes[base + i], &pending[i]);
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<size_t> index;
      for (size_t i = 0; i < n; ++i) {
        if (pending[i].done) continue;
        fds.push_back({pending[i].fd, static_cast<short>(pending[i].tcp ? POLLOUT : POLLIN), 0});
        index.push_back(i);
      }
      int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (fds.empty() || left <= 0) break;
      int r = poll(fds.data(), fds.size(), static_cast<int>(left));
      if (r < 0 && errno != EINTR) break;
      for (size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents) Finish(&pending[index[k]]);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      results[base + i] = pending[i].outcome;  // not done: timed out, blocked
      if (pending[i].fd >= 0) close(pending[i].fd);
    }
  }
  return results;
}

int ServeListeners(const std::vector<Address>& addresses, const std::vector<uint16_t>& tcp,
                   const std::vector<uint16_t>& udp, const std::vector<uint16_t>& sctp,
                   int ready_fd, int stop_fd, absl::Duration max_lifetime) {
  RaiseFdLimit();
  std::vector<pollfd> fds{{stop_fd, POLLIN, 0}};
  std::vector<bool> is_tcp{false};
  bool ok = true;
  for (const Address& a : addresses) {
    // pass 0 tcp, 1 udp, 2 sctp; the stream kinds accept, udp echoes.
    for (int pass = 0; pass < 3; ++pass) {
      for (uint16_t port : pass == 0 ? tcp : pass == 1 ? udp : sctp) {
        int fd = socket(Domain(a), (pass == 1 ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                        pass == 2 ? IPPROTO_SCTP : 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // Addresses were just added; do not wait for them to settle.
        setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
        sockaddr_storage ss;
        socklen_t len = ToSockaddr(a, port, &ss);
        bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
        if (fd >= 0 && !bound && errno == EADDRINUSE) {
          // A service of the host (e.g. polder-controller) already answers on this port, which
          // is all the probe needs.
          close(fd);
          continue;
        }
        if (!bound || (pass != 1 && listen(fd, 512) != 0)) {
          dprintf(2, "listener %s port %u: %s\n", a.ToString().c_str(), port, strerror(errno));
          ok = false;
          continue;
        }
        fds.push_back({fd, POLLIN, 0});
        is_tcp.push_back(pass != 1);
      }
    }
  }
  char byte = ok ? 0 : 1;
  if (write(ready_fd, &byte, 1) != 1) return 1;
  absl::Time end = absl::Now() + max_lifetime;
  while (absl::Now() < end) {
    int r = poll(fds.data(), fds.size(), 1000);
    if (r < 0 && errno != EINTR) return 1;
    if (r <= 0) continue;
    if (fds[0].revents) return 0;  // parent closed the pipe: done
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (is_tcp[i]) {
        int c = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) close(c);
        continue;
      }
      char buf[512];
      sockaddr_storage peer;
      socklen_t plen = sizeof peer;
      ssize_t n = recvfrom(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&peer), &plen);
      if (n > 0) sendto(fds[i].fd, buf, n, 0, reinterpret_cast<sockaddr*>(&peer), plen);
    }
  }
  return 0;
}

}  // namespace polder::cli
