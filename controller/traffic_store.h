// TrafficStore: the controller's own SQLite database of observed traffic (issue 11,
// docs/traffic.md), apart from the state store (traffic is too large for etcd). Agents' batches
// are summed per hour by (host, direction, local address, peer address, protocol, port,
// verdict), with connections, bytes, first and last seen, and rolled up per day as they
// arrive; the kernel's hit counts (TrafficBatch.hits) likewise per (host, counter id). Per-host evidence records which hours (and days) each host reported and what its
// agent could not record, so `polder unused` can judge completeness.
//
// A batch at or below its host's (epoch, sequence) high-water mark is a resend: ignored,
// counted, and acknowledged again. Retention: hourly rows `raw_retention` (14 d), daily rows
// `daily_retention` (13 months). Size budget `max_bytes`: the oldest hourly rows go first,
// then the oldest daily ones; what is dropped is counted and reported as lost, never silent.
// Time is passed in (`now`), as everywhere in the controller.
#ifndef POLDER_CONTROLLER_TRAFFIC_STORE_H_
#define POLDER_CONTROLLER_TRAFFIC_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "wire/traffic_report.h"

struct sqlite3;

namespace polder::controller {

struct TrafficStoreOptions {
  absl::Duration raw_retention = absl::Hours(14 * 24);
  absl::Duration daily_retention = absl::Hours(395 * 24);  // 13 months
  uint64_t max_bytes = uint64_t{1} << 30;
  // How often retention and the budget are enforced (at most; on Add).
  absl::Duration maintain_every = absl::Minutes(1);
};

class TrafficStore {
 public:
  static absl::StatusOr<std::unique_ptr<TrafficStore>> Open(const std::filesystem::path& path,
                                                            TrafficStoreOptions options = {});
  ~TrafficStore();

  enum class Added { kStored, kDuplicate };
  // Stores one validated batch. kDuplicate: at or below the host's high-water mark, or at or
  // below `fleet_mark` (the fleet-wide one, TrafficMarks: another controller stored it).
  using Mark = std::pair<uint64_t, uint64_t>;
  absl::StatusOr<Added> Add(const wire::TrafficReport& batch, absl::Time now,
                            Mark fleet_mark = {0, 0}) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops what retention and the budget say, now.
  absl::Status Maintain(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  struct Coverage {
    std::string host;
    uint32_t hours = 0;  // hours (of raw retention; days x 24 before it) with a batch
    uint64_t lost = 0;
    uint64_t batches = 0;
    uint64_t duplicates = 0;
  };
  struct Answer {
    // Per (host, hour) within raw retention, per (host, day) before: start/end the period's
    // first and last batch, samples its sums; epoch 0, sequence an index.
    std::vector<wire::TrafficReport> reports;
    std::vector<Coverage> coverage;
    uint64_t truncated_reports = 0;  // newest kept; the oldest beyond max_reports left out
    uint64_t dropped_connections = 0, dropped_rows = 0;
    // Hit packets the budget dropped, or agents left out of their batches.
    uint64_t dropped_hit_packets = 0;
  };
  // What was observed since `since` (InfinitePast: everything kept), for one host or all.
  // At most `max_samples` samples in all (the newest periods first).
  absl::StatusOr<Answer> Query(absl::Time since, const std::string& host, absl::Time now,
                               size_t max_samples) ABSL_LOCKS_EXCLUDED(mu_);

  // Bytes the database's pages hold (page_count - freelist_count) x page_size.
  absl::StatusOr<uint64_t> UsedBytes() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TrafficStore(sqlite3* db, TrafficStoreOptions options) : db_(db), options_(options) {}
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MaintainLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> UsedBytesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  sqlite3* const db_;
  const TrafficStoreOptions options_;
  absl::Mutex mu_;
  absl::Time last_maintained_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_TRAFFIC_STORE_H_
