// Internals of the CSV reader (csv_reader.h): the field scanner, type inference and the parser of one chunk.
// Not an API for other modules; declared here so that tests can reach the pieces.
//
// A chunk is a run of whole records (csv_reader.cc cuts the input at record boundaries). ParseChunk turns it
// into typed column pieces, inferring types as it goes; csv_reader.cc appends the pieces in order and
// reconciles their types.
#ifndef VEIL_TABLE_CSV_PARSER_H_
#define VEIL_TABLE_CSV_PARSER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "veil/table/column.h"
#include "veil/table/types.h"

namespace veil::table::internal {

// The byte order mark a UTF-8 CSV file may start with (the reader skips it, the writer checks for it).
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// A column's type while it is being inferred: a DataType, or kNull while every value seen was null.
enum class CsvType : uint8_t { kNull, kBool, kInt64, kDouble, kDate, kTimestamp, kString };

CsvType ToCsvType(DataType type);
// kNull becomes kString: a column without values is a string column.
DataType ToDataType(CsvType type);

// The smallest type holding values of both types: kNull is the identity; int64 and double give double;
// date and timestamp give timestamp; any other pair of different types gives string.
CsvType JoinTypes(CsvType a, CsvType b);

// A non-null field's narrowest type under inference (csv_reader.h states the forms), with its value.
struct Classified {
  CsvType type = CsvType::kString;
  int64_t int_value = 0;    // kInt64; kTimestamp micros; kDate days; kBool 0/1
  double double_value = 0;  // kDouble
};
Classified ClassifyField(std::string_view text);

// The quote-aware position just after the last record boundary (an LF outside quotes) in `data`, which
// must start at a record boundary; std::string_view::npos if there is none. Quote parity is enough to know
// whether an LF is inside quotes, since an escaped quote ("") flips the parity twice. Malformed quoting
// can mislead it, but the parser reports the first malformed field before that matters.
size_t FindLastRecordBoundary(std::string_view data, char quote);

// The reader's options, prepared for the scanner.
struct CsvDialect {
  char delimiter = ',';
  char quote = '"';
  bool trim = true;
  std::vector<std::string> null_tokens;
  uint64_t null_token_lengths = 0;  // bit n set if a token has length n (n < 64)
  bool long_null_token = false;     // a token of length >= 64 exists
  // stop[c] is true for the bytes that end an unquoted field or make it malformed: delimiter, LF, quote.
  std::array<bool, 256> stop{};
  // blank[c] is true for the bytes trimmed around fields: space and tab, unless one is the delimiter.
  std::array<bool, 256> blank{};

  // The three stop bytes repeated in every byte of a word, for scanning eight bytes at a time.
  uint64_t delimiter_word = 0;
  uint64_t quote_word = 0;

  static CsvDialect Make(char delimiter, char quote, bool trim, std::vector<std::string> null_tokens);
  bool IsNullToken(std::string_view text) const {
    // Most fields have a length no token has: one bit test.
    if (text.size() < 64 ? ((null_token_lengths >> text.size()) & 1) == 0 : !long_null_token) return false;
    for (const std::string& token : null_tokens) {
      if (token == text) return true;
    }
    return false;
  }
};

// What the parser knows about a column.
struct ColumnSpec {
  std::string name;
  CsvType type = CsvType::kNull;  // the starting type: inference only widens it
  bool fixed = false;             // the type is given: values must fit it, no inference
  bool nullable = true;
};

// One column of a parsed chunk. Exactly one storage vector is in use, as in Column; null rows hold 0
// (code -1) and are listed in null_rows.
struct ChunkColumn {
  CsvType type = CsvType::kNull;
  std::vector<int64_t> int64s;  // kInt64, kTimestamp
  std::vector<double> doubles;  // kDouble
  std::vector<uint8_t> bools;   // kBool
  std::vector<int32_t> int32s;  // kDate, kString codes into dictionary
  std::vector<int32_t> null_rows;
  // The chunk's own dictionary, in order of first appearance; views point into the chunk's bytes or into
  // ChunkResult::unescaped. A column whose values are nearly all distinct (e-mail addresses, identifiers)
  // stops deduplicating (`distinct_mode`): each value then gets its own entry, repeats included, and only
  // the table's dictionary removes duplicates, which saves a hash-table insert per value.
  std::vector<HashedString> dictionary;
  HashedStringMap<int32_t> dictionary_index;
  bool distinct_mode = false;
};

// The first error found in a chunk.
struct ChunkError {
  int64_t line = 0;  // 0-based line within the chunk
  int column = -1;   // 0-based; may equal the column count for "too many fields"
  std::string message;
};

struct ChunkResult {
  int64_t num_rows = 0;
  int64_t num_lines = 0;  // LF bytes consumed
  std::vector<ChunkColumn> columns;
  std::optional<ChunkError> error;
  // Storage for field text that had to be unescaped ("" -> "); stable addresses.
  std::deque<std::string> unescaped;
};

// Parses whole records. A column's type starts at its spec's and widens as values require. When a column
// must widen to string after non-null values of another type were stored, the chunk is parsed again from
// the start with that column as a string (the text of the earlier values is needed), so the result is as if
// the final types had been known from the beginning.
// `expected_rows` (a guess, may be 0) sizes the output vectors up front.
ChunkResult ParseChunk(std::string_view data, const CsvDialect& dialect, std::span<const ColumnSpec> columns,
                       size_t expected_rows = 0);

// Reads one record's fields as text (for the header, or to count the columns of a headerless file).
// `*consumed` is set to the bytes used and `*lines` to the LFs among them. Returns false with `*error` set
// for malformed quoting. At the end of data, returns true with no fields.
bool ReadRecordFields(std::string_view data, const CsvDialect& dialect, std::vector<std::string>* fields,
                      size_t* consumed, int64_t* lines, ChunkError* error);

// `text` cut to 40 bytes and C-escaped, in double quotes, for error messages.
std::string QuoteForMessage(std::string_view text);

}  // namespace veil::table::internal

#endif  // VEIL_TABLE_CSV_PARSER_H_
