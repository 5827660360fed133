#include "veil/fl/mask_prg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::fl {
namespace {

// Words per keystream chunk: 16 KiB, which stays in L1 between generation and use.
constexpr size_t kChunkWords = 4096;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// AES-256-CTR, fetched once (explicit fetching avoids a provider lookup on every initialisation).
const EVP_CIPHER* Aes256Ctr() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  return cipher;
}

const std::array<uint8_t, 16>& ZeroBlock() {
  static const std::array<uint8_t, 16> zero{};
  return zero;
}

absl::StatusOr<CtxPtr> NewCtr(std::span<const uint8_t> key, std::span<const uint8_t> iv) {
  if (key.size() != kMaskSeedBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("mask PRG: seed must be ", kMaskSeedBytes, " bytes, got ", key.size()));
  }
  if (iv.size() != 16) return absl::InvalidArgumentError("mask PRG: counter block must be 16 bytes");
  const EVP_CIPHER* cipher = Aes256Ctr();
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (cipher == nullptr || ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), iv.data(), nullptr) != 1) {
    return absl::InternalError("mask PRG: OpenSSL AES-256-CTR initialisation failed");
  }
  return ctx;
}

absl::Status Keystream(EVP_CIPHER_CTX* ctx, uint8_t* out, size_t n) {
  static const std::array<uint8_t, kChunkWords * 4> zeros{};
  while (n > 0) {
    const size_t m = std::min(n, zeros.size());
    int len = 0;
    if (EVP_EncryptUpdate(ctx, out, &len, zeros.data(), static_cast<int>(m)) != 1 ||
        static_cast<size_t>(len) != m) {
      return absl::InternalError("mask PRG: OpenSSL AES-256-CTR failed");
    }
    out += m;
    n -= m;
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {
absl::Status AesCtrKeystream(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                             std::span<uint8_t> out) {
  VEIL_ASSIGN_OR_RETURN(CtxPtr ctx, NewCtr(key, iv));
  return Keystream(ctx.get(), out.data(), out.size());
}
}  // namespace internal

absl::Status AddMask(const base::SecretBytes& seed, std::span<uint32_t> acc, bool subtract) {
  VEIL_ASSIGN_OR_RETURN(CtxPtr ctx, NewCtr(seed.span(), ZeroBlock()));
  alignas(64) uint32_t chunk[kChunkWords];
  for (size_t off = 0; off < acc.size(); off += kChunkWords) {
    const size_t m = std::min(kChunkWords, acc.size() - off);
    VEIL_RETURN_IF_ERROR(Keystream(ctx.get(), reinterpret_cast<uint8_t*>(chunk), m * 4));
    uint32_t* a = acc.data() + off;
    // Little-endian hosts only read the keystream bytes as words directly (x86-64, AArch64).
    static_assert(std::endian::native == std::endian::little, "mask PRG assumes a little-endian host");
    if (subtract) {
      for (size_t i = 0; i < m; ++i) a[i] -= chunk[i];
    } else {
      for (size_t i = 0; i < m; ++i) a[i] += chunk[i];
    }
  }
  OPENSSL_cleanse(chunk, sizeof(chunk));
  return absl::OkStatus();
}

struct MaskExpander::Impl {
  std::vector<CtxPtr> ctxs;
  alignas(64) uint32_t chunk[kMaskBlockWords];
};

MaskExpander::MaskExpander() : impl_(new Impl) {}
MaskExpander::~MaskExpander() {
  OPENSSL_cleanse(impl_->chunk, sizeof(impl_->chunk));
  delete impl_;  // EVP_CIPHER_CTX_free wipes the key schedules
}

absl::Status MaskExpander::AddMasks(std::span<const SignedSeed> seeds, std::span<uint32_t> acc) {
  const EVP_CIPHER* cipher = Aes256Ctr();
  if (cipher == nullptr) return absl::InternalError("mask PRG: OpenSSL has no AES-256-CTR");
  while (impl_->ctxs.size() < seeds.size()) {
    CtxPtr ctx(EVP_CIPHER_CTX_new());
    if (ctx == nullptr) return absl::InternalError("mask PRG: OpenSSL context allocation failed");
    impl_->ctxs.push_back(std::move(ctx));
  }
  for (size_t j = 0; j < seeds.size(); ++j) {
    if (seeds[j].seed == nullptr || seeds[j].seed->size() != kMaskSeedBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("mask PRG: seed ", j, " must be ", kMaskSeedBytes, " bytes"));
    }
    if (EVP_EncryptInit_ex2(impl_->ctxs[j].get(), cipher, seeds[j].seed->data(), ZeroBlock().data(),
                            nullptr) != 1) {
      return absl::InternalError("mask PRG: OpenSSL AES-256-CTR initialisation failed");
    }
  }
  uint32_t* chunk = impl_->chunk;
  absl::Status status = absl::OkStatus();
  for (size_t off = 0; off < acc.size() && status.ok(); off += kMaskBlockWords) {
    const size_t m = std::min(kMaskBlockWords, acc.size() - off);
    uint32_t* __restrict a = acc.data() + off;
    for (size_t j = 0; j < seeds.size(); ++j) {
      status = Keystream(impl_->ctxs[j].get(), reinterpret_cast<uint8_t*>(chunk), m * 4);
      if (!status.ok()) break;
      const uint32_t* __restrict c = chunk;
      if (seeds[j].subtract) {
        for (size_t i = 0; i < m; ++i) a[i] -= c[i];
      } else {
        for (size_t i = 0; i < m; ++i) a[i] += c[i];
      }
    }
  }
  OPENSSL_cleanse(chunk, sizeof(impl_->chunk));
  return status;
}

absl::StatusOr<std::vector<uint32_t>> ExpandMask(const base::SecretBytes& seed, size_t length) {
  std::vector<uint32_t> out(length, 0);
  VEIL_RETURN_IF_ERROR(AddMask(seed, out));
  return out;
}

absl::Status AddVectors(std::span<uint32_t> acc, std::span<const uint32_t> x) {
  if (acc.size() != x.size()) {
    return absl::InvalidArgumentError(absl::StrCat("vector lengths differ: ", acc.size(), " and ", x.size()));
  }
  for (size_t i = 0; i < acc.size(); ++i) acc[i] += x[i];
  return absl::OkStatus();
}

}  // namespace veil::fl
