#include "agent/traffic_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace polder::agent {

absl::StatusOr<std::optional<TrafficSpool::Position>> TrafficSpool::Last() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return std::optional<Position>();
  // Reading every line is fine at the spool's bounded size, and simpler than seeking back.
  std::optional<Position> last;
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a cut last line is no report
    absl::StatusOr<wire::TrafficReport> r = wire::ParseTrafficReportLine(line);
    if (r.ok()) last = Position{r->epoch, r->sequence};
  }
  return last;
}

absl::Status TrafficSpool::Append(const wire::TrafficReport& report, uint64_t* line_offset) {
  std::error_code ec;
  uintmax_t size = std::filesystem::exists(path_, ec) ? std::filesystem::file_size(path_, ec) : 0;
  std::string line = wire::TrafficReportToJsonLine(report) + "\n";
  if (size + line.size() > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat("traffic spool ", path_.string(), " is full (",
                                                     max_bytes_, " bytes): report ",
                                                     report.sequence, " not kept"));
  }
  int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::UnavailableError(absl::StrCat("open ", path_.string(), ": ", strerror(errno)));
  // End a line a crash cut, so that this report is a line of its own.
  if (size > 0) {
    int rfd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (pread(rfd, &last, 1, static_cast<off_t>(size - 1)) != 1) last = '\n';
      close(rfd);
    }
    if (last != '\n') line.insert(line.begin(), '\n');
  }
  uint64_t offset = size + (line.front() == '\n' ? 1 : 0);
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("write ", path_.string(), ": ", strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  bool synced = fsync(fd) == 0;
  close(fd);
  if (!synced)
    return absl::UnavailableError(absl::StrCat("fsync ", path_.string(), ": ", strerror(errno)));
  if (line_offset != nullptr) *line_offset = offset;
  return absl::OkStatus();
}

}  // namespace polder::agent
