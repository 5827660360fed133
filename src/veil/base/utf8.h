// UTF-8 validation, shared by the table (schema, columns, CSV reader) and the audit log (entry fields).
//
// Thread safety: pure functions.
#ifndef VEIL_BASE_UTF8_H_
#define VEIL_BASE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace veil::base {

// The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode 15, table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or text.size() if all of `text` is valid.
// Runs of ASCII are skipped eight bytes at a time.
size_t FindInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return FindInvalidUtf8(text) == text.size(); }

}  // namespace veil::base

#endif  // VEIL_BASE_UTF8_H_
