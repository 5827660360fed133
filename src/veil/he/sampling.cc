#include "veil/he/sampling.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::he {

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

}  // namespace

absl::Status ExpandUniform(const Seed& seed, uint64_t domain, const CkksContext& ctx, size_t first_prime,
                           RnsPoly* out) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> cipher(EVP_CIPHER_CTX_new());
  if (cipher == nullptr) return absl::InternalError("EVP_CIPHER_CTX_new failed");
  constexpr size_t kChunk = 4096;
  static const uint8_t kZeros[kChunk] = {};
  uint8_t stream[kChunk];
  const size_t n = ctx.n();
  for (size_t i = 0; i < out->limbs; ++i) {
    const size_t prime_index = first_prime + i;
    uint8_t iv[16] = {};
    for (int b = 0; b < 8; ++b) iv[b] = static_cast<uint8_t>(domain >> (8 * b));
    for (int b = 0; b < 4; ++b) iv[8 + b] = static_cast<uint8_t>(prime_index >> (8 * b));
    if (EVP_EncryptInit_ex(cipher.get(), EVP_aes_256_ctr(), nullptr, seed.data(), iv) != 1) {
      return absl::InternalError("AES-256-CTR initialisation failed");
    }
    const Modulus& q = ctx.modulus(prime_index);
    const uint64_t mask = q.bits() == 64 ? ~uint64_t{0} : (uint64_t{1} << q.bits()) - 1;
    std::span<uint64_t> limb = out->limb(i);
    size_t filled = 0;
    while (filled < n) {
      int len = 0;
      if (EVP_EncryptUpdate(cipher.get(), stream, &len, kZeros, kChunk) != 1 ||
          len != static_cast<int>(kChunk)) {
        return absl::InternalError("AES-256-CTR keystream generation failed");
      }
      for (size_t off = 0; off + 8 <= kChunk && filled < n; off += 8) {
        uint64_t v = 0;
        for (int b = 0; b < 8; ++b) v |= static_cast<uint64_t>(stream[off + b]) << (8 * b);
        v &= mask;
        if (v < q.value()) limb[filled++] = v;
      }
    }
  }
  out->ntt_form = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> SampleTernary(size_t n, base::RandomSource& rng) {
  std::vector<int64_t> out(n);
  std::vector<uint8_t> bytes(n + n / 64 + 16);
  size_t filled = 0;
  while (filled < n) {
    VEIL_RETURN_IF_ERROR(rng.Fill(bytes));
    for (size_t i = 0; i < bytes.size() && filled < n; ++i) {
      if (bytes[i] == 255) continue;  // 255 = 3 * 85 values are kept: no modulo bias
      out[filled++] = static_cast<int64_t>(bytes[i] % 3) - 1;
    }
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());  // the bytes determine the secret
  return out;
}

absl::StatusOr<std::vector<int64_t>> SampleCenteredBinomial(size_t n, base::RandomSource& rng) {
  static_assert(2 * kErrorEta <= 48);
  std::vector<uint8_t> bytes(6 * n);  // 48 bits per coefficient, 42 used
  VEIL_RETURN_IF_ERROR(rng.Fill(bytes));
  std::vector<int64_t> out(n);
  const uint64_t eta_mask = (uint64_t{1} << kErrorEta) - 1;
  for (size_t i = 0; i < n; ++i) {
    uint64_t bits = 0;
    for (int b = 0; b < 6; ++b) bits |= static_cast<uint64_t>(bytes[6 * i + b]) << (8 * b);
    out[i] = std::popcount(bits & eta_mask) - std::popcount((bits >> kErrorEta) & eta_mask);
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace veil::he
