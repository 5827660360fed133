// Quality metrics for synthetic data: total variation distance (TVD) between the k-way marginals of two
// discretized tables over the same domain, averaged and worst over all k-subsets of attributes.
//
// TVD(P, Q) = (1/2) sum_cells |P(cell) / |P| - Q(cell) / |Q||, each marginal normalized by its own row count:
// the definition of the AIM paper's workload error and of private-pgm's examples.
//
// The NIST CRC k-marginal score as SDNist v2.5 computes it (the published CRC sample reports; read in
// usnistgov/SDNist: sdnist/metrics/kmarginal.py, KMarginal; sdnist/report/dataset/__init__.py, Dataset;
// sdnist/report/dataset/binning.py, bin_data and bin_continuous_feature): without a group feature (PUMA not
// among the features) it is 1000 (1 - mean TVD over all PAIRS of features), each feature as its values, and
// each continuous feature (min and max in the data dictionary, range > 20) cut into the bins of
// SdnistBinEdges. With PUMA among the features the pairs become (PUMA, f1, f2) triples; not implemented here.
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

// SDNist v2.5's bin edges for a continuous feature, from the target's values (nulls excluded) and the
// deidentified data's smallest and largest value: the percentiles j * 100 / m, j = 0 .. m - 1, of the target
// values, each the next-higher order statistic (numpy's percentile method "higher": sorted value at index
// ceil(q / 100 (n - 1))), plus the target's maximum; if the deidentified maximum is above it, it is one more
// edge and m is one less; likewise the deidentified minimum below the target's minimum. m = n_bins first.
// The edges are the sorted distinct values of all these. Bins are right-closed, (e_i, e_i+1], the first one
// closed on both sides, numbered from 0 (pandas cut, include_lowest, labels=False); see SdnistBin.
// Errors: InvalidArgument if `target` is empty, a value is not finite, n_bins < 3, deid_min > deid_max, or
// there are fewer than two distinct edges.
absl::StatusOr<std::vector<double>> SdnistBinEdges(std::span<const double> target, double deid_min,
                                                   double deid_max, int n_bins = 20);

// The bin of `value` for SdnistBinEdges' `edges`: i with e_i < value <= e_i+1 (value = e_0: 0), or -1 if the
// value is outside [e_0, e_last].
int SdnistBin(std::span<const double> edges, double value);

// SDNist v2.5's k-marginal score without a group feature: 1000 (1 - mean 2-way TVD over all pairs of
// attributes), the tables binned already (continuous features by SdnistBinEdges). SDNist prints int(score)
// (truncated). Errors: those of CompareMarginals with k = 2 (same domain, rows in both, d >= 2).
absl::StatusOr<double> SdnistKMarginalScore(const DiscreteTable& target, const DiscreteTable& deid);

}  // namespace veil::synth

#endif  // VEIL_SYNTH_METRICS_H_
