// Reading PostgreSQL tables and query results into a Table (libpq).
//
//   VEIL_ASSIGN_OR_RETURN(PgConnection pg, PgConnection::Connect("postgresql://analyst@db.example/clinic"));
//   VEIL_ASSIGN_OR_RETURN(PgTableName name, ParsePgTableName("public.visits"));
//   VEIL_ASSIGN_OR_RETURN(Table visits, pg.ReadTable(name));
//   VEIL_ASSIGN_OR_RETURN(Table old, pg.Query("SELECT id, age FROM visits WHERE age > $1",
//   {Value(int64_t{80})}));
//
// Connection strings are libpq's: a URI (postgresql://user:password@host:port/db?param=value) or key=value
// pairs (host=... dbname=...); whatever the string leaves out comes from libpq's environment variables
// (PGHOST, PGPASSWORD, ~/.pgpass, ...). The session always uses client_encoding UTF8, TimeZone UTC,
// DateStyle ISO and extra_float_digits 1 (shortest exact doubles in text), whatever the server's defaults.
//
// Safety. Identifiers are always quoted with PQescapeIdentifier, and values are always sent as binary
// parameters, never spliced into SQL text, so hostile table names, column names and values are data.
//
// Types (PostgreSQL -> DataType). Results are read in binary, so no server setting (DateStyle, TimeZone,
// extra_float_digits, lc_numeric) changes a value:
//   smallint, integer, bigint                     kInt64
//   real, double precision                        kDouble (real widened exactly)
//   numeric                                       kDouble, correctly rounded from the exact decimal; NaN
//                                                 and +-Infinity kept; a finite value beyond double's range
//                                                 (or non-zero below its smallest) is OutOfRange
//   boolean                                       kBool
//   text, varchar, char(n), name                  kString (char(n) without its trailing spaces, which
//                                                 PostgreSQL treats as insignificant too)
//   date                                          kDate
//   timestamp, timestamptz                        kTimestamp (a timestamp without time zone is read as UTC)
// The special values +-infinity of date and timestamps have no Veil value: reading one is OutOfRange naming
// the column. A column of any other type (uuid, json, bytea, interval, arrays, ...) is InvalidArgument naming
// the column and its type (cast it in the query: `SELECT id::text ...`).
//
// Streaming. A query runs in a server-side cursor (NO SCROLL, inside a READ ONLY transaction unless the
// connection is already in one) and is fetched `chunk_rows` rows at a time, so libpq never holds more than
// one chunk; Query() appends the chunks to one Table, QueryChunks() hands each to a callback.
//
// Errors and credentials. Every error names where it happened ("PostgreSQL host=/run/pg port=5432
// dbname=clinic") and, when there is one, the table, but never a password or the connection string itself:
// any text of the password is removed from every message, libpq's included. Server errors map to canonical
// codes by SQLSTATE class: 08 (connection) Unavailable; 28 (authorization) and 42501 PermissionDenied;
// 42P01 / 42703 / 3F000 (no such table / column / schema) NotFound; 42 (syntax and access rule), 22 (data),
// 23 (constraint) InvalidArgument; 57014 (statement timeout, cancel) DeadlineExceeded; 53 (resources)
// ResourceExhausted; 40 (serialization, deadlock) Aborted; 25 (transaction state, e.g. a write in a read-only
// transaction) FailedPrecondition; anything else Internal. For classes 22 and 23 the
// server's message is withheld (it may quote a row's value, which may be personal data); the SQLSTATE is
// kept.
//
// Thread safety: a PgConnection belongs to one thread at a time (libpq's rule for a PGconn); the free
// functions are pure.
#ifndef VEIL_TABLE_POSTGRES_SOURCE_H_
#define VEIL_TABLE_POSTGRES_SOURCE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"
#include "veil/table/types.h"

// libpq's handles (libpq-fe.h), kept out of this header.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace veil::table {

struct PgConnectOptions {
  // Seconds to wait for the server when connecting (libpq's connect_timeout; libpq treats 1 as 2). A
  // connect_timeout in the connection string takes precedence. 0 waits indefinitely.
  int connect_timeout_seconds = 10;
  // The server cancels any statement running longer than this (statement_timeout), with DeadlineExceeded.
  // 0 (the default) sets no limit.
  int64_t statement_timeout_ms = 0;
  // Shown in pg_stat_activity. One in the connection string takes precedence.
  std::string application_name = "veil";
};

struct PgReadOptions {
  // Rows fetched from the cursor per round trip (and per chunk of QueryChunks). Must be >= 1.
  int64_t chunk_rows = 10'000;
  // ReadTable only: the columns to read, in this order; empty (the default) reads all, in table order.
  std::vector<std::string> columns;
};

// A table, optionally qualified by its schema. Names are exact (case-sensitive), as PostgreSQL stores them.
struct PgTableName {
  std::string schema;  // empty: resolved through the connection's search_path
  std::string name;

  // The quoted form, "schema"."name" or "name", for messages (for SQL use PgConnection::QuoteTable).
  std::string ToString() const;
  friend bool operator==(const PgTableName&, const PgTableName&) = default;
};

// Parses a table name written as in PostgreSQL: `name` or `schema.name`, each part either unquoted (folded
// to lower case, as PostgreSQL does: Visits is visits) or in double quotes (exact, "" stands for one quote,
// may contain dots). Errors: InvalidArgument for an empty part, an unterminated quote, more than two parts,
// or text after a closing quote.
absl::StatusOr<PgTableName> ParsePgTableName(std::string_view text);

// One column of a table, as DescribeTable reports it.
struct PgColumn {
  std::string name;
  std::string pg_type;  // format_type(): "integer", "character varying(20)", "timestamp with time zone", ...
  uint32_t type_oid = 0;
  bool not_null = false;  // a NOT NULL constraint
  bool supported =
      false;  // whether Veil reads this type (see the table above); if so, `type` is its DataType
  DataType type = DataType::kString;
};

// `conninfo` with its password (URI userinfo or password=...) replaced by "***", for display and for
// storing a connection string without its secret. Works on strings libpq cannot parse too (best effort on
// the two syntaxes); never fails.
std::string RedactPgConninfo(std::string_view conninfo);

// `conninfo` rewritten as key=value pairs without its password (and without anything empty), for storing a
// connection string that must never hold a secret (`veil attach`): libpq parses it (URI or key=value) and
// every option it sets except password is written back, values single-quoted with ' and \ escaped.
// Connecting with the result reaches the same server as the same user; the password then comes from
// PGPASSWORD, ~/.pgpass or a passfile= option. Errors: InvalidArgument if libpq cannot parse it (the message
// never contains the password).
absl::StatusOr<std::string> PgConninfoWithoutPassword(std::string_view conninfo);

// `identifier` quoted for SQL text as PQescapeIdentifier quotes it on a UTF-8 connection: in double quotes,
// each double quote doubled ("a""b" for a"b). Needs no connection (the push-down's --explain builds SQL
// without one). Errors: InvalidArgument if it is empty, holds a NUL, or is not valid UTF-8.
absl::StatusOr<std::string> QuotePgIdentifier(std::string_view identifier);
// "schema"."name" or "name", each part through QuotePgIdentifier.
absl::StatusOr<std::string> QuotePgTable(const PgTableName& table);

// One open connection. Move-only; closes on destruction.
class PgConnection {
 public:
  // Connects with libpq and prepares the session (client_encoding UTF8, statement_timeout). Errors:
  // InvalidArgument if libpq cannot parse `conninfo` or options are invalid; Unavailable if the server
  // cannot be reached or refuses the connection (authentication failures included), with libpq's reason.
  // Messages never contain the password (see the file comment).
  static absl::StatusOr<PgConnection> Connect(std::string_view conninfo,
                                              const PgConnectOptions& options = {});

  PgConnection(PgConnection&& other) noexcept;
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // "PostgreSQL host=H port=P dbname=D": where this connection goes, without credentials.
  const std::string& location() const { return location_; }
  // The server's version as PostgreSQL numbers it (150020 for 15.20).
  int server_version() const;

  // Runs one statement (of any kind) with `params` bound to $1, $2, ... and discards any rows. Returns the
  // number of rows it affected (0 for statements that report none). Errors: as in the file comment.
  absl::StatusOr<int64_t> Execute(std::string_view sql, std::span<const Value> params = {});

  // Runs a query (SELECT, VALUES or TABLE: it runs in a cursor) with `params` bound to $1, $2, ... and
  // returns its result: columns named as PostgreSQL names them, all nullable. Errors: as in the file
  // comment; InvalidArgument for a column of an unsupported type, for two result columns of the same name,
  // or for options.chunk_rows < 1.
  absl::StatusOr<Table> Query(std::string_view sql, std::span<const Value> params = {},
                              const PgReadOptions& options = {});

  // As Query, but hands the result to `sink` one chunk (at most options.chunk_rows rows, all with the same
  // schema) at a time, in order; at least one chunk, empty if the result is. An error from `sink` stops
  // the query and is returned as it is.
  absl::Status QueryChunks(std::string_view sql, std::span<const Value> params, const PgReadOptions& options,
                           const std::function<absl::Status(Table chunk)>& sink);

  // The columns of a table (or view), in order. Errors: NotFound if there is no such table (visible to this
  // user); others as in the file comment.
  absl::StatusOr<std::vector<PgColumn>> DescribeTable(const PgTableName& table);

  // Reads a whole table (or options.columns of it). Fields are non-nullable where the column is NOT NULL.
  // Errors: NotFound for a missing table or a listed column it does not have; InvalidArgument naming a
  // column of an unsupported type (leave it out with options.columns); others as Query.
  absl::StatusOr<Table> ReadTable(const PgTableName& table, const PgReadOptions& options = {});

  // Appends the rows of `data` to an existing table whose columns include those of data.schema() (by name),
  // with COPY ... FROM STDIN. Meant for tests, benchmarks and examples. Errors: NotFound for a missing table
  // or column; InvalidArgument if a value does not fit its column; others as in the file comment.
  absl::Status CopyIntoTable(const PgTableName& table, const Table& data);

  // QuotePgIdentifier / QuotePgTable (above); every connection's client encoding is UTF8.
  absl::StatusOr<std::string> QuoteIdentifier(std::string_view identifier) const;
  absl::StatusOr<std::string> QuoteTable(const PgTableName& table) const;

 private:
  PgConnection(PGconn* conn, std::string location, std::vector<base::SecretBytes> secrets)
      : conn_(conn), location_(std::move(location)), secrets_(std::move(secrets)) {}

  // A status for a failed call: the server's error in `result` (mapped by SQLSTATE), or libpq's last error
  // on this connection when there is none. Scrubbed of secrets.
  absl::Status ErrorStatus(std::string_view what, const PGresult* result) const;
  std::string Scrub(std::string message) const;
  absl::StatusOr<int64_t> ExecuteInternal(std::string_view sql, std::span<const Value> params,
                                          std::string_view what);
  // Runs `sql` in a cursor and hands each chunk to `sink`; with `fixed_schema`, chunks get that schema
  // (ReadTable's nullability) instead of one made from the result's columns.
  absl::Status QueryInternal(std::string_view sql, std::span<const Value> params,
                             const PgReadOptions& options, const Schema* fixed_schema, std::string_view what,
                             const std::function<absl::Status(Table chunk)>& sink);
  absl::StatusOr<Table> ReadInto(std::string_view sql, std::span<const Value> params,
                                 const PgReadOptions& options, const Schema* fixed_schema,
                                 std::string_view what);

  PGconn* conn_ = nullptr;
  std::string location_;
  std::vector<base::SecretBytes> secrets_;  // text removed from every message: the password, if any
  int64_t cursor_counter_ = 0;
};

}  // namespace veil::table

#endif  // VEIL_TABLE_POSTGRES_SOURCE_H_
