// Fixed-point encoding of model updates into the ring Z_{2^32} of secure aggregation, and decoding of sums.
//
// Encoding: x is clipped to [-clip, clip], multiplied by `scale` (a power of two, so the product is exact),
// and rounded stochastically to an integer q: floor(x s) + 1 with probability exactly frac(x s), else
// floor(x s), using 64 uniform bits per coordinate from a RandomSource (E[q] = x s exactly: floor, the
// fraction and its comparison with a 64-bit uniform are all exact in double precision for |x s| < 2^52).
// q is stored as a two's-complement uint32.
//
// Headroom: a sum of up to max_clients encodings, plus optional noise (distributed DP, distributed_dp.h),
// must stay inside the signed range so that it decodes unambiguously. Every |q| <= B = ceil(clip * scale),
// so the parameters are accepted only if max_clients * B + noise_headroom <= 2^(ring_bits-1) - 1, where
// noise_headroom is kNoiseTailSigmas times the standard deviation of the summed noise (in integer units).
// With scale = 0 the largest power of two satisfying this is chosen. headroom_bits() =
// ceil(log2(max_clients)) is the number of top bits reserved for the sum, reported for documentation.
//
// Thread safety: a Quantizer is immutable; Encode is thread-safe if the RandomSource is.
#ifndef VEIL_FL_QUANTIZE_H_
#define VEIL_FL_QUANTIZE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"

namespace veil::fl {

// A discrete Gaussian sum Z of standard deviation S satisfies P(|Z| > 14 S) <= 2 exp(-98) < 2^-140 per
// coordinate (it is S-sub-Gaussian, Canonne-Kamath-Steinke 2020), far below 2^-100 even over 2^30
// coordinates.
inline constexpr double kNoiseTailSigmas = 14.0;

struct QuantizationOptions {
  // Inputs are clipped to [-clip, clip]; > 0 and finite.
  double clip = 1.0;
  // Multiplier before rounding: a power of two in [2^-30, 2^30], or 0 (default) for the largest power of two
  // that cannot overflow (see above).
  double scale = 0;
  // The most encodings that will ever be summed (the cohort size). >= 1.
  uint32_t max_clients = 1;
  // Standard deviation of the noise the sum may carry, in integer units (0 = none). >= 0 and finite.
  double noise_stddev = 0;
  // The ring Z_{2^ring_bits} of secure aggregation (SecAggConfig::ring_bits), in [8, 32]: the sum must fit
  // in the signed range (-2^(ring_bits-1), 2^(ring_bits-1)); DecodeSum reads words as signed ring_bits-bit
  // integers (words must be < 2^ring_bits).
  uint32_t ring_bits = 32;
};

class Quantizer {
 public:
  // Errors: InvalidArgument for an option outside its range or if the sum could overflow the signed 32-bit
  // range (the message gives the largest admissible scale).
  static absl::StatusOr<Quantizer> Create(const QuantizationOptions& options);

  double scale() const { return scale_; }
  double clip() const { return clip_; }
  uint32_t max_clients() const { return max_clients_; }
  // B = ceil(clip * scale): the largest |q| of one encoding.
  int64_t max_abs_encoding() const { return max_abs_; }
  // The largest |sum| that Decode accepts: max_clients * B + the noise headroom (<= 2^31 - 1).
  int64_t max_abs_sum() const { return max_abs_sum_; }
  int headroom_bits() const;

  // Encodes x (any length) into out (same length). Errors: InvalidArgument if a value is not finite
  // (naming its index) or the lengths differ; rng's error is propagated.
  absl::Status Encode(std::span<const float> x, base::RandomSource& rng, std::span<uint32_t> out) const;
  absl::StatusOr<std::vector<uint32_t>> Encode(std::span<const float> x, base::RandomSource& rng) const;

  // Decodes a ring sum: each word read as a signed 32-bit integer, divided by scale. Errors: DataLoss if a
  // word's magnitude exceeds max_abs_sum() (the inputs did not respect the parameters, e.g. a client
  // encoded with other options, or the sum is not a sum of encodings).
  absl::StatusOr<std::vector<double>> DecodeSum(std::span<const uint32_t> sum) const;

 private:
  Quantizer(double clip, double scale, uint32_t max_clients, int64_t max_abs, int64_t max_abs_sum,
            uint32_t ring_bits)
      : clip_(clip),
        scale_(scale),
        max_clients_(max_clients),
        max_abs_(max_abs),
        max_abs_sum_(max_abs_sum),
        ring_bits_(ring_bits) {}

  double clip_;
  double scale_;
  uint32_t max_clients_;
  int64_t max_abs_;
  int64_t max_abs_sum_;
  uint32_t ring_bits_;
};

}  // namespace veil::fl

#endif  // VEIL_FL_QUANTIZE_H_
