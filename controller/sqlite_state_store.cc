#include "controller/sqlite_state_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/sqlite_stmt.h"

namespace polder::controller {
namespace {

constexpr char kSchema[] = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revisions (
  revision TEXT PRIMARY KEY, mode TEXT NOT NULL, first_served_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hosts (
  host TEXT PRIMARY KEY,
  desired_revision TEXT NOT NULL DEFAULT '', desired_ruleset TEXT NOT NULL DEFAULT '',
  desired_hash TEXT NOT NULL DEFAULT '',
  applied_revision TEXT NOT NULL DEFAULT '', applied_hash TEXT NOT NULL DEFAULT '',
  drift INTEGER NOT NULL DEFAULT 0, last_report_us INTEGER, last_error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS apply_results (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, time_us INTEGER NOT NULL, ok INTEGER NOT NULL,
  error TEXT NOT NULL, duration_us INTEGER NOT NULL, hash TEXT NOT NULL, revision TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drift_reports (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, time_us INTEGER NOT NULL, pid INTEGER NOT NULL,
  remediated INTEGER NOT NULL, differences TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantines (
  target TEXT PRIMARY KEY, allow TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
  since_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS postures (
  slot INTEGER PRIMARY KEY CHECK (slot = 0), name TEXT NOT NULL, reason TEXT NOT NULL,
  actor TEXT NOT NULL, since_us INTEGER NOT NULL, forced INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL, kind TEXT NOT NULL,
  actor TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', revision TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS desired_policy (
  slot INTEGER PRIMARY KEY CHECK (slot = 0), revision TEXT NOT NULL, digest TEXT NOT NULL,
  actor TEXT NOT NULL, time_us INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (revision TEXT PRIMARY KEY, bundle BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
)sql";

// dump() throws on a string that is not UTF-8 (an agent's drift lines are the kernel's bytes);
// such bytes are stored as U+FFFD instead.
std::string JsonText(const std::vector<std::string>& lines) {
  return nlohmann::json(lines).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<SqliteStateStore>> store = SqliteStateStore::Open(path);
  if (!store.ok()) return store.status();
  return std::unique_ptr<StateStore>(std::move(*store));
}

absl::StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(
    const std::filesystem::path& path) {
  absl::StatusOr<sqlite3*> db = OpenSqliteFile(path, "state");
  if (!db.ok()) return db.status();
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(*db));
  if (auto s = store->Exec(kSchema); !s.ok()) return s;
  if (auto s = store->Migrate(); !s.ok()) return s;
  return store;
}

SqliteStateStore::~SqliteStateStore() { sqlite3_close(db_); }

absl::Status SqliteStateStore::Exec(const char* sql) { return ExecSql(db_, sql); }

absl::Status SqliteStateStore::Migrate() {
  // The audit log gained reason and revision (issue 13); old rows keep them empty.
  std::set<std::string> columns;
  Stmt info(db_, "PRAGMA table_info(audit)");
  while (info.Step()) columns.insert(info.Text(1));
  if (auto s = info.status(); !s.ok()) return s;
  for (const char* column : {"reason", "revision"}) {
    if (columns.count(column)) continue;
    std::string sql =
        absl::StrCat("ALTER TABLE audit ADD COLUMN ", column, " TEXT NOT NULL DEFAULT ''");
    if (auto s = Exec(sql.c_str()); !s.ok()) return s;
  }
  // Hosts gained the agent's own claim (issue 12), apart from the verified applied columns.
  std::set<std::string> host_columns;
  Stmt host_info(db_, "PRAGMA table_info(hosts)");
  while (host_info.Step()) host_columns.insert(host_info.Text(1));
  if (auto s = host_info.status(); !s.ok()) return s;
  for (const char* column : {"reported_revision", "reported_hash"}) {
    if (host_columns.count(column)) continue;
    std::string sql =
        absl::StrCat("ALTER TABLE hosts ADD COLUMN ", column, " TEXT NOT NULL DEFAULT ''");
    if (auto s = Exec(sql.c_str()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStateStore::Begin() { return Exec("BEGIN IMMEDIATE"); }
absl::Status SqliteStateStore::Commit() { return Exec("COMMIT"); }
absl::Status SqliteStateStore::Rollback() { return Exec("ROLLBACK"); }

absl::Status SqliteStateStore::SaveRollout(const std::string& revision, wire::Mode mode,
                                           const std::vector<DesiredRuleset>& changed,
                                           const std::vector<std::string>& all_hosts,
                                           absl::Time time, uint64_t generation) {
  // Inside a caller's transaction the caller commits; else this is one.
  bool own = sqlite3_get_autocommit(db_) != 0;
  if (own) {
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  }
  auto body = [&]() -> absl::Status {
    if (auto s = Stmt(db_, "INSERT OR IGNORE INTO revisions VALUES (?, ?, ?)")
                     .Bind(revision)
                     .Bind(std::string(wire::ModeName(mode)))
                     .Bind(Micros(time))
                     .Run();
        !s.ok())
      return s;
    Stmt meta(db_, "INSERT OR REPLACE INTO meta VALUES (?, ?)");
    for (auto [k, v] : {std::pair{"served_revision", revision},
                        std::pair{"mode", std::string(wire::ModeName(mode))},
                        std::pair{"generation", std::to_string(generation)}}) {
      if (generation == 0 && std::string_view(k) == "generation") continue;
      meta.Reset();
      if (auto s = meta.Bind(std::string(k)).Bind(v).Run(); !s.ok()) return s;
    }
    if (auto s = Exec("CREATE TEMP TABLE IF NOT EXISTS keep (host TEXT PRIMARY KEY);"
                      "DELETE FROM keep");
        !s.ok())
      return s;
    Stmt keep(db_, "INSERT OR IGNORE INTO keep VALUES (?)");
    for (const auto& h : all_hosts) {
      keep.Reset();
      if (auto s = keep.Bind(h).Run(); !s.ok()) return s;
    }
    if (auto s = Exec("DELETE FROM hosts WHERE host NOT IN (SELECT host FROM keep)"); !s.ok())
      return s;
    Stmt up(db_,
            "INSERT INTO hosts (host, desired_revision, desired_ruleset, desired_hash) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET "
            "desired_revision = excluded.desired_revision, "
            "desired_ruleset = excluded.desired_ruleset, desired_hash = excluded.desired_hash");
    for (const auto& d : changed) {
      up.Reset();
      if (auto s = up.Bind(d.host).Bind(d.revision).Bind(d.ruleset).Bind(d.hash).Run(); !s.ok())
        return s;
    }
    return absl::OkStatus();
  };
  absl::Status s = body();
  if (!own) return s;
  if (!s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return Exec("COMMIT");
}

absl::StatusOr<std::optional<ServedRevision>> SqliteStateStore::LoadServed() {
  ServedRevision served;
  Stmt meta(db_, "SELECT key, value FROM meta");
  while (meta.Step()) {
    if (meta.Text(0) == "served_revision") served.revision = meta.Text(1);
    if (meta.Text(0) == "mode") {
      std::optional<wire::Mode> mode = wire::ParseMode(meta.Text(1));
      if (!mode)
        return absl::DataLossError(
            absl::StrCat("state database: unknown mode '", meta.Text(1), "'"));
      served.mode = *mode;
    }
    if (meta.Text(0) == "generation" && !absl::SimpleAtoi(meta.Text(1), &served.generation)) {
      return absl::DataLossError(
          absl::StrCat("state database: generation '", meta.Text(1), "' is not a number"));
    }
  }
  if (auto s = meta.status(); !s.ok()) return s;
  if (served.revision.empty()) return std::optional<ServedRevision>();
  Stmt q(db_, "SELECT host, desired_revision, desired_ruleset, desired_hash FROM hosts");
  while (q.Step()) served.hosts.push_back({q.Text(0), q.Text(1), q.Text(2), q.Text(3)});
  if (auto s = q.status(); !s.ok()) return s;
  return std::optional<ServedRevision>(std::move(served));
}

absl::Status SqliteStateStore::RecordApply(const std::string& host, const ApplyRecord& r) {
  if (auto s = Stmt(db_,
                    "INSERT INTO apply_results "
                    "(host, time_us, ok, error, duration_us, hash, revision) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)")
                   .Bind(host)
                   .Bind(Micros(r.time))
                   .Bind(int64_t{r.ok})
                   .Bind(r.error)
                   .Bind(absl::ToInt64Microseconds(r.duration))
                   .Bind(r.hash)
                   .Bind(r.revision)
                   .Run();
      !s.ok())
    return s;
  if (auto s = Trim("apply_results"); !s.ok()) return s;
  if (!r.ok) {
    return Stmt(db_, "UPDATE hosts SET last_error = ?, last_report_us = ? WHERE host = ?")
        .Bind(r.error)
        .Bind(Micros(r.time))
        .Bind(host)
        .Run();
  }
  return Stmt(db_,
              "UPDATE hosts SET applied_revision = ?, applied_hash = ?, drift = 0, "
              "last_error = '', last_report_us = ? WHERE host = ?")
      .Bind(r.revision)
      .Bind(r.hash)
      .Bind(Micros(r.time))
      .Bind(host)
      .Run();
}

absl::Status SqliteStateStore::Trim(const char* table) {
  // The row just inserted has the highest id: keep the newest kKeptReports rows.
  int64_t newest = sqlite3_last_insert_rowid(db_);
  if (newest <= kKeptReports) return absl::OkStatus();
  return Stmt(db_, absl::StrCat("DELETE FROM ", table, " WHERE id <= ?").c_str())
      .Bind(newest - kKeptReports)
      .Run();
}

absl::Status SqliteStateStore::RecordDrift(const std::string& host, const DriftRecord& r) {
  // A report may hold 1,000 lines of 4 KiB; the first kMaxStoredDriftBytes of them say what
  // happened, and keep the kept reports within a known size.
  std::vector<std::string> kept;
  size_t bytes = 0;
  for (const std::string& line : r.differences) {
    if (bytes + line.size() > kMaxStoredDriftBytes) {
      kept.push_back(absl::StrCat("... ", r.differences.size() - kept.size(), " more"));
      break;
    }
    bytes += line.size();
    kept.push_back(line);
  }
  if (auto s = Stmt(db_,
                    "INSERT INTO drift_reports "
                    "(host, time_us, pid, remediated, differences) VALUES (?, ?, ?, ?, ?)")
                   .Bind(host)
                   .Bind(Micros(r.time))
                   .Bind(int64_t{r.pid})
                   .Bind(int64_t{r.remediated})
                   .Bind(JsonText(kept))
                   .Run();
      !s.ok())
    return s;
  if (auto s = Trim("drift_reports"); !s.ok()) return s;
  // A remediated drift is over: the table is as assigned again.
  return Stmt(db_, "UPDATE hosts SET drift = ?, last_report_us = ? WHERE host = ?")
      .Bind(int64_t{!r.remediated})
      .Bind(Micros(r.time))
      .Bind(host)
      .Run();
}

absl::Status SqliteStateStore::SetLastReport(const std::string& host, absl::Time time) {
  return Stmt(db_, "UPDATE hosts SET last_report_us = ? WHERE host = ?")
      .Bind(Micros(time))
      .Bind(host)
      .Run();
}

absl::Status SqliteStateStore::SetReported(const std::string& host, const std::string& revision,
                                           const std::string& hash) {
  return Stmt(db_, "UPDATE hosts SET reported_revision = ?, reported_hash = ? WHERE host = ?")
      .Bind(revision)
      .Bind(hash)
      .Bind(host)
      .Run();
}

absl::StatusOr<std::vector<HostRecord>> SqliteStateStore::LoadHosts() {
  std::vector<HostRecord> out;
  Stmt q(db_,
         "SELECT host, applied_revision, applied_hash, drift, last_report_us, last_error, "
         "reported_revision, reported_hash FROM hosts ORDER BY host");
  while (q.Step()) {
    HostRecord r{q.Text(0),    q.Text(1), q.Text(2), q.Int(3) != 0,
                 std::nullopt, q.Text(5), q.Text(6), q.Text(7)};
    if (!q.IsNull(4)) r.last_report = FromMicros(q.Int(4));
    out.push_back(std::move(r));
  }
  if (auto s = q.status(); !s.ok()) return s;
  return out;
}

absl::Status SqliteStateStore::SaveQuarantine(const QuarantineRecord& q) {
  return Stmt(db_, "INSERT OR REPLACE INTO quarantines VALUES (?, ?, ?, ?, ?)")
      .Bind(q.target)
      .Bind(JsonText(q.allow))
      .Bind(q.reason)
      .Bind(q.actor)
      .Bind(Micros(q.since))
      .Run();
}

absl::Status SqliteStateStore::DeleteQuarantine(const std::string& target) {
  return Stmt(db_, "DELETE FROM quarantines WHERE target = ?").Bind(target).Run();
}

absl::Status SqliteStateStore::SavePosture(const PostureRecord& p) {
  return Stmt(db_, "INSERT OR REPLACE INTO postures VALUES (0, ?, ?, ?, ?, ?)")
      .Bind(p.name)
      .Bind(p.reason)
      .Bind(p.actor)
      .Bind(Micros(p.since))
      .Bind(int64_t{p.forced ? 1 : 0})
      .Run();
}

absl::Status SqliteStateStore::DeletePosture() { return Stmt(db_, "DELETE FROM postures").Run(); }

absl::StatusOr<std::optional<PostureRecord>> SqliteStateStore::LoadPosture() {
  Stmt q(db_, "SELECT name, reason, actor, since_us, forced FROM postures WHERE slot = 0");
  std::optional<PostureRecord> out;
  if (q.Step())
    out = PostureRecord{q.Text(0), q.Text(1), q.Text(2), FromMicros(q.Int(3)), q.Int(4) != 0};
  if (auto s = q.status(); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<QuarantineRecord>> SqliteStateStore::LoadQuarantines() {
  std::vector<QuarantineRecord> out;
  Stmt q(db_, "SELECT target, allow, reason, actor, since_us FROM quarantines ORDER BY target");
  while (q.Step()) {
    // Checked element by element: get<std::vector<std::string>>() would throw on a corrupt row
    // such as [1] rather than report it.
    auto allow = nlohmann::json::parse(q.Text(1), nullptr, /*allow_exceptions=*/false);
    bool zone_names = allow.is_array() && std::all_of(allow.begin(), allow.end(),
                                                      [](const auto& z) { return z.is_string(); });
    if (!zone_names) {
      return absl::DataLossError(absl::StrCat("state database: the quarantine of `", q.Text(0),
                                              "` is corrupt: allow is `", q.Text(1),
                                              "`, not a JSON array of zone names"));
    }
    QuarantineRecord r{q.Text(0), {}, q.Text(2), q.Text(3), FromMicros(q.Int(4))};
    for (const auto& z : allow) r.allow.push_back(z.get<std::string>());
    out.push_back(std::move(r));
  }
  if (auto s = q.status(); !s.ok()) return s;
  return out;
}

absl::Status SqliteStateStore::Audit(const AuditRecord& r) {
  return Stmt(db_,
              "INSERT INTO audit (time_us, kind, actor, target, detail, reason, revision) "
              "VALUES (?,?,?,?,?,?,?)")
      .Bind(Micros(r.time))
      .Bind(r.kind)
      .Bind(r.actor)
      .Bind(r.target)
      .Bind(r.detail)
      .Bind(r.reason)
      .Bind(r.revision)
      .Run();
}

absl::StatusOr<std::optional<DesiredPolicy>> SqliteStateStore::LoadDesiredPolicy() {
  Stmt q(db_,
         "SELECT revision, digest, actor, time_us, version FROM desired_policy WHERE slot = 0");
  if (!q.Step()) {
    if (auto s = q.status(); !s.ok()) return s;
    return std::optional<DesiredPolicy>();
  }
  return std::optional<DesiredPolicy>(
      DesiredPolicy{q.Text(0), q.Text(1), q.Text(2), FromMicros(q.Int(3)), q.Int(4)});
}

absl::StatusOr<std::optional<std::string>> SqliteStateStore::LoadBundle(
    const std::string& revision) {
  Stmt q(db_, "SELECT bundle FROM bundles WHERE revision = ?");
  q.Bind(revision);
  if (!q.Step()) {
    if (auto s = q.status(); !s.ok()) return s;
    return std::optional<std::string>();
  }
  return std::optional<std::string>(q.Text(0));
}

absl::StatusOr<PublishOutcome> SqliteStateStore::PublishPolicy(const DesiredPolicy& desired,
                                                               const std::string& bundle,
                                                               int64_t expected_version,
                                                               const AuditRecord& audit) {
  // BEGIN IMMEDIATE takes the write lock first, so the compare and the swap see one state even
  // with another controller's connection on the same file.
  if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [&](absl::Status s) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  };
  auto current = LoadDesiredPolicy();
  if (!current.ok()) return fail(current.status());
  int64_t version = current->has_value() ? (*current)->version : 0;
  if (version != expected_version) {
    Exec("ROLLBACK").IgnoreError();
    return PublishOutcome{false, **current};
  }
  DesiredPolicy next = desired;
  next.version = version + 1;
  if (auto s = Stmt(db_, "INSERT OR REPLACE INTO bundles (revision, bundle) VALUES (?,?)")
                   .Bind(next.revision)
                   .Bind(bundle)
                   .Run();
      !s.ok())
    return fail(s);
  if (auto s = Stmt(db_,
                    "INSERT OR REPLACE INTO desired_policy (slot, revision, digest, actor, "
                    "time_us, version) VALUES (0,?,?,?,?,?)")
                   .Bind(next.revision)
                   .Bind(next.digest)
                   .Bind(next.actor)
                   .Bind(Micros(next.time))
                   .Bind(next.version)
                   .Run();
      !s.ok())
    return fail(s);
  if (auto s = Audit(audit); !s.ok()) return fail(s);
  if (auto s = Exec("COMMIT"); !s.ok()) return fail(s);
  return PublishOutcome{true, next};
}

absl::StatusOr<std::vector<AuditRecord>> SqliteStateStore::AuditLog(
    int limit, std::optional<absl::Time> since) {
  std::vector<AuditRecord> out;
  Stmt q(db_,
         "SELECT id, time_us, kind, actor, target, detail, reason, revision FROM audit "
         "WHERE time_us >= ? ORDER BY id DESC LIMIT ?");
  q.Bind(since ? Micros(*since) : std::numeric_limits<int64_t>::min()).Bind(int64_t{limit});
  while (q.Step())
    out.push_back({q.Int(0), FromMicros(q.Int(1)), q.Text(2), q.Text(3), q.Text(4), q.Text(5),
                   q.Text(6), q.Text(7)});
  if (auto s = q.status(); !s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> SqliteStateStore::CountApplyResults(const std::string& host) {
  Stmt q(db_, "SELECT COUNT(*) FROM apply_results WHERE host = ?");
  q.Bind(host);
  int64_t n = q.Step() ? q.Int(0) : 0;
  while (q.Step()) {
  }
  if (auto s = q.status(); !s.ok()) return s;
  return n;
}

absl::StatusOr<int64_t> SqliteStateStore::CountDriftReports(const std::string& host) {
  Stmt q(db_, "SELECT COUNT(*) FROM drift_reports WHERE host = ?");
  q.Bind(host);
  int64_t n = q.Step() ? q.Int(0) : 0;
  while (q.Step()) {
  }
  if (auto s = q.status(); !s.ok()) return s;
  return n;
}

}  // namespace polder::controller
