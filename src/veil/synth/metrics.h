// Quality metrics for synthetic data: total variation distance (TVD) between the k-way marginals of two
// discretized tables over the same domain, averaged and worst over all k-subsets of attributes.
//
// TVD(P, Q) = (1/2) sum_cells |P(cell) / |P| - Q(cell) / |Q||, each marginal normalized by its own row count:
// the definition of the AIM paper's workload error and of private-pgm's examples, and 1 - score/1000 of the
// NIST CRC k-marginal score (SDNist; there k = 3 over the chosen features).
//
// Thread safety: pure functions on immutable inputs.
#ifndef VEIL_SYNTH_METRICS_H_
#define VEIL_SYNTH_METRICS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/synth/domain.h"

namespace veil::synth {

struct MarginalErrorSummary {
  int way = 0;                   // k
  int64_t marginals = 0;         // number of k-subsets compared: C(d, k)
  double average_tvd = 0;        // mean over the k-subsets
  double worst_tvd = 0;          // max over the k-subsets
  std::vector<int> worst_attrs;  // the k-subset with the worst TVD
};

// TVD between two count vectors of the same length, each normalized by its own sum (both sums must be > 0).
double TotalVariation(std::span<const double> a, std::span<const double> b);

// Compares all k-way marginals of `real` and `synthetic`. Cost: C(d, k) passes over both tables' k columns
// (Adult, d = 15, k = 3: 455 marginals, about 0.1 s).
// Errors: InvalidArgument if the domains differ (names and sizes, in order), a table has no row, or k is not
// in [1, d]; the marginal size limit of Domain::MarginalCells.
absl::StatusOr<MarginalErrorSummary> CompareMarginals(const DiscreteTable& real,
                                                      const DiscreteTable& synthetic, int k);

}  // namespace veil::synth

#endif  // VEIL_SYNTH_METRICS_H_
