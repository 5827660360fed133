#include "veil/synth/measurement.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/calibration.h"
#include "veil/dp/samplers.h"

namespace veil::synth {

absl::StatusOr<ZcdpBudget> ZcdpBudget::FromApproxDp(double epsilon, double delta) {
  VEIL_RETURN_IF_ERROR(dp::ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(dp::ValidatePositiveDelta(delta));
  VEIL_ASSIGN_OR_RETURN(double rho, dp::ApproxDpToZcdp(dp::ApproxDp{epsilon, delta}));
  return FromRho(rho, delta);
}

absl::StatusOr<ZcdpBudget> ZcdpBudget::FromRho(double rho, double delta) {
  VEIL_RETURN_IF_ERROR(dp::ValidateRho(rho));
  VEIL_RETURN_IF_ERROR(dp::ValidatePositiveDelta(delta));
  ZcdpBudget b;
  b.total_rho_ = rho;
  b.delta_ = delta;
  return b;
}

absl::Status ZcdpBudget::Charge(std::string_view name, double rho) {
  if (name.empty()) return absl::InvalidArgumentError("ZcdpBudget::Charge: empty name");
  VEIL_RETURN_IF_ERROR(dp::ValidateRho(rho));
  const double next = spent_rho_ + rho;
  if (next > total_rho_) {
    return absl::ResourceExhaustedError(absl::StrCat("zCDP budget exhausted: \"", std::string(name),
                                                     "\" needs rho ", rho, ", remaining ",
                                                     total_rho_ - spent_rho_, " of ", total_rho_));
  }
  spent_rho_ = next;
  entries_.push_back({std::string(name), rho});
  return absl::OkStatus();
}

absl::StatusOr<dp::PrivacyCost> ZcdpBudget::Cost() const {
  if (entries_.empty()) return absl::FailedPreconditionError("ZcdpBudget::Cost: nothing was measured");
  dp::QueryAccountant acc;
  const double share = delta_ / static_cast<double>(entries_.size());
  for (const Entry& e : entries_) VEIL_RETURN_IF_ERROR(acc.AddGaussian(e.name, e.rho, share));
  return acc.Total();
}

absl::StatusOr<double> EqualShare(double rho, int64_t parts) {
  VEIL_RETURN_IF_ERROR(dp::ValidateRho(rho));
  if (parts < 1)
    return absl::InvalidArgumentError(absl::StrCat("EqualShare: parts must be >= 1, got ", parts));
  double share = rho / static_cast<double>(parts);
  // Each addition rounds by at most half an ulp of the partial sum; shaving 2^-40 relative more than covers
  // parts < 2^30 roundings. Checked below anyway.
  share *= 1.0 - 0x1p-40;
  for (int attempt = 0; attempt < 64; ++attempt) {
    double sum = 0;
    for (int64_t i = 0; i < parts; ++i) sum += share;
    if (sum <= rho) return share;
    share *= 1.0 - 0x1p-30;
  }
  return absl::InternalError("EqualShare: could not split the budget");
}

absl::StatusOr<NoisyMarginal> MeasureMarginal(dp::RandomBits& bits, const DiscreteTable& t,
                                              std::span<const int> attrs, double sigma, std::string_view name,
                                              ZcdpBudget& budget) {
  if (!std::isfinite(sigma) || sigma < 0x1p-24 || sigma > 0x1p24) {
    return absl::InvalidArgumentError(
        absl::StrCat("MeasureMarginal: sigma must be in [2^-24, 2^24], got ", sigma));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<double> counts, t.Marginal(attrs));
  VEIL_ASSIGN_OR_RETURN(double rho, dp::RhoForGaussianSigma(1.0, sigma));
  VEIL_RETURN_IF_ERROR(budget.Charge(name, rho));
  for (double& c : counts) {
    VEIL_ASSIGN_OR_RETURN(int64_t z, dp::SampleDiscreteGaussianWithSigma(bits, sigma));
    c += static_cast<double>(z);
  }
  NoisyMarginal m;
  m.attrs.assign(attrs.begin(), attrs.end());
  m.values = std::move(counts);
  m.sigma = sigma;
  m.rho = rho;
  return m;
}

namespace {

// ceil(log2(x)) for a finite x > 0.
int CeilLog2(double x) {
  int e = 0;
  const double m = std::frexp(x, &e);  // x = m 2^e, m in [0.5, 1)
  return m == 0.5 ? e - 1 : e;
}

}  // namespace

absl::StatusOr<size_t> ExponentialMechanism(dp::RandomBits& bits, std::span<const double> scores,
                                            double sensitivity, double epsilon) {
  if (scores.empty()) return absl::InvalidArgumentError("ExponentialMechanism: scores must not be empty");
  if (!std::isfinite(sensitivity) || !(sensitivity > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ExponentialMechanism: sensitivity must be finite and > 0, got ", sensitivity));
  }
  VEIL_RETURN_IF_ERROR(dp::ValidateEpsilon(epsilon));
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
  const int g_exp = CeilLog2(u0) - 41;
  const double g = std::ldexp(1.0, g_exp);
  const double u = 2.0 * (sensitivity + g) / epsilon * (1.0 + 0x1p-50);
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
  constexpr int64_t kMaxGap = int64_t{1} << 51;
  const uint64_t count = scores.size();
  const uint64_t cap = 128 * count;
  for (uint64_t round = 0; round < cap; ++round) {
    VEIL_ASSIGN_OR_RETURN(uint64_t r, bits.Uniform(count));
    const int64_t gap = std::min<int64_t>(best - n[r], kMaxGap);
    VEIL_ASSIGN_OR_RETURN(bool accept, dp::SampleBernoulliExp(bits, static_cast<uint64_t>(gap), den));
    if (accept) return static_cast<size_t>(r);
  }
  return absl::InternalError("ExponentialMechanism: round cap reached");
}

absl::StatusOr<double> ExponentialMechanismEpsilonForRho(double rho) {
  VEIL_RETURN_IF_ERROR(dp::ValidateRho(rho));
  // Shaved by 2^-40 so that epsilon^2 / 8 stays <= rho after the roundings of sqrt and squaring.
  return std::sqrt(8.0 * rho * (1.0 - 0x1p-40));
}

}  // namespace veil::synth
