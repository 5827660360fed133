// Internal helpers shared by the veil::crypto wrappers: RAII owners for OpenSSL objects, the algorithm
// implementations fetched once per process, and the conversion of OpenSSL's error queue into a Status.
//
// Not part of the module's public API: other modules must not include this header.
#ifndef VEIL_CRYPTO_OPENSSL_UTIL_H_
#define VEIL_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "veil/base/bytes.h"

namespace veil::crypto::internal {

using base::AsBytes;

// unique_ptr owners for OpenSSL objects. Each deleter accepts nullptr.
struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EvpMacCtxDeleter {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
struct EvpKdfCtxDeleter {
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};
struct EvpCipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, EvpMacCtxDeleter>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, EvpKdfCtxDeleter>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxDeleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter>;

// Algorithm implementations from the default library context, fetched on first use and kept for the life of
// the process (an explicit fetch avoids the per-call implicit fetch that OpenSSL 3 otherwise performs).
// Return nullptr if the provider does not offer the algorithm. Thread-safe.
const EVP_MD* Sha256Md();
EVP_MAC* HmacMac();
EVP_KDF* HkdfKdf();
const EVP_CIPHER* Aes256GcmCipher();

// Drains this thread's OpenSSL error queue and returns an Internal error "<what>: <OpenSSL reasons>".
// Call it right after an OpenSSL function reported an unexpected failure.
absl::Status OpenSslError(std::string_view what);

// For the few operations whose API cannot fail on any input (hashing, HMAC): prints `what` and the OpenSSL
// error queue to stderr and aborts. Only reachable if OpenSSL itself is broken (allocation failure, missing
// default provider); never on bad input.
[[noreturn]] void FatalOpenSslError(std::string_view what);

// OpenSSL's update functions take an int length; these split a span into pieces of at most kMaxChunk bytes.
inline constexpr size_t kMaxChunk = static_cast<size_t>(INT_MAX) & ~static_cast<size_t>(63);

}  // namespace veil::crypto::internal

#endif  // VEIL_CRYPTO_OPENSSL_UTIL_H_
