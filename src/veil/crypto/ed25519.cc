#include "veil/crypto/ed25519.h"

#include <openssl/err.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

// One-shot EVP_DigestSign/Verify accept (nullptr, 0) for an empty message in practice, but a valid pointer
// keeps us independent of that detail.
const uint8_t* MessageData(std::span<const uint8_t> message) {
  static const uint8_t kEmpty[1] = {0};
  return message.empty() ? kEmpty : message.data();
}

}  // namespace

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromBytes(std::span<const uint8_t> bytes) {
  if (bytes.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 public key must be ", kEd25519PublicKeySize, " bytes, got ", bytes.size()));
  }
  std::array<uint8_t, kEd25519PublicKeySize> a;
  std::copy(bytes.begin(), bytes.end(), a.begin());
  return Ed25519PublicKey(a);
}

absl::Status Ed25519PublicKey::Verify(std::span<const uint8_t> message,
                                      std::span<const uint8_t> signature) const {
  if (signature.size() != kEd25519SignatureSize) {
    // A signature is read back from storage or the wire: a wrong length is a damaged signature.
    return absl::DataLossError(
        absl::StrCat("Ed25519 signature must be ", kEd25519SignatureSize, " bytes, got ", signature.size()));
  }
  internal::EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, bytes_.data(), bytes_.size()));
  if (pkey == nullptr) return internal::OpenSslError("Ed25519 public key import");
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return internal::OpenSslError("EVP_MD_CTX_new");
  // Ed25519 hashes internally (SHA-512), so no digest is named.
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey.get(), nullptr) != 1) {
    return internal::OpenSslError("Ed25519 verify init");
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), MessageData(message), message.size());
  if (rc != 1) {
    // 0 is a bad signature; a negative value is a malformed one (e.g. an undecodable point). Both mean the
    // signature does not authenticate the message.
    ERR_clear_error();
    return absl::DataLossError("Ed25519 signature verification failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate(base::RandomSource& rng) {
  base::SecretBytes seed(kEd25519SeedSize);
  VEIL_RETURN_IF_ERROR(rng.Fill(seed.span()));
  return FromSeed(seed);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(const base::SecretBytes& seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 seed must be ", kEd25519SeedSize, " bytes, got ", seed.size()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key_ex(nullptr, "ED25519", nullptr, seed.data(), seed.size()));
  if (pkey == nullptr) return internal::OpenSslError("Ed25519 private key import");
  std::array<uint8_t, kEd25519PublicKeySize> pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return internal::OpenSslError("Ed25519 public key export");
  }
  return Ed25519PrivateKey(std::move(pkey), Ed25519PublicKey(pub));
}

absl::StatusOr<base::SecretBytes> Ed25519PrivateKey::ExportSeed() const {
  base::SecretBytes seed(kEd25519SeedSize);
  size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), seed.data(), &len) != 1 || len != seed.size()) {
    return internal::OpenSslError("Ed25519 seed export");
  }
  return seed;
}

absl::StatusOr<Ed25519Signature> Ed25519PrivateKey::Sign(std::span<const uint8_t> message) const {
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return internal::OpenSslError("EVP_MD_CTX_new");
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return internal::OpenSslError("Ed25519 sign init");
  }
  Ed25519Signature sig;
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, MessageData(message), message.size()) != 1 ||
      len != sig.size()) {
    return internal::OpenSslError("Ed25519 sign");
  }
  return sig;
}

}  // namespace veil::crypto
