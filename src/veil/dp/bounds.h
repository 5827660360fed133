// Automatic contribution bounds: a DP logarithmic histogram of the values chooses clamping bounds when a
// query gives none (Google's differential-privacy library, ApproxBounds; Wilson, Zhang, Lam, Desfontaines,
// Simmons-Marengo, Gipson 2020, "Differentially Private SQL with Bounded User Contribution", Section 4.3).
//
// Bins (powers of two, both signs): for kMinExp = -20 and kMaxExp = 62, with E = kMaxExp - kMinExp + 1
// magnitude classes,
//   class 0 holds |x| <= 2^kMinExp, class c >= 1 holds 2^(kMinExp + c - 1) < |x| <= 2^(kMinExp + c)
//   (magnitudes above 2^kMaxExp, infinities included, fall in the top class),
// and there is one bin per (sign, class): bin index E - 1 - c for negative x in class c (most negative
// first), E + c for x >= 0. A bin's range is [lower_edge, upper_edge] below.
//
// Mechanism: every bin count gets discrete Laplace noise of scale t = L1 / epsilon, where L1 = L0 * Linf (a
// unit adds at most that many values, one per value, after contribution bounding): pure epsilon-DP. The
// bounds are the lower edge of the lowest bin and the upper edge of the highest bin whose noisy count exceeds
// the threshold tau = ceil(t ln(num_bins / beta)), beta = 1e-4, which an empty bin's noise exceeds with
// probability below beta / num_bins (so no empty bin is chosen with probability >= 1 - beta). If no bin
// passes, the bin with the largest noisy count gives both bounds (the noisy argmax, post-processing).
//
// Thread safety: pure functions; LogHistogram is a plain value.
#ifndef VEIL_DP_BOUNDS_H_
#define VEIL_DP_BOUNDS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

inline constexpr int kLogHistogramMinExp = -20;
inline constexpr int kLogHistogramMaxExp = 62;
inline constexpr int kLogHistogramClasses = kLogHistogramMaxExp - kLogHistogramMinExp + 1;
inline constexpr int kLogHistogramBins = 2 * kLogHistogramClasses;
inline constexpr double kAutoBoundsBeta = 1e-4;

// The bin of a value (NaN is the caller's to skip; it maps to the bin of +0).
int LogHistogramBin(double x);
// The edges of a bin (see above).
double LogHistogramLowerEdge(int bin);
double LogHistogramUpperEdge(int bin);

// The DP choice of bounds from exact bin counts (counts.size() == kLogHistogramBins).
// Errors: InvalidArgument for a wrong size, epsilon not finite > 0, or l1_sensitivity < 1; the sampler's or
// RandomBits' error.
absl::StatusOr<Bounds> ChooseBoundsFromLogHistogram(const std::vector<int64_t>& counts, double epsilon,
                                                    int64_t l1_sensitivity, RandomBits& bits);

// The threshold tau for a noise scale t (see above).
int64_t LogHistogramThreshold(double scale);

}  // namespace veil::dp

#endif  // VEIL_DP_BOUNDS_H_
