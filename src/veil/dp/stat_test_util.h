// TEST-ONLY helpers for the statistical tests of the DP noise (random_bits_test.cc, samplers_test.cc,
// mechanisms_test.cc, selection_test.cc): chi-square goodness of fit on integer samples, binomial tolerances.
//
// Chi-square binning rule (every test states its resulting degrees of freedom and critical value, and asserts
// that the rule produced that many bins, so the comment cannot drift from the code): bins are width-w runs of
// integers [j w, (j + 1) w - 1]; starting from the two bins next to zero, the core grows outward while BOTH
// next bins have an expected count >= 20; everything beyond is pooled into two tail bins, and while a tail's
// expected count is below 5 the outermost core bin on each side is moved into its tail. Statistic:
// sum (observed - expected)^2 / expected over all bins; df = bins - 1 (no parameter is estimated).
// Critical values are chi-square upper quantiles at significance 1e-4, computed with mpmath
// (mpmath.findroot on 1 - gammainc(df/2, 0, x/2, regularized=True) = 1e-4).
#ifndef VEIL_DP_STAT_TEST_UTIL_H_
#define VEIL_DP_STAT_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace veil::dp::testing {

// P(lo <= X <= hi) for integers lo <= hi (lo may be INT64_MIN, hi INT64_MAX for the tails).
using RangeProbability = std::function<long double(int64_t lo, int64_t hi)>;

struct Bin {
  int64_t lo;
  int64_t hi;
  long double expected;  // count
  int64_t observed = 0;
};

inline std::vector<Bin> MakeBins(const RangeProbability& prob, int64_t width, int64_t n) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const auto expected = [&](int64_t lo, int64_t hi) { return static_cast<long double>(n) * prob(lo, hi); };
  // Core bins j in [-J, J - 1], bin j = [j w, (j + 1) w - 1].
  int64_t J = 0;
  while (expected(J * width, (J + 1) * width - 1) >= 20 && expected(-(J + 1) * width, -J * width - 1) >= 20) {
    ++J;
  }
  while (J > 0 && (expected(kMin, -J * width - 1) < 5 || expected(J * width, kMax) < 5)) --J;
  std::vector<Bin> bins;
  bins.push_back({kMin, -J * width - 1, expected(kMin, -J * width - 1)});
  for (int64_t j = -J; j < J; ++j)
    bins.push_back({j * width, (j + 1) * width - 1, expected(j * width, (j + 1) * width - 1)});
  bins.push_back({J * width, kMax, expected(J * width, kMax)});
  return bins;
}

inline void Count(std::vector<Bin>& bins, int64_t x) {
  // Bins are sorted and contiguous: binary search.
  size_t lo = 0, hi = bins.size() - 1;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (x > bins[mid].hi) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  ++bins[lo].observed;
}

inline double ChiSquareStatistic(const std::vector<Bin>& bins) {
  long double s = 0;
  for (const Bin& b : bins) {
    const long double d = static_cast<long double>(b.observed) - b.expected;
    s += d * d / b.expected;
  }
  return static_cast<double>(s);
}

inline std::string Describe(const std::vector<Bin>& bins) {
  std::string out;
  for (const Bin& b : bins) {
    absl::StrAppend(&out, "[", b.lo, ",", b.hi, "] obs ", b.observed, " exp ",
                    static_cast<double>(b.expected), "\n");
  }
  return out;
}

// Discrete Laplace with scale t = num / den: P(X >= k).
inline long double DiscreteLaplaceTailGe(long double t, int64_t k) {
  const long double q = std::exp(-1.0L / t);
  if (k >= 1) return std::exp(-static_cast<long double>(k) / t) / (1 + q);
  return 1 - std::exp(-static_cast<long double>(1 - k) / t) / (1 + q);
}
inline RangeProbability DiscreteLaplaceRange(long double t) {
  return [t](int64_t lo, int64_t hi) -> long double {
    const long double upper =
        hi == std::numeric_limits<int64_t>::max() ? 0.0L : DiscreteLaplaceTailGe(t, hi + 1);
    const long double lower = lo == std::numeric_limits<int64_t>::min() ? 1.0L : DiscreteLaplaceTailGe(t, lo);
    return lower - upper;
  };
}

// The discrete Gaussian pmf with sigma^2 = s2, tabulated over |x| <= 40 sigma + 40 (the rest is below
// e^-800); pmf[x + offset].
struct DiscreteGaussianTable {
  explicit DiscreteGaussianTable(long double s2) {
    offset = static_cast<int64_t>(40 * std::sqrt(s2) + 40);
    pmf.resize(2 * offset + 1);
    long double z = 0;
    for (int64_t x = -offset; x <= offset; ++x) {
      pmf[x + offset] = std::exp(-static_cast<long double>(x) * x / (2 * s2));
      z += pmf[x + offset];
    }
    for (long double& p : pmf) p /= z;
    prefix.resize(pmf.size() + 1, 0);
    for (size_t i = 0; i < pmf.size(); ++i) prefix[i + 1] = prefix[i] + pmf[i];
  }
  long double Range(int64_t lo, int64_t hi) const {
    const int64_t a = std::max<int64_t>(lo, -offset) + offset;
    const int64_t b = std::min<int64_t>(hi, offset) + offset;
    return b < a ? 0.0L : prefix[b + 1] - prefix[a];
  }
  // E[X^k] for even k.
  long double Moment(int k) const {
    long double m = 0;
    for (int64_t x = -offset; x <= offset; ++x)
      m += std::pow(static_cast<long double>(x), k) * pmf[x + offset];
    return m;
  }
  int64_t offset;
  std::vector<long double> pmf;
  std::vector<long double> prefix;
};

// Sample mean and (unbiased) variance, accumulated in long double.
struct Moments {
  void Add(long double x) {
    ++n;
    const long double d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  long double Variance() const { return m2 / (n - 1); }
  int64_t n = 0;
  long double mean = 0;
  long double m2 = 0;
};

}  // namespace veil::dp::testing

#endif  // VEIL_DP_STAT_TEST_UTIL_H_
