#include "veil/dp/bounds.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/samplers.h"

namespace veil::dp {
namespace {

// The magnitude class of |x| (see bounds.h).
int MagnitudeClass(double a) {
  if (!(a > std::ldexp(1.0, kLogHistogramMinExp))) return 0;  // also 0 and NaN
  if (a > std::ldexp(1.0, kLogHistogramMaxExp)) return kLogHistogramClasses - 1;
  int e = 0;
  const double f = std::frexp(a, &e);  // a = f 2^e, f in [0.5, 1)
  const int ceil_log2 = f == 0.5 ? e - 1 : e;
  return ceil_log2 - kLogHistogramMinExp;
}

}  // namespace

int LogHistogramBin(double x) {
  const int c = MagnitudeClass(std::fabs(x));
  if (x < 0 && c > 0) return kLogHistogramClasses - 1 - c;
  if (x < 0) return kLogHistogramClasses - 1;  // tiny negative values: class 0 of the negative side
  return kLogHistogramClasses + c;
}

double LogHistogramLowerEdge(int bin) {
  if (bin >= kLogHistogramClasses) {
    const int c = bin - kLogHistogramClasses;
    return c == 0 ? 0.0 : std::ldexp(1.0, kLogHistogramMinExp + c - 1);
  }
  const int c = kLogHistogramClasses - 1 - bin;
  return -std::ldexp(1.0, kLogHistogramMinExp + c);
}

double LogHistogramUpperEdge(int bin) {
  if (bin >= kLogHistogramClasses) {
    const int c = bin - kLogHistogramClasses;
    return std::ldexp(1.0, kLogHistogramMinExp + c);
  }
  const int c = kLogHistogramClasses - 1 - bin;
  return c == 0 ? 0.0 : -std::ldexp(1.0, kLogHistogramMinExp + c - 1);
}

int64_t LogHistogramThreshold(double scale) {
  return static_cast<int64_t>(std::ceil(scale * std::log(kLogHistogramBins / kAutoBoundsBeta)));
}

absl::StatusOr<Bounds> ChooseBoundsFromLogHistogram(const std::vector<int64_t>& counts, double epsilon,
                                                    int64_t l1_sensitivity, RandomBits& bits) {
  if (counts.size() != static_cast<size_t>(kLogHistogramBins)) {
    return absl::InvalidArgumentError(absl::StrCat("log histogram must have ", kLogHistogramBins, " bins"));
  }
  if (!std::isfinite(epsilon) || epsilon <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("automatic bounds epsilon must be finite and > 0, got ", epsilon));
  }
  if (l1_sensitivity < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("automatic bounds sensitivity must be >= 1, got ", l1_sensitivity));
  const double scale = static_cast<double>(l1_sensitivity) / epsilon;
  const int64_t tau = LogHistogramThreshold(scale);
  int lowest = -1, highest = -1, argmax = 0;
  int64_t best = INT64_MIN;
  for (int bin = 0; bin < kLogHistogramBins; ++bin) {
    VEIL_ASSIGN_OR_RETURN(const int64_t noise, SampleDiscreteLaplaceWithScale(bits, scale));
    const int64_t noisy = counts[bin] + noise;
    if (noisy > best) {
      best = noisy;
      argmax = bin;
    }
    if (noisy > tau) {
      if (lowest < 0) lowest = bin;
      highest = bin;
    }
  }
  if (lowest < 0) lowest = highest = argmax;
  Bounds b{LogHistogramLowerEdge(lowest), LogHistogramUpperEdge(highest)};
  if (b.lo == b.hi) {
    // Defensive: every bin has lo < hi, so this does not happen.
    b.hi = b.lo + std::ldexp(1.0, kLogHistogramMinExp);
  }
  return b;
}

}  // namespace veil::dp
