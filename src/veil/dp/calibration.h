// Calibration: from a privacy budget and a sensitivity to a noise scale, and from a noise scale to the error
// a user should expect (standard deviation and confidence-interval half-width).
//
// Sensitivities are per privacy unit (one data subject) after contribution bounding: a subject contributes to
// at most L0 groups (max_groups_contributed) and changes each group's value by at most Linf.
//
// Pure math: deterministic, no randomness, thread-safe. The normal quantile here is for REPORTING error only;
// noise is never sampled from it (DESIGN.md 5.7).
//
// Errors: InvalidArgument naming the parameter and why, for NaN, infinite or out-of-range inputs.
// Parameterisations:
//   Laplace(b)            density exp(-|x|/b) / (2b).
//   DiscreteLaplace(t)    integer pmf proportional to exp(-|x|/t), t > 0 (CKS20's Lap_Z(t)).
//   Gaussian(sigma)       N(0, sigma^2).
//   DiscreteGaussian(s)   integer pmf proportional to exp(-x^2 / (2 s^2)) (CKS20's N_Z(0, s^2)).
#ifndef VEIL_DP_CALIBRATION_H_
#define VEIL_DP_CALIBRATION_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace veil::dp {

// The default confidence-interval failure probability: 0.05, i.e. 95% intervals.
inline constexpr double kDefaultCiAlpha = 0.05;

// ---------------------------------------------------------------------------------------------------------
// Sensitivity from contribution bounds (a subject touches at most l0 groups, each by at most linf).

// L1 = l0 * linf. Errors: l0 < 1, linf not finite >= 0.
absl::StatusOr<double> L1Sensitivity(int64_t l0, double linf);
// L2 = sqrt(l0) * linf. Same errors.
absl::StatusOr<double> L2Sensitivity(int64_t l0, double linf);

// ---------------------------------------------------------------------------------------------------------
// Budget -> noise scale. Sensitivities must be finite and > 0.

// Laplace mechanism: b = l1 / epsilon gives pure epsilon-DP (Dwork, McSherry, Nissim, Smith 2006).
absl::StatusOr<double> LaplaceScale(double l1_sensitivity, double epsilon);

// Discrete Laplace on integer-valued queries with integer L1 sensitivity: t = l1 / epsilon gives pure
// epsilon-DP (CKS20, Section 2; Ghosh, Roughgarden, Sundararajan 2009). Errors additionally if l1 is not an
// integer (scale the query to integers first).
absl::StatusOr<double> DiscreteLaplaceScale(double l1_sensitivity, double epsilon);

// Gaussian (continuous or discrete) with sigma = l2 / sqrt(2 rho) is rho-zCDP (Bun & Steinke 2016, Prop 1.6;
// for the discrete Gaussian with integer l2: CKS20, Theorem 4).
absl::StatusOr<double> GaussianSigmaForRho(double l2_sensitivity, double rho);
// The inverse: rho = l2^2 / (2 sigma^2).
absl::StatusOr<double> RhoForGaussianSigma(double l2_sensitivity, double sigma);

// The analytic Gaussian mechanism (Balle & Wang 2018, "Improving the Gaussian Mechanism for Differential
// Privacy", Theorem 8): the smallest sigma such that N(0, sigma^2) noise on a query of L2 sensitivity l2 is
// (epsilon, delta)-DP, i.e. such that
//   Phi(l2/(2 sigma) - epsilon sigma/l2) - e^epsilon Phi(-l2/(2 sigma) - epsilon sigma/l2) <= delta.
// Found by bisection on sigma with the exact condition (Phi via erfc, in log space where it underflows) to a
// relative accuracy of 1e-12, rounded up (the returned sigma satisfies the condition). For epsilon = 1,
// delta = 1e-5, l2 = 1 it is about 3.73. Valid for any epsilon > 0 (no epsilon < 1 restriction).
// Scope: this is exact for CONTINUOUS Gaussian noise. Veil's samplers draw the discrete Gaussian, whose
// guarantee is stated in zCDP: calibrate those with GaussianSigmaForRho(l2, ApproxDpToZcdp({eps, delta}))
// (sigma ~4.05 for the same target) and report them with QueryAccountant::AddGaussian. A mechanism calibrated
// with this function must be reported with QueryAccountant::AddApproxDp({epsilon, delta}): its rho
// (l2^2 / (2 sigma^2)) converted back through zCDP would charge more than epsilon.
// Errors: l2 or epsilon not finite > 0, delta not in (0, 1).
absl::StatusOr<double> AnalyticGaussianSigma(double l2_sensitivity, double epsilon, double delta);
// The exact delta of the Gaussian mechanism with this sigma at this epsilon (the left side above).
absl::StatusOr<double> AnalyticGaussianDelta(double l2_sensitivity, double sigma, double epsilon);
// The classic bound sigma = sqrt(2 ln(1.25/delta)) l2 / epsilon (Dwork & Roth 2014, Theorem A.1), valid only
// for epsilon < 1 (InvalidArgument otherwise). Kept for comparison; it is always larger than the analytic
// one.
absl::StatusOr<double> ClassicGaussianSigma(double l2_sensitivity, double epsilon, double delta);

// ---------------------------------------------------------------------------------------------------------
// Noise scale -> expected error. Scales must be finite and > 0; alpha in (0, 1) is the probability that the
// noise falls outside the interval (the interval's level is 1 - alpha; default 95%).

// Standard deviations.
absl::StatusOr<double> LaplaceStddev(double scale);  // sqrt(2) b
// sqrt(2 p) / (1 - p) with p = e^{-1/t} (variance 2p / (1-p)^2).
absl::StatusOr<double> DiscreteLaplaceStddev(double scale);
// The EXACT standard deviation of the discrete Gaussian (<= sigma, CKS20 Corollary 9): the variance is
// sum x^2 e^{-x^2/2s^2} / sum e^{-x^2/2s^2}, computed by direct summation for s < 1 and, for s >= 1, by its
// Poisson-summation (Jacobi theta) dual series, which converges in a few terms:
//   Var = s^2 (1 + 2 sum_k (1 - 4 pi^2 s^2 k^2) e^{-2 pi^2 s^2 k^2}) / (1 + 2 sum_k e^{-2 pi^2 s^2 k^2}).
absl::StatusOr<double> DiscreteGaussianStddev(double sigma);

// Confidence-interval half-widths w: P(|noise| <= w) >= 1 - alpha, and w is the smallest such value
// (for the discrete distributions: the smallest integer k).
// Laplace: w = b ln(1/alpha) (exact).
absl::StatusOr<double> LaplaceCiHalfWidth(double scale, double alpha = kDefaultCiAlpha);
// Discrete Laplace: P(|X| > k) = 2 p^{k+1} / (1 + p), p = e^{-1/t}; the smallest k with that <= alpha (closed
// form, then checked against the neighbouring integers).
absl::StatusOr<int64_t> DiscreteLaplaceCiHalfWidth(double scale, double alpha = kDefaultCiAlpha);
// Gaussian: w = z_{1 - alpha/2} sigma (NormalQuantile below).
absl::StatusOr<double> GaussianCiHalfWidth(double sigma, double alpha = kDefaultCiAlpha);
// Discrete Gaussian: the smallest integer k with P(|X| > k) <= alpha, from the exact tail sum
// (direct summation for sigma < 100, Euler-Maclaurin with three Bernoulli corrections above, relative error
// < 1e-12; normaliser by Poisson summation), by galloping and binary search on k. Errors additionally if
// sigma > 1e12. Cost: ~20 us at sigma = 50.
absl::StatusOr<int64_t> DiscreteGaussianCiHalfWidth(double sigma, double alpha = kDefaultCiAlpha);

// The standard normal quantile Phi^{-1}(p) for 0 < p < 1: Wichura 1988, Algorithm AS 241 (PPND16), relative
// accuracy about 1e-16. For reporting only, never for sampling. Errors: p not in (0, 1).
absl::StatusOr<double> NormalQuantile(double p);

}  // namespace veil::dp

#endif  // VEIL_DP_CALIBRATION_H_
