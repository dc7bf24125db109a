#include "cli/lab/lab_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace polder::cli {
namespace {

int MillisUntil(absl::Time deadline) {
  int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return ms < 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

[[noreturn]] void ExecOrDie(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
  _exit(127);
}

bool JoinNetns(const std::string& netns) {
  int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string ReadAll(int fd, absl::Time deadline) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, MillisUntil(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

int WaitChild(pid_t pid, absl::Time deadline) {
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(5000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    ExecOrDie(argv);
  }
  close(out[1]);
  close(err[1]);
  absl::Time deadline = absl::Now() + timeout;
  // stderr is small; read stdout first, then stderr (both bounded by deadline).
  std::string stdout_text = ReadAll(out[0], deadline);
  std::string stderr_text = ReadAll(err[0], deadline);
  int status = WaitChild(pid, deadline);
  if (status != 0) {
    std::string cmd;
    for (const std::string& a : argv) absl::StrAppend(&cmd, cmd.empty() ? "" : " ", a);
    return absl::InternalError(absl::StrCat("`", cmd, "` failed (", status, "): ", stderr_text));
  }
  return stdout_text;
}

absl::StatusOr<NetnsChild> ForkInNetns(const std::string& netns, const ChildBody& body) {
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) != 0 || pipe2(down, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    // A child outliving a crashed parent would keep sockets open forever.
    signal(SIGPIPE, SIG_IGN);
    if (!JoinNetns(netns)) {
      dprintf(2, "cannot enter network namespace %s: %s\n", netns.c_str(), strerror(errno));
      _exit(126);
    }
    _exit(body(up[1], down[0]));
  }
  close(up[1]);
  close(down[0]);
  return NetnsChild{pid, up[0], down[1]};
}

absl::StatusOr<pid_t> SpawnDetachedInNetns(const std::string& netns,
                                           const std::vector<std::string>& argv,
                                           const std::string& log_path) {
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    if (!JoinNetns(netns)) {
      dprintf(2, "cannot enter network namespace %s\n", netns.c_str());
      _exit(126);
    }
    ExecOrDie(argv);
  }
  close(log);
  return pid;
}

}  // namespace polder::cli
