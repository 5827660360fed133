#include "veil/crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <span>
#include <utility>

#include "absl/status/status.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/openssl_util.h"

namespace veil::crypto {
namespace {

class OpenSslRandom final : public base::RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t> out) override {
    // RAND_bytes takes an int length; larger requests are served in pieces.
    while (!out.empty()) {
      const size_t n = std::min(out.size(), internal::kMaxChunk);
      if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
        // Do not hand back a partially filled buffer that a careless caller might still use.
        OPENSSL_cleanse(out.data(), out.size());
        return internal::OpenSslError("RAND_bytes failed");
      }
      out = out.subspan(n);
    }
    return absl::OkStatus();
  }
};

}  // namespace

base::RandomSource& SecureRandom() {
  // Leaked on purpose: usable during static destruction of other objects, and no destructor ordering issues.
  static OpenSslRandom* const random = new OpenSslRandom();
  return *random;
}

base::Env& DefaultEnv() {
  static base::Env* const env = base::NewPosixEnv(SecureRandom()).release();
  return *env;
}

absl::StatusOr<base::SecretBytes> RandomKey(size_t n, base::RandomSource& rng) {
  base::SecretBytes key(n);
  VEIL_RETURN_IF_ERROR(rng.Fill(key.span()));
  return key;
}

absl::StatusOr<std::vector<uint8_t>> RandomBytes(size_t n, base::RandomSource& rng) {
  std::vector<uint8_t> bytes(n);
  VEIL_RETURN_IF_ERROR(rng.Fill(bytes));
  return bytes;
}

absl::StatusOr<uint64_t> RandomUint64(base::RandomSource& rng) {
  uint8_t buf[8];
  VEIL_RETURN_IF_ERROR(rng.Fill(buf));
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | buf[i];
  OPENSSL_cleanse(buf, sizeof(buf));
  return v;
}

absl::StatusOr<uint64_t> UniformUint64(base::RandomSource& rng, uint64_t bound) {
  if (bound == 0) return absl::InvalidArgumentError("UniformUint64: bound must be positive");
  // threshold = 2^64 mod bound, computed in 64-bit arithmetic as (2^64 - bound) mod bound. The accepted draws
  // [threshold, 2^64) number 2^64 - threshold, a multiple of bound, so x mod bound is exactly uniform.
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(uint64_t x, RandomUint64(rng));
    if (x >= threshold) return x % bound;
  }
}

}  // namespace veil::crypto
