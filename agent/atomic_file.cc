#include "agent/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

absl::Status Errno(const std::string& what, const fs::path& p) {
  return absl::InternalError(absl::StrCat(what, " ", p.string(), ": ", strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view data, const fs::path& p) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot write", p);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const fs::path& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dir);
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("cannot fsync", dir);
}

}  // namespace

absl::Status WriteFileAtomically(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path tmp = dir / absl::StrCat(".", path.filename().string(), ".", getpid(), ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", tmp);
  absl::Status st = WriteAll(fd, data, tmp);
  if (st.ok() && fsync(fd) != 0) st = Errno("cannot fsync", tmp);
  if (close(fd) != 0 && st.ok()) st = Errno("cannot close", tmp);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = Errno("cannot rename to", path);
  if (!st.ok()) {
    unlink(tmp.c_str());
    return st;
  }
  return SyncDir(dir);
}

absl::StatusOr<std::optional<std::string>> ReadSmallFile(const fs::path& path,
                                                         uintmax_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec) && !ec) return std::optional<std::string>();
  uintmax_t size = fs::file_size(path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot stat ", path.string(), ": ", ec.message()));
  if (size > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(path.string(), " is too large"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InternalError(absl::StrCat("cannot open ", path.string(), ": ", strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  return std::optional<std::string>(ss.str());
}

}  // namespace polder::agent
