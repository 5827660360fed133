#include "veil/synth/mst.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/selection.h"

namespace veil::synth {
absl::StatusOr<MstResult> FitMst(const DiscreteTable& data, ZcdpBudget budget, base::RandomSource& random,
                                 const MstOptions& options) {
  const int d = data.num_attributes();
  if (d == 0) return absl::InvalidArgumentError("MST: the table has no attribute");
  if (!budget.entries().empty()) return absl::InvalidArgumentError("MST: the budget was already charged");
  if (!std::isfinite(options.compress_sigmas) || options.compress_sigmas < 0) {
    return absl::InvalidArgumentError("MST: compress_sigmas must be finite and >= 0");
  }
  dp::RandomBits bits(random);
  const Domain& domain = data.domain();
  VEIL_ASSIGN_OR_RETURN(double rho_part, EqualShare(budget.total_rho(), d >= 2 ? 3 : 1));

  // 1. All 1-way marginals.
  VEIL_ASSIGN_OR_RETURN(double rho1, EqualShare(rho_part, d));
  VEIL_ASSIGN_OR_RETURN(double sigma1, MarginalSigmaForRho(rho1, "MST, 1-way marginals"));
  std::vector<NoisyMarginal> one_way;
  for (int a = 0; a < d; ++a) {
    const int attrs[] = {a};
    VEIL_ASSIGN_OR_RETURN(
        NoisyMarginal m,
        MeasureMarginal(bits, data, attrs, sigma1,
                        absl::StrCat("1-way marginal (", domain.attribute(a).name, ")"), budget));
    one_way.push_back(std::move(m));
  }

  // 2. Domain compression.
  Decoder decoder;
  decoder.original = domain;
  decoder.groups.resize(d);
  std::vector<Attribute> compressed_attrs;
  std::vector<std::vector<int32_t>> code_map(d);
  std::vector<NoisyMarginal> measurements;
  for (int a = 0; a < d; ++a) {
    const NoisyMarginal& m = one_way[a];
    const int64_t k = domain.size(a);
    std::vector<int32_t>& map = code_map[a];
    map.assign(k, -1);
    std::vector<int32_t> merged;
    int32_t kept = 0;
    for (int64_t v = 0; v < k; ++v) {
      if (options.compress_sigmas == 0 || m.values[v] >= options.compress_sigmas * sigma1) {
        map[v] = kept++;
        decoder.groups[a].push_back({static_cast<int32_t>(v)});
      } else {
        merged.push_back(static_cast<int32_t>(v));
      }
    }
    NoisyMarginal cm;
    cm.attrs = {a};
    cm.sigma = m.sigma;
    cm.rho = m.rho;
    if (merged.empty()) {
      cm.values = m.values;
    } else {
      double sum = 0;
      for (int32_t v : merged) {
        map[v] = kept;
        sum += m.values[v];
      }
      for (int64_t v = 0; v < k; ++v) {
        if (map[v] < kept) cm.values.push_back(m.values[v]);
      }
      cm.values.push_back(sum);
      cm.variance_scale.assign(kept + 1, 1.0);
      cm.variance_scale[kept] = static_cast<double>(merged.size());
      decoder.groups[a].push_back(merged);
    }
    compressed_attrs.push_back({domain.attribute(a).name, static_cast<int64_t>(decoder.groups[a].size())});
    measurements.push_back(std::move(cm));
  }
  VEIL_ASSIGN_OR_RETURN(Domain cdomain, Domain::Create(std::move(compressed_attrs)));
  std::vector<std::vector<int32_t>> ccodes(d);
  for (int a = 0; a < d; ++a) {
    std::span<const int32_t> col = data.column(a);
    ccodes[a].resize(col.size());
    for (size_t r = 0; r < col.size(); ++r) ccodes[a][r] = code_map[a][col[r]];
  }
  VEIL_ASSIGN_OR_RETURN(DiscreteTable cdata, DiscreteTable::Create(cdomain, std::move(ccodes)));

  MstResult result;
  if (d >= 2) {
    // 3. Selection of a spanning tree. Scores against the model of the 1-way measurements alone.
    VEIL_ASSIGN_OR_RETURN(TreeModel independent, TreeModel::Fit(cdomain, measurements, {}, options.fit));
    const double n_hat = independent.estimated_rows();
    std::vector<std::pair<int, int>> candidates;
    std::vector<double> scores;
    for (int a = 0; a < d; ++a) {
      for (int b = a + 1; b < d; ++b) {
        const int attrs[] = {a, b};
        VEIL_ASSIGN_OR_RETURN(std::vector<double> x, cdata.Marginal(attrs));
        const std::vector<double>& pa = independent.NodeMarginal(a);
        const std::vector<double>& pb = independent.NodeMarginal(b);
        const size_t kb = pb.size();
        double l1 = 0;
        for (size_t i = 0; i < pa.size(); ++i) {
          for (size_t j = 0; j < kb; ++j) l1 += std::fabs(x[i * kb + j] - n_hat * pa[i] * pb[j]);
        }
        candidates.push_back({a, b});
        scores.push_back(l1);
      }
    }
    VEIL_ASSIGN_OR_RETURN(double rho_select, EqualShare(rho_part, d - 1));
    VEIL_ASSIGN_OR_RETURN(double eps_select, dp::ExponentialMechanismEpsilonForRho(rho_select));
    std::vector<int> uf(d);
    std::iota(uf.begin(), uf.end(), 0);
    for (int step = 0; step < d - 1; ++step) {
      std::vector<size_t> open;
      std::vector<double> open_scores;
      for (size_t c = 0; c < candidates.size(); ++c) {
        if (internal::FindRoot(uf, candidates[c].first) != internal::FindRoot(uf, candidates[c].second)) {
          open.push_back(c);
          open_scores.push_back(scores[c]);
        }
      }
      VEIL_RETURN_IF_ERROR(budget.Charge(absl::StrCat("select edge ", step + 1, " of ", d - 1), rho_select));
      VEIL_ASSIGN_OR_RETURN(size_t pick, dp::ExponentialMechanism(bits, open_scores, 1.0, eps_select));
      const auto [a, b] = candidates[open[pick]];
      uf[internal::FindRoot(uf, a)] = internal::FindRoot(uf, b);
      result.edges.push_back({a, b});
    }

    // 4. The selected 2-way marginals.
    VEIL_ASSIGN_OR_RETURN(double rho2, EqualShare(rho_part, d - 1));
    VEIL_ASSIGN_OR_RETURN(double sigma2, MarginalSigmaForRho(rho2, "MST, 2-way marginals"));
    for (const auto& [a, b] : result.edges) {
      const int attrs[] = {a, b};
      VEIL_ASSIGN_OR_RETURN(NoisyMarginal m,
                            MeasureMarginal(bits, cdata, attrs, sigma2,
                                            absl::StrCat("2-way marginal (", domain.attribute(a).name, ", ",
                                                         domain.attribute(b).name, ")"),
                                            budget));
      measurements.push_back(std::move(m));
    }
  }

  // 5. Estimation.
  VEIL_ASSIGN_OR_RETURN(result.model, TreeModel::Fit(cdomain, measurements, result.edges, options.fit));
  VEIL_RETURN_IF_ERROR(result.model.SetDecoder(std::move(decoder)));
  result.measurements = std::move(measurements);
  result.budget = std::move(budget);
  return result;
}

}  // namespace veil::synth
