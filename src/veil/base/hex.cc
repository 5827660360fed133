#include "veil/base/hex.h"

#include <array>

namespace veil::base {
namespace {

// Each byte's digit value, 0x10 and up for a byte that is no hex digit: a lookup per character and no
// branch on the data (pseudonyms are decoded once per record read, where branches on random digits
// mispredicted often enough to show in a profile).
constexpr std::array<uint8_t, 256> kDigitValue = [] {
  std::array<uint8_t, 256> v{};
  v.fill(0xF0);
  for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) v[c] = static_cast<uint8_t>(c - 'A' + 10);
  return v;
}();

}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

bool HexDecode(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t hi = kDigitValue[static_cast<uint8_t>(hex[2 * i])];
    const uint8_t lo = kDigitValue[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= static_cast<uint8_t>(hi | lo);
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 0xF));
  }
  return (bad & 0xF0) == 0;
}

}  // namespace veil::base
