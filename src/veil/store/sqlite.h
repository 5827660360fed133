// A small RAII layer over SQLite 3 for Veil's metadata and key store.
//
//   VEIL_ASSIGN_OR_RETURN(Database db, Database::Open(path, {}));
//   VEIL_RETURN_IF_ERROR(ApplyMigrations(db, kMigrations));
//   VEIL_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db));
//   VEIL_ASSIGN_OR_RETURN(Statement st, db.Prepare("INSERT INTO dataset(name, rows) VALUES (?1, ?2)"));
//   VEIL_RETURN_IF_ERROR(st.Bind(1, name));
//   VEIL_RETURN_IF_ERROR(st.Bind(2, rows));
//   VEIL_RETURN_IF_ERROR(st.Run());
//   VEIL_RETURN_IF_ERROR(tx.Commit());      // a Transaction not committed rolls back when destroyed
//
// Values are always bound as parameters, never spliced into SQL text, so hostile strings are data.
//
// Error mapping (SQLite result code -> absl::Status): CORRUPT, NOTADB -> DataLoss; BUSY, LOCKED ->
// Unavailable; CONSTRAINT -> AlreadyExists for UNIQUE/PRIMARY KEY, FailedPrecondition otherwise; FULL ->
// ResourceExhausted; CANTOPEN -> NotFound; PERM, READONLY, AUTH -> PermissionDenied; MISUSE, RANGE ->
// InvalidArgument (a programming error); anything else -> Internal. Messages carry SQLite's own text, which
// names the table or column but never a bound value.
//
// Thread safety: a Database and its Statements belong to one thread at a time (SQLite's "multi-thread" mode
// per connection); open one Database per thread.
#ifndef VEIL_STORE_SQLITE_H_
#define VEIL_STORE_SQLITE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace veil::store {

struct DatabaseOptions {
  // Create the file if it does not exist (mode 0600). If false, a missing file is NotFound.
  bool create = true;
  // Write-ahead logging: readers do not block the writer, and a commit is one sequential append.
  bool wal = true;
  // PRAGMA synchronous=FULL: a committed transaction survives power loss (WAL mode syncs the WAL at commit).
  bool synchronous_full = true;
  // PRAGMA foreign_keys=ON: references between tables are enforced.
  bool foreign_keys = true;
  // PRAGMA secure_delete=ON: deleted content is overwritten with zeros, so freed pages do not keep it. Needed
  // where deletion must really destroy data (the key store: erasure by crypto-shredding).
  bool secure_delete = false;
  // How long a write waits for another connection's lock before failing with Unavailable.
  int busy_timeout_ms = 5000;
  // PRAGMA cache_size in KiB: the most pages the connection keeps in memory (it grows only as pages are
  // used). 0 keeps SQLite's default of 2 MiB.
  int cache_kib = 0;
};

class Statement;

// One connection to one SQLite database file. Move-only; closes on destruction.
class Database {
 public:
  // Opens (and with options.create, creates) the database at `path` and applies the options' pragmas.
  // Errors: NotFound (no such file and !create, or its directory is missing), DataLoss (not a database, or
  // corrupt), PermissionDenied, Internal.
  static absl::StatusOr<Database> Open(const std::string& path, const DatabaseOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more SQL statements that take no parameters and return no rows (DDL, pragmas).
  absl::Status Exec(const std::string& sql);
  // Compiles one SQL statement. Errors: InvalidArgument on a syntax error (with SQLite's message).
  absl::StatusOr<Statement> Prepare(std::string_view sql);

  // Rows changed by the last INSERT, UPDATE or DELETE; rowid of the last INSERT.
  int64_t changes() const;
  int64_t last_insert_rowid() const;

  // PRAGMA user_version: the schema version that ApplyMigrations maintains.
  absl::StatusOr<int> UserVersion();
  // How long a write waits for another connection's lock (DatabaseOptions::busy_timeout_ms at first); 0
  // fails at once with Unavailable.
  int busy_timeout_ms() const { return busy_timeout_ms_; }
  void set_busy_timeout_ms(int ms);
  // True while a transaction is open on this connection (BEGIN without its COMMIT or ROLLBACK yet).
  bool InTransaction() const;

  // Runs PRAGMA integrity_check; DataLoss naming the first problem if the file is damaged.
  absl::Status CheckIntegrity();

  sqlite3* handle() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
  int busy_timeout_ms_ = 0;
};

// A compiled statement. Parameters are numbered from 1 (?1, ?2, ...); result columns from 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  absl::Status Bind(int index, int64_t value);
  absl::Status Bind(int index, double value);
  absl::Status Bind(int index, std::string_view text);  // UTF-8 text (copied by SQLite)
  absl::Status Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  absl::Status BindBlob(int index, std::span<const uint8_t> blob);
  absl::Status BindNull(int index);

  // Advances to the next row: true if a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps until done, for statements that return no rows.
  absl::Status Run();
  // Resets to run again; bindings are kept (ClearBindings to drop them).
  absl::Status Reset();
  void ClearBindings();

  // Result columns of the current row. Preconditions: Step() returned true; 0 <= col < column_count().
  int column_count() const;
  bool IsNull(int col) const;
  int64_t ColumnInt64(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  std::vector<uint8_t> ColumnBlob(int col) const;
  // The blob in place, without a copy: valid until the next Step, Reset or destruction.
  std::span<const uint8_t> ColumnBlobView(int col) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  absl::Status Check(int rc, const char* what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// A transaction: BEGIN IMMEDIATE on Begin (the write lock is taken at once, so a conflict shows up here and
// not half-way), COMMIT on Commit(), ROLLBACK if destroyed without a successful Commit(). Move-only.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
  bool open_ = true;
};

// One step of a schema's history: applying migrations[i] takes the schema from version i to i + 1.
struct Migration {
  const char* description;
  const char* sql;
};

// Brings the database's schema up to migrations.size(), applying each missing step in its own transaction
// together with the new PRAGMA user_version, so a crash leaves the schema at a whole version.
// Errors: FailedPrecondition if the database is at a version newer than this program knows (written by a
// newer Veil); errors of the failing step's SQL, naming the step.
absl::Status ApplyMigrations(Database& db, std::span<const Migration> migrations);

}  // namespace veil::store

#endif  // VEIL_STORE_SQLITE_H_
