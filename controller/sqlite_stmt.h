// What the controller's SQLite stores (state, traffic) share: opening their file, running
// statements without results, and Stmt, one prepared statement that binds by position, steps,
// reads columns and finalises on destruction.
#ifndef POLDER_CONTROLLER_SQLITE_STMT_H_
#define POLDER_CONTROLLER_SQLITE_STMT_H_

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace polder::controller {

// Opens (creating it if needed) the SQLite file at `path`, serialised, with a 5 s busy timeout.
// `what` names the file in the error: "cannot open <what> <path>: <why>".
inline absl::StatusOr<sqlite3*> OpenSqliteFile(const std::filesystem::path& path,
                                               absl::string_view what) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open ", what, " ", path.string(), ": ", msg));
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// Runs `sql`: one or more statements whose results are not read.
inline absl::Status ExecSql(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

// One prepared statement; binds by position, finalises on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt& Bind(const std::string& v) {
    if (ok())
      rc_ = sqlite3_bind_text(stmt_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int64_t v) {
    if (ok()) rc_ = sqlite3_bind_int64(stmt_, ++n_, v);
    return *this;
  }
  Stmt& BindNull() {
    if (ok()) rc_ = sqlite3_bind_null(stmt_, ++n_);
    return *this;
  }
  // Steps once; true while a row is available.
  bool Step() {
    if (!ok()) return false;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    rc_ = rc == SQLITE_DONE ? SQLITE_OK : rc;
    return false;
  }
  absl::Status Run() {
    while (Step()) {
    }
    return status();
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    n_ = 0;
    rc_ = SQLITE_OK;
  }
  std::string Text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  absl::Status status() const {
    if (ok()) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  }

 private:
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  int n_ = 0;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_SQLITE_STMT_H_
