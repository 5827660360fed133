#include "veil/crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <algorithm>

#include "veil/crypto/constant_time.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

// EVP_MAC_init treats a null key as "reuse the previous key", so an empty key must still be a valid pointer.
const uint8_t kEmptyKey[1] = {0};

}  // namespace

HmacSha256Hasher::HmacSha256Hasher(std::span<const uint8_t> key) {
  EVP_MAC* mac = internal::HmacMac();
  if (mac == nullptr) internal::FatalOpenSslError("EVP_MAC_fetch(HMAC)");
  ctx_.reset(EVP_MAC_CTX_new(mac));
  if (ctx_ == nullptr) internal::FatalOpenSslError("EVP_MAC_CTX_new");
  char digest_name[] = "SHA2-256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  const uint8_t* key_data = key.empty() ? kEmptyKey : key.data();
  if (EVP_MAC_init(ctx_.get(), key_data, key.size(), params) != 1) {
    internal::FatalOpenSslError("HMAC-SHA-256 initialisation");
  }
}

void HmacSha256Hasher::Reset(std::span<const uint8_t> key) {
  // No parameters: the digest chosen at construction stays.
  const uint8_t* key_data = key.empty() ? kEmptyKey : key.data();
  if (EVP_MAC_init(ctx_.get(), key_data, key.size(), nullptr) != 1) {
    internal::FatalOpenSslError("HMAC-SHA-256 rekey");
  }
}

void HmacSha256Hasher::Update(std::span<const uint8_t> data) {
  while (!data.empty()) {
    const size_t n = std::min(data.size(), internal::kMaxChunk);
    if (EVP_MAC_update(ctx_.get(), data.data(), n) != 1) internal::FatalOpenSslError("HMAC-SHA-256 update");
    data = data.subspan(n);
  }
}

HmacSha256Tag HmacSha256Hasher::Final() {
  HmacSha256Tag tag;
  size_t len = 0;
  if (EVP_MAC_final(ctx_.get(), tag.data(), &len, tag.size()) != 1 || len != tag.size()) {
    internal::FatalOpenSslError("HMAC-SHA-256 finalisation");
  }
  // A null key with no parameters restarts the MAC under the key already set (OpenSSL 3 HMAC semantics).
  if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1) internal::FatalOpenSslError("HMAC-SHA-256 reset");
  return tag;
}

HmacSha256Tag HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  HmacSha256Hasher hasher(key);
  hasher.Update(data);
  return hasher.Final();
}

absl::Status VerifyHmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data,
                              std::span<const uint8_t> tag) {
  if (tag.size() != kHmacSha256TagSize) {
    // A stored tag of the wrong length is a damaged record, like a wrong tag.
    return absl::DataLossError("VerifyHmacSha256: tag must be 32 bytes");
  }
  HmacSha256Tag expected = HmacSha256(key, data);
  const bool match = ConstantTimeEquals(expected, tag);
  // The correct tag for attacker-chosen data is exactly what a forger wants; do not leave it on the stack.
  OPENSSL_cleanse(expected.data(), expected.size());
  if (!match) return absl::DataLossError("HMAC-SHA-256 verification failed");
  return absl::OkStatus();
}

}  // namespace veil::crypto
