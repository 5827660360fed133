#include "veil/store/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::store {
namespace {

absl::Status FromSqlite(int rc, sqlite3* db, const char* what) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_OK || primary == SQLITE_DONE || primary == SQLITE_ROW) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(std::move(msg));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(std::move(msg));
      }
      return absl::FailedPreconditionError(std::move(msg));
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(std::move(msg));
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(std::move(msg));
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(std::move(msg));
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR:  // SQL syntax errors and references to missing tables or columns
      return absl::InvalidArgumentError(std::move(msg));
    default:
      return absl::InternalError(std::move(msg));
  }
}

}  // namespace

absl::StatusOr<Database> Database::Open(const std::string& path, const DatabaseOptions& options) {
  if (options.create) {
    // Create the file ourselves so that it is 0600 from the start (SQLite would use 0644); SQLite gives its
    // -wal and -shm files the database file's permissions.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      const int err = errno;
      std::string msg = absl::StrCat("open ", path, ": ", std::strerror(err));
      return err == ENOENT                     ? absl::NotFoundError(msg)
             : (err == EACCES || err == EPERM) ? absl::PermissionDeniedError(msg)
                                               : absl::InternalError(msg);
    }
    ::close(fd);
  }
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX |
                    SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);  // closes `raw` on every return path, including when open failed
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, absl::StrCat("open ", path).c_str());
  sqlite3_extended_result_codes(raw, 1);
  db.set_busy_timeout_ms(options.busy_timeout_ms);
  // The first statement reads the header: a file that is not a database fails here with NOTADB.
  std::string pragmas = "PRAGMA schema_version;";
  if (options.wal) pragmas += "PRAGMA journal_mode=WAL;";
  pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  pragmas += options.foreign_keys ? "PRAGMA foreign_keys=ON;" : "PRAGMA foreign_keys=OFF;";
  pragmas += options.secure_delete ? "PRAGMA secure_delete=ON;" : "PRAGMA secure_delete=OFF;";
  if (options.cache_kib > 0) pragmas += absl::StrCat("PRAGMA cache_size=-", options.cache_kib, ";");
  if (absl::Status s = db.Exec(pragmas); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("open ", path, ": ", s.message()));
  }
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), busy_timeout_ms_(other.busy_timeout_ms_) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    busy_timeout_ms_ = other.busy_timeout_ms_;
  }
  return *this;
}

void Database::set_busy_timeout_ms(int ms) {
  busy_timeout_ms_ = ms;
  sqlite3_busy_timeout(db_, ms);
}

Database::~Database() {
  // close_v2 defers the close until outstanding statements are finalized, so destruction order is free.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status Database::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  return FromSqlite(rc, db_, "exec");
}

absl::StatusOr<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, db_, "prepare");
  if (stmt == nullptr) return absl::InvalidArgumentError("prepare: empty SQL statement");
  return Statement(db_, stmt);
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }
int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

absl::StatusOr<int> Database::UserVersion() {
  VEIL_ASSIGN_OR_RETURN(Statement st, Prepare("PRAGMA user_version"));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(st.ColumnInt64(0));
}

bool Database::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

absl::Status Database::CheckIntegrity() {
  VEIL_ASSIGN_OR_RETURN(Statement st, Prepare("PRAGMA integrity_check(1)"));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("PRAGMA integrity_check returned no row");
  std::string result = st.ColumnText(0);
  if (result != "ok") return absl::DataLossError(absl::StrCat("database integrity check failed: ", result));
  return absl::OkStatus();
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

absl::Status Statement::Check(int rc, const char* what) const { return FromSqlite(rc, db_, what); }

absl::Status Statement::Bind(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), "bind");
}
absl::Status Statement::Bind(int index, double value) {
  return Check(sqlite3_bind_double(stmt_, index, value), "bind");
}
absl::Status Statement::Bind(int index, std::string_view text) {
  // An empty view may have a null data(), which SQLite would bind as NULL: empty text must stay text.
  static const char kEmpty = 0;
  return Check(sqlite3_bind_text64(stmt_, index, text.empty() ? &kEmpty : text.data(), text.size(),
                                   SQLITE_TRANSIENT, SQLITE_UTF8),
               "bind");
}
absl::Status Statement::BindBlob(int index, std::span<const uint8_t> blob) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const uint8_t kEmpty = 0;
  return Check(
      sqlite3_bind_blob64(stmt_, index, blob.empty() ? &kEmpty : blob.data(), blob.size(), SQLITE_TRANSIENT),
      "bind");
}
absl::Status Statement::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index), "bind"); }

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Check(rc, "step");
}

absl::Status Statement::Run() {
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

absl::Status Statement::Reset() { return Check(sqlite3_reset(stmt_), "reset"); }
void Statement::ClearBindings() { sqlite3_clear_bindings(stmt_); }

int Statement::column_count() const { return sqlite3_column_count(stmt_); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), n);
}

std::vector<uint8_t> Statement::ColumnBlob(int col) const {
  const std::span<const uint8_t> blob = ColumnBlobView(col);
  return std::vector<uint8_t>(blob.begin(), blob.end());
}

std::span<const uint8_t> Statement::ColumnBlobView(int col) const {
  const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  return blob == nullptr ? std::span<const uint8_t>()
                         : std::span<const uint8_t>(blob, static_cast<size_t>(n));
}

absl::StatusOr<Transaction> Transaction::Begin(Database& db) {
  VEIL_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (open_) db_->Exec("ROLLBACK").IgnoreError();  // nothing more can be done if even ROLLBACK fails
}

absl::Status Transaction::Commit() {
  if (!open_) return absl::FailedPreconditionError("transaction is no longer open");
  absl::Status s = db_->Exec("COMMIT");
  if (s.ok()) open_ = false;  // on failure the destructor rolls back
  return s;
}

absl::Status ApplyMigrations(Database& db, std::span<const Migration> migrations) {
  VEIL_ASSIGN_OR_RETURN(int version, db.UserVersion());
  if (version < 0)
    return absl::DataLossError(absl::StrCat("the database has a negative schema version ", version));
  if (version > static_cast<int>(migrations.size())) {
    return absl::FailedPreconditionError(absl::StrCat("the database is at schema version ", version,
                                                      ", newer than this program's ", migrations.size(),
                                                      ": upgrade Veil"));
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    VEIL_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db));
    absl::Status s = db.Exec(migrations[v].sql);
    if (s.ok()) s = db.Exec(absl::StrCat("PRAGMA user_version = ", v + 1));
    if (s.ok()) s = tx.Commit();
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("schema migration ", v + 1, " (", migrations[v].description,
                                                 "): ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace veil::store
