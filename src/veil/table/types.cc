#include "veil/table/types.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>
#include <system_error>

#include "absl/strings/match.h"

namespace veil::table {
namespace {

constexpr std::string_view kTypeNames[] = {"int64", "double", "bool", "string", "date", "timestamp"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` decimal digits at `p`; false if any is not a digit.
bool ParseFixedDigits(const char* p, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (!IsDigit(p[i])) return false;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return true;
}

// Days since the epoch for a validated civil date. std::chrono's calendar types implement the proleptic
// Gregorian calendar, so no hand-written leap-year arithmetic is needed.
std::optional<int32_t> DaysFromCivil(int y, int m, int d) {
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int32_t>(std::chrono::sys_days{ymd}.time_since_epoch().count());
}

void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  const int len = static_cast<int>(end - buf);
  if (len < width) out->append(width - len, '0');
  out->append(buf, end);
}

// Floor division, so that instants before the epoch fall on the right day.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::string_view DataTypeName(DataType type) {
  const auto i = static_cast<size_t>(type);
  return i < std::size(kTypeNames) ? kTypeNames[i] : std::string_view("unknown");
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i] == name) return static_cast<DataType>(i);
  }
  return std::nullopt;
}

bool IsNumeric(DataType type) { return type == DataType::kInt64 || type == DataType::kDouble; }

std::optional<DataType> ValueType(const Value& value) {
  if (value.index() == 0) return std::nullopt;
  return static_cast<DataType>(value.index() - 1);
}

namespace {

// std::from_chars rejects a leading '+', which people do write: drop one, unless a sign follows it ("+-1").
// Returns the digits, or nullopt if nothing is left.
std::optional<std::string_view> WithoutPlusSign(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && text.front() == '-') return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  return text;
}

}  // namespace

std::optional<int64_t> ParseInt64(std::string_view text) {
  const std::optional<std::string_view> digits = WithoutPlusSign(text);
  if (!digits) return std::nullopt;
  const char* begin = digits->data();
  const char* end = begin + digits->size();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<double> ParseDouble(std::string_view text) {
  const std::optional<std::string_view> digits = WithoutPlusSign(text);
  if (!digits) return std::nullopt;
  const char* begin = digits->data();
  const char* end = begin + digits->size();
  double v = 0;
  // from_chars is correctly rounded and reports overflow and underflow as result_out_of_range, which we
  // reject: "1e400" is not a double we can hold, and turning it into inf would silently change the data.
  auto [ptr, ec] = std::from_chars(begin, end, v, std::chars_format::general);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "1") return true;
  if (text == "0") return false;
  if (absl::EqualsIgnoreCase(absl::string_view(text.data(), text.size()), "true")) return true;
  if (absl::EqualsIgnoreCase(absl::string_view(text.data(), text.size()), "false")) return false;
  return std::nullopt;
}

std::optional<Date> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y, m, d;
  if (!ParseFixedDigits(text.data(), 4, &y) || !ParseFixedDigits(text.data() + 5, 2, &m) ||
      !ParseFixedDigits(text.data() + 8, 2, &d)) {
    return std::nullopt;
  }
  std::optional<int32_t> days = DaysFromCivil(y, m, d);
  if (!days) return std::nullopt;
  return Date{*days};
}

std::optional<Timestamp> ParseTimestamp(std::string_view text) {
  if (text.size() < 10) return std::nullopt;
  std::optional<Date> date = ParseDate(text.substr(0, 10));
  if (!date) return std::nullopt;
  int64_t micros = int64_t{date->days} * kMicrosPerDay;
  if (text.size() == 10) return Timestamp{micros};
  // "YYYY-MM-DDTHH:MM:SS" is 19 characters.
  if (text.size() < 19 || (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  int hh, mm, ss;
  if (!ParseFixedDigits(text.data() + 11, 2, &hh) || !ParseFixedDigits(text.data() + 14, 2, &mm) ||
      !ParseFixedDigits(text.data() + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59) {
    return std::nullopt;
  }
  micros += (int64_t{hh} * 3600 + mm * 60 + ss) * kMicrosPerSecond;
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t frac = 0;
    int digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      // More than six digits would need rounding below a microsecond; refuse rather than drop them.
      if (++digits > 6) return std::nullopt;
      frac = frac * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) frac *= 10;
    micros += frac;
  }
  if (pos < text.size() && text[pos] == 'Z') ++pos;
  if (pos != text.size()) return std::nullopt;
  return Timestamp{micros};
}

void AppendDouble(double value, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, end);
  // The shortest form of an integral double ("5", or "123456789012345683968") reads back as an integer;
  // a ".0" keeps it a double under type inference. nan and inf already cannot be read as integers.
  if (std::memchr(buf, '.', end - buf) == nullptr && std::memchr(buf, 'e', end - buf) == nullptr &&
      std::memchr(buf, 'n', end - buf) == nullptr) {
    out->append(".0");
  }
}

std::string FormatDouble(double value) {
  std::string out;
  AppendDouble(value, &out);
  return out;
}

void AppendDate(Date date, std::string* out) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{date.days}}};
  const int y = static_cast<int>(ymd.year());
  if (y < 0) out->push_back('-');
  AppendPadded(y < 0 ? -int64_t{y} : y, 4, out);
  out->push_back('-');
  AppendPadded(static_cast<unsigned>(ymd.month()), 2, out);
  out->push_back('-');
  AppendPadded(static_cast<unsigned>(ymd.day()), 2, out);
}

std::string FormatDate(Date date) {
  std::string out;
  AppendDate(date, &out);
  return out;
}

void AppendTimestamp(Timestamp ts, std::string* out) {
  const int64_t day = FloorDiv(ts.micros, kMicrosPerDay);
  int64_t rest = ts.micros - day * kMicrosPerDay;
  // Beyond +-5.8 million years the day number no longer fits a Date; clamp rather than overflow (such
  // timestamps cannot come from text anyway, see InTextRange).
  const int64_t clamped =
      std::clamp<int64_t>(day, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  AppendDate(Date{static_cast<int32_t>(clamped)}, out);
  out->push_back('T');
  const int64_t secs = rest / kMicrosPerSecond;
  const int64_t micros = rest % kMicrosPerSecond;
  AppendPadded(secs / 3600, 2, out);
  out->push_back(':');
  AppendPadded(secs / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(secs % 60, 2, out);
  if (micros != 0) {
    out->push_back('.');
    AppendPadded(micros, 6, out);
  }
  out->push_back('Z');
}

std::string FormatTimestamp(Timestamp ts) {
  std::string out;
  AppendTimestamp(ts, &out);
  return out;
}

bool InTextRange(Date date) {
  // 0000-01-01 and 9999-12-31.
  return date.days >= -719528 && date.days <= 2932896;
}

bool InTextRange(Timestamp ts) {
  return ts.micros >= -719528 * kMicrosPerDay && ts.micros < (2932896 + 1) * kMicrosPerDay;
}

std::string FormatValue(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return FormatDouble(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(Date v) const { return FormatDate(v); }
    std::string operator()(Timestamp v) const { return FormatTimestamp(v); }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace veil::table
