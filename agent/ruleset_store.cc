#include "agent/ruleset_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace polder::agent {
namespace {

namespace fs = std::filesystem;

// v1 files (no structured form) are still read: an upgraded agent keeps enforcing.
constexpr char kMagicV1[] = "polder-agent-ruleset-v1";
constexpr char kMagic[] = "polder-agent-ruleset-v2";

absl::Status Errno(const std::string& what, const fs::path& p) {
  return absl::InternalError(absl::StrCat(what, " ", p.string(), ": ", strerror(errno)));
}

absl::Status WriteAll(int fd, const std::string& data, const fs::path& p) {
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

absl::StatusOr<std::optional<StoredRuleset>> RulesetStore::Load() const {
  std::error_code ec;
  if (!fs::exists(path(), ec)) return std::optional<StoredRuleset>();
  uintmax_t size = fs::file_size(path(), ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot stat ", path().string()));
  if (size > kMaxFileBytes) {
    return absl::FailedPreconditionError(absl::StrCat(path().string(), " is too large"));
  }
  std::ifstream in(path(), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return absl::InternalError(absl::StrCat("cannot read ", path().string()));
  std::string data = ss.str();
  // Header line, then the ruleset's exact bytes and those of its structured form (any bytes:
  // no escaping to get wrong).
  auto corrupt = [&] {
    return absl::DataLossError(absl::StrCat(path().string(), " is not a stored ruleset"));
  };
  size_t eol = data.find('\n');
  if (eol == std::string::npos) return corrupt();
  std::vector<std::string> fields = absl::StrSplit(data.substr(0, eol), ' ');
  size_t body = data.size() - eol - 1;
  size_t text_bytes = 0;
  size_t structured_bytes = 0;
  if (fields.size() == 3 && fields[0] == kMagicV1) {
    if (!absl::SimpleAtoi(fields[2], &text_bytes) || text_bytes != body) return corrupt();
  } else if (fields.size() == 4 && fields[0] == kMagic) {
    if (!absl::SimpleAtoi(fields[2], &text_bytes) ||
        !absl::SimpleAtoi(fields[3], &structured_bytes) || text_bytes > body ||
        structured_bytes != body - text_bytes) {
      return corrupt();
    }
  } else {
    return corrupt();
  }
  return std::optional<StoredRuleset>(StoredRuleset{
      fields[1], data.substr(eol + 1, text_bytes), data.substr(eol + 1 + text_bytes)});
}

absl::Status RulesetStore::Save(const StoredRuleset& ruleset) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir_.string(), ": ", ec.message()));
  chmod(dir_.c_str(), 0700);
  if (ruleset.revision.empty() || ruleset.revision.find_first_of(" \n") != std::string::npos) {
    return absl::InvalidArgumentError("a stored revision is one word");
  }
  std::string data =
      absl::StrCat(kMagic, " ", ruleset.revision, " ", ruleset.text.size(), " ",
                   ruleset.structured.size(), "\n", ruleset.text, ruleset.structured);
  fs::path tmp = dir_ / absl::StrCat(".ruleset.json.", getpid(), ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  absl::Status st = WriteAll(fd, data, tmp);
  if (st.ok() && fsync(fd) != 0) st = Errno("cannot fsync", tmp);
  if (close(fd) != 0 && st.ok()) st = Errno("cannot close", tmp);
  if (st.ok() && rename(tmp.c_str(), path().c_str()) != 0) st = Errno("cannot rename to", path());
  if (!st.ok()) {
    unlink(tmp.c_str());
    return st;
  }
  return SyncDir(dir_);
}

}  // namespace polder::agent
