// HKDF with HMAC-SHA-256 (RFC 5869), through OpenSSL 3's EVP_KDF "HKDF".
//
// HKDF turns input keying material (a Diffie-Hellman shared secret, a master key) into one or more
// independent keys: Extract concentrates the IKM's entropy into a pseudorandom key PRK = HMAC(salt, IKM);
// Expand stretches PRK into `length` bytes bound to the context string `info`. Use distinct `info` values for
// keys with distinct purposes (e.g. "veil vault data key v1").
//
// All outputs are key material and are returned in SecretBytes. Inputs are only read.
// Thread safety: all functions are thread-safe.
#ifndef VEIL_CRYPTO_HKDF_H_
#define VEIL_CRYPTO_HKDF_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

// The largest output HKDF-SHA-256 can produce: 255 blocks of 32 bytes (RFC 5869 section 2.3).
inline constexpr size_t kHkdfSha256MaxOutput = 255 * 32;

// HKDF-Extract-then-Expand: returns OKM = HKDF-Expand(HKDF-Extract(salt, ikm), info, length).
// An empty salt means "no salt" (RFC 5869: a string of 32 zero bytes, which HMAC treats identically).
// Errors: InvalidArgument if length is 0 or greater than kHkdfSha256MaxOutput; Internal on an unexpected
// OpenSSL failure.
absl::StatusOr<base::SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                             std::span<const uint8_t> info, size_t length);
inline absl::StatusOr<base::SecretBytes> HkdfSha256(const base::SecretBytes& ikm,
                                                    std::span<const uint8_t> salt,
                                                    std::span<const uint8_t> info, size_t length) {
  return HkdfSha256(ikm.span(), salt, info, length);
}

// HKDF-Extract alone: returns the 32-byte PRK = HMAC-SHA-256(salt, ikm) (RFC 5869 section 2.2).
// Errors: Internal on an unexpected OpenSSL failure.
absl::StatusOr<base::SecretBytes> HkdfSha256Extract(std::span<const uint8_t> ikm,
                                                    std::span<const uint8_t> salt);

// HKDF-Expand alone (RFC 5869 section 2.3): derives `length` bytes from a pseudorandom key.
// Errors: InvalidArgument if prk is shorter than 32 bytes, or length is 0 or greater than
// kHkdfSha256MaxOutput; Internal on an unexpected OpenSSL failure.
absl::StatusOr<base::SecretBytes> HkdfSha256Expand(const base::SecretBytes& prk,
                                                   std::span<const uint8_t> info, size_t length);

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_HKDF_H_
