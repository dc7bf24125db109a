// Notices edits to a policy directory with inotify, so the controller
// recompiles when an operator (or a deploy tool) changes a file. Watches
// every subdirectory, including ones created later.
#ifndef POLDER_CONTROLLER_POLICY_WATCHER_H_
#define POLDER_CONTROLLER_POLICY_WATCHER_H_

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

namespace polder::controller {

class PolicyWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<PolicyWatcher>> Create(const std::filesystem::path& dir);
  ~PolicyWatcher();

  // Readable when something changed; poll() it.
  int fd() const { return fd_; }
  // Consumes pending events; true if any concerned the policy.
  bool Drain();

 private:
  PolicyWatcher(int fd, std::filesystem::path root) : fd_(fd), root_(std::move(root)) {}
  void AddTree(const std::filesystem::path& dir);
  int fd_;
  std::filesystem::path root_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_POLICY_WATCHER_H_
