// Exact samplers for differential privacy: Bernoulli(exp(-gamma)), discrete Laplace and discrete Gaussian
// (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020; below
// CKS20), and real-valued noise at a power-of-two granularity (Google's differential privacy team, "Secure
// Noise Generation", 2020; below SNG).
//
// Exactness. Every sampler here uses only integer and rational arithmetic on uniform bits from RandomBits:
// no floating-point operation decides an outcome, nothing is sampled by inverse CDF, and the output
// distribution is exactly the stated one (except that, with the stated tiny probability, a loop cap is
// reached and the call fails with an Internal error instead of returning a sample). Floating point appears
// only in the real-valued helpers, to read a double as the exact rational it is and to write the exact
// integer result back as the nearest double (post-processing, which cannot weaken differential privacy).
//
// Timing. Running times are random (they are rejection samplers) and depend on the parameters, never on the
// data: the noise added to a value does not depend on the value. Each sampler documents its expected number
// of Bernoulli/uniform steps and the caps on its loops. An adversary who can time a call learns at most
// something about the noise drawn, so callers that release a noisy value must not also release timing with it
// at a finer grain than a whole query (the engine does not).
//
// Errors (all samplers): InvalidArgument for parameters outside the documented range (the message names the
// parameter); the RandomSource's error if it fails; Internal if a loop cap is reached (probability stated per
// sampler, below 2^-80 everywhere).
//
// Thread safety: the functions are thread-safe as long as each thread uses its own RandomBits.
#ifndef VEIL_DP_SAMPLERS_H_
#define VEIL_DP_SAMPLERS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

// ---------------------------------------------------------------------------------------------------------
// Bernoulli(exp(-gamma)), CKS20 Algorithm 1 (gamma in [0, 1]: K <- 1; while Bernoulli(gamma / K): K <- K + 1;
// return K odd) extended to gamma > 1 by floor(gamma) independent Bernoulli(exp(-1)) trials followed by one
// Bernoulli(exp(-(gamma - floor(gamma)))).
// ---------------------------------------------------------------------------------------------------------

// true with probability exactly exp(-num/den). num may be 0 (always true); den > 0.
// Timing: for gamma = num/den <= 1 the expected number of Bernoulli(rational) steps is exp(gamma) <= e; for
// larger gamma the Bernoulli(exp(-1)) trials stop at the first failure, so the expected total stays below
// 1.6 * e + e. Caps: the K loop stops at K = 40 (probability < 1/40! < 2^-159) and at most 64 successive
// Bernoulli(exp(-1)) successes are drawn (probability exp(-64) < 2^-92); both return Internal.
// Errors: InvalidArgument if den == 0; source error; Internal at a cap.
absl::StatusOr<bool> SampleBernoulliExp(RandomBits& bits, uint64_t num, uint64_t den);

// ---------------------------------------------------------------------------------------------------------
// Discrete Laplace, CKS20 Algorithm 2.
// ---------------------------------------------------------------------------------------------------------

// Largest accepted scale_num and scale_den, and largest accepted value of the scale scale_num / scale_den.
inline constexpr uint64_t kMaxLaplaceScaleTerm = uint64_t{1} << 62;
inline constexpr uint64_t kMaxLaplaceScale = uint64_t{1} << 48;

// An integer X with P(X = x) = (1 - q) / (1 + q) * q^|x|, q = exp(-1/t), t = scale_num / scale_den: the
// discrete Laplace distribution with scale t, which makes a query of integer L1 sensitivity D
// (D / t)-differentially private (pure DP). Variance: 2q / (1 - q)^2 (about 2 t^2 for large t).
// Accepted range: 1 <= scale_num, scale_den <= 2^62 and scale_num / scale_den <= 2^48; |X| < 65 t < 2^55.
// Timing: each round draws U uniform in [0, scale_num) (one 64-bit word), a Bernoulli(exp(-U / scale_num))
// (accepted w.p. >= 1 - 1/e), a geometric count V of Bernoulli(exp(-1)) successes (mean 1/(e - 1)) and a sign
// bit; a round is restarted if rejected (or if it would produce "-0"), so it succeeds with probability
// >= (1 - 1/e) / 2 for every scale (>= 0.43 for scales >= 1, about 0.63 for large scales). Expected work for
// large scales: about 1.6 uniform words, 5.5 Bernoulli(rational) steps (8 random bits each) and one sign bit
// per sample, independent of the scale; plus one integer division per round when scale_den > 1 is not a
// power of two.
// Caps: 256 rounds (probability < 2^-140), V <= 64 (probability < 2^-92); Internal at a cap.
// Errors: InvalidArgument outside the accepted range; source error; Internal at a cap.
absl::StatusOr<int64_t> SampleDiscreteLaplace(RandomBits& bits, uint64_t scale_num, uint64_t scale_den);

// Discrete Laplace with a scale given as a double, which is an exact rational m / 2^j: exactly that scale for
// every double in [2^-10, 2^48] (e.g. 2.5 is sampled as 5/2); below 2^-10, where 2^j would exceed 2^62, the
// scale is rounded UP to the nearest num / 2^62 (never less noise than asked). Same timing and errors;
// InvalidArgument also for a non-finite scale or one outside [2^-62, 2^48].
absl::StatusOr<int64_t> SampleDiscreteLaplaceWithScale(RandomBits& bits, double scale);

// ---------------------------------------------------------------------------------------------------------
// Discrete Gaussian, CKS20 Algorithm 3.
// ---------------------------------------------------------------------------------------------------------

// Largest accepted sigma2_num and sigma2_den (so sigma^2 <= 2^48, sigma <= 2^24).
inline constexpr uint64_t kMaxGaussianTerm = uint64_t{1} << 48;

// An integer X with P(X = x) proportional to exp(-x^2 / (2 sigma^2)), sigma^2 = sigma2_num / sigma2_den: the
// discrete Gaussian, which makes a query of integer L2 sensitivity D satisfy (D^2 / (2 sigma^2))-zCDP
// (CKS20 Theorem 4). Its variance is below sigma^2 (CKS20 Corollary 9) and within a relative 1e-12 of it for
// sigma >= 2 (the exact value is the sum over x of x^2 P(x); tests compute it).
// Accepted range: 1 <= sigma2_num, sigma2_den <= 2^48.
// Timing: each round draws a discrete Laplace Y of integer scale t = floor(sigma) + 1 (see above) and accepts
// it with probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)) (a Bernoulli(exp), with one integer division
// when the exponent exceeds 1); a round is accepted with probability >= 0.44 for every sigma (the minimum,
// 0.445, is near sigma = 0.3; 0.54 at sigma = 1, 0.66 to 0.76 for sigma >= 2).
// Expected work: 1.3 to 2.2 discrete Laplace samples per sample.
// Caps: 512 rounds (probability < 0.556^512 < 2^-430) plus the caps of the two samplers above (Internal).
// Errors: InvalidArgument outside the accepted range; source error; Internal at a cap.
absl::StatusOr<int64_t> SampleDiscreteGaussian(RandomBits& bits, uint64_t sigma2_num, uint64_t sigma2_den);

// Discrete Gaussian with sigma given as a double: sigma^2 is computed exactly and rounded UP to the nearest
// rational num / 2^j within the accepted range (exact when possible, e.g. 1.5^2 = 9/4; otherwise a relative
// change of at most 2^-40 for sigma >= 2^-4, growing for smaller sigma). Same timing and errors;
// InvalidArgument also for a non-finite sigma or sigma outside [2^-24, 2^24].
absl::StatusOr<int64_t> SampleDiscreteGaussianWithSigma(RandomBits& bits, double sigma);

// ---------------------------------------------------------------------------------------------------------
// Real-valued noise at a power-of-two granularity (SNG, Sections 4-5).
//
// A real value x and a noise scale s are both doubles, i.e. exact rationals with power-of-two denominators.
// The released value is g * (round(x / g) + Z), where g = 2^k is the granularity chosen from s below, round
// is to the nearest integer (ties to even), and Z is exact discrete noise with scale s / g, an exact
// rational. The result is the exact integer round(x / g) + Z (computed in 128-bit arithmetic) times g,
// converted to the nearest double. Every released value is therefore a multiple of g (or the double nearest
// to one), which closes the floating-point attacks on textbook Laplace noise (Mironov 2012).
//
// Extra sensitivity: rounding moves a value by at most g/2, so two neighbouring inputs whose values differ by
// at most D give rounded values that differ by at most D + g. A mechanism must calibrate for sensitivity
// D + g (mechanisms.h does). The granularities below keep g <= s * 2^-39 (Laplace) and g <= sigma * 2^-19
// (Gaussian), so the privacy cost grows by a relative 2^-39 * s / D, respectively 2^-19 * sigma / D.
// ---------------------------------------------------------------------------------------------------------

// The granularity for Laplace noise of scale `scale`: g = 2^(ceil(log2(scale)) - 40), so that scale / g lies
// in (2^39, 2^40]. Errors: InvalidArgument if scale is not finite or not in [2^-1000, 2^1000].
absl::StatusOr<double> SecureLaplaceGranularity(double scale);

// value rounded to a multiple of g = SecureLaplaceGranularity(scale), plus g times discrete Laplace noise of
// scale exactly scale / g: real-valued Laplace-like noise of scale `scale` (variance about 2 scale^2).
// Guarantee: for values whose L1 distance is at most D, ((D + g) / scale)-DP.
// Timing: that of SampleDiscreteLaplace with scale about 2^40.
// Errors: InvalidArgument if value is not finite, if |value| / g >= 2^100, or for a bad scale (as
// SecureLaplaceGranularity); source error; Internal at a sampler cap.
absl::StatusOr<double> AddSecureLaplaceNoise(RandomBits& bits, double value, double scale);

// The granularity for Gaussian noise of standard deviation `sigma`: g = 2^(ceil(log2(sigma)) - 20), so that
// sigma / g lies in (2^19, 2^20]. Errors: InvalidArgument if sigma is not finite or not in [2^-1000, 2^1000].
absl::StatusOr<double> SecureGaussianGranularity(double sigma);

// The sigma AddSecureGaussianNoise actually uses for `sigma`: sigma / g rounded UP to a multiple of 2^-4,
// times g (so at most a relative 2^-23 larger than sigma; the noise is never smaller than asked). Same
// errors.
absl::StatusOr<double> SecureGaussianSigma(double sigma);

// The sigma to ask AddSecureGaussianNoise for, so that each of `dims` coordinates of a sum whose L2
// sensitivity is `sensitivity` gets noise multiplier at least z AFTER the sampler's rounding: rounding every
// coordinate to the granularity g moves neighbouring sums up to sqrt(dims) g further apart, so the sampler's
// actual sigma' must satisfy sigma' / (sensitivity + sqrt(dims) g) >= z. `requested` is that sigma and
// `actual` the sigma' the sampler uses for it (SecureGaussianSigma). Used by DP-SGD (dims = parameters) and
// DP-FedAvg. Errors: InvalidArgument if z sqrt(dims) 2^-19 >= 1/2 (z too large for that many coordinates
// at the sampler's granularity; `what` names the caller) or for a bad scale; Internal if no sigma within
// 8 relative steps of 1e-6 satisfies the bound (not expected).
struct CalibratedGaussian {
  double requested = 0;
  double actual = 0;
};
absl::StatusOr<CalibratedGaussian> CalibrateSecureGaussian(double z, double sensitivity, size_t dims,
                                                           const char* what);

// value rounded to a multiple of g = SecureGaussianGranularity(sigma), plus g times discrete Gaussian noise
// with sigma' / g = SecureGaussianSigma(sigma) / g exactly (a multiple of 2^-4 in (2^19, 2^20]).
// Guarantee: for values whose L2 distance is at most D, ((D + g)^2 / (2 sigma'^2))-zCDP.
// Timing: that of SampleDiscreteGaussian with sigma about 2^20.
// Errors: InvalidArgument if value is not finite, if |value| / g >= 2^100, or for a bad sigma; source error;
// Internal at a sampler cap.
absl::StatusOr<double> AddSecureGaussianNoise(RandomBits& bits, double value, double sigma);

}  // namespace veil::dp

#endif  // VEIL_DP_SAMPLERS_H_
