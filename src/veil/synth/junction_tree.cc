#include "veil/synth/junction_tree.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"

namespace veil::synth {
namespace {

using Factor = JunctionTreeModel::Factor;

// Visits the cells of a dense row-major table with dimensions `dims` in order, calling fn(i, oa, ob) with
// oa = sum_k c_k sa[k] and ob = sum_k c_k sb[k] for the cell's coordinates c.
template <typename Fn>
void ForEachCell(const std::vector<int64_t>& dims, const std::vector<int64_t>& sa,
                 const std::vector<int64_t>& sb, Fn&& fn) {
  const int k = static_cast<int>(dims.size());
  if (k == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  std::vector<int64_t> c(k, 0);
  int64_t oa = 0;
  int64_t ob = 0;
  const int64_t inner = dims[k - 1];
  const int64_t ia = sa[k - 1];
  const int64_t ib = sb[k - 1];
  for (int64_t i = 0; i < total; i += inner) {
    int64_t a = oa;
    int64_t b = ob;
    for (int64_t j = 0; j < inner; ++j, a += ia, b += ib) fn(i + j, a, b);
    for (int d = k - 2; d >= 0; --d) {
      if (++c[d] < dims[d]) {
        oa += sa[d];
        ob += sb[d];
        break;
      }
      oa -= sa[d] * (dims[d] - 1);
      ob -= sb[d] * (dims[d] - 1);
      c[d] = 0;
    }
  }
}

// As ForEachCell with three stride vectors: fn(oa, ob, oc).
template <typename Fn>
void ForEachCell3(const std::vector<int64_t>& dims, const std::vector<int64_t>& sa,
                  const std::vector<int64_t>& sb, const std::vector<int64_t>& sc, Fn&& fn) {
  const int k = static_cast<int>(dims.size());
  if (k == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  std::vector<int64_t> c(k, 0);
  int64_t oa = 0;
  int64_t ob = 0;
  int64_t oc = 0;
  const int64_t inner = dims[k - 1];
  for (int64_t i = 0; i < total; i += inner) {
    int64_t a = oa;
    int64_t b = ob;
    int64_t e = oc;
    for (int64_t j = 0; j < inner; ++j, a += sa[k - 1], b += sb[k - 1], e += sc[k - 1]) fn(a, b, e);
    for (int d = k - 2; d >= 0; --d) {
      if (++c[d] < dims[d]) {
        oa += sa[d];
        ob += sb[d];
        oc += sc[d];
        break;
      }
      oa -= sa[d] * (dims[d] - 1);
      ob -= sb[d] * (dims[d] - 1);
      oc -= sc[d] * (dims[d] - 1);
      c[d] = 0;
    }
  }
}

// Strides of `of` (sorted attrs with dims) along each attribute of `over` (sorted), 0 where absent.
std::vector<int64_t> StridesAlong(const Factor& of, const std::vector<int>& over) {
  std::vector<int64_t> own(of.attrs.size());
  int64_t s = 1;
  for (size_t k = of.attrs.size(); k-- > 0;) {
    own[k] = s;
    s *= of.dims[k];
  }
  std::vector<int64_t> out(over.size(), 0);
  size_t j = 0;
  for (size_t k = 0; k < over.size(); ++k) {
    while (j < of.attrs.size() && of.attrs[j] < over[k]) ++j;
    if (j < of.attrs.size() && of.attrs[j] == over[k]) out[k] = own[j];
  }
  return out;
}

Factor MakeFactor(const Domain& domain, std::vector<int> attrs, double fill) {
  Factor f;
  int64_t cells = 1;
  for (int a : attrs) {
    f.dims.push_back(domain.size(a));
    cells *= domain.size(a);
  }
  f.attrs = std::move(attrs);
  f.values.assign(cells, fill);
  return f;
}

std::vector<int> Intersect(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<int> Union(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Sum of f over the attributes not in `keep` (keep: a sorted subset of f.attrs).
Factor Marginalize(const Domain& domain, const Factor& f, const std::vector<int>& keep) {
  Factor out = MakeFactor(domain, keep, 0.0);
  if (keep.size() == f.attrs.size()) {
    out.values = f.values;
    return out;
  }
  const std::vector<int64_t> so = StridesAlong(out, f.attrs);
  const std::vector<int64_t> zero(f.attrs.size(), 0);
  double* o = out.values.data();
  const double* v = f.values.data();
  ForEachCell(f.dims, so, zero, [&](int64_t i, int64_t a, int64_t) { o[a] += v[i]; });
  return out;
}

// f(x) *= g(x restricted to g's attributes), g.attrs a subset of f.attrs.
void MultiplyIn(Factor& f, const Factor& g) {
  const std::vector<int64_t> sg = StridesAlong(g, f.attrs);
  const std::vector<int64_t> zero(f.attrs.size(), 0);
  double* v = f.values.data();
  const double* w = g.values.data();
  ForEachCell(f.dims, sg, zero, [&](int64_t i, int64_t a, int64_t) { v[i] *= w[a]; });
}

// f(x) /= g(...), 0 where g is 0.
void DivideIn(Factor& f, const Factor& g) {
  const std::vector<int64_t> sg = StridesAlong(g, f.attrs);
  const std::vector<int64_t> zero(f.attrs.size(), 0);
  double* v = f.values.data();
  const double* w = g.values.data();
  ForEachCell(f.dims, sg, zero, [&](int64_t i, int64_t a, int64_t) { v[i] = w[a] > 0 ? v[i] / w[a] : 0.0; });
}

// f(x) += scale * g(...), g.attrs a subset of f.attrs.
void AddIn(Factor& f, const Factor& g, double scale) {
  const std::vector<int64_t> sg = StridesAlong(g, f.attrs);
  const std::vector<int64_t> zero(f.attrs.size(), 0);
  double* v = f.values.data();
  const double* w = g.values.data();
  ForEachCell(f.dims, sg, zero, [&](int64_t i, int64_t a, int64_t) { v[i] += scale * w[a]; });
}

Factor Multiply(const Domain& domain, const Factor& f, const Factor& g) {
  Factor out = MakeFactor(domain, Union(f.attrs, g.attrs), 0.0);
  const std::vector<int64_t> sf = StridesAlong(f, out.attrs);
  const std::vector<int64_t> sg = StridesAlong(g, out.attrs);
  double* o = out.values.data();
  const double* v = f.values.data();
  const double* w = g.values.data();
  ForEachCell(out.dims, sf, sg, [&](int64_t i, int64_t a, int64_t b) { o[i] = v[a] * w[b]; });
  return out;
}

// Marginalize(Multiply(f, g), keep) without building the product (keep: sorted, within the union).
Factor MultiplyMarginalize(const Domain& domain, const Factor& f, const Factor& g,
                           const std::vector<int>& keep) {
  Factor out = MakeFactor(domain, keep, 0.0);
  const std::vector<int> all = Union(f.attrs, g.attrs);
  std::vector<int64_t> dims;
  for (int a : all) dims.push_back(domain.size(a));
  const std::vector<int64_t> sf = StridesAlong(f, all);
  const std::vector<int64_t> sg = StridesAlong(g, all);
  const std::vector<int64_t> so = StridesAlong(out, all);
  double* o = out.values.data();
  const double* v = f.values.data();
  const double* w = g.values.data();
  ForEachCell3(dims, sf, sg, so, [&](int64_t a, int64_t b, int64_t c) { o[c] += v[a] * w[b]; });
  return out;
}

void Normalize(Factor& f) {
  double sum = 0;
  for (double x : f.values) sum += x;
  if (sum > 0) {
    const double inv = 1.0 / sum;
    for (double& x : f.values) x *= inv;
  } else {
    const double u = 1.0 / static_cast<double>(f.values.size());
    for (double& x : f.values) x = u;
  }
}

// Rearranges `values` (dense layout over `attrs`, any order) into the layout over sorted attrs, or back
// (to_sorted = false).
std::vector<double> Transpose(const Domain& domain, std::span<const int> attrs,
                              std::span<const double> values, bool to_sorted) {
  std::vector<int> sorted(attrs.begin(), attrs.end());
  std::sort(sorted.begin(), sorted.end());
  if (std::equal(sorted.begin(), sorted.end(), attrs.begin())) return {values.begin(), values.end()};
  Factor given;
  given.attrs.assign(attrs.begin(), attrs.end());
  for (int a : attrs) given.dims.push_back(domain.size(a));
  // Strides of the given layout, permuted to sorted order.
  std::vector<int64_t> own(attrs.size());
  int64_t s = 1;
  for (size_t k = attrs.size(); k-- > 0;) {
    own[k] = s;
    s *= given.dims[k];
  }
  std::vector<int64_t> dims(sorted.size());
  std::vector<int64_t> strides(sorted.size());
  for (size_t k = 0; k < sorted.size(); ++k) {
    const size_t pos = std::find(attrs.begin(), attrs.end(), sorted[k]) - attrs.begin();
    dims[k] = domain.size(sorted[k]);
    strides[k] = own[pos];
  }
  std::vector<double> out(values.size());
  const std::vector<int64_t> zero(sorted.size(), 0);
  ForEachCell(dims, strides, zero, [&](int64_t i, int64_t g, int64_t) {
    if (to_sorted) {
      out[i] = values[g];
    } else {
      out[g] = values[i];
    }
  });
  return out;
}

absl::Status ValidateAttrs(const Domain& domain, std::span<const int> attrs, const std::string& what) {
  if (attrs.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty attribute list"));
  std::vector<int> sorted(attrs.begin(), attrs.end());
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (sorted[k] < 0 || sorted[k] >= domain.num_attributes()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": attribute index ", sorted[k], " out of range"));
    }
    if (k > 0 && sorted[k] == sorted[k - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": attribute ", sorted[k], " repeated"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JunctionTree> BuildJunctionTree(const Domain& domain,
                                               std::span<const std::vector<int>> cliques) {
  const int d = domain.num_attributes();
  std::vector<std::vector<char>> adj(d, std::vector<char>(d, 0));
  for (const std::vector<int>& c : cliques) {
    VEIL_RETURN_IF_ERROR(ValidateAttrs(domain, c, "BuildJunctionTree"));
    for (int a : c) {
      for (int b : c) {
        if (a != b) adj[a][b] = 1;
      }
    }
  }
  // Greedy min-fill elimination.
  std::vector<char> gone(d, 0);
  std::vector<std::vector<int>> elim_cliques;
  for (int step = 0; step < d; ++step) {
    int best = -1;
    int64_t best_fill = 0;
    double best_weight = 0;
    for (int v = 0; v < d; ++v) {
      if (gone[v]) continue;
      std::vector<int> nb;
      double weight = std::log(static_cast<double>(domain.size(v)));
      for (int u = 0; u < d; ++u) {
        if (!gone[u] && adj[v][u]) {
          nb.push_back(u);
          weight += std::log(static_cast<double>(domain.size(u)));
        }
      }
      int64_t fill = 0;
      for (size_t i = 0; i < nb.size(); ++i) {
        for (size_t j = i + 1; j < nb.size(); ++j) fill += adj[nb[i]][nb[j]] ? 0 : 1;
      }
      if (best < 0 || fill < best_fill || (fill == best_fill && weight < best_weight - 1e-12)) {
        best = v;
        best_fill = fill;
        best_weight = weight;
      }
    }
    std::vector<int> clique = {best};
    for (int u = 0; u < d; ++u) {
      if (!gone[u] && adj[best][u]) clique.push_back(u);
    }
    for (size_t i = 1; i < clique.size(); ++i) {
      for (size_t j = 1; j < clique.size(); ++j) {
        if (i != j) adj[clique[i]][clique[j]] = 1;
      }
    }
    gone[best] = 1;
    std::sort(clique.begin(), clique.end());
    elim_cliques.push_back(std::move(clique));
  }
  // Maximal cliques (larger first so that subsets are found among the kept ones).
  std::stable_sort(elim_cliques.begin(), elim_cliques.end(),
                   [](const std::vector<int>& a, const std::vector<int>& b) { return a.size() > b.size(); });
  JunctionTree jt;
  for (std::vector<int>& c : elim_cliques) {
    bool contained = false;
    for (const std::vector<int>& k : jt.cliques) {
      if (IsSubset(c, k)) {
        contained = true;
        break;
      }
    }
    if (!contained) jt.cliques.push_back(std::move(c));
  }
  const int m = static_cast<int>(jt.cliques.size());
  for (const std::vector<int>& c : jt.cliques) {
    absl::StatusOr<int64_t> cells = domain.MarginalCells(c);
    if (!cells.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("BuildJunctionTree: a clique of ", c.size(),
                                                     " attributes is too large: ", cells.status().message()));
    }
    jt.cells += *cells;
  }
  // Maximum spanning tree on separator sizes (Kruskal), then rooted at clique 0.
  struct Edge {
    int w, i, j;
  };
  std::vector<Edge> edges;
  for (int i = 0; i < m; ++i) {
    for (int j = i + 1; j < m; ++j) {
      edges.push_back({static_cast<int>(Intersect(jt.cliques[i], jt.cliques[j]).size()), i, j});
    }
  }
  std::stable_sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.w > b.w; });
  std::vector<int> uf(m);
  std::iota(uf.begin(), uf.end(), 0);
  std::vector<std::vector<int>> nbrs(m);
  for (const Edge& e : edges) {
    const int a = internal::FindRoot(uf, e.i);
    const int b = internal::FindRoot(uf, e.j);
    if (a == b) continue;
    uf[a] = b;
    nbrs[e.i].push_back(e.j);
    nbrs[e.j].push_back(e.i);
  }
  jt.parent.assign(m, -1);
  jt.separator.assign(m, {});
  std::vector<char> seen(m, 0);
  jt.order.push_back(0);
  seen[0] = 1;
  for (size_t k = 0; k < jt.order.size(); ++k) {
    const int c = jt.order[k];
    for (int n : nbrs[c]) {
      if (seen[n]) continue;
      seen[n] = 1;
      jt.parent[n] = c;
      jt.separator[n] = Intersect(jt.cliques[n], jt.cliques[c]);
      jt.order.push_back(n);
    }
  }
  return jt;
}

namespace {

// Calibrates clique marginals from log-potentials (Hugin propagation in probability space).
void BeliefPropagation(const Domain& domain, const JunctionTree& jt, const std::vector<Factor>& theta,
                       std::vector<Factor>& mu, std::vector<Factor>& sep_mu) {
  const size_t m = jt.cliques.size();
  mu.resize(m);
  sep_mu.resize(m);
  std::vector<Factor> up(m);
  for (size_t c = 0; c < m; ++c) {
    mu[c].attrs = theta[c].attrs;
    mu[c].dims = theta[c].dims;
    mu[c].values.resize(theta[c].values.size());
    double mx = -std::numeric_limits<double>::infinity();
    for (double t : theta[c].values) mx = std::max(mx, t);
    const double* t = theta[c].values.data();
    double* v = mu[c].values.data();
    for (size_t i = 0; i < mu[c].values.size(); ++i) v[i] = std::exp(t[i] - mx);
  }
  // Collect: children before parents.
  for (size_t k = m; k-- > 1;) {
    const int c = jt.order[k];
    Normalize(mu[c]);
    up[c] = Marginalize(domain, mu[c], jt.separator[c]);
    MultiplyIn(mu[jt.parent[c]], up[c]);
  }
  Normalize(mu[jt.order[0]]);
  // Distribute: parents before children.
  for (size_t k = 1; k < m; ++k) {
    const int c = jt.order[k];
    sep_mu[c] = Marginalize(domain, mu[jt.parent[c]], jt.separator[c]);
    Factor ratio = sep_mu[c];
    DivideIn(ratio, up[c]);
    MultiplyIn(mu[c], ratio);
  }
}

struct Target {
  int clique = 0;
  // A target whose attributes strictly contain these (the one with the fewest cells), or -1: this target's
  // marginal is taken from the host's and its gradient added into the host's, instead of a pass over a
  // clique each (the calibrated clique marginals agree on shared attributes, and exp(sum theta) does not
  // depend on which clique holds a term, so the loss, the gradient's effect and the descent are the same).
  int host = -1;
  std::vector<int> attrs;      // sorted
  std::vector<double> y;       // noisy counts / N, sorted layout
  std::vector<double> weight;  // N^2 / variance per cell
};

// The loss at mu and its gradient, kept per target rather than per clique: the gradient with respect to a
// clique's marginal is the sum of its targets' residuals weight (M_t mu - y_t) broadcast over the clique,
// and since exp(sum theta) does not depend on which clique holds a term, the descent step adds each
// residual to the potentials directly (Fit), and <grad, mu - mu'> is sum_t <residual_t, M_t mu - M_t mu'>.
struct TargetState {
  std::vector<Factor> marginal;  // M_t mu per target
  std::vector<Factor> residual;  // weight (M_t mu - y_t) per target
  std::vector<Factor> push;      // the residual plus its guests' pushes (for targets without a host)
};

// `order` lists the targets hosts first (more attributes before fewer).
double LossAndResiduals(const Domain& domain, const std::vector<Target>& targets,
                        const std::vector<int>& order, const std::vector<Factor>& mu, TargetState& state) {
  const size_t n = targets.size();
  state.marginal.resize(n);
  state.residual.resize(n);
  state.push.resize(n);
  double loss = 0;
  for (int r : order) {
    const Target& t = targets[r];
    state.marginal[r] = Marginalize(domain, t.host < 0 ? mu[t.clique] : state.marginal[t.host], t.attrs);
    const std::vector<double>& m = state.marginal[r].values;
    Factor& res = state.residual[r];
    res.attrs = state.marginal[r].attrs;
    res.dims = state.marginal[r].dims;
    res.values.resize(m.size());
    for (size_t i = 0; i < m.size(); ++i) {
      const double diff = m[i] - t.y[i];
      loss += 0.5 * t.weight[i] * diff * diff;
      res.values[i] = t.weight[i] * diff;
    }
  }
  // Pushes: guests (fewer attributes) into their hosts, before the hosts are used.
  for (int r : order) state.push[r] = state.residual[r];
  for (size_t k = order.size(); k-- > 0;) {
    const Target& t = targets[order[k]];
    if (t.host >= 0) AddIn(state.push[t.host], state.push[order[k]], 1.0);
  }
  return loss;
}

}  // namespace

absl::StatusOr<JunctionTreeModel> JunctionTreeModel::Fit(const Domain& domain,
                                                         std::span<const NoisyMarginal> measurements,
                                                         const JunctionTreeFitOptions& options,
                                                         const JunctionTreeModel* warm_start,
                                                         std::span<const std::vector<int>> extra_cliques) {
  if (measurements.empty()) return absl::InvalidArgumentError("JunctionTreeModel::Fit: no measurement");
  if (warm_start != nullptr && !(warm_start->domain() == domain)) {
    return absl::InvalidArgumentError("JunctionTreeModel::Fit: the warm start is over another domain");
  }
  // A warm start's cliques are kept, so that each of its potentials has a clique to go to.
  std::vector<std::vector<int>> cliques(extra_cliques.begin(), extra_cliques.end());
  if (warm_start != nullptr) {
    cliques.insert(cliques.end(), warm_start->tree_.cliques.begin(), warm_start->tree_.cliques.end());
  }
  double num = 0;
  double den = 0;
  for (size_t r = 0; r < measurements.size(); ++r) {
    const NoisyMarginal& m = measurements[r];
    VEIL_RETURN_IF_ERROR(
        ValidateAttrs(domain, m.attrs, absl::StrCat("JunctionTreeModel::Fit: measurement ", r)));
    VEIL_ASSIGN_OR_RETURN(int64_t cells, domain.MarginalCells(m.attrs));
    if (static_cast<int64_t>(m.values.size()) != cells ||
        (!m.variance_scale.empty() && m.variance_scale.size() != m.values.size()) || !(m.sigma > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("JunctionTreeModel::Fit: measurement ", r, " has ",
                                                     m.values.size(), " values for ", cells,
                                                     " cells or a bad sigma or variance scale"));
    }
    std::vector<int> sorted = m.attrs;
    std::sort(sorted.begin(), sorted.end());
    cliques.push_back(std::move(sorted));
    double total = 0;
    double var = 0;
    for (size_t i = 0; i < m.values.size(); ++i) {
      total += m.values[i];
      var += m.CellVariance(i);
    }
    num += total / var;
    den += 1.0 / var;
  }
  JunctionTreeModel model;
  model.domain_ = domain;
  VEIL_ASSIGN_OR_RETURN(model.tree_, BuildJunctionTree(domain, cliques));
  model.total_ = std::max(0.0, num / den);
  const double n = std::max(model.total_, 1.0);
  const JunctionTree& jt = model.tree_;
  const size_t nc = jt.cliques.size();

  // Targets, each in the smallest clique containing it.
  std::vector<Target> targets;
  double max_weight = 0;
  for (const NoisyMarginal& m : measurements) {
    Target t;
    t.attrs = m.attrs;
    std::sort(t.attrs.begin(), t.attrs.end());
    int64_t best_cells = -1;
    for (size_t c = 0; c < nc; ++c) {
      if (!IsSubset(t.attrs, jt.cliques[c])) continue;
      const int64_t cells = *domain.MarginalCells(jt.cliques[c]);
      if (best_cells < 0 || cells < best_cells) {
        best_cells = cells;
        t.clique = static_cast<int>(c);
      }
    }
    t.y = Transpose(domain, m.attrs, m.values, /*to_sorted=*/true);
    std::vector<double> scale(m.values.size(), 1.0);
    if (!m.variance_scale.empty()) scale = Transpose(domain, m.attrs, m.variance_scale, true);
    t.weight.resize(t.y.size());
    for (size_t i = 0; i < t.y.size(); ++i) {
      t.y[i] /= n;
      t.weight[i] = n * n / (m.sigma * m.sigma * scale[i]);
      max_weight = std::max(max_weight, t.weight[i]);
    }
    targets.push_back(std::move(t));
  }
  // Hosts: for each target the smallest target (in cells) whose attributes strictly contain its own.
  std::vector<int> order(targets.size());
  for (size_t r = 0; r < targets.size(); ++r) {
    order[r] = static_cast<int>(r);
    for (size_t u = 0; u < targets.size(); ++u) {
      if (targets[u].attrs.size() <= targets[r].attrs.size() ||
          !IsSubset(targets[r].attrs, targets[u].attrs)) {
        continue;
      }
      const int h = targets[r].host;
      if (h < 0 || targets[u].y.size() < targets[h].y.size()) targets[r].host = static_cast<int>(u);
    }
  }
  // Hosts first: more attributes before fewer (a host always has strictly more).
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return targets[a].attrs.size() > targets[b].attrs.size(); });

  // Potentials: zero, plus a warm start's potentials added into cliques containing theirs.
  model.theta_.resize(nc);
  for (size_t c = 0; c < nc; ++c) model.theta_[c] = MakeFactor(domain, jt.cliques[c], 0.0);
  double step = 1.0 / max_weight;
  if (warm_start != nullptr) {
    for (const Factor& old : warm_start->theta_) {
      for (size_t c = 0; c < nc; ++c) {
        if (IsSubset(old.attrs, jt.cliques[c])) {
          AddIn(model.theta_[c], old, 1.0);
          break;
        }
      }
    }
    if (warm_start->step_ > 0) step = warm_start->step_;
  }
  BeliefPropagation(domain, jt, model.theta_, model.mu_, model.sep_mu_);
  TargetState state;
  double loss = LossAndResiduals(domain, targets, order, model.mu_, state);
  std::vector<Factor> theta2 = model.theta_;
  std::vector<Factor> mu2;
  std::vector<Factor> sep2;
  TargetState state2;
  int it = 0;
  for (; it < options.iterations; ++it) {
    double loss2 = 0;
    bool accepted = false;
    for (int tries = 0; tries < 60; ++tries) {
      // theta2 = theta - step * grad, each target's push added to its clique.
      for (size_t c = 0; c < nc; ++c) {
        std::copy(model.theta_[c].values.begin(), model.theta_[c].values.end(), theta2[c].values.begin());
      }
      for (size_t r = 0; r < targets.size(); ++r) {
        if (targets[r].host < 0) AddIn(theta2[targets[r].clique], state.push[r], -step);
      }
      BeliefPropagation(domain, jt, theta2, mu2, sep2);
      loss2 = LossAndResiduals(domain, targets, order, mu2, state2);
      double decrease = 0;
      for (size_t r = 0; r < targets.size(); ++r) {
        const std::vector<double>& g = state.residual[r].values;
        const std::vector<double>& a = state.marginal[r].values;
        const std::vector<double>& b = state2.marginal[r].values;
        for (size_t i = 0; i < g.size(); ++i) decrease += g[i] * (a[i] - b[i]);
      }
      if (loss - loss2 >= 0.5 * decrease) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    std::swap(model.theta_, theta2);
    std::swap(model.mu_, mu2);
    std::swap(model.sep_mu_, sep2);
    std::swap(state, state2);
    const double old_loss = loss;
    loss = loss2;
    step *= 1.25;
    if (old_loss - loss <= options.relative_tolerance * old_loss) {
      ++it;
      break;
    }
  }
  model.loss_ = loss;
  model.step_ = step;
  model.iterations_ = it;
  return model;
}

absl::StatusOr<std::vector<double>> JunctionTreeModel::Marginal(std::span<const int> attrs) const {
  VEIL_RETURN_IF_ERROR(ValidateAttrs(domain_, attrs, "JunctionTreeModel::Marginal"));
  VEIL_RETURN_IF_ERROR(domain_.MarginalCells(attrs).status());
  std::vector<int> s(attrs.begin(), attrs.end());
  std::sort(s.begin(), s.end());
  const JunctionTree& jt = tree_;
  const int nc = static_cast<int>(jt.cliques.size());
  int best = -1;
  int64_t best_cells = 0;
  for (int c = 0; c < nc; ++c) {
    if (!IsSubset(s, jt.cliques[c])) continue;
    const int64_t cells = static_cast<int64_t>(mu_[c].values.size());
    if (best < 0 || cells < best_cells) {
      best = c;
      best_cells = cells;
    }
  }
  Factor result;
  if (best >= 0) {
    result = Marginalize(domain_, mu_[best], s);
  } else {
    // One clique per attribute, the subtree joining them, elimination toward its top.
    std::vector<int> depth(nc, 0);
    for (int k = 1; k < nc; ++k) depth[jt.order[k]] = depth[jt.parent[jt.order[k]]] + 1;
    std::vector<int> chosen;
    for (int a : s) {
      int pick = -1;
      for (int c = 0; c < nc; ++c) {
        if (std::binary_search(jt.cliques[c].begin(), jt.cliques[c].end(), a) &&
            (pick < 0 || mu_[c].values.size() < mu_[pick].values.size())) {
          pick = c;
        }
      }
      chosen.push_back(pick);
    }
    int top = chosen[0];
    for (int c : chosen) {
      int x = c;
      int y = top;
      while (depth[x] > depth[y]) x = jt.parent[x];
      while (depth[y] > depth[x]) y = jt.parent[y];
      while (x != y) {
        x = jt.parent[x];
        y = jt.parent[y];
      }
      top = x;
    }
    std::vector<char> marked(nc, 0);
    for (int c : chosen) {
      for (int x = c; x != top; x = jt.parent[x]) marked[x] = 1;
    }
    marked[top] = 1;
    std::vector<Factor> msg(nc);
    std::vector<std::vector<std::vector<int>>> child_seps(nc);
    for (int k = nc; k-- > 0;) {
      const int c = jt.order[k];
      if (!marked[c]) continue;
      std::vector<int> need = s;
      if (c != top) need = Union(need, jt.separator[c]);
      for (const std::vector<int>& cs : child_seps[c]) need = Union(need, cs);
      need = Intersect(need, jt.cliques[c]);
      Factor f = Marginalize(domain_, mu_[c], need);
      if (c != top) DivideIn(f, sep_mu_[c]);
      // Children whose message adds no attribute multiply in place; the others widen f, the last one fused
      // with the elimination.
      std::vector<int> wide;
      for (int ch = 0; ch < nc; ++ch) {
        if (!marked[ch] || ch == top || jt.parent[ch] != c) continue;
        if (IsSubset(msg[ch].attrs, f.attrs)) {
          MultiplyIn(f, msg[ch]);
          msg[ch] = Factor();
        } else {
          wide.push_back(ch);
        }
      }
      for (size_t w = 0; w + 1 < wide.size(); ++w) {
        f = Multiply(domain_, f, msg[wide[w]]);
        msg[wide[w]] = Factor();
      }
      std::vector<int> keep = s;
      if (c != top) keep = Union(s, jt.separator[c]);
      if (!wide.empty()) {
        const Factor& g = msg[wide.back()];
        keep = Intersect(keep, Union(f.attrs, g.attrs));
        f = MultiplyMarginalize(domain_, f, g, keep);
        msg[wide.back()] = Factor();
      } else {
        keep = Intersect(keep, f.attrs);
        f = Marginalize(domain_, f, keep);
      }
      if (c == top) {
        result = std::move(f);
      } else {
        msg[c] = std::move(f);
        child_seps[jt.parent[c]].push_back(jt.separator[c]);
      }
    }
  }
  Normalize(result);
  return Transpose(domain_, attrs, result.values, /*to_sorted=*/false);
}

absl::StatusOr<DiscreteTable> JunctionTreeModel::Sample(base::RandomSource& random, int64_t rows,
                                                        TreeModel::SampleMethod method) const {
  if (rows < 0 || rows > (int64_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JunctionTreeModel::Sample: rows must be in [0, 2^31], got ", rows));
  }
  dp::RandomBits bits(random);
  const int d = domain_.num_attributes();
  std::vector<std::vector<int32_t>> codes(d, std::vector<int32_t>(rows));
  const JunctionTree& jt = tree_;
  for (int c : jt.order) {
    const Factor& f = mu_[c];
    const std::vector<int>& sep = jt.separator[c];
    std::vector<int> rest;
    std::set_difference(f.attrs.begin(), f.attrs.end(), sep.begin(), sep.end(), std::back_inserter(rest));
    if (rest.empty()) continue;
    // Cell offsets in f of each separator cell and each rest cell.
    Factor sf;
    Factor rf;
    for (int a : sep) {
      sf.attrs.push_back(a);
      sf.dims.push_back(domain_.size(a));
    }
    for (int a : rest) {
      rf.attrs.push_back(a);
      rf.dims.push_back(domain_.size(a));
    }
    const std::vector<int64_t> fs_sep = StridesAlong(f, sep);
    const std::vector<int64_t> fs_rest = StridesAlong(f, rest);
    const std::vector<int64_t> zs(sep.size(), 0);
    const std::vector<int64_t> zr(rest.size(), 0);
    int64_t n_sep = 1;
    for (int64_t x : sf.dims) n_sep *= x;
    int64_t n_rest = 1;
    for (int64_t x : rf.dims) n_rest *= x;
    std::vector<int64_t> sep_off(n_sep);
    std::vector<int64_t> rest_off(n_rest);
    ForEachCell(sf.dims, fs_sep, zs, [&](int64_t i, int64_t o, int64_t) { sep_off[i] = o; });
    ForEachCell(rf.dims, fs_rest, zr, [&](int64_t i, int64_t o, int64_t) { rest_off[i] = o; });
    // Row-major strides of the separator cell index.
    std::vector<int64_t> sep_stride(sep.size());
    int64_t st = 1;
    for (size_t k = sep.size(); k-- > 0;) {
      sep_stride[k] = st;
      st *= sf.dims[k];
    }
    std::vector<int64_t> sep_index(rows, 0);
    for (size_t k = 0; k < sep.size(); ++k) {
      const int32_t* col = codes[sep[k]].data();
      const int64_t stride = sep_stride[k];
      for (int64_t r = 0; r < rows; ++r) sep_index[r] += col[r] * stride;
    }
    std::vector<double> cond(n_rest);
    std::vector<int32_t> drawn(rows);
    if (method == TreeModel::SampleMethod::kSystematic) {
      internal::AllocateSystematicByGroup(
          bits, sep_index, n_sep,
          [&](int64_t v) {
            for (int64_t t = 0; t < n_rest; ++t) cond[t] = f.values[sep_off[v] + rest_off[t]];
            return std::span<const double>(cond);
          },
          drawn);
    } else {
      std::vector<internal::AliasTable> tables(n_sep);
      std::vector<char> built(n_sep, 0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t v = sep_index[r];
        if (!built[v]) {
          for (int64_t t = 0; t < n_rest; ++t) cond[t] = f.values[sep_off[v] + rest_off[t]];
          tables[v] = internal::BuildAliasTable(cond);
          built[v] = 1;
        }
        drawn[r] = internal::DrawAlias(tables[v], bits.Word());
      }
    }
    // Decode the rest cell index into the rest attributes' codes.
    for (size_t k = rest.size(); k-- > 0;) {
      const int64_t size = rf.dims[k];
      int32_t* col = codes[rest[k]].data();
      for (int64_t r = 0; r < rows; ++r) {
        col[r] = static_cast<int32_t>(drawn[r] % size);
        drawn[r] = static_cast<int32_t>(drawn[r] / size);
      }
    }
  }
  if (!bits.ok()) return bits.status();
  return DiscreteTable::Create(domain_, std::move(codes));
}

}  // namespace veil::synth
