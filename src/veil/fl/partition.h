// Splitting one data set over simulated sites (issue 10, item 7: `veil fl simulate --partition
// iid|dirichlet:ALPHA`, and the accuracy benchmark).
//
//   iid             rows shuffled uniformly and dealt into `sites` parts whose sizes differ by at most one.
//   dirichlet:ALPHA label skew as in Yurochkin et al. 2019 ("Bayesian Nonparametric Federated Learning of
//                   Neural Networks", and Flower Datasets' DirichletPartitioner; Hsu, Qi, Brown 2019 draw
//                   each site's label mix instead): for each label c independently,
//                   site proportions p_c ~ Dirichlet(ALPHA, ..., ALPHA) (normalised Gamma(ALPHA, 1)
//                   variates), and the rows of label c, shuffled, are cut at the cumulative proportions (site
//                   k gets floor(P_k n_c) - floor(P_{k-1} n_c) of them, P_k = p_1 + ... + p_k). Small ALPHA
//                   gives each site a few dominant labels; large ALPHA approaches iid. Every site must get at
//                   least one row: a draw that leaves a site empty is redrawn (so the result is a draw
//                   conditioned on that), at most kMaxPartitionDraws times, then an error.
// Each site's row indices are returned sorted (the data set's order is kept within a site).
//
// Randomness: only from the RandomSource passed in (a seeded test source reproduces a partition exactly).
// This is data placement for simulation, not privacy noise, so the Gamma variates use floating point
// (Marsaglia & Tsang 2000, "A Simple Method for Generating Gamma Variables", with Box-Muller normals and
// uniforms of 53 random bits).
//
// Thread safety: reentrant.
#ifndef VEIL_FL_PARTITION_H_
#define VEIL_FL_PARTITION_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/dp/random_bits.h"

namespace veil::fl {

inline constexpr int kMaxPartitionDraws = 64;

struct PartitionSpec {
  enum class Kind { kIid, kDirichlet };
  Kind kind = Kind::kIid;
  double alpha = 0;  // kDirichlet: finite, > 0
};

// "iid" or "dirichlet:ALPHA" (ALPHA a positive finite number, e.g. "dirichlet:0.5"). Errors: InvalidArgument
// quoting the text and naming the accepted forms.
absl::StatusOr<PartitionSpec> ParsePartition(std::string_view spec);
// The text form ParsePartition reads ("iid", "dirichlet:0.5").
std::string PartitionName(const PartitionSpec& spec);

// Errors: InvalidArgument for sites < 1 or num_rows < sites; rng's errors.
absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionIid(int64_t num_rows, int sites,
                                                               base::RandomSource& rng);

// labels: one class per row (any int32 values; rows with the same value form one label group). Errors:
// InvalidArgument for sites < 1, fewer rows than sites, alpha not finite and > 0; FailedPrecondition if
// kMaxPartitionDraws draws all left some site empty (the message suggests a larger alpha or fewer sites);
// rng's errors.
absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionDirichlet(std::span<const int32_t> labels,
                                                                     int sites, double alpha,
                                                                     base::RandomSource& rng);

// PartitionIid(labels.size(), ...) or PartitionDirichlet(labels, ..., spec.alpha, ...).
absl::StatusOr<std::vector<std::vector<int64_t>>> Partition(const PartitionSpec& spec,
                                                            std::span<const int32_t> labels, int sites,
                                                            base::RandomSource& rng);

namespace internal {
// p (resized to k) ~ Dirichlet(alpha, ..., alpha), as PartitionDirichlet draws it per label. Check bits.ok()
// afterwards.
void SampleDirichlet(dp::RandomBits& bits, double alpha, int k, std::vector<double>& p);
}  // namespace internal

}  // namespace veil::fl

#endif  // VEIL_FL_PARTITION_H_
