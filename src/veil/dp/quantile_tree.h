// A differentially private quantile tree: many quantiles of one group for the price of one (Google's
// differential-privacy library, QuantileTree; the hierarchical-histogram method of Cormode, Kulkarni,
// Srivastava 2019, "Answering Range Queries Under Local Differential Privacy", and Qardaji, Yang, Li 2013,
// "Understanding Hierarchical Methods for Differentially Private Histograms").
//
// The bounds [lo, hi] are cut into branching_factor ^ height equal-width leaves; a complete tree of that
// branching factor sits above them, and each node counts the (clamped) values in its range. Each value adds 1
// to one node per level, so a privacy unit with at most Linf values in each of at most L0 groups changes the
// node counts by at most L1 = L0 * Linf * height (L2 = Linf * sqrt(L0 * height)): every node count gets
// discrete Laplace noise of scale L1 / epsilon (or discrete Gaussian noise of sigma L2 / sqrt(2 rho)), and
// any number of quantiles computed from the noisy counts is post-processing.
//
// Descent for a rank q in [0, 1]: from the root, take the children's noisy counts (negative ones as 0), walk
// to the child where the cumulative count reaches q times their sum, carry the remaining fraction into that
// child, and at a leaf interpolate linearly within its range. A node whose children all have noisy count 0 is
// treated as uniform. The result is non-decreasing in q for one tree. Noise is drawn lazily, only for the
// nodes a descent reads, and remembered, so every quantile of one group sees the same noisy tree (noise for
// nodes never read is never needed: it would not change any output).
//
// Thread safety: QuantileTreeShape is immutable; GroupQuantileTree is not thread-safe (one per group).
#ifndef VEIL_DP_QUANTILE_TREE_H_
#define VEIL_DP_QUANTILE_TREE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

// The geometry of a tree: bounds, branching factor, height.
class QuantileTreeShape {
 public:
  // Errors: InvalidArgument if the bounds are not finite with lo < hi, branching_factor not in [2, 256],
  // height not in [1, 8], or branching_factor ^ height > 2^24.
  static absl::StatusOr<QuantileTreeShape> Create(Bounds bounds, const QuantileTreeOptions& options);

  int branching_factor() const { return branching_; }
  int height() const { return height_; }
  uint32_t num_leaves() const { return num_leaves_; }
  Bounds bounds() const { return bounds_; }

  // The leaf of a value: clamped to the bounds first; NaN is the caller's to filter (it maps to leaf 0).
  uint32_t LeafOf(double value) const;

 private:
  QuantileTreeShape() = default;
  friend class GroupQuantileTree;

  Bounds bounds_;
  int branching_ = 16;
  int height_ = 4;
  uint32_t num_leaves_ = 1;
  double leaf_width_ = 0;
};

// The noise added to every node count: discrete Laplace of scale `scale`, or discrete Gaussian of sigma
// `scale`.
struct NodeNoise {
  NoiseKind kind = NoiseKind::kLaplace;
  double scale = 1;
};

// The noisy tree of one group, built from the group's leaves.
class GroupQuantileTree {
 public:
  // `sorted_leaves`: the leaf (QuantileTreeShape::LeafOf) of every value of the group, sorted ascending; it
  // must outlive this object. `shape` must outlive it too.
  GroupQuantileTree(const QuantileTreeShape& shape, std::span<const uint32_t> sorted_leaves, NodeNoise noise)
      : shape_(&shape), leaves_(sorted_leaves), noise_(noise) {}

  // The DP estimate of the q-quantile (q in [0, 1]), drawing node noise from `bits` as needed.
  // Errors: InvalidArgument for q outside [0, 1] or NaN; the sampler's or RandomBits' error.
  absl::StatusOr<double> Quantile(double q, RandomBits& bits);

  // The exact count of values in a node (level 0 is the root; index in [0, b^level)). For tests.
  int64_t TrueCount(int level, uint64_t index) const;

 private:
  absl::StatusOr<int64_t> NoisyCount(int level, uint64_t index, RandomBits& bits);

  const QuantileTreeShape* shape_;
  std::span<const uint32_t> leaves_;
  NodeNoise noise_;
  absl::flat_hash_map<uint64_t, int64_t> noisy_;  // (level << 32 | index) -> noisy count
};

}  // namespace veil::dp

#endif  // VEIL_DP_QUANTILE_TREE_H_
