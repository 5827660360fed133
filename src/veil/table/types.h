// The value types of veil::table and their text forms.
//
// Every column of a Table has one DataType. Values are stored in their natural C++ representation:
//
//   DataType     C++ value    meaning
//   kInt64       int64_t      a signed 64-bit integer
//   kDouble      double       an IEEE 754 binary64 value (NaN and the infinities included)
//   kBool        bool
//   kString      std::string  UTF-8 text, stored dictionary-encoded (see column.h)
//   kDate        Date         days since 1970-01-01 in the proleptic Gregorian calendar, as int32
//   kTimestamp   Timestamp    microseconds since 1970-01-01T00:00:00Z (UTC), as int64
//
// The parse and format functions below define the one text form of each type that the CSV reader and
// writer, the display code and the CLI all share. Each Format* result parses back to the same value
// (for dates and timestamps: within years 0000..9999, the range the text form covers).
//
// Thread safety: everything here is a pure function or a value type.
#ifndef VEIL_TABLE_TYPES_H_
#define VEIL_TABLE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/strings/string_view.h"
#include "veil/base/absl_compat.h"

namespace veil::table {

enum class DataType : uint8_t { kInt64, kDouble, kBool, kString, kDate, kTimestamp };

// The lower-case name used in schemas, messages and the CLI: "int64", "double", "bool", "string", "date",
// "timestamp".
std::string_view DataTypeName(DataType type);

// The inverse of DataTypeName (exact, lower-case); nullopt for an unknown name.
std::optional<DataType> ParseDataType(std::string_view name);

// True for kInt64 and kDouble, the types that have a mean.
bool IsNumeric(DataType type);

// A calendar date: days since 1970-01-01 (negative before it).
struct Date {
  int32_t days = 0;
  friend bool operator==(Date, Date) = default;
};

// An instant: microseconds since 1970-01-01T00:00:00Z.
struct Timestamp {
  int64_t micros = 0;
  friend bool operator==(Timestamp, Timestamp) = default;
};

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// One value of any type, or null (std::monostate). The alternative index is 1 + the DataType's value, so
// `value.index() == 1 + static_cast<int>(DataType::kString)` holds for a string. Used to build tables row by
// row (TableBuilder::AppendRow) and to read single values generically (Column::GetValue).
using Value = std::variant<std::monostate, int64_t, double, bool, std::string, Date, Timestamp>;

// The DataType held by `value`; nullopt for null.
std::optional<DataType> ValueType(const Value& value);

// --- Parsing text. Each returns nullopt unless the whole of `text` has the stated form (no surrounding
// --- whitespace is skipped).

// [+-]digits, within the int64 range. Leading zeros are accepted ("007" is 7).
std::optional<int64_t> ParseInt64(std::string_view text);

// A decimal or scientific number with an optional sign ("1", "-2.5", ".5", "1e-7", "+3"), or nan / inf /
// infinity (any case, optional sign). Correctly rounded. Values that overflow to infinity or underflow to
// zero are rejected rather than silently changed.
std::optional<double> ParseDouble(std::string_view text);

// true / false in any case, or 1 / 0.
std::optional<bool> ParseBool(std::string_view text);

// YYYY-MM-DD, a valid calendar date with a four-digit year (0000..9999).
std::optional<Date> ParseDate(std::string_view text);

// YYYY-MM-DD[T ]HH:MM:SS[.f...][Z] with 1 to 6 fraction digits, read as UTC; or a date alone (midnight).
std::optional<Timestamp> ParseTimestamp(std::string_view text);

// --- Formatting.

// The shortest text that parses back to exactly `value` (std::to_chars), made to always read as a double:
// "5.0" rather than "5", "1e+21", "0.1", "-0.0", "nan", "-nan", "inf", "-inf".
std::string FormatDouble(double value);
void AppendDouble(double value, std::string* out);

// "YYYY-MM-DD". Years outside 0000..9999 are written with as many digits as needed and a sign if negative;
// such text does not parse back (see InTextRange).
std::string FormatDate(Date date);
void AppendDate(Date date, std::string* out);

// "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" (six digits) before the Z when the microseconds are not zero.
std::string FormatTimestamp(Timestamp ts);
void AppendTimestamp(Timestamp ts, std::string* out);

// True if the date / timestamp lies in years 0000..9999, so that its text form parses back.
bool InTextRange(Date date);
bool InTextRange(Timestamp ts);

// The display form of any value: the Format* functions above, "true"/"false" for bools, the text of a
// string, and "NULL" for null.
std::string FormatValue(const Value& value);

namespace internal {

using base::ToAbsl;  // absl::StrCat(ToAbsl(DataTypeName(t)))

}  // namespace internal
}  // namespace veil::table

#endif  // VEIL_TABLE_TYPES_H_
