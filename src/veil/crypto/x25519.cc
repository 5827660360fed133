#include "veil/crypto/x25519.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/proverr.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

absl::Status CheckSize(std::span<const uint8_t> key, const char* what) {
  if (key.size() != kX25519KeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("X25519 ", what, " must be ", kX25519KeySize, " bytes, got ", key.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<internal::EvpPkeyPtr> LoadPrivate(const base::SecretBytes& private_key) {
  VEIL_RETURN_IF_ERROR(CheckSize(private_key.span(), "private key"));
  internal::EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, private_key.data(), private_key.size()));
  if (pkey == nullptr) return internal::OpenSslError("X25519 private key import");
  return pkey;
}

absl::StatusOr<X25519PublicKey> PublicOf(EVP_PKEY* pkey) {
  X25519PublicKey pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pub.data(), &len) != 1 || len != pub.size()) {
    return internal::OpenSslError("X25519 public key export");
  }
  return pub;
}

bool AllZero(std::span<const uint8_t> s) {
  uint8_t acc = 0;
  for (uint8_t b : s) acc |= b;  // no early exit: the shared secret's content must not affect timing
  return acc == 0;
}

}  // namespace

absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair(base::RandomSource& rng) {
  base::SecretBytes private_key(kX25519KeySize);
  VEIL_RETURN_IF_ERROR(rng.Fill(private_key.span()));
  VEIL_ASSIGN_OR_RETURN(X25519PublicKey public_key, X25519PublicFromPrivate(private_key));
  return X25519KeyPair{std::move(private_key), public_key};
}

absl::StatusOr<X25519PublicKey> X25519PublicFromPrivate(const base::SecretBytes& private_key) {
  VEIL_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pkey, LoadPrivate(private_key));
  return PublicOf(pkey.get());
}

absl::StatusOr<base::SecretBytes> X25519(const base::SecretBytes& private_key,
                                         std::span<const uint8_t> peer_public) {
  VEIL_RETURN_IF_ERROR(CheckSize(peer_public, "peer public key"));
  VEIL_ASSIGN_OR_RETURN(internal::EvpPkeyPtr pkey, LoadPrivate(private_key));
  internal::EvpPkeyPtr peer(
      EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, peer_public.data(), peer_public.size()));
  if (peer == nullptr) return internal::OpenSslError("X25519 peer public key import");

  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (ctx == nullptr) return internal::OpenSslError("EVP_PKEY_CTX_new_from_pkey");
  if (EVP_PKEY_derive_init(ctx.get()) != 1) return internal::OpenSslError("X25519 derive init");
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) return internal::OpenSslError("X25519 set peer");

  base::SecretBytes shared(kX25519KeySize);
  size_t len = shared.size();
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1) {
    // OpenSSL itself refuses an all-zero output (small-order peer point) with this reason.
    if (ERR_GET_REASON(ERR_peek_last_error()) == PROV_R_FAILED_DURING_DERIVATION) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "X25519: peer public key is a small-order point (all-zero shared secret)");
    }
    return internal::OpenSslError("X25519 derive");
  }
  if (len != kX25519KeySize) return absl::InternalError("X25519 derive returned an unexpected length");
  // Belt and braces: enforce RFC 7748 section 6.1 ourselves rather than rely on the provider's behaviour.
  if (AllZero(shared.span())) {
    return absl::InvalidArgumentError(
        "X25519: peer public key is a small-order point (all-zero shared secret)");
  }
  return shared;
}

}  // namespace veil::crypto
