// The controller's durable memory: the revisions it rolled out, what each host should run and
// last reported, the apply results and drift reports agents sent, active quarantines, the
// active posture, and an append-only audit log.
//
// The controller keeps its working state in memory and writes through to this store, so after
// a restart it can serve the last good revision even if the policy directory no longer
// compiles.
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

// The policy every controller should serve (a content-addressed bundle in the store): its
// revision as the compiler computes it (no posture, no quarantine), the digest of the bundle's
// files, and `version`, which grows with every change of it (etcd's mod_revision of the key;
// a counter in SQLite). A publish compares `version`, so two controllers never flip-flop.
struct DesiredPolicy {
  std::string revision;
  std::string digest;
  std::string actor;
  absl::Time time;
  int64_t version = 0;
};

// What a publish did: `won` false when the desired policy was no longer at the expected version
// (someone else published first); `current` is the desired policy after it either way.
struct PublishOutcome {
  bool won = false;
  DesiredPolicy current;
};

// A leader's proof of office (EtcdLeadership): the election key and the revision at which this
// leader created it. A fenced write compares it in the same transaction, so it is refused once
// another controller has been elected, however long this one was paused.
struct Fence {
  std::string key;
  int64_t create_revision = 0;
};

// A live controller on a shared store (its lease holds).
struct MemberInfo {
  std::string id;
  std::string address;
  bool leader = false;
};

// Where the controller keeps its durable state: SqliteStateStore (one machine, the default) or
// EtcdStateStore (several controllers sharing one store). Not thread-safe: the caller
// serialises access (the Fleet holds its lock).
class StateStore {
 public:
  // The SQLite store at `path` (created if missing).
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::filesystem::path& path);
  virtual ~StateStore() = default;

  // Group several writes into one transaction (SaveRollout joins it).
  virtual absl::Status Begin() = 0;
  virtual absl::Status Commit() = 0;
  // Ends the transaction Begin opened without writing any of it.
  virtual absl::Status Rollback() = 0;

  // Records a rollout: the served revision, its mode, its generation (0: left as stored) and the
  // rulesets of the hosts that changed; hosts not in `all_hosts` are forgotten.
  virtual absl::Status SaveRollout(const std::string& revision, wire::Mode mode,
                                   const std::vector<DesiredRuleset>& changed,
                                   const std::vector<std::string>& all_hosts, absl::Time time,
                                   uint64_t generation = 0) = 0;
  // The last rollout, if any. A host's ruleset text is kept where one controller restarts from
  // it before its policy compiles again (SQLite). On etcd it is empty: the policy bundle is in
  // the store and every controller compiles it, and 10,000 hosts' rulesets (~100 MB) would be
  // written on every rollout and read by every controller that starts.
  virtual absl::StatusOr<std::optional<ServedRevision>> LoadServed() = 0;
  // Whether SaveRollout keeps DesiredRuleset.ruleset (see LoadServed); when not, callers need not
  // copy 10,000 rulesets into the call.
  virtual bool KeepsRulesetText() const { return true; }
  // The generation of the last rollout (0: none), without the hosts: what a controller polls.
  virtual absl::StatusOr<uint64_t> LoadGeneration() {
    auto served = LoadServed();
    if (!served.ok()) return served.status();
    return served->has_value() ? (*served)->generation : 0;
  }

  // Apply results and drift reports: the newest kKeptReports of each are kept, so an agent
  // that reports without end cannot fill the disk.
  static constexpr int64_t kKeptReports = 100'000;
  static constexpr size_t kMaxStoredDriftBytes = 16 * 1024;  // of one report's differences
  virtual absl::Status RecordApply(const std::string& host, const ApplyRecord& r) = 0;
  virtual absl::Status RecordDrift(const std::string& host, const DriftRecord& r) = 0;
  virtual absl::Status SetLastReport(const std::string& host, absl::Time time) = 0;
  // The agent's own claim, verified or not; never touches the verified applied columns.
  virtual absl::Status SetReported(const std::string& host, const std::string& revision,
                                   const std::string& hash) = 0;
  virtual absl::StatusOr<std::vector<HostRecord>> LoadHosts() = 0;

  virtual absl::Status SaveQuarantine(const QuarantineRecord& q) = 0;
  virtual absl::Status DeleteQuarantine(const std::string& target) = 0;
  virtual absl::StatusOr<std::vector<QuarantineRecord>> LoadQuarantines() = 0;

  // The one active posture: saving replaces it, deleting ends it.
  virtual absl::Status SavePosture(const PostureRecord& p) = 0;
  virtual absl::Status DeletePosture() = 0;
  virtual absl::StatusOr<std::optional<PostureRecord>> LoadPosture() = 0;

  virtual absl::Status Audit(const AuditRecord& r) = 0;
  // Newest first, at most `limit`; only entries at or after `since` when given.
  virtual absl::StatusOr<std::vector<AuditRecord>> AuditLog(
      int limit, std::optional<absl::Time> since = std::nullopt) = 0;

  // The desired policy, if one was ever published.
  virtual absl::StatusOr<std::optional<DesiredPolicy>> LoadDesiredPolicy() = 0;
  // The bundle (PolicyBundle::Serialize) stored under `revision`, if any.
  virtual absl::StatusOr<std::optional<std::string>> LoadBundle(const std::string& revision) = 0;
  // Compare-and-swap: stores `bundle` under `desired.revision` and makes `desired` the desired
  // policy, only if the desired policy is still at `expected_version` (0: none yet); `audit` is
  // written in the same transaction. Never a partial write. Outside Begin/Commit.
  virtual absl::StatusOr<PublishOutcome> PublishPolicy(const DesiredPolicy& desired,
                                                       const std::string& bundle,
                                                       int64_t expected_version,
                                                       const AuditRecord& audit) = 0;

  // The leader's job (fenced): deletes audit entries older than `before`, only while `fence`
  // holds; FailedPrecondition when it no longer does (another controller leads). The number
  // deleted. Unimplemented where the audit log is append-only (SQLite: one controller, no
  // leader; its log is never trimmed).
  virtual absl::StatusOr<int64_t> TrimAudit(absl::Time before, const Fence& fence) {
    (void)before;
    (void)fence;
    return absl::UnimplementedError("this store's audit log is append-only");
  }

  // Number of apply results / drift reports stored for `host`.
  virtual absl::StatusOr<int64_t> CountApplyResults(const std::string& host) = 0;
  virtual absl::StatusOr<int64_t> CountDriftReports(const std::string& host) = 0;

 protected:
  StateStore() = default;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_STATE_STORE_H_
