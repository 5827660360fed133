#include "veil/crypto/sha256.h"

#include <openssl/sha.h>

#include <algorithm>

#include "veil/crypto/openssl_util.h"

namespace veil::crypto {

// See the header for why this one function uses the deprecated low-level interface.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Sha256Digest Sha256Concat(std::initializer_list<std::span<const uint8_t>> parts) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (std::span<const uint8_t> part : parts) SHA256_Update(&ctx, part.data(), part.size());
  Sha256Digest out;
  SHA256_Final(out.data(), &ctx);
  return out;
}
#pragma GCC diagnostic pop
namespace {

void InitOrDie(EVP_MD_CTX* ctx) {
  const EVP_MD* md = internal::Sha256Md();
  if (md == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1) {
    internal::FatalOpenSslError("SHA-256 initialisation");
  }
}

void UpdateOrDie(EVP_MD_CTX* ctx, std::span<const uint8_t> data) {
  // EVP_DigestUpdate takes a size_t, but chunking keeps every provider's int-based paths safe.
  while (!data.empty()) {
    const size_t n = std::min(data.size(), internal::kMaxChunk);
    if (EVP_DigestUpdate(ctx, data.data(), n) != 1) internal::FatalOpenSslError("SHA-256 update");
    data = data.subspan(n);
  }
}

Sha256Digest FinalOrDie(EVP_MD_CTX* ctx) {
  Sha256Digest digest;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, digest.data(), &len) != 1 || len != digest.size()) {
    internal::FatalOpenSslError("SHA-256 finalisation");
  }
  return digest;
}

}  // namespace

Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Final();
}

Sha256Digest Sha256(std::string_view data) { return Sha256(internal::AsBytes(data)); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) internal::FatalOpenSslError("EVP_MD_CTX_new");
  InitOrDie(ctx_.get());
}

void Sha256Hasher::Update(std::span<const uint8_t> data) { UpdateOrDie(ctx_.get(), data); }

void Sha256Hasher::Update(std::string_view data) { Update(internal::AsBytes(data)); }

Sha256Digest Sha256Hasher::Final() {
  Sha256Digest digest = FinalOrDie(ctx_.get());
  InitOrDie(ctx_.get());
  return digest;
}

}  // namespace veil::crypto
