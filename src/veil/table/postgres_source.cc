#include "veil/table/postgres_source.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"

namespace veil::table {
namespace {

using internal::ToAbsl;

// Type OIDs of PostgreSQL's built-in types (src/include/catalog/pg_type.dat; fixed since 7.x).
constexpr Oid kBoolOid = 16;
constexpr Oid kNameOid = 19;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kBpcharOid = 1042;
constexpr Oid kVarcharOid = 1043;
constexpr Oid kDateOid = 1082;
constexpr Oid kTimestampOid = 1114;
constexpr Oid kTimestamptzOid = 1184;
constexpr Oid kNumericOid = 1700;

// PostgreSQL counts dates and timestamps from 2000-01-01; Veil from 1970-01-01.
constexpr int64_t kPgEpochDays = 10'957;
constexpr int64_t kPgEpochMicros = kPgEpochDays * kMicrosPerDay;

std::optional<DataType> MapOid(Oid oid) {
  switch (oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
      return DataType::kInt64;
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return DataType::kDouble;
    case kBoolOid:
      return DataType::kBool;
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
      return DataType::kString;
    case kDateOid:
      return DataType::kDate;
    case kTimestampOid:
    case kTimestamptzOid:
      return DataType::kTimestamp;
    default:
      return std::nullopt;
  }
}

// --- Big-endian (network order) integers, PostgreSQL's binary format.

uint16_t LoadBE16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}
uint32_t LoadBE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
uint64_t LoadBE64(const char* p) { return (uint64_t{LoadBE32(p)} << 32) | LoadBE32(p + 4); }

void AppendBE32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}
void AppendBE64(uint64_t v, std::string* out) {
  AppendBE32(static_cast<uint32_t>(v >> 32), out);
  AppendBE32(static_cast<uint32_t>(v), out);
}

std::string QuoteForMessage(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// --- Passwords in connection strings, for redaction. Both syntaxes of libpq are covered: the URI's userinfo
// --- (postgresql://user:PASSWORD@host) and its query parameter (?password=PASSWORD), and the key=value form
// --- (password=PASSWORD or password='PASS WORD'). Best effort on text libpq would reject, so that even a
// --- malformed string does not leak its password into a message.

struct Span {
  size_t pos;
  size_t len;
};

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<Span> FindPasswordSpans(std::string_view s) {
  std::vector<Span> spans;
  size_t query_start = std::string_view::npos;
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (!StartsWith(s, scheme)) continue;
    const size_t start = scheme.size();
    // The userinfo ends at the last '@' of the authority; a password may hold '/', '?' or '@' when the user
    // did not percent-encode it, so look for the last '@' anywhere (a query rarely holds one).
    const size_t at = s.rfind('@');
    if (at != std::string_view::npos && at >= start) {
      const size_t colon = s.find(':', start);
      if (colon != std::string_view::npos && colon < at) spans.push_back({colon + 1, at - colon - 1});
      query_start = s.find('?', at);
    } else {
      query_start = s.find('?', start);
    }
    break;
  }
  if (query_start != std::string_view::npos) {
    // URI query: ...?a=b&password=SECRET&c=d
    size_t p = query_start + 1;
    while (p <= s.size()) {
      size_t end = s.find('&', p);
      if (end == std::string_view::npos) end = s.size();
      const std::string_view param = s.substr(p, end - p);
      if (StartsWith(param, "password=")) spans.push_back({p + 9, param.size() - 9});
      p = end + 1;
    }
    return spans;
  }
  if (!spans.empty()) return spans;
  // key = value pairs; values unquoted (up to whitespace) or single-quoted with \' and \\ escapes.
  size_t p = 0;
  while (p < s.size()) {
    while (p < s.size() && IsSpace(s[p])) ++p;
    const size_t key_start = p;
    while (p < s.size() && s[p] != '=' && !IsSpace(s[p])) ++p;
    const std::string_view key = s.substr(key_start, p - key_start);
    while (p < s.size() && IsSpace(s[p])) ++p;
    if (p >= s.size() || s[p] != '=') {
      if (p == key_start) ++p;  // no progress: skip a stray character
      continue;
    }
    ++p;  // '='
    while (p < s.size() && IsSpace(s[p])) ++p;
    size_t value_start = p, value_end = p;
    if (p < s.size() && s[p] == '\'') {
      value_start = ++p;
      while (p < s.size() && s[p] != '\'') p += (s[p] == '\\' && p + 1 < s.size()) ? 2 : 1;
      value_end = std::min(p, s.size());
      if (p < s.size()) ++p;  // closing quote
    } else {
      while (p < s.size() && !IsSpace(s[p])) p += (s[p] == '\\' && p + 1 < s.size()) ? 2 : 1;
      value_end = std::min(p, s.size());
    }
    if (key == "password") spans.push_back({value_start, value_end - value_start});
  }
  return spans;
}

// %XX decoding, as libpq applies to URI components (the password as libpq would use it).
std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void AddSecret(std::string_view text, std::vector<base::SecretBytes>* secrets) {
  if (text.empty()) return;
  for (const base::SecretBytes& s : *secrets) {
    if (std::string_view(reinterpret_cast<const char*>(s.data()), s.size()) == text) return;
  }
  secrets->push_back(base::SecretBytes::FromString(text));
}

std::string ScrubSecrets(std::string message, const std::vector<base::SecretBytes>& secrets) {
  for (const base::SecretBytes& secret : secrets) {
    const std::string_view text(reinterpret_cast<const char*>(secret.data()), secret.size());
    if (text.empty()) continue;
    size_t pos = 0;
    while ((pos = message.find(text, pos)) != std::string::npos) {
      message.replace(pos, text.size(), "***");
      pos += 3;
    }
  }
  return message;
}

std::string TrimTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// libpq's multi-line messages ("...failed: Connection refused\n\tIs the server running...") on one line.
std::string OneLine(std::string s) {
  s = TrimTrailingNewlines(std::move(s));
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      out += "; ";
      while (i + 1 < s.size() && (s[i + 1] == '\t' || s[i + 1] == ' ')) ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::Status StatusForSqlState(std::string_view sqlstate, std::string message) {
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "42P01" || sqlstate == "42703" || sqlstate == "3F000") return absl::NotFoundError(message);
  if (cls == "28" || sqlstate == "42501") return absl::PermissionDeniedError(message);
  if (cls == "08") return absl::UnavailableError(message);
  if (sqlstate == "57014") return absl::DeadlineExceededError(message);
  if (cls == "57") return absl::UnavailableError(message);  // admin shutdown, crash shutdown, ...
  if (cls == "42" || cls == "22" || cls == "23" || cls == "0A") return absl::InvalidArgumentError(message);
  if (cls == "53") return absl::ResourceExhaustedError(message);
  if (cls == "25") return absl::FailedPreconditionError(message);  // e.g. a write in a read-only transaction
  if (cls == "40") return absl::AbortedError(message);
  return absl::InternalError(message);
}

// Frees a PGresult when it goes out of scope.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Values as binary parameters ($1, $2, ...), with their type OIDs so the server need not guess.
class BoundParams {
 public:
  static absl::StatusOr<BoundParams> Make(std::span<const Value> params) {
    BoundParams b;
    const size_t n = params.size();
    if (n > 65535) return absl::InvalidArgumentError("more than 65535 query parameters");
    b.storage_.resize(n);
    b.types_.resize(n, 0);
    b.lengths_.resize(n, 0);
    b.formats_.resize(n, 1);
    b.values_.resize(n, nullptr);
    for (size_t i = 0; i < n; ++i) {
      std::string& out = b.storage_[i];
      const Value& v = params[i];
      switch (v.index()) {
        case 0:  // null: untyped, the server infers the type from the context
          continue;
        case 1:
          b.types_[i] = kInt8Oid;
          AppendBE64(static_cast<uint64_t>(std::get<int64_t>(v)), &out);
          break;
        case 2: {
          b.types_[i] = kFloat8Oid;
          uint64_t bits;
          const double d = std::get<double>(v);
          std::memcpy(&bits, &d, sizeof(bits));
          AppendBE64(bits, &out);
          break;
        }
        case 3:
          b.types_[i] = kBoolOid;
          out.push_back(std::get<bool>(v) ? 1 : 0);
          break;
        case 4: {
          b.types_[i] = kTextOid;
          out = std::get<std::string>(v);
          if (!base::IsValidUtf8(out) || out.find('\0') != std::string::npos) {
            return absl::InvalidArgumentError(
                absl::StrCat("query parameter $", i + 1, " is not valid UTF-8 text without NUL bytes"));
          }
          break;
        }
        case 5:
          b.types_[i] = kDateOid;
          AppendBE32(static_cast<uint32_t>(static_cast<int32_t>(std::get<Date>(v).days - kPgEpochDays)),
                     &out);
          break;
        case 6: {
          b.types_[i] = kTimestamptzOid;
          int64_t pg_micros;
          if (__builtin_sub_overflow(std::get<Timestamp>(v).micros, kPgEpochMicros, &pg_micros)) {
            return absl::InvalidArgumentError(
                absl::StrCat("query parameter $", i + 1, " is a timestamp outside PostgreSQL's range"));
          }
          AppendBE64(static_cast<uint64_t>(pg_micros), &out);
          break;
        }
      }
      b.lengths_[i] = static_cast<int>(out.size());
    }
    // Pointers only once storage_ no longer moves.
    for (size_t i = 0; i < n; ++i) {
      if (params[i].index() != 0) b.values_[i] = b.storage_[i].data();
    }
    return b;
  }

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// One result column being appended to a ColumnBuilder.
struct ColumnReader {
  Oid oid = 0;
  std::string name;
};

absl::Status BadLength(const ColumnReader& c, int len) {
  return absl::DataLossError(absl::StrCat("column ", QuoteForMessage(c.name), ": unexpected binary value of ",
                                          len, " bytes for type oid ", c.oid));
}

// PostgreSQL's binary numeric: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits;
// value = sum digit[i] * 10000^(weight - i). Converted through the exact decimal text so that the double is
// correctly rounded (ParseDouble).
absl::StatusOr<double> DecodeNumeric(const ColumnReader& c, const char* p, int len) {
  if (len < 8) return BadLength(c, len);
  const int ndigits = LoadBE16(p);
  const int weight = static_cast<int16_t>(LoadBE16(p + 2));
  const uint16_t sign = LoadBE16(p + 4);
  if (len != 8 + 2 * ndigits) return BadLength(c, len);
  switch (sign) {
    case 0xC000:
      return std::numeric_limits<double>::quiet_NaN();
    case 0xD000:
      return std::numeric_limits<double>::infinity();
    case 0xF000:
      return -std::numeric_limits<double>::infinity();
    case 0x0000:
    case 0x4000:
      break;
    default:
      return absl::DataLossError(absl::StrCat("column ", QuoteForMessage(c.name), ": bad numeric sign"));
  }
  if (ndigits == 0) return 0.0;
  std::string text;
  text.reserve(8 + 4 * ndigits);
  if (sign == 0x4000) text.push_back('-');
  for (int i = 0; i < ndigits; ++i) {
    const int digit = LoadBE16(p + 8 + 2 * i);
    if (digit > 9999) {
      return absl::DataLossError(absl::StrCat("column ", QuoteForMessage(c.name), ": bad numeric digit"));
    }
    char buf[5];
    buf[0] = static_cast<char>('0' + digit / 1000);
    buf[1] = static_cast<char>('0' + digit / 100 % 10);
    buf[2] = static_cast<char>('0' + digit / 10 % 10);
    buf[3] = static_cast<char>('0' + digit % 10);
    text.append(buf, 4);
  }
  absl::StrAppend(&text, "e", 4 * (weight - ndigits + 1));
  const std::optional<double> d = ParseDouble(text);
  if (!d.has_value()) {
    return absl::OutOfRangeError(
        absl::StrCat("column ", QuoteForMessage(c.name), ": a numeric value is outside double's range"));
  }
  return *d;
}

absl::Status AppendBinaryValue(const ColumnReader& c, const char* p, int len, ColumnBuilder& out) {
  switch (c.oid) {
    case kInt2Oid:
      if (len != 2) return BadLength(c, len);
      out.AppendInt64(static_cast<int16_t>(LoadBE16(p)));
      return absl::OkStatus();
    case kInt4Oid:
      if (len != 4) return BadLength(c, len);
      out.AppendInt64(static_cast<int32_t>(LoadBE32(p)));
      return absl::OkStatus();
    case kInt8Oid:
      if (len != 8) return BadLength(c, len);
      out.AppendInt64(static_cast<int64_t>(LoadBE64(p)));
      return absl::OkStatus();
    case kFloat4Oid: {
      if (len != 4) return BadLength(c, len);
      const uint32_t bits = LoadBE32(p);
      float f;
      std::memcpy(&f, &bits, sizeof(f));
      out.AppendDouble(f);
      return absl::OkStatus();
    }
    case kFloat8Oid: {
      if (len != 8) return BadLength(c, len);
      const uint64_t bits = LoadBE64(p);
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      out.AppendDouble(d);
      return absl::OkStatus();
    }
    case kNumericOid: {
      VEIL_ASSIGN_OR_RETURN(const double d, DecodeNumeric(c, p, len));
      out.AppendDouble(d);
      return absl::OkStatus();
    }
    case kBoolOid:
      if (len != 1) return BadLength(c, len);
      out.AppendBool(*p != 0);
      return absl::OkStatus();
    case kBpcharOid: {
      // char(n) pads with spaces that PostgreSQL itself treats as insignificant (comparison, GROUP BY, the
      // cast to text): read the value as PostgreSQL compares it.
      std::string_view text(p, static_cast<size_t>(len));
      while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
      out.AppendString(text);
      return absl::OkStatus();
    }
    case kTextOid:
    case kVarcharOid:
    case kNameOid:
      out.AppendString(std::string_view(p, static_cast<size_t>(len)));
      return absl::OkStatus();
    case kDateOid: {
      if (len != 4) return BadLength(c, len);
      const int32_t days = static_cast<int32_t>(LoadBE32(p));
      const int64_t veil_days = int64_t{days} + kPgEpochDays;
      if (days == std::numeric_limits<int32_t>::max() || days == std::numeric_limits<int32_t>::min() ||
          veil_days > std::numeric_limits<int32_t>::max()) {
        return absl::OutOfRangeError(
            absl::StrCat("column ", QuoteForMessage(c.name), ": a date is infinity or outside Veil's range"));
      }
      out.AppendDate(Date{static_cast<int32_t>(veil_days)});
      return absl::OkStatus();
    }
    case kTimestampOid:
    case kTimestamptzOid: {
      if (len != 8) return BadLength(c, len);
      const int64_t micros = static_cast<int64_t>(LoadBE64(p));
      int64_t veil_micros;
      if (micros == std::numeric_limits<int64_t>::max() || micros == std::numeric_limits<int64_t>::min() ||
          __builtin_add_overflow(micros, kPgEpochMicros, &veil_micros)) {
        return absl::OutOfRangeError(absl::StrCat("column ", QuoteForMessage(c.name),
                                                  ": a timestamp is infinity or outside Veil's range"));
      }
      out.AppendTimestamp(Timestamp{veil_micros});
      return absl::OkStatus();
    }
    default:
      return absl::InternalError(
          absl::StrCat("column ", QuoteForMessage(c.name), ": unmapped type oid ", c.oid));
  }
}

// The COPY text form of a value (COPY's escapes: backslash, tab, newline, carriage return).
absl::Status AppendCopyText(const Column& column, int64_t row, std::string* out) {
  if (column.IsNull(row)) {
    out->append("\\N");
    return absl::OkStatus();
  }
  switch (column.type()) {
    case DataType::kInt64:
      absl::StrAppend(out, column.GetInt64(row));
      return absl::OkStatus();
    case DataType::kDouble: {
      const double d = column.GetDouble(row);
      if (d != d) {
        out->append("NaN");
      } else if (d == std::numeric_limits<double>::infinity()) {
        out->append("Infinity");
      } else if (d == -std::numeric_limits<double>::infinity()) {
        out->append("-Infinity");
      } else {
        AppendDouble(d, out);
      }
      return absl::OkStatus();
    }
    case DataType::kBool:
      out->push_back(column.GetBool(row) ? 't' : 'f');
      return absl::OkStatus();
    case DataType::kString:
      for (char ch : column.GetString(row)) {
        switch (ch) {
          case '\\':
            out->append("\\\\");
            break;
          case '\t':
            out->append("\\t");
            break;
          case '\n':
            out->append("\\n");
            break;
          case '\r':
            out->append("\\r");
            break;
          default:
            out->push_back(ch);
        }
      }
      return absl::OkStatus();
    case DataType::kDate: {
      const Date date = column.GetDate(row);
      // PostgreSQL has no year 0 (ISO 0000 is 1 BC); years 1..9999 read the same in both.
      if (!InTextRange(date) || date.days < -719162) {  // -719162: 0001-01-01
        return absl::InvalidArgumentError(absl::StrCat("row ", row, ": a date before year 1 or after 9999"));
      }
      AppendDate(date, out);
      return absl::OkStatus();
    }
    case DataType::kTimestamp: {
      const Timestamp ts = column.GetTimestamp(row);
      if (!InTextRange(ts) || ts.micros < int64_t{-719162} * kMicrosPerDay) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", row, ": a timestamp before year 1 or after 9999"));
      }
      AppendTimestamp(ts, out);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown data type");
}

}  // namespace

std::string PgTableName::ToString() const {
  return schema.empty() ? QuoteForMessage(name)
                        : absl::StrCat(QuoteForMessage(schema), ".", QuoteForMessage(name));
}

absl::StatusOr<PgTableName> ParsePgTableName(std::string_view text) {
  std::vector<std::string> parts;
  size_t p = 0;
  while (true) {
    std::string part;
    if (p < text.size() && text[p] == '"') {
      ++p;
      bool closed = false;
      while (p < text.size()) {
        if (text[p] == '"') {
          if (p + 1 < text.size() && text[p + 1] == '"') {
            part.push_back('"');
            p += 2;
            continue;
          }
          ++p;
          closed = true;
          break;
        }
        part.push_back(text[p++]);
      }
      if (!closed) return absl::InvalidArgumentError("table name: unterminated quoted identifier");
      if (part.empty()) return absl::InvalidArgumentError("table name: empty quoted identifier");
    } else {
      // Unquoted: letters (any non-ASCII byte counts as one, as in PostgreSQL), digits, _ and $, not starting
      // with a digit or $; folded to lower case.
      const size_t start = p;
      while (p < text.size() && text[p] != '.') {
        const unsigned char c = static_cast<unsigned char>(text[p]);
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        const bool later = (c >= '0' && c <= '9') || c == '$';
        if (!letter && !(later && p > start)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "table name: character ", p + 1,
              " is not allowed in an unquoted name (letters, digits, _ and $ only; use double quotes)"));
        }
        part.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
        ++p;
      }
      if (part.empty()) return absl::InvalidArgumentError("table name: empty name part");
    }
    if (!base::IsValidUtf8(part)) return absl::InvalidArgumentError("table name: not valid UTF-8");
    parts.push_back(std::move(part));
    if (p == text.size()) break;
    if (text[p] != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("table name: unexpected character ", p + 1, " after a quoted identifier"));
    }
    ++p;
    if (p == text.size()) return absl::InvalidArgumentError("table name: empty name part after '.'");
  }
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        "table name: at most two parts, schema.table (a database name cannot be given)");
  }
  if (parts.size() == 1) return PgTableName{"", std::move(parts[0])};
  return PgTableName{std::move(parts[0]), std::move(parts[1])};
}

std::string RedactPgConninfo(std::string_view conninfo) {
  std::vector<Span> spans = FindPasswordSpans(conninfo);
  std::string out(conninfo);
  // Replace from the back so earlier positions stay valid.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.pos > b.pos; });
  for (const Span& s : spans) out.replace(s.pos, s.len, "***");
  return out;
}

namespace {

using ConninfoOptions = std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)>;

// Collects the passwords written in `conninfo` (as written and percent-decoded) into `secrets`, so that every
// message about it can be scrubbed of them, then parses it with libpq (PQconninfoParse). InvalidArgument,
// scrubbed of the secrets, for a NUL byte or a string libpq rejects.
absl::StatusOr<ConninfoOptions> ParseConninfo(std::string_view conninfo,
                                              std::vector<base::SecretBytes>* secrets) {
  for (const Span& s : FindPasswordSpans(conninfo)) {
    AddSecret(conninfo.substr(s.pos, s.len), secrets);
    AddSecret(PercentDecode(conninfo.substr(s.pos, s.len)), secrets);
  }
  if (conninfo.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("invalid PostgreSQL connection string: it contains a NUL byte");
  }
  const std::string conninfo_z(conninfo);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo_z.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string reason = parse_error != nullptr ? parse_error : "out of memory";
    if (parse_error != nullptr) PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        ScrubSecrets(absl::StrCat("invalid PostgreSQL connection string: ", OneLine(reason)), *secrets));
  }
  return ConninfoOptions(parsed, &PQconninfoFree);
}

}  // namespace

absl::StatusOr<std::string> PgConninfoWithoutPassword(std::string_view conninfo) {
  std::vector<base::SecretBytes> secrets;
  VEIL_ASSIGN_OR_RETURN(ConninfoOptions parsed, ParseConninfo(conninfo, &secrets));
  std::vector<std::string> parts;
  for (const PQconninfoOption* o = parsed.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0' || std::string_view(o->keyword) == "password") continue;
    std::string value = "'";
    for (const char* c = o->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') value.push_back('\\');
      value.push_back(*c);
    }
    value.push_back('\'');
    parts.push_back(absl::StrCat(o->keyword, "=", value));
  }
  return absl::StrJoin(parts, " ");
}

// --- PgConnection

absl::StatusOr<PgConnection> PgConnection::Connect(std::string_view conninfo,
                                                   const PgConnectOptions& options) {
  if (options.connect_timeout_seconds < 0 || options.statement_timeout_ms < 0) {
    return absl::InvalidArgumentError("PgConnectOptions: timeouts must be >= 0");
  }
  if (options.application_name.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("PgConnectOptions: application_name contains a NUL byte");
  }
  // The secrets first, so that every message below can be scrubbed of them. Parse once ourselves: a bad
  // string is InvalidArgument (not a failed connection), the parsed password joins the secrets, and the
  // location can be named even when connecting fails.
  std::vector<base::SecretBytes> secrets;
  VEIL_ASSIGN_OR_RETURN(ConninfoOptions parsed, ParseConninfo(conninfo, &secrets));
  const std::string conninfo_z(conninfo);
  std::string host, port, dbname;
  for (PQconninfoOption* o = parsed.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "password") AddSecret(o->val, &secrets);
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  parsed.reset();
  std::string location = "PostgreSQL";
  if (!host.empty()) absl::StrAppend(&location, " host=", host);
  if (!port.empty()) absl::StrAppend(&location, " port=", port);
  if (!dbname.empty()) absl::StrAppend(&location, " dbname=", dbname);
  if (host.empty() && port.empty() && dbname.empty()) absl::StrAppend(&location, " (libpq defaults)");
  location = ScrubSecrets(std::move(location), secrets);

  // Entries before the expanded dbname may be overridden by the connection string; entries after it
  // override the string (libpq's rule): the client encoding is not negotiable.
  const std::string timeout = absl::StrCat(options.connect_timeout_seconds);
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding", nullptr};
  const char* values[] = {timeout.c_str(), options.application_name.c_str(), conninfo_z.c_str(), "UTF8",
                          nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError(absl::StrCat(location, ": out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string reason = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return absl::UnavailableError(
        ScrubSecrets(absl::StrCat("cannot connect to ", location, ": ", reason), secrets));
  }
  // The location as connected (libpq's defaults and environment filled in).
  location = "PostgreSQL";
  if (const char* h = PQhost(conn); h != nullptr && *h != '\0') absl::StrAppend(&location, " host=", h);
  if (const char* p = PQport(conn); p != nullptr && *p != '\0') absl::StrAppend(&location, " port=", p);
  if (const char* d = PQdb(conn); d != nullptr && *d != '\0') absl::StrAppend(&location, " dbname=", d);
  location = ScrubSecrets(std::move(location), secrets);

  PgConnection connection(conn, std::move(location), std::move(secrets));
  const char* encoding = PQparameterStatus(conn, "client_encoding");
  if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
    return absl::FailedPreconditionError(
        absl::StrCat(connection.location_, ": the server did not accept client_encoding UTF8"));
  }
  // Session settings that make SQL text deterministic: a timestamp without time zone compares with a
  // timestamptz parameter as UTC (the way it is read), dates print as ISO, doubles in their shortest exact
  // form (the push-down computes value texts in SQL, sql/pushdown.h).
  const Value settings[] = {Value(absl::StrCat(options.statement_timeout_ms))};
  VEIL_RETURN_IF_ERROR(connection
                           .ExecuteInternal("SELECT set_config('statement_timeout', $1, false), "
                                            "set_config('TimeZone', 'UTC', false), "
                                            "set_config('DateStyle', 'ISO, YMD', false), "
                                            "set_config('extra_float_digits', '1', false)",
                                            settings, "setting up the session")
                           .status());
  return connection;
}

PgConnection::PgConnection(PgConnection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      location_(std::move(other.location_)),
      secrets_(std::move(other.secrets_)),
      cursor_counter_(other.cursor_counter_) {}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    location_ = std::move(other.location_);
    secrets_ = std::move(other.secrets_);
    cursor_counter_ = other.cursor_counter_;
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

int PgConnection::server_version() const { return conn_ == nullptr ? 0 : PQserverVersion(conn_); }

std::string PgConnection::Scrub(std::string message) const {
  return ScrubSecrets(std::move(message), secrets_);
}

absl::Status PgConnection::ErrorStatus(std::string_view what, const PGresult* result) const {
  const std::string prefix = absl::StrCat(location_, ": ", ToAbsl(what), ": ");
  if (result == nullptr || PQresultErrorField(result, PG_DIAG_SQLSTATE) == nullptr) {
    // No server error: the connection failed (or libpq refused the call before sending it).
    std::string reason = OneLine(PQerrorMessage(conn_));
    if (result != nullptr && *PQresultErrorMessage(result) != '\0')
      reason = OneLine(PQresultErrorMessage(result));
    if (PQstatus(conn_) != CONNECTION_OK) return absl::UnavailableError(Scrub(absl::StrCat(prefix, reason)));
    return absl::InternalError(Scrub(absl::StrCat(prefix, reason)));
  }
  const std::string sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string text;
  const std::string_view cls = std::string_view(sqlstate).substr(0, 2);
  if (cls == "22" || cls == "23") {
    // Data exceptions and constraint violations may quote the offending value: not in a Veil message.
    text = absl::StrCat(cls == "22" ? "a value was rejected (data exception)" : "a constraint was violated",
                        "; PostgreSQL's message is withheld because it may quote a value");
  } else {
    text = primary != nullptr ? primary : "(no message)";
  }
  return StatusForSqlState(sqlstate, Scrub(absl::StrCat(prefix, text, " (SQLSTATE ", sqlstate, ")")));
}

absl::StatusOr<int64_t> PgConnection::ExecuteInternal(std::string_view sql, std::span<const Value> params,
                                                      std::string_view what) {
  if (conn_ == nullptr) return absl::FailedPreconditionError("PgConnection: used after move");
  if (sql.find('\0') != std::string_view::npos)
    return absl::InvalidArgumentError("SQL text contains a NUL byte");
  VEIL_ASSIGN_OR_RETURN(const BoundParams bound, BoundParams::Make(params));
  const std::string sql_z(sql);
  ResultPtr result(PQexecParams(conn_, sql_z.c_str(), bound.size(), bound.types(), bound.values(),
                                bound.lengths(), bound.formats(), /*resultFormat=*/1));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorStatus(what, result.get());
  const char* tuples = PQcmdTuples(result.get());
  int64_t affected = 0;
  if (tuples != nullptr && *tuples != '\0') {
    const std::optional<int64_t> n = ParseInt64(tuples);
    if (n.has_value()) affected = *n;
  }
  return affected;
}

absl::StatusOr<int64_t> PgConnection::Execute(std::string_view sql, std::span<const Value> params) {
  return ExecuteInternal(sql, params, "running a statement");
}

absl::StatusOr<std::string> QuotePgIdentifier(std::string_view identifier) {
  if (identifier.empty()) return absl::InvalidArgumentError("empty SQL identifier");
  if (identifier.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("SQL identifier contains a NUL byte");
  }
  if (!base::IsValidUtf8(identifier)) return absl::InvalidArgumentError("SQL identifier is not valid UTF-8");
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<std::string> QuotePgTable(const PgTableName& table) {
  VEIL_ASSIGN_OR_RETURN(std::string name, QuotePgIdentifier(table.name));
  if (table.schema.empty()) return name;
  VEIL_ASSIGN_OR_RETURN(std::string schema, QuotePgIdentifier(table.schema));
  return absl::StrCat(schema, ".", name);
}

absl::StatusOr<std::string> PgConnection::QuoteIdentifier(std::string_view identifier) const {
  if (conn_ == nullptr) return absl::FailedPreconditionError("PgConnection: used after move");
  return QuotePgIdentifier(identifier);
}

absl::StatusOr<std::string> PgConnection::QuoteTable(const PgTableName& table) const {
  if (conn_ == nullptr) return absl::FailedPreconditionError("PgConnection: used after move");
  return QuotePgTable(table);
}

absl::Status PgConnection::QueryInternal(std::string_view sql, std::span<const Value> params,
                                         const PgReadOptions& options, const Schema* fixed_schema,
                                         std::string_view what,
                                         const std::function<absl::Status(Table chunk)>& sink) {
  if (conn_ == nullptr) return absl::FailedPreconditionError("PgConnection: used after move");
  if (options.chunk_rows < 1) return absl::InvalidArgumentError("PgReadOptions: chunk_rows must be >= 1");
  const bool own_transaction = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  if (own_transaction) VEIL_RETURN_IF_ERROR(ExecuteInternal("BEGIN READ ONLY", {}, what).status());
  const std::string cursor = absl::StrCat("veil_cursor_", ++cursor_counter_);

  absl::Status status = [&]() -> absl::Status {
    VEIL_RETURN_IF_ERROR(
        ExecuteInternal(absl::StrCat("DECLARE ", cursor, " NO SCROLL CURSOR FOR ", ToAbsl(sql)), params, what)
            .status());
    const std::string fetch = absl::StrCat("FETCH FORWARD ", options.chunk_rows, " FROM ", cursor);
    std::optional<Schema> schema;
    std::vector<ColumnReader> readers;
    bool emitted = false;
    while (true) {
      ResultPtr result(
          PQexecParams(conn_, fetch.c_str(), 0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=*/1));
      if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) return ErrorStatus(what, result.get());
      PGresult* r = result.get();
      const int num_fields = PQnfields(r);
      if (!schema.has_value()) {
        std::vector<Field> fields;
        for (int i = 0; i < num_fields; ++i) {
          ColumnReader reader{PQftype(r, i), PQfname(r, i)};
          const std::optional<DataType> type = MapOid(reader.oid);
          if (!type.has_value()) {
            return absl::InvalidArgumentError(
                Scrub(absl::StrCat(location_, ": ", ToAbsl(what), ": column ", QuoteForMessage(reader.name),
                                   " has a type Veil does not read (type oid ", reader.oid,
                                   "); cast it in the query, e.g. to text")));
          }
          fields.push_back(Field{reader.name, *type, /*nullable=*/true});
          readers.push_back(std::move(reader));
        }
        if (fixed_schema != nullptr) {
          if (fixed_schema->num_fields() != num_fields) {
            return absl::InternalError(
                absl::StrCat(location_, ": ", ToAbsl(what), ": unexpected result columns"));
          }
          schema = *fixed_schema;
        } else {
          absl::StatusOr<Schema> made = Schema::Make(std::move(fields));
          if (!made.ok()) {
            return absl::InvalidArgumentError(Scrub(
                absl::StrCat(location_, ": ", ToAbsl(what), ": result columns: ", made.status().message())));
          }
          schema = *std::move(made);
        }
      }
      const int num_rows = PQntuples(r);
      if (num_rows == 0 && emitted) break;
      TableBuilder builder(*schema);
      for (int col = 0; col < num_fields; ++col) {
        ColumnBuilder& out = builder.column(col);
        out.Reserve(num_rows);
        for (int row = 0; row < num_rows; ++row) {
          if (PQgetisnull(r, row, col)) {
            out.AppendNull();
            continue;
          }
          absl::Status s =
              AppendBinaryValue(readers[col], PQgetvalue(r, row, col), PQgetlength(r, row, col), out);
          if (!s.ok()) {
            return absl::Status(s.code(),
                                Scrub(absl::StrCat(location_, ": ", ToAbsl(what), ": ", s.message())));
          }
        }
      }
      absl::StatusOr<Table> chunk = builder.Finish();
      if (!chunk.ok()) {
        return absl::Status(chunk.status().code(), Scrub(absl::StrCat(location_, ": ", ToAbsl(what), ": ",
                                                                      chunk.status().message())));
      }
      emitted = true;
      VEIL_RETURN_IF_ERROR(sink(*std::move(chunk)));
      if (num_rows < options.chunk_rows) break;
    }
    return absl::OkStatus();
  }();

  if (own_transaction) {
    // A read-only transaction: COMMIT and ROLLBACK are the same; ROLLBACK also ends a failed one.
    absl::Status end = ExecuteInternal(status.ok() ? "COMMIT" : "ROLLBACK", {}, what).status();
    if (status.ok()) status = end;
  } else if (status.ok()) {
    status = ExecuteInternal(absl::StrCat("CLOSE ", cursor), {}, what).status();
  }
  return status;
}

absl::Status PgConnection::QueryChunks(std::string_view sql, std::span<const Value> params,
                                       const PgReadOptions& options,
                                       const std::function<absl::Status(Table chunk)>& sink) {
  return QueryInternal(sql, params, options, nullptr, "running a query", sink);
}

namespace {

// Appends `chunk` to the builder column by column (the chunks share the builder's schema).
absl::Status AppendChunk(const Table& chunk, TableBuilder& builder) {
  for (int c = 0; c < chunk.num_columns(); ++c) {
    const Column& column = chunk.column(c);
    ColumnBuilder& out = builder.column(c);
    out.Reserve(out.size() + column.size());
    for (int64_t row = 0; row < column.size(); ++row) {
      if (column.IsNull(row)) {
        out.AppendNull();
        continue;
      }
      switch (column.type()) {
        case DataType::kInt64:
          out.AppendInt64(column.GetInt64(row));
          break;
        case DataType::kDouble:
          out.AppendDouble(column.GetDouble(row));
          break;
        case DataType::kBool:
          out.AppendBool(column.GetBool(row));
          break;
        case DataType::kString:
          out.AppendString(column.GetString(row));
          break;
        case DataType::kDate:
          out.AppendDate(column.GetDate(row));
          break;
        case DataType::kTimestamp:
          out.AppendTimestamp(column.GetTimestamp(row));
          break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Table> PgConnection::ReadInto(std::string_view sql, std::span<const Value> params,
                                             const PgReadOptions& options, const Schema* fixed_schema,
                                             std::string_view what) {
  std::optional<TableBuilder> builder;
  std::optional<Table> only;  // the common case of one chunk: no copy
  VEIL_RETURN_IF_ERROR(
      QueryInternal(sql, params, options, fixed_schema, what, [&](Table chunk) -> absl::Status {
        if (!only.has_value() && !builder.has_value()) {
          only = std::move(chunk);
          return absl::OkStatus();
        }
        if (!builder.has_value()) {
          builder.emplace(only->schema());
          const absl::Status appended = AppendChunk(*only, *builder);
          if (!appended.ok()) return appended;
          only.reset();
        }
        return AppendChunk(chunk, *builder);
      }));
  if (builder.has_value()) return builder->Finish();
  return *std::move(only);
}

absl::StatusOr<Table> PgConnection::Query(std::string_view sql, std::span<const Value> params,
                                          const PgReadOptions& options) {
  return ReadInto(sql, params, options, nullptr, "running a query");
}

absl::StatusOr<std::vector<PgColumn>> PgConnection::DescribeTable(const PgTableName& table) {
  VEIL_ASSIGN_OR_RETURN(const std::string quoted, QuoteTable(table));
  const std::string what = absl::StrCat("describing table ", table.ToString());
  // to_regclass resolves the name as the SQL text would (search_path, temporary tables) and gives NULL
  // rather than an error for a missing table.
  const Value params[] = {Value(quoted)};
  VEIL_ASSIGN_OR_RETURN(const Table found,
                        ReadInto("SELECT to_regclass($1) IS NOT NULL AS found", params, {}, nullptr, what));
  if (found.num_rows() != 1 || !found.column(0).GetBool(0)) {
    return absl::NotFoundError(absl::StrCat(location_, ": no table ", table.ToString()));
  }
  VEIL_ASSIGN_OR_RETURN(
      const Table columns,
      ReadInto("SELECT a.attname::text AS name, a.atttypid::int8 AS oid, a.attnotnull AS not_null, "
               "format_type(a.atttypid, a.atttypmod) AS pg_type "
               "FROM pg_catalog.pg_attribute a "
               "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
               "ORDER BY a.attnum",
               params, {}, nullptr, what));
  std::vector<PgColumn> out;
  for (int64_t row = 0; row < columns.num_rows(); ++row) {
    PgColumn c;
    c.name = std::string(columns.column(0).GetString(row));
    c.type_oid = static_cast<uint32_t>(columns.column(1).GetInt64(row));
    c.not_null = columns.column(2).GetBool(row);
    c.pg_type = std::string(columns.column(3).GetString(row));
    const std::optional<DataType> type = MapOid(c.type_oid);
    c.supported = type.has_value();
    if (type.has_value()) c.type = *type;
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<Table> PgConnection::ReadTable(const PgTableName& table, const PgReadOptions& options) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<PgColumn> columns, DescribeTable(table));
  std::vector<const PgColumn*> chosen;
  if (options.columns.empty()) {
    for (const PgColumn& c : columns) chosen.push_back(&c);
  } else {
    for (const std::string& name : options.columns) {
      const PgColumn* match = nullptr;
      for (const PgColumn& c : columns) {
        if (c.name == name) match = &c;
      }
      if (match == nullptr) {
        return absl::NotFoundError(
            absl::StrCat(location_, ": table ", table.ToString(), " has no column ", QuoteForMessage(name)));
      }
      chosen.push_back(match);
    }
  }
  if (chosen.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(location_, ": table ", table.ToString(), " has no columns"));
  }
  std::vector<Field> fields;
  std::vector<std::string> select;
  for (const PgColumn* c : chosen) {
    if (!c->supported) {
      return absl::InvalidArgumentError(absl::StrCat(location_, ": table ", table.ToString(), ": column ",
                                                     QuoteForMessage(c->name), " has type ", c->pg_type,
                                                     ", which Veil does not read; leave it out"));
    }
    VEIL_ASSIGN_OR_RETURN(std::string quoted, QuoteIdentifier(c->name));
    select.push_back(std::move(quoted));
    fields.push_back(Field{c->name, c->type, !c->not_null});
  }
  absl::StatusOr<Schema> schema = Schema::Make(std::move(fields));
  if (!schema.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(location_, ": table ", table.ToString(), ": ", schema.status().message()));
  }
  VEIL_ASSIGN_OR_RETURN(const std::string quoted_table, QuoteTable(table));
  return ReadInto(absl::StrCat("SELECT ", absl::StrJoin(select, ", "), " FROM ", quoted_table), {}, options,
                  &*schema, absl::StrCat("reading table ", table.ToString()));
}

absl::Status PgConnection::CopyIntoTable(const PgTableName& table, const Table& data) {
  if (conn_ == nullptr) return absl::FailedPreconditionError("PgConnection: used after move");
  const std::string what = absl::StrCat("copying into table ", table.ToString());
  VEIL_ASSIGN_OR_RETURN(const std::string quoted_table, QuoteTable(table));
  std::vector<std::string> names;
  for (const Field& f : data.schema().fields()) {
    VEIL_ASSIGN_OR_RETURN(std::string quoted, QuoteIdentifier(f.name));
    names.push_back(std::move(quoted));
  }
  if (names.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": the data has no columns"));
  const std::string sql =
      absl::StrCat("COPY ", quoted_table, " (", absl::StrJoin(names, ", "), ") FROM STDIN (FORMAT text)");
  ResultPtr start(PQexec(conn_, sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) return ErrorStatus(what, start.get());

  // Rows are sent in batches of about 1 MiB. On a bad value, the copy is ended with an error message, which
  // makes the server abandon it.
  std::string buffer;
  absl::Status status;
  auto flush = [&]() -> bool {
    if (buffer.empty()) return true;
    if (PQputCopyData(conn_, buffer.data(), static_cast<int>(buffer.size())) != 1) return false;
    buffer.clear();
    return true;
  };
  bool sent = true;
  for (int64_t row = 0; row < data.num_rows() && status.ok() && sent; ++row) {
    for (int c = 0; c < data.num_columns(); ++c) {
      if (c > 0) buffer.push_back('\t');
      status = AppendCopyText(data.column(c), row, &buffer);
      if (!status.ok()) {
        status = absl::InvalidArgumentError(absl::StrCat(location_, ": ", what, ": column ",
                                                         QuoteForMessage(data.schema().field(c).name), ", ",
                                                         status.message()));
        break;
      }
    }
    buffer.push_back('\n');
    if (buffer.size() >= (size_t{1} << 20)) sent = flush();
  }
  if (status.ok() && sent) sent = flush();
  const int end = PQputCopyEnd(conn_, status.ok() && sent ? nullptr : "aborted by Veil");
  ResultPtr result(PQgetResult(conn_));
  absl::Status server = absl::OkStatus();
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) server = ErrorStatus(what, result.get());
  // Drain: libpq returns nullptr once the command is complete.
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  if (!status.ok()) return status;
  if (!sent || end != 1) return ErrorStatus(what, nullptr);
  return server;
}

}  // namespace veil::table
