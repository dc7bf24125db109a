// The controller's durable memory: an embedded SQLite database holding the
// revisions it rolled out, what each host should run and last reported, the
// apply results and drift reports agents sent, active quarantines, the active
// posture, and an append-only audit log (UPDATE and DELETE on it are refused
// by triggers).
//
// The controller keeps its working state in memory and writes through to
// this store, so after a restart it can serve the last good revision even if
// the policy directory no longer compiles. Not thread-safe: the caller
// serialises access (the Fleet holds its lock).
#ifndef POLDER_CONTROLLER_STATE_STORE_H_
#define POLDER_CONTROLLER_STATE_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "wire/mode.h"

struct sqlite3;

namespace polder::controller {

// What a host should run, as of the revision that set it.
struct DesiredRuleset {
  std::string host;
  std::string revision;
  std::string ruleset;
  std::string hash;
};

// What the controller last learnt from a host.
struct HostRecord {
  std::string host;
  std::string applied_revision;
  std::string applied_hash;
  bool drift = false;
  std::optional<absl::Time> last_report;
  std::string last_error;
  // What the agent itself last claimed to run, verified or not (the columns above are only
  // what the controller verified).
  std::string reported_revision = {};
  std::string reported_hash = {};
};

struct ServedRevision {
  std::string revision;
  wire::Mode mode = wire::Mode::kEnforce;
  std::vector<DesiredRuleset> hosts;
  uint64_t generation = 0;  // of the last rollout; 0 from a database older than generations
};

struct ApplyRecord {
  bool ok = false;
  std::string error;
  absl::Duration duration;
  std::string hash;
  std::string revision;
  absl::Time time;
  uint64_t generation = 0;  // the answered assignment's; 0 when the agent did not say
};

struct DriftRecord {
  std::vector<std::string> differences;
  absl::Time time;
  int32_t pid = 0;
  bool remediated = false;
};

struct QuarantineRecord {
  std::string target;
  std::vector<std::string> allow;
  std::string reason;
  std::string actor;
  absl::Time since;
};

// The active posture (spec §6a): at most one at a time.
struct PostureRecord {
  std::string name;
  std::string reason;
  std::string actor;
  absl::Time since;
  bool forced = false;  // activated with --force although `check` found a keep entry violated
};

struct AuditRecord {
  int64_t id = 0;
  absl::Time time;
  std::string kind;
  std::string actor;
  std::string target;
  std::string detail;
  // Why: the admin's --reason, or the controller's (a compile error). `= {}`: older callers
  // may leave these two out.
  std::string reason = {};
  std::string revision = {};  // served after it (for policy-rejected: the one still served)
};

class StateStore {
 public:
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::filesystem::path& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Group several writes into one transaction (SaveRollout joins it).
  absl::Status Begin();
  absl::Status Commit();

  // Records a rollout: the served revision, its mode, its generation (0: left as stored) and the
  // rulesets of the hosts that changed; hosts not in `all_hosts` are forgotten.
  absl::Status SaveRollout(const std::string& revision, wire::Mode mode,
                           const std::vector<DesiredRuleset>& changed,
                           const std::vector<std::string>& all_hosts, absl::Time time,
                           uint64_t generation = 0);
  // The last rollout, if any.
  absl::StatusOr<std::optional<ServedRevision>> LoadServed();

  // Apply results and drift reports: the newest kKeptReports of each are kept, so an agent
  // that reports without end cannot fill the disk.
  static constexpr int64_t kKeptReports = 100'000;
  static constexpr size_t kMaxStoredDriftBytes = 16 * 1024;  // of one report's differences
  absl::Status RecordApply(const std::string& host, const ApplyRecord& r);
  absl::Status RecordDrift(const std::string& host, const DriftRecord& r);
  absl::Status SetLastReport(const std::string& host, absl::Time time);
  // The agent's own claim, verified or not; never touches the verified applied columns.
  absl::Status SetReported(const std::string& host, const std::string& revision,
                           const std::string& hash);
  absl::StatusOr<std::vector<HostRecord>> LoadHosts();

  absl::Status SaveQuarantine(const QuarantineRecord& q);
  absl::Status DeleteQuarantine(const std::string& target);
  absl::StatusOr<std::vector<QuarantineRecord>> LoadQuarantines();

  // The one active posture: saving replaces it, deleting ends it.
  absl::Status SavePosture(const PostureRecord& p);
  absl::Status DeletePosture();
  absl::StatusOr<std::optional<PostureRecord>> LoadPosture();

  absl::Status Audit(const AuditRecord& r);
  // Newest first, at most `limit`; only entries at or after `since` when given.
  absl::StatusOr<std::vector<AuditRecord>> AuditLog(int limit,
                                                    std::optional<absl::Time> since = std::nullopt);

  // Number of apply results / drift reports stored for `host`.
  absl::StatusOr<int64_t> CountApplyResults(const std::string& host);
  absl::StatusOr<int64_t> CountDriftReports(const std::string& host);

 private:
  explicit StateStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  absl::Status Trim(const char* table);
  // Adds the columns later versions added to a database an older controller made.
  absl::Status Migrate();
  sqlite3* db_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_STATE_STORE_H_
