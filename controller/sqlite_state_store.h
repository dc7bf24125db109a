// The embedded SQLite state store, the default (`--store sqlite:FILE`, or `--state FILE`): one
// database file on the controller's machine. The audit log is append-only (UPDATE and DELETE on
// it are refused by triggers).
#ifndef POLDER_CONTROLLER_SQLITE_STATE_STORE_H_
#define POLDER_CONTROLLER_SQLITE_STATE_STORE_H_

#include <filesystem>
#include <memory>

#include "controller/state_store.h"

struct sqlite3;

namespace polder::controller {

class SqliteStateStore final : public StateStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::filesystem::path& path);
  ~SqliteStateStore() override;

  absl::Status Begin() override;
  absl::Status Commit() override;
  absl::Status Rollback() override;
  absl::Status SaveRollout(const std::string& revision, wire::Mode mode,
                           const std::vector<DesiredRuleset>& changed,
                           const std::vector<std::string>& all_hosts, absl::Time time,
                           uint64_t generation = 0) override;
  absl::StatusOr<std::optional<ServedRevision>> LoadServed() override;
  absl::Status RecordApply(const std::string& host, const ApplyRecord& r) override;
  absl::Status RecordDrift(const std::string& host, const DriftRecord& r) override;
  absl::Status SetLastReport(const std::string& host, absl::Time time) override;
  absl::Status SetReported(const std::string& host, const std::string& revision,
                           const std::string& hash) override;
  absl::StatusOr<std::vector<HostRecord>> LoadHosts() override;
  absl::Status SaveQuarantine(const QuarantineRecord& q) override;
  absl::Status DeleteQuarantine(const std::string& target) override;
  absl::StatusOr<std::vector<QuarantineRecord>> LoadQuarantines() override;
  absl::Status SavePosture(const PostureRecord& p) override;
  absl::Status DeletePosture() override;
  absl::StatusOr<std::optional<PostureRecord>> LoadPosture() override;
  absl::Status Audit(const AuditRecord& r) override;
  absl::StatusOr<std::vector<AuditRecord>> AuditLog(
      int limit, std::optional<absl::Time> since = std::nullopt) override;
  absl::StatusOr<std::optional<DesiredPolicy>> LoadDesiredPolicy() override;
  absl::StatusOr<std::optional<std::string>> LoadBundle(const std::string& revision) override;
  absl::StatusOr<PublishOutcome> PublishPolicy(const DesiredPolicy& desired,
                                               const std::string& bundle, int64_t expected_version,
                                               const AuditRecord& audit) override;
  absl::StatusOr<int64_t> CountApplyResults(const std::string& host) override;
  absl::StatusOr<int64_t> CountDriftReports(const std::string& host) override;

 private:
  explicit SqliteStateStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  absl::Status Trim(const char* table);
  // Adds the columns later versions added to a database an older controller made.
  absl::Status Migrate();
  sqlite3* db_;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_SQLITE_STATE_STORE_H_
