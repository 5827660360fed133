// Views text as bytes: the one place where Veil reinterprets a string's characters as uint8_t, for the crypto
// and encoding APIs that take std::span<const uint8_t>; and bytes as a string, for protobuf's bytes fields.
#ifndef VEIL_BASE_BYTES_H_
#define VEIL_BASE_BYTES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace veil::base {

// The bytes of `s`, valid as long as the characters it views.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A copy of `bytes` as a std::string.
inline std::string BytesToString(std::span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace veil::base

#endif  // VEIL_BASE_BYTES_H_
