// Estimation on general graphical models for the marginal-based synthesizers (AIM; issue 8): a junction tree
// built from an arbitrary set of measured cliques, a Private-PGM-style fit of clique potentials to noisy
// marginals, exact marginals of any attribute set, and fast sampling.
//
// Junction tree (BuildJunctionTree). The measured attribute sets are made complete subgraphs of a graph on
// all attributes; the graph is triangulated by greedy elimination (at each step the vertex whose elimination
// adds the fewest fill edges, ties by the smallest clique in cells, then the lowest index); the maximal
// elimination cliques are the junction tree's cliques, joined by a maximum spanning tree on the separator
// sizes (Jensen & Jensen 1994: on the cliques of a chordal graph every maximum-weight spanning tree has the
// running-intersection property). Attributes no clique covers become singleton cliques, so every attribute is
// in the tree. A tree (MST's measurements) triangulates to itself: its cliques are its edges.
//
// Model (JunctionTreeModel). p(x) is proportional to exp(sum_C theta_C(x_C)) over the maximal cliques C,
// equivalently p(x) = prod_C mu_C(x_C) / prod_S mu_S(x_S) with the calibrated clique marginals mu_C.
//
// Estimation (JunctionTreeModel::Fit) is Private-PGM's (McKenna, Sheldon, Miklau 2019, "Graphical-model
// based estimation and inference for differential privacy", ICML, Algorithm 1 with the Armijo line search of
// its implementation): minimise
//   L(mu) = sum_r (1/2) sum_i (N^2 / var_ri) (M_r mu - y_r / N)_i^2
// over the marginal polytope (mu = the model's clique marginals as probabilities, M_r the marginalisation
// onto measurement r's attributes, y_r the noisy counts, var_ri the noise variance of cell i, N the
// inverse-variance weighted mean of the measurements' noisy totals), by entropic mirror descent on the clique
// potentials: theta <- theta - alpha grad L(mu), mu <- BeliefPropagation(theta) (Hugin message passing in
// probability space, normalised at every clique). The step alpha halves until the decrease is at least half
// of <grad, mu - mu'> and grows by 1.25 after an accepted step. The loss is convex in mu, so the fit is the
// generalized least-squares estimate among all distributions of this model family. A warm start from a
// previous model (AIM re-fits after every measurement) keeps its potentials: every old clique lies inside a
// new maximal clique (the new graph contains the old one), so the old distribution is reproduced exactly.
// All of this is post-processing of noisy measurements and costs no privacy.
//
// Marginals (Marginal): the marginal of any attribute set S, exactly: from the smallest clique containing S,
// or else by variable elimination on the smallest subtree joining cliques that cover S (each clique's
// conditional mu_C / mu_S restricted to what is needed, messages carrying S's attributes toward the subtree's
// top).
//
// Sampling (Sample): cliques in root-first order; the root's cells are drawn from mu_root, each later
// clique's new attributes from mu_C(. | separator) given the already drawn separator values: i.i.d. with
// Walker/Vose alias tables, or with systematic allocation within each group of rows sharing a separator value
// (as TreeModel and Private-PGM's synthetic_data).
//
// Thread safety: a JunctionTreeModel is immutable after Fit; Marginal and Sample may be called concurrently
// (Sample with distinct sources).
#ifndef VEIL_SYNTH_JUNCTION_TREE_H_
#define VEIL_SYNTH_JUNCTION_TREE_H_

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/synth/domain.h"
#include "veil/synth/measurement.h"
#include "veil/synth/model.h"

namespace veil::synth {

// True if every attribute of `small` is in `big` (both sorted attribute index lists).
inline bool IsSubset(const std::vector<int>& small, const std::vector<int>& big) {
  return std::includes(big.begin(), big.end(), small.begin(), small.end());
}

struct JunctionTree {
  // Maximal cliques, each a sorted list of attribute indexes; every attribute is in at least one.
  std::vector<std::vector<int>> cliques;
  // parent[c] is c's neighbour toward the root (clique 0), -1 for the root.
  std::vector<int> parent;
  // The cliques in an order where each parent precedes its children (order[0] == 0).
  std::vector<int> order;
  // separator[c] = cliques[c] intersected with cliques[parent[c]] (sorted; empty for the root).
  std::vector<std::vector<int>> separator;
  // Sum over the cliques of their number of cells (the model's size: Private-PGM's model size is 8 bytes
  // per cell).
  int64_t cells = 0;
};

// Builds the junction tree of `cliques` (attribute index sets, any order, duplicates allowed) over `domain`.
// Errors: InvalidArgument for an attribute index out of range or repeated within a clique; InvalidArgument
// if a maximal clique has more than kMaxMarginalCells cells (the message gives its size).
absl::StatusOr<JunctionTree> BuildJunctionTree(const Domain& domain,
                                               std::span<const std::vector<int>> cliques);

struct JunctionTreeFitOptions {
  // Mirror-descent iterations (each one belief propagation, plus one per halving of the step).
  int iterations = 1000;
  // Stops early when an accepted step lowers the loss by less than this fraction of it.
  double relative_tolerance = 1e-10;
};

class JunctionTreeModel {
 public:
  // Fits the model over `domain` whose cliques are the measurements' attribute sets (plus `extra_cliques`,
  // which may be used to keep a model's structure) to `measurements` (see the file comment). `warm_start`,
  // if given, must be a model over the same domain; its potentials and step size start the descent.
  // Errors: InvalidArgument for no measurement, a measurement whose attrs are out of range, repeated or
  // empty, or whose values do not match its attributes' cells; BuildJunctionTree's errors.
  static absl::StatusOr<JunctionTreeModel> Fit(const Domain& domain,
                                               std::span<const NoisyMarginal> measurements,
                                               const JunctionTreeFitOptions& options = {},
                                               const JunctionTreeModel* warm_start = nullptr,
                                               std::span<const std::vector<int>> extra_cliques = {});

  const Domain& domain() const { return domain_; }
  const JunctionTree& tree() const { return tree_; }
  // The estimated number of rows of the measured data (at least 0).
  double estimated_rows() const { return total_; }
  // The loss L at the fitted marginals, and the number of iterations run.
  double loss() const { return loss_; }
  int iterations() const { return iterations_; }

  // The model's marginal over `attrs` as probabilities (summing to 1), in the dense layout of domain.h in
  // the order given. Errors: InvalidArgument for an empty, repeated or out-of-range attribute list, or a
  // marginal above kMaxMarginalCells cells.
  absl::StatusOr<std::vector<double>> Marginal(std::span<const int> attrs) const;

  // `rows` rows from the model over domain(), by `method` (see TreeModel::SampleMethod).
  // Errors: InvalidArgument for rows < 0 or above 2^31; the source's error.
  absl::StatusOr<DiscreteTable> Sample(
      base::RandomSource& random, int64_t rows,
      TreeModel::SampleMethod method = TreeModel::SampleMethod::kSystematic) const;

  // A dense table over sorted attributes (row-major, last attribute fastest).
  struct Factor {
    std::vector<int> attrs;
    std::vector<int64_t> dims;
    std::vector<double> values;
  };

 private:
  Domain domain_;
  JunctionTree tree_;
  double total_ = 0;
  double loss_ = 0;
  double step_ = 0;
  int iterations_ = 0;
  std::vector<Factor> theta_;   // log-potentials per clique
  std::vector<Factor> mu_;      // calibrated clique marginals (probabilities)
  std::vector<Factor> sep_mu_;  // separator marginals (empty factor for the root)
};

}  // namespace veil::synth

#endif  // VEIL_SYNTH_JUNCTION_TREE_H_
