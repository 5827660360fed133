// MST: the marginal-based synthesizer that won the 2018 NIST differential privacy synthetic data challenge,
// in its general form (McKenna, Miklau, Sheldon 2021, "Winning the NIST Contest: A scalable and general
// approach to differentially private synthetic data", Section 4; reference code: private-pgm,
// mechanisms/mst.py).
//
// Algorithm (rho = the run's zCDP budget, d attributes, d >= 2):
//   1. Measure every 1-way marginal with discrete Gaussian noise, sigma_1 = sqrt(d / (2 rho_1)), rho_1 =
//   rho/3
//      (each costs rho_1 / d).
//   2. Compress the domain: the values of an attribute whose noisy count is below 3 sigma_1 are merged into
//      one extra value (kept if every value passes); the 1-way measurement of the merged value is the sum of
//      their noisy counts (variance m sigma_1^2 for m merged values).
//   3. Select d - 1 pairs forming a spanning tree: the score of pair (a, b) is the L1 distance between its
//      true 2-way counts (compressed domain) and the estimate from the 1-way measurements alone (the
//      independent model N p_a p_b); Kruskal-style, d - 1 times, the exponential mechanism (sensitivity 1)
//      picks one pair among those joining two different components, each with rho_2 / (d - 1), rho_2 = rho/3.
//   4. Measure the selected 2-way marginals, sigma_2 = sqrt((d - 1) / (2 rho_3)), rho_3 = rho/3.
//   5. Estimate a tree model consistent with the measurements (model.h; Private-PGM in the reference) and
//      sample from it; sampled merged values are decoded uniformly among their original values.
// With one attribute, the whole budget measures its 1-way marginal (no selection). All budget shares are
// charged to a ZcdpBudget, whose entries sum to at most its total (tests check this).
//
// Guarantee: rho-zCDP for add/remove-one-row neighbours, hence (epsilon, delta)-DP for a budget made by
// ZcdpBudget::FromApproxDp(epsilon, delta).
//
// Thread safety: FitMst is reentrant (no shared state).
#ifndef VEIL_SYNTH_MST_H_
#define VEIL_SYNTH_MST_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/synth/domain.h"
#include "veil/synth/measurement.h"
#include "veil/synth/model.h"

namespace veil::synth {

struct MstOptions {
  // Values whose noisy 1-way count is below compress_sigmas * sigma_1 are merged (MST: 3). 0 disables the
  // compression.
  double compress_sigmas = 3.0;
  TreeFitOptions fit;
};

struct MstResult {
  // The fitted model; its Sample returns rows over the input's domain.
  TreeModel model;
  // The selected tree (attribute indexes of the input's domain), in selection order.
  std::vector<std::pair<int, int>> edges;
  // Every measurement, over the compressed domain (model.domain()).
  std::vector<NoisyMarginal> measurements;
  // The budget with one entry per measurement and per selection step.
  ZcdpBudget budget;
};

// Runs MST on `data` with the budget `budget` (its total is spent; nothing must be charged yet), drawing all
// randomness from `random`. Errors: InvalidArgument if the table has no attribute or the budget was already
// charged; FailedPrecondition if the budget is so small that a noise scale exceeds the sampler's range
// (sigma > 2^24); the samplers' and the source's errors. An empty table (0 rows) is accepted: the noisy
// measurements then describe noise only, and the model is fitted on them (this is DP-correct; the rows are
// meaningless, as for any DP release of an empty table).
absl::StatusOr<MstResult> FitMst(const DiscreteTable& data, ZcdpBudget budget, base::RandomSource& random,
                                 const MstOptions& options = {});

}  // namespace veil::synth

#endif  // VEIL_SYNTH_MST_H_
