// AIM: the adaptive and iterative mechanism for DP synthetic data (McKenna, Mullins, Sheldon, Miklau 2022,
// "AIM: An Adaptive and Iterative Mechanism for Differentially Private Synthetic Data", PVLDB 15(11),
// Algorithm 3; reference code: private-pgm, mechanisms/aim.py).
//
// Input: a discretized table, a zCDP budget rho and a workload of weighted attribute sets (default: every
// 3-way marginal, weight 1). Candidates are the workload's downward closure (all non-empty subsets of its
// sets), candidate r weighted w_r = sum_{s in workload} weight_s |r intersected with s|.
// Algorithm (T = rounds, default 16 d; alpha = 0.9):
//   1. sigma = sqrt(T / (2 alpha rho)), epsilon = sqrt(8 (1 - alpha) rho / T). Measure every 1-way marginal
//      with sigma; fit the model (junction_tree.h).
//   2. Repeat: if less than twice a round's cost (1/(2 sigma^2) + epsilon^2/8) remains, this is the last
//      round and it spends exactly what remains (a (1 - alpha) share selects, the rest measures).
//      Candidates are those whose addition keeps the model at most AimModelCellLimit(rho) * (rho spent after
//      this round) / rho cells (or that lie inside a model clique already). The exponential mechanism
//      (dp::ExponentialMechanism, epsilon, sensitivity max_r w_r) selects r with quality
//          w_r (||M_r(D) - M_r(p_hat)||_1 - sqrt(2/pi) sigma n_r)
//      (the model's error on r minus the expected L1 norm of the noise of measuring it; n_r = r's cells).
//      r is measured with the discrete Gaussian (sigma), the model refitted (warm start); if the model's
//      marginal on r moved by at most sqrt(2/pi) sigma n_r in L1, sigma halves and epsilon doubles
//      (budget annealing: the rounds were too noisy to help).
//   3. A final fit with more iterations; samples are drawn from it.
// Every selection and every measurement is charged to the ZcdpBudget (epsilon^2 / 8 for a selection, Cesar &
// Rogers 2021; 1 / (2 sigma^2) for a measurement), and the entries sum to the budget's total (up to a
// relative 1e-12 of floating-point rounding, never above it).
//
// Guarantee: rho-zCDP for add/remove-one-row neighbours (adaptive composition of zCDP mechanisms whose
// parameters depend only on earlier outputs), hence (epsilon, delta)-DP for ZcdpBudget::FromApproxDp.
//
// Thread safety: FitAim is reentrant.
#ifndef VEIL_SYNTH_AIM_H_
#define VEIL_SYNTH_AIM_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/synth/domain.h"
#include "veil/synth/junction_tree.h"
#include "veil/synth/measurement.h"

namespace veil::synth {

struct WorkloadQuery {
  std::vector<int> attrs;  // attribute indexes
  double weight = 1.0;     // > 0
};

struct AimOptions {
  // The workload; empty means every subset of min(3, d) attributes with weight 1.
  std::vector<WorkloadQuery> workload;
  // Number of rounds T used to set the initial noise; 0 means 16 d (the paper's default).
  int rounds = 0;
  // Share of each round's budget spent on measuring (the rest selects); the paper's 0.9.
  double measure_share = 0.9;
  // Largest model (sum of the junction tree's clique cells), growing with the budget: the limit is
  // max_model_cells * sqrt(rho / model_cells_reference_rho), at least max_model_cells and at most
  // max_model_cells_cap (AimModelCellLimit). The noise scale falls as 1 / sqrt(rho), so with this rule the
  // model's cells grow with the precision of what is measured: a larger model pays off at epsilon 10, not at
  // epsilon 1, where the noise swamps the extra cells. The reference rho 0.025 is about epsilon 1 at the
  // deltas in use (0.015 at delta 1e-9; veil synth's model share at epsilon 1, delta 1e-6, is 0.018), so up
  // to epsilon 1 the limit is max_model_cells; it reaches the cap at rho 0.1 (epsilon about 3 at delta 1e-9).
  // Private-PGM's default is a fixed 80 MB of doubles (10,485,760 cells); Veil's limits, 2^16 cells (512 KiB)
  // up to 2^17, keep the fit of Adult (d = 15) at a few seconds of CPU (docs/synth.md). Setting the cap
  // equal to max_model_cells gives a fixed limit.
  int64_t max_model_cells = int64_t{1} << 16;
  int64_t max_model_cells_cap = int64_t{1} << 17;
  double model_cells_reference_rho = 0.025;
  // Mirror-descent iterations after each measurement (warm-started) and for the final model. 0 for
  // round_iterations means 50 x (model-size limit / max_model_cells), rounded: 50 at the base limit, 100 at
  // twice it, since a larger model needs more iterations to be fitted before the next candidates are scored
  // (on Adult at eps 10 with 2^17 cells, 50 gave a 3-way TVD of 0.0485 and 100 gave 0.0456; at eps 1 with
  // 2^16, 100 gave the same as 50 for more CPU). Private-PGM's AIM runs up to 1000 after each measurement.
  int round_iterations = 0;
  int final_iterations = 1000;
  // Called after each round with (round, rho spent so far, total rho); may be empty.
  std::function<void(int, double, double)> progress;
};

struct AimResult {
  JunctionTreeModel model;
  // Every measurement (1-way ones first, then one per round), over the input's domain.
  std::vector<NoisyMarginal> measurements;
  // The budget with one entry per measurement and per selection.
  ZcdpBudget budget;
  int rounds = 0;          // adaptive rounds run
  int sigma_halvings = 0;  // times the annealing halved sigma
};

// The model-size limit for a total budget `rho` under `options` (see AimOptions::max_model_cells).
int64_t AimModelCellLimit(double rho, const AimOptions& options);

// Runs AIM on `data` with `budget` (spent entirely; nothing must be charged yet), drawing all randomness from
// `random`. Errors: InvalidArgument if the table has no attribute, the budget was already charged, an option
// is out of range (measure_share not in (0, 1), rounds < 0, max_model_cells < 1, max_model_cells_cap <
// max_model_cells, model_cells_reference_rho not finite > 0, round_iterations < 0, final_iterations < 1) or a
// workload query is empty, repeats or is out of range or has a weight not finite > 0; FailedPrecondition if
// the budget is so small that a noise scale exceeds 2^24; the samplers' and the source's errors.
absl::StatusOr<AimResult> FitAim(const DiscreteTable& data, ZcdpBudget budget, base::RandomSource& random,
                                 const AimOptions& options = {});

}  // namespace veil::synth

#endif  // VEIL_SYNTH_AIM_H_
