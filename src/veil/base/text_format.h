// Formatting numbers and text for people: the one copy shared by the `veil` commands (tools/veil/cli.h) and
// the reports (gov/report.h), which print the same figures the same way.
//
// Thread safety: pure functions.
#ifndef VEIL_BASE_TEXT_FORMAT_H_
#define VEIL_BASE_TEXT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace veil::base {

// An integer with thousands separators: 48842 -> "48,842", -1234 -> "-1,234".
inline std::string WithThousands(int64_t n) {
  // Magnitude in unsigned arithmetic: -INT64_MIN does not fit in int64_t.
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = absl::StrCat(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// A size in bytes: "812 B", "4.2 KiB", "37.1 MiB".
inline std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < 1024 * 1024) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
}

// Display width of UTF-8 text in a terminal or a fixed-width document: one column per code point (good
// enough for Latin script and symbols; a wide character merely misaligns its own row).
inline size_t DisplayWidth(std::string_view s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

// `s` with every C0 control character (U+0000 to U+001F) and DEL (U+007F) written as a visible escape
// ("\x1b", "\t", "\n", "\r"), so that a name taken from input (a CSV header, a file name) cannot move the
// cursor, recolour or retitle a terminal, or break a text document's layout when printed. A backslash is
// written as itself: the escapes are for reading, not for parsing back. Everything else (UTF-8 included) is
// kept as it is.
inline std::string EscapeControlCharacters(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7F) {
      out += ch;
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    }
  }
  return out;
}

}  // namespace veil::base

#endif  // VEIL_BASE_TEXT_FORMAT_H_
