#include "veil/dp/quantile_tree.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/samplers.h"

namespace veil::dp {

absl::StatusOr<QuantileTreeShape> QuantileTreeShape::Create(Bounds bounds,
                                                            const QuantileTreeOptions& options) {
  if (!std::isfinite(bounds.lo) || !std::isfinite(bounds.hi) || !(bounds.lo < bounds.hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantile bounds must be finite with lo < hi, got (", bounds.lo, ", ", bounds.hi, ")"));
  }
  if (options.branching_factor < 2 || options.branching_factor > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantile tree branching_factor must be in [2, 256], got ", options.branching_factor));
  }
  if (options.height < 1 || options.height > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantile tree height must be in [1, 8], got ", options.height));
  }
  uint64_t leaves = 1;
  for (int i = 0; i < options.height; ++i) {
    leaves *= static_cast<uint64_t>(options.branching_factor);
    if (leaves > (uint64_t{1} << 24)) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantile tree has too many leaves: branching_factor ^ ", "height must be <= 2^24"));
    }
  }
  QuantileTreeShape s;
  s.bounds_ = bounds;
  s.branching_ = options.branching_factor;
  s.height_ = options.height;
  s.num_leaves_ = static_cast<uint32_t>(leaves);
  s.leaf_width_ = (bounds.hi - bounds.lo) / static_cast<double>(leaves);
  if (!(s.leaf_width_ > 0) || !std::isfinite(s.leaf_width_)) {
    return absl::InvalidArgumentError(absl::StrCat("quantile bounds [", bounds.lo, ", ", bounds.hi,
                                                   "] are too close together or too far apart for ", leaves,
                                                   " equal-width leaves"));
  }
  return s;
}

uint32_t QuantileTreeShape::LeafOf(double value) const {
  if (!(value > bounds_.lo)) return 0;  // also NaN
  if (value >= bounds_.hi) return num_leaves_ - 1;
  const double pos = (value - bounds_.lo) / leaf_width_;
  const uint32_t leaf =
      pos >= static_cast<double>(num_leaves_) ? num_leaves_ - 1 : static_cast<uint32_t>(pos);
  return leaf;
}

int64_t GroupQuantileTree::TrueCount(int level, uint64_t index) const {
  // A node at `level` spans b^(height - level) leaves.
  uint64_t span = 1;
  for (int i = level; i < shape_->height_; ++i) span *= static_cast<uint64_t>(shape_->branching_);
  const uint64_t first = index * span;
  const uint64_t last = first + span;  // exclusive
  const auto lo = std::lower_bound(leaves_.begin(), leaves_.end(), first);
  const auto hi = std::lower_bound(lo, leaves_.end(), last);
  return static_cast<int64_t>(hi - lo);
}

absl::StatusOr<int64_t> GroupQuantileTree::NoisyCount(int level, uint64_t index, RandomBits& bits) {
  const uint64_t key = (static_cast<uint64_t>(level) << 32) | index;
  const auto it = noisy_.find(key);
  if (it != noisy_.end()) return it->second;
  int64_t noise = 0;
  if (noise_.kind == NoiseKind::kLaplace) {
    VEIL_ASSIGN_OR_RETURN(noise, SampleDiscreteLaplaceWithScale(bits, noise_.scale));
  } else {
    VEIL_ASSIGN_OR_RETURN(noise, SampleDiscreteGaussianWithSigma(bits, noise_.scale));
  }
  const int64_t noisy = TrueCount(level, index) + noise;
  noisy_.emplace(key, noisy);
  return noisy;
}

absl::StatusOr<double> GroupQuantileTree::Quantile(double q, RandomBits& bits) {
  if (!(q >= 0 && q <= 1))
    return absl::InvalidArgumentError(absl::StrCat("quantile must be in [0, 1], got ", q));
  const int b = shape_->branching_;
  uint64_t node = 0;  // index at the current level
  double frac = q;    // the rank, relative to the current node
  std::vector<double> counts(static_cast<size_t>(b));
  for (int level = 1; level <= shape_->height_; ++level) {
    double total = 0;
    for (int i = 0; i < b; ++i) {
      VEIL_ASSIGN_OR_RETURN(const int64_t c, NoisyCount(level, node * b + i, bits));
      counts[i] = c > 0 ? static_cast<double>(c) : 0.0;
      total += counts[i];
    }
    int child = 0;
    if (total <= 0) {
      // No information below this node: spread the rank uniformly over the children.
      const double pos = frac * b;
      child = std::min(b - 1, static_cast<int>(pos));
      frac = std::clamp(pos - child, 0.0, 1.0);
    } else {
      const double target = frac * total;
      double cumulative = 0;
      child = -1;
      for (int i = 0; i < b; ++i) {
        if (counts[i] > 0 && cumulative + counts[i] >= target) {
          child = i;
          break;
        }
        cumulative += counts[i];
      }
      if (child < 0) {  // rounding: take the last non-empty child
        for (int i = b - 1; i >= 0; --i) {
          if (counts[i] > 0) {
            child = i;
            break;
          }
        }
        cumulative = total - counts[child];
      }
      frac = std::clamp((target - cumulative) / counts[child], 0.0, 1.0);
    }
    node = node * b + child;
  }
  const double value = shape_->bounds_.lo + (static_cast<double>(node) + frac) * shape_->leaf_width_;
  return std::clamp(value, shape_->bounds_.lo, shape_->bounds_.hi);
}

}  // namespace veil::dp
