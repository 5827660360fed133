#include "veil/synth/metrics.h"

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

}  // namespace veil::synth
