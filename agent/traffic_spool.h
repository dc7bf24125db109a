// TrafficSpool is the agent's on-disk log of traffic reports (issue 11): one
// wire::TrafficReport JSON line per Collect(), appended and fsynced, so that counts survive a
// restart and `polder traffic --local FILE` can read them without a controller. A restarted
// agent continues the spool's epoch and sequence, so no batch number is used twice.
#ifndef POLDER_AGENT_TRAFFIC_SPOOL_H_
#define POLDER_AGENT_TRAFFIC_SPOOL_H_

#include <cstdint>
#include <filesystem>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "wire/traffic_report.h"

namespace polder::agent {

class TrafficSpool {
 public:
  // A spool larger than this takes no more reports (Append fails, and the agent says so)
  // rather than filling the disk.
  static constexpr uintmax_t kDefaultMaxBytes = uintmax_t{256} << 20;

  explicit TrafficSpool(std::filesystem::path path, uintmax_t max_bytes = kDefaultMaxBytes)
      : path_(std::move(path)), max_bytes_(max_bytes) {}

  // (epoch, sequence) of the spool's last complete report; nullopt for a missing or empty spool.
  struct Position {
    uint64_t epoch = 0;
    uint64_t sequence = 0;
  };
  absl::StatusOr<std::optional<Position>> Last() const;

  // Appends one line and fsyncs it. A cut last line (a crash mid-write) is ended first, so
  // that this report starts a line of its own. `line_offset` (optional): where its line starts.
  absl::Status Append(const wire::TrafficReport& report, uint64_t* line_offset = nullptr);

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  uintmax_t max_bytes_;
};

}  // namespace polder::agent

#endif  // POLDER_AGENT_TRAFFIC_SPOOL_H_
