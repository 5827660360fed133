// Distributed differential privacy inside secure aggregation: every client adds discrete Gaussian noise to
// its quantized update before masking, so the coordinator only ever sees a noisy sum and need not be trusted
// to add the noise (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for Federated
// Learning with Secure Aggregation", ICML 2021; the sampler is the exact one of Canonne, Kamath, Steinke
// 2020, dp::SampleDiscreteGaussian).
//
// Calibration. The round may lose clients, so the sum may hold as few as n_min = the quorum (min_clients)
// noise shares. Each client therefore adds N_Z(0, sigma^2 / n_min) per coordinate (the per-client variance
// sigma^2 / n_min rounded UP to an exact rational, see PerClientSigma2): the sum over any m >= n_min
// survivors carries variance m * sigma^2 / n_min >= sigma^2 (equality when exactly the quorum survives;
// more noise, never less, with more survivors).
//
// Accounting. The release is the sum of the survivors' quantized, clipped updates plus that noise. With
// integer L2 sensitivity Delta of one client's contribution (QuantizedL2Sensitivity) the mechanism is
// treated as rho-zCDP with rho = Delta^2 / (2 sigma^2) (CKS20 Theorem 4 for one discrete Gaussian of variance
// parameter sigma^2), converted to (epsilon, delta) with dp::ZcdpToEpsilon and composed over rounds with the
// dp accountant. Caveats (docs/fl.md):
//   1. A sum of discrete Gaussians is not exactly a discrete Gaussian; KLS21 (Theorem 1) bound the gap,
//      negligible when the per-client sigma^2 / n_min is at least about 1 (integer units); Account refuses
//      per-client variances below 1.
//   2. Modular wraparound: the sum lives in Z_{2^ring_bits}; if it wrapped, the released value would not be
//      the mechanism's output. The Quantizer's noise_stddev headroom (14 sigma of the largest possible sum
//      noise, m = num_clients) makes that probability below 2^-100 per coordinate; pass the sigma of
//      SumNoiseStddev to QuantizationOptions::noise_stddev.
//   3. Quantization: the sensitivity must be taken after quantization; stochastic rounding can move each
//      coordinate by up to 1, so Delta = clip * scale + sqrt(d) in the worst case (KLS21 use conditional
//      randomized rounding to tighten it; not implemented). Clipping in L2 happens before quantization
//      (the caller clips the float update to L2 norm <= clip_l2).
//   4. Only honest clients' noise counts: if c of the survivors collude with the server and withhold their
//      noise, the sum carries (m - c) sigma^2 / n_min; calibrate n_min to the honest quorum if that matters.
//
// Thread safety: pure functions; AddDistributedNoise uses the caller's RandomBits (one per thread).
#ifndef VEIL_FL_DISTRIBUTED_DP_H_
#define VEIL_FL_DISTRIBUTED_DP_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/random_bits.h"

namespace veil::fl {

struct DistributedDpOptions {
  // Standard deviation of the noise the sum must carry at least, in integer (quantized) units. > 0, finite.
  double sigma = 0;
  // n_min: the fewest clients whose noise can end up in the sum (the round's quorum). >= 1.
  uint32_t min_clients = 1;
};

// The per-client variance as an exact rational num / 2^j >= sigma^2 / min_clients (rounded up, relative
// excess below 2^-46). Errors: InvalidArgument for options outside their ranges or a variance outside
// [2^-40, 2^47] (the sampler accepts num, den <= 2^48).
struct Sigma2 {
  uint64_t num = 0;
  uint64_t den = 1;
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};
absl::StatusOr<Sigma2> PerClientSigma2(const DistributedDpOptions& options);

// quantized[i] += N_Z(0, PerClientSigma2) (mod 2^32) for every coordinate: call before SecAggClient::
// MaskInput. Errors: as PerClientSigma2; the sampler's errors.
absl::Status AddDistributedNoise(const DistributedDpOptions& options, dp::RandomBits& bits,
                                 std::span<uint32_t> quantized);

// Standard deviation of the summed noise when `clients` noise shares are summed (for the Quantizer headroom
// use clients = num_clients, the most).
absl::StatusOr<double> SumNoiseStddev(const DistributedDpOptions& options, uint32_t clients);

// Worst-case integer L2 sensitivity of one client's quantized update: clip_l2 (1 + 2^-24) scale +
// sqrt(dimension) (the cast of the clipped update to float grows its norm by at most a relative 2^-24, and
// stochastic rounding moves each coordinate by less than 1). Errors: InvalidArgument for non-positive or
// non-finite arguments.
absl::StatusOr<double> QuantizedL2Sensitivity(double clip_l2, double scale, uint64_t dimension);

struct DistributedDpCost {
  double rho = 0;      // zCDP of one round: Delta^2 / (2 sigma^2)
  double epsilon = 0;  // dp::ZcdpToEpsilon(rho, delta) for one round
};
// The cost of one round with sensitivity Delta at the given delta. Errors: InvalidArgument for bad
// arguments or a per-client variance below 1 (caveat 1).
absl::StatusOr<DistributedDpCost> Account(const DistributedDpOptions& options, double l2_sensitivity,
                                          double delta);

}  // namespace veil::fl

#endif  // VEIL_FL_DISTRIBUTED_DP_H_
