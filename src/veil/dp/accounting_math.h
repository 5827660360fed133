// Internal numeric helpers shared by accountant.cc and calibration.cc (and their tests): log-space
// arithmetic, a log erfc that does not underflow, a one-dimensional minimiser, and the error naming a bad
// parameter. Not part of the public
// contract; header-only so that it needs no build target of its own.
//
// Thread safety: every function is pure (lgamma_r is used instead of lgamma, which writes the global
// signgam).
#ifndef VEIL_DP_ACCOUNTING_MATH_H_
#define VEIL_DP_ACCOUNTING_MATH_H_

#include <math.h>  // lgamma_r (POSIX/glibc)

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace veil::dp::internal {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// "NAME WHY, got VALUE" as an InvalidArgumentError, the value printed exactly: "epsilon must be > 0, got -1".
inline absl::Status InvalidParameter(std::string_view name, std::string_view why, double value) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(name), " ", std::string(why), ", got ", absl::StrFormat("%.17g", value)));
}

// ln(e^a + e^b), exact for -infinity arguments and without overflow.
inline double LogAddExp(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// ln(e^a - e^b) for a >= b; -infinity when b >= a.
inline double LogSubExp(double a, double b) {
  if (b == -kInf) return a;
  if (b >= a) return -kInf;
  return a + std::log(-std::expm1(b - a));
}

// ln(x!) style helper: ln Gamma(x) for x > 0, thread-safe.
inline double LogGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

// ln C(n, k) for integers 0 <= k <= n (as doubles).
inline double LogBinomial(double n, double k) {
  return LogGamma(n + 1) - LogGamma(k + 1) - LogGamma(n - k + 1);
}

// ln erfc(x) for every finite x. std::erfc is used while its result is a normal double (x < 26); beyond,
// the asymptotic series erfc(x) = e^{-x^2} / (x sqrt(pi)) * sum_n (-1)^n (2n-1)!! / (2x^2)^n, whose seventh
// term is below 1e-16 of the sum for x >= 26.
inline double LogErfc(double x) {
  if (x < 26.0) return std::log(std::erfc(x));
  const double x2 = x * x;
  const double u = 1.0 / (2.0 * x2);
  double term = 1.0;
  double sum = 1.0;
  for (int n = 1; n <= 7; ++n) {
    term *= -(2.0 * n - 1.0) * u;
    sum += term;
  }
  return -x2 - std::log(x) - 0.5 * std::log(M_PI) + std::log(sum);
}

// ln Phi(x), Phi the standard normal CDF.
inline double LogNormalCdf(double x) { return std::log(0.5) + LogErfc(-x / std::sqrt(2.0)); }

// Minimises f over x in [lo, hi] (0 < lo < hi): scans `points` log-spaced values, then refines the best one
// by golden-section search in ln x on the bracket formed by its two neighbours. Returns {x, f(x)} for the
// smallest value EVALUATED, so the value is always one f actually takes (callers rely on this: every x gives
// a valid bound, the minimiser only makes it tight). Unimodal f gets the true minimum to ~1e-15 relative.
template <typename F>
std::pair<double, double> MinimizeOverLogGrid(const F& f, double lo, double hi, int points = 240) {
  const double llo = std::log(lo);
  const double lhi = std::log(hi);
  const double step = (lhi - llo) / (points - 1);
  double best_x = lo;
  double best_f = kInf;
  int best_i = 0;
  for (int i = 0; i < points; ++i) {
    const double x = std::exp(llo + step * i);
    const double v = f(x);
    if (v < best_f) {  // NaN never wins
      best_f = v;
      best_x = x;
      best_i = i;
    }
  }
  double a = llo + step * std::max(0, best_i - 1);
  double b = llo + step * std::min(points - 1, best_i + 1);
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double c = b - inv_phi * (b - a);
  double d = a + inv_phi * (b - a);
  double fc = f(std::exp(c));
  double fd = f(std::exp(d));
  for (int iter = 0; iter < 200 && (b - a) > 1e-15 * std::max(1.0, std::fabs(a)); ++iter) {
    if (fc < best_f) {
      best_f = fc;
      best_x = std::exp(c);
    }
    if (fd < best_f) {
      best_f = fd;
      best_x = std::exp(d);
    }
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - inv_phi * (b - a);
      fc = f(std::exp(c));
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + inv_phi * (b - a);
      fd = f(std::exp(d));
    }
  }
  if (fc < best_f) {
    best_f = fc;
    best_x = std::exp(c);
  }
  if (fd < best_f) {
    best_f = fd;
    best_x = std::exp(d);
  }
  return {best_x, best_f};
}

// ln sum_{x >= m} e^{-x^2 / (2 s^2)} for s > 0 and an integer m >= 0 (the discrete Gaussian's unnormalised
// tail). Defined in calibration.cc; declared here so that the tests can check it against direct summation.
double DiscreteGaussianLogTailSum(double s, double m);

}  // namespace veil::dp::internal

#endif  // VEIL_DP_ACCOUNTING_MATH_H_
