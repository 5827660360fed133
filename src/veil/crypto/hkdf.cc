#include "veil/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

constexpr size_t kPrkSize = 32;

// OSSL_PARAM wants a non-const pointer even for inputs it only reads; a null pointer would mean "unset", so
// empty inputs point at a dummy byte.
void* ParamData(std::span<const uint8_t> s) {
  static const uint8_t kEmpty[1] = {0};
  return const_cast<uint8_t*>(s.empty() ? kEmpty : s.data());
}

absl::Status CheckLength(size_t length) {
  if (length == 0 || length > kHkdfSha256MaxOutput) {
    return absl::InvalidArgumentError(
        absl::StrCat("HKDF-SHA-256 output length must be in [1, ", kHkdfSha256MaxOutput, "], got ", length));
  }
  return absl::OkStatus();
}

// Runs EVP_KDF "HKDF" in `mode` (EVP_KDF_HKDF_MODE_*) and returns `length` bytes.
absl::StatusOr<base::SecretBytes> RunHkdf(int mode, std::span<const uint8_t> key,
                                          std::span<const uint8_t> salt, std::span<const uint8_t> info,
                                          size_t length) {
  EVP_KDF* kdf = internal::HkdfKdf();
  if (kdf == nullptr) return internal::OpenSslError("EVP_KDF_fetch(HKDF)");
  internal::EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf));
  if (ctx == nullptr) return internal::OpenSslError("EVP_KDF_CTX_new");

  char digest_name[] = "SHA2-256";
  std::vector<OSSL_PARAM> params;
  params.push_back(OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode));
  params.push_back(OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0));
  params.push_back(OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ParamData(key), key.size()));
  // Absent salt and an empty salt are the same thing to HMAC (the key is zero-padded to the block size), so
  // the salt is passed only when there is one.
  if (!salt.empty()) {
    params.push_back(OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ParamData(salt), salt.size()));
  }
  if (!info.empty()) {
    params.push_back(OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ParamData(info), info.size()));
  }
  params.push_back(OSSL_PARAM_construct_end());

  base::SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1) {
    return internal::OpenSslError("HKDF-SHA-256 derivation");
  }
  return out;
}

}  // namespace

absl::StatusOr<base::SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                             std::span<const uint8_t> info, size_t length) {
  if (absl::Status s = CheckLength(length); !s.ok()) return s;
  return RunHkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, salt, info, length);
}

absl::StatusOr<base::SecretBytes> HkdfSha256Extract(std::span<const uint8_t> ikm,
                                                    std::span<const uint8_t> salt) {
  return RunHkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, {}, kPrkSize);
}

absl::StatusOr<base::SecretBytes> HkdfSha256Expand(const base::SecretBytes& prk,
                                                   std::span<const uint8_t> info, size_t length) {
  if (prk.size() < kPrkSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("HKDF-SHA-256 PRK must be at least ", kPrkSize, " bytes, got ", prk.size()));
  }
  if (absl::Status s = CheckLength(length); !s.ok()) return s;
  return RunHkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk.span(), {}, info, length);
}

}  // namespace veil::crypto
