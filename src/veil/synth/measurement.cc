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

absl::StatusOr<double> MarginalSigmaForRho(double rho, std::string_view what) {
  VEIL_ASSIGN_OR_RETURN(double sigma, dp::GaussianSigmaForRho(1.0, rho));
  if (!(sigma <= 0x1p24)) {
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(what), ": the budget is too small (noise sigma ", sigma, " exceeds 2^24)"));
  }
  return sigma;
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

}  // namespace veil::synth
