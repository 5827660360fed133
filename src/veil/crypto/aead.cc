#include "veil/crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

absl::Status CheckKey(const base::SecretBytes& key) {
  if (key.size() != kAes256GcmKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM key must be ", kAes256GcmKeySize, " bytes, got ", key.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckNonce(std::span<const uint8_t> nonce) {
  if (nonce.size() != kAes256GcmNonceSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM nonce must be ", kAes256GcmNonceSize, " bytes, got ", nonce.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckPayloadSize(size_t n) {
  if (n > kAes256GcmMaxPlaintext) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM message of ", n, " bytes exceeds the limit of ", kAes256GcmMaxPlaintext));
  }
  return absl::OkStatus();
}

// Feeds `aad` to an initialised encryption or decryption context.
bool UpdateAad(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> aad, bool encrypt) {
  while (!aad.empty()) {
    const size_t n = std::min(aad.size(), internal::kMaxChunk);
    int outl = 0;
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, nullptr, &outl, aad.data(), static_cast<int>(n))
                           : EVP_DecryptUpdate(ctx, nullptr, &outl, aad.data(), static_cast<int>(n));
    if (ok != 1) return false;
    aad = aad.subspan(n);
  }
  return true;
}

// Transforms `in` into `out` (same length; GCM is a stream mode, so each update emits as many bytes as it
// consumes).
bool UpdateData(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> in, uint8_t* out, bool encrypt) {
  while (!in.empty()) {
    const size_t n = std::min(in.size(), internal::kMaxChunk);
    int outl = 0;
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, out, &outl, in.data(), static_cast<int>(n))
                           : EVP_DecryptUpdate(ctx, out, &outl, in.data(), static_cast<int>(n));
    if (ok != 1 || static_cast<size_t>(outl) != n) return false;
    in = in.subspan(n);
    out += n;
  }
  return true;
}

// Encrypts plaintext into out_ciphertext (plaintext.size() bytes) and writes the tag to out_tag (16 bytes).
absl::Status SealInto(const base::SecretBytes& key, std::span<const uint8_t> nonce,
                      std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                      uint8_t* out_ciphertext, uint8_t* out_tag) {
  const EVP_CIPHER* cipher = internal::Aes256GcmCipher();
  if (cipher == nullptr) return internal::OpenSslError("EVP_CIPHER_fetch(AES-256-GCM)");
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return internal::OpenSslError("EVP_CIPHER_CTX_new");
  // The default GCM IV length is 12 bytes, which is the only one Veil uses.
  if (EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), nonce.data(), nullptr) != 1) {
    return internal::OpenSslError("AES-256-GCM encryption init");
  }
  if (!UpdateAad(ctx.get(), aad, /*encrypt=*/true)) return internal::OpenSslError("AES-256-GCM AAD");
  if (!UpdateData(ctx.get(), plaintext, out_ciphertext, /*encrypt=*/true)) {
    return internal::OpenSslError("AES-256-GCM encryption");
  }
  int outl = 0;
  uint8_t final_block[16];
  if (EVP_EncryptFinal_ex(ctx.get(), final_block, &outl) != 1 || outl != 0) {
    return internal::OpenSslError("AES-256-GCM encryption final");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAes256GcmTagSize), out_tag) !=
      1) {
    return internal::OpenSslError("AES-256-GCM get tag");
  }
  return absl::OkStatus();
}

// Decrypts `ciphertext` into `out` (ciphertext.size() bytes) and verifies `tag`. On any failure `out` is
// wiped, so that unauthenticated plaintext never escapes.
absl::Status OpenInto(const base::SecretBytes& key, std::span<const uint8_t> nonce,
                      std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                      std::span<const uint8_t> aad, uint8_t* out) {
  const EVP_CIPHER* cipher = internal::Aes256GcmCipher();
  if (cipher == nullptr) return internal::OpenSslError("EVP_CIPHER_fetch(AES-256-GCM)");
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return internal::OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), nonce.data(), nullptr) != 1) {
    return internal::OpenSslError("AES-256-GCM decryption init");
  }
  // The ctrl interface takes a non-const pointer.
  std::array<uint8_t, kAes256GcmTagSize> expected_tag;
  std::copy(tag.begin(), tag.end(), expected_tag.begin());
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(expected_tag.size()),
                          expected_tag.data()) != 1) {
    return internal::OpenSslError("AES-256-GCM set tag");
  }
  if (!UpdateAad(ctx.get(), aad, /*encrypt=*/false)) return internal::OpenSslError("AES-256-GCM AAD");
  if (!UpdateData(ctx.get(), ciphertext, out, /*encrypt=*/false)) {
    if (!ciphertext.empty()) OPENSSL_cleanse(out, ciphertext.size());
    return internal::OpenSslError("AES-256-GCM decryption");
  }
  int outl = 0;
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &outl) != 1) {
    // Tag mismatch: the only failure possible at this point for a well-formed context.
    if (!ciphertext.empty()) OPENSSL_cleanse(out, ciphertext.size());
    ERR_clear_error();
    return absl::DataLossError("authentication failed");
  }
  return absl::OkStatus();
}

struct SealedParts {
  std::span<const uint8_t> nonce;
  std::span<const uint8_t> ciphertext;
  std::span<const uint8_t> tag;
};

absl::StatusOr<SealedParts> SplitSealed(std::span<const uint8_t> sealed) {
  if (sealed.size() < kAes256GcmOverhead) {
    // Sealed data is read back from storage: too short means truncated, an integrity failure.
    return absl::DataLossError(absl::StrCat("AES-256-GCM sealed message must be at least ",
                                            kAes256GcmOverhead, " bytes, got ", sealed.size()));
  }
  const size_t ct_size = sealed.size() - kAes256GcmOverhead;
  return SealedParts{sealed.first(kAes256GcmNonceSize), sealed.subspan(kAes256GcmNonceSize, ct_size),
                     sealed.last(kAes256GcmTagSize)};
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> SealWithNonce(const base::SecretBytes& key,
                                                   std::span<const uint8_t> nonce,
                                                   std::span<const uint8_t> plaintext,
                                                   std::span<const uint8_t> aad) {
  VEIL_RETURN_IF_ERROR(CheckKey(key));
  VEIL_RETURN_IF_ERROR(CheckNonce(nonce));
  VEIL_RETURN_IF_ERROR(CheckPayloadSize(plaintext.size()));
  std::vector<uint8_t> out(plaintext.size() + kAes256GcmTagSize);
  VEIL_RETURN_IF_ERROR(SealInto(key, nonce, plaintext, aad, out.data(), out.data() + plaintext.size()));
  return out;
}

absl::StatusOr<std::vector<uint8_t>> OpenWithNonce(const base::SecretBytes& key,
                                                   std::span<const uint8_t> nonce,
                                                   std::span<const uint8_t> ciphertext_and_tag,
                                                   std::span<const uint8_t> aad) {
  VEIL_RETURN_IF_ERROR(CheckKey(key));
  VEIL_RETURN_IF_ERROR(CheckNonce(nonce));
  if (ciphertext_and_tag.size() < kAes256GcmTagSize) {
    return absl::DataLossError(absl::StrCat("AES-256-GCM ciphertext must be at least ", kAes256GcmTagSize,
                                            " bytes (the tag), got ", ciphertext_and_tag.size()));
  }
  const size_t ct_size = ciphertext_and_tag.size() - kAes256GcmTagSize;
  VEIL_RETURN_IF_ERROR(CheckPayloadSize(ct_size));
  std::vector<uint8_t> out(ct_size);
  VEIL_RETURN_IF_ERROR(OpenInto(key, nonce, ciphertext_and_tag.first(ct_size),
                                ciphertext_and_tag.last(kAes256GcmTagSize), aad, out.data()));
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Seal(const base::SecretBytes& key, std::span<const uint8_t> plaintext,
                                          std::span<const uint8_t> aad, base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckKey(key));
  VEIL_RETURN_IF_ERROR(CheckPayloadSize(plaintext.size()));
  std::vector<uint8_t> out(kAes256GcmNonceSize + plaintext.size() + kAes256GcmTagSize);
  std::span<uint8_t> nonce(out.data(), kAes256GcmNonceSize);
  VEIL_RETURN_IF_ERROR(rng.Fill(nonce));
  VEIL_RETURN_IF_ERROR(SealInto(key, nonce, plaintext, aad, out.data() + kAes256GcmNonceSize,
                                out.data() + kAes256GcmNonceSize + plaintext.size()));
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Open(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                          std::span<const uint8_t> aad) {
  VEIL_RETURN_IF_ERROR(CheckKey(key));
  VEIL_ASSIGN_OR_RETURN(SealedParts parts, SplitSealed(sealed));
  VEIL_RETURN_IF_ERROR(CheckPayloadSize(parts.ciphertext.size()));
  std::vector<uint8_t> out(parts.ciphertext.size());
  VEIL_RETURN_IF_ERROR(OpenInto(key, parts.nonce, parts.ciphertext, parts.tag, aad, out.data()));
  return out;
}

absl::StatusOr<base::SecretBytes> OpenToSecret(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                               std::span<const uint8_t> aad) {
  VEIL_RETURN_IF_ERROR(CheckKey(key));
  VEIL_ASSIGN_OR_RETURN(SealedParts parts, SplitSealed(sealed));
  VEIL_RETURN_IF_ERROR(CheckPayloadSize(parts.ciphertext.size()));
  base::SecretBytes out(parts.ciphertext.size());
  VEIL_RETURN_IF_ERROR(OpenInto(key, parts.nonce, parts.ciphertext, parts.tag, aad, out.data()));
  return out;
}

}  // namespace veil::crypto
