#include "veil/table/csv_parser.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "veil/base/utf8.h"

namespace veil::table::internal {
namespace {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr uint64_t kLowBytes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kNewlineWord = kLowBytes * '\n';

// Marks the bytes of `word` equal to the byte repeated in `pattern`: the lowest marked byte is the first
// match (bytes above a match may be marked falsely, which does not matter when only the first is used).
inline uint64_t MatchBytes(uint64_t word, uint64_t pattern) {
  const uint64_t x = word ^ pattern;
  return (x - kLowBytes) & ~x & kHighBits;
}

// Powers of ten that doubles represent exactly.
constexpr double kExactPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
inline unsigned char Byte(char c) { return static_cast<unsigned char>(c); }

// Counts `c` in [p, p + n). Written so that the compiler vectorizes it: byte counters over blocks of 255.
size_t CountByte(const char* p, size_t n, char c) {
  size_t count = 0;
  while (n > 0) {
    const size_t block = std::min<size_t>(n, 255);
    uint8_t in_block = 0;
    for (size_t i = 0; i < block; ++i) in_block += static_cast<uint8_t>(p[i] == c);
    count += in_block;
    p += block;
    n -= block;
  }
  return count;
}

// "true" / "false" in any case. Inline word compares instead of a call to a case-insensitive memcmp: bool
// columns test every value. Setting bit 5 (0x20) of a byte gives a lowercase letter only if the byte is
// that letter or its capital.
bool IsBoolWord(std::string_view text, bool* value) {
  constexpr uint32_t kLower = 0x20202020;
  uint32_t head;
  if (text.size() == 4) {
    std::memcpy(&head, text.data(), 4);
    if ((head | kLower) != LoadHalfWord("true")) return false;
    *value = true;
    return true;
  }
  if (text.size() == 5) {
    std::memcpy(&head, text.data(), 4);
    if ((head | kLower) != LoadHalfWord("fals") || (text[4] | 0x20) != 'e') return false;
    *value = false;
    return true;
  }
  return false;
}

// Only the forms that FormatDouble writes: "Infinity" or "NaN" in a column are more likely words than
// numbers, so they are not inferred as doubles (a column declared double does accept them).
bool IsSpecialDoubleWord(std::string_view text) {
  return text == "nan" || text == "-nan" || text == "inf" || text == "-inf";
}

}  // namespace

CsvType ToCsvType(DataType type) {
  switch (type) {
    case DataType::kInt64:
      return CsvType::kInt64;
    case DataType::kDouble:
      return CsvType::kDouble;
    case DataType::kBool:
      return CsvType::kBool;
    case DataType::kString:
      return CsvType::kString;
    case DataType::kDate:
      return CsvType::kDate;
    case DataType::kTimestamp:
      return CsvType::kTimestamp;
  }
  return CsvType::kString;
}

DataType ToDataType(CsvType type) {
  switch (type) {
    case CsvType::kInt64:
      return DataType::kInt64;
    case CsvType::kDouble:
      return DataType::kDouble;
    case CsvType::kBool:
      return DataType::kBool;
    case CsvType::kDate:
      return DataType::kDate;
    case CsvType::kTimestamp:
      return DataType::kTimestamp;
    case CsvType::kNull:
    case CsvType::kString:
      return DataType::kString;
  }
  return DataType::kString;
}

CsvType JoinTypes(CsvType a, CsvType b) {
  if (a == b || b == CsvType::kNull) return a;
  if (a == CsvType::kNull) return b;
  const auto is = [&](CsvType x, CsvType y) { return (a == x && b == y) || (a == y && b == x); };
  if (is(CsvType::kInt64, CsvType::kDouble)) return CsvType::kDouble;
  if (is(CsvType::kDate, CsvType::kTimestamp)) return CsvType::kTimestamp;
  return CsvType::kString;
}

Classified ClassifyField(std::string_view text) {
  Classified out;  // kString unless proven otherwise
  const size_t n = text.size();
  if (n == 0) return out;
  const char* p = text.data();
  const bool signed_number = p[0] == '-' || p[0] == '+';
  const size_t i = signed_number ? 1 : 0;
  if (i < n && IsDigit(p[i])) {
    // The integer part; at most 19 digits can fit an int64.
    size_t j = i;
    uint64_t magnitude = 0;
    while (j < n && IsDigit(p[j])) {
      if (j - i < 19) magnitude = magnitude * 10 + static_cast<uint64_t>(p[j] - '0');
      ++j;
    }
    const size_t digits = j - i;
    const bool leading_zero = p[i] == '0' && digits > 1;
    if (j == n) {
      if (leading_zero || digits > 19) return out;
      const bool negative = p[0] == '-';
      const uint64_t limit = uint64_t{std::numeric_limits<int64_t>::max()} + (negative ? 1 : 0);
      if (magnitude > limit) return out;
      out.type = CsvType::kInt64;
      // Two's-complement negation in unsigned arithmetic also covers INT64_MIN.
      out.int_value = static_cast<int64_t>(negative ? uint64_t{0} - magnitude : magnitude);
      return out;
    }
    if (!signed_number && digits == 4 && p[j] == '-') {
      if (n == 10) {
        if (std::optional<Date> d = ParseDate(text)) {
          out.type = CsvType::kDate;
          out.int_value = d->days;
        }
      } else if (std::optional<Timestamp> ts = ParseTimestamp(text)) {
        out.type = CsvType::kTimestamp;
        out.int_value = ts->micros;
      }
      return out;
    }
    if (leading_zero || (p[j] != '.' && p[j] != 'e' && p[j] != 'E')) return out;
    // Fast path for plain decimals such as "52341.27": with at most 15 significant digits the digits form
    // an exact double m, 10^k is exact too, and IEEE division rounds m / 10^k correctly, which is what
    // from_chars would return.
    if (p[j] == '.' && digits <= 15) {
      size_t k = j + 1;
      uint64_t m = magnitude;
      while (k < n && IsDigit(p[k])) m = m * 10 + static_cast<uint64_t>(p[k++] - '0');
      const size_t fraction_digits = k - j - 1;
      if (k == n && digits + fraction_digits <= 15) {
        const double value = static_cast<double>(m) / kExactPowersOfTen[fraction_digits];
        out.type = CsvType::kDouble;
        out.double_value = p[0] == '-' ? -value : value;
        return out;
      }
    }
  } else if (!(i < n && p[i] == '.')) {
    bool b;
    if (IsBoolWord(text, &b)) {
      out.type = CsvType::kBool;
      out.int_value = b ? 1 : 0;
      return out;
    }
    if (!IsSpecialDoubleWord(text)) return out;
  }
  // A decimal or scientific number; from_chars does not take a leading '+'.
  const char* begin = p + (p[0] == '+' ? 1 : 0);
  double value = 0;
  auto [ptr, ec] = std::from_chars(begin, p + n, value, std::chars_format::general);
  if (ec != std::errc() || ptr != p + n) return out;
  out.type = CsvType::kDouble;
  out.double_value = value;
  return out;
}

size_t FindLastRecordBoundary(std::string_view data, char quote) {
  // Inside quotes at the end iff the chunk holds an odd number of quotes. Walk back from the end, flipping
  // at each quote, to the last LF seen outside quotes: usually within the last record.
  bool inside = (CountByte(data.data(), data.size(), quote) & 1) != 0;
  for (size_t i = data.size(); i-- > 0;) {
    const char c = data[i];
    if (c == quote) {
      inside = !inside;
    } else if (c == '\n' && !inside) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

CsvDialect CsvDialect::Make(char delimiter, char quote, bool trim, std::vector<std::string> null_tokens) {
  CsvDialect d;
  d.delimiter = delimiter;
  d.quote = quote;
  d.trim = trim;
  for (const std::string& token : null_tokens) {
    if (token.size() < 64) {
      d.null_token_lengths |= uint64_t{1} << token.size();
    } else {
      d.long_null_token = true;
    }
  }
  d.null_tokens = std::move(null_tokens);
  d.stop[Byte(delimiter)] = true;
  d.stop[Byte(quote)] = true;
  d.stop[Byte('\n')] = true;
  d.delimiter_word = kLowBytes * Byte(delimiter);
  d.quote_word = kLowBytes * Byte(quote);
  d.blank[Byte(' ')] = delimiter != ' ';
  d.blank[Byte('\t')] = delimiter != '\t';
  return d;
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMaxShown = 40;
  const std::string_view shown = text.substr(0, kMaxShown);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                      text.size() > kMaxShown ? "...\"" : "\"");
}

namespace {

enum class Terminator { kDelimiter, kNewline, kEnd };

struct FieldText {
  std::string_view text;
  bool quoted = false;
  bool unescaped = false;  // text lives in the scanner's scratch buffer
  int64_t line = 0;        // where the field starts
};

// Splits records into fields (RFC 4180 plus trimming). Tracks the 0-based line of its position.
class FieldScanner {
 public:
  FieldScanner(std::string_view data, const CsvDialect& dialect)
      : p_(data.data()), end_(data.data() + data.size()), d_(dialect) {}

  bool AtEnd() const { return p_ == end_; }
  bool AtBlankLine() const { return *p_ == '\n' || (*p_ == '\r' && p_ + 1 < end_ && p_[1] == '\n'); }
  void SkipBlankLine() {
    p_ += *p_ == '\r' ? 2 : 1;
    ++line_;
  }
  int64_t line() const { return line_; }
  const char* position() const { return p_; }

  // Reads the field at the current position and what ends it. On malformed input returns false with
  // error->line and error->message set. Inline: it runs once per field.
  [[gnu::always_inline]] bool Next(FieldText* field, Terminator* term, ChunkError* error);

 private:
  // The rest of Next for a quoted field, `p` being just past the opening quote. Out of line: less common.
  [[gnu::noinline]] bool NextQuoted(const char* p, FieldText* field, Terminator* term, ChunkError* error);
  // After a field's content: the delimiter, a line end, or the end of data.
  bool ReadTerminator(const char*& p, Terminator* term) {
    if (p == end_) {
      *term = Terminator::kEnd;
    } else if (*p == d_.delimiter) {
      ++p;
      *term = Terminator::kDelimiter;
    } else if (*p == '\n') {
      ++p;
      ++line_;
      *term = Terminator::kNewline;
    } else if (*p == '\r' && p + 1 < end_ && p[1] == '\n') {
      p += 2;
      ++line_;
      *term = Terminator::kNewline;
    } else {
      return false;
    }
    return true;
  }

  const char* p_;
  const char* const end_;
  const CsvDialect& d_;
  int64_t line_ = 0;
  std::string scratch_;
};

bool FieldScanner::NextQuoted(const char* p, FieldText* field, Terminator* term, ChunkError* error) {
  const int64_t open_line = line_;
  const char* const start = ++p;
  bool escaped = false;
  for (;;) {
    while (p < end_ && *p != d_.quote) {
      if (*p == '\n') ++line_;
      ++p;
    }
    if (p == end_) {
      error->line = open_line;
      error->message = "quoted field is not terminated (the closing quote is missing)";
      return false;
    }
    if (p + 1 < end_ && p[1] == d_.quote) {
      escaped = true;
      p += 2;
      continue;
    }
    break;
  }
  const char* const stop = p++;
  if (escaped) {
    scratch_.clear();
    for (const char* q = start; q < stop; ++q) {
      scratch_.push_back(*q);
      if (*q == d_.quote) ++q;  // the second of a doubled quote
    }
    field->text = scratch_;
    field->unescaped = true;
  } else {
    field->text = std::string_view(start, stop - start);
  }
  field->quoted = true;
  if (d_.trim) {
    while (p < end_ && d_.blank[Byte(*p)]) ++p;
  }
  if (!ReadTerminator(p, term)) {
    error->line = line_;
    error->message = absl::StrCat("unexpected character ", QuoteForMessage(std::string_view(p, 1)),
                                  " after the closing quote of ", QuoteForMessage(field->text));
    return false;
  }
  p_ = p;
  return true;
}

inline bool FieldScanner::Next(FieldText* field, Terminator* term, ChunkError* error) {
  const char* p = p_;
  if (d_.trim) {
    while (p < end_ && d_.blank[Byte(*p)]) ++p;
  }
  field->line = line_;
  field->unescaped = false;
  if (p < end_ && *p == d_.quote) return NextQuoted(p, field, term, error);

  const char* const start = p;
  // Eight bytes at a time to the first delimiter, LF or quote; byte by byte near the end.
  for (;;) {
    if (p + 8 > end_) {
      while (p < end_ && !d_.stop[Byte(*p)]) ++p;
      break;
    }
    const uint64_t word = LoadWord(p);
    const uint64_t hits = MatchBytes(word, d_.delimiter_word) | MatchBytes(word, kNewlineWord) |
                          MatchBytes(word, d_.quote_word);
    if (hits != 0) {
      p += std::countr_zero(hits) / 8;
      break;
    }
    p += 8;
  }
  if (p < end_ && *p == d_.quote) {
    error->line = line_;
    error->message = absl::StrCat("quote character in the unquoted field ",
                                  QuoteForMessage(std::string_view(start, p + 1 - start)),
                                  " (quote the whole field and double the quotes inside it)");
    return false;
  }
  const char* stop = p;
  ReadTerminator(p, term);  // at the end, a delimiter or an LF: cannot fail
  if (*term == Terminator::kNewline && stop > start && stop[-1] == '\r') --stop;
  if (d_.trim) {
    while (stop > start && d_.blank[Byte(stop[-1])]) --stop;
  }
  field->text = std::string_view(start, stop - start);
  field->quoted = false;
  p_ = p;
  return true;
}

// Parses the records of one chunk into ChunkColumns. One instance per attempt (see ParseChunk).
class ChunkParser {
 public:
  ChunkParser(std::string_view data, const CsvDialect& dialect, std::span<const ColumnSpec> specs,
              ChunkResult* result, size_t expected_rows)
      : scanner_(data, dialect),
        dialect_(dialect),
        specs_(specs),
        result_(result),
        expected_rows_(expected_rows) {}

  // Parses everything. Returns the index of a column that must be re-parsed as a string, or -1 when done
  // (successfully or with result_->error set).
  int Run();

 private:
  enum class Outcome { kOk, kError, kRestart };

  Outcome ProcessField(int c, const FieldText& field);
  Outcome AppendString(ChunkColumn& col, int c, const FieldText& field);
  Outcome AppendFixed(ChunkColumn& col, int c, const FieldText& field);
  void AppendClassified(ChunkColumn& col, const Classified& v);
  void AppendNull(ChunkColumn& col);
  // Widens col to `to`, converting the values stored so far. False if that needs their text (to string).
  bool Widen(ChunkColumn& col, CsvType to);
  Outcome Fail(int c, int64_t line, std::string message) {
    result_->error = ChunkError{line, c, std::move(message)};
    return Outcome::kError;
  }

  FieldScanner scanner_;
  const CsvDialect& dialect_;
  std::span<const ColumnSpec> specs_;
  ChunkResult* result_;
  const size_t expected_rows_;
  int32_t row_ = 0;  // rows completed
};

// Sizes a column's storage for `rows` values of its type.
void ReserveStorage(ChunkColumn& col, size_t rows) {
  switch (col.type) {
    case CsvType::kInt64:
    case CsvType::kTimestamp:
      col.int64s.reserve(rows);
      break;
    case CsvType::kDouble:
      col.doubles.reserve(rows);
      break;
    case CsvType::kBool:
      col.bools.reserve(rows);
      break;
    case CsvType::kDate:
    case CsvType::kString:
      col.int32s.reserve(rows);
      break;
    case CsvType::kNull:
      break;
  }
}

int ChunkParser::Run() {
  const int num_columns = static_cast<int>(specs_.size());
  result_->columns.resize(num_columns);
  for (int c = 0; c < num_columns; ++c) {
    result_->columns[c].type = specs_[c].type;
    ReserveStorage(result_->columns[c], expected_rows_);
  }

  FieldText field;
  ChunkError error;
  while (!scanner_.AtEnd()) {
    if (num_columns > 1 && scanner_.AtBlankLine()) {
      scanner_.SkipBlankLine();
      continue;
    }
    const int64_t record_line = scanner_.line();
    int c = 0;
    Terminator term;
    do {
      if (!scanner_.Next(&field, &term, &error)) {
        error.column = c;
        result_->error = std::move(error);
        return -1;
      }
      if (c == num_columns) {
        // Count the rest of the record for a helpful message; stop quietly at malformed input.
        int total = c + 1;
        while (term == Terminator::kDelimiter && scanner_.Next(&field, &term, &error)) ++total;
        Fail(c, record_line,
             absl::StrCat("the record has ", term == Terminator::kDelimiter ? "more than " : "", total,
                          " fields, expected ", num_columns));
        return -1;
      }
      switch (ProcessField(c, field)) {
        case Outcome::kOk:
          break;
        case Outcome::kError:
          return -1;
        case Outcome::kRestart:
          return c;
      }
      ++c;
    } while (term == Terminator::kDelimiter);
    if (c != num_columns) {
      Fail(c, record_line,
           absl::StrCat("the record has ", c, " field", c == 1 ? "" : "s", ", expected ", num_columns));
      return -1;
    }
    if (row_ == std::numeric_limits<int32_t>::max()) {
      Fail(-1, record_line, "too many records in one chunk");
      return -1;
    }
    ++row_;
  }
  result_->num_rows = row_;
  result_->num_lines = scanner_.line();
  return -1;
}

ChunkParser::Outcome ChunkParser::ProcessField(int c, const FieldText& field) {
  ChunkColumn& col = result_->columns[c];
  const ColumnSpec& spec = specs_[c];
  if (!field.quoted && dialect_.IsNullToken(field.text)) {
    if (!spec.nullable) {
      return Fail(
          c, field.line,
          absl::StrCat("null value ", QuoteForMessage(field.text), " in a column that is not nullable"));
    }
    AppendNull(col);
    return Outcome::kOk;
  }
  if (col.type == CsvType::kString) return AppendString(col, c, field);
  if (spec.fixed) return AppendFixed(col, c, field);

  const Classified v = ClassifyField(field.text);
  if (v.type != col.type) {
    const CsvType joined = JoinTypes(col.type, v.type);
    if (joined != col.type && !Widen(col, joined)) return Outcome::kRestart;
    if (col.type == CsvType::kString) return AppendString(col, c, field);
  }
  AppendClassified(col, v);
  return Outcome::kOk;
}

ChunkParser::Outcome ChunkParser::AppendString(ChunkColumn& col, int c, const FieldText& field) {
  const HashedString key = HashedString::Of(field.text);
  if (!col.distinct_mode) {
    if (auto it = col.dictionary_index.find(key); it != col.dictionary_index.end()) {
      col.int32s.push_back(it->second);
      return Outcome::kOk;
    }
    // Past a few hundred rows, if 90% of the values were new, deduplicating here does not pay.
    constexpr size_t kProbeRows = 512;
    if (col.int32s.size() >= kProbeRows && col.dictionary.size() * 10 >= col.int32s.size() * 9) {
      col.distinct_mode = true;
      col.dictionary_index = {};
    }
  }
  // Validate each distinct value once, when it enters the dictionary.
  if (const size_t bad = base::FindInvalidUtf8(field.text); bad != field.text.size()) {
    return Fail(
        c, field.line,
        absl::StrCat("invalid UTF-8 at byte ", bad + 1, " of the value ", QuoteForMessage(field.text)));
  }
  HashedString stored = key;
  if (field.unescaped) stored.text = result_->unescaped.emplace_back(field.text);
  const auto code = static_cast<int32_t>(col.dictionary.size());
  col.dictionary.push_back(stored);
  if (!col.distinct_mode) col.dictionary_index.emplace(stored, code);
  col.int32s.push_back(code);
  return Outcome::kOk;
}

ChunkParser::Outcome ChunkParser::AppendFixed(ChunkColumn& col, int c, const FieldText& field) {
  const std::string_view text = field.text;
  switch (col.type) {
    case CsvType::kInt64:
      if (std::optional<int64_t> v = ParseInt64(text)) {
        col.int64s.push_back(*v);
        return Outcome::kOk;
      }
      return Fail(c, field.line, absl::StrCat(QuoteForMessage(text), " is not an int64"));
    case CsvType::kDouble:
      if (std::optional<double> v = ParseDouble(text)) {
        col.doubles.push_back(*v);
        return Outcome::kOk;
      }
      return Fail(c, field.line, absl::StrCat(QuoteForMessage(text), " is not a double"));
    case CsvType::kBool:
      if (std::optional<bool> v = ParseBool(text)) {
        col.bools.push_back(*v ? 1 : 0);
        return Outcome::kOk;
      }
      return Fail(c, field.line, absl::StrCat(QuoteForMessage(text), " is not a bool (true, false, 1 or 0)"));
    case CsvType::kDate:
      if (std::optional<Date> v = ParseDate(text)) {
        col.int32s.push_back(v->days);
        return Outcome::kOk;
      }
      return Fail(c, field.line, absl::StrCat(QuoteForMessage(text), " is not a date (YYYY-MM-DD)"));
    case CsvType::kTimestamp:
      if (std::optional<Timestamp> v = ParseTimestamp(text)) {
        col.int64s.push_back(v->micros);
        return Outcome::kOk;
      }
      return Fail(
          c, field.line,
          absl::StrCat(QuoteForMessage(text), " is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][Z])"));
    case CsvType::kNull:
    case CsvType::kString:
      break;
  }
  return AppendString(col, c, field);
}

void ChunkParser::AppendClassified(ChunkColumn& col, const Classified& v) {
  switch (col.type) {
    case CsvType::kInt64:
      col.int64s.push_back(v.int_value);
      break;
    case CsvType::kDouble:
      // Converting the int64 rounds to nearest exactly as parsing its digits as a double would.
      col.doubles.push_back(v.type == CsvType::kInt64 ? static_cast<double>(v.int_value) : v.double_value);
      break;
    case CsvType::kBool:
      col.bools.push_back(static_cast<uint8_t>(v.int_value));
      break;
    case CsvType::kDate:
      col.int32s.push_back(static_cast<int32_t>(v.int_value));
      break;
    case CsvType::kTimestamp:
      col.int64s.push_back(v.type == CsvType::kDate ? v.int_value * kMicrosPerDay : v.int_value);
      break;
    case CsvType::kNull:
    case CsvType::kString:
      break;  // not reached: ProcessField handles these
  }
}

void ChunkParser::AppendNull(ChunkColumn& col) {
  col.null_rows.push_back(row_);
  switch (col.type) {
    case CsvType::kInt64:
    case CsvType::kTimestamp:
      col.int64s.push_back(0);
      break;
    case CsvType::kDouble:
      col.doubles.push_back(0);
      break;
    case CsvType::kBool:
      col.bools.push_back(0);
      break;
    case CsvType::kDate:
      col.int32s.push_back(0);
      break;
    case CsvType::kString:
      col.int32s.push_back(-1);
      break;
    case CsvType::kNull:
      break;
  }
}

bool ChunkParser::Widen(ChunkColumn& col, CsvType to) {
  const size_t rows = static_cast<size_t>(row_);
  if (col.type == CsvType::kNull) {
    // Every row so far is null: give them placeholder slots of the new type.
    switch (to) {
      case CsvType::kInt64:
      case CsvType::kTimestamp:
        col.int64s.assign(rows, 0);
        break;
      case CsvType::kDouble:
        col.doubles.assign(rows, 0);
        break;
      case CsvType::kBool:
        col.bools.assign(rows, 0);
        break;
      case CsvType::kDate:
        col.int32s.assign(rows, 0);
        break;
      case CsvType::kString:
        col.int32s.assign(rows, -1);
        break;
      case CsvType::kNull:
        break;
    }
  } else if (col.type == CsvType::kInt64 && to == CsvType::kDouble) {
    col.doubles.assign(col.int64s.begin(), col.int64s.end());
    col.int64s = {};
  } else if (col.type == CsvType::kDate && to == CsvType::kTimestamp) {
    col.int64s.resize(col.int32s.size());
    for (size_t i = 0; i < col.int32s.size(); ++i) col.int64s[i] = col.int32s[i] * kMicrosPerDay;
    col.int32s = {};
  } else {
    return false;
  }
  col.type = to;
  ReserveStorage(col, expected_rows_);
  return true;
}

}  // namespace

ChunkResult ParseChunk(std::string_view data, const CsvDialect& dialect, std::span<const ColumnSpec> columns,
                       size_t expected_rows) {
  std::vector<ColumnSpec> specs(columns.begin(), columns.end());
  for (;;) {
    ChunkResult result;
    ChunkParser parser(data, dialect, specs, &result, expected_rows);
    const int restart = parser.Run();
    if (restart < 0) return result;
    // Start again with every type learned so far, so that each column forces at most one restart.
    for (size_t c = 0; c < specs.size(); ++c) specs[c].type = result.columns[c].type;
    specs[restart].type = CsvType::kString;
  }
}

bool ReadRecordFields(std::string_view data, const CsvDialect& dialect, std::vector<std::string>* fields,
                      size_t* consumed, int64_t* lines, ChunkError* error) {
  fields->clear();
  FieldScanner scanner(data, dialect);
  if (!scanner.AtEnd()) {
    Terminator term;
    do {
      FieldText field;
      if (!scanner.Next(&field, &term, error)) {
        error->column = static_cast<int>(fields->size());
        return false;
      }
      fields->emplace_back(field.text);
    } while (term == Terminator::kDelimiter);
  }
  *consumed = static_cast<size_t>(scanner.position() - data.data());
  *lines = scanner.line();
  return true;
}

}  // namespace veil::table::internal
