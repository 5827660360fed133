// Private partition selection: which GROUP BY keys a DP query may release when the keys themselves come
// from the data.
//
// Implements the optimal rule of Desfontaines, Voss, Gipson, Mandayam 2022 ("Differentially private
// partition selection", PoPETs 2022(1), Theorem 1; the "near-truncated geometric" rule): a group with n
// privacy units (after contribution bounding) is kept with probability pi(n), where
//   pi(0) = 0,
//   pi(n) = min( e^eps pi(n-1) + delta,  1 - e^-eps (1 - pi(n-1) - delta),  1 )     for n >= 1,
// the largest keep probabilities for which one group's keep/drop decision is (eps, delta)-DP with respect to
// one unit more or less. In closed form, pi(n) = delta (e^(n eps) - 1) / (e^eps - 1) while the first term is
// the minimum, then 1 - pi decreases geometrically to 0; pi reaches 1 after a finite number of units.
//
// Several groups per unit: a unit contributes to at most L0 = max_groups_contributed groups, so each group's
// decision uses (eps / L0, delta / L0) and the whole selection is (eps, delta)-DP by basic composition (the
// paper's Section 4 / Google's differential-privacy library "adjusted" parameters).
//
// Pre-threshold (Google's PreThresholding): groups with fewer than T = min_units units are never kept, and a
// group with n >= T units is kept with probability pi(n - T + 1). The shifted sequence satisfies the same two
// inequalities, so the guarantee is unchanged.
//
// Numerics: the probabilities are computed in long double with delta reduced by a relative 2^-10 (plus
// (e^eps + 1) 2^-62 for the rounding below) and then
// rounded down to multiples of 2^-63 for the exact Bernoulli draw (RandomBits::Bernoulli), and Create()
// checks that the rounded sequence satisfies both inequalities with the unreduced (eps, delta); the
// floating-point error (below 1e-15 absolute) is far inside that margin.
//
// Thread safety: a PartitionSelector is immutable after Create (const methods are safe from many threads;
// each thread needs its own RandomBits).
#ifndef VEIL_DP_PARTITION_SELECTION_H_
#define VEIL_DP_PARTITION_SELECTION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/accountant.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

class PartitionSelector {
 public:
  // A selector spending (epsilon, delta) over a unit's at most max_groups_contributed groups.
  // Errors: InvalidArgument if epsilon is not finite > 0 (or above 50), delta not in (0, 1),
  // max_groups_contributed < 1, min_units < 1, or delta / max_groups_contributed < 1e-300.
  static absl::StatusOr<PartitionSelector> Create(double epsilon, double delta,
                                                  int64_t max_groups_contributed, int64_t min_units = 1);

  // The probability that a group with `units` privacy units (after bounding) is kept: 0 for units < 1 or
  // below the pre-threshold, pi(units - min_units + 1) otherwise (as rounded for the draw, see above).
  double KeepProbability(int64_t units) const;

  // The smallest number of units at which a group is kept with probability >= p (0 < p <= 1).
  int64_t UnitsForProbability(double p) const;

  // Draws the keep decision for a group with `units` units: true with probability exactly
  // KeepProbability(units). Errors: the RandomBits' error.
  absl::StatusOr<bool> ShouldKeep(int64_t units, RandomBits& bits) const;

  // What this selection costs: (epsilon, delta) as given.
  ApproxDp cost() const { return {epsilon_, delta_}; }
  double per_group_epsilon() const { return per_group_epsilon_; }
  double per_group_delta() const { return per_group_delta_; }
  int64_t min_units() const { return min_units_; }

 private:
  PartitionSelector() = default;

  double epsilon_ = 0, delta_ = 0;
  double per_group_epsilon_ = 0, per_group_delta_ = 0;
  int64_t min_units_ = 1;
  // keep_num_[n] = pi(n) * 2^63 rounded down, for n = 0 .. size() - 1; pi(n) = 1 for n beyond.
  std::vector<uint64_t> keep_num_;
};

namespace internal {

// pi(n) for n = 0, 1, ... until it reaches 1 (the last entry is 1), in long double, for per-group
// (epsilon, delta): the recursion above. Exposed for tests. Errors: InvalidArgument for bad parameters or a
// sequence longer than 10^7 entries (epsilon / delta too small).
absl::StatusOr<std::vector<long double>> OptimalKeepProbabilities(double epsilon, double delta);

}  // namespace internal
}  // namespace veil::dp

#endif  // VEIL_DP_PARTITION_SELECTION_H_
