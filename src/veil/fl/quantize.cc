#include "veil/fl/quantize.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"

namespace veil::fl {
namespace {

// Random bytes drawn per RandomSource call while encoding.
constexpr size_t kRandomBatch = 4096;

bool IsPowerOfTwo(double s) {
  int exp = 0;
  return std::frexp(s, &exp) == 0.5;
}

}  // namespace

absl::StatusOr<Quantizer> Quantizer::Create(const QuantizationOptions& o) {
  if (!(o.clip > 0) || !std::isfinite(o.clip)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization: clip must be positive and finite, got ", o.clip));
  }
  if (o.max_clients == 0) return absl::InvalidArgumentError("quantization: max_clients must be at least 1");
  if (!(o.noise_stddev >= 0) || !std::isfinite(o.noise_stddev)) {
    return absl::InvalidArgumentError("quantization: noise_stddev must be finite and non-negative");
  }
  if (o.ring_bits < 8 || o.ring_bits > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization: ring_bits ", o.ring_bits, " is outside [8, 32]"));
  }
  const int64_t max_signed = (int64_t{1} << (o.ring_bits - 1)) - 1;
  const double noise_headroom = std::ceil(kNoiseTailSigmas * o.noise_stddev);
  const double budget = static_cast<double>(max_signed) - noise_headroom;
  // Largest B with max_clients * B <= budget, then the largest power-of-two scale with ceil(clip * s) <= B.
  const double max_b = std::floor(budget / o.max_clients);
  double scale = o.scale;
  if (scale == 0) {
    if (max_b < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantization: ", o.max_clients, " clients and the noise headroom leave no room"));
    }
    int exp = 0;
    std::frexp(max_b / o.clip, &exp);  // max_b / clip in [2^(exp-1), 2^exp)
    scale = std::ldexp(1.0, exp - 1);
    if (scale > std::ldexp(1.0, 30)) scale = std::ldexp(1.0, 30);
  }
  if (!(scale >= std::ldexp(1.0, -30) && scale <= std::ldexp(1.0, 30)) || !IsPowerOfTwo(scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization: scale must be a power of two in [2^-30, 2^30], got ", scale));
  }
  const double b = std::ceil(o.clip * scale);
  if (!(b <= max_b)) {
    int exp = 0;
    std::frexp(std::max(max_b, 1.0) / o.clip, &exp);
    return absl::InvalidArgumentError(absl::StrFormat(
        "quantization: the sum of %u clients with clip %g and scale %g (plus noise headroom %g) could "
        "overflow the signed %u-bit ring; the largest admissible scale is 2^%d",
        o.max_clients, o.clip, scale, noise_headroom, o.ring_bits, exp - 1));
  }
  const int64_t max_abs = static_cast<int64_t>(b);
  return Quantizer(o.clip, scale, o.max_clients, max_abs,
                   static_cast<int64_t>(o.max_clients) * max_abs + static_cast<int64_t>(noise_headroom),
                   o.ring_bits);
}

int Quantizer::headroom_bits() const {
  int bits = 0;
  while ((uint64_t{1} << bits) < max_clients_) ++bits;
  return bits;
}

absl::Status Quantizer::Encode(std::span<const float> x, base::RandomSource& rng,
                               std::span<uint32_t> out) const {
  if (x.size() != out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization: input has ", x.size(), " values, output ", out.size()));
  }
  uint64_t random[kRandomBatch / 8];
  absl::Cleanup wipe = [&random] { OPENSSL_cleanse(random, sizeof(random)); };  // on every return
  for (size_t off = 0; off < x.size(); off += kRandomBatch / 8) {
    const size_t m = std::min(kRandomBatch / 8, x.size() - off);
    VEIL_RETURN_IF_ERROR(rng.Fill({reinterpret_cast<uint8_t*>(random), m * 8}));
    for (size_t i = 0; i < m; ++i) {
      const double v = x[off + i];
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("quantization: value at index ", off + i, " is not finite"));
      }
      const double y = std::clamp(v, -clip_, clip_) * scale_;  // exact: scale is a power of two
      const double f = std::floor(y);
      const double frac = y - f;  // exact, in [0, 1)
      // floor(frac 2^64), exactly, in two 32-bit halves: every product by a power of two and x - floor(x)
      // are exact, and converting a double below 2^32 to an integer has no branch. (Converting frac 2^64
      // directly is a compare-and-branch on >= 2^63 that the processor mispredicts for half the values:
      // a third of the encoding's time.)
      const double f32 = frac * 0x1p32;
      const double hi = std::floor(f32);
      const uint64_t threshold = (static_cast<uint64_t>(static_cast<int64_t>(hi)) << 32) |
                                 static_cast<uint64_t>(static_cast<int64_t>((f32 - hi) * 0x1p32));
      const int64_t q = static_cast<int64_t>(f) + (random[i] < threshold ? 1 : 0);
      out[off + i] = static_cast<uint32_t>(q);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> Quantizer::Encode(std::span<const float> x,
                                                        base::RandomSource& rng) const {
  std::vector<uint32_t> out(x.size());
  VEIL_RETURN_IF_ERROR(Encode(x, rng, out));
  return out;
}

absl::StatusOr<std::vector<double>> Quantizer::DecodeSum(std::span<const uint32_t> sum) const {
  std::vector<double> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    if (ring_bits_ < 32 && (sum[i] >> ring_bits_) != 0) {
      return absl::DataLossError(
          absl::StrCat("quantization: sum at index ", i, " is not a ", ring_bits_, "-bit ring element"));
    }
    // Sign-extend from ring_bits bits.
    const uint32_t shift = 32 - ring_bits_;
    const int64_t v = static_cast<int32_t>(sum[i] << shift) >> shift;
    if (v > max_abs_sum_ || -v > max_abs_sum_) {
      return absl::DataLossError(absl::StrCat("quantization: sum at index ", i,
                                              " exceeds the declared range (overflow or foreign encoding)"));
    }
    out[i] = static_cast<double>(v) / scale_;
  }
  return out;
}

}  // namespace veil::fl
