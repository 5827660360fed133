#include "veil/synth/metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::synth {

double TotalVariation(std::span<const double> a, std::span<const double> b) {
  double sa = 0;
  double sb = 0;
  for (double x : a) sa += x;
  for (double x : b) sb += x;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::fabs(a[i] / sa - b[i] / sb);
  return 0.5 * sum;
}

absl::StatusOr<MarginalErrorSummary> CompareMarginals(const DiscreteTable& real,
                                                      const DiscreteTable& synthetic, int k) {
  if (!(real.domain() == synthetic.domain())) {
    return absl::InvalidArgumentError("CompareMarginals: the two tables have different domains");
  }
  const int d = real.num_attributes();
  if (k < 1 || k > d) {
    return absl::InvalidArgumentError(absl::StrCat("CompareMarginals: k must be in [1, ", d, "], got ", k));
  }
  if (real.num_rows() == 0 || synthetic.num_rows() == 0) {
    return absl::InvalidArgumentError("CompareMarginals: a table has no row (TVD is undefined)");
  }
  MarginalErrorSummary out;
  out.way = k;
  std::vector<int> attrs(k);
  for (int i = 0; i < k; ++i) attrs[i] = i;
  double total = 0;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(std::vector<double> x, real.Marginal(attrs));
    VEIL_ASSIGN_OR_RETURN(std::vector<double> y, synthetic.Marginal(attrs));
    const double tvd = TotalVariation(x, y);
    total += tvd;
    if (out.marginals == 0 || tvd > out.worst_tvd) {
      out.worst_tvd = tvd;
      out.worst_attrs = attrs;
    }
    ++out.marginals;
    // Next k-subset in lexicographic order.
    int i = k - 1;
    while (i >= 0 && attrs[i] == d - k + i) --i;
    if (i < 0) break;
    ++attrs[i];
    for (int j = i + 1; j < k; ++j) attrs[j] = attrs[j - 1] + 1;
  }
  out.average_tvd = total / static_cast<double>(out.marginals);
  return out;
}

absl::StatusOr<std::vector<double>> SdnistBinEdges(std::span<const double> target, double deid_min,
                                                   double deid_max, int n_bins) {
  if (target.empty()) return absl::InvalidArgumentError("SdnistBinEdges: no target value");
  if (n_bins < 3)
    return absl::InvalidArgumentError(absl::StrCat("SdnistBinEdges: n_bins must be >= 3, got ", n_bins));
  if (!std::isfinite(deid_min) || !std::isfinite(deid_max) || deid_min > deid_max) {
    return absl::InvalidArgumentError(
        "SdnistBinEdges: deidentified minimum and maximum must be finite, min <= max");
  }
  std::vector<double> sorted(target.begin(), target.end());
  for (double v : sorted) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("SdnistBinEdges: a target value is not finite");
  }
  std::sort(sorted.begin(), sorted.end());
  const double t_min = sorted.front();
  const double t_max = sorted.back();
  std::vector<double> edges = {t_max};
  int m = n_bins;
  if (deid_max > t_max) {
    --m;
    edges.push_back(deid_max);
  }
  if (deid_min < t_min) {
    --m;
    edges.push_back(deid_min);
  }
  const double last = static_cast<double>(sorted.size() - 1);
  for (int j = 0; j < m; ++j) {
    // As numpy 1.22+ (q = j * (100 / m) / 100 in floating point; virtual index n q + (1 - q) - 1, i.e.
    // q (n - 1); method "higher" takes its ceiling, clipped to the last index).
    const double q = static_cast<double>(j) * (100.0 / static_cast<double>(m)) / 100.0;
    const double n = static_cast<double>(sorted.size());
    const double index = std::min(std::max(std::ceil(n * q + (1.0 + q * -1.0) - 1.0), 0.0), last);
    edges.push_back(sorted[static_cast<size_t>(index)]);
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  if (edges.size() < 2) {
    return absl::InvalidArgumentError("SdnistBinEdges: fewer than two distinct edges (a constant feature)");
  }
  return edges;
}

int SdnistBin(std::span<const double> edges, double value) {
  if (edges.size() < 2 || !(value >= edges.front()) || !(value <= edges.back())) return -1;
  if (value == edges.front()) return 0;
  // First edge >= value: the value is in (e_{i-1}, e_i].
  const auto it = std::lower_bound(edges.begin(), edges.end(), value);
  return static_cast<int>(it - edges.begin()) - 1;
}

absl::StatusOr<double> SdnistKMarginalScore(const DiscreteTable& target, const DiscreteTable& deid) {
  VEIL_ASSIGN_OR_RETURN(MarginalErrorSummary two, CompareMarginals(target, deid, 2));
  return 1000.0 * (1.0 - two.average_tvd);
}

}  // namespace veil::synth
