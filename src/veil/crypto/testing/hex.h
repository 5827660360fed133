// TEST-ONLY hex helpers for known-answer tests (library veil_crypto_testing).
//
// Thread safety: pure functions, safe from any thread.
#ifndef VEIL_CRYPTO_TESTING_HEX_H_
#define VEIL_CRYPTO_TESTING_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::crypto::testing {

// Decodes a hex string (upper or lower case; spaces, tabs and newlines are ignored so that vectors can be
// pasted as printed in RFCs). Aborts with a message on stderr on any other character or an odd number of
// digits: a malformed test vector is a bug in the test, not an input to handle.
std::vector<uint8_t> FromHex(std::string_view hex);

// Encodes bytes as lower-case hex.
std::string ToHex(std::span<const uint8_t> bytes);

}  // namespace veil::crypto::testing

#endif  // VEIL_CRYPTO_TESTING_HEX_H_
