#include "controller/policy_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"

namespace polder::controller {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO |
                           IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyWatcher>> PolicyWatcher::Create(
    const std::filesystem::path& dir) {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "inotify_init1");
  std::unique_ptr<PolicyWatcher> w(new PolicyWatcher(fd, dir));
  if (inotify_add_watch(fd, dir.c_str(), kMask) < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot watch ", dir.string()));
  w->AddTree(dir);
  return w;
}

PolicyWatcher::~PolicyWatcher() { close(fd_); }

void PolicyWatcher::AddTree(const std::filesystem::path& dir) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) inotify_add_watch(fd_, it->path().c_str(), kMask);
  }
}

bool PolicyWatcher::Drain() {
  alignas(inotify_event) char buf[16384];
  bool changed = false, rescan = false;
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      changed = true;
      // A new subdirectory (e.g. a deploy that renames a tree into place)
      // must be watched too; re-adding existing watches is harmless.
      if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) rescan = true;
      p += sizeof(inotify_event) + e->len;
    }
  }
  if (rescan) AddTree(root_);
  return changed;
}

}  // namespace polder::controller
