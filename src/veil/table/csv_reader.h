// Reading CSV files (RFC 4180) into a Table.
//
//   VEIL_ASSIGN_OR_RETURN(Table t, ReadCsv(env, "../shared/data/adult/adult.csv"));
//
// Format. Records end with LF or CRLF; the last may lack one. A UTF-8 byte order mark at the start is
// skipped. A field is either unquoted (it may not contain the quote character) or enclosed in quotes, inside
// which delimiters, CR and LF are data and a doubled quote ("") stands for one quote. Every record must have
// as many fields as the first. A line that is completely empty is skipped when the table has more than one
// column (it cannot be a record then); in a one-column file it is a record whose field is empty.
//
// Nulls. An unquoted field equal to one of `null_tokens` (after trimming) is null. A quoted field is never
// null: "" is the empty string and "?" the one-character string.
//
// Types. Unless a column's type is given (`column_types`, `schema`), it is inferred from ALL of its non-null
// values: each value has a narrowest type, and the column gets the smallest type that holds them all, in the
// order int64 -> double -> string, date -> timestamp -> string, bool -> string (any other mix is a string).
//   int64      [+-]digits within the int64 range and without a leading zero. "02134" stays a string, so
//              ZIP codes and identifiers keep their zeros; an integer too large for int64 is a string too,
//              rather than a rounded double.
//   double     a decimal or scientific number ("2.5", "-.5", "1e-7"), or exactly nan, -nan, inf, -inf.
//   bool       true or false, in any case.
//   date       YYYY-MM-DD.
//   timestamp  YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z] (UTC).
//   string     anything else (valid UTF-8).
// A column with no non-null value is a string column. Inferred columns are nullable. A column whose type is
// given accepts the wider forms of types.h (ParseInt64 and friends: "007" as int64, "1"/"0" as bool, a date
// as a midnight timestamp).
//
// Errors. Bad input gives InvalidArgument whose message starts with "SOURCE:LINE: column N ("NAME"): ", LINE
// being the 1-based physical line (counting newlines inside quoted fields), for example
//   adult.csv:1234: column 3 ("fnlwgt"): "abc" is not an int64
// Covered: a record with too few or too many fields, an unterminated quoted field, a quote inside an unquoted
// field, a character after a closing quote, invalid UTF-8, a value that does not fit the column's given type,
// a null in a non-nullable column, a bad or duplicate header. Values quoted in messages are cut to 40 bytes
// and escaped. An I/O error from the Env is returned as it is.
//
// Streaming and threads. The input is cut into chunks of about `chunk_size` bytes at record boundaries
// (found by tracking quote parity). With more than one thread, `num_threads` workers parse chunks while the
// calling thread reads ahead and appends parsed chunks to the table in order; the result, string
// dictionaries included (codes in order of first appearance), does not depend on the number of threads or
// the chunk size. Memory is the table plus a few chunks. Type inference works per chunk and widens the
// table as chunks arrive; only when a column turns out to be a string after earlier chunks of it were
// stored as numbers, dates or bools (their text is gone by then) is the input read a second time, with the
// final types.
//
// Thread safety: the functions may be called concurrently; each call uses its own threads.
#ifndef VEIL_TABLE_CSV_READER_H_
#define VEIL_TABLE_CSV_READER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"
#include "veil/table/types.h"

namespace veil::table {

struct CsvReadOptions {
  // Separates fields. Must differ from `quote` and from CR and LF.
  char delimiter = ',';
  // Encloses fields that contain delimiters, quotes or newlines.
  char quote = '"';
  // The first record names the columns. If false, they are named column_1, column_2, ... A header field that
  // is empty gets that generated name too.
  bool has_header = true;
  // Unquoted fields that read as null (compared after trimming). Default: the empty field and "?", the
  // missing-value mark of UCI datasets such as Adult.
  std::vector<std::string> null_tokens = {"", "?"};
  // Strip spaces and tabs around unquoted fields and around the quotes of quoted fields (never inside
  // quotes). On by default because files such as UCI's adult.data write ", " between fields; turn it off for
  // strict RFC 4180, where those spaces are data (a quote after a space is then an error).
  bool trim_whitespace = true;
  // Declared types of some columns, by name (the header's name, or column_N without a header); the other
  // columns are inferred. A value that does not fit is an error. Naming a column the file does not have is
  // an error too.
  std::map<std::string, DataType, std::less<>> column_types;
  // The complete schema, when known (for example to read back a table written by WriteCsv exactly):
  // the file must have exactly these columns, in this order, with these names if it has a header; types
  // are not inferred and a null in a non-nullable field is an error. `column_types` must then be empty.
  std::optional<Schema> schema;
  // Threads that parse chunks. 0 = one per hardware thread (at most 8); 1 = everything on the calling
  // thread, as are inputs smaller than two chunks.
  int num_threads = 0;
  // Target bytes per chunk (the unit of parallel work and of read-ahead). Small values are valid and
  // useful in tests.
  size_t chunk_size = size_t{1} << 20;
  // Longest record accepted when reading a file: a record that is not complete within this many bytes
  // (most likely an unmatched quote) is an error rather than a reason to read the rest of the file into
  // memory.
  size_t max_record_size = size_t{64} << 20;
};

// Reads the CSV file at `path` through `env`. Messages name the file as `path`. Errors: as described above,
// InvalidArgument for bad options; NotFound and I/O errors from the Env.
absl::StatusOr<Table> ReadCsv(base::Env& env, const std::string& path, const CsvReadOptions& options = {});

// Reads CSV text held in memory (no copy is made of it). Messages name the input `source_name`.
absl::StatusOr<Table> ReadCsvFromString(std::string_view data, const CsvReadOptions& options = {},
                                        std::string_view source_name = "<string>");

}  // namespace veil::table

#endif  // VEIL_TABLE_CSV_READER_H_
