// AES-256-GCM authenticated encryption with associated data (NIST SP 800-38D), through OpenSSL's EVP cipher
// API.
//
// Sealed format (what Seal returns and Open accepts; stable, part of Veil's on-disk formats):
//
//   nonce (12 bytes) || ciphertext (same length as the plaintext) || tag (16 bytes)
//
// The associated data (AAD) is authenticated but neither encrypted nor stored: the caller must present the
// same AAD to Open (typically the record's identity and format version, so that a sealed value cannot be
// moved to another record undetected).
//
// Nonce limit: Seal draws a fresh random 96-bit nonce per message. Reusing a nonce under one key destroys
// both confidentiality and authenticity, so with random nonces a key must encrypt at most 2^32 messages,
// which keeps the probability of any nonce collision below 2^-32 (NIST SP 800-38D section 8.3). Callers that
// may exceed this (long-lived keys, high volume) must rotate keys, e.g. derive per-file keys with HKDF.
//
// Size limit: a single message is at most 2^36 - 32 bytes (SP 800-38D section 5.2.1.1).
//
// Keys are exactly 32 bytes and are only read. Thread safety: all functions are thread-safe.
#ifndef VEIL_CRYPTO_AEAD_H_
#define VEIL_CRYPTO_AEAD_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

inline constexpr size_t kAes256GcmKeySize = 32;
inline constexpr size_t kAes256GcmNonceSize = 12;
inline constexpr size_t kAes256GcmTagSize = 16;
// Bytes that Seal adds to the plaintext: nonce and tag.
inline constexpr size_t kAes256GcmOverhead = kAes256GcmNonceSize + kAes256GcmTagSize;
// The largest plaintext GCM can encrypt under one nonce: 2^39 - 256 bits.
inline constexpr uint64_t kAes256GcmMaxPlaintext = (uint64_t{1} << 36) - 32;

// Encrypts and authenticates `plaintext` and authenticates `aad` under `key` with a random nonce from `rng`.
// Returns nonce || ciphertext || tag (plaintext.size() + kAes256GcmOverhead bytes).
// Errors: InvalidArgument if key is not 32 bytes or plaintext exceeds kAes256GcmMaxPlaintext; rng's error is
// propagated; Internal on an unexpected OpenSSL failure.
absl::StatusOr<std::vector<uint8_t>> Seal(const base::SecretBytes& key, std::span<const uint8_t> plaintext,
                                          std::span<const uint8_t> aad, base::RandomSource& rng);

// Verifies and decrypts the output of Seal. Returns the plaintext only if the tag verifies; no
// unauthenticated plaintext is ever released. Errors: InvalidArgument if key is not 32 bytes (the caller's
// mistake); DataLoss if `sealed` is shorter than kAes256GcmOverhead (truncated), or ("authentication failed")
// if the nonce, ciphertext, tag or aad was modified or the key is wrong; Internal on an unexpected OpenSSL
// failure.
absl::StatusOr<std::vector<uint8_t>> Open(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                          std::span<const uint8_t> aad);

// As Open, for a plaintext that is itself key material (e.g. a wrapped data key): the result is SecretBytes.
absl::StatusOr<base::SecretBytes> OpenToSecret(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                               std::span<const uint8_t> aad);

// Lower level, for known-answer tests and for protocols that construct nonces themselves (e.g. a counter).
// The caller guarantees that (key, nonce) is never used for two different messages.
// SealWithNonce returns ciphertext || tag (no nonce). OpenWithNonce takes ciphertext || tag.
// Errors: as Seal / Open, plus InvalidArgument if nonce is not 12 bytes, and for OpenWithNonce DataLoss if
// ciphertext_and_tag is shorter than the 16-byte tag.
absl::StatusOr<std::vector<uint8_t>> SealWithNonce(const base::SecretBytes& key,
                                                   std::span<const uint8_t> nonce,
                                                   std::span<const uint8_t> plaintext,
                                                   std::span<const uint8_t> aad);
absl::StatusOr<std::vector<uint8_t>> OpenWithNonce(const base::SecretBytes& key,
                                                   std::span<const uint8_t> nonce,
                                                   std::span<const uint8_t> ciphertext_and_tag,
                                                   std::span<const uint8_t> aad);

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_AEAD_H_
