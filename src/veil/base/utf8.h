// UTF-8 validation: the one validator, shared by the table (schema, columns, CSV reader) and the audit log.
//
// Thread safety: pure functions.
#ifndef VEIL_BASE_UTF8_H_
#define VEIL_BASE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace veil::base {

// The general loop behind FindInvalidUtf8 (below), for any text.
size_t FindInvalidUtf8Slow(std::string_view text);

// True if every byte of `text`, which is at most 16 bytes long, is ASCII. Inline and branch-light: the CSV
// reader validates every value of a column of distinct strings, mostly short ASCII (e-mail addresses,
// identifiers), where the call to the general loop cost more than the check.
inline bool IsShortAscii(std::string_view text) {
  const size_t n = text.size();
  const char* p = text.data();
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, p + n - 4, 4);
    a = x, b = y;
  } else if (n > 0) {
    a = static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[n / 2]) | static_cast<uint8_t>(p[n - 1]);
  }
  return ((a | b) & 0x8080808080808080ULL) == 0;
}

// The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode 15, table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or text.size() if all of `text` is valid.
// Runs of ASCII are skipped eight bytes at a time; short ASCII text is settled inline.
inline size_t FindInvalidUtf8(std::string_view text) {
  if (text.size() <= 16 && IsShortAscii(text)) return text.size();
  return FindInvalidUtf8Slow(text);
}

inline bool IsValidUtf8(std::string_view text) { return FindInvalidUtf8(text) == text.size(); }

}  // namespace veil::base

#endif  // VEIL_BASE_UTF8_H_
