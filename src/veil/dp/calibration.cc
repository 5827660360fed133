#include "veil/dp/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/accountant.h"
#include "veil/dp/accounting_math.h"

namespace veil::dp {

namespace internal {

// sum_{x >= m} e^{-x^2 / (2 s^2)} for an integer m >= 0, as ln.
// Small s: direct summation, relative to the first term, until the terms fall below 1e-18 of the sum.
// Large s (>= 100): Euler-Maclaurin with three Bernoulli corrections,
//   S = s sqrt(pi/2) erfc(m / (s sqrt 2)) + f(m) [1/2 + He1(u)/(12 s) - He3(u)/(720 s^3) + He5(u)/(30240
//   s^5)],
// u = m/s, He_n the probabilists' Hermite polynomials (f^(n)(x) = (-1/s)^n He_n(x/s) f(x)). The remainder is
// of order s^-7 f(m) He7(u), below 1e-14 of S for s >= 100.
double DiscreteGaussianLogTailSum(double s, double m) {
  const double inv_2s2 = 1.0 / (2.0 * s * s);
  if (s < 100) {
    // S = f(m) sum_{j>=0} e^{-((m+j)^2 - m^2) / (2 s^2)}: terms <= 1 and decreasing, summed until they no
    // longer change the sum.
    double sum = 0;
    for (double j = 0;; j += 1.0) {
      const double term = std::exp(-(2.0 * m + j) * j * inv_2s2);
      sum += term;
      if (term < 1e-18 * sum) break;
    }
    return -m * m * inv_2s2 + std::log(sum);
  }
  const double u = m / s;
  const double log_f = -m * m * inv_2s2;
  // erfc(u/sqrt2) / e^{-u^2/2} (a scaled erfc), computed in log space so it never underflows.
  const double log_scaled_erfc = internal::LogErfc(u / std::sqrt(2.0)) + u * u / 2.0;
  const double he1 = u;
  const double he3 = u * u * u - 3.0 * u;
  const double he5 = u * u * u * u * u - 10.0 * u * u * u + 15.0 * u;
  const double corr = 0.5 + he1 / (12.0 * s) - he3 / (720.0 * s * s * s) + he5 / (30240.0 * std::pow(s, 5));
  const double integral = s * std::sqrt(M_PI / 2.0) * std::exp(log_scaled_erfc);
  return log_f + std::log(integral + corr);
}

}  // namespace internal

namespace {

using internal::kInf;
using internal::LogNormalCdf;

using internal::InvalidParameter;

absl::Status ValidatePositive(double value, std::string_view name) {
  if (!std::isfinite(value) || !(value > 0)) return InvalidParameter(name, "must be finite and > 0", value);
  return absl::OkStatus();
}

absl::Status ValidateAlpha(double alpha) {
  if (!(alpha > 0 && alpha < 1)) return InvalidParameter("alpha", "must be in (0, 1)", alpha);
  return absl::OkStatus();
}

absl::Status ValidateContributions(int64_t l0, double linf) {
  if (l0 < 1) return absl::InvalidArgumentError(absl::StrCat("l0 must be >= 1, got ", l0));
  if (!std::isfinite(linf) || linf < 0) return InvalidParameter("linf", "must be finite and >= 0", linf);
  return absl::OkStatus();
}

// ln delta of the Gaussian mechanism (Balle & Wang 2018, Theorem 8) at noise sigma, sensitivity l2 and
// epsilon: delta = Phi(a) - e^eps Phi(b), a = l2/(2 sigma) - eps sigma / l2, b = -l2/(2 sigma) - eps
// sigma/l2. Both terms are taken in log space, so delta is accurate (relative) down to ~1e-300.
double GaussianLogDelta(double l2, double sigma, double eps) {
  const double a = l2 / (2.0 * sigma) - eps * sigma / l2;
  const double b = -l2 / (2.0 * sigma) - eps * sigma / l2;
  const double log_pa = LogNormalCdf(a);
  const double log_pb = eps + LogNormalCdf(b);
  return internal::LogSubExp(log_pa, log_pb);
}

// P(|X| > k) for the discrete Laplace with parameter t, as ln: ln 2 + (k+1)(-1/t) - ln(1 + e^{-1/t}).
double DiscreteLaplaceLogTail(double t, double k) {
  return std::log(2.0) - (k + 1.0) / t - std::log1p(std::exp(-1.0 / t));
}

// ln Z for the discrete Gaussian: Z = sum_{x in Z} e^{-x^2 / (2 s^2)}. For s >= 1 the Poisson-summation
// (Jacobi theta) form Z = s sqrt(2 pi) (1 + 2 sum_{k>=1} e^{-2 pi^2 s^2 k^2}) is exact and converges at once.
double DiscreteGaussianLogNormalizer(double s) {
  if (s < 1) return internal::LogAddExp(0.0, std::log(2.0) + internal::DiscreteGaussianLogTailSum(s, 1.0));
  double theta = 0;
  for (int k = 1; k <= 10; ++k) theta += std::exp(-2.0 * M_PI * M_PI * s * s * k * k);
  return std::log(s * std::sqrt(2.0 * M_PI)) + std::log1p(2.0 * theta);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Sensitivities.

absl::StatusOr<double> L1Sensitivity(int64_t l0, double linf) {
  VEIL_RETURN_IF_ERROR(ValidateContributions(l0, linf));
  return static_cast<double>(l0) * linf;
}

absl::StatusOr<double> L2Sensitivity(int64_t l0, double linf) {
  VEIL_RETURN_IF_ERROR(ValidateContributions(l0, linf));
  return std::sqrt(static_cast<double>(l0)) * linf;
}

// ---------------------------------------------------------------------------------------------------------
// Budget -> scale.

absl::StatusOr<double> LaplaceScale(double l1_sensitivity, double epsilon) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l1_sensitivity, "l1_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  return l1_sensitivity / epsilon;
}

absl::StatusOr<double> DiscreteLaplaceScale(double l1_sensitivity, double epsilon) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l1_sensitivity, "l1_sensitivity"));
  if (l1_sensitivity != std::floor(l1_sensitivity)) {
    return InvalidParameter("l1_sensitivity", "must be an integer for the discrete Laplace", l1_sensitivity);
  }
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  return l1_sensitivity / epsilon;
}

absl::StatusOr<double> GaussianSigmaForRho(double l2_sensitivity, double rho) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l2_sensitivity, "l2_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidateRho(rho));
  return l2_sensitivity / std::sqrt(2.0 * rho);
}

absl::StatusOr<double> RhoForGaussianSigma(double l2_sensitivity, double sigma) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l2_sensitivity, "l2_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidatePositive(sigma, "sigma"));
  return l2_sensitivity * l2_sensitivity / (2.0 * sigma * sigma);
}

absl::StatusOr<double> AnalyticGaussianDelta(double l2_sensitivity, double sigma, double epsilon) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l2_sensitivity, "l2_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidatePositive(sigma, "sigma"));
  if (!std::isfinite(epsilon) || epsilon < 0)
    return InvalidParameter("epsilon", "must be finite and >= 0", epsilon);
  return std::clamp(std::exp(GaussianLogDelta(l2_sensitivity, sigma, epsilon)), 0.0, 1.0);
}

absl::StatusOr<double> AnalyticGaussianSigma(double l2_sensitivity, double epsilon, double delta) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l2_sensitivity, "l2_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  const double log_target = std::log(delta);
  // delta(sigma) decreases in sigma. Demand a 1e-9 relative margin over the computed delta (whose own error
  // is ~1e-14) so that the returned sigma satisfies the exact condition.
  const double log_margin = std::log1p(1e-9);
  auto ok = [&](double sigma) {
    return GaussianLogDelta(l2_sensitivity, sigma, epsilon) + log_margin <= log_target;
  };
  double hi = l2_sensitivity * std::max(1.0, std::sqrt(2.0 * std::log(1.25 / delta)) / epsilon);
  for (int i = 0; i < 2000 && !ok(hi); ++i) hi *= 2.0;
  double lo = hi;
  for (int i = 0; i < 2000 && ok(lo); ++i) lo /= 2.0;
  if (!ok(hi) || ok(lo)) return absl::InternalError("AnalyticGaussianSigma: could not bracket sigma");
  while (hi / lo - 1.0 > 1e-12) {
    const double mid = std::sqrt(lo * hi);
    if (mid <= lo || mid >= hi) break;
    if (ok(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

absl::StatusOr<double> ClassicGaussianSigma(double l2_sensitivity, double epsilon, double delta) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(l2_sensitivity, "l2_sensitivity"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  if (!(epsilon < 1))
    return InvalidParameter("epsilon", "must be < 1 for the classic Gaussian bound", epsilon);
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  return std::sqrt(2.0 * std::log(1.25 / delta)) * l2_sensitivity / epsilon;
}

// ---------------------------------------------------------------------------------------------------------
// Scale -> error.

absl::StatusOr<double> LaplaceStddev(double scale) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(scale, "scale"));
  return std::sqrt(2.0) * scale;
}

absl::StatusOr<double> DiscreteLaplaceStddev(double scale) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(scale, "scale"));
  const double p = std::exp(-1.0 / scale);
  return std::sqrt(2.0 * p) / -std::expm1(-1.0 / scale);
}

absl::StatusOr<double> DiscreteGaussianStddev(double sigma) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(sigma, "sigma"));
  if (sigma < 1) {
    // Var = 2 sum_{x>=1} x^2 e^{-x^2/2s^2} / (1 + 2 sum_{x>=1} e^{-x^2/2s^2}); terms past x = 40 s + 40 are
    // below e^-800 of the first.
    double num = 0, den = 1;
    const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
    for (double x = 1; x <= 40.0 * sigma + 40.0; x += 1.0) {
      const double w = std::exp(-x * x * inv_2s2);
      num += 2.0 * x * x * w;
      den += 2.0 * w;
    }
    return std::sqrt(num / den);
  }
  // Poisson summation: sum_x x^2 e^{-x^2/2s^2} = s sqrt(2 pi) sum_k s^2 (1 - 4 pi^2 s^2 k^2) e^{-2 pi^2 s^2
  // k^2}.
  double num = 1, den = 1;
  for (int k = 1; k <= 10; ++k) {
    const double a = 2.0 * M_PI * M_PI * sigma * sigma * k * k;
    const double w = std::exp(-a);
    num += 2.0 * (1.0 - 2.0 * a) * w;
    den += 2.0 * w;
  }
  return sigma * std::sqrt(num / den);
}

absl::StatusOr<double> LaplaceCiHalfWidth(double scale, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(scale, "scale"));
  VEIL_RETURN_IF_ERROR(ValidateAlpha(alpha));
  return scale * std::log(1.0 / alpha);
}

absl::StatusOr<int64_t> DiscreteLaplaceCiHalfWidth(double scale, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(scale, "scale"));
  VEIL_RETURN_IF_ERROR(ValidateAlpha(alpha));
  const double log_alpha = std::log(alpha);
  // P(|X| > k) = 2 p^{k+1} / (1 + p) <= alpha  <=>  k + 1 >= t ln(2 / (alpha (1 + p))).
  const double p = std::exp(-1.0 / scale);
  const double k_real = std::ceil(scale * (std::log(2.0 / alpha) - std::log1p(p))) - 1.0;
  if (!(k_real < 9.0e18))
    return InvalidParameter("scale", "gives an interval too wide for a 64-bit integer", scale);
  int64_t k = std::max<int64_t>(0, static_cast<int64_t>(k_real));
  // The closed form can be off by one through rounding: settle on the exact smallest k.
  while (k > 0 && DiscreteLaplaceLogTail(scale, static_cast<double>(k - 1)) <= log_alpha) --k;
  while (DiscreteLaplaceLogTail(scale, static_cast<double>(k)) > log_alpha) ++k;
  return k;
}

absl::StatusOr<double> GaussianCiHalfWidth(double sigma, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(sigma, "sigma"));
  VEIL_RETURN_IF_ERROR(ValidateAlpha(alpha));
  // -Q(alpha/2), not Q(1 - alpha/2): 1 - alpha/2 rounds to 1 for alpha below ~1e-16.
  VEIL_ASSIGN_OR_RETURN(const double neg_z, NormalQuantile(alpha / 2.0));
  const double z = -neg_z;
  return z * sigma;
}

absl::StatusOr<int64_t> DiscreteGaussianCiHalfWidth(double sigma, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidatePositive(sigma, "sigma"));
  VEIL_RETURN_IF_ERROR(ValidateAlpha(alpha));
  if (sigma > 1e12) return InvalidParameter("sigma", "must be <= 1e12", sigma);
  const double log_alpha = std::log(alpha);
  const double log_z = DiscreteGaussianLogNormalizer(sigma);
  // ln P(|X| > k) = ln 2 + ln S(k + 1) - ln Z; decreasing in k.
  auto within = [&](int64_t k) {
    return std::log(2.0) + internal::DiscreteGaussianLogTailSum(sigma, static_cast<double>(k + 1)) - log_z <=
           log_alpha;
  };
  if (within(0)) return int64_t{0};
  // The continuous Gaussian's half-width is a close guess; gallop from it to a bracket [lo, hi].
  // -Q(alpha/2), not Q(1 - alpha/2): 1 - alpha/2 rounds to 1 for alpha below ~1e-16.
  VEIL_ASSIGN_OR_RETURN(const double neg_z, NormalQuantile(alpha / 2.0));
  const double z = -neg_z;
  int64_t lo = 0;  // !within(0), checked above
  int64_t hi = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(z * sigma)));
  for (int64_t step = 1; !within(hi); step *= 2) {
    lo = hi;
    hi += step;
  }
  // Invariant: !within(lo), within(hi).
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (within(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

absl::StatusOr<double> NormalQuantile(double p) {
  if (!(p > 0 && p < 1)) return InvalidParameter("p", "must be in (0, 1)", p);
  // Wichura 1988, Algorithm AS 241 (PPND16): rational approximations in three regions, each accurate to
  // about 1e-16. The coefficients are the published ones.
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    const double num =
        ((((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
              45921.953931549871457) *
                 r +
             13731.693765509461125) *
                r +
            1971.5909503065514427) *
               r +
           133.14166789178437745) *
              r +
          3.387132872796366608));
    const double den =
        ((((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r +
              21213.794301586595867) *
                 r +
             5394.1960214247511077) *
                r +
            687.1870074920579083) *
               r +
           42.313330701600911252) *
              r +
          1.0));
    return q * num / den;
  }
  double r = std::sqrt(-std::log(q < 0 ? p : 1.0 - p));
  double value;
  if (r <= 5.0) {
    r -= 1.6;
    value =
        (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
             1.27045825245236838258) *
                r +
            3.64784832476320460504) *
               r +
           5.7694972214606914055) *
              r +
          4.6303378461565452959) *
             r +
         1.42343711074968357734) /
        (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
             0.14810397642748007459) *
                r +
            0.68976733498510000455) *
               r +
           1.6763848301838038494) *
              r +
          2.05319162663775882187) *
             r +
         1.0);
  } else {
    r -= 5.0;
    value =
        (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) *
                 r +
             0.026532189526576123093) *
                r +
            0.29656057182850489123) *
               r +
           1.7848265399172913358) *
              r +
          5.4637849111641143699) *
             r +
         6.6579046435011037772) /
        (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) *
                 r +
             7.868691311456132591e-4) *
                r +
            0.0148753612908506148525) *
               r +
           0.13692988092273580531) *
              r +
          0.59983220655588793769) *
             r +
         1.0);
  }
  return q < 0 ? -value : value;
}

}  // namespace veil::dp
