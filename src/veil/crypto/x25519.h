// X25519 Diffie-Hellman key agreement (RFC 7748), through OpenSSL's EVP_PKEY_X25519.
//
// A private key is 32 uniformly random bytes (RFC 7748 section 6.1; the scalar is clamped inside the
// function, so any 32 bytes are a valid private key); a public key is the 32-byte little-endian
// u-coordinate X25519(private, 9). The raw shared secret is not uniformly random: derive keys from it with
// HKDF (hkdf.h), binding both public keys into `info`.
//
// Private keys and shared secrets are SecretBytes; inputs are only read.
// Thread safety: all functions are thread-safe.
#ifndef VEIL_CRYPTO_X25519_H_
#define VEIL_CRYPTO_X25519_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

inline constexpr size_t kX25519KeySize = 32;
using X25519PublicKey = std::array<uint8_t, kX25519KeySize>;

struct X25519KeyPair {
  base::SecretBytes private_key;  // 32 bytes
  X25519PublicKey public_key;
};

// Draws a private key (32 bytes) from `rng` and computes its public key.
// Errors: rng's error is propagated; Internal on an unexpected OpenSSL failure.
absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair(base::RandomSource& rng);

// Returns the public key of `private_key`, i.e. X25519(private_key, 9).
// Errors: InvalidArgument if private_key is not 32 bytes; Internal on an unexpected OpenSSL failure.
absl::StatusOr<X25519PublicKey> X25519PublicFromPrivate(const base::SecretBytes& private_key);

// Returns the 32-byte shared secret X25519(private_key, peer_public).
// As RFC 7748 section 6.1 recommends, an all-zero result is rejected: it means that the peer sent a point of
// small order (e.g. u = 0 or u = 1), which would let it force a known "shared" secret.
// Errors: InvalidArgument if a key is not 32 bytes, or if the peer's public key is of small order (all-zero
// output); Internal on an unexpected OpenSSL failure.
absl::StatusOr<base::SecretBytes> X25519(const base::SecretBytes& private_key,
                                         std::span<const uint8_t> peer_public);

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_X25519_H_
