// Training (issue 9, items 2 and 3): mini-batch SGD / Adam, non-private, and DP-SGD.
//
// DP-SGD (Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar, Zhang 2016, "Deep Learning with Differential
// Privacy", Algorithm 1), as implemented by TrainDpSgd:
//   1. Poisson subsampling: at each step every record is included independently with probability q
//      (q = batch_size / N). The gaps between included records are drawn as exact geometric variables from
//      the CSPRNG (CKS20 Algorithm 2's geometric part, with ratio exp(-s / 2^40) for an integer s, so q is
//      realised exactly as 1 - exp(-s / 2^40); that value, rounded up, is what the accountant sees).
//   2. Per-example gradients, each clipped to L2 norm <= clip_norm (model.h: computed as matrices, without
//      per-example allocation).
//   3. The clipped sum plus Gaussian noise of standard deviation sigma = noise_multiplier * clip_norm per
//      coordinate, sampled by dp::AddSecureGaussianNoise (discrete Gaussian at a power-of-two granularity g,
//      never floating-point inverse CDF). Rounding to the granularity can move neighbouring sums apart by
//      sqrt(P) g more in L2 (P = number of parameters), so sigma is raised until
//      sigma' / (clip_norm + sqrt(P) g) >= noise_multiplier, with sigma' the sampler's actual sigma.
//   4. The noisy sum divided by the EXPECTED batch size q N (the number of records N is treated as public, as
//      in TF Privacy and Opacus), then an SGD or Adam step (post-processing).
// Accounting: T steps of the Poisson-subsampled Gaussian mechanism, RDP of Mironov, Talwar, Zhang 2019
// (dp::SubsampledGaussianRdp via dp::DpSgdEpsilon); the noise multiplier is calibrated BEFORE training to the
// target (epsilon, delta) with dp::CalibrateDpSgdNoiseMultiplier for the given q and T. Guarantee: the
// trained parameters are (cost.epsilon, cost.delta)-DP with respect to adding or removing one record (one
// record per data subject; with several records per subject, group them first). Only the final parameters are
// released: the progress callback gets no data-dependent value in DP mode.
//
// The caller charges DpSgdPlan::cost (PlanDpSgd, before training) to the dataset's ledger; TrainDpSgd returns
// the same plan so the charged and the spent cost are one object.
//
// Thread safety: functions are reentrant; a Model being trained must not be shared.
#ifndef VEIL_ML_TRAIN_H_
#define VEIL_ML_TRAIN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/dp/accountant.h"
#include "veil/dp/random_bits.h"
#include "veil/ml/model.h"

namespace veil::ml {

enum class Optimizer { kSgd, kAdam };

struct TrainOptions {
  Optimizer optimizer = Optimizer::kAdam;
  // Step size (SGD and Adam).
  double learning_rate = 0.01;
  // Passes over the data. Non-private: each epoch shuffles and takes consecutive batches; DP-SGD: the number
  // of steps is T = ceil(epochs / q).
  int epochs = 10;
  // Mini-batch size (DP-SGD: the expected batch size, q = batch_size / N).
  int batch_size = 256;
  // L2 penalty l2 / 2 |W|^2 on weights (not biases), added to the mean gradient (data-independent, so also
  // allowed under DP).
  double l2 = 0;
  // SGD momentum (heavy ball); Adam's betas and epsilon (Kingma & Ba 2015).
  double momentum = 0.9;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double adam_epsilon = 1e-8;
  // Learning rate decay: the step size at epoch e is learning_rate / (1 + decay * e).
  double decay = 0;
  // FedProx proximal term (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): with
  // proximal_mu > 0 the objective gains proximal_mu / 2 |w - proximal_center|^2 over ALL parameters (weights
  // and biases), i.e. proximal_mu (w - proximal_center) is added to every step's gradient. proximal_center
  // has one entry per parameter (the global model of the round; fl::TrainLocally sets both). The centre is
  // public (the model every client received), so the term is data-independent and also allowed under DP-SGD.
  // proximal_mu = 0 (default) disables it and proximal_center is then ignored.
  double proximal_mu = 0;
  std::vector<double> proximal_center;
  // Called after each epoch with (epoch, epochs, mean training loss); the loss is NaN under DP-SGD (it is
  // data-dependent and not covered by the guarantee).
  std::function<void(int, int, double)> progress;
};

struct DpSgdOptions {
  // Target guarantee for the whole training run.
  double epsilon = 1;
  double delta = 1e-5;
  // Per-example L2 clipping norm C.
  double clip_norm = 1;
  // If set, used instead of calibrating (the cost is then computed for it).
  std::optional<double> noise_multiplier;
};

// What a DP-SGD run costs, computed before any data is touched.
struct DpSgdPlan {
  dp::ApproxDp cost;            // what the ledger debits
  double noise_multiplier = 0;  // z
  double sampling_rate = 0;     // q as realised by the sampler (what the accountant used)
  int64_t steps = 0;            // T
  double clip_norm = 0;         // C
  double noise_sigma = 0;       // the sampler's per-coordinate sigma (>= z C)
  double rdp_order = 0;         // the Renyi order that gave epsilon
  int64_t num_records = 0;      // N (public)
  int64_t expected_batch_size = 0;
  // Set by TrainDpSgd when the parameters became non-finite: they are reset to zero (a constant model) and
  // the run still succeeds, since an error there would depend on the data. The caller flags the model.
  bool diverged = false;
  dp::PrivacyCost privacy;  // one kApproxDp component "DP-SGD", for the ledger and --explain
};

// Validates options and computes the plan for `num_records` records and `num_params` parameters.
// Errors: InvalidArgument for epsilon <= 0, delta not in (0, 1), clip_norm <= 0, batch_size not in
// [1, num_records], epochs < 1, or a noise multiplier too large/small for the sampler; OutOfRange if no noise
// multiplier reaches the target.
absl::StatusOr<DpSgdPlan> PlanDpSgd(int64_t num_records, int64_t num_params, const TrainOptions& options,
                                    const DpSgdOptions& dp_options);

// Non-private training from the model's current parameters. Shuffling uses `rng` (a deterministic test source
// makes training reproducible). Errors: InvalidArgument for bad options or mismatched x / y; rng's errors.
absl::Status Train(Model& model, const Matrix& x, const Targets& y, const TrainOptions& options,
                   base::RandomSource& rng);

// DP-SGD training (see the file comment); returns the plan it ran (same as PlanDpSgd for public_num_records,
// or x.rows(), records).
//
// `public_num_records`: the public number of records N that fixes q = batch_size / N, T and the
// normalisation q N, when it is not x.rows(). A caller that charged a plan for N records before reading the
// data (gov::Session::RunCharged) and then removed some records by a per-record rule (e.g. an undeclared
// label) trains on x.rows() <= N records with exactly the charged q and T, and no data-dependent count enters
// the plan. Each remaining record is still included with probability q per step, so the guarantee holds.
// `rng` is the source of the sampling and noise: crypto::SecureRandom() in production.
// No error depends on the data once it is validated against the model's shape: x may have no rows (every
// batch is then empty and only noise moves the parameters), a record whose per-example gradient is not finite
// contributes zero (Model::BatchGradient), and divergence sets DpSgdPlan::diverged instead of failing.
// Errors: as PlanDpSgd; InvalidArgument for bad options, mismatched shapes, a class label outside the model's
// classes, or x having more rows than public_num_records; rng's errors.
absl::StatusOr<DpSgdPlan> TrainDpSgd(Model& model, const Matrix& x, const Targets& y,
                                     const TrainOptions& options, const DpSgdOptions& dp_options,
                                     base::RandomSource& rng,
                                     std::optional<int64_t> public_num_records = std::nullopt);

namespace internal {
// The integer s for which the Poisson sampler's rate 1 - exp(-s / 2^40) is nearest to q (s >= 1).
uint64_t GeometricScaleForRate(double q);
// The rate the Poisson sampler realises for a requested q, 1 - exp(-s / 2^40) with s =
// GeometricScaleForRate(q), rounded up and capped at 1: what an accountant must see.
double RealisedPoissonRate(double q);
// Poisson sampling of [0, n): `out` gets the included indices in increasing order, each included
// independently with probability 1 - exp(-s / 2^40). Errors: bits' error.
absl::Status PoissonSample(dp::RandomBits& bits, int64_t n, uint64_t s, std::vector<int64_t>& out);
}  // namespace internal

}  // namespace veil::ml

#endif  // VEIL_ML_TRAIN_H_
