// Measurement under zero-concentrated differential privacy (zCDP) for the marginal-based synthesizers:
// the zCDP budget of one synthesis run (ZcdpBudget), noisy marginals with the discrete Gaussian mechanism
// (MeasureMarginal); selections of what to measure use dp::ExponentialMechanism (veil/dp/selection.h).
//
// Neighbouring datasets differ by adding or removing one row, one row per person (the setting of MST and AIM,
// McKenna et al. 2021 and 2022). A marginal then has L2 sensitivity 1 (one cell changes by 1), so discrete
// Gaussian noise of standard deviation sigma on every cell is rho = 1 / (2 sigma^2)-zCDP (Canonne, Kamath,
// Steinke 2020, Theorem 4). zCDP composes by adding rho (Bun & Steinke 2016, Lemma 2.3); a run's total rho
// comes from a target (epsilon, delta) through the DP module's conversion (dp::ApproxDpToZcdp, CKS20
// Corollary 13), and the run's cost is reported through dp::QueryAccountant, whose zCDP route gives back at
// most that epsilon.
//
// Randomness: every function takes a dp::RandomBits (production: over crypto::SecureRandom(); tests: over
// crypto::testing::DeterministicRandom). All noise and selections are exact integer samplers from the DP
// module (no floating-point inverse-CDF noise).
//
// Thread safety: ZcdpBudget is a plain value (one thread at a time); the functions are safe with one
// RandomBits per thread.
#ifndef VEIL_SYNTH_MEASUREMENT_H_
#define VEIL_SYNTH_MEASUREMENT_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/accountant.h"
#include "veil/dp/random_bits.h"
#include "veil/synth/domain.h"

namespace veil::synth {

// The zCDP budget of one synthesis run and the list of what spent it.
class ZcdpBudget {
 public:
  struct Entry {
    std::string name;  // e.g. "1-way marginal (age)", "select edge 3 of 14"
    double rho = 0;
  };

  // total rho = dp::ApproxDpToZcdp({epsilon, delta}): the largest rho whose conversion back to
  // (epsilon', delta) has epsilon' <= epsilon. Errors: InvalidArgument unless epsilon > 0 finite and
  // 0 < delta < 1.
  static absl::StatusOr<ZcdpBudget> FromApproxDp(double epsilon, double delta);
  // A budget given directly in rho; `delta` (0 < delta < 1) is only used to report the cost as (epsilon,
  // delta). Errors: InvalidArgument for rho not finite > 0 or a bad delta.
  static absl::StatusOr<ZcdpBudget> FromRho(double rho, double delta);

  double total_rho() const { return total_rho_; }
  double delta() const { return delta_; }
  double spent_rho() const { return spent_rho_; }
  double remaining_rho() const { return total_rho_ - spent_rho_; }
  const std::vector<Entry>& entries() const { return entries_; }

  // Records that `name` spent `rho`. Errors: InvalidArgument for rho not finite > 0 or an empty name;
  // ResourceExhausted (and nothing is recorded) if the running sum would exceed total_rho() (compared in
  // floating point exactly as spent_rho() will be computed, so spent_rho() <= total_rho() always holds).
  absl::Status Charge(std::string_view name, double rho);

  // The (epsilon, delta) cost of everything charged: one dp::QueryAccountant Gaussian component per entry,
  // each with delta() / entries().size() of the delta, composed by the accountant (its zCDP route gives
  // epsilon = ZcdpToEpsilon(spent_rho(), delta()) <= the target epsilon). Errors: FailedPrecondition if
  // nothing was charged; the accountant's errors.
  absl::StatusOr<dp::PrivacyCost> Cost() const;

 private:
  double total_rho_ = 0;
  double delta_ = 0;
  double spent_rho_ = 0;
  std::vector<Entry> entries_;
};

// Splits `rho` into `parts` equal shares whose floating-point sum (left to right) does not exceed rho.
// Errors: InvalidArgument for rho not finite > 0 or parts < 1.
absl::StatusOr<double> EqualShare(double rho, int64_t parts);

// The noise sigma of a marginal measurement that costs `rho` (dp::GaussianSigmaForRho, L2 sensitivity 1).
// Errors: rho's validation; FailedPrecondition "<what>: the budget is too small (noise sigma s exceeds 2^24)"
// when sigma is beyond what MeasureMarginal accepts.
absl::StatusOr<double> MarginalSigmaForRho(double rho, std::string_view what);

// A marginal measured with noise.
struct NoisyMarginal {
  std::vector<int> attrs;      // attribute indexes in the measured table's domain, in the dense layout order
  std::vector<double> values;  // noisy counts, dense layout (domain.h)
  double sigma = 0;            // standard deviation of the noise on one cell (before any cell merging)
  // Empty, or one factor per cell: cell i's noise variance is sigma^2 * variance_scale[i] (a cell that is
  // the sum of m measured cells has factor m; see MST's domain compression).
  std::vector<double> variance_scale;
  double rho = 0;  // zCDP cost of this measurement, 1 / (2 sigma^2)

  double CellVariance(size_t i) const {
    return sigma * sigma * (variance_scale.empty() ? 1.0 : variance_scale[i]);
  }
};

// The marginal of `t` over `attrs` plus independent discrete Gaussian noise of standard deviation `sigma` on
// every cell (dp::SampleDiscreteGaussianWithSigma, which rounds sigma^2 up, never down), charged to `budget`
// as rho = 1 / (2 sigma^2) under `name`. Guarantee: rho-zCDP (add/remove one row; see above).
// Errors: InvalidArgument for bad attrs (Domain::MarginalCells) or sigma outside [2^-24, 2^24];
// ResourceExhausted if the budget cannot pay (nothing is measured then); the sampler's errors.
absl::StatusOr<NoisyMarginal> MeasureMarginal(dp::RandomBits& bits, const DiscreteTable& t,
                                              std::span<const int> attrs, double sigma, std::string_view name,
                                              ZcdpBudget& budget);

// Selections use dp::ExponentialMechanism and dp::ExponentialMechanismEpsilonForRho (veil/dp/selection.h).

}  // namespace veil::synth

#endif  // VEIL_SYNTH_MEASUREMENT_H_
