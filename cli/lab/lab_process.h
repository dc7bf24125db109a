// Processes for the lab: running `ip`/`nft`, and forking children that join a
// network namespace the lab made (so probes and listeners need no extra
// executable and no shell).
//
// Kept in the CLI, never in polder_compiler: this is the only place polder
// itself touches namespaces.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace polder::cli {

// Runs argv (PATH lookup), waits at most `timeout`; returns stdout, or an
// error carrying stderr when the exit status is not 0.
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout = absl::Seconds(30));

// A forked child running `body` inside network namespace `netns` (a name
// under /run/netns). The child's result comes back through `from_child`;
// closing `to_child` tells a long-running child to stop.
struct NetnsChild {
  pid_t pid = -1;
  int from_child = -1;
  int to_child = -1;
};
using ChildBody = std::function<int(int to_parent, int from_parent)>;
absl::StatusOr<NetnsChild> ForkInNetns(const std::string& netns, const ChildBody& body);

// Reads everything from `fd` until EOF or `deadline`, then closes it.
std::string ReadAll(int fd, absl::Time deadline);
// Waits for `pid` until `deadline`, then kills it; returns the exit status.
int WaitChild(pid_t pid, absl::Time deadline);

// Starts `argv` detached (own session) inside `netns`, stdout and stderr
// appended to `log_path`. Returns the pid.
absl::StatusOr<pid_t> SpawnDetachedInNetns(const std::string& netns,
                                           const std::vector<std::string>& argv,
                                           const std::string& log_path);

}  // namespace polder::cli
