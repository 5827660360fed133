#include "veil/fl/graph.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "veil/base/secret_bytes.h"
#include "veil/base/status_macros.h"
#include "veil/fl/mask_prg.h"

namespace veil::fl {

absl::StatusOr<NeighbourGraph> NeighbourGraph::Complete(uint32_t n) {
  if (n < 2)
    return absl::InvalidArgumentError(absl::StrCat("neighbour graph: needs at least 2 clients, got ", n));
  NeighbourGraph g;
  g.n_ = n;
  g.complete_ = true;
  g.adjacency_.resize(n);
  for (uint32_t u = 0; u < n; ++u) {
    g.adjacency_[u].reserve(n - 1);
    for (uint32_t v = 0; v < n; ++v) {
      if (v != u) g.adjacency_[u].push_back(v);
    }
  }
  return g;
}

absl::StatusOr<NeighbourGraph> NeighbourGraph::Harary(uint32_t n, uint32_t k,
                                                      const std::array<uint8_t, 32>& seed) {
  if (n < 3 || k < 2 || k % 2 != 0 || k >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighbour graph: Harary H(k, n) needs an even k in [2, n - 1] and n >= 3; got k = ", k,
                     ", n = ", n));
  }
  // A uniform ordering: Fisher-Yates with unbiased draws (rejection of the top partial range) from the PRG.
  base::SecretBytes key(std::span<const uint8_t>(seed.data(), seed.size()));
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::vector<uint32_t> words(static_cast<size_t>(n) * 4 + 64, 0);
  VEIL_RETURN_IF_ERROR(AddMask(key, words));
  size_t next = 0;
  for (uint32_t i = n - 1; i > 0; --i) {
    const uint64_t bound = uint64_t{i} + 1;
    const uint64_t limit = (uint64_t{1} << 32) - ((uint64_t{1} << 32) % bound);
    uint64_t r;
    do {
      if (next == words.size()) {  // probability far below 2^-100; extend deterministically
        std::vector<uint32_t> more(words.size() * 2, 0);
        VEIL_RETURN_IF_ERROR(AddMask(key, more));
        words = std::move(more);
      }
      r = words[next++];
    } while (r >= limit);
    std::swap(order[i], order[r % bound]);
  }
  NeighbourGraph g;
  g.n_ = n;
  g.half_ = k / 2;
  g.position_.resize(n);
  for (uint32_t p = 0; p < n; ++p) g.position_[order[p]] = p;
  g.adjacency_.resize(n);
  for (uint32_t u = 0; u < n; ++u) {
    const uint32_t p = g.position_[u];
    for (uint32_t d = 1; d <= g.half_; ++d) {
      g.adjacency_[u].push_back(order[(p + d) % n]);
      g.adjacency_[u].push_back(order[(p + n - d) % n]);
    }
    std::sort(g.adjacency_[u].begin(), g.adjacency_[u].end());
  }
  return g;
}

bool NeighbourGraph::Adjacent(uint32_t u, uint32_t v) const {
  if (u >= n_ || v >= n_ || u == v) return false;
  if (complete_) return true;
  const uint32_t a = position_[u], b = position_[v];
  const uint32_t d = a > b ? a - b : b - a;
  return std::min(d, n_ - d) <= half_;
}

namespace {

double Log2Sum(double a, double b) {  // log2(2^a + 2^b)
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double m = std::max(a, b);
  return m + std::log2(std::exp2(a - m) + std::exp2(b - m));
}

double Log2Pmf(uint32_t k, double p, uint32_t i) {
  const double log2_choose =
      (std::lgamma(k + 1.0) - std::lgamma(i + 1.0) - std::lgamma(k - i + 1.0)) / std::log(2.0);
  const double a = i == 0 ? 0 : i * std::log2(p);
  const double b = i == k ? 0 : (k - i) * std::log2(1 - p);
  return log2_choose + a + b;
}

}  // namespace

double Log2BinomialCdfBelow(uint32_t k, double p, uint32_t t) {
  double acc = -std::numeric_limits<double>::infinity();
  for (uint32_t i = 0; i < t && i <= k; ++i) acc = Log2Sum(acc, Log2Pmf(k, p, i));
  return acc;
}

double Log2BinomialTailAtLeast(uint32_t k, double p, uint32_t t) {
  double acc = -std::numeric_limits<double>::infinity();
  for (uint32_t i = t; i <= k; ++i) acc = Log2Sum(acc, Log2Pmf(k, p, i));
  return acc;
}

absl::StatusOr<SecAggPlusParameters> ChooseSecAggPlusParameters(uint32_t n, double dropout, double corrupt,
                                                                double correctness_bits, double security_bits,
                                                                SecAggThreatModel model) {
  if (n < 3 || !(dropout >= 0 && dropout < 1) || !(corrupt > 0 && corrupt < 1)) {
    return absl::InvalidArgumentError(
        "SecAgg+ parameters: need n >= 3, dropout in [0, 1) and corrupt in (0, 1)");
  }
  const double log2_n = std::log2(static_cast<double>(n));
  for (uint32_t k = 2; k < n; k += 2) {
    for (uint32_t t = model == SecAggThreatModel::kActive ? k / 2 + 1 : 1; t <= k; ++t) {
      const double corr = log2_n + Log2BinomialCdfBelow(k, 1 - dropout, t);
      const double sec = log2_n + Log2BinomialTailAtLeast(k, corrupt, t);
      if (corr <= -correctness_bits && sec <= -security_bits) {
        return SecAggPlusParameters{k, t, corr, sec};
      }
      if (corr > -correctness_bits) break;  // larger t only makes correctness worse
    }
  }
  return absl::NotFoundError(absl::StrCat("SecAgg+ parameters: no degree below n = ", n,
                                          " meets the targets; use the complete graph"));
}

}  // namespace veil::fl
