#include "veil/synth/aim.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/selection.h"

namespace veil::synth {
namespace {

std::string Names(const Domain& domain, const std::vector<int>& attrs) {
  std::string out;
  for (int a : attrs) absl::StrAppend(&out, out.empty() ? "" : ", ", domain.attribute(a).name);
  return out;
}

}  // namespace

int64_t AimModelCellLimit(double rho, const AimOptions& options) {
  const double base = static_cast<double>(options.max_model_cells);
  const double scaled = base * std::sqrt(std::max(rho, 0.0) / options.model_cells_reference_rho);
  const double cap = static_cast<double>(options.max_model_cells_cap);
  if (!(scaled > base)) return options.max_model_cells;  // also a NaN rho
  if (scaled >= cap) return options.max_model_cells_cap;
  return static_cast<int64_t>(scaled);
}

absl::StatusOr<AimResult> FitAim(const DiscreteTable& data, ZcdpBudget budget, base::RandomSource& random,
                                 const AimOptions& options) {
  const int d = data.num_attributes();
  const Domain& domain = data.domain();
  if (d == 0) return absl::InvalidArgumentError("AIM: the table has no attribute");
  if (!budget.entries().empty()) return absl::InvalidArgumentError("AIM: the budget was already charged");
  if (!(options.measure_share > 0 && options.measure_share < 1) || options.rounds < 0 ||
      options.max_model_cells < 1 || options.max_model_cells_cap < options.max_model_cells ||
      !std::isfinite(options.model_cells_reference_rho) || !(options.model_cells_reference_rho > 0) ||
      options.round_iterations < 0 || options.final_iterations < 1) {
    return absl::InvalidArgumentError(
        "AIM: options out of range (measure_share in (0, 1), rounds >= 0, max_model_cells >= 1, "
        "max_model_cells_cap >= max_model_cells, model_cells_reference_rho > 0, round_iterations >= 0, "
        "final_iterations >= 1)");
  }
  // Workload and candidates (downward closure) with their weights.
  std::vector<WorkloadQuery> workload = options.workload;
  if (workload.empty()) {
    const int k = std::min(3, d);
    std::vector<int> pick(k);
    for (int i = 0; i < k; ++i) pick[i] = i;
    while (true) {
      workload.push_back({pick, 1.0});
      int i = k - 1;
      while (i >= 0 && pick[i] == d - k + i) --i;
      if (i < 0) break;
      ++pick[i];
      for (int j = i + 1; j < k; ++j) pick[j] = pick[j - 1] + 1;
    }
  }
  std::map<std::vector<int>, double> candidate_weight;
  for (size_t q = 0; q < workload.size(); ++q) {
    std::vector<int> s = workload[q].attrs;
    std::sort(s.begin(), s.end());
    if (s.empty() || std::adjacent_find(s.begin(), s.end()) != s.end() || s.front() < 0 || s.back() >= d ||
        !std::isfinite(workload[q].weight) || !(workload[q].weight > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "AIM: workload query ", q, " is empty, repeats or is out of range, or has a bad weight"));
    }
    VEIL_RETURN_IF_ERROR(domain.MarginalCells(s).status());
    for (uint32_t mask = 1; mask < (1u << s.size()); ++mask) {
      std::vector<int> sub;
      for (size_t i = 0; i < s.size(); ++i) {
        if (mask & (1u << i)) sub.push_back(s[i]);
      }
      candidate_weight.emplace(sub, 0.0);
    }
  }
  for (auto& [cand, w] : candidate_weight) {
    for (const WorkloadQuery& q : workload) {
      int common = 0;
      for (int a : q.attrs) common += std::binary_search(cand.begin(), cand.end(), a) ? 1 : 0;
      w += q.weight * common;
    }
  }
  std::vector<std::vector<int>> candidates;
  std::vector<double> weights;
  std::vector<std::vector<double>> answers;
  for (const auto& [cand, w] : candidate_weight) {
    candidates.push_back(cand);
    weights.push_back(w);
    VEIL_ASSIGN_OR_RETURN(std::vector<double> x, data.Marginal(cand));
    answers.push_back(std::move(x));
  }

  dp::RandomBits bits(random);
  const double rho = budget.total_rho();
  const int rounds = options.rounds > 0 ? options.rounds : 16 * d;
  const double alpha = options.measure_share;
  const int64_t model_cells = AimModelCellLimit(rho, options);
  AimResult result;
  JunctionTreeFitOptions round_fit;
  round_fit.iterations = options.round_iterations > 0
                             ? options.round_iterations
                             : static_cast<int>(std::lround(50.0 * static_cast<double>(model_cells) /
                                                            static_cast<double>(options.max_model_cells)));
  JunctionTreeFitOptions final_fit;
  final_fit.iterations = options.final_iterations;

  // 1. One-way marginals.
  double sigma = 0;
  if (d == 1) {
    VEIL_ASSIGN_OR_RETURN(sigma, MarginalSigmaForRho(rho * (1 - 1e-12), "AIM"));
  } else {
    VEIL_ASSIGN_OR_RETURN(sigma, MarginalSigmaForRho(alpha * rho / rounds, "AIM"));
  }
  VEIL_ASSIGN_OR_RETURN(double epsilon, dp::ExponentialMechanismEpsilonForRho((1 - alpha) * rho / rounds));
  for (int a = 0; a < d; ++a) {
    const int attrs[] = {a};
    VEIL_ASSIGN_OR_RETURN(
        NoisyMarginal m,
        MeasureMarginal(bits, data, attrs, sigma,
                        absl::StrCat("1-way marginal (", domain.attribute(a).name, ")"), budget));
    result.measurements.push_back(std::move(m));
  }
  VEIL_ASSIGN_OR_RETURN(JunctionTreeModel model,
                        JunctionTreeModel::Fit(domain, result.measurements, d == 1 ? final_fit : round_fit));

  // 2. Adaptive rounds.
  const double bias_factor = std::sqrt(2.0 / std::numbers::pi);
  bool terminate = d == 1;
  while (!terminate) {
    const double round_rho = 0.5 / (sigma * sigma) + epsilon * epsilon / 8.0;
    double select_rho = epsilon * epsilon / 8.0;
    bool last = false;
    if (budget.remaining_rho() < 2 * round_rho) {
      last = true;
      terminate = true;
      select_rho = (1 - alpha) * budget.remaining_rho();
      VEIL_ASSIGN_OR_RETURN(epsilon, dp::ExponentialMechanismEpsilonForRho(select_rho));
    }
    const double spent_after = last ? rho : budget.spent_rho() + round_rho;
    const double size_limit = static_cast<double>(model_cells) * spent_after / rho;
    // Candidates within the size limit, with their qualities.
    const std::vector<std::vector<int>>& cliques = model.tree().cliques;
    std::vector<size_t> open;
    std::vector<double> scores;
    double sensitivity = 0;
    const double n_hat = model.estimated_rows();
    for (size_t c = 0; c < candidates.size(); ++c) {
      bool free = false;
      for (const std::vector<int>& k : cliques) {
        if (IsSubset(candidates[c], k)) {
          free = true;
          break;
        }
      }
      if (!free) {
        std::vector<std::vector<int>> grown = cliques;
        grown.push_back(candidates[c]);
        absl::StatusOr<JunctionTree> jt = BuildJunctionTree(domain, grown);
        if (!jt.ok() || static_cast<double>(jt->cells) > size_limit) continue;
      }
      VEIL_ASSIGN_OR_RETURN(std::vector<double> p, model.Marginal(candidates[c]));
      const std::vector<double>& x = answers[c];
      double l1 = 0;
      for (size_t i = 0; i < x.size(); ++i) l1 += std::fabs(x[i] - n_hat * p[i]);
      const double bias = bias_factor * sigma * static_cast<double>(x.size());
      open.push_back(c);
      scores.push_back(weights[c] * (l1 - bias));
      sensitivity = std::max(sensitivity, weights[c]);
    }
    if (open.empty()) return absl::InternalError("AIM: no candidate fits the model size limit");
    VEIL_RETURN_IF_ERROR(budget.Charge(absl::StrCat("select marginal ", result.rounds + 1), select_rho));
    VEIL_ASSIGN_OR_RETURN(size_t pick, dp::ExponentialMechanism(bits, scores, sensitivity, epsilon));
    const std::vector<int>& chosen = candidates[open[pick]];
    if (last) {
      // What remains measures, sigma slightly above the exact value so that rounding cannot overspend.
      VEIL_ASSIGN_OR_RETURN(sigma, MarginalSigmaForRho(budget.remaining_rho(), "AIM"));
      sigma *= 1 + 0x1p-40;
    }
    VEIL_ASSIGN_OR_RETURN(
        NoisyMarginal m,
        MeasureMarginal(bits, data, chosen, sigma,
                        absl::StrCat(chosen.size(), "-way marginal (", Names(domain, chosen), ")"), budget));
    result.measurements.push_back(std::move(m));
    ++result.rounds;
    VEIL_ASSIGN_OR_RETURN(std::vector<double> before, model.Marginal(chosen));
    VEIL_ASSIGN_OR_RETURN(model, JunctionTreeModel::Fit(domain, result.measurements,
                                                        terminate ? final_fit : round_fit, &model));
    if (!terminate) {
      VEIL_ASSIGN_OR_RETURN(std::vector<double> after, model.Marginal(chosen));
      double moved = 0;
      for (size_t i = 0; i < after.size(); ++i) moved += std::fabs(after[i] - before[i]);
      moved *= model.estimated_rows();
      if (moved <= bias_factor * sigma * static_cast<double>(after.size())) {
        sigma /= 2;
        epsilon *= 2;
        ++result.sigma_halvings;
      }
    }
    if (options.progress) options.progress(result.rounds, budget.spent_rho(), rho);
  }
  result.model = std::move(model);
  result.budget = std::move(budget);
  return result;
}

}  // namespace veil::synth
