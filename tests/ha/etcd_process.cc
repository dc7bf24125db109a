#include "tests/ha/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/etcd_state_store.h"

namespace polder::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(absl::Duration ready_within) {
  std::unique_ptr<EtcdProcess> p(new EtcdProcess());
  std::filesystem::path base =
      std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  p->dir_ = base / absl::StrCat("polder-etcd-", getpid(), "-", std::random_device{}());
  std::filesystem::create_directories(p->dir_);
  int client = FreePort(), peer = FreePort();
  if (client == 0 || peer == 0) return absl::UnavailableError("no free port on 127.0.0.1");
  p->client_url_ = absl::StrCat("http://127.0.0.1:", client);
  std::string peer_url = absl::StrCat("http://127.0.0.1:", peer);
  std::vector<std::string> args = {"etcd",
                                   "--name=test",
                                   absl::StrCat("--data-dir=", (p->dir_ / "data").string()),
                                   absl::StrCat("--listen-client-urls=", p->client_url_),
                                   absl::StrCat("--advertise-client-urls=", p->client_url_),
                                   absl::StrCat("--listen-peer-urls=", peer_url),
                                   absl::StrCat("--initial-advertise-peer-urls=", peer_url),
                                   absl::StrCat("--initial-cluster=test=", peer_url),
                                   "--log-level=error",
                                   "--logger=zap"};
  std::string log = (p->dir_ / "etcd.log").string();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("etcd", argv.data());
    _exit(127);
  }
  p->pid_ = pid;
  absl::Time by = absl::Now() + ready_within;
  for (;;) {
    auto store = controller::EtcdStateStore::Open({p->client_url_}, "", absl::Milliseconds(500));
    if (store.ok()) return p;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("etcd exited at start (is etcd-server installed?); "
                       "see ",
                       log));
    }
    if (absl::Now() > by) {
      return absl::DeadlineExceededError(absl::StrCat("etcd did not answer within ",
                                                      absl::FormatDuration(ready_within), ": ",
                                                      store.status().message()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

EtcdProcess::~EtcdProcess() {
  Kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace polder::testing
