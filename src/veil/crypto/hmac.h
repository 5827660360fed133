// HMAC-SHA-256 (RFC 2104, FIPS 198-1; test vectors RFC 4231) through OpenSSL 3's EVP_MAC "HMAC".
//
// Veil uses HMAC-SHA-256 for keyed pseudonyms of data subjects (DESIGN.md section 4), for integrity tags and
// inside the test-only HMAC_DRBG. Keys may have any length (RFC 2104: keys longer than the 64-byte block are
// hashed first); keys shorter than 32 bytes weaken the MAC and should not be used.
//
// Computing a MAC cannot fail on any input. An internal OpenSSL failure (allocation, missing provider) aborts
// the process with a message on stderr, as for SHA-256.
#ifndef VEIL_CRYPTO_HMAC_H_
#define VEIL_CRYPTO_HMAC_H_

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "veil/base/bytes.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

inline constexpr size_t kHmacSha256TagSize = 32;
using HmacSha256Tag = std::array<uint8_t, kHmacSha256TagSize>;

// Returns HMAC-SHA-256(key, data). Thread-safe. The key is only read; no copy of it outlives the call
// (OpenSSL cleanses its internal key schedule when the context is freed).
HmacSha256Tag HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
inline HmacSha256Tag HmacSha256(std::span<const uint8_t> key, std::string_view data) {
  return HmacSha256(key, base::AsBytes(data));
}
inline HmacSha256Tag HmacSha256(const base::SecretBytes& key, std::span<const uint8_t> data) {
  return HmacSha256(key.span(), data);
}
inline HmacSha256Tag HmacSha256(const base::SecretBytes& key, std::string_view data) {
  return HmacSha256(key.span(), data);
}

// Recomputes HMAC-SHA-256(key, data) and compares it with `tag` in constant time.
// Returns OK if they match; DataLoss("HMAC-SHA-256 verification failed") if they do not;
// DataLoss too if tag is not exactly 32 bytes (a truncated stored tag; truncated tags are not accepted here).
// Thread-safe.
absl::Status VerifyHmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data,
                              std::span<const uint8_t> tag);
inline absl::Status VerifyHmacSha256(const base::SecretBytes& key, std::span<const uint8_t> data,
                                     std::span<const uint8_t> tag) {
  return VerifyHmacSha256(key.span(), data, tag);
}

// Incremental HMAC-SHA-256 under one key, for messages that arrive in pieces or for many messages under the
// same key (the key is processed once):
//
//   HmacSha256Hasher mac(key.span());
//   mac.Update(a);
//   mac.Update(b);
//   HmacSha256Tag t = mac.Final();   // == HmacSha256(key, a + b); mac is ready for the next message
//
// The hasher keeps an internal copy of the key (in OpenSSL's context, cleansed on destruction), so the
// caller's key may be wiped after construction. Move-only; a moved-from hasher may only be destroyed or
// assigned to. Thread safety: not thread-safe; use one hasher per thread.
class HmacSha256Hasher {
 public:
  explicit HmacSha256Hasher(std::span<const uint8_t> key);
  explicit HmacSha256Hasher(const base::SecretBytes& key) : HmacSha256Hasher(key.span()) {}
  HmacSha256Hasher(HmacSha256Hasher&&) noexcept = default;
  HmacSha256Hasher& operator=(HmacSha256Hasher&&) noexcept = default;
  HmacSha256Hasher(const HmacSha256Hasher&) = delete;
  HmacSha256Hasher& operator=(const HmacSha256Hasher&) = delete;
  ~HmacSha256Hasher() = default;

  // Appends `data` to the message.
  void Update(std::span<const uint8_t> data);

  // Returns the tag of everything passed to Update since construction or the previous Final, and resets the
  // hasher to the empty message under the same key.
  HmacSha256Tag Final();

  // Discards any pending message and restarts under `key`. Cheaper than constructing a new hasher (the
  // OpenSSL context and its digest are reused), for code that changes keys often, such as HMAC_DRBG.
  void Reset(std::span<const uint8_t> key);

 private:
  struct CtxDeleter {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MAC_CTX, CtxDeleter> ctx_;
};

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_HMAC_H_
