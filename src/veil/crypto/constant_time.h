// Constant-time comparison of byte strings, for tags, MACs and other secret-dependent values.
//
// Thread safety: pure function, safe from any thread.
#ifndef VEIL_CRYPTO_CONSTANT_TIME_H_
#define VEIL_CRYPTO_CONSTANT_TIME_H_

#include <cstdint>
#include <span>

namespace veil::crypto {

// Returns true iff `a` and `b` have the same length and the same content. When the lengths are equal, the
// running time does not depend on the content (OpenSSL CRYPTO_memcmp), so an attacker cannot learn how many
// leading bytes of a guessed tag are right. Lengths are treated as public: a length mismatch returns false
// immediately. Two empty strings are equal.
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_CONSTANT_TIME_H_
