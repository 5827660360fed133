#include "veil/dp/dp_tester.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::dp::testing {
namespace {

// ---------------------------------------------------------------------------------------------------------
// The regularised incomplete beta function I_x(a, b), the CDF of Beta(a, b) at x, which gives binomial tails:
//     P[Binomial(n, p) >= k] = I_p(k, n - k + 1)            (1 <= k <= n)
//     P[Binomial(n, p) <= k] = 1 - I_p(k + 1, n - k)        (0 <= k <  n).
// Evaluated with the classical continued fraction (Abramowitz & Stegun 26.5.8)
//     I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))),
//     d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),   d_{2m} = m (b - m) x / ((a + 2m - 1)(a +
//     2m)),
// by the modified Lentz method. It converges fast for x < (a + 1) / (a + b + 2); above that point the
// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) is used. To keep small tails accurate, the function returns both
// I and 1 - I, each computed directly when it is the small side (no cancellation in 1 - (1 - tiny)).
struct BetaPair {
  double value = 0;       // I_x(a, b)
  double complement = 1;  // 1 - I_x(a, b)
};

absl::StatusOr<double> BetaContinuedFraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  // The number of terms needed grows like sqrt(max(a, b)); the cap is far above that for any n we use.
  const int64_t max_terms = 1000 + 20 * static_cast<int64_t>(std::sqrt(std::max(a, b)));
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double f = d;
  for (int64_t m = 1; m <= max_terms; ++m) {
    const double md = static_cast<double>(m);
    // Even term d_{2m}.
    double num = md * (b - md) * x / ((a + 2 * md - 1) * (a + 2 * md));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    f *= d * c;
    // Odd term d_{2m+1}.
    num = -(a + md) * (a + b + md) * x / ((a + 2 * md) * (a + 2 * md + 1));
    d = 1.0 + num * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    f *= delta;
    if (std::fabs(delta - 1.0) < kEps) return f;
  }
  return absl::InternalError(
      absl::StrFormat("incomplete beta continued fraction did not converge (x=%g, a=%g, b=%g)", x, a, b));
}

// I_x(a, b) and its complement for a, b > 0 and x in [0, 1].
absl::StatusOr<BetaPair> IncompleteBeta(double x, double a, double b) {
  if (x <= 0) return BetaPair{0.0, 1.0};
  if (x >= 1) return BetaPair{1.0, 0.0};
  // log of x^a (1-x)^b / B(a, b); the 1/a (or 1/b) factor is applied below.
  const double log_front =
      a * std::log(x) + b * std::log1p(-x) - (std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b));
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    VEIL_ASSIGN_OR_RETURN(const double cf, BetaContinuedFraction(x, a, b));
    const double value = std::clamp(front * cf / a, 0.0, 1.0);
    return BetaPair{value, 1.0 - value};
  }
  VEIL_ASSIGN_OR_RETURN(const double cf, BetaContinuedFraction(1.0 - x, b, a));
  const double complement = std::clamp(front * cf / b, 0.0, 1.0);
  return BetaPair{1.0 - complement, complement};
}

// P[Binomial(n, p) >= k], for 1 <= k <= n.
absl::StatusOr<double> BinomialUpperTail(int64_t k, int64_t n, double p) {
  VEIL_ASSIGN_OR_RETURN(const BetaPair pair,
                        IncompleteBeta(p, static_cast<double>(k), static_cast<double>(n - k + 1)));
  return pair.value;
}

// P[Binomial(n, p) <= k], for 0 <= k < n.
absl::StatusOr<double> BinomialLowerTail(int64_t k, int64_t n, double p) {
  VEIL_ASSIGN_OR_RETURN(const BetaPair pair,
                        IncompleteBeta(p, static_cast<double>(k + 1), static_cast<double>(n - k)));
  return pair.complement;
}

absl::Status ValidateBoundArgs(int64_t successes, int64_t trials, double alpha) {
  if (trials < 1 || successes < 0 || successes > trials) {
    return absl::InvalidArgumentError(
        absl::StrCat("Clopper-Pearson bound needs 0 <= successes <= trials and ", "trials >= 1, got ",
                     successes, " of ", trials));
  }
  if (!(alpha > 0 && alpha < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("Clopper-Pearson alpha must be in (0, 1), got ", alpha));
  }
  return absl::OkStatus();
}

// Bisection stops when the bracket is this narrow relative to its upper end (or after kMaxBisections).
constexpr double kRelativeWidth = 1e-12;
constexpr int kMaxBisections = 200;

// ---------------------------------------------------------------------------------------------------------
// The events.

// An event is a set of buckets: a contiguous range [first, last] or an explicit list (the selected events).
struct Event {
  std::string name;
  int64_t first = 0;
  int64_t last = -1;
  std::vector<int64_t> members;  // non-empty for a selected event
  // Which directions to test: both for fixed events, one for a selected event.
  bool test_d_first = true;
  bool test_d_prime_first = true;
};

int64_t CountOf(const Event& event, const Histogram& h, const std::vector<int64_t>& prefix_sums) {
  if (!event.members.empty()) {
    int64_t total = 0;
    for (int64_t b : event.members) total += h.counts[b];
    return total;
  }
  return prefix_sums[event.last + 1] - prefix_sums[event.first];
}

std::vector<int64_t> PrefixSums(const Histogram& h) {
  std::vector<int64_t> sums(h.counts.size() + 1, 0);
  for (size_t i = 0; i < h.counts.size(); ++i) sums[i + 1] = sums[i] + h.counts[i];
  return sums;
}

std::string DescribeMembers(const std::vector<int64_t>& members) {
  std::string out = "selected {";
  const size_t shown = std::min<size_t>(members.size(), 12);
  for (size_t i = 0; i < shown; ++i) absl::StrAppend(&out, i ? ", " : "", members[i]);
  if (members.size() > shown) absl::StrAppend(&out, ", ... (", members.size(), " buckets)");
  return out + "}";
}

// The DP-Sniper-style selected event for the direction "first vs second": buckets ranked by the smoothed
// likelihood ratio (c1 + 1/2) / n1 : (c2 + 1/2) / n2, and the prefix of that ranking maximising the
// standardised excess (p^ - e^eps q^ - delta) / sqrt(p^(1-p^)/n1 + e^2eps q^(1-q^)/n2). Depends only on the
// selection histograms, which are independent of the test phase, so testing it there is valid.
std::vector<int64_t> SelectEvent(const Histogram& first, const Histogram& second, double epsilon,
                                 double delta) {
  const int64_t k = static_cast<int64_t>(first.counts.size());
  const double n1 = static_cast<double>(first.Total());
  const double n2 = static_cast<double>(second.Total());
  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> ratio(k);
  for (int64_t b = 0; b < k; ++b) {
    ratio[b] = ((first.counts[b] + 0.5) / n1) / ((second.counts[b] + 0.5) / n2);
  }
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return ratio[x] > ratio[y]; });
  const double scale = std::exp(epsilon);
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t best_len = 1;
  double c1 = 0, c2 = 0;
  for (int64_t len = 1; len < k; ++len) {  // the whole output space is never informative
    c1 += static_cast<double>(first.counts[order[len - 1]]);
    c2 += static_cast<double>(second.counts[order[len - 1]]);
    const double p = c1 / n1, q = c2 / n2;
    const double sd = std::sqrt(p * (1 - p) / n1 + scale * scale * q * (1 - q) / n2 + 1.0 / (n1 * n1));
    const double score = (p - scale * q - delta) / sd;
    if (score > best_score) {
      best_score = score;
      best_len = len;
    }
  }
  std::vector<int64_t> members(order.begin(), order.begin() + best_len);
  std::sort(members.begin(), members.end());
  return members;
}

absl::Status ValidateClaim(const DpTestOptions& options) {
  if (!(std::isfinite(options.epsilon) && options.epsilon >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DpTestOptions.epsilon must be finite and >= 0, got ", options.epsilon));
  }
  if (!(options.delta >= 0 && options.delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DpTestOptions.delta must be in [0, 1), got ", options.delta));
  }
  if (!(options.false_alarm_probability > 0 && options.false_alarm_probability < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DpTestOptions.false_alarm_probability must be in (0, 1), got ", options.false_alarm_probability));
  }
  return absl::OkStatus();
}

absl::Status ValidateHistogram(const Histogram& h, size_t buckets, const char* name, bool may_be_empty) {
  if (may_be_empty && h.counts.empty()) return absl::OkStatus();
  if (h.counts.size() != buckets) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram ", name, " has ", h.counts.size(), " buckets, expected ", buckets));
  }
  for (size_t b = 0; b < buckets; ++b) {
    if (h.counts[b] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram ", name, " has a negative count in bucket ", b));
    }
  }
  if (h.Total() == 0) return absl::InvalidArgumentError(absl::StrCat("histogram ", name, " is empty"));
  return absl::OkStatus();
}

std::string SideName(bool d) { return d ? "D" : "D'"; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------

absl::StatusOr<double> ClopperPearsonLower(int64_t successes, int64_t trials, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidateBoundArgs(successes, trials, alpha));
  if (successes == 0) return 0.0;
  // f(p) = P[Bin(n, p) >= k] increases from 0 (p = 0) to 1 (p = 1). Invariant: f(lo) <= alpha < f(hi).
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < kMaxBisections && hi - lo > kRelativeWidth * hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    VEIL_ASSIGN_OR_RETURN(const double tail, BinomialUpperTail(successes, trials, mid));
    if (tail <= alpha) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;  // f(lo) <= alpha: lo is at most the exact bound
}

absl::StatusOr<double> ClopperPearsonUpper(int64_t successes, int64_t trials, double alpha) {
  VEIL_RETURN_IF_ERROR(ValidateBoundArgs(successes, trials, alpha));
  if (successes == trials) return 1.0;
  // g(p) = P[Bin(n, p) <= k] decreases from 1 (p = 0) to 0 (p = 1). Invariant: g(lo) > alpha >= g(hi).
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < kMaxBisections && hi - lo > kRelativeWidth * hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    VEIL_ASSIGN_OR_RETURN(const double tail, BinomialLowerTail(successes, trials, mid));
    if (tail <= alpha) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;  // g(hi) <= alpha: hi is at least the exact bound
}

int64_t Histogram::Total() const { return std::accumulate(counts.begin(), counts.end(), int64_t{0}); }

std::string EventTest::ToString() const {
  const std::string first = SideName(d_first), second = SideName(!d_first);
  return absl::StrFormat("P[M(%s) in %s] >= %.6g (%d/%d) vs P[M(%s) in %s] <= %.6g (%d/%d)", first, event,
                         first_lower, first_count, first_total, second, event, second_upper, second_count,
                         second_total);
}

std::string DpTestReport::ToString() const {
  return absl::StrFormat(
      "%s: claimed (epsilon=%g, delta=%g); empirical lower bounds epsilon >= %.4f, delta >= %.3g at "
      "confidence 1 - %g over %d tests (per-bound alpha %.3g); worst event: %s",
      violation ? "VIOLATION" : "no violation found", claimed_epsilon, claimed_delta, epsilon_lower_bound,
      delta_lower_bound, false_alarm_probability, num_tests, per_bound_alpha, worst.ToString());
}

absl::StatusOr<DpTestReport> CheckHistograms(const Histogram& d, const Histogram& d_prime,
                                             const Histogram& selection_d, const Histogram& selection_d_prime,
                                             const DpTestOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateClaim(options));
  const size_t k = d.counts.size();
  if (k < 2) return absl::InvalidArgumentError(absl::StrCat("need at least 2 buckets, got ", k));
  VEIL_RETURN_IF_ERROR(ValidateHistogram(d, k, "D", false));
  VEIL_RETURN_IF_ERROR(ValidateHistogram(d_prime, k, "D'", false));
  if (selection_d.counts.empty() != selection_d_prime.counts.empty()) {
    return absl::InvalidArgumentError("give both selection histograms or neither");
  }
  VEIL_RETURN_IF_ERROR(ValidateHistogram(selection_d, k, "selection D", true));
  VEIL_RETURN_IF_ERROR(ValidateHistogram(selection_d_prime, k, "selection D'", true));
  const int64_t kb = static_cast<int64_t>(k);

  // The event family, fixed before looking at the test histograms.
  std::vector<Event> events;
  auto range = [](std::string name, int64_t first, int64_t last) {
    Event e;
    e.name = std::move(name);
    e.first = first;
    e.last = last;
    return e;
  };
  for (int64_t b = 0; b < kb; ++b) events.push_back(range(absl::StrCat("bucket ", b), b, b));
  if (options.ordered_outputs) {
    // {0..b} and {b..k-1} for 1 <= b <= k-2 (b = 0 and b = k-1 are single buckets, already listed).
    for (int64_t b = 1; b + 1 < kb; ++b) events.push_back(range(absl::StrCat("buckets <= ", b), 0, b));
    for (int64_t b = 1; b + 1 < kb; ++b) events.push_back(range(absl::StrCat("buckets >= ", b), b, kb - 1));
  }
  if (!selection_d.counts.empty()) {
    Event forward;
    forward.members = SelectEvent(selection_d, selection_d_prime, options.epsilon, options.delta);
    forward.name = DescribeMembers(forward.members);
    forward.test_d_prime_first = false;
    Event backward;
    backward.members = SelectEvent(selection_d_prime, selection_d, options.epsilon, options.delta);
    backward.name = DescribeMembers(backward.members);
    backward.test_d_first = false;
    events.push_back(std::move(forward));
    events.push_back(std::move(backward));
  }
  int64_t num_tests = 0;
  for (const Event& e : events) num_tests += int64_t{e.test_d_first} + int64_t{e.test_d_prime_first};

  DpTestReport report;
  report.claimed_epsilon = options.epsilon;
  report.claimed_delta = options.delta;
  report.num_tests = num_tests;
  report.false_alarm_probability = options.false_alarm_probability;
  report.per_bound_alpha = options.false_alarm_probability / (2.0 * static_cast<double>(num_tests));
  const double alpha = report.per_bound_alpha;
  const double scale = std::exp(options.epsilon);

  const std::vector<int64_t> sums_d = PrefixSums(d), sums_d_prime = PrefixSums(d_prime);
  const int64_t n_d = d.Total(), n_d_prime = d_prime.Total();
  bool have_worst = false;
  for (const Event& e : events) {
    const int64_t c_d = CountOf(e, d, sums_d), c_d_prime = CountOf(e, d_prime, sums_d_prime);
    for (const bool d_first : {true, false}) {
      if (d_first ? !e.test_d_first : !e.test_d_prime_first) continue;
      EventTest t;
      t.event = e.name;
      t.d_first = d_first;
      t.first_count = d_first ? c_d : c_d_prime;
      t.first_total = d_first ? n_d : n_d_prime;
      t.second_count = d_first ? c_d_prime : c_d;
      t.second_total = d_first ? n_d_prime : n_d;
      VEIL_ASSIGN_OR_RETURN(t.first_lower, ClopperPearsonLower(t.first_count, t.first_total, alpha));
      VEIL_ASSIGN_OR_RETURN(t.second_upper, ClopperPearsonUpper(t.second_count, t.second_total, alpha));
      t.epsilon_lower_bound =
          t.first_lower > options.delta ? std::log((t.first_lower - options.delta) / t.second_upper) : 0.0;
      t.epsilon_lower_bound = std::max(t.epsilon_lower_bound, 0.0);
      t.delta_lower_bound = t.first_lower - scale * t.second_upper;
      t.violated = t.first_lower > scale * t.second_upper + options.delta;
      report.violation = report.violation || t.violated;
      report.epsilon_lower_bound = std::max(report.epsilon_lower_bound, t.epsilon_lower_bound);
      report.delta_lower_bound = std::max(report.delta_lower_bound, t.delta_lower_bound);
      if (!have_worst || t.epsilon_lower_bound > report.worst.epsilon_lower_bound ||
          (t.epsilon_lower_bound == report.worst.epsilon_lower_bound &&
           t.delta_lower_bound > report.worst.delta_lower_bound)) {
        report.worst = std::move(t);
        have_worst = true;
      }
    }
  }
  return report;
}

absl::StatusOr<DpTestReport> TestNeighbours(const RunFn& run, int64_t num_buckets,
                                            const DpTestOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateClaim(options));
  if (num_buckets < 2 || num_buckets > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("num_buckets must be in [2, 2^20], got ", num_buckets));
  }
  if (options.samples_per_side < 1 || options.selection_samples_per_side < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("need samples_per_side >= 1 and selection_samples_per_side >= 0, got ",
                     options.samples_per_side, " and ", options.selection_samples_per_side));
  }
  // One independent deterministic stream per (phase, side): entropy = the seed (big-endian), nonce = phase
  // and side, so changing one phase's sample count never shifts another's stream.
  auto collect = [&](uint8_t phase, Side side, int64_t runs) -> absl::StatusOr<Histogram> {
    std::array<uint8_t, 8> entropy;
    for (int i = 0; i < 8; ++i) entropy[i] = static_cast<uint8_t>(options.seed >> (56 - 8 * i));
    const std::array<uint8_t, 2> nonce = {phase, static_cast<uint8_t>(side == Side::kD ? 0 : 1)};
    static constexpr char kPersonalization[] = "veil::dp::testing::TestNeighbours";
    crypto::testing::DeterministicRandom source(
        entropy, nonce,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPersonalization),
                                 sizeof(kPersonalization) - 1));
    RandomBits bits(source);
    Histogram h;
    h.counts.assign(static_cast<size_t>(num_buckets), 0);
    for (int64_t i = 0; i < runs; ++i) {
      VEIL_ASSIGN_OR_RETURN(const int64_t b, run(side, bits));
      if (b < 0 || b >= num_buckets) {
        return absl::InvalidArgumentError(
            absl::StrCat("the mechanism's bucket ", b, " is outside [0, ", num_buckets, ")"));
      }
      ++h.counts[static_cast<size_t>(b)];
    }
    if (!bits.ok()) return bits.status();
    return h;
  };
  Histogram selection_d, selection_d_prime;
  if (options.selection_samples_per_side > 0) {
    VEIL_ASSIGN_OR_RETURN(selection_d, collect(1, Side::kD, options.selection_samples_per_side));
    VEIL_ASSIGN_OR_RETURN(selection_d_prime, collect(1, Side::kDPrime, options.selection_samples_per_side));
  }
  VEIL_ASSIGN_OR_RETURN(const Histogram d, collect(2, Side::kD, options.samples_per_side));
  VEIL_ASSIGN_OR_RETURN(const Histogram d_prime, collect(2, Side::kDPrime, options.samples_per_side));
  return CheckHistograms(d, d_prime, selection_d, selection_d_prime, options);
}

int64_t IntegerBucket(int64_t value, int64_t lo, int64_t hi) { return std::clamp(value, lo, hi) - lo; }

int64_t RealBucket(double value, double lo, double hi, int64_t num_buckets) {
  if (std::isnan(value)) return num_buckets - 1;
  const double position = (value - lo) / (hi - lo) * static_cast<double>(num_buckets);
  if (!(position >= 0)) return 0;
  if (position >= static_cast<double>(num_buckets)) return num_buckets - 1;
  return std::min(static_cast<int64_t>(position), num_buckets - 1);
}

absl::StatusOr<table::Table> RemoveUnit(const table::Table& table, std::string_view unit_column,
                                        const table::Value& unit) {
  const std::optional<int> column = table.schema().FindField(unit_column);
  if (!column.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RemoveUnit: no column named '", std::string(unit_column), "'"));
  }
  if (std::holds_alternative<std::monostate>(unit)) {
    return absl::InvalidArgumentError("RemoveUnit: the unit must not be null");
  }
  std::vector<int64_t> keep;
  keep.reserve(static_cast<size_t>(table.num_rows()));
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    if (table.GetValue(row, *column) != unit) keep.push_back(row);
  }
  if (static_cast<int64_t>(keep.size()) == table.num_rows()) {
    // No personal data in the message: the unit's value is not printed.
    return absl::NotFoundError("RemoveUnit: no row belongs to the given unit");
  }
  return table.Take(keep);
}

}  // namespace veil::dp::testing
