// Additive-noise mechanisms: the Laplace mechanism (pure epsilon-DP) and the Gaussian mechanism (rho-zCDP),
// each built by a validating factory from a budget and a sensitivity, and each able to add EXACT noise to an
// integer (samplers.h: discrete Laplace, discrete Gaussian; CKS20) or to a double (samplers.h: secure noise
// at a power-of-two granularity; Google, "Secure Noise Generation", 2020), and to report the error a user
// should expect (the noise's standard deviation and a confidence interval) and the privacy cost.
//
//   VEIL_ASSIGN_OR_RETURN(LaplaceMechanism m, LaplaceMechanism::Create(/*epsilon=*/0.5, /*l1=*/1));
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(int64_t noisy_count, m.AddIntegerNoise(bits, count));
//   VEIL_ASSIGN_OR_RETURN(ConfidenceInterval ci, m.Interval(NoiseDomain::kInteger, noisy_count));
//
// Calibration (one scale for both domains). Real values are first rounded to a multiple of the granularity g
// (a power of two chosen from the noise scale, samplers.h), which can move two neighbouring values apart by
// up to g more than their sensitivity D. The mechanisms therefore calibrate for sensitivity D + g:
//   Laplace:  scale b = (D + g(b)) / epsilon,          g(b) = 2^(ceil(log2 b) - 40) <= b 2^-39;
//   Gaussian: sigma   = (D + g(sigma)) / sqrt(2 rho),  g(sigma) = 2^(ceil(log2 sigma) - 20) <= sigma 2^-19,
// each solved by fixed-point iteration (g takes power-of-two values, so it settles in one or two steps) and
// rounded up by a relative 2^-50 so that floating-point rounding can never make the noise smaller than the
// formula; sigma is then rounded up as SecureGaussianSigma does. The scale formulas are calibration.h's
// (LaplaceScale, GaussianSigmaForRho); the extra noise over D / epsilon (D / sqrt(2 rho)) is a relative
// 2^-39 b / D (2^-19 sigma / D), negligible unless epsilon or rho is huge.
//
// Integer noise (Add*Noise(RandomBits&, int64_t)): if g < 1, value + exact discrete noise of that scale
// (CKS20); the guarantee then holds for integer sensitivity floor(D) (a real D is fine: integer queries
// differ by an integer). If g >= 1 (scale above 2^40, sigma above 2^20), value rounded to a multiple of g
// plus g times discrete noise of scale / g, computed exactly in integers, as the real path does.
// Real noise (Add*Noise(RandomBits&, double)): samplers.h's AddSecureLaplaceNoise / AddSecureGaussianNoise.
//
// An integer result beyond the int64 range saturates at INT64_MIN / INT64_MAX (post-processing of the exact
// sum, so the guarantee is unchanged; an error there would reveal something about the value).
//
// Errors: the factories return InvalidArgument naming the bad parameter (epsilon, rho, delta, sensitivity)
// or saying that the resulting noise scale is outside the samplers' range (e.g. epsilon 1e300, or epsilon so
// small that b = (D + g(b)) / epsilon has no solution, below about 2^-39). AddRealNoise returns
// InvalidArgument for a non-finite value or one too large for the scale (|value| / g >= 2^100); both Add*
// functions return the RandomSource's error, or Internal if a sampler's loop cap is hit.
//
// Thread safety: a mechanism is an immutable value; its const methods are safe from any thread, each thread
// with its own RandomBits.
#ifndef VEIL_DP_MECHANISMS_H_
#define VEIL_DP_MECHANISMS_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "veil/dp/accountant.h"
#include "veil/dp/calibration.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

// Which of a mechanism's two noise paths a figure is about: AddIntegerNoise (kInteger) or AddRealNoise
// (kReal). The two differ for small scales: discrete noise of scale 1 is not real noise of scale 1.
enum class NoiseDomain { kInteger, kReal };

// An interval that contains the pre-noise value with probability at least `level` (over the noise), given
// the released value: [released - half_width, released + half_width].
struct ConfidenceInterval {
  double lower = 0;
  double upper = 0;
  double level = 0;  // e.g. 0.95
  double half_width = 0;
};

// The Laplace mechanism (Dwork, McSherry, Nissim, Smith 2006) with exact discrete noise: pure epsilon-DP for
// a query of L1 sensitivity l1_sensitivity (neighbouring inputs = datasets differing in one privacy unit).
class LaplaceMechanism {
 public:
  // Errors: InvalidArgument if epsilon is not finite and > 0, if l1_sensitivity is not finite and > 0, or
  // if the scale l1 / epsilon is outside [2^-60, 2^1000] (the samplers' range).
  static absl::StatusOr<LaplaceMechanism> Create(double epsilon, double l1_sensitivity);

  // value + noise, exactly (see "Integer noise" above). Guarantee: epsilon-DP for integer-valued queries of
  // L1 sensitivity l1_sensitivity(). Errors: see the file comment.
  absl::StatusOr<int64_t> AddIntegerNoise(RandomBits& bits, int64_t value) const;

  // value rounded to a multiple of granularity() + granularity() * discrete Laplace of scale()/granularity().
  // Guarantee: epsilon-DP for real-valued queries of L1 sensitivity l1_sensitivity(). Errors: see above.
  absl::StatusOr<double> AddRealNoise(RandomBits& bits, double value) const;

  double epsilon() const { return epsilon_; }
  double l1_sensitivity() const { return l1_; }
  // The noise scale b: P(noise = x) proportional to exp(-|x| / b) (on the integers, or on multiples of g).
  double scale() const { return scale_; }
  // The granularity g (a power of two) of the real path (and of the integer path when g >= 1).
  double granularity() const { return granularity_; }
  // The privacy cost: (epsilon, 0).
  ApproxDp cost() const { return ApproxDp{epsilon_, 0}; }

  // The exact standard deviation of the noise added in `domain` (calibration.h's DiscreteLaplaceStddev of the
  // scale in that domain's units, times g where noise is granular).
  double NoiseStddev(NoiseDomain domain) const;

  // The interval around a released value that holds the pre-noise value with probability >= level: the
  // smallest symmetric one for the discrete noise (calibration.h's DiscreteLaplaceCiHalfWidth), widened by
  // g/2 on the real path to cover the rounding of the input. Errors: InvalidArgument unless 0 < level < 1
  // and `released` is finite.
  absl::StatusOr<ConfidenceInterval> Interval(NoiseDomain domain, double released, double level = 0.95) const;

 private:
  LaplaceMechanism() = default;
  bool IntegerIsGranular() const { return granularity_ >= 1; }

  double epsilon_ = 0;
  double l1_ = 0;
  double scale_ = 0;
  double granularity_ = 0;
};

// The Gaussian mechanism with the discrete Gaussian (CKS20 Theorem 4): rho-zCDP for a query of L2 sensitivity
// l2_sensitivity, hence (epsilon, delta)-DP through the tight conversion (CKS20 Corollary 13, accountant.h).
class GaussianMechanism {
 public:
  // From a zCDP budget. Errors: InvalidArgument if rho or l2_sensitivity is not finite and > 0, or if the
  // resulting sigma is outside [2^-20, 2^1000].
  static absl::StatusOr<GaussianMechanism> CreateFromRho(double rho, double l2_sensitivity);

  // From an (epsilon, delta) target: rho = ApproxDpToZcdp({epsilon, delta}) (the largest rho whose tight
  // conversion meets the target), then as CreateFromRho. Errors: InvalidArgument unless epsilon is finite
  // and > 0 and 0 < delta < 1, and as CreateFromRho.
  static absl::StatusOr<GaussianMechanism> CreateFromEpsilonDelta(double epsilon, double delta,
                                                                  double l2_sensitivity);

  // value + noise, exactly (see "Integer noise" above). Guarantee: rho-zCDP for integer-valued queries of L2
  // sensitivity l2_sensitivity(). Errors: see the file comment.
  absl::StatusOr<int64_t> AddIntegerNoise(RandomBits& bits, int64_t value) const;

  // value rounded to a multiple of granularity() + granularity() * discrete Gaussian with sigma() /
  // granularity(). Guarantee: rho-zCDP for real-valued queries of L2 sensitivity l2_sensitivity().
  absl::StatusOr<double> AddRealNoise(RandomBits& bits, double value) const;

  double rho() const { return rho_; }
  double l2_sensitivity() const { return l2_; }
  // The sigma of the discrete Gaussian actually sampled (in value units): P(noise = x) proportional to
  // exp(-x^2 / (2 sigma^2)).
  double sigma() const { return sigma_; }
  double granularity() const { return granularity_; }
  // The (epsilon, delta) the mechanism was created from (CreateFromEpsilonDelta), else nullopt.
  const std::optional<ApproxDp>& target() const { return target_; }
  // The (epsilon, delta)-DP cost at this delta: (ZcdpToEpsilon(rho, delta), delta).
  // Errors: InvalidArgument unless 0 < delta < 1.
  absl::StatusOr<ApproxDp> CostAtDelta(double delta) const;

  // The exact standard deviation of the noise (calibration.h's DiscreteGaussianStddev, in the domain's units,
  // times g where the noise is granular): slightly below sigma() for small sigma.
  double NoiseStddev(NoiseDomain domain) const;

  // As LaplaceMechanism::Interval, with calibration.h's DiscreteGaussianCiHalfWidth.
  absl::StatusOr<ConfidenceInterval> Interval(NoiseDomain domain, double released, double level = 0.95) const;

 private:
  GaussianMechanism() = default;
  bool IntegerIsGranular() const { return granularity_ >= 1; }

  double rho_ = 0;
  double l2_ = 0;
  double sigma_ = 0;
  double granularity_ = 0;
  std::optional<ApproxDp> target_;
};

}  // namespace veil::dp

#endif  // VEIL_DP_MECHANISMS_H_
