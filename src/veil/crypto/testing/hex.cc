#include "veil/crypto/testing/hex.h"

#include <cstdio>
#include <cstdlib>

#include "veil/base/hex.h"

namespace veil::crypto::testing {

std::vector<uint8_t> FromHex(std::string_view hex) {
  // Test vectors are pasted as printed in RFCs: drop the whitespace, then decode strictly.
  std::string digits;
  digits.reserve(hex.size());
  for (char c : hex) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') digits.push_back(c);
  }
  std::vector<uint8_t> out(digits.size() / 2);
  if (digits.size() % 2 != 0 || !base::HexDecode(digits, out)) {
    std::fprintf(stderr, "FromHex: malformed test vector \"%.*s\"\n", static_cast<int>(hex.size()),
                 hex.data());
    std::abort();
  }
  return out;
}

std::string ToHex(std::span<const uint8_t> bytes) { return base::HexEncode(bytes); }

}  // namespace veil::crypto::testing
