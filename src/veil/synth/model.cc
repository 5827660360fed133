#include "veil/synth/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"

namespace veil::synth {

namespace internal {

void ProjectOntoSimplex(std::span<double> v, double total) {
  // Duchi et al. 2008, Figure 1: sort descending, find the largest k with u_k - (sum_{j<=k} u_j - z) / k > 0,
  // subtract theta = (sum_{j<=k} u_j - z) / k and clip at 0.
  std::vector<double> u(v.begin(), v.end());
  std::sort(u.begin(), u.end(), std::greater<double>());
  double cumulative = 0;
  double theta = 0;
  for (size_t k = 0; k < u.size(); ++k) {
    cumulative += u[k];
    const double t = (cumulative - total) / static_cast<double>(k + 1);
    if (u[k] - t > 0) theta = t;
  }
  for (double& x : v) x = std::max(x - theta, 0.0);
}

}  // namespace internal

namespace {

// Rakes `t` (rows x cols, row-major) so that its row sums are `r` and column sums `c` (both summing to 1).
void Rake(std::vector<double>& t, const std::vector<double>& r, const std::vector<double>& c,
          const TreeFitOptions& options) {
  const size_t rows = r.size();
  const size_t cols = c.size();
  std::vector<double> sums(std::max(rows, cols));
  for (int it = 0; it < options.max_ipf_iterations; ++it) {
    // Rows.
    for (size_t i = 0; i < rows; ++i) {
      double s = 0;
      for (size_t j = 0; j < cols; ++j) s += t[i * cols + j];
      const double f = s > 0 ? r[i] / s : 0.0;
      for (size_t j = 0; j < cols; ++j) t[i * cols + j] *= f;
    }
    // Columns, measuring the column error before fixing it (rows are exact at this point).
    std::fill(sums.begin(), sums.begin() + cols, 0.0);
    for (size_t i = 0; i < rows; ++i) {
      for (size_t j = 0; j < cols; ++j) sums[j] += t[i * cols + j];
    }
    double err = 0;
    for (size_t j = 0; j < cols; ++j) err += std::fabs(sums[j] - c[j]);
    if (err <= options.ipf_tolerance) break;
    for (size_t j = 0; j < cols; ++j) {
      const double f = sums[j] > 0 ? c[j] / sums[j] : 0.0;
      for (size_t i = 0; i < rows; ++i) t[i * cols + j] *= f;
    }
  }
}

}  // namespace

absl::StatusOr<TreeModel> TreeModel::Fit(const Domain& domain, std::span<const NoisyMarginal> measurements,
                                         std::span<const std::pair<int, int>> edges,
                                         const TreeFitOptions& options) {
  const int d = domain.num_attributes();
  if (measurements.empty()) return absl::InvalidArgumentError("TreeModel::Fit: no measurement");
  // The forest.
  std::vector<int> uf(d);
  std::iota(uf.begin(), uf.end(), 0);
  std::vector<std::vector<int>> adjacency(d);
  for (size_t e = 0; e < edges.size(); ++e) {
    const auto [a, b] = edges[e];
    if (a < 0 || b < 0 || a >= d || b >= d || a == b) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: edge ", e, " (", a, ", ", b,
                                                     ") is not a pair of distinct attributes"));
    }
    const int ra = internal::FindRoot(uf, a);
    const int rb = internal::FindRoot(uf, b);
    if (ra == rb) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: edge ", e, " (",
                                                     domain.attribute(a).name, ", ", domain.attribute(b).name,
                                                     ") closes a cycle or repeats an edge"));
    }
    uf[ra] = rb;
    adjacency[a].push_back(b);
    adjacency[b].push_back(a);
  }
  auto edge_index = [&](int a, int b) -> int {
    for (size_t e = 0; e < edges.size(); ++e) {
      if ((edges[e].first == a && edges[e].second == b) || (edges[e].first == b && edges[e].second == a)) {
        return static_cast<int>(e);
      }
    }
    return -1;
  };
  // Validate measurements; total N by inverse-variance weighting of the noisy totals.
  double total_num = 0;
  double total_den = 0;
  for (size_t m = 0; m < measurements.size(); ++m) {
    const NoisyMarginal& nm = measurements[m];
    if (nm.attrs.empty() || nm.attrs.size() > 2) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: measurement ", m, " is over ",
                                                     nm.attrs.size(), " attributes (1 or 2)"));
    }
    VEIL_ASSIGN_OR_RETURN(int64_t cells, domain.MarginalCells(nm.attrs));
    if (static_cast<int64_t>(nm.values.size()) != cells ||
        (!nm.variance_scale.empty() && nm.variance_scale.size() != nm.values.size())) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: measurement ", m, " has ",
                                                     nm.values.size(), " values for ", cells, " cells"));
    }
    if (!(nm.sigma > 0) || !std::isfinite(nm.sigma)) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: measurement ", m, " has a bad sigma"));
    }
    if (nm.attrs.size() == 2 && edge_index(nm.attrs[0], nm.attrs[1]) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::Fit: measurement ", m, " is over (",
                                                     domain.attribute(nm.attrs[0]).name, ", ",
                                                     domain.attribute(nm.attrs[1]).name, "), not an edge"));
    }
    double sum = 0;
    double var = 0;
    for (size_t i = 0; i < nm.values.size(); ++i) {
      sum += nm.values[i];
      var += nm.CellVariance(i);
    }
    total_num += sum / var;
    total_den += 1.0 / var;
  }
  TreeModel model;
  model.domain_ = domain;
  model.edges_.assign(edges.begin(), edges.end());
  model.total_ = std::max(total_num / total_den, 0.0);
  // Probabilities are fitted against max(N, 1), so an empty or tiny table still gives a distribution.
  const double n_fit = std::max(model.total_, 1.0);

  // Node marginals: per-cell inverse-variance combination of every measurement's projection.
  model.nodes_.resize(d);
  for (int a = 0; a < d; ++a) {
    const int64_t k = domain.size(a);
    std::vector<double> num(k, 0.0);
    std::vector<double> den(k, 0.0);
    for (const NoisyMarginal& nm : measurements) {
      int pos = -1;
      for (size_t i = 0; i < nm.attrs.size(); ++i) {
        if (nm.attrs[i] == a) pos = static_cast<int>(i);
      }
      if (pos < 0) continue;
      std::vector<double> proj(k, 0.0);
      std::vector<double> var(k, 0.0);
      if (nm.attrs.size() == 1) {
        for (int64_t v = 0; v < k; ++v) {
          proj[v] = nm.values[v];
          var[v] = nm.CellVariance(v);
        }
      } else {
        const int64_t other = domain.size(nm.attrs[1 - pos]);
        for (int64_t v = 0; v < k; ++v) {
          for (int64_t w = 0; w < other; ++w) {
            const size_t cell = pos == 0 ? v * other + w : w * k + v;
            proj[v] += nm.values[cell];
            var[v] += nm.CellVariance(cell);
          }
        }
      }
      for (int64_t v = 0; v < k; ++v) {
        num[v] += proj[v] / var[v];
        den[v] += 1.0 / var[v];
      }
    }
    std::vector<double>& p = model.nodes_[a];
    p.assign(k, 1.0 / static_cast<double>(k));
    if (den[0] > 0) {
      for (int64_t v = 0; v < k; ++v) p[v] = num[v] / den[v] / n_fit;
      internal::ProjectOntoSimplex(p, 1.0);
    }
  }

  // Orientation: BFS from the lowest index of each component.
  model.parent_.assign(d, -1);
  std::vector<bool> seen(d, false);
  for (int root = 0; root < d; ++root) {
    if (seen[root]) continue;
    std::deque<int> queue = {root};
    seen[root] = true;
    while (!queue.empty()) {
      const int x = queue.front();
      queue.pop_front();
      model.order_.push_back(x);
      for (int y : adjacency[x]) {
        if (!seen[y]) {
          seen[y] = true;
          model.parent_[y] = x;
          queue.push_back(y);
        }
      }
    }
  }

  // Edge tables, oriented (parent, child).
  model.joint_.resize(d);
  for (int c = 0; c < d; ++c) {
    const int p = model.parent_[c];
    if (p < 0) continue;
    const int64_t kp = domain.size(p);
    const int64_t kc = domain.size(c);
    std::vector<double> num(kp * kc, 0.0);
    std::vector<double> den(kp * kc, 0.0);
    for (const NoisyMarginal& nm : measurements) {
      if (nm.attrs.size() != 2) continue;
      const bool same = nm.attrs[0] == p && nm.attrs[1] == c;
      const bool swapped = nm.attrs[0] == c && nm.attrs[1] == p;
      if (!same && !swapped) continue;
      for (int64_t i = 0; i < kp; ++i) {
        for (int64_t j = 0; j < kc; ++j) {
          const size_t cell = same ? i * kc + j : j * kp + i;
          num[i * kc + j] += nm.values[cell] / nm.CellVariance(cell);
          den[i * kc + j] += 1.0 / nm.CellVariance(cell);
        }
      }
    }
    const std::vector<double>& rp = model.nodes_[p];
    const std::vector<double>& rc = model.nodes_[c];
    std::vector<double> t(kp * kc);
    if (den[0] > 0) {
      for (size_t i = 0; i < t.size(); ++i) t[i] = num[i] / den[i] / n_fit;
      internal::ProjectOntoSimplex(t, 1.0);
      for (int64_t i = 0; i < kp; ++i) {
        for (int64_t j = 0; j < kc; ++j) t[i * kc + j] += 1e-9 * rp[i] * rc[j];
      }
      Rake(t, rp, rc, options);
    } else {
      for (int64_t i = 0; i < kp; ++i) {
        for (int64_t j = 0; j < kc; ++j) t[i * kc + j] = rp[i] * rc[j];
      }
    }
    model.joint_[c] = std::move(t);
  }

  // Alias tables.
  model.root_alias_.resize(d);
  model.child_alias_.resize(d);
  for (int a = 0; a < d; ++a) {
    const int p = model.parent_[a];
    if (p < 0) {
      model.root_alias_[a] = internal::BuildAliasTable(model.nodes_[a]);
      continue;
    }
    const int64_t kp = domain.size(p);
    const int64_t kc = domain.size(a);
    model.child_alias_[a].reserve(kp);
    for (int64_t i = 0; i < kp; ++i) {
      model.child_alias_[a].push_back(
          internal::BuildAliasTable(std::span<const double>(model.joint_[a]).subspan(i * kc, kc)));
    }
  }
  return model;
}

namespace internal {

AliasTable BuildAliasTable(std::span<const double> p) {
  // Vose's alias method ("A linear algorithm for generating random numbers with a given distribution", 1991).
  const size_t k = p.size();
  double sum = 0;
  for (double x : p) sum += std::max(x, 0.0);
  std::vector<double> scaled(k);
  for (size_t i = 0; i < k; ++i) {
    scaled[i] = sum > 0 ? std::max(p[i], 0.0) / sum * static_cast<double>(k) : 1.0;
  }
  AliasTable out;
  out.threshold.assign(k, uint64_t{1} << 32);
  out.alias.resize(k);
  std::iota(out.alias.begin(), out.alias.end(), 0);
  std::vector<size_t> small;
  std::vector<size_t> large;
  for (size_t i = 0; i < k; ++i) (scaled[i] < 1.0 ? small : large).push_back(i);
  while (!small.empty() && !large.empty()) {
    const size_t s = small.back();
    small.pop_back();
    const size_t l = large.back();
    out.threshold[s] = static_cast<uint64_t>(std::llround(scaled[s] * 0x1p32));
    out.alias[s] = static_cast<int32_t>(l);
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Whatever is left is 1 up to rounding: keep itself always (threshold 2^32, set above).
  return out;
}

}  // namespace internal

absl::Status TreeModel::SetDecoder(Decoder decoder) {
  if (static_cast<int>(decoder.groups.size()) != domain_.num_attributes() ||
      decoder.original.num_attributes() != domain_.num_attributes()) {
    return absl::InvalidArgumentError("TreeModel::SetDecoder: attribute count mismatch");
  }
  for (int a = 0; a < domain_.num_attributes(); ++a) {
    const auto& g = decoder.groups[a];
    if (static_cast<int64_t>(g.size()) != domain_.size(a)) {
      return absl::InvalidArgumentError(absl::StrCat("TreeModel::SetDecoder: attribute \"",
                                                     domain_.attribute(a).name, "\" has ", g.size(),
                                                     " groups for ", domain_.size(a), " codes"));
    }
    std::vector<int> hits(decoder.original.size(a), 0);
    for (const auto& codes : g) {
      if (codes.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("TreeModel::SetDecoder: attribute \"",
                                                       domain_.attribute(a).name, "\" has an empty group"));
      }
      for (int32_t c : codes) {
        if (c < 0 || c >= decoder.original.size(a) || hits[c]++ > 0) {
          return absl::InvalidArgumentError(absl::StrCat("TreeModel::SetDecoder: attribute \"",
                                                         domain_.attribute(a).name, "\": code ", c,
                                                         " out of range or repeated"));
        }
      }
    }
    for (size_t c = 0; c < hits.size(); ++c) {
      if (hits[c] == 0) {
        return absl::InvalidArgumentError(absl::StrCat("TreeModel::SetDecoder: attribute \"",
                                                       domain_.attribute(a).name, "\": original code ", c,
                                                       " is in no group"));
      }
    }
  }
  decoder_ = std::move(decoder);
  has_decoder_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> TreeModel::PairMarginal(int a, int b) const {
  const int d = domain_.num_attributes();
  if (a < 0 || b < 0 || a >= d || b >= d || a == b) {
    return absl::InvalidArgumentError(absl::StrCat("TreeModel::PairMarginal: bad attributes ", a, ", ", b));
  }
  // Path from a to b through the parent links: ancestors of each, up to their lowest common one.
  auto ancestors = [&](int x) {
    std::vector<int> path = {x};
    while (parent_[path.back()] >= 0) path.push_back(parent_[path.back()]);
    return path;
  };
  std::vector<int> pa = ancestors(a);
  std::vector<int> pb = ancestors(b);
  const int64_t ka = domain_.size(a);
  const int64_t kb = domain_.size(b);
  std::vector<double> out(ka * kb, 0.0);
  if (pa.back() != pb.back()) {  // different trees: independent
    for (int64_t i = 0; i < ka; ++i) {
      for (int64_t j = 0; j < kb; ++j) out[i * kb + j] = nodes_[a][i] * nodes_[b][j];
    }
    return out;
  }
  while (pa.size() > 1 && pb.size() > 1 && pa[pa.size() - 2] == pb[pb.size() - 2]) {
    pa.pop_back();
    pb.pop_back();
  }
  // pa = a .. lca, pb = b .. lca. Walk a -> lca (child to parent) then lca -> b (parent to child), keeping
  // m(x_a, x_current).
  std::vector<int> walk(pa.begin(), pa.end());
  for (int i = static_cast<int>(pb.size()) - 2; i >= 0; --i) walk.push_back(pb[i]);
  std::vector<double> m(ka * ka, 0.0);
  for (int64_t i = 0; i < ka; ++i) m[i * ka + i] = nodes_[a][i];
  int cur = a;
  for (size_t s = 1; s < walk.size(); ++s) {
    const int next = walk[s];
    const int64_t kc = domain_.size(cur);
    const int64_t kn = domain_.size(next);
    // Joint (cur, next) from the stored (parent, child) table.
    std::vector<double> cond(kc * kn, 0.0);
    const bool down = parent_[next] == cur;
    const std::vector<double>& j = down ? joint_[next] : joint_[cur];
    for (int64_t x = 0; x < kc; ++x) {
      const double px = nodes_[cur][x];
      for (int64_t y = 0; y < kn; ++y) {
        const double pxy = down ? j[x * kn + y] : j[y * kc + x];
        cond[x * kn + y] = px > 0 ? pxy / px : 0.0;
      }
    }
    std::vector<double> next_m(ka * kn, 0.0);
    for (int64_t i = 0; i < ka; ++i) {
      for (int64_t x = 0; x < kc; ++x) {
        const double w = m[i * kc + x];
        if (w == 0) continue;
        for (int64_t y = 0; y < kn; ++y) next_m[i * kn + y] += w * cond[x * kn + y];
      }
    }
    m = std::move(next_m);
    cur = next;
  }
  return m;
}

namespace internal {

// Offset u uniform in [0, 1): count_i = floor(C_i + u) - floor(C_{i-1} + u) for the cumulative C.
void AllocateSystematic(dp::RandomBits& bits, std::span<const double> p, std::span<int32_t> out) {
  const size_t m = out.size();
  if (m == 0) return;
  double sum = 0;
  for (double x : p) sum += std::max(x, 0.0);
  const double u = static_cast<double>(bits.Word() >> 11) * 0x1p-53;
  const double scale = static_cast<double>(m);
  double cumulative = 0;
  int64_t prev = static_cast<int64_t>(std::floor(u));
  size_t pos = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double share = sum > 0 ? std::max(p[i], 0.0) / sum : 1.0 / static_cast<double>(p.size());
    cumulative += share * scale;
    int64_t next = static_cast<int64_t>(std::floor(cumulative + u));
    if (i + 1 == p.size()) next = static_cast<int64_t>(m) + static_cast<int64_t>(std::floor(u));
    for (int64_t c = prev; c < next && pos < m; ++c) out[pos++] = static_cast<int32_t>(i);
    prev = std::max(prev, next);
  }
  // Rounding in the cumulative sum can leave a last slot or two: give them to the most likely value.
  if (pos < m) {
    size_t best = 0;
    for (size_t i = 1; i < p.size(); ++i) {
      if (p[i] > p[best]) best = i;
    }
    while (pos < m) out[pos++] = static_cast<int32_t>(best);
  }
  for (size_t i = m - 1; i > 0; --i) std::swap(out[i], out[bits.UniformFast(i + 1)]);
}

}  // namespace internal

absl::StatusOr<DiscreteTable> TreeModel::Sample(base::RandomSource& random, int64_t rows,
                                                SampleMethod method) const {
  if (rows < 0 || rows > (int64_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TreeModel::Sample: rows must be in [0, 2^31], got ", rows));
  }
  dp::RandomBits bits(random);
  const int d = domain_.num_attributes();
  std::vector<std::vector<int32_t>> codes(d, std::vector<int32_t>(rows));
  for (int a : order_) {
    std::vector<int32_t>& out = codes[a];
    if (method == SampleMethod::kSystematic) {
      const int p = parent_[a];
      if (p < 0) {
        internal::AllocateSystematic(bits, nodes_[a], out);
        continue;
      }
      // Each group of rows sharing a parent value gets its children allocated from p(child | parent).
      const int64_t kc = domain_.size(a);
      const std::span<const double> joint(joint_[a]);
      internal::AllocateSystematicByGroup(
          bits, codes[p], domain_.size(p), [&](int64_t v) { return joint.subspan(v * kc, kc); }, out);
      continue;
    }
    const int p = parent_[a];
    if (p < 0) {
      const Alias& t = root_alias_[a];
      for (int64_t r = 0; r < rows; ++r) out[r] = internal::DrawAlias(t, bits.Word());
    } else {
      const std::vector<int32_t>& parent_codes = codes[p];
      const std::vector<Alias>& tables = child_alias_[a];
      for (int64_t r = 0; r < rows; ++r) out[r] = internal::DrawAlias(tables[parent_codes[r]], bits.Word());
    }
  }
  if (!bits.ok()) return bits.status();
  if (!has_decoder_) return DiscreteTable::Create(domain_, std::move(codes));
  // Decode after all attributes are drawn (children need the compressed parent codes).
  for (int a = 0; a < d; ++a) {
    const auto& groups = decoder_.groups[a];
    bool identity = true;
    for (size_t c = 0; c < groups.size() && identity; ++c) {
      identity = groups[c].size() == 1 && groups[c][0] == static_cast<int32_t>(c);
    }
    if (identity) continue;
    for (int32_t& v : codes[a]) {
      const auto& g = groups[v];
      v = g.size() == 1 ? g[0] : g[bits.UniformFast(g.size())];
    }
  }
  if (!bits.ok()) return bits.status();
  return DiscreteTable::Create(decoder_.original, std::move(codes));
}

}  // namespace veil::synth
