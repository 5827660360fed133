#include "veil/dp/partition_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::dp {
namespace {

constexpr uint64_t kOne = uint64_t{1} << 63;  // the denominator of the keep probabilities
constexpr size_t kMaxEntries = 10'000'000;

}  // namespace

namespace internal {

absl::StatusOr<std::vector<long double>> OptimalKeepProbabilities(double epsilon, double delta) {
  if (!std::isfinite(epsilon) || epsilon <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition selection epsilon must be finite and > 0, got ", epsilon));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition selection delta must be in (0, 1), got ", delta));
  }
  const long double e = std::exp(static_cast<long double>(epsilon));
  const long double inv_e = std::exp(-static_cast<long double>(epsilon));
  const long double d = delta;
  std::vector<long double> pi = {0.0L};
  long double prev = 0;
  while (prev < 1) {
    if (pi.size() >= kMaxEntries) {
      return absl::InvalidArgumentError(absl::StrCat(
          "partition selection: epsilon ", epsilon, " and delta ", delta,
          " per group are too small (a group would need more than ", kMaxEntries, " units to be kept)"));
    }
    const long double grow = e * prev + d;               // pi(n) <= e^eps pi(n-1) + delta
    const long double cap = 1 - inv_e * (1 - prev - d);  // 1 - pi(n-1) <= e^eps (1 - pi(n)) + delta
    prev = std::min({grow, cap, 1.0L});
    pi.push_back(prev);
  }
  return pi;
}

}  // namespace internal

absl::StatusOr<PartitionSelector> PartitionSelector::Create(double epsilon, double delta,
                                                            int64_t max_groups_contributed,
                                                            int64_t min_units) {
  if (!std::isfinite(epsilon) || epsilon <= 0 || epsilon > 50) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition selection epsilon must be finite, > 0 and <= 50, got ", epsilon));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition selection needs delta in (0, 1) (private GROUP BY keys cannot be selected "
                     "with delta = 0), "
                     "got ",
                     delta));
  }
  if (max_groups_contributed < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_groups_contributed must be >= 1, got ", max_groups_contributed));
  }
  if (min_units < 1) {
    return absl::InvalidArgumentError(absl::StrCat("min_units_per_group must be >= 1, got ", min_units));
  }
  PartitionSelector s;
  s.epsilon_ = epsilon;
  s.delta_ = delta;
  s.per_group_epsilon_ = epsilon / static_cast<double>(max_groups_contributed);
  s.per_group_delta_ = delta / static_cast<double>(max_groups_contributed);
  s.min_units_ = min_units;
  const long double e = std::exp(static_cast<long double>(s.per_group_epsilon_));
  // Margin for the rounding to multiples of 2^-63 (at most (e^eps + 1) 2^-63 per inequality) and for the
  // long double recursion (relative 2^-64 per step): 2^-10 of delta plus twice the rounding term.
  const long double margin =
      std::ldexp(static_cast<long double>(s.per_group_delta_), -10) + (e + 1) * std::ldexp(1.0L, -62);
  const long double reduced = static_cast<long double>(s.per_group_delta_) - margin;
  if (!(reduced > 1e-300L)) {
    return absl::InvalidArgumentError(absl::StrCat("partition selection delta per group (delta / ",
                                                   "max_groups_contributed = ", s.per_group_delta_,
                                                   ") is too small"));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<long double> pi, internal::OptimalKeepProbabilities(
                                                         s.per_group_epsilon_, static_cast<double>(reduced)));
  s.keep_num_.resize(pi.size());
  for (size_t n = 0; n < pi.size(); ++n) {
    const long double scaled = std::floor(std::ldexp(pi[n], 63));
    s.keep_num_[n] = scaled >= std::ldexp(1.0L, 63) ? kOne : static_cast<uint64_t>(scaled);
  }
  // Check the rounded sequence against the unreduced per-group (eps, delta): both inequalities of the
  // paper's Theorem 1 for every n (beyond the table pi = 1, which satisfies them trivially once pi = 1).
  const long double d = s.per_group_delta_;
  for (size_t n = 1; n < pi.size(); ++n) {
    const long double p = std::ldexp(static_cast<long double>(s.keep_num_[n]), -63);
    const long double q = std::ldexp(static_cast<long double>(s.keep_num_[n - 1]), -63);
    if (p > e * q + d || (1 - q) > e * (1 - p) + d) {
      return absl::InternalError("partition selection: keep probabilities failed their privacy check");
    }
  }
  if (s.keep_num_.back() != kOne)
    return absl::InternalError("partition selection: sequence does not reach 1");
  return s;
}

double PartitionSelector::KeepProbability(int64_t units) const {
  if (units < min_units_) return 0;
  const int64_t n = units - min_units_ + 1;
  if (n >= static_cast<int64_t>(keep_num_.size())) return 1;
  return std::ldexp(static_cast<double>(keep_num_[n]), -63);
}

int64_t PartitionSelector::UnitsForProbability(double p) const {
  for (size_t n = 1; n < keep_num_.size(); ++n) {
    if (std::ldexp(static_cast<long double>(keep_num_[n]), -63) >= p) {
      return static_cast<int64_t>(n) + min_units_ - 1;
    }
  }
  return static_cast<int64_t>(keep_num_.size()) + min_units_ - 1;
}

absl::StatusOr<bool> PartitionSelector::ShouldKeep(int64_t units, RandomBits& bits) const {
  if (units < min_units_) return false;
  const int64_t n = units - min_units_ + 1;
  if (n >= static_cast<int64_t>(keep_num_.size())) return true;
  const uint64_t num = keep_num_[n];
  if (num == 0) return false;
  if (num == kOne) return true;
  return bits.Bernoulli(num, kOne);
}

}  // namespace veil::dp
