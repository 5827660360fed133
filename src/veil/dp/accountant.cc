#include "veil/dp/accountant.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/accounting_math.h"

namespace veil::dp {
namespace {

using internal::kInf;
using internal::LogAddExp;
using internal::LogErfc;
using internal::LogSubExp;
using internal::MinimizeOverLogGrid;

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

using internal::InvalidParameter;

absl::Status ValidateNonNegativeFinite(double value, std::string_view name) {
  if (!std::isfinite(value) || value < 0) return InvalidParameter(name, "must be finite and >= 0", value);
  return absl::OkStatus();
}

absl::Status ValidateSteps(int64_t k, std::string_view name) {
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(name), " must be >= 1, got ", k));
  }
  return absl::OkStatus();
}

absl::Status ValidateOrders(absl::Span<const double> orders) {
  if (orders.empty()) return absl::InvalidArgumentError("orders must not be empty");
  for (size_t i = 0; i < orders.size(); ++i) {
    if (!std::isfinite(orders[i]) || !(orders[i] > 1)) {
      return InvalidParameter(absl::StrCat("orders[", i, "]"), "must be finite and > 1", orders[i]);
    }
    if (i > 0 && !(orders[i] > orders[i - 1])) {
      return InvalidParameter(absl::StrCat("orders[", i, "]"),
                              "must be strictly greater than the previous order", orders[i]);
    }
  }
  return absl::OkStatus();
}

// ---- zCDP conversion objectives (CKS20, Corollary 13), written in x = alpha - 1 > 0 --------------------

// epsilon(alpha) = alpha rho + ln(1 - 1/alpha) + (ln(1/delta) - ln(alpha)) / (alpha - 1).
// (The Corollary's (alpha - 1) ln(1 - 1/alpha) / (alpha - 1) simplifies to ln(1 - 1/alpha).)
double ZcdpEpsilonAt(double x, double rho, double log_inv_delta) {
  return (1.0 + x) * rho + std::log(x / (1.0 + x)) + (log_inv_delta - std::log1p(x)) / x;
}

// The part of epsilon(alpha) that does not depend on rho: c(alpha) = epsilon(alpha) - alpha rho.
double ZcdpOffsetAt(double x, double log_inv_delta) {
  return std::log(x / (1.0 + x)) + (log_inv_delta - std::log1p(x)) / x;
}

// A search range for x = alpha - 1 that contains the optimum with a wide margin. For small rho the optimum
// is near sqrt(ln(1/delta) / rho); for large rho it approaches 0.
std::pair<double, double> ZcdpSearchRange(double rho, double log_inv_delta) {
  const double center = std::sqrt(std::max(log_inv_delta, 1e-3) / rho);
  return {std::min(1e-9, center * 1e-6), std::max(1e9, center * 1e6)};
}

// ---- Optimal homogeneous composition (KOV15 Theorem 3.3) ---------------------------------------------

// ln of the l-th term of delta_rr(e') * (1 + e^eps)^k:  ln C(k,l) + (k-l) eps + ln(1 - e^{e' - (k-2l) eps}),
// -infinity when the term is 0 ((k - 2l) eps <= e').
double KovLogTerm(int64_t k, int64_t l, double eps, double eps_total) {
  const double gap = static_cast<double>(k - 2 * l) * eps - eps_total;
  if (!(gap > 0)) return -kInf;
  return internal::LogBinomial(static_cast<double>(k), static_cast<double>(l)) +
         static_cast<double>(k - l) * eps + std::log(-std::expm1(-gap));
}

// ln delta_rr(e'). The terms are log-concave in l (a concave ln C(k, l), a linear term and ln(1 - e^{-c})
// of an affine c), hence unimodal: find the peak by ternary search, then sum outwards until the terms fall
// below e^-45 of the peak (each side's remainder is then below 1e-17 of the sum, since concavity makes the
// terms decay at least geometrically from there).
double KovLogDeltaRr(int64_t k, double eps, double eps_total) {
  // Terms are non-zero for l < (k - e'/eps) / 2.
  const double limit = (static_cast<double>(k) - eps_total / eps) / 2.0;
  if (limit <= 0) return -kInf;
  int64_t l_max = static_cast<int64_t>(std::ceil(limit)) - 1;  // largest l with a positive term
  l_max = std::min<int64_t>(l_max, k);
  while (l_max >= 0 && KovLogTerm(k, l_max, eps, eps_total) == -kInf) --l_max;
  if (l_max < 0) return -kInf;
  int64_t lo = 0;
  int64_t hi = l_max;
  while (hi - lo > 2) {
    const int64_t m1 = lo + (hi - lo) / 3;
    const int64_t m2 = hi - (hi - lo) / 3;
    if (KovLogTerm(k, m1, eps, eps_total) < KovLogTerm(k, m2, eps, eps_total)) {
      lo = m1 + 1;
    } else {
      hi = m2 - 1;
    }
  }
  int64_t peak = lo;
  double peak_value = KovLogTerm(k, lo, eps, eps_total);
  for (int64_t l = lo + 1; l <= hi; ++l) {
    const double v = KovLogTerm(k, l, eps, eps_total);
    if (v > peak_value) {
      peak_value = v;
      peak = l;
    }
  }
  double sum = peak_value;
  for (int64_t l = peak - 1; l >= 0; --l) {
    const double v = KovLogTerm(k, l, eps, eps_total);
    sum = LogAddExp(sum, v);
    if (v < peak_value - 45) break;
  }
  for (int64_t l = peak + 1; l <= l_max; ++l) {
    const double v = KovLogTerm(k, l, eps, eps_total);
    sum = LogAddExp(sum, v);
    if (v < peak_value - 45) break;
  }
  // ln (1 + e^eps)^k, stable for large eps.
  const double log_norm = static_cast<double>(k) * (eps + std::log1p(std::exp(-eps)));
  return sum - log_norm;
}

absl::Status ValidateKovInputs(const ApproxDp& each, int64_t k) {
  VEIL_RETURN_IF_ERROR(ValidateApproxDp(each, "each"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(each.epsilon, "each.epsilon"));
  VEIL_RETURN_IF_ERROR(ValidateSteps(k, "k"));
  if (k > 10'000'000) {
    return absl::InvalidArgumentError(absl::StrCat("k must be <= 10000000, got ", k));
  }
  return absl::OkStatus();
}

// ---- Subsampled Gaussian (MTZ19) ------------------------------------------------------------------------

// ln A_alpha for integer alpha (MTZ19, Section 3.2): a finite sum of positive terms, in log space.
double SgmLogAInteger(double q, double z, int64_t alpha) {
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double inv_2z2 = 1.0 / (2.0 * z * z);
  double log_a = -kInf;
  for (int64_t k = 0; k <= alpha; ++k) {
    const double kd = static_cast<double>(k);
    const double term = internal::LogBinomial(static_cast<double>(alpha), kd) + kd * log_q +
                        static_cast<double>(alpha - k) * log_1mq + (kd * kd - kd) * inv_2z2;
    log_a = LogAddExp(log_a, term);
  }
  return log_a;
}

// ln A_alpha for fractional alpha (MTZ19, Section 3.3). A_alpha = E_{x ~ N(0, z^2)}[(1 - q + q r(x))^alpha]
// with r(x) = e^{(2x - 1)/(2 z^2)}, split at z0 = z^2 ln(1/q - 1) + 1/2 where (1-q) = q r. Below z0 the
// integrand is expanded as the binomial series of (1-q)^alpha (1 + q r / (1-q))^alpha, above as that of
// (q r)^alpha (1 + (1-q) / (q r))^alpha; integrating term by term against the Gaussian gives
//   A0 = sum_i C(alpha,i) q^i (1-q)^{alpha-i} e^{(i^2-i)/(2z^2)} (1/2) erfc((i - z0) / (sqrt2 z)),
//   A1 = sum_i C(alpha,i) q^{alpha-i} (1-q)^i e^{(j^2-j)/(2z^2)} (1/2) erfc((z0 - j) / (sqrt2 z)), j = alpha
//   - i.
// C(alpha, i) alternates in sign once i > alpha; beyond that both series' terms decrease in magnitude, so
// the truncation error is below the first omitted term, which we add (in absolute value) to stay an upper
// bound. Terms are summed in log space with separate positive and negative accumulators.
absl::StatusOr<double> SgmLogAFractional(double q, double z, double alpha) {
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double inv_2z2 = 1.0 / (2.0 * z * z);
  const double z0 = z * z * (log_1mq - log_q) + 0.5;
  const double sqrt2z = std::sqrt(2.0) * z;
  const double log_half = std::log(0.5);
  double pos = -kInf;
  double neg = -kInf;
  double log_abs_coef = 0;  // ln |C(alpha, i)|
  bool coef_negative = false;
  constexpr int64_t kMaxTerms = 20'000'000;
  for (int64_t i = 0; i < kMaxTerms; ++i) {
    const double id = static_cast<double>(i);
    if (i > 0) {
      const double factor = alpha - (id - 1.0);  // C(alpha, i) = C(alpha, i-1) (alpha - i + 1) / i
      log_abs_coef += std::log(std::fabs(factor)) - std::log(id);
      if (factor < 0) coef_negative = !coef_negative;
    }
    const double j = alpha - id;
    const double s0 = log_abs_coef + id * log_q + j * log_1mq + (id * id - id) * inv_2z2 + log_half +
                      LogErfc((id - z0) / sqrt2z);
    const double s1 = log_abs_coef + j * log_q + id * log_1mq + (j * j - j) * inv_2z2 + log_half +
                      LogErfc((z0 - j) / sqrt2z);
    const double s = LogAddExp(s0, s1);
    if (id > alpha + 1) {
      const double total = LogSubExp(pos, neg);
      if (std::max(s0, s1) < total - 30) {
        // Stop: add the first omitted terms' magnitude so that the result is not below the true sum.
        return LogAddExp(total, s + std::log(2.0));
      }
    }
    if (coef_negative) {
      neg = LogAddExp(neg, s);
    } else {
      pos = LogAddExp(pos, s);
    }
  }
  return absl::InternalError(
      absl::StrCat("subsampled Gaussian RDP series did not converge at order ", Num(alpha)));
}

// RDP of the subsampled Gaussian at one order.
absl::StatusOr<double> SgmRdpAt(double q, double z, double alpha) {
  if (q == 0) return 0.0;
  if (q == 1) return alpha / (2.0 * z * z);
  double log_a;
  if (alpha == std::floor(alpha)) {
    if (alpha > 1e6) {
      return InvalidParameter("order", "must be <= 1e6 for the subsampled Gaussian", alpha);
    }
    log_a = SgmLogAInteger(q, z, static_cast<int64_t>(alpha));
  } else {
    VEIL_ASSIGN_OR_RETURN(log_a, SgmLogAFractional(q, z, alpha));
  }
  // A_alpha >= 1 in exact arithmetic; clamp rounding below 0.
  return std::max(0.0, log_a / (alpha - 1.0));
}

std::string CostLine(const CostComponent& c) {
  std::string line = absl::StrCat("  ", c.name, ": ", std::string(CostKindName(c.kind)));
  if (c.rho.has_value()) absl::StrAppend(&line, " rho=", absl::StrFormat("%.6g", *c.rho), " ->");
  absl::StrAppend(&line, " epsilon=", absl::StrFormat("%.6g", c.cost.epsilon));
  if (c.cost.delta > 0) absl::StrAppend(&line, ", delta=", absl::StrFormat("%.6g", c.cost.delta));
  return line;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Validation.

absl::Status ValidateEpsilon(double value, std::string_view name) {
  if (!std::isfinite(value) || !(value > 0)) return InvalidParameter(name, "must be finite and > 0", value);
  return absl::OkStatus();
}

absl::Status ValidateDelta(double value, std::string_view name) {
  if (!(value >= 0 && value < 1)) return InvalidParameter(name, "must be in [0, 1)", value);
  return absl::OkStatus();
}

absl::Status ValidatePositiveDelta(double value, std::string_view name) {
  if (!(value > 0 && value < 1)) return InvalidParameter(name, "must be in (0, 1)", value);
  return absl::OkStatus();
}

absl::Status ValidateRho(double value, std::string_view name) {
  if (!std::isfinite(value) || !(value > 0)) return InvalidParameter(name, "must be finite and > 0", value);
  return absl::OkStatus();
}

absl::StatusOr<ApproxDp> ApproxDp::Create(double epsilon, double delta) {
  ApproxDp cost{epsilon, delta};
  VEIL_RETURN_IF_ERROR(ValidateApproxDp(cost, "cost"));
  return cost;
}

absl::Status ValidateApproxDp(const ApproxDp& cost, std::string_view name) {
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(cost.epsilon, absl::StrCat(std::string(name), ".epsilon")));
  return ValidateDelta(cost.delta, absl::StrCat(std::string(name), ".delta"));
}

// ---------------------------------------------------------------------------------------------------------
// Composition.

absl::StatusOr<ApproxDp> ComposeBasic(absl::Span<const ApproxDp> parts) {
  ApproxDp total;
  for (size_t i = 0; i < parts.size(); ++i) {
    VEIL_RETURN_IF_ERROR(ValidateApproxDp(parts[i], absl::StrCat("parts[", i, "]")));
    total.epsilon += parts[i].epsilon;
    total.delta += parts[i].delta;
  }
  if (!std::isfinite(total.epsilon))
    return InvalidParameter("total epsilon", "must be finite", total.epsilon);
  if (!(total.delta < 1)) return InvalidParameter("total delta", "must be < 1", total.delta);
  return total;
}

absl::StatusOr<ApproxDp> ComposeAdvanced(const ApproxDp& each, int64_t k, double delta_slack) {
  VEIL_RETURN_IF_ERROR(ValidateApproxDp(each, "each"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(each.epsilon, "each.epsilon"));
  VEIL_RETURN_IF_ERROR(ValidateSteps(k, "k"));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta_slack, "delta_slack"));
  const double kd = static_cast<double>(k);
  const double delta = kd * each.delta + delta_slack;
  if (!(delta < 1)) return InvalidParameter("total delta (k * delta + delta_slack)", "must be < 1", delta);
  const double advanced = std::sqrt(2.0 * kd * std::log(1.0 / delta_slack)) * each.epsilon +
                          kd * each.epsilon * std::expm1(each.epsilon);
  const double basic = kd * each.epsilon;
  const double eps = std::min(advanced, basic);
  if (!std::isfinite(eps)) return InvalidParameter("total epsilon", "must be finite", eps);
  return ApproxDp{eps, delta};
}

absl::StatusOr<double> OptimalHomogeneousDelta(const ApproxDp& each, int64_t k, double epsilon_total) {
  VEIL_RETURN_IF_ERROR(ValidateKovInputs(each, k));
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(epsilon_total, "epsilon_total"));
  const double log_rr = KovLogDeltaRr(k, each.epsilon, epsilon_total);
  // 1 - (1 - delta)^k (1 - delta_rr).
  const double log_keep = static_cast<double>(k) * std::log1p(-each.delta) + std::log1p(-std::exp(log_rr));
  return std::clamp(-std::expm1(log_keep), 0.0, 1.0);
}

absl::StatusOr<double> ComposeOptimalHomogeneous(const ApproxDp& each, int64_t k, double delta_total) {
  VEIL_RETURN_IF_ERROR(ValidateKovInputs(each, k));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta_total, "delta_total"));
  // delta_rr must be at most 1 - (1 - delta_total) / (1 - delta)^k.
  const double log_ratio = std::log1p(-delta_total) - static_cast<double>(k) * std::log1p(-each.delta);
  if (!(log_ratio < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta_total must exceed 1 - (1 - delta)^k = ",
        Num(-std::expm1(static_cast<double>(k) * std::log1p(-each.delta))), ", got ", Num(delta_total)));
  }
  const double target_rr = -std::expm1(log_ratio);
  const double log_target = std::log(target_rr);
  // The computed delta_rr carries a relative error of ~1e-13; demand a 1e-10 margin so the answer is valid.
  const double log_margin = std::log1p(1e-10);
  auto ok = [&](double e) { return KovLogDeltaRr(k, each.epsilon, e) + log_margin <= log_target; };
  if (ok(0.0)) return 0.0;
  double lo = 0.0;
  double hi = static_cast<double>(k) * each.epsilon;  // delta_rr(k eps) = 0
  for (int iter = 0; iter < 200 && hi - lo > 1e-13 * hi; ++iter) {
    const double mid = 0.5 * (lo + hi);
    if (ok(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

absl::StatusOr<double> ComposeZcdp(absl::Span<const double> rhos) {
  double total = 0;
  for (size_t i = 0; i < rhos.size(); ++i) {
    VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(rhos[i], absl::StrCat("rhos[", i, "]")));
    total += rhos[i];
  }
  if (!std::isfinite(total)) return InvalidParameter("total rho", "must be finite", total);
  return total;
}

// ---------------------------------------------------------------------------------------------------------
// zCDP conversions.

absl::StatusOr<double> PureDpToZcdp(double epsilon) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  return epsilon * epsilon / 2.0;
}

absl::StatusOr<double> ZcdpToEpsilonSimple(double rho, double delta) {
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(rho, "rho"));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  return rho + 2.0 * std::sqrt(rho * std::log(1.0 / delta));
}

absl::StatusOr<double> ZcdpToEpsilon(double rho, double delta) {
  VEIL_ASSIGN_OR_RETURN(const double simple, ZcdpToEpsilonSimple(rho, delta));
  if (rho == 0) return 0.0;
  const double log_inv_delta = -std::log(delta);
  const auto [lo, hi] = ZcdpSearchRange(rho, log_inv_delta);
  const auto [x, eps] =
      MinimizeOverLogGrid([&](double v) { return ZcdpEpsilonAt(v, rho, log_inv_delta); }, lo, hi);
  (void)x;
  return std::max(0.0, std::min(eps, simple));
}

absl::StatusOr<double> ZcdpToDelta(double rho, double epsilon) {
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(rho, "rho"));
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(epsilon, "epsilon"));
  if (rho == 0) return 0.0;
  // ln delta(alpha) = (alpha - 1)(alpha rho - epsilon) - ln(alpha - 1) + alpha ln(1 - 1/alpha), x = alpha
  // - 1.
  auto log_delta = [&](double x) {
    return x * ((1.0 + x) * rho - epsilon) - std::log(x) + (1.0 + x) * std::log(x / (1.0 + x));
  };
  const double center = std::max(1.0, (epsilon + rho) / (2.0 * rho));
  const auto [x, value] = MinimizeOverLogGrid(log_delta, 1e-9, std::max(1e9, center * 1e3));
  (void)x;
  return std::min(1.0, std::exp(value));
}

absl::StatusOr<double> ApproxDpToZcdp(const ApproxDp& target) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(target.epsilon, "target.epsilon"));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(target.delta, "target.delta"));
  // For each alpha, epsilon(alpha, rho) = alpha rho + c(alpha) is linear in rho, so the largest rho with
  // min_alpha epsilon(alpha, rho) <= epsilon is max_alpha (epsilon - c(alpha)) / alpha: an exact inversion,
  // computed by the same scan-and-golden-section search as ZcdpToEpsilon instead of a bisection on it.
  const double log_inv_delta = -std::log(target.delta);
  const double eps = target.epsilon;
  // The simple conversion's inverse is a lower bound on the answer; centre the search on it.
  const double guess = std::pow(std::sqrt(log_inv_delta + eps) - std::sqrt(log_inv_delta), 2.0);
  const auto [lo, hi] = ZcdpSearchRange(guess, log_inv_delta);
  const auto [x, neg_rho] = MinimizeOverLogGrid(
      [&](double v) { return -(eps - ZcdpOffsetAt(v, log_inv_delta)) / (1.0 + v); }, lo, hi);
  (void)x;
  double rho = std::max(-neg_rho, guess);
  // Round down until the forward conversion (what the accountant will charge) is within the target.
  for (int i = 0; i < 200; ++i) {
    VEIL_ASSIGN_OR_RETURN(const double back, ZcdpToEpsilon(rho, target.delta));
    if (back <= eps) return rho;
    rho *= 1.0 - 1e-12 * (1 << std::min(i, 30));
  }
  return absl::InternalError("ApproxDpToZcdp: could not round rho into the target");
}

// ---------------------------------------------------------------------------------------------------------
// Renyi DP.

std::vector<double> DefaultRdpOrders() {
  std::vector<double> orders = {1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5};
  for (int a = 5; a <= 63; ++a) orders.push_back(a);
  orders.push_back(128);
  orders.push_back(256);
  orders.push_back(512);
  return orders;
}

absl::Status ValidateRdpCurve(const RdpCurve& curve) {
  VEIL_RETURN_IF_ERROR(ValidateOrders(curve.orders));
  if (curve.epsilons.size() != curve.orders.size()) {
    return absl::InvalidArgumentError(absl::StrCat("RDP curve has ", curve.orders.size(), " orders but ",
                                                   curve.epsilons.size(), " epsilons"));
  }
  for (size_t i = 0; i < curve.epsilons.size(); ++i) {
    if (!(curve.epsilons[i] >= 0)) {
      return InvalidParameter(absl::StrCat("epsilons[", i, "]"), "must be >= 0 (or +infinity)",
                              curve.epsilons[i]);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RdpCurve> GaussianRdp(double noise_multiplier, absl::Span<const double> orders) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(noise_multiplier, "noise_multiplier"));
  VEIL_RETURN_IF_ERROR(ValidateOrders(orders));
  RdpCurve curve{{orders.begin(), orders.end()}, {}};
  for (double a : orders) curve.epsilons.push_back(a / (2.0 * noise_multiplier * noise_multiplier));
  return curve;
}

absl::StatusOr<RdpCurve> ZcdpToRdp(double rho, absl::Span<const double> orders) {
  VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(rho, "rho"));
  VEIL_RETURN_IF_ERROR(ValidateOrders(orders));
  RdpCurve curve{{orders.begin(), orders.end()}, {}};
  for (double a : orders) curve.epsilons.push_back(a * rho);
  return curve;
}

absl::StatusOr<RdpCurve> PureDpToRdp(double epsilon, absl::Span<const double> orders) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(ValidateOrders(orders));
  RdpCurve curve{{orders.begin(), orders.end()}, {}};
  for (double a : orders) curve.epsilons.push_back(std::min(epsilon, a * epsilon * epsilon / 2.0));
  return curve;
}

absl::StatusOr<RdpCurve> SubsampledGaussianRdp(double sampling_rate, double noise_multiplier,
                                               absl::Span<const double> orders) {
  if (!(sampling_rate >= 0 && sampling_rate <= 1)) {
    return InvalidParameter("sampling_rate", "must be in [0, 1]", sampling_rate);
  }
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(noise_multiplier, "noise_multiplier"));
  VEIL_RETURN_IF_ERROR(ValidateOrders(orders));
  RdpCurve curve{{orders.begin(), orders.end()}, {}};
  for (double a : orders) {
    VEIL_ASSIGN_OR_RETURN(const double e, SgmRdpAt(sampling_rate, noise_multiplier, a));
    curve.epsilons.push_back(e);
  }
  return curve;
}

absl::StatusOr<RdpCurve> ComposeRdp(const RdpCurve& a, const RdpCurve& b) {
  VEIL_RETURN_IF_ERROR(ValidateRdpCurve(a));
  VEIL_RETURN_IF_ERROR(ValidateRdpCurve(b));
  if (a.orders != b.orders)
    return absl::InvalidArgumentError("RDP curves to compose must have the same orders");
  RdpCurve out = a;
  for (size_t i = 0; i < out.epsilons.size(); ++i) out.epsilons[i] += b.epsilons[i];
  return out;
}

absl::StatusOr<RdpCurve> RepeatRdp(const RdpCurve& curve, int64_t k) {
  VEIL_RETURN_IF_ERROR(ValidateRdpCurve(curve));
  VEIL_RETURN_IF_ERROR(ValidateSteps(k, "k"));
  RdpCurve out = curve;
  for (double& e : out.epsilons) e *= static_cast<double>(k);
  return out;
}

absl::StatusOr<RdpConversion> RdpToApproxDp(const RdpCurve& curve, double delta) {
  VEIL_RETURN_IF_ERROR(ValidateRdpCurve(curve));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  const double log_delta = std::log(delta);
  RdpConversion best{kInf, 0};
  for (size_t i = 0; i < curve.orders.size(); ++i) {
    const double a = curve.orders[i];
    const double e = curve.epsilons[i];
    if (!std::isfinite(e)) continue;
    const double eps = e + std::log1p(-1.0 / a) - (log_delta + std::log(a)) / (a - 1.0);
    if (eps < best.epsilon) best = {eps, a};
  }
  if (!std::isfinite(best.epsilon)) {
    return absl::OutOfRangeError("the RDP curve has no finite epsilon at any order");
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

absl::StatusOr<double> DpSgdEpsilon(double sampling_rate, double noise_multiplier, int64_t steps,
                                    double delta) {
  VEIL_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  VEIL_ASSIGN_OR_RETURN(const RdpCurve one,
                        SubsampledGaussianRdp(sampling_rate, noise_multiplier, DefaultRdpOrders()));
  VEIL_ASSIGN_OR_RETURN(const RdpCurve all, RepeatRdp(one, steps));
  VEIL_ASSIGN_OR_RETURN(const RdpConversion conv, RdpToApproxDp(all, delta));
  return conv.epsilon;
}

absl::StatusOr<double> CalibrateDpSgdNoiseMultiplier(double sampling_rate, int64_t steps, double epsilon,
                                                     double delta) {
  if (!(sampling_rate > 0 && sampling_rate <= 1)) {
    return InvalidParameter("sampling_rate", "must be in (0, 1]", sampling_rate);
  }
  VEIL_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  auto meets = [&](double z) -> absl::StatusOr<bool> {
    VEIL_ASSIGN_OR_RETURN(const double e, DpSgdEpsilon(sampling_rate, z, steps, delta));
    return e <= epsilon;
  };
  double lo = 1e-3;
  double hi = 1e4;
  VEIL_ASSIGN_OR_RETURN(const bool hi_ok, meets(hi));
  if (!hi_ok) {
    return absl::OutOfRangeError(absl::StrCat("no noise multiplier up to 1e4 reaches epsilon ", Num(epsilon),
                                              " at delta ", Num(delta), " for ", steps, " steps"));
  }
  VEIL_ASSIGN_OR_RETURN(const bool lo_ok, meets(lo));
  if (lo_ok) return lo;
  while (hi / lo - 1.0 > 1e-6) {
    const double mid = std::sqrt(lo * hi);
    VEIL_ASSIGN_OR_RETURN(const bool mid_ok, meets(mid));
    if (mid_ok) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------------------
// PrivacyCost and QueryAccountant.

std::string_view CostKindName(CostKind kind) {
  switch (kind) {
    case CostKind::kLaplace:
      return "laplace";
    case CostKind::kGaussian:
      return "gaussian";
    case CostKind::kApproxDp:
      return "approx_dp";
  }
  return "unknown";
}

std::string PrivacyCost::ToString() const {
  std::string out = absl::StrCat("epsilon=", absl::StrFormat("%.6g", total.epsilon),
                                 ", delta=", absl::StrFormat("%.6g", total.delta), " (", method, ")");
  if (rho.has_value()) absl::StrAppend(&out, ", zCDP rho=", absl::StrFormat("%.6g", *rho));
  for (const CostComponent& c : components) absl::StrAppend(&out, "\n", CostLine(c));
  return out;
}

absl::Status QueryAccountant::AddLaplace(std::string_view name, double epsilon) {
  if (name.empty()) return absl::InvalidArgumentError("component name must not be empty");
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  components_.push_back({std::string(name), CostKind::kLaplace, ApproxDp{epsilon, 0}, std::nullopt});
  return absl::OkStatus();
}

absl::Status QueryAccountant::AddGaussian(std::string_view name, double rho, double delta) {
  if (name.empty()) return absl::InvalidArgumentError("component name must not be empty");
  VEIL_RETURN_IF_ERROR(ValidateRho(rho));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  VEIL_ASSIGN_OR_RETURN(const double eps, ZcdpToEpsilon(rho, delta));
  components_.push_back({std::string(name), CostKind::kGaussian, ApproxDp{eps, delta}, rho});
  return absl::OkStatus();
}

absl::Status QueryAccountant::AddApproxDp(std::string_view name, const ApproxDp& cost) {
  if (name.empty()) return absl::InvalidArgumentError("component name must not be empty");
  VEIL_RETURN_IF_ERROR(ValidateApproxDp(cost));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(cost.epsilon, "cost.epsilon"));
  components_.push_back({std::string(name), CostKind::kApproxDp, cost, std::nullopt});
  return absl::OkStatus();
}

absl::StatusOr<PrivacyCost> QueryAccountant::Total() const {
  PrivacyCost cost;
  cost.components = components_;
  double eps_laplace = 0, rho_laplace = 0;
  double eps_gauss = 0, rho_gauss = 0, delta_gauss = 0;
  double eps_approx = 0, delta_approx = 0;
  int n_gauss = 0;
  for (const CostComponent& c : components_) {
    switch (c.kind) {
      case CostKind::kLaplace:
        eps_laplace += c.cost.epsilon;
        rho_laplace += c.cost.epsilon * c.cost.epsilon / 2.0;
        break;
      case CostKind::kGaussian:
        eps_gauss += c.cost.epsilon;
        rho_gauss += *c.rho;
        delta_gauss += c.cost.delta;
        ++n_gauss;
        break;
      case CostKind::kApproxDp:
        eps_approx += c.cost.epsilon;
        delta_approx += c.cost.delta;
        break;
    }
  }
  const double delta = delta_gauss + delta_approx;
  if (!(delta < 1)) return InvalidParameter("total delta", "must be < 1", delta);
  // (a) basic composition of every component's own (epsilon, delta).
  cost.total = {eps_laplace + eps_gauss + eps_approx, delta};
  cost.method = "basic composition";
  if (n_gauss >= 1) {
    // (b) the Gaussian parts composed in zCDP, converted once at their summed delta.
    VEIL_ASSIGN_OR_RETURN(const double eps_b, ZcdpToEpsilon(rho_gauss, delta_gauss));
    if (n_gauss >= 2 && eps_b + eps_laplace + eps_approx < cost.total.epsilon) {
      cost.total.epsilon = eps_b + eps_laplace + eps_approx;
      cost.rho = rho_gauss;
      cost.method = "zCDP composition of the Gaussian parts, then basic composition";
    }
    // (c) the Laplace parts join the zCDP sum as epsilon^2 / 2 each.
    if (eps_laplace > 0) {
      VEIL_ASSIGN_OR_RETURN(const double eps_c, ZcdpToEpsilon(rho_gauss + rho_laplace, delta_gauss));
      if (eps_c + eps_approx < cost.total.epsilon) {
        cost.total.epsilon = eps_c + eps_approx;
        cost.rho = rho_gauss + rho_laplace;
        cost.method = "zCDP composition of the Gaussian and Laplace parts, then basic composition";
      }
    }
  }
  if (!std::isfinite(cost.total.epsilon))
    return InvalidParameter("total epsilon", "must be finite", cost.total.epsilon);
  return cost;
}

// ---------------------------------------------------------------------------------------------------------
// Budget splitting.

absl::StatusOr<std::vector<ApproxDp>> SplitBudget(const ApproxDp& total,
                                                  absl::Span<const double> epsilon_weights,
                                                  absl::Span<const double> delta_weights) {
  VEIL_RETURN_IF_ERROR(ValidateApproxDp(total, "total"));
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(total.epsilon, "total.epsilon"));
  if (epsilon_weights.empty()) return absl::InvalidArgumentError("epsilon_weights must not be empty");
  if (delta_weights.size() != epsilon_weights.size()) {
    return absl::InvalidArgumentError(absl::StrCat("delta_weights has ", delta_weights.size(),
                                                   " entries but epsilon_weights has ",
                                                   epsilon_weights.size()));
  }
  double eps_sum = 0, delta_sum = 0;
  for (size_t i = 0; i < epsilon_weights.size(); ++i) {
    VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon_weights[i], absl::StrCat("epsilon_weights[", i, "]")));
    VEIL_RETURN_IF_ERROR(ValidateNonNegativeFinite(delta_weights[i], absl::StrCat("delta_weights[", i, "]")));
    eps_sum += epsilon_weights[i];
    delta_sum += delta_weights[i];
  }
  if (!std::isfinite(eps_sum) || !std::isfinite(delta_sum)) {
    return absl::InvalidArgumentError("the weights' sum must be finite");
  }
  std::vector<ApproxDp> parts(epsilon_weights.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].epsilon = total.epsilon * (epsilon_weights[i] / eps_sum);
    parts[i].delta = delta_sum > 0 ? total.delta * (delta_weights[i] / delta_sum) : 0.0;
    if (!(parts[i].epsilon > 0)) {
      return InvalidParameter(absl::StrCat("epsilon_weights[", i, "]"),
                              "gives a zero epsilon share (underflow)", epsilon_weights[i]);
    }
  }
  // Rounding can push a sum one ulp over the total: shrink every part until the sums fit.
  auto sums_fit = [&] {
    double e = 0, d = 0;
    for (const ApproxDp& p : parts) {
      e += p.epsilon;
      d += p.delta;
    }
    return e <= total.epsilon && d <= total.delta;
  };
  for (int i = 0; !sums_fit(); ++i) {
    if (i >= 100) return absl::InternalError("SplitBudget: could not round the parts into the total");
    for (ApproxDp& p : parts) {
      p.epsilon *= 1.0 - 4.0 * std::numeric_limits<double>::epsilon();
      p.delta *= 1.0 - 4.0 * std::numeric_limits<double>::epsilon();
    }
  }
  return parts;
}

absl::StatusOr<std::vector<ApproxDp>> SplitBudget(const ApproxDp& total, absl::Span<const double> weights) {
  return SplitBudget(total, weights, weights);
}

}  // namespace veil::dp
