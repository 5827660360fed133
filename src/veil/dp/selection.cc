#include "veil/dp/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/accountant.h"
#include "veil/dp/samplers.h"
#include "veil/dp/samplers_internal.h"

namespace veil::dp {
namespace {

using internal::u128;

// See selection.h: score granularity g = 2^(ceil(log2 u) - 41), so g / u lies in [2^-41, 2^-40).
constexpr int kScoreGranularityBits = 41;
// Gaps n* - n_r are clamped at 2^51 (gamma >= 2^51 g / u >= 2^10).
constexpr int64_t kMaxGap = int64_t{1} << 51;
using internal::kRoundUp;  // 2 (D + g) / epsilon rounded up past three floating-point roundings

int ScoreGranularityExp(double u) { return internal::CeilLog2(u) - kScoreGranularityBits; }

}  // namespace

absl::StatusOr<size_t> PermuteAndFlip(RandomBits& bits, std::span<const double> scores, double sensitivity,
                                      double epsilon) {
  if (scores.empty()) return absl::InvalidArgumentError("PermuteAndFlip: scores must not be empty");
  if (scores.size() > (size_t{1} << 32)) {
    return absl::InvalidArgumentError("PermuteAndFlip: at most 2^32 candidates are supported");
  }
  if (!std::isfinite(sensitivity) || !(sensitivity > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PermuteAndFlip: sensitivity must be finite and > 0, got ", sensitivity));
  }
  if (!std::isfinite(epsilon) || !(epsilon > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PermuteAndFlip: epsilon must be finite and > 0, got ", epsilon));
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("PermuteAndFlip: score ", i, " is not finite"));
    }
  }

  // u = 2 (D + g(u)) / epsilon by fixed-point iteration (g only takes power-of-two values).
  const auto in_range = [](double u) { return u >= 0x1p-900 && u <= 0x1p900; };
  double u = 2 * sensitivity / epsilon * kRoundUp;
  int k = 0;
  bool settled = false;
  for (int iteration = 0; iteration < 64 && in_range(u); ++iteration) {
    k = ScoreGranularityExp(u);
    const double next = 2 * (sensitivity + internal::Pow2(k)) / epsilon * kRoundUp;
    if (!in_range(next)) break;
    if (ScoreGranularityExp(next) == k) {
      u = next;
      settled = true;
      break;
    }
    u = next;
  }
  if (!settled) {
    return absl::InvalidArgumentError(
        absl::StrCat("PermuteAndFlip: 2 sensitivity / epsilon = ", 2 * sensitivity / epsilon,
                     " is outside the supported range"));
  }

  // Scores in units of g, exactly.
  std::vector<__int128> n(scores.size());
  __int128 best = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double v = scores[i] * internal::Pow2(-k);  // exact (or an underflow to a value that rounds to 0)
    if (!(std::fabs(v) < 0x1p100)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PermuteAndFlip: score ", i, " is too large for the noise unit 2 sensitivity / epsilon = ", u));
    }
    n[i] = internal::RoundToInt(v);
    if (i == 0 || n[i] > best) best = n[i];
  }

  // gamma_r = gap_r * g / u with g / u = 2^(k - e) / m for u = m 2^e: num = gap << shift, den = m
  // (shift >= 0) or num = gap, den = m << -shift. Here -41 <= k - e <= 13, so num <= 2^64 and den <= 2^94.
  const internal::Dyadic ud = internal::ToDyadic(u);
  const int shift = k - ud.e;
  const u128 den = shift >= 0 ? u128{ud.m} : u128{ud.m} << -shift;

  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0u);
  size_t winner = scores.size();
  for (size_t i = 0; i < order.size(); ++i) {
    // Fisher-Yates: order[i] becomes a uniform choice among the candidates not yet visited.
    const size_t j = i + bits.UniformFast(order.size() - i);
    std::swap(order[i], order[j]);
    const uint32_t r = order[i];
    const __int128 gap_wide = best - n[r];
    const u128 gap = static_cast<u128>(gap_wide > kMaxGap ? kMaxGap : gap_wide);
    const u128 num = shift >= 0 ? gap << shift : gap;
    // Every coin is drawn, even after the winner, so that the work does not reveal the winner's position.
    const bool heads = internal::BernoulliExp(bits, num, den);
    if (heads && winner == scores.size()) winner = r;
  }
  if (!bits.ok()) return bits.status();
  if (winner == scores.size()) {
    // Unreachable: the best candidate's coin has probability exp(0) = 1.
    return absl::InternalError("PermuteAndFlip: no candidate selected");
  }
  return winner;
}

absl::StatusOr<size_t> ExponentialMechanism(dp::RandomBits& bits, std::span<const double> scores,
                                            double sensitivity, double epsilon) {
  if (scores.empty()) return absl::InvalidArgumentError("ExponentialMechanism: scores must not be empty");
  if (!std::isfinite(sensitivity) || !(sensitivity > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ExponentialMechanism: sensitivity must be finite and > 0, got ", sensitivity));
  }
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      return absl::InvalidArgumentError(absl::StrCat("ExponentialMechanism: score ", i, " is not finite"));
    }
  }
  // Granularity g = 2^(ceil(log2 u0) - 41) for the unrounded unit u0 = 2 D / epsilon; the mechanism is then
  // calibrated for sensitivity D + g: u = 2 (D + g) / epsilon, rounded up by a relative 2^-50 against the
  // floating-point roundings of this expression.
  const double u0 = 2.0 * sensitivity / epsilon;
  if (!std::isfinite(u0) || !(u0 > 0)) {
    return absl::InvalidArgumentError(
        "ExponentialMechanism: 2 * sensitivity / epsilon is not finite and > 0");
  }
  const int g_exp = ScoreGranularityExp(u0);
  const double g = std::ldexp(1.0, g_exp);
  const double u = 2.0 * (sensitivity + g) / epsilon * kRoundUp;
  // gamma_r = gap_r * g / u = gap_r / (u / g); the denominator u / g (about 2^41) is rounded UP to an
  // integer, which only lowers every gamma_r, i.e. behaves as a slightly smaller epsilon.
  const double den_d = std::ceil(std::ldexp(u, -g_exp));
  if (!(den_d >= 1) || den_d >= 0x1p62) return absl::InternalError("ExponentialMechanism: bad noise unit");
  const uint64_t den = static_cast<uint64_t>(den_d);
  std::vector<int64_t> n(scores.size());
  int64_t best = INT64_MIN;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double scaled = std::ldexp(scores[i], -g_exp);  // exact (a power-of-two scaling)
    if (std::fabs(scaled) >= 0x1p62) {
      return absl::InvalidArgumentError(
          absl::StrCat("ExponentialMechanism: score ", i, " is too large for the noise unit"));
    }
    n[i] = std::llround(scaled);
    best = std::max(best, n[i]);
  }
  const uint64_t count = scores.size();
  const uint64_t cap = 128 * count;
  for (uint64_t round = 0; round < cap; ++round) {
    VEIL_ASSIGN_OR_RETURN(uint64_t r, bits.Uniform(count));
    const int64_t gap = std::min<int64_t>(best - n[r], kMaxGap);
    VEIL_ASSIGN_OR_RETURN(bool accept, SampleBernoulliExp(bits, static_cast<uint64_t>(gap), den));
    if (accept) return static_cast<size_t>(r);
  }
  return absl::InternalError("ExponentialMechanism: round cap reached");
}

absl::StatusOr<double> ExponentialMechanismEpsilonForRho(double rho) {
  VEIL_RETURN_IF_ERROR(ValidateRho(rho));
  // Shaved by 2^-40 so that epsilon^2 / 8 stays <= rho after the roundings of sqrt and squaring.
  return std::sqrt(8.0 * rho * (1.0 - 0x1p-40));
}

}  // namespace veil::dp
