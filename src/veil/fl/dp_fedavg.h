// Client-level differential privacy for federated averaging (issue 10, item 5): DP-FedAvg (McMahan, Ramage,
// Talwar, Zhang 2018, "Learning Differentially Private Recurrent Language Models", ICLR; Algorithm 1 with
// the fixed denominator, uniform weights) with fixed or adaptive clipping (Andrew, Thakkar, McMahan,
// Ramaswamy 2021, "Differentially Private Learning with Adaptive Clipping", NeurIPS; Algorithm 1 and
// Theorem 1). The privacy unit is one CLIENT (all of a site's records together).
//
// One round t, m = clients_per_round expected out of N = total_clients:
//   1. Sampling: every client takes part independently with probability q = m / N (SampleClients; Poisson
//      sampling is what the accountant assumes; q = 1 when every client takes part every round).
//   2. Client k trains (strategy.h, TrainLocally) and clips its update to L2 norm <= C_t (ClipUpdate);
//      b_k = 1 if it was already within C_t.
//   3. The server gets S = sum_k clip(Delta_k) (plainly, or as the sum of a secure-aggregation round) and the
//      count B = sum_k b_k, and releases (Aggregate)
//        Delta_t = (S + N(0, sigma_Delta^2 I)) / m,   sigma_Delta = z_Delta D_t
//      where D_t is the L2 sensitivity of S: C_t for a plain sum; for the decoded sum of a secure-aggregation
//      round, in which each client encoded its clipped update as floats with Quantizer::Encode at scale s,
//        D_t = C_t (1 + 2^-24) + sqrt(P) (1/s + 2^-149)
//      (the float conversion moves a coordinate by at most 2^-24 of itself, or 2^-149 below the normal range,
//      and stochastic rounding by less than 1/s; per-coordinate clipping only shrinks it). Gaussian noise
//      from dp::AddSecureGaussianNoise, never inverse CDF; the rounding of that sampler to its granularity g
//      is covered by raising sigma_Delta until sigma_Delta / (D_t + sqrt(P) g) >= z_Delta (dp::
//      CalibrateSecureGaussian, as DP-SGD). Then Delta_t goes to the Strategy as the mean update.
//   4. Adaptive clipping: b~ = (B - n/2 + N(0, sigma_b^2)) / m + 1/2 (the count of centred bits b_k - 1/2,
//      L2 sensitivity 1/2; n is the number of clients whose bits are in B and whose updates are in S), and
//      C_{t+1} = C_t exp(-eta_C (b~ - gamma)), kept within [kMinAdaptiveClip, kMaxAdaptiveClip]: C moves
//      geometrically towards the gamma-quantile of the update norms (b~ = gamma is its fixed point). B must
//      be the exact count (with secure aggregation, a coordinate C_t b_k summed with the updates decodes to
//      C_t B within n/s, so rounding it recovers B when n/s < C_t/2).
//
// Privacy (Andrew et al. Theorem 1): one round releases two Gaussian queries of one client's contribution,
// the clipped update (sensitivity C_t, noise multiplier z_Delta) and the centred bit (sensitivity 1/2,
// noise multiplier 2 sigma_b); their composition is one Gaussian mechanism with noise multiplier z where
// z^-2 = z_Delta^-2 + (2 sigma_b)^-2. So z = noise_multiplier is the TOTAL, and the update gets
// z_Delta = (z^-2 - (2 sigma_b)^-2)^-1/2 (requires 2 sigma_b > z). With fixed clipping z_Delta = z.
// Accounting: each round is the Poisson-subsampled Gaussian mechanism with rate q and multiplier z (Mironov,
// Talwar, Zhang 2019; dp::SubsampledGaussianRdp), composed over the rounds in RDP and converted to
// (epsilon, delta) with dp::RdpToApproxDp (dp::DpSgdEpsilon, clients in the place of records): Spent() after
// the rounds so far. q is the rate actually realised by SampleClients, rounded up (as ml::PlanDpSgd does).
// Guarantee: the sequence of released Delta_t and C_t (hence every model) is (Spent().epsilon, delta)-DP with
// respect to adding or removing one client of the N, provided the clients are sampled by SampleClients (or
// independently with probability <= q), each client's update is clipped by ClipUpdate with clip_norm()
// before it leaves the client, Aggregate is told how the sum was encoded (encoding_scale), the denominator
// is the public m (never the actual count), and only this class's output is released (not S, not B, not
// the actual number of clients). Once noise is drawn Aggregate cannot fail on the data (its only later
// errors are the random source's), so a round is never redone on the same data without being charged.
// With secure aggregation the server never sees an individual update, but it sees S before the noise: in
// this central mode the server is trusted to add the noise.
//
// Distributed DP (distributed_dp.h) removes that trust: clients clip (ClipUpdate, fixed C), quantize,
// add discrete Gaussian noise (AddDistributedNoise) inside secure aggregation, and the server only decodes
// the noisy sum and divides it by m; it must not also call Aggregate (that would add noise a second time
// and account it as if it were the only noise). Adaptive clipping is not available there (the count B would
// need its own noise inside the secure sum). Its accountant is DistributedDpSpent below: fl::Account's rho
// per round, composed over the rounds in zCDP (without amplification by sampling).
//
// Thread safety: a DpFedAvg is a plain value (not synchronised); free functions are reentrant.
#ifndef VEIL_FL_DP_FEDAVG_H_
#define VEIL_FL_DP_FEDAVG_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/dp/accountant.h"
#include "veil/fl/distributed_dp.h"

namespace veil::fl {

// The range C_t is kept in under adaptive clipping (a clamp, not an error: the step depends on the noisy
// count, and an error after the noise is drawn would reveal it uncharged).
inline constexpr double kMinAdaptiveClip = 1e-100;
inline constexpr double kMaxAdaptiveClip = 1e100;

struct DpFedAvgOptions {
  // z: the total noise multiplier of a round (update and, when adaptive, clipped count). Finite, > 0.
  double noise_multiplier = 1.0;
  // C_0: the clipping norm (the initial one when adaptive). Finite, > 0.
  double clip_norm = 1.0;
  bool adaptive_clipping = false;
  // Adaptive clipping (Andrew et al.): the target quantile gamma in (0, 1) of the update norms, the step
  // eta_C > 0 of the geometric update, and sigma_b, the standard deviation of the noise on the clipped count
  // (0 = m / 20, Andrew et al.'s recommendation; > 0 otherwise; 2 sigma_b must exceed z).
  double target_quantile = 0.5;
  double clip_learning_rate = 0.2;
  double clipped_count_stddev = 0;
  // m (expected clients per round, >= 1) and N (clients in the federation, >= m): q = m / N.
  int64_t clients_per_round = 0;
  int64_t total_clients = 0;
  // The delta of the reported (epsilon, delta), in (0, 1).
  double delta = 1e-5;

  // Errors: InvalidArgument naming the field and the value (including 2 sigma_b <= z when adaptive).
  absl::Status Validate() const;
};

struct ClippedUpdate {
  std::vector<double> update;  // scaled to L2 norm <= clip_norm
  bool within_clip = false;    // the norm was already <= clip_norm (b_k of adaptive clipping)
};

// L2 clipping on the client: update * min(1, C / |update|), checked to have computed norm <= C. An update
// with a non-finite value contributes zeros (within_clip = false): it is a data-dependent outcome, and an
// error there would tell the server something a DP round must not reveal (as ml::TrainDpSgd does for a
// non-finite gradient). Errors: InvalidArgument if clip_norm is not finite and > 0 (it comes from the
// round's configuration, never from data).
absl::StatusOr<ClippedUpdate> ClipUpdate(std::span<const double> update, double clip_norm);

// Poisson sampling of the round's clients: each of [0, total_clients) independently with probability q =
// clients_per_round / total_clients (the same exact sampler as DP-SGD's records, ml::internal::PoissonSample;
// everyone when q = 1). Sorted. Errors: InvalidArgument for invalid options; rng's errors.
absl::StatusOr<std::vector<int64_t>> SampleClients(const DpFedAvgOptions& options, base::RandomSource& rng);

class DpFedAvg {
 public:
  // Validates the options and prepares the accountant. Errors: as Validate; the dp module's errors.
  static absl::StatusOr<DpFedAvg> Create(const DpFedAvgOptions& options);

  const DpFedAvgOptions& options() const { return options_; }
  // C_t: the clipping norm the clients of the next round must use.
  double clip_norm() const { return clip_norm_; }
  // q as realised by SampleClients (what the accountant uses); z_Delta; sigma_b (0 with fixed clipping).
  double sampling_rate() const { return sampling_rate_; }
  double update_noise_multiplier() const { return update_noise_multiplier_; }
  double clipped_count_stddev() const { return count_stddev_; }

  // One round (steps 3 and 4 above): sum_of_clipped = sum of the round's ClipUpdate outputs (clipped with
  // clip_norm() as it is before this call), within_clip_count = how many were within_clip, num_clients = how
  // many were summed. encoding_scale: 0 when the sum is of the ClipUpdate outputs themselves (plain
  // transport); the Quantizer's scale s when it is the decoded sum of a secure-aggregation round in which
  // each client sent its ClipUpdate output as floats through Quantizer::Encode (the noise is then calibrated
  // to the sensitivity D_t above, not C_t). Returns the noisy mean update (length of the sum) for
  // Strategy::Apply; then, when adaptive, updates C; then counts the round.
  // Atomic: on error nothing changes. `rng` is crypto::SecureRandom() in production.
  // Errors (all before any noise is drawn, and none depends on an honest client's data): InvalidArgument
  // for an empty or non-finite sum, num_clients < 0, within_clip_count outside [0, num_clients], an
  // encoding_scale that is negative or not finite, or a noise multiplier too large for the sum's length;
  // afterwards only the sampler's and rng's errors (the sampler's for a sum too large for its noise, which
  // clipped updates never produce).
  absl::StatusOr<std::vector<double>> Aggregate(std::span<const double> sum_of_clipped,
                                                int64_t within_clip_count, int64_t num_clients,
                                                base::RandomSource& rng, double encoding_scale = 0);

  // Cumulative (epsilon, delta) after rounds() rounds ((0, 0) before the first).
  dp::ApproxDp Spent() const { return spent_; }
  // The same after `rounds` rounds, to plan (and charge) a run before it starts. Errors: rounds < 0; the
  // accountant's errors.
  absl::StatusOr<dp::ApproxDp> SpentAfter(int64_t rounds) const;
  int64_t rounds() const { return rounds_; }

  // The round count and current clip norm, exactly ("VFLDPAVG" v1 with the options they belong to).
  std::string SerializeState() const;
  // Errors: DataLoss for a malformed state; FailedPrecondition if written for other options. On error the
  // state is unchanged.
  absl::Status RestoreState(std::string_view state);

 private:
  DpFedAvg() = default;

  DpFedAvgOptions options_;
  double clip_norm_ = 0;
  double sampling_rate_ = 0;
  double update_noise_multiplier_ = 0;
  double count_stddev_ = 0;
  int64_t rounds_ = 0;
  dp::ApproxDp spent_;
};

// Cumulative (epsilon, delta) of `rounds` rounds of distributed DP (distributed_dp.h) with integer L2
// sensitivity Delta per client (QuantizedL2Sensitivity): rounds * rho with rho of fl::Account, converted by
// dp::ZcdpToEpsilon. No amplification by sampling is claimed (conservative). rounds == 0 gives (0, 0).
// Errors: as fl::Account; rounds < 0.
absl::StatusOr<dp::ApproxDp> DistributedDpSpent(const DistributedDpOptions& options, double l2_sensitivity,
                                                int64_t rounds, double delta);

}  // namespace veil::fl

#endif  // VEIL_FL_DP_FEDAVG_H_
