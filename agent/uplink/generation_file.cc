#include "agent/uplink/generation_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace polder::agent {
namespace {

absl::Status Errno(const std::string& what, const std::filesystem::path& p) {
  return absl::InternalError(absl::StrCat(what, " ", p.string(), ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<uint64_t> GenerationFile::Load() const {
  std::ifstream in(path_);
  if (!in) {
    if (!std::filesystem::exists(path_)) return 0;
    return Errno("cannot read", path_);
  }
  std::string text(32, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  uint64_t generation = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &generation)) {
    return absl::DataLossError(
        absl::StrCat(path_.string(), " does not hold a generation (one decimal number)"));
  }
  return generation;
}

absl::Status GenerationFile::Save(uint64_t generation) const {
  std::error_code ec;
  std::filesystem::create_directories(path_.parent_path(), ec);
  std::filesystem::path tmp = path_;
  tmp += ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  std::string text = absl::StrCat(generation, "\n");
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  int saved_errno = errno;
  close(fd);
  errno = saved_errno;
  if (!ok) return Errno("cannot write", tmp);
  if (rename(tmp.c_str(), path_.c_str()) != 0) return Errno("cannot replace", path_);
  return absl::OkStatus();
}

}  // namespace polder::agent
