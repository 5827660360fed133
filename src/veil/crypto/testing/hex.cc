#include "veil/crypto/testing/hex.h"

#include <cstdio>
#include <cstdlib>

namespace veil::crypto::testing {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void BadHex(std::string_view hex, const char* why) {
  std::fprintf(stderr, "FromHex: %s in test vector \"%.*s\"\n", why, static_cast<int>(hex.size()),
               hex.data());
  std::abort();
}

}  // namespace

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  out.reserve(hex.size() / 2);
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    const int v = HexValue(c);
    if (v < 0) BadHex(hex, "non-hex character");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) BadHex(hex, "odd number of hex digits");
  return out;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

}  // namespace veil::crypto::testing
