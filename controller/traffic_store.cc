#include "controller/traffic_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "controller/sqlite_stmt.h"

namespace polder::controller {
namespace {

constexpr char kSchema[] = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS high_water (
  host TEXT PRIMARY KEY, epoch INTEGER NOT NULL, sequence INTEGER NOT NULL,
  batches INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS hourly (
  period INTEGER NOT NULL, host TEXT NOT NULL, direction TEXT NOT NULL, local TEXT NOT NULL,
  peer TEXT NOT NULL, protocol TEXT NOT NULL, port INTEGER NOT NULL, verdict TEXT NOT NULL,
  connections INTEGER NOT NULL, bytes INTEGER NOT NULL, first_us INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  PRIMARY KEY (host, period, direction, local, peer, protocol, port, verdict));
CREATE INDEX IF NOT EXISTS hourly_period ON hourly (period);
CREATE TABLE IF NOT EXISTS daily (
  period INTEGER NOT NULL, host TEXT NOT NULL, direction TEXT NOT NULL, local TEXT NOT NULL,
  peer TEXT NOT NULL, protocol TEXT NOT NULL, port INTEGER NOT NULL, verdict TEXT NOT NULL,
  connections INTEGER NOT NULL, bytes INTEGER NOT NULL, first_us INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  PRIMARY KEY (host, period, direction, local, peer, protocol, port, verdict));
CREATE INDEX IF NOT EXISTS daily_period ON daily (period);
CREATE TABLE IF NOT EXISTS evidence_hourly (
  host TEXT NOT NULL, period INTEGER NOT NULL, batches INTEGER NOT NULL, lost INTEGER NOT NULL,
  first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, PRIMARY KEY (host, period));
CREATE TABLE IF NOT EXISTS evidence_daily (
  host TEXT NOT NULL, period INTEGER NOT NULL, batches INTEGER NOT NULL, lost INTEGER NOT NULL,
  first_us INTEGER NOT NULL, last_us INTEGER NOT NULL, PRIMARY KEY (host, period));
CREATE TABLE IF NOT EXISTS dropped (
  slot INTEGER PRIMARY KEY CHECK (slot = 0), rows INTEGER NOT NULL, connections INTEGER NOT NULL);
INSERT OR IGNORE INTO dropped VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS hits_hourly (
  period INTEGER NOT NULL, host TEXT NOT NULL, counter TEXT NOT NULL, packets INTEGER NOT NULL,
  bytes INTEGER NOT NULL, PRIMARY KEY (host, period, counter));
CREATE INDEX IF NOT EXISTS hits_hourly_period ON hits_hourly (period);
CREATE TABLE IF NOT EXISTS hits_daily (
  period INTEGER NOT NULL, host TEXT NOT NULL, counter TEXT NOT NULL, packets INTEGER NOT NULL,
  bytes INTEGER NOT NULL, PRIMARY KEY (host, period, counter));
CREATE INDEX IF NOT EXISTS hits_daily_period ON hits_daily (period);
CREATE TABLE IF NOT EXISTS dropped_hits (
  slot INTEGER PRIMARY KEY CHECK (slot = 0), rows INTEGER NOT NULL, packets INTEGER NOT NULL);
INSERT OR IGNORE INTO dropped_hits VALUES (0, 0, 0);
)sql";

constexpr int64_t kHour = 3600, kDay = 86400;

int64_t Floor(absl::Time t, int64_t unit) {
  int64_t s = absl::ToUnixSeconds(t);
  return s - ((s % unit) + unit) % unit;
}

// The sums of one period table ("hourly" or "daily"), and its evidence.
const char* UpsertSql(bool daily) {
  return daily ? "INSERT INTO daily VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                 "connections = connections + excluded.connections, bytes = bytes + "
                 "excluded.bytes, first_us = min(first_us, excluded.first_us), last_us = "
                 "max(last_us, excluded.last_us)"
               : "INSERT INTO hourly VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                 "connections = connections + excluded.connections, bytes = bytes + "
                 "excluded.bytes, first_us = min(first_us, excluded.first_us), last_us = "
                 "max(last_us, excluded.last_us)";
}
const char* HitsUpsertSql(bool daily) {
  return daily ? "INSERT INTO hits_daily VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET packets = "
                 "packets + excluded.packets, bytes = bytes + excluded.bytes"
               : "INSERT INTO hits_hourly VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET packets = "
                 "packets + excluded.packets, bytes = bytes + excluded.bytes";
}
const char* EvidenceSql(bool daily) {
  return daily ? "INSERT INTO evidence_daily VALUES (?,?,1,?,?,?) ON CONFLICT DO UPDATE SET "
                 "batches = batches + 1, lost = lost + excluded.lost, first_us = min(first_us, "
                 "excluded.first_us), last_us = max(last_us, excluded.last_us)"
               : "INSERT INTO evidence_hourly VALUES (?,?,1,?,?,?) ON CONFLICT DO UPDATE SET "
                 "batches = batches + 1, lost = lost + excluded.lost, first_us = min(first_us, "
                 "excluded.first_us), last_us = max(last_us, excluded.last_us)";
}

int64_t Clamp(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, static_cast<uint64_t>(INT64_MAX)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrafficStore>> TrafficStore::Open(const std::filesystem::path& path,
                                                                 TrafficStoreOptions options) {
  absl::StatusOr<sqlite3*> db = OpenSqliteFile(path, "the traffic database");
  if (!db.ok()) return db.status();
  std::unique_ptr<TrafficStore> store(new TrafficStore(*db, options));
  absl::MutexLock lock(&store->mu_);
  if (absl::Status s = store->Exec(kSchema); !s.ok())
    return absl::UnavailableError(
        absl::StrCat("traffic database ", path.string(), ": ", s.message()));
  return store;
}

TrafficStore::~TrafficStore() { sqlite3_close(db_); }

absl::Status TrafficStore::Exec(const char* sql) { return ExecSql(db_, sql); }

absl::StatusOr<TrafficStore::Added> TrafficStore::Add(const wire::TrafficReport& b,
                                                      absl::Time now, Mark fleet_mark) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [&](absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  };
  {
    Stmt hw(db_, "SELECT epoch, sequence FROM high_water WHERE host = ?");
    hw.Bind(b.host);
    Mark mark = fleet_mark;
    bool known = hw.Step();
    if (known) {
      mark = std::max(mark, Mark{static_cast<uint64_t>(hw.Int(0)), static_cast<uint64_t>(hw.Int(1))});
    } else if (absl::Status s = hw.status(); !s.ok()) {
      return fail(s);
    }
    if (Mark{b.epoch, b.sequence} <= mark) {
      // Counted where this controller keeps the host's batches, known or not yet.
      Stmt dup(db_,
               "INSERT INTO high_water VALUES (?,0,0,0,1) ON CONFLICT DO UPDATE SET duplicates = "
               "duplicates + 1");
      if (absl::Status s = dup.Bind(b.host).Run(); !s.ok()) return fail(s);
      if (absl::Status s = Exec("COMMIT"); !s.ok()) return fail(s);
      return Added::kDuplicate;
    }
  }
  int64_t at = absl::ToUnixMicros(b.end);
  int64_t from = absl::ToUnixMicros(b.start);
  for (bool daily : {false, true}) {
    int64_t period = Floor(b.end, daily ? kDay : kHour);
    Stmt up(db_, UpsertSql(daily));
    for (const wire::TrafficReportSample& s : b.samples) {
      up.Reset();
      up.Bind(period)
          .Bind(b.host)
          .Bind(s.direction)
          .Bind(s.local)
          .Bind(s.peer)
          .Bind(s.protocol)
          .Bind(int64_t{s.port})
          .Bind(s.verdict)
          .Bind(Clamp(s.connections))
          .Bind(Clamp(s.bytes))
          .Bind(at)
          .Bind(at);
      if (absl::Status st = up.Run(); !st.ok()) return fail(st);
    }
    Stmt hits(db_, HitsUpsertSql(daily));
    for (const wire::TrafficHit& h : b.hits) {
      hits.Reset();
      hits.Bind(period).Bind(b.host).Bind(h.counter).Bind(Clamp(h.packets)).Bind(Clamp(h.bytes));
      if (absl::Status st = hits.Run(); !st.ok()) return fail(st);
    }
    Stmt ev(db_, EvidenceSql(daily));
    ev.Bind(b.host).Bind(period).Bind(Clamp(b.lost)).Bind(from).Bind(at);
    if (absl::Status st = ev.Run(); !st.ok()) return fail(st);
  }
  if (b.clipped_hit_packets > 0) {
    Stmt clipped(db_, "UPDATE dropped_hits SET packets = packets + ? WHERE slot = 0");
    if (absl::Status st = clipped.Bind(Clamp(b.clipped_hit_packets)).Run(); !st.ok())
      return fail(st);
  }
  Stmt mark(db_,
            "INSERT INTO high_water VALUES (?,?,?,1,0) ON CONFLICT DO UPDATE SET epoch = "
            "excluded.epoch, sequence = excluded.sequence, batches = batches + 1");
  mark.Bind(b.host).Bind(Clamp(b.epoch)).Bind(Clamp(b.sequence));
  if (absl::Status s = mark.Run(); !s.ok()) return fail(s);
  if (absl::Status s = Exec("COMMIT"); !s.ok()) return fail(s);
  if (now - last_maintained_ >= options_.maintain_every) {
    if (absl::Status s = MaintainLocked(now); !s.ok()) return s;
  }
  return Added::kStored;
}

absl::Status TrafficStore::Maintain(absl::Time now) {
  absl::MutexLock lock(&mu_);
  return MaintainLocked(now);
}

absl::StatusOr<uint64_t> TrafficStore::UsedBytes() {
  absl::MutexLock lock(&mu_);
  return UsedBytesLocked();
}

absl::StatusOr<uint64_t> TrafficStore::UsedBytesLocked() {
  auto pragma = [&](const char* sql) -> absl::StatusOr<int64_t> {
    Stmt q(db_, sql);
    if (!q.Step()) return q.status().ok() ? absl::InternalError(sql) : q.status();
    return q.Int(0);
  };
  absl::StatusOr<int64_t> pages = pragma("PRAGMA page_count");
  absl::StatusOr<int64_t> free = pragma("PRAGMA freelist_count");
  absl::StatusOr<int64_t> size = pragma("PRAGMA page_size");
  if (!pages.ok()) return pages.status();
  if (!free.ok()) return free.status();
  if (!size.ok()) return size.status();
  return static_cast<uint64_t>((*pages - *free) * *size);
}

absl::Status TrafficStore::MaintainLocked(absl::Time now) {
  last_maintained_ = now;
  int64_t raw_cut = Floor(now - options_.raw_retention, kHour);
  int64_t daily_cut = Floor(now - options_.daily_retention, kDay);
  for (auto [sql, cut] : {std::pair{"DELETE FROM hourly WHERE period < ?", raw_cut},
                          {"DELETE FROM evidence_hourly WHERE period < ?", raw_cut},
                          {"DELETE FROM hits_hourly WHERE period < ?", raw_cut},
                          {"DELETE FROM hits_daily WHERE period < ?", daily_cut},
                          {"DELETE FROM daily WHERE period < ?", daily_cut},
                          {"DELETE FROM evidence_daily WHERE period < ?", daily_cut}}) {
    Stmt del(db_, sql);
    if (absl::Status s = del.Bind(cut).Run(); !s.ok()) return s;
  }
  // The budget: the oldest hourly rows first, then the oldest daily ones, a chunk at a time.
  // What answers no longer show is counted as lost: every hourly row, and daily rows of days
  // before `boundary` (answers take hourly detail after it; those days' hourly rows are all
  // gone, and counted, before any daily row is dropped). A day whose hourly rows were dropped
  // while its roll-up stayed is shown again once it passes the boundary: then the count errs
  // high, never low. Bounded: every round removes rows or stops.
  // Hit rows go with the sample rows of their kind (hourly, then daily), counted apart.
  int64_t boundary = Floor(now - options_.raw_retention, kDay) + kDay;
  struct Budgeted {
    const char* table;
    bool daily;
    const char* amount;   // the column summed into the drop count
    const char* counted;  // which drop count
  };
  constexpr char kDropped[] = "dropped SET rows = rows + ?, connections = connections + ?";
  constexpr char kDroppedHits[] = "dropped_hits SET rows = rows + ?, packets = packets + ?";
  for (Budgeted b : {Budgeted{"hourly", false, "connections", kDropped},
                     Budgeted{"hits_hourly", false, "packets", kDroppedHits},
                     Budgeted{"daily", true, "connections", kDropped},
                     Budgeted{"hits_daily", true, "packets", kDroppedHits}}) {
    const std::string table = b.table;
    const bool daily = b.daily;
    for (int round = 0; round < 100000; ++round) {
      absl::StatusOr<uint64_t> used = UsedBytesLocked();
      if (!used.ok()) return used.status();
      if (*used <= options_.max_bytes) return absl::OkStatus();
      std::string pick = absl::StrCat("SELECT rowid, ", b.amount, ", period FROM ", table,
                                      " ORDER BY period LIMIT 256");
      Stmt q(db_, pick.c_str());
      std::vector<int64_t> rows;
      int64_t connections = 0;
      while (q.Step()) {
        rows.push_back(q.Int(0));
        if (!daily || q.Int(2) < boundary) connections += q.Int(1);
      }
      if (absl::Status s = q.status(); !s.ok()) return s;
      if (rows.empty()) break;
      if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
      std::string del_sql = absl::StrCat("DELETE FROM ", table, " WHERE rowid = ?");
      Stmt del(db_, del_sql.c_str());
      for (int64_t id : rows) {
        del.Reset();
        if (absl::Status s = del.Bind(id).Run(); !s.ok()) {
          Exec("ROLLBACK").IgnoreError();
          return s;
        }
      }
      std::string count_sql = absl::StrCat("UPDATE ", b.counted, " WHERE slot = 0");
      Stmt count(db_, count_sql.c_str());
      count.Bind(static_cast<int64_t>(rows.size())).Bind(connections);
      if (absl::Status s = count.Run(); !s.ok()) {
        Exec("ROLLBACK").IgnoreError();
        return s;
      }
      if (absl::Status s = Exec("COMMIT"); !s.ok()) return s;
    }
  }
  absl::StatusOr<uint64_t> used = UsedBytesLocked();
  if (!used.ok()) return used.status();
  if (*used > options_.max_bytes)
    return absl::ResourceExhaustedError(
        absl::StrCat("traffic database uses ", *used, " bytes, over its budget of ",
                     options_.max_bytes, " with no traffic rows left to drop"));
  return absl::OkStatus();
}

absl::StatusOr<TrafficStore::Answer> TrafficStore::Query(absl::Time since, const std::string& host,
                                                         absl::Time now, size_t max_samples) {
  absl::MutexLock lock(&mu_);
  Answer answer;
  // Hourly detail from the day raw retention fully covers; daily roll-ups before it.
  int64_t boundary = Floor(now - options_.raw_retention, kDay) + kDay;
  int64_t since_s = since == absl::InfinitePast() ? INT64_MIN : absl::ToUnixSeconds(since);
  std::map<std::string, Coverage> coverage;
  size_t samples_total = 0;
  bool full = false;
  for (bool daily : {false, true}) {
    int64_t unit = daily ? kDay : kHour;
    std::string ev_sql = absl::StrCat(
        "SELECT host, period, lost, first_us, last_us FROM ",
        daily ? "evidence_daily" : "evidence_hourly", " WHERE period ", daily ? "<" : ">=",
        " ? AND period + ? > ? AND (? = '' OR host = ?) ORDER BY period DESC, host");
    Stmt ev(db_, ev_sql.c_str());
    ev.Bind(boundary).Bind(unit).Bind(since_s).Bind(host).Bind(host);
    std::string s_sql = absl::StrCat(
        "SELECT direction, local, peer, protocol, port, verdict, connections, bytes FROM ",
        daily ? "daily" : "hourly",
        " WHERE host = ? AND period = ? ORDER BY direction, local, peer, protocol, port, verdict");
    Stmt samples(db_, s_sql.c_str());
    std::string h_sql =
        absl::StrCat("SELECT counter, packets, bytes FROM ", daily ? "hits_daily" : "hits_hourly",
                     " WHERE host = ? AND period = ? ORDER BY counter");
    Stmt hits(db_, h_sql.c_str());
    while (ev.Step()) {
      wire::TrafficReport r;
      r.host = ev.Text(0);
      int64_t period = ev.Int(1);
      r.lost = static_cast<uint64_t>(ev.Int(2));
      r.start = absl::FromUnixMicros(ev.Int(3));
      r.end = absl::FromUnixMicros(ev.Int(4));
      Coverage& c = coverage[r.host];
      c.host = r.host;
      c.hours += daily ? 24 : 1;
      c.lost += r.lost;
      if (full) {
        ++answer.truncated_reports;
        continue;
      }
      samples.Reset();
      samples.Bind(r.host).Bind(period);
      while (samples.Step()) {
        r.samples.push_back({samples.Text(0), samples.Text(1), samples.Text(2), samples.Text(3),
                             static_cast<uint32_t>(samples.Int(4)), samples.Text(5),
                             static_cast<uint64_t>(samples.Int(6)),
                             static_cast<uint64_t>(samples.Int(7))});
      }
      if (absl::Status s = samples.status(); !s.ok()) return s;
      hits.Reset();
      hits.Bind(r.host).Bind(period);
      while (hits.Step()) {
        r.hits.push_back(
            {hits.Text(0), static_cast<uint64_t>(hits.Int(1)), static_cast<uint64_t>(hits.Int(2))});
      }
      if (absl::Status s = hits.status(); !s.ok()) return s;
      if (samples_total + r.samples.size() + r.hits.size() > max_samples) {
        full = true;
        ++answer.truncated_reports;
        continue;
      }
      samples_total += r.samples.size() + r.hits.size();
      r.sequence = answer.reports.size() + 1;
      answer.reports.push_back(std::move(r));
    }
    if (absl::Status s = ev.status(); !s.ok()) return s;
  }
  std::reverse(answer.reports.begin(), answer.reports.end());
  {
    Stmt hw(db_, "SELECT host, batches, duplicates FROM high_water WHERE (? = '' OR host = ?)");
    hw.Bind(host).Bind(host);
    while (hw.Step()) {
      Coverage& c = coverage[hw.Text(0)];
      c.host = hw.Text(0);
      c.batches = static_cast<uint64_t>(hw.Int(1));
      c.duplicates = static_cast<uint64_t>(hw.Int(2));
    }
    if (absl::Status s = hw.status(); !s.ok()) return s;
  }
  for (auto& [name, c] : coverage) answer.coverage.push_back(c);
  Stmt dropped(db_, "SELECT rows, connections FROM dropped WHERE slot = 0");
  if (dropped.Step()) {
    answer.dropped_rows = static_cast<uint64_t>(dropped.Int(0));
    answer.dropped_connections = static_cast<uint64_t>(dropped.Int(1));
  }
  if (absl::Status s = dropped.status(); !s.ok()) return s;
  Stmt dropped_hits(db_, "SELECT packets FROM dropped_hits WHERE slot = 0");
  if (dropped_hits.Step()) answer.dropped_hit_packets = static_cast<uint64_t>(dropped_hits.Int(0));
  if (absl::Status s = dropped_hits.status(); !s.ok()) return s;
  return answer;
}

}  // namespace polder::controller
