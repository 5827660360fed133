// Ed25519 signatures (RFC 8032, "pure" Ed25519 without prehash or context), through OpenSSL's
// EVP_PKEY_ED25519 and one-shot EVP_DigestSign / EVP_DigestVerify.
//
// A private key is a 32-byte seed (RFC 8032 section 5.1.5); the 32-byte public key and the 64-byte signatures
// are public values. Signing is deterministic: the same key and message always give the same signature.
// Veil uses Ed25519 to sign audit-log checkpoints (RFC 6962 tree heads) and exported reports.
#ifndef VEIL_CRYPTO_ED25519_H_
#define VEIL_CRYPTO_ED25519_H_

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/bytes.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;

// An Ed25519 public key: a copyable value holding the 32-byte encoding.
// Thread safety: const methods are thread-safe.
class Ed25519PublicKey {
 public:
  // Wraps a 32-byte encoded public key. The encoding is not decoded here: a key that is not a valid curve
  // point makes every Verify fail.
  // Errors: InvalidArgument if bytes is not 32 bytes long.
  static absl::StatusOr<Ed25519PublicKey> FromBytes(std::span<const uint8_t> bytes);

  const std::array<uint8_t, kEd25519PublicKeySize>& bytes() const { return bytes_; }

  // Checks that `signature` is a valid signature of `message` under this key (RFC 8032 section 5.1.7).
  // Returns OK if it is; DataLoss("Ed25519 signature verification failed") if it is not (wrong key, modified
  // message or signature, non-canonical signature) or if signature is not 64 bytes (damaged); Internal
  // on an unexpected OpenSSL failure.
  absl::Status Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;
  absl::Status Verify(std::string_view message, std::span<const uint8_t> signature) const {
    return Verify(base::AsBytes(message), signature);
  }

  friend bool operator==(const Ed25519PublicKey& a, const Ed25519PublicKey& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  explicit Ed25519PublicKey(const std::array<uint8_t, kEd25519PublicKeySize>& bytes) : bytes_(bytes) {}
  friend class Ed25519PrivateKey;

  std::array<uint8_t, kEd25519PublicKeySize> bytes_;
};

// An Ed25519 signing key. Move-only: it owns OpenSSL's copy of the key (an EVP_PKEY, cleansed when freed).
// A moved-from key may only be destroyed or assigned to.
// Thread safety: const methods are thread-safe (concurrent Sign calls on one key are allowed).
class Ed25519PrivateKey {
 public:
  // Generates a key from a 32-byte seed drawn from `rng`.
  // Errors: rng's error is propagated; Internal on an unexpected OpenSSL failure.
  static absl::StatusOr<Ed25519PrivateKey> Generate(base::RandomSource& rng);

  // Loads the key whose RFC 8032 seed ("SECRET KEY" in section 7.1) is `seed`. The seed is copied into
  // OpenSSL's key; the caller keeps ownership of `seed`.
  // Errors: InvalidArgument if seed is not 32 bytes; Internal on an unexpected OpenSSL failure.
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(const base::SecretBytes& seed);

  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept = default;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept = default;
  Ed25519PrivateKey(const Ed25519PrivateKey&) = delete;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = delete;
  ~Ed25519PrivateKey() = default;

  // Returns a copy of the 32-byte seed, for storage in a key store.
  // Errors: Internal on an unexpected OpenSSL failure.
  absl::StatusOr<base::SecretBytes> ExportSeed() const;

  const Ed25519PublicKey& public_key() const { return public_key_; }

  // Signs `message` (RFC 8032 section 5.1.6). Errors: Internal on an unexpected OpenSSL failure.
  absl::StatusOr<Ed25519Signature> Sign(std::span<const uint8_t> message) const;
  absl::StatusOr<Ed25519Signature> Sign(std::string_view message) const {
    return Sign(base::AsBytes(message));
  }

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

  Ed25519PrivateKey(PkeyPtr pkey, const Ed25519PublicKey& public_key)
      : pkey_(std::move(pkey)), public_key_(public_key) {}

  PkeyPtr pkey_;
  Ed25519PublicKey public_key_;
};

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_ED25519_H_
