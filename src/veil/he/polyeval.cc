#include "veil/he/polyeval.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::he {

namespace {

constexpr double kMaxCoefficient = 0x1p20;

// The split of a polynomial (Chebyshev coefficients) into leaves of fewer than k coefficients.
struct Node {
  std::vector<double> c;  // leaf coefficients (leaf only)
  size_t split = 0;       // K of p = q T_K + r (0 for a leaf)
  std::unique_ptr<Node> q, r;
};

std::unique_ptr<Node> Split(std::vector<double> c, size_t k) {
  auto node = std::make_unique<Node>();
  if (c.size() <= k) {
    node->c = std::move(c);
    return node;
  }
  size_t big_k = k;
  while (2 * big_k < c.size()) big_k *= 2;  // the largest k 2^i below c.size(), so c.size() <= 2K
  std::vector<double> q(c.size() - big_k), r(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(big_k));
  q[0] = c[big_k];
  for (size_t m = 1; m < q.size(); ++m) {
    q[m] = 2 * c[big_k + m];
    r[big_k - m] -= c[big_k + m];
  }
  node->split = big_k;
  node->q = Split(std::move(q), k);
  node->r = Split(std::move(r), k);
  return node;
}

size_t BabySteps(size_t degree) {
  size_t k = 2;
  while (k * k < degree + 1) k *= 2;
  return k;
}

// Levels of T_j (baby steps 1..k and giant steps k, 2k, ...) when T_1 is at level l1.
std::map<size_t, int> PlanLevels(size_t k, size_t degree, int l1) {
  std::map<size_t, int> level;
  level[1] = l1;
  for (size_t j = 2; j <= k; ++j) {
    const size_t a = (j + 1) / 2, b = j / 2;
    level[j] = std::min(level[a], level[b]) - 1;
  }
  for (size_t big = k; 2 * big <= degree; big *= 2) level[2 * big] = level[big] - 1;
  return level;
}

int MaxLevel(const Node& node, const std::map<size_t, int>& level) {
  if (node.split == 0) {
    int m = level.at(1);
    for (size_t j = 2; j < node.c.size(); ++j) {
      if (node.c[j] != 0) m = std::min(m, level.at(j));
    }
    return m - 1;
  }
  return std::min({MaxLevel(*node.q, level) - 1, level.at(node.split) - 1, MaxLevel(*node.r, level)});
}

// 2 A B (relinearized, rescaled).
absl::StatusOr<Ciphertext> TwiceProduct(const CkksContext& ctx, const RelinKeys& rk, const Ciphertext& a,
                                        const Ciphertext& b) {
  Ciphertext r;
  VEIL_RETURN_IF_ERROR(MultiplyInto(ctx, a, b, &r));
  VEIL_RETURN_IF_ERROR(RelinearizeInplace(ctx, rk, &r));
  VEIL_RETURN_IF_ERROR(MultiplyConstantInplace(ctx, 2.0, 1.0, &r));
  VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, &r));
  return r;
}

class Evaluation {
 public:
  Evaluation(const CkksContext& ctx, const RelinKeys& rk) : ctx_(ctx), rk_(rk) {}

  absl::Status Powers(const Ciphertext& y, size_t k, size_t degree) {
    t_[1] = y;
    for (size_t j = 2; j <= k; ++j) {
      const size_t a = (j + 1) / 2, b = j / 2;
      VEIL_ASSIGN_OR_RETURN(Ciphertext p, TwiceProduct(ctx_, rk_, t_[a], t_[b]));
      if (a == b) {
        VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx_, -1.0, &p));  // T_2j = 2 T_j^2 - 1
      } else {
        Ciphertext t1 = t_[1];  // T_2j+1 = 2 T_j+1 T_j - T_1
        VEIL_RETURN_IF_ERROR(MatchLevelAndScale(ctx_, p.level, p.scale, &t1));
        VEIL_RETURN_IF_ERROR(SubInplace(ctx_, t1, &p));
      }
      t_[j] = std::move(p);
    }
    for (size_t big = k; 2 * big <= degree; big *= 2) {
      VEIL_ASSIGN_OR_RETURN(Ciphertext p, TwiceProduct(ctx_, rk_, t_[big], t_[big]));
      VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx_, -1.0, &p));
      t_[2 * big] = std::move(p);
    }
    return absl::OkStatus();
  }

  // The node's polynomial at exactly `level` and `scale`.
  absl::StatusOr<Ciphertext> Eval(const Node& node, int level, double scale) {
    if (node.split == 0) return Leaf(node.c, level, scale);
    const Ciphertext& g = t_.at(node.split);
    const double q_next = static_cast<double>(ctx_.modulus(static_cast<size_t>(level) + 1).value());
    VEIL_ASSIGN_OR_RETURN(Ciphertext qc, Eval(*node.q, level + 1, scale * q_next / g.scale));
    Ciphertext prod;
    VEIL_RETURN_IF_ERROR(MultiplyInto(ctx_, qc, g, &prod));
    VEIL_RETURN_IF_ERROR(RelinearizeInplace(ctx_, rk_, &prod));
    VEIL_RETURN_IF_ERROR(RescaleInplace(ctx_, &prod));
    prod.scale = scale;  // equal up to the rounding of the double arithmetic
    VEIL_ASSIGN_OR_RETURN(Ciphertext rc, Eval(*node.r, level, scale));
    VEIL_RETURN_IF_ERROR(AddInplace(ctx_, rc, &prod));
    return prod;
  }

 private:
  absl::StatusOr<Ciphertext> Leaf(const std::vector<double>& c, int level, double scale) {
    const int l = level + 1;
    const double target = scale * static_cast<double>(ctx_.modulus(static_cast<size_t>(l)).value());
    Ciphertext acc;
    bool first = true;
    for (size_t j = 1; j < std::max<size_t>(c.size(), 2); ++j) {
      const double cj = j < c.size() ? c[j] : 0.0;
      if (cj == 0 && j != 1) continue;
      Ciphertext term = t_.at(j);
      VEIL_RETURN_IF_ERROR(DropToLevelInplace(ctx_, l, &term));
      VEIL_RETURN_IF_ERROR(MultiplyConstantInplace(ctx_, cj, target / term.scale, &term));
      term.scale = target;
      if (first) {
        acc = std::move(term);
        first = false;
      } else {
        VEIL_RETURN_IF_ERROR(AddInplace(ctx_, term, &acc));
      }
    }
    VEIL_RETURN_IF_ERROR(RescaleInplace(ctx_, &acc));
    acc.scale = scale;
    if (!c.empty() && c[0] != 0) VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx_, c[0], &acc));
    return acc;
  }

  const CkksContext& ctx_;
  const RelinKeys& rk_;
  std::map<size_t, Ciphertext> t_;
};

}  // namespace

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

absl::StatusOr<ChebyshevApproximation> FitChebyshev(const std::function<double(double)>& f, double a,
                                                    double b, int degree) {
  if (!std::isfinite(a) || !std::isfinite(b) || a >= b) {
    return absl::InvalidArgumentError(absl::StrCat("FitChebyshev: interval [", a, ", ", b, "] is empty"));
  }
  if (degree < 1 || degree > 255) {
    return absl::InvalidArgumentError(absl::StrCat("FitChebyshev: degree ", degree, " is not in [1, 255]"));
  }
  const size_t m = static_cast<size_t>(degree) + 1;
  std::vector<double> fy(m), y(m);
  for (size_t k = 0; k < m; ++k) {
    y[k] = std::cos(M_PI * (static_cast<double>(k) + 0.5) / static_cast<double>(m));
    fy[k] = f((a + b) / 2 + (b - a) / 2 * y[k]);
    if (!std::isfinite(fy[k])) {
      return absl::InvalidArgumentError(
          absl::StrCat("FitChebyshev: f is not finite at a node of [", a, ", ", b, "]"));
    }
  }
  ChebyshevApproximation p;
  p.a = a;
  p.b = b;
  p.coefficients.assign(m, 0);
  for (size_t j = 0; j < m; ++j) {
    double sum = 0;
    for (size_t k = 0; k < m; ++k) {
      sum += fy[k] * std::cos(static_cast<double>(j) * M_PI * (static_cast<double>(k) + 0.5) /
                              static_cast<double>(m));
    }
    p.coefficients[j] = 2 * sum / static_cast<double>(m) * (j == 0 ? 0.5 : 1.0);
  }
  constexpr int kGrid = 20000;
  for (int i = 0; i <= kGrid; ++i) {
    const double x = a + (b - a) * i / kGrid;
    p.max_error = std::max(p.max_error, std::fabs(EvaluateChebyshevPlain(p, x) - f(x)));
  }
  return p;
}

double EvaluateChebyshevPlain(const ChebyshevApproximation& p, double x) {
  const double y = (2 * x - p.a - p.b) / (p.b - p.a);
  double b1 = 0, b2 = 0;
  for (size_t j = p.coefficients.size(); j-- > 1;) {
    const double b0 = 2 * y * b1 - b2 + p.coefficients[j];
    b2 = b1;
    b1 = b0;
  }
  return y * b1 - b2 + (p.coefficients.empty() ? 0 : p.coefficients[0]);
}

int ChebyshevDepth(int degree) {
  const size_t d = static_cast<size_t>(std::max(degree, 1));
  const size_t k = BabySteps(d);
  std::vector<double> c(d + 1, 1.0);
  const std::unique_ptr<Node> root = Split(c, k);
  constexpr int kTop = 1000;
  return kTop - MaxLevel(*root, PlanLevels(k, d, kTop - 1));
}

absl::StatusOr<Ciphertext> EvaluateChebyshev(const CkksContext& ctx, const RelinKeys& rk,
                                             const Ciphertext& ct, const ChebyshevApproximation& p) {
  if (p.coefficients.empty()) return absl::InvalidArgumentError("EvaluateChebyshev: no coefficients");
  for (double c : p.coefficients) {
    if (!(std::fabs(c) < kMaxCoefficient)) {
      return absl::InvalidArgumentError("EvaluateChebyshev: a coefficient is not finite or reaches 2^20");
    }
  }
  if (!(p.a < p.b) || !std::isfinite(p.a) || !std::isfinite(p.b)) {
    return absl::InvalidArgumentError("EvaluateChebyshev: the interval is empty");
  }
  const size_t degree = std::max<size_t>(p.coefficients.size() - 1, 1);
  const size_t k = BabySteps(degree);
  std::vector<double> c = p.coefficients;
  c.resize(degree + 1, 0.0);
  const std::unique_ptr<Node> root = Split(c, k);
  const int depth = ChebyshevDepth(static_cast<int>(degree));
  const int target = MaxLevel(*root, PlanLevels(k, degree, ct.level - 1));
  if (target < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "EvaluateChebyshev: a degree-", degree, " polynomial needs ", depth,
        " levels; the ciphertext is at level ", ct.level, " (encrypt at a higher level or use more primes)"));
  }
  // y = (2x - a - b) / (b - a), at the input's scale one level down.
  Ciphertext y = ct;
  const double alpha = 2 / (p.b - p.a), beta = -(p.a + p.b) / (p.b - p.a);
  if (y.level < 1) {
    return absl::FailedPreconditionError("EvaluateChebyshev: the ciphertext is at level 0");
  }
  const double scale = ct.scale;
  VEIL_RETURN_IF_ERROR(MultiplyConstantInplace(
      ctx, alpha, static_cast<double>(ctx.modulus(static_cast<size_t>(y.level)).value()), &y));
  VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, &y));
  y.scale = scale;
  VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx, beta, &y));
  Evaluation eval(ctx, rk);
  VEIL_RETURN_IF_ERROR(eval.Powers(y, k, degree));
  return eval.Eval(*root, target, scale);
}

}  // namespace veil::he
