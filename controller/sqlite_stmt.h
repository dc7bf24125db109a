// Stmt: one prepared SQLite statement, shared by the controller's SQLite stores (state,
// traffic): binds by position, steps, reads columns, finalises on destruction.
#ifndef POLDER_CONTROLLER_SQLITE_STMT_H_
#define POLDER_CONTROLLER_SQLITE_STMT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polder::controller {

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
