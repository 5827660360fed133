// Writing a Table as CSV (RFC 4180) that ReadCsv reads back to the same table.
//
//   VEIL_RETURN_IF_ERROR(WriteCsv(table, env, "out.csv"));
//   VEIL_ASSIGN_OR_RETURN(std::string text, WriteCsvToString(table));
//
// Round trip. With the same delimiter, quote and null tokens, ReadCsv(WriteCsv(t)) gives back t exactly when
// the reader is given t's schema (CsvReadOptions::schema): every type, nulls, strings with delimiters,
// quotes, newlines or surrounding spaces, doubles bit for bit (shortest round-trip form, always with a "."
// or an exponent), NaN and the infinities. Without the schema, types are inferred again and come back the
// same as long as each column's values have the forms inference recognizes: a string column whose every
// value looks like a number, and a column of nulls only, come back with another type.
//
// Format: a header line of column names (unless turned off), then one line per row; fields separated by
// the delimiter, lines ended by `line_ending`. Int64 and double values are written as numbers, bools as
// true/false, dates as YYYY-MM-DD, timestamps as YYYY-MM-DDTHH:MM:SS[.ffffff]Z, null as the first null
// token (default: an empty field). A string (or name) is quoted, with inner quotes doubled, when it would
// otherwise not read back as itself: when it is empty, equals a null token, contains the delimiter, the
// quote, CR or LF, or starts or ends with a space or tab.
//
// Errors: InvalidArgument for options that cannot round-trip (delimiter equal to the quote or a line-end
// character, or no null token while the table has nulls), a table without columns but with rows (CSV
// cannot express it), and a date or timestamp outside years 0000..9999 (no text form reads it back). I/O
// errors from the Env as they are.
//
// Thread safety: the functions may be called concurrently, also on the same table.
#ifndef VEIL_TABLE_CSV_WRITER_H_
#define VEIL_TABLE_CSV_WRITER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/table/table.h"

namespace veil::table {

struct CsvWriteOptions {
  char delimiter = ',';
  char quote = '"';
  bool write_header = true;
  // "\n" or "\r\n".
  std::string line_ending = "\n";
  // The tokens the reader will treat as null (CsvReadOptions::null_tokens). A null is written as the first
  // one; a string equal to any of them is quoted so that it stays a string.
  std::vector<std::string> null_tokens = {"", "?"};
};

// Writes `table` to `path` (created or truncated) through `env`, in pieces of about 1 MiB, then syncs and
// closes the file. Not atomic: on error a partial file may remain.
absl::Status WriteCsv(const Table& table, base::Env& env, const std::string& path,
                      const CsvWriteOptions& options = {});

// Returns the CSV text of `table`.
absl::StatusOr<std::string> WriteCsvToString(const Table& table, const CsvWriteOptions& options = {});

}  // namespace veil::table

#endif  // VEIL_TABLE_CSV_WRITER_H_
