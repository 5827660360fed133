#include "veil/dp/aggregation.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/bounds.h"
#include "veil/dp/calibration.h"
#include "veil/dp/partition_selection.h"
#include "veil/dp/quantile_tree.h"
#include "veil/dp/samplers.h"

namespace veil::dp {

std::string_view AggregateFunctionName(AggregateFunction function) {
  switch (function) {
    case AggregateFunction::kCountStar:
      return "COUNT(*)";
    case AggregateFunction::kCount:
      return "COUNT";
    case AggregateFunction::kCountDistinctUnits:
      return "COUNT(DISTINCT unit)";
    case AggregateFunction::kSum:
      return "SUM";
    case AggregateFunction::kAvg:
      return "AVG";
    case AggregateFunction::kVariance:
      return "VARIANCE";
    case AggregateFunction::kStddev:
      return "STDDEV";
    case AggregateFunction::kPercentileCont:
      return "PERCENTILE_CONT";
    case AggregateFunction::kApproxQuantiles:
      return "APPROX_QUANTILES";
  }
  return "?";
}

namespace internal {

// lookup3 (Bob Jenkins, 2006, public domain) as PostgreSQL's hash_bytes_extended uses it: three 32-bit lanes
// initialised with 0x9e3779b9 + length + 3923095, the 64-bit seed added to lanes a (high half) and b (low
// half) followed by one mix when it is not 0, 12-byte blocks read little-endian, the last 0..11 bytes added
// with the lowest byte of c left for the length (bytes 8..10 go to c's bits 8..31), a final mix, and the
// result (b << 32) | c.
namespace {

inline uint32_t Rot(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

// clang-format off
inline void Mix(uint32_t& a, uint32_t& b, uint32_t& c) {
  a -= c;  a ^= Rot(c, 4);  c += b;  // NOLINT(whitespace/newline)
  b -= a;  b ^= Rot(a, 6);  a += c;  // NOLINT
  c -= b;  c ^= Rot(b, 8);  b += a;  // NOLINT
  a -= c;  a ^= Rot(c, 16); c += b;  // NOLINT
  b -= a;  b ^= Rot(a, 19); a += c;  // NOLINT
  c -= b;  c ^= Rot(b, 4);  b += a;  // NOLINT
}

inline void Final(uint32_t& a, uint32_t& b, uint32_t& c) {
  c ^= b; c -= Rot(b, 14);  // NOLINT
  a ^= c; a -= Rot(c, 11);  // NOLINT
  b ^= a; b -= Rot(a, 25);  // NOLINT
  c ^= b; c -= Rot(b, 16);  // NOLINT
  a ^= c; a -= Rot(c, 4);   // NOLINT
  b ^= a; b -= Rot(a, 14);  // NOLINT
  c ^= b; c -= Rot(b, 24);  // NOLINT
}
// clang-format on

inline uint32_t Le32(const unsigned char* k) {
  return k[0] | (uint32_t{k[1]} << 8) | (uint32_t{k[2]} << 16) | (uint32_t{k[3]} << 24);
}

}  // namespace

uint64_t PgHashBytesExtended(std::string_view bytes, uint64_t seed) {
  const auto* k = reinterpret_cast<const unsigned char*>(bytes.data());
  uint32_t len = static_cast<uint32_t>(bytes.size());
  uint32_t a, b, c;
  a = b = c = 0x9e3779b9u + len + 3923095u;
  if (seed != 0) {
    a += static_cast<uint32_t>(seed >> 32);
    b += static_cast<uint32_t>(seed);
    Mix(a, b, c);
  }
  while (len >= 12) {
    a += Le32(k);
    b += Le32(k + 4);
    c += Le32(k + 8);
    Mix(a, b, c);
    k += 12;
    len -= 12;
  }
  switch (len) {
    case 11:
      c += uint32_t{k[10]} << 24;
      [[fallthrough]];
    case 10:
      c += uint32_t{k[9]} << 16;
      [[fallthrough]];
    case 9:
      c += uint32_t{k[8]} << 8;
      [[fallthrough]];
    case 8:
      b += uint32_t{k[7]} << 24;
      [[fallthrough]];
    case 7:
      b += uint32_t{k[6]} << 16;
      [[fallthrough]];
    case 6:
      b += uint32_t{k[5]} << 8;
      [[fallthrough]];
    case 5:
      b += k[4];
      [[fallthrough]];
    case 4:
      a += uint32_t{k[3]} << 24;
      [[fallthrough]];
    case 3:
      a += uint32_t{k[2]} << 16;
      [[fallthrough]];
    case 2:
      a += uint32_t{k[1]} << 8;
      [[fallthrough]];
    case 1:
      a += k[0];
      break;
    default:
      break;
  }
  Final(a, b, c);
  return (static_cast<uint64_t>(b) << 32) | c;
}

uint64_t PgHashFloat8Extended(double x, uint64_t seed) {
  if (x == 0) return seed;
  if (std::isnan(x)) x = std::numeric_limits<double>::quiet_NaN();
  char bytes[8];
  std::memcpy(bytes, &x, sizeof(bytes));
  return PgHashBytesExtended(std::string_view(bytes, sizeof(bytes)), seed);
}

uint64_t PgHashInt8Extended(int64_t v, uint64_t seed) {
  uint32_t lo = static_cast<uint32_t>(v);
  const uint32_t hi = static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32);
  lo ^= v >= 0 ? hi : ~hi;
  const unsigned char bytes[4] = {static_cast<unsigned char>(lo), static_cast<unsigned char>(lo >> 8),
                                  static_cast<unsigned char>(lo >> 16), static_cast<unsigned char>(lo >> 24)};
  return PgHashBytesExtended(std::string_view(reinterpret_cast<const char*>(bytes), 4), seed);
}

SeededLookup3::SeededLookup3(uint32_t length, uint64_t seed) {
  a_ = b_ = c_ = 0x9e3779b9u + length + 3923095u;
  if (seed != 0) {
    a_ += static_cast<uint32_t>(seed >> 32);
    b_ += static_cast<uint32_t>(seed);
    Mix(a_, b_, c_);
  }
}

uint64_t SeededLookup3::Hash8(uint64_t bytes) const {
  uint32_t a = a_ + static_cast<uint32_t>(bytes), b = b_ + static_cast<uint32_t>(bytes >> 32), c = c_;
  Final(a, b, c);
  return (static_cast<uint64_t>(b) << 32) | c;
}

uint64_t SeededLookup3::Hash4(uint32_t bytes) const {
  uint32_t a = a_ + bytes, b = b_, c = c_;
  Final(a, b, c);
  return (static_cast<uint64_t>(b) << 32) | c;
}

}  // namespace internal

double FixedPointGrid(const Bounds& bounds, int bits) {
  const double m = std::max(std::fabs(bounds.lo), std::fabs(bounds.hi));
  return m > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(m))) - bits) : 1.0;
}

namespace {

using table::Column;
using table::DataType;
using table::Table;
using table::Value;

constexpr int64_t kMaxBound = 1'000'000;  // L0 and Linf
constexpr int kMaxPrecisionBits = 20;     // fixed point: |quantised value| <= 2^20
constexpr int kMinPrecisionBits = 4;
constexpr int64_t kReferenceCount = 1000;  // ColumnError of data-dependent columns

absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

bool NeedsColumn(AggregateFunction f) {
  return f != AggregateFunction::kCountStar && f != AggregateFunction::kCountDistinctUnits;
}
bool IsCount(AggregateFunction f) {
  return f == AggregateFunction::kCountStar || f == AggregateFunction::kCount ||
         f == AggregateFunction::kCountDistinctUnits;
}
bool IsQuantile(AggregateFunction f) {
  return f == AggregateFunction::kPercentileCont || f == AggregateFunction::kApproxQuantiles;
}

std::string AggregateName(const Aggregate& a) {
  if (!a.name.empty()) return a.name;
  switch (a.function) {
    case AggregateFunction::kCountStar:
      return "COUNT(*)";
    case AggregateFunction::kCountDistinctUnits:
      return "COUNT(DISTINCT unit)";
    case AggregateFunction::kPercentileCont:
      return absl::StrCat("PERCENTILE_CONT(", a.column, ", ", a.percentile, ")");
    case AggregateFunction::kApproxQuantiles:
      return absl::StrCat("APPROX_QUANTILES(", a.column, ", ", a.num_quantiles, ")");
    default:
      return absl::StrCat(std::string(AggregateFunctionName(a.function)), "(", a.column, ")");
  }
}

// ---------------------------------------------------------------------------------------------------------
// The compiled plan: budget split, components and their noise, all from the plan alone.

// One noisy integer sum per group.
enum class CompKind {
  kRows,         // +1 per kept row
  kNonNull,      // +1 per kept row whose value is not NULL (nor NaN)
  kUnits,        // +1 per kept (unit, group) cell
  kSum,          // round(clamp(x) / g), g = 2^(ceil(log2 max(|lo|, |hi|)) - bits)
  kNormSum,      // round(u 2^bits), u = (clamp(x) - mid) / half in [-1, 1]
  kNormSquares,  // round((2 u^2 - 1) 2^bits) in [-2^bits, 2^bits]
};

struct Component {
  CompKind kind = CompKind::kRows;
  int aggregate = -1;  // index in plan.aggregates
  std::string name;
  int bits = 0;                    // precision of kSum / kNormSum / kNormSquares
  int64_t group_sensitivity = 1;   // Linf * max |per-row value| in integer units
  double epsilon = 0;              // kLaplace
  double rho = 0;                  // kGaussian
  double delta = 0;                // kGaussian: share of delta used for the conversion
  double scale = 0;                // discrete Laplace scale t, or discrete Gaussian sigma, in integer units
  double alpha = kDefaultCiAlpha;  // the failure probability of this component's interval
  double ci_half_width = 0;        // in integer units
  double stddev = 0;               // in integer units
};

struct CompiledAggregate {
  std::string name;
  bool auto_bounds = false;
  double bounds_epsilon = 0;  // automatic bounds (pure, discrete Laplace)
  std::vector<int> components;
  NodeNoise tree_noise;  // quantiles
  double tree_stddev = 0;
};

struct CompiledPlan {
  std::vector<Component> components;
  std::vector<CompiledAggregate> aggregates;
  bool private_selection = false;
  std::optional<PartitionSelector> selector;
  QueryCost cost;
};

// Double key values as the engine groups them (-0 as +0, every NaN as the quiet NaN), for matching keys.
std::string CanonicalKeyText(const std::vector<Value>& key) {
  std::string text;
  for (const Value& v : key) {
    Value canonical = v;
    if (const double* x = std::get_if<double>(&v)) {
      canonical = *x == 0 ? 0.0 : (std::isnan(*x) ? std::numeric_limits<double>::quiet_NaN() : *x);
    }
    absl::StrAppend(&text, v.index(), ":", table::FormatValue(canonical), "\x1f");
  }
  return text;
}

absl::Status ValidatePlanImpl(const QueryPlan& plan) {
  if (plan.privacy_unit_column.empty()) return Invalid("privacy_unit_column must be set");
  if (plan.aggregates.empty()) return Invalid("a DP query needs at least one aggregate");
  if (plan.aggregates.size() > 100) return Invalid("a DP query may have at most 100 aggregates");
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(plan.epsilon, "epsilon"));
  VEIL_RETURN_IF_ERROR(ValidateDelta(plan.delta, "delta"));
  if (plan.max_groups_contributed < 1 || plan.max_groups_contributed > kMaxBound) {
    return Invalid(absl::StrCat("max_groups_contributed must be in [1, ", kMaxBound, "], got ",
                                plan.max_groups_contributed));
  }
  if (plan.max_rows_per_group < 1 || plan.max_rows_per_group > kMaxBound) {
    return Invalid(
        absl::StrCat("max_rows_per_group must be in [1, ", kMaxBound, "], got ", plan.max_rows_per_group));
  }
  if (plan.noise == NoiseKind::kGaussian && plan.delta <= 0) {
    return Invalid("delta must be > 0 for Gaussian noise");
  }
  const bool private_selection = !plan.group_by.empty() && !plan.public_groups.has_value();
  if (private_selection && plan.delta <= 0) {
    return Invalid(
        "delta must be > 0 for private partition selection (GROUP BY without public groups); give delta or "
        "list the public groups");
  }
  if (!std::isfinite(plan.selection_budget_weight) || plan.selection_budget_weight <= 0) {
    return Invalid("selection_budget_weight must be finite and > 0");
  }
  if (!(plan.auto_bounds_budget_fraction > 0 && plan.auto_bounds_budget_fraction < 1)) {
    return Invalid("auto_bounds_budget_fraction must be in (0, 1)");
  }
  if (!(plan.confidence_level > 0 && plan.confidence_level < 1)) {
    return Invalid(absl::StrCat("confidence_level must be in (0, 1), got ", plan.confidence_level));
  }
  if (plan.min_units_per_group < 1) {
    return Invalid(absl::StrCat("min_units_per_group must be >= 1, got ", plan.min_units_per_group));
  }
  for (size_t i = 0; i < plan.group_by.size(); ++i) {
    const GroupBy& g = plan.group_by[i];
    if (g.column.empty()) return Invalid(absl::StrCat("group_by[", i, "] has no column"));
    for (size_t j = 0; j < i; ++j) {
      if (plan.group_by[j].column == g.column) {
        return Invalid(absl::StrCat("group_by lists column ", g.column, " twice"));
      }
    }
    for (size_t j = 0; j < g.bucket_boundaries.size(); ++j) {
      if (!std::isfinite(g.bucket_boundaries[j]) ||
          (j > 0 && !(g.bucket_boundaries[j] > g.bucket_boundaries[j - 1]))) {
        return Invalid(
            absl::StrCat("bucket boundaries of ", g.column, " must be finite and strictly increasing"));
      }
    }
  }
  bool has_quantiles = false;
  for (size_t i = 0; i < plan.aggregates.size(); ++i) {
    const Aggregate& a = plan.aggregates[i];
    const std::string name = AggregateName(a);
    if (NeedsColumn(a.function) && a.column.empty()) return Invalid(absl::StrCat(name, " needs a column"));
    if (!NeedsColumn(a.function) && !a.column.empty()) {
      return Invalid(absl::StrCat(std::string(AggregateFunctionName(a.function)), " takes no column"));
    }
    if (!std::isfinite(a.budget_weight) || a.budget_weight <= 0) {
      return Invalid(absl::StrCat(name, ": budget_weight must be finite and > 0"));
    }
    if (!IsCount(a.function) && a.bounds.has_value()) {
      if (!std::isfinite(a.bounds->lo) || !std::isfinite(a.bounds->hi) || a.bounds->lo > a.bounds->hi) {
        return Invalid(absl::StrCat(name, ": bounds must be finite with lo <= hi"));
      }
      if (std::max(std::fabs(a.bounds->lo), std::fabs(a.bounds->hi)) > 1e300) {
        return Invalid(absl::StrCat(name, ": bounds are too large"));
      }
      if (IsQuantile(a.function) && !(a.bounds->lo < a.bounds->hi)) {
        return Invalid(absl::StrCat(name, ": quantile bounds need lo < hi"));
      }
      // A SUM's fixed-point grid is 2^(ceil(log2 max(|lo|, |hi|)) - bits) with bits <= 20: below 2^-1000 it
      // (or its inverse) would leave the normal range and the integer conversion would be undefined.
      const double m = std::max(std::fabs(a.bounds->lo), std::fabs(a.bounds->hi));
      if (m > 0 && m < std::ldexp(1.0, -1000)) {
        return Invalid(
            absl::StrCat(name, ": bounds are too small (max(|lo|, |hi|) must be 0 or >= 2^-1000)"));
      }
      if (IsQuantile(a.function)) {
        // The tree's leaves must have a positive finite width over these bounds.
        VEIL_RETURN_IF_ERROR(QuantileTreeShape::Create(*a.bounds, plan.quantile_tree).status());
      }
    }
    if (a.function == AggregateFunction::kPercentileCont && !(a.percentile >= 0 && a.percentile <= 1)) {
      return Invalid(absl::StrCat(name, ": percentile must be in [0, 1], got ", a.percentile));
    }
    if (a.function == AggregateFunction::kApproxQuantiles &&
        (a.num_quantiles < 1 || a.num_quantiles > 1000)) {
      return Invalid(absl::StrCat(name, ": number of quantiles must be in [1, 1000], got ", a.num_quantiles));
    }
    if (IsQuantile(a.function)) has_quantiles = true;
  }
  if (has_quantiles) {
    VEIL_RETURN_IF_ERROR(QuantileTreeShape::Create(Bounds{0, 1}, plan.quantile_tree).status());
  }
  if (plan.public_groups.has_value()) {
    if (plan.group_by.empty()) return Invalid("public_groups needs GROUP BY columns");
    if (plan.public_groups->size() > 10'000'000) return Invalid("at most 10,000,000 public groups");
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < plan.public_groups->size(); ++i) {
      const auto& key = (*plan.public_groups)[i];
      if (key.size() != plan.group_by.size()) {
        return Invalid(absl::StrCat("public group ", i, " has ", key.size(), " values, expected ",
                                    plan.group_by.size()));
      }
      // Doubles compared as the engine groups them: -0 equals 0, every NaN equals every other.
      if (!seen.insert(CanonicalKeyText(key)).second)
        return Invalid(absl::StrCat("public group ", i, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

// The L0 that the noise is calibrated to: max_groups_contributed, or the number of public groups when
// fewer (rows with other keys are dropped before bounding, so no unit can contribute to more groups than
// are listed). At least 1 (an empty list of public groups releases nothing but still adds noise to nothing).
int64_t EffectiveL0(const QueryPlan& plan) {
  int64_t l0 = plan.max_groups_contributed;
  if (plan.public_groups.has_value()) {
    l0 = std::min<int64_t>(l0, std::max<int64_t>(1, static_cast<int64_t>(plan.public_groups->size())));
  }
  return l0;
}

// The precision bits of a fixed-point sum component whose per-row magnitude is at most 2^bits in integer
// units: the largest bits <= 20 that keeps the noise within the samplers' ranges.
absl::StatusOr<int> PrecisionBits(const QueryPlan& plan, double epsilon, double rho,
                                  const std::string& name) {
  const double l0 = static_cast<double>(EffectiveL0(plan));
  const double linf = static_cast<double>(plan.max_rows_per_group);
  double room;  // log2 of the largest allowed 2^bits
  if (plan.noise == NoiseKind::kLaplace) {
    room = std::floor(std::log2(std::ldexp(epsilon, 47) / (l0 * linf)));  // t = L0 Linf 2^bits / eps <= 2^47
  } else {
    room =
        std::floor(std::log2(std::ldexp(std::sqrt(2 * rho), 23) / (std::sqrt(l0) * linf)));  // sigma <= 2^23
  }
  const int bits = static_cast<int>(std::min<double>(kMaxPrecisionBits, room));
  if (!(room >= kMinPrecisionBits)) {
    return Invalid(absl::StrCat(name, ": the noise would be too large (epsilon too small for ",
                                "max_groups_contributed * max_rows_per_group)"));
  }
  return bits;
}

absl::StatusOr<CompiledPlan> Compile(const QueryPlan& plan) {
  VEIL_RETURN_IF_ERROR(ValidatePlanImpl(plan));
  CompiledPlan cp;
  cp.private_selection = !plan.group_by.empty() && !plan.public_groups.has_value();
  const int n = static_cast<int>(plan.aggregates.size());
  const double alpha = 1 - plan.confidence_level;
  const bool gaussian = plan.noise == NoiseKind::kGaussian;

  // Top-level split: one part per aggregate, plus partition selection.
  std::vector<double> eps_w, delta_w;
  for (const Aggregate& a : plan.aggregates) {
    eps_w.push_back(a.budget_weight);
    delta_w.push_back(gaussian ? a.budget_weight : 0.0);
  }
  if (cp.private_selection) {
    eps_w.push_back(plan.selection_budget_weight);
    // Laplace: all of delta to selection; Gaussian: half to selection, half to the aggregations.
    double agg_delta_weight = 0;
    for (int i = 0; i < n; ++i) agg_delta_weight += delta_w[i];
    delta_w.push_back(gaussian ? agg_delta_weight : 1.0);
  }
  const bool uses_delta = cp.private_selection || gaussian;
  VEIL_ASSIGN_OR_RETURN(const ApproxDp total, ApproxDp::Create(plan.epsilon, uses_delta ? plan.delta : 0.0));
  std::vector<ApproxDp> parts;
  if (uses_delta) {
    VEIL_ASSIGN_OR_RETURN(parts, SplitBudget(total, eps_w, delta_w));
  } else {
    VEIL_ASSIGN_OR_RETURN(parts, SplitBudget(total, eps_w, std::vector<double>(eps_w.size(), 0.0)));
  }

  QueryAccountant accountant;
  const double f = plan.auto_bounds_budget_fraction;
  // Gaussian: pool the aggregations' (epsilon, delta) into one rho, shared in proportion to epsilon.
  double gauss_eps = 0, gauss_delta = 0, rho_total = 0;
  std::vector<double> agg_eps(n);  // epsilon left for the aggregate's noise after automatic bounds
  cp.aggregates.resize(n);
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    CompiledAggregate& ca = cp.aggregates[i];
    ca.name = AggregateName(a);
    ca.auto_bounds = !IsCount(a.function) && !a.bounds.has_value();
    agg_eps[i] = parts[i].epsilon;
    if (ca.auto_bounds) {
      // bounds + rest must not exceed the share (x * f + x * (1 - f) can be one ulp above x): the rest is
      // x - bounds, rounded toward 0.
      ca.bounds_epsilon = parts[i].epsilon * f;
      agg_eps[i] = parts[i].epsilon - ca.bounds_epsilon;
      while (agg_eps[i] + ca.bounds_epsilon > parts[i].epsilon) agg_eps[i] = std::nextafter(agg_eps[i], 0.0);
    }
    gauss_eps += agg_eps[i];
    gauss_delta += parts[i].delta;
  }
  if (gaussian) {
    VEIL_ASSIGN_OR_RETURN(rho_total, ApproxDpToZcdp(ApproxDp{gauss_eps, gauss_delta}));
  }
  const int64_t l0 = EffectiveL0(plan);
  const int64_t linf = plan.max_rows_per_group;

  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    CompiledAggregate& ca = cp.aggregates[i];
    if (ca.auto_bounds) {
      VEIL_RETURN_IF_ERROR(
          accountant.AddLaplace(absl::StrCat(ca.name, " automatic bounds"), ca.bounds_epsilon));
      const double t = static_cast<double>(l0 * linf) / ca.bounds_epsilon;
      if (t > std::ldexp(1.0, 47))
        return Invalid(absl::StrCat(ca.name, ": automatic bounds epsilon too small"));
      cp.cost.mechanisms.push_back(
          absl::StrFormat("%s automatic bounds: log-histogram, discrete Laplace scale %.6g, "
                          "threshold %d",
                          ca.name, t, LogHistogramThreshold(t)));
    }
    const double share_eps = agg_eps[i];
    const double share_rho = gaussian ? rho_total * (agg_eps[i] / gauss_eps) : 0.0;
    const double share_delta = gaussian ? gauss_delta * (agg_eps[i] / gauss_eps) : 0.0;
    if (IsQuantile(a.function)) {
      const int h = plan.quantile_tree.height;
      if (!gaussian) {
        VEIL_RETURN_IF_ERROR(accountant.AddLaplace(absl::StrCat(ca.name, " quantile tree"), share_eps));
        ca.tree_noise = {NoiseKind::kLaplace, static_cast<double>(l0 * linf * h) / share_eps};
        VEIL_ASSIGN_OR_RETURN(ca.tree_stddev, DiscreteLaplaceStddev(ca.tree_noise.scale));
      } else {
        VEIL_RETURN_IF_ERROR(
            accountant.AddGaussian(absl::StrCat(ca.name, " quantile tree"), share_rho, share_delta));
        ca.tree_noise = {
            NoiseKind::kGaussian,
            static_cast<double>(linf) * std::sqrt(static_cast<double>(l0 * h)) / std::sqrt(2 * share_rho)};
        VEIL_ASSIGN_OR_RETURN(ca.tree_stddev, DiscreteGaussianStddev(ca.tree_noise.scale));
      }
      if (ca.tree_noise.scale > (gaussian ? std::ldexp(1.0, 23) : std::ldexp(1.0, 47))) {
        return Invalid(absl::StrCat(ca.name, ": the quantile tree noise would be too large"));
      }
      cp.cost.mechanisms.push_back(
          absl::StrFormat("%s: quantile tree (branching %d, height %d), discrete %s noise %.6g per node",
                          ca.name, plan.quantile_tree.branching_factor, h,
                          gaussian ? "Gaussian sigma" : "Laplace scale", ca.tree_noise.scale));
      continue;
    }
    std::vector<std::pair<CompKind, std::string>> kinds;
    switch (a.function) {
      case AggregateFunction::kCountStar:
        kinds = {{CompKind::kRows, ""}};
        break;
      case AggregateFunction::kCount:
        kinds = {{CompKind::kNonNull, ""}};
        break;
      case AggregateFunction::kCountDistinctUnits:
        kinds = {{CompKind::kUnits, ""}};
        break;
      case AggregateFunction::kSum:
        kinds = {{CompKind::kSum, ""}};
        break;
      case AggregateFunction::kAvg:
        kinds = {{CompKind::kNonNull, " count"}, {CompKind::kNormSum, " sum"}};
        break;
      default:  // variance, stddev
        kinds = {{CompKind::kNonNull, " count"},
                 {CompKind::kNormSum, " sum"},
                 {CompKind::kNormSquares, " squares"}};
        break;
    }
    const double parts_n = static_cast<double>(kinds.size());
    for (const auto& [kind, suffix] : kinds) {
      Component c;
      c.kind = kind;
      c.aggregate = i;
      c.name = absl::StrCat(ca.name, suffix);
      c.epsilon = share_eps / parts_n;
      c.rho = share_rho / parts_n;
      c.delta = share_delta / parts_n;
      c.alpha = alpha / parts_n;  // Bonferroni over the parts of one output
      if (kind == CompKind::kRows || kind == CompKind::kNonNull) {
        c.group_sensitivity = linf;
      } else if (kind == CompKind::kUnits) {
        c.group_sensitivity = 1;
      } else {
        VEIL_ASSIGN_OR_RETURN(c.bits, PrecisionBits(plan, c.epsilon, c.rho, ca.name));
        c.group_sensitivity = linf << c.bits;
      }
      const double gs = static_cast<double>(c.group_sensitivity);
      if (!gaussian) {
        c.scale = static_cast<double>(l0) * gs / c.epsilon;
        if (c.scale > std::ldexp(1.0, 47))
          return Invalid(absl::StrCat(c.name, ": the noise would be too large"));
        VEIL_RETURN_IF_ERROR(accountant.AddLaplace(c.name, c.epsilon));
        VEIL_ASSIGN_OR_RETURN(c.stddev, DiscreteLaplaceStddev(c.scale));
        VEIL_ASSIGN_OR_RETURN(const int64_t hw, DiscreteLaplaceCiHalfWidth(c.scale, c.alpha));
        c.ci_half_width = static_cast<double>(hw);
      } else {
        c.scale = std::sqrt(static_cast<double>(l0)) * gs / std::sqrt(2 * c.rho);
        if (c.scale > std::ldexp(1.0, 23) || c.scale < std::ldexp(1.0, -20)) {
          return Invalid(absl::StrCat(c.name, ": the noise is outside the sampler's range"));
        }
        VEIL_RETURN_IF_ERROR(accountant.AddGaussian(c.name, c.rho, c.delta));
        VEIL_ASSIGN_OR_RETURN(c.stddev, DiscreteGaussianStddev(c.scale));
        VEIL_ASSIGN_OR_RETURN(const int64_t hw, DiscreteGaussianCiHalfWidth(c.scale, c.alpha));
        c.ci_half_width = static_cast<double>(hw);
      }
      cp.cost.mechanisms.push_back(absl::StrFormat(
          "%s: discrete %s %.6g on an integer sum (per-group sensitivity %d%s)", c.name,
          gaussian ? "Gaussian sigma" : "Laplace scale", c.scale, c.group_sensitivity,
          c.bits > 0 ? absl::StrCat(" in units of 2^-", c.bits, " of the bound") : std::string()));
      ca.components.push_back(static_cast<int>(cp.components.size()));
      cp.components.push_back(std::move(c));
    }
  }
  if (cp.private_selection) {
    const ApproxDp sel = parts.back();
    VEIL_ASSIGN_OR_RETURN(PartitionSelector selector,
                          PartitionSelector::Create(sel.epsilon, sel.delta, l0, plan.min_units_per_group));
    VEIL_RETURN_IF_ERROR(accountant.AddApproxDp("partition selection", sel));
    cp.cost.selection_units_for_half = selector.UnitsForProbability(0.5);
    cp.cost.selection_units_for_99 = selector.UnitsForProbability(0.99);
    cp.cost.mechanisms.push_back(absl::StrFormat(
        "partition selection: near-truncated geometric (epsilon %.6g, delta %.3g per group), a group with %d "
        "units is kept with probability 1/2, with %d units 0.99",
        selector.per_group_epsilon(), selector.per_group_delta(), cp.cost.selection_units_for_half,
        cp.cost.selection_units_for_99));
    cp.selector = std::move(selector);
  }
  VEIL_ASSIGN_OR_RETURN(cp.cost.privacy, accountant.Total());

  // Expected errors.
  VEIL_ASSIGN_OR_RETURN(const double z_level, NormalQuantile(1 - alpha / 2));
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    const CompiledAggregate& ca = cp.aggregates[i];
    ColumnError e;
    e.name = ca.name;
    if (!IsCount(a.function)) e.bounds = a.bounds;
    if (IsQuantile(a.function)) {
      e.data_dependent = true;
      e.reference_count = kReferenceCount;
      e.stddev = ca.tree_stddev;
      e.half_width = z_level * ca.tree_stddev;
      e.note = absl::StrFormat(
          "noise stddev %.4g per tree node; a quantile's rank error is about stddev * sqrt(%d) values out of "
          "the "
          "group's count (e.g. %.2g%% of the ranks at %d values)",
          ca.tree_stddev, plan.quantile_tree.height * plan.quantile_tree.branching_factor / 2,
          100 * ca.tree_stddev *
              std::sqrt(plan.quantile_tree.height * plan.quantile_tree.branching_factor / 2.0) /
              kReferenceCount,
          kReferenceCount);
    } else {
      const Component& first = cp.components[ca.components[0]];
      if (IsCount(a.function)) {
        e.stddev = first.stddev;
        e.half_width = first.ci_half_width;
      } else if (a.function == AggregateFunction::kSum) {
        if (a.bounds.has_value()) {
          const double g = FixedPointGrid(*a.bounds, first.bits);
          e.stddev = first.stddev * g;
          e.half_width = first.ci_half_width * g;
        } else {
          e.data_dependent = true;
          e.note = absl::StrFormat("noise stddev is %.4g times max(|lo|, |hi|) of the automatic bounds",
                                   first.stddev / std::ldexp(1.0, first.bits));
          e.stddev = first.stddev / std::ldexp(1.0, first.bits);
        }
      } else {
        // AVG / VARIANCE / STDDEV: at a group of kReferenceCount values, the normalised mean's noise is about
        // sqrt(sd_sum^2 + sd_count^2) / count (in units of the bounds' half-width).
        const Component& sum = cp.components[ca.components[1]];
        const double sd_u =
            std::hypot(sum.stddev / std::ldexp(1.0, sum.bits), first.stddev) / kReferenceCount;
        const double half = a.bounds.has_value() ? (a.bounds->hi - a.bounds->lo) / 2 : 1.0;
        e.data_dependent = true;
        e.reference_count = kReferenceCount;
        double sd = sd_u * half;
        if (a.function != AggregateFunction::kAvg) {
          // Var = half^2 (E[u^2] - E[u]^2): the squares' noise dominates; E[u]^2's error is at most 2 sd_u.
          const Component& sq = cp.components[ca.components[2]];
          const double sd_w =
              std::hypot(sq.stddev / std::ldexp(1.0, sq.bits), first.stddev) / kReferenceCount / 2;
          sd = half * half * std::hypot(sd_w, 2 * sd_u);
          if (a.function == AggregateFunction::kStddev) sd = std::sqrt(sd);
        }
        e.stddev = sd;
        e.half_width = z_level * sd;
        e.note =
            absl::StrFormat("at a group of %d values%s; the error shrinks as 1/count", kReferenceCount,
                            a.bounds.has_value() ? "" : ", in units of the automatic bounds' half-width");
      }
    }
    cp.cost.errors.push_back(std::move(e));
  }
  return cp;
}

// ---------------------------------------------------------------------------------------------------------
// Threads.

int ThreadsFor(int64_t rows) { return rows >= 200'000 ? 2 : 1; }

void RunThreads(int threads, const std::function<void(int)>& fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
  fn(0);
  for (auto& th : pool) th.join();
}

// The selected rows: rows[i] for i in [0, count), or i itself when rows is null.
struct RowSet {
  const int64_t* rows = nullptr;
  int64_t count = 0;
  int64_t Row(int64_t i) const { return rows == nullptr ? i : rows[i]; }
};

absl::StatusOr<RowSet> MakeRowSet(const Table& t, std::optional<std::span<const int64_t>> selected) {
  RowSet rs;
  // Row, unit and group ids are int32: tables of 2^31 rows or more are refused up front (the table's size,
  // not its content, decides).
  if (t.num_rows() >= (int64_t{1} << 31) - 1)
    return Invalid("tables of 2^31 - 1 rows or more are not supported");
  if (!selected.has_value()) {
    rs.count = t.num_rows();
    return rs;
  }
  rs.rows = selected->data();
  rs.count = static_cast<int64_t>(selected->size());
  for (int64_t i = 0; i < rs.count; ++i) {
    const int64_t r = rs.rows[i];
    if (r < 0 || r >= t.num_rows()) {
      return Invalid(
          absl::StrCat("selected_rows[", i, "] = ", r, " is outside the table (", t.num_rows(), " rows)"));
    }
    if (i > 0 && r <= rs.rows[i - 1]) return Invalid("selected_rows must be strictly increasing");
  }
  return rs;
}

// ---------------------------------------------------------------------------------------------------------
// Reading values.

// The numeric value of a row of an int64, double or bool column, or nullopt for NULL and NaN.
inline std::optional<double> NumericValue(const Column& c, int64_t row) {
  if (c.IsNull(row)) return std::nullopt;
  switch (c.type()) {
    case DataType::kInt64:
      return static_cast<double>(c.GetInt64(row));
    case DataType::kDouble: {
      const double v = c.GetDouble(row);
      if (std::isnan(v)) return std::nullopt;
      return v;
    }
    case DataType::kBool:
      return c.GetBool(row) ? 1.0 : 0.0;
    default:
      return std::nullopt;
  }
}

// The text of a value for the bounding hash: FormatValue, "\N" for NULL.
std::string HashText(const Column& c, int64_t row) {
  if (c.IsNull(row)) return "\\N";
  if (c.type() == DataType::kString) return std::string(c.GetString(row));
  return c.FormatValue(row);
}
std::string HashText(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return "\\N";
  return table::FormatValue(v);
}

// SQL order of values of one column (NULL first).
bool ValueLess(const Value& a, const Value& b) {
  if (a.index() != b.index()) return a.index() < b.index();
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, std::monostate>) {
          return false;
        } else if constexpr (std::is_same_v<T, table::Date>) {
          return x.days < y.days;
        } else if constexpr (std::is_same_v<T, table::Timestamp>) {
          return x.micros < y.micros;
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);  // NaN last
          return x < y;
        } else {
          return x < y;
        }
      },
      a);
}

bool KeyLess(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (ValueLess(a[i], b[i])) return true;
    if (ValueLess(b[i], a[i])) return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Group keys: row -> dense group id.

// The dense codes of one GROUP BY column over the selected rows: code 0 is NULL, values[code] its value.
struct ColumnCodes {
  std::vector<int32_t> codes;  // per table row (only selected rows are set)
  std::vector<Value> values;
  absl::flat_hash_map<uint64_t, int32_t> index;  // value bits -> code (non-string columns)
  const Column* column = nullptr;
  const GroupBy* spec = nullptr;
};

uint64_t DoubleBits(double v) {
  if (v == 0) v = 0;  // -0 and +0 group together
  if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

// The code key of a non-NULL row (bucket, or value bits) for non-string columns.
uint64_t RowKeyBits(const Column& c, const GroupBy& g, int64_t row) {
  if (!g.bucket_boundaries.empty()) {
    const double v = c.type() == DataType::kInt64 ? static_cast<double>(c.GetInt64(row)) : c.GetDouble(row);
    return static_cast<uint64_t>(std::upper_bound(g.bucket_boundaries.begin(), g.bucket_boundaries.end(), v) -
                                 g.bucket_boundaries.begin());
  }
  switch (c.type()) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      return static_cast<uint64_t>(c.GetInt64(row));
    case DataType::kDouble:
      return DoubleBits(c.GetDouble(row));
    case DataType::kBool:
      return c.GetBool(row) ? 1 : 0;
    case DataType::kDate:
      return static_cast<uint64_t>(static_cast<int64_t>(c.GetDate(row).days));
    default:
      return 0;
  }
}

bool RowIsNullKey(const Column& c, const GroupBy& g, int64_t row) {
  if (c.IsNull(row)) return true;
  if (!g.bucket_boundaries.empty() && c.type() == DataType::kDouble && std::isnan(c.GetDouble(row)))
    return true;
  return false;
}

// The released key of a row: canonical, so that it does not depend on which row of the group comes first
// (-0 and +0 group together and are released as +0; every NaN as the quiet NaN).
Value KeyValueOf(const Column& c, const GroupBy& g, int64_t row) {
  if (RowIsNullKey(c, g, row)) return std::monostate();
  if (!g.bucket_boundaries.empty()) return static_cast<int64_t>(RowKeyBits(c, g, row));
  if (c.type() == DataType::kDouble) {
    const double x = c.GetDouble(row);
    return x == 0 ? 0.0 : (std::isnan(x) ? std::numeric_limits<double>::quiet_NaN() : x);
  }
  return c.GetValue(row);
}

// The key bits of a public key value, or nullopt if it has the wrong type. NULL handled by the caller.
std::optional<uint64_t> ValueKeyBits(const Column& c, const GroupBy& g, const Value& v) {
  if (!g.bucket_boundaries.empty()) {
    if (!std::holds_alternative<int64_t>(v)) return std::nullopt;
    return static_cast<uint64_t>(std::get<int64_t>(v));
  }
  switch (c.type()) {
    case DataType::kInt64:
      if (!std::holds_alternative<int64_t>(v)) return std::nullopt;
      return static_cast<uint64_t>(std::get<int64_t>(v));
    case DataType::kTimestamp:
      if (!std::holds_alternative<table::Timestamp>(v)) return std::nullopt;
      return static_cast<uint64_t>(std::get<table::Timestamp>(v).micros);
    case DataType::kDouble:
      if (!std::holds_alternative<double>(v)) return std::nullopt;
      return DoubleBits(std::get<double>(v));
    case DataType::kBool:
      if (!std::holds_alternative<bool>(v)) return std::nullopt;
      return std::get<bool>(v) ? 1 : 0;
    case DataType::kDate:
      if (!std::holds_alternative<table::Date>(v)) return std::nullopt;
      return static_cast<uint64_t>(static_cast<int64_t>(std::get<table::Date>(v).days));
    default:
      return std::nullopt;
  }
}

class GroupIndex {
 public:
  int32_t num_groups() const { return static_cast<int32_t>(keys_.size()); }
  const std::vector<Value>& key(int32_t gid) const { return keys_[gid]; }
  // The group of a row, or -1 if its key is not a public group.
  int32_t Gid(int64_t row) const {
    if (row_gid_ != nullptr) return row_gid_[row];
    if (codes_ != nullptr) return code_to_gid_[codes_[row] + 1];
    return 0;
  }
  // How Gid reads (for loops specialised on it): per-row gids, string codes through code_to_gid, or the one
  // group of a global aggregate.
  enum class Source { kRowGid, kCodes, kSingle };
  Source source() const {
    return row_gid_ != nullptr ? Source::kRowGid : (codes_ != nullptr ? Source::kCodes : Source::kSingle);
  }
  const int32_t* row_gid() const { return row_gid_; }
  const int32_t* codes() const { return codes_; }
  const int32_t* code_to_gid() const { return code_to_gid_.data(); }
  // gids sorted by key (SQL order).
  std::vector<int32_t> SortedGids(const std::vector<int32_t>& gids) const {
    std::vector<int32_t> out = gids;
    std::sort(out.begin(), out.end(), [&](int32_t a, int32_t b) { return KeyLess(keys_[a], keys_[b]); });
    return out;
  }
  // The rank of each gid in key order (for tie-breaks).
  const std::vector<uint32_t>& order_rank() const { return order_rank_; }
  const std::vector<int32_t>& public_gids() const { return public_gids_; }
  bool is_public() const { return is_public_; }

  static absl::StatusOr<GroupIndex> Build(const Table& t, const QueryPlan& plan, const RowSet& rs);

 private:
  std::vector<std::vector<Value>> keys_;
  const int32_t* codes_ = nullptr;  // string column codes (-1 = NULL), with code_to_gid_[code + 1]
  std::vector<int32_t> code_to_gid_;
  const int32_t* row_gid_ = nullptr;
  std::vector<int32_t> owned_row_gid_;
  std::vector<uint32_t> order_rank_;
  std::vector<int32_t> public_gids_;
  bool is_public_ = false;
};

absl::StatusOr<GroupIndex> GroupIndex::Build(const Table& t, const QueryPlan& plan, const RowSet& rs) {
  GroupIndex gi;
  gi.is_public_ = plan.public_groups.has_value();
  if (plan.group_by.empty()) {
    gi.keys_.push_back({});
    gi.order_rank_ = {0};
    gi.public_gids_ = {0};
    return gi;
  }
  std::vector<const Column*> cols;
  for (const GroupBy& g : plan.group_by) {
    const Column* c = t.FindColumn(g.column);
    if (c == nullptr) return Invalid(absl::StrCat("unknown GROUP BY column ", g.column));
    if (!g.bucket_boundaries.empty() && c->type() != DataType::kInt64 && c->type() != DataType::kDouble) {
      return Invalid(absl::StrCat("GROUP BY column ", g.column, " must be int64 or double to be bucketed"));
    }
    cols.push_back(c);
  }
  // Fast path: one string column, no buckets: the dictionary codes are the group codes.
  if (cols.size() == 1 && cols[0]->type() == DataType::kString &&
      plan.group_by[0].bucket_boundaries.empty()) {
    const Column& c = *cols[0];
    const table::StringDictionary& dict = c.dictionary();
    gi.codes_ = c.string_codes().data();
    gi.code_to_gid_.assign(static_cast<size_t>(dict.size()) + 1, -1);
    if (!gi.is_public_) {
      // Every dictionary entry (and NULL) is a candidate group; groups without rows are never output.
      gi.keys_.reserve(gi.code_to_gid_.size());
      gi.keys_.push_back({std::monostate()});
      gi.code_to_gid_[0] = 0;
      for (int32_t code = 0; code < dict.size(); ++code) {
        gi.code_to_gid_[code + 1] = static_cast<int32_t>(gi.keys_.size());
        gi.keys_.push_back({Value(std::string(dict.value(code)))});
      }
    } else {
      for (const auto& key : *plan.public_groups) {
        const int32_t gid = static_cast<int32_t>(gi.keys_.size());
        const Value& v = key[0];
        if (std::holds_alternative<std::monostate>(v)) {
          gi.code_to_gid_[0] = gid;
        } else if (std::holds_alternative<std::string>(v)) {
          const std::optional<int32_t> code = dict.Find(std::get<std::string>(v));
          if (code.has_value()) gi.code_to_gid_[*code + 1] = gid;
        } else {
          return Invalid(absl::StrCat("public group ", gid, ": value for ", plan.group_by[0].column,
                                      " must be a string"));
        }
        gi.keys_.push_back(key);
        gi.public_gids_.push_back(gid);
      }
    }
  } else {
    // General path: dense codes per column, combined into one key per row.
    std::vector<ColumnCodes> cc(cols.size());
    for (size_t j = 0; j < cols.size(); ++j) {
      ColumnCodes& c = cc[j];
      c.column = cols[j];
      c.spec = &plan.group_by[j];
      c.codes.resize(static_cast<size_t>(t.num_rows()));
      c.values.emplace_back(std::in_place_type<std::monostate>);
      const Column& col = *cols[j];
      const bool is_string = col.type() == DataType::kString && c.spec->bucket_boundaries.empty();
      std::vector<int32_t> dict_code;
      if (is_string) dict_code.assign(static_cast<size_t>(col.dictionary().size()), -1);
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        int32_t code = 0;
        if (!RowIsNullKey(col, *c.spec, row)) {
          if (is_string) {
            int32_t& dc = dict_code[col.GetStringCode(row)];
            if (dc < 0) {
              dc = static_cast<int32_t>(c.values.size());
              c.values.push_back(col.GetValue(row));
            }
            code = dc;
          } else {
            const auto [it, added] =
                c.index.try_emplace(RowKeyBits(col, *c.spec, row), static_cast<int32_t>(c.values.size()));
            if (added) c.values.push_back(KeyValueOf(col, *c.spec, row));
            code = it->second;
          }
        }
        c.codes[row] = code;
      }
      if (is_string) {
        for (int32_t code = 0; code < static_cast<int32_t>(dict_code.size()); ++code) {
          if (dict_code[code] >= 0) c.index.emplace(static_cast<uint64_t>(code), dict_code[code]);
        }
      }
    }
    // The columns' codes are combined pairwise into dense ids: level j maps (id of columns 0..j-1, code of
    // column j) to the id of columns 0..j, numbered in row order. Every id stands for a tuple present in
    // the rows, so ids stay below the number of rows whatever the columns' cardinalities: nothing here can
    // fail on the data (the product of the cardinalities used to be bounded with an error, a leak).
    struct Level {
      uint64_t card = 0;                           // codes of column j
      std::vector<int32_t> direct;                 // (prev * card + code) -> id, when small
      absl::flat_hash_map<uint64_t, int32_t> map;  // (prev << 32 | code) -> id, otherwise
      int32_t count = 0;
      int32_t Add(int32_t prev, int32_t code) {
        int32_t* slot;
        if (!direct.empty()) {
          slot = &direct[static_cast<uint64_t>(prev) * card + static_cast<uint64_t>(code)];
        } else {
          slot = &map.try_emplace((static_cast<uint64_t>(prev) << 32) | static_cast<uint32_t>(code), -1)
                      .first->second;
        }
        if (*slot < 0) *slot = count++;
        return *slot;
      }
      int32_t Find(int32_t prev, int32_t code) const {
        if (!direct.empty()) return direct[static_cast<uint64_t>(prev) * card + static_cast<uint64_t>(code)];
        const auto it = map.find((static_cast<uint64_t>(prev) << 32) | static_cast<uint32_t>(code));
        return it == map.end() ? -1 : it->second;
      }
    };
    std::vector<Level> levels(cols.size());
    std::vector<int32_t> combined_id(static_cast<size_t>(t.num_rows()), 0);
    int32_t num_ids = static_cast<int32_t>(cc[0].values.size());
    for (int64_t i = 0; i < rs.count; ++i) combined_id[rs.Row(i)] = cc[0].codes[rs.Row(i)];
    for (size_t j = 1; j < cols.size(); ++j) {
      Level& lv = levels[j];
      lv.card = cc[j].values.size();
      const uint64_t cells = static_cast<uint64_t>(num_ids) * lv.card;
      if (cells <= (uint64_t{1} << 22)) lv.direct.assign(cells, -1);
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        combined_id[row] = lv.Add(combined_id[row], cc[j].codes[row]);
      }
      num_ids = std::max<int32_t>(lv.count, 1);
    }
    std::vector<int32_t> id_to_gid(static_cast<size_t>(num_ids), -1);
    gi.owned_row_gid_.assign(static_cast<size_t>(t.num_rows()), -1);
    if (gi.is_public_) {
      for (size_t k = 0; k < plan.public_groups->size(); ++k) {
        const auto& key = (*plan.public_groups)[k];
        const int32_t gid = static_cast<int32_t>(gi.keys_.size());
        int32_t combined = 0;
        bool present = true;
        for (size_t j = 0; j < cols.size(); ++j) {
          const Value& v = key[j];
          uint64_t code = 0;
          if (!std::holds_alternative<std::monostate>(v)) {
            const Column& col = *cols[j];
            std::optional<uint64_t> bits;
            if (col.type() == DataType::kString && cc[j].spec->bucket_boundaries.empty()) {
              if (!std::holds_alternative<std::string>(v)) {
                return Invalid(absl::StrCat("public group ", k, ": value for ", plan.group_by[j].column,
                                            " must be a string"));
              }
              const std::optional<int32_t> dc = col.dictionary().Find(std::get<std::string>(v));
              if (dc.has_value())
                bits = static_cast<uint64_t>(*dc);
              else
                present = false;
            } else {
              bits = ValueKeyBits(col, *cc[j].spec, v);
              if (!bits.has_value()) {
                return Invalid(absl::StrCat("public group ", k, ": value for ", plan.group_by[j].column,
                                            " has the wrong type (expected ",
                                            cc[j].spec->bucket_boundaries.empty()
                                                ? std::string(table::DataTypeName(col.type()))
                                                : std::string("int64 bucket"),
                                            ")"));
              }
            }
            if (bits.has_value()) {
              const auto it = cc[j].index.find(*bits);
              if (it == cc[j].index.end())
                present = false;
              else
                code = static_cast<uint64_t>(it->second);
            }
          }
          if (present) {
            combined =
                j == 0 ? static_cast<int32_t>(code) : levels[j].Find(combined, static_cast<int32_t>(code));
            if (combined < 0) present = false;
          }
        }
        if (present && id_to_gid[combined] < 0) id_to_gid[combined] = gid;
        gi.keys_.push_back(key);
        gi.public_gids_.push_back(gid);
      }
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        gi.owned_row_gid_[row] = id_to_gid[combined_id[row]];
      }
    } else {
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        int32_t* slot = &id_to_gid[combined_id[row]];
        if (*slot < 0) {
          *slot = static_cast<int32_t>(gi.keys_.size());
          std::vector<Value> key(cols.size());
          for (size_t j = 0; j < cols.size(); ++j) key[j] = cc[j].values[cc[j].codes[row]];
          gi.keys_.push_back(std::move(key));
        }
        gi.owned_row_gid_[row] = *slot;
      }
    }
    gi.row_gid_ = gi.owned_row_gid_.data();
  }
  // Key order ranks.
  std::vector<int32_t> all(gi.keys_.size());
  for (size_t g = 0; g < all.size(); ++g) all[g] = static_cast<int32_t>(g);
  all = gi.SortedGids(all);
  gi.order_rank_.assign(all.size(), 0);
  for (size_t r = 0; r < all.size(); ++r) gi.order_rank_[all[r]] = static_cast<uint32_t>(r);
  return gi;
}

// ---------------------------------------------------------------------------------------------------------
// Privacy units: row -> dense unit id.

struct UnitIndex {
  const int32_t* codes = nullptr;  // -1 = NULL unit (row dropped)
  std::vector<int32_t> owned;
  int32_t num_units = 0;
  const Column* column = nullptr;
  std::vector<int64_t> rep_row;  // hashed non-string units: one row of each unit (for its text)
  bool int_direct = false;       // int64 units indexed directly: unit = value - int_base
  int64_t int_base = 0;

  // H(T(u), seed) of query.h.
  uint64_t Hash(int32_t unit, uint64_t seed) const {
    if (column->type() == DataType::kString) {
      return internal::PgHashBytesExtended(column->dictionary().value(unit), seed);
    }
    if (column->type() == DataType::kInt64) {
      // T(v) is the decimal text (table::FormatValue), written without an allocation.
      const int64_t v =
          int_direct ? static_cast<int64_t>(static_cast<uint64_t>(int_base) + static_cast<uint32_t>(unit))
                     : column->GetInt64(rep_row[unit]);
      char text[24];
      const std::to_chars_result end = std::to_chars(text, text + sizeof(text), v);
      return internal::PgHashBytesExtended(std::string_view(text, static_cast<size_t>(end.ptr - text)), seed);
    }
    if (column->type() == DataType::kDouble) {
      // The canonical text: every row of the unit hashes alike whichever came first (-0 is 0, NaN is nan).
      const double x = column->GetDouble(rep_row[unit]);
      return internal::PgHashBytesExtended(
          table::FormatValue(
              Value(x == 0 ? 0.0 : (std::isnan(x) ? std::numeric_limits<double>::quiet_NaN() : x))),
          seed);
    }
    return internal::PgHashBytesExtended(column->FormatValue(rep_row[unit]), seed);
  }
};

absl::StatusOr<UnitIndex> BuildUnitIndex(const Table& t, const QueryPlan& plan, const RowSet& rs) {
  UnitIndex u;
  u.column = t.FindColumn(plan.privacy_unit_column);
  if (u.column == nullptr)
    return Invalid(absl::StrCat("unknown privacy unit column ", plan.privacy_unit_column));
  const Column& c = *u.column;
  if (c.type() == DataType::kString) {
    u.codes = c.string_codes().data();
    u.num_units = c.dictionary().size();
    return u;
  }
  u.owned.assign(static_cast<size_t>(t.num_rows()), -1);
  if (c.type() == DataType::kInt64) {
    // Dense integer ids (the usual case: a subject number) index directly, without hashing, when their range
    // is at most about twice the number of rows: unit = value - min (units without rows cost nothing).
    const int64_t* v = c.int64_values().data();
    const bool nulls = c.null_count() > 0;
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t i = 0; i < rs.count; ++i) {
      const int64_t row = rs.Row(i);
      if (nulls && c.IsNull(row)) continue;
      lo = std::min(lo, v[row]);
      hi = std::max(hi, v[row]);
    }
    const uint64_t limit = std::min<uint64_t>(2 * static_cast<uint64_t>(rs.count) + 1024, INT32_MAX);
    if (lo > hi) {  // no row has a unit
      u.codes = u.owned.data();
      return u;
    }
    const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // exact: hi >= lo
    if (range < limit) {
      u.int_direct = true;
      u.int_base = lo;
      u.num_units = static_cast<int32_t>(range + 1);
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        if (nulls && c.IsNull(row)) continue;
        u.owned[row] = static_cast<int32_t>(static_cast<uint64_t>(v[row]) - static_cast<uint64_t>(lo));
      }
      u.codes = u.owned.data();
      return u;
    }
  }
  absl::flat_hash_map<uint64_t, int32_t> index;
  for (int64_t i = 0; i < rs.count; ++i) {
    const int64_t row = rs.Row(i);
    if (c.IsNull(row)) continue;
    uint64_t bits;
    switch (c.type()) {
      case DataType::kDouble:
        bits = DoubleBits(c.GetDouble(row));
        break;
      case DataType::kBool:
        bits = c.GetBool(row) ? 1 : 0;
        break;
      case DataType::kDate:
        bits = static_cast<uint64_t>(static_cast<int64_t>(c.GetDate(row).days));
        break;
      default:
        bits = static_cast<uint64_t>(c.GetInt64(row));
        break;
    }
    const auto [it, added] = index.try_emplace(bits, static_cast<int32_t>(u.rep_row.size()));
    if (added) u.rep_row.push_back(row);
    u.owned[row] = it->second;
  }
  u.num_units = static_cast<int32_t>(u.rep_row.size());
  u.codes = u.owned.data();
  return u;
}

// ---------------------------------------------------------------------------------------------------------
// Per-row component values.

// std::clamp(x, lo, hi) for x not NaN, lo <= hi, without a branch (std::clamp compiles to compare-and-jump
// on doubles, which mispredicts when values fall on both sides of a bound). The one difference, the sign of
// a zero (clamp(-0.0, 0.0, hi) is -0.0 here +0.0), never changes the integers computed from it.
inline double ClampValue(double x, double lo, double hi) {
#if defined(__SSE2__)
  return _mm_cvtsd_f64(_mm_min_sd(_mm_max_sd(_mm_set_sd(x), _mm_set_sd(lo)), _mm_set_sd(hi)));
#else
  return std::clamp(x, lo, hi);
#endif
}

struct Quantiser {
  CompKind kind = CompKind::kRows;
  const Column* column = nullptr;
  double lo = 0, hi = 0;
  double g = 1;      // kSum grid
  double inv_g = 0;  // 1 / g when that is exact (g a power of two with a normal inverse), else 0
  double mid = 0, half = 0;
  double scale = 1;  // 2^bits
  double unit = 1;   // the value of one integer unit of the noisy sum

  void Set(const Component& c, const Column* col, Bounds b) {
    kind = c.kind;
    column = col;
    lo = b.lo;
    hi = b.hi;
    scale = std::ldexp(1.0, c.bits);
    if (kind == CompKind::kSum) {
      g = FixedPointGrid(b, c.bits);
      unit = g;
      // x / g == x * (1 / g) exactly (both correctly rounded products of the same real) when 1 / g is an
      // exact normal power of two.
      const double inv = 1 / g;
      inv_g = std::isnormal(g) && std::isnormal(inv) && inv * g == 1 ? inv : 0;
    } else {
      mid = lo + (hi - lo) / 2;
      half = (hi - lo) / 2;
      unit = 1 / scale;
    }
  }
  // Round to nearest, ties to even, for |y| < 2^51 (the values here are below 2^21): adding and subtracting
  // 1.5 * 2^52 leaves the rounded value in the default rounding mode (what nearbyint does, without its
  // library call).
  static double RoundEven(double y) {
    constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
    const double t = y + kMagic;                   // IEEE semantics (no -ffast-math): not folded away
    return t - kMagic;
  }
  // The integer contribution of value x (not NULL, not NaN).
  int64_t Of(double x) const {
    const double v = ClampValue(x, lo, hi);
    switch (kind) {
      case CompKind::kSum:
        return static_cast<int64_t>(RoundEven(inv_g != 0 ? v * inv_g : v / g));
      case CompKind::kNormSum: {
        const double u = half > 0 ? ClampValue((v - mid) / half, -1.0, 1.0) : 0.0;
        return static_cast<int64_t>(RoundEven(u * scale));
      }
      case CompKind::kNormSquares: {
        const double u = half > 0 ? ClampValue((v - mid) / half, -1.0, 1.0) : 0.0;
        return static_cast<int64_t>(RoundEven((2 * u * u - 1) * scale));
      }
      default:
        return 1;
    }
  }
};

// ---------------------------------------------------------------------------------------------------------
// The engine.
//
// 1. Partition: the selected rows with a unit and a (public) group become 16-byte records, scattered by the
//    unit's high bits into partitions of at most 2048 units (two sequential passes: count, scatter; each
//    thread owns a contiguous range of rows and a slice of every partition, so the records of a partition
//    are in row order whatever the number of threads). The buffer is not zeroed and is pre-faulted in huge
//    pages (RecBuffer).
// 2. Per partition (threads take partitions in turn): a counting sort by unit puts each unit's records
//    together (still in row order), contribution bounding applies query.h's rules, and the kept records are
//    accumulated into the thread's integer sums per group.
//    - Fast path (at most one value column, numeric; no quantile tree): the record carries the value
//      itself, so this step never reads the table. FastSmallUnit (units of at most 256 records, Linf <= 8)
//      works without data-dependent branches; FastUnit takes the others. A unit within its bounds (at most
//      L0 groups, at most Linf rows in each) keeps everything and needs no hash; a_u is computed only for the
//      others, value hashes 4 at a time with the seed's mixing precomputed (internal::SeededLookup3); no
//      allocation per unit. With automatic bounds, the histogram pass marks the kept records and the
//      aggregation pass adds the marked ones (the bounding is decided once).
//    - General path (the fast path's reference, and the only one for quantiles or several value columns):
//      the record carries the row, BoundUnit reads values from the columns.
// Integer sums make the result independent of the number of threads and of the order of the rows; both
// paths make exactly the same choices (tests check that they give identical results under one seed, and
// that both equal a reference implementation of query.h's bounding).
//
// Cost on 10M rows, 1M units, 10k groups, L0 = 4, Linf = 2 (bench/dp_groupby_bench, 2 cores): about 0.03 s
// partitioning, 0.09 s bounding and accumulating, 0.01 s selection, noise and results.

struct Rec {
  uint32_t unit_local;  // the unit's low bits; bit 31: the value is NULL or NaN (fast path)
  int32_t gid;
  uint64_t v;  // fast path: the value (double bits, int64, or bool 0 / 1); general path: the row
};
static_assert(sizeof(Rec) == 16);
constexpr uint32_t kNullBit = uint32_t{1} << 31;
// Set by the fast path's automatic-bounds pass (which decides the bounding once for both passes): the record
// is kept; the record is the first kept one of its kept (unit, group) cell.
constexpr int kKeptShift = 30, kCellShift = 29;

// Records of a partitioned query: n records, not initialised (no memset of the whole buffer). Huge pages
// are advised, and one byte per 2 MiB is written right away from the calling thread: with transparent huge
// pages that takes every page fault up front (about 8 ms for 160 MB); the same faults taken while two
// threads scatter into hundreds of interleaved streams cost several times more (measured 40 ms against
// 25 ms for faults and scatter together on 10M rows).
class RecBuffer {
 public:
  void Allocate(size_t n) {
    data_.reset(new Rec[n]);
    const size_t bytes = n * sizeof(Rec);
    table::internal::AdviseHugePages(data_.get(), bytes);
    auto* p = reinterpret_cast<volatile unsigned char*>(data_.get());
    constexpr size_t kHugePage = size_t{2} << 20;
    for (size_t offset = 0; offset < bytes; offset += kHugePage) p[offset] = 0;
  }
  Rec* data() { return data_.get(); }
  const Rec* data() const { return data_.get(); }

 private:
  std::unique_ptr<Rec[]> data_;
};

// What a pass over the kept rows accumulates, per thread.
struct ThreadAcc {
  std::vector<int64_t> acc;                      // [gid * ncomp + c]
  std::vector<int64_t> units;                    // [gid]: kept (unit, group) cells
  std::vector<std::vector<uint64_t>> leaves;     // per quantile aggregate: (gid << 32) | leaf
  std::vector<std::vector<int64_t>> histograms;  // per auto-bounds aggregate: log-histogram bins
};

// The fast path's value column type (template parameter of its kernel).
enum FastKind : int { kNoValue = 0, kDoubleValue = 1, kInt64Value = 2, kBoolValue = 3 };

// Fast path accumulators of one thread, interleaved per group so that adding a record touches one cache
// line: kept rows, kept non-NULL values, kept cells, and the integer contributions of each value component.
struct FastAcc {
  static constexpr size_t kRows = 0, kNonNull = 1, kUnits = 2, kValues = 3;
  int shift = 0;               // stride = 2^shift >= kValues + number of value components
  std::vector<int64_t> cells;  // [(gid << shift) + field]
  // FastSmallUnit's group slots: per gid, (unit serial << 8) | slot, 4 bytes so that the table of 10,000
  // groups nearly fits in L1. A unit's serial (24 bits) is unique in the thread until it wraps, when the
  // table is cleared (NextSerial).
  std::vector<uint32_t> stamp;
  uint32_t serial = 0;
  std::vector<int64_t> hist;  // the automatic-bounds pass: log-histogram of the kept values

  int64_t* at(int32_t gid) { return cells.data() + (static_cast<size_t>(gid) << shift); }
  uint32_t NextSerial() {
    serial = (serial + 1) & 0xFFFFFF;
    if (serial == 0) {  // every 2^24 units: stamps of old units could look current
      std::fill(stamp.begin(), stamp.end(), 0u);
      serial = 1;
    }
    return serial;
  }
};

// Units with at most this many records find their distinct groups by a linear scan; larger ones sort.
constexpr int kLinearUnit = 64;
// Cells with at most this many records number duplicate values by a quadratic scan; larger ones sort.
constexpr int kLinearCell = 64;
// Units with at most this many records take FastSmallUnit when Linf <= kSmallLinf and the number of groups
// allows its per-thread slot table (kSmallUnitMaxGroups entries of 4 bytes).
constexpr int kSmallUnit = 256;
constexpr int64_t kSmallLinf = 8;
constexpr int64_t kSmallUnitMaxGroups = int64_t{1} << 22;

// Fast path working memory of one thread, grown to the largest unit / partition seen (no allocation per
// unit).
struct FastScratch {
  std::vector<Rec> sorted;             // a partition's records, by unit
  std::vector<uint32_t> start, fill;   // per local unit
  std::vector<int32_t> slot, by_slot;  // per record: its group slot; record indices grouped by slot
  std::vector<int32_t> gid, cnt, order, slot_begin, slot_fill, first_of;  // per slot
  std::vector<uint64_t> rank;                                             // per slot: (r(u, k) << 32) | a_k
  std::vector<uint8_t> kept, keep;                                        // per slot, per record
  std::vector<uint64_t> vh, keys;  // per record of a cell: V, (row rank << 32) | index
  // FastSmallUnit: the key per record; the Linf smallest keys per slot.
  std::vector<uint64_t> small_keys, top;
  std::vector<std::pair<int32_t, int32_t>> pairs;    // (gid, record) of a large unit
  std::vector<std::pair<uint64_t, int32_t>> vpairs;  // (V, index) of a large cell
  int capacity = 0;

  FastScratch() : small_keys(kSmallUnit), top(kSmallUnit * kSmallLinf) {}

  void Reserve(int n) {
    if (n <= capacity) return;
    capacity = std::max({n, 2 * capacity, 64});
    const size_t c = static_cast<size_t>(capacity);
    for (auto* v : {&slot, &by_slot, &gid, &cnt, &order, &slot_fill, &first_of}) v->resize(c);
    slot_begin.resize(c + 1);
    rank.resize(c);
    kept.resize(c);
    keep.resize(c);
    vh.resize(c);
    keys.resize(c);
  }
};

class Engine {
 public:
  Engine(const Table& t, const QueryPlan& plan, const CompiledPlan& cp, const RowSet& rs,
         const GroupIndex& gi, const UnitIndex& ui, uint64_t seed)
      : t_(t),
        plan_(plan),
        cp_(cp),
        rs_(rs),
        gi_(gi),
        ui_(ui),
        seed_(seed),
        l0_(plan.max_groups_contributed),
        linf_(plan.max_rows_per_group),
        row_hash8_(8, seed + 2),
        row_hash4_(4, seed + 2) {}

  absl::Status Prepare();
  // Runs the bounding pass; `histograms` selects the automatic-bounds pass (no aggregation).
  void Pass(bool histograms, std::vector<ThreadAcc>& out);
  void SetBounds(int aggregate, Bounds b) { bounds_[aggregate] = b; }
  void FinishQuantisers();
  const std::vector<QuantileTreeShape>& shapes() const { return shapes_; }
  const std::vector<int>& quantile_slot() const { return quantile_slot_; }
  const std::vector<int>& histogram_slot() const { return histogram_slot_; }
  int num_quantile_aggregates() const { return num_quantile_; }
  int num_histograms() const { return num_hist_; }
  const std::vector<Quantiser>& quantisers() const { return quant_; }
  void DisableFastPath() { allow_fast_ = false; }

 private:
  void Partition();
  template <GroupIndex::Source S, bool kAllRows>
  void CountPartitions(int64_t begin, int64_t end, int64_t* counts) const;
  template <int K, GroupIndex::Source S, bool kAllRows>
  void Scatter(int64_t begin, int64_t end, int64_t* offsets);

  // General path.
  void ProcessPartition(int p, bool histograms, ThreadAcc& acc, std::vector<Rec>& scratch,
                        std::vector<uint8_t>& keep);
  void BoundUnit(uint32_t unit, Rec* r, int n, std::vector<uint8_t>& keep, std::vector<int32_t>& kept_groups);
  // The hash chain V(x_1..x_m) of a row's values, from s + 2 (query.h, row rank).
  uint64_t ValueHash(const Rec& r) const;
  void Accumulate(const Rec& r, bool histograms, ThreadAcc& acc) const;

  // Fast path.
  // a_u = F(H(T(u), s)) of query.h, equal to Fold32(ui_.Hash(unit, seed_)); texts of at most 11 bytes
  // (string units, directly indexed int64 units) take lookup3 with the seed's mixing done once per length.
  uint32_t UnitRank(int32_t unit) const;
  // kMark: the automatic-bounds pass, which marks the kept records (kKeptShift, kCellShift) and counts the
  // log-histogram of their values instead of adding them; FastApplyPass then adds the marked records.
  template <bool kMark>
  void FastPass(std::vector<ThreadAcc>& out);
  void FastApplyPass(std::vector<ThreadAcc>& out);
  void ToThreadAcc(const FastAcc& a, ThreadAcc& o) const;
  template <int K, bool kMark>
  void FastPartition(int p, FastScratch& s, FastAcc& acc);
  template <int K, bool kMark>
  void FastUnit(uint32_t unit, Rec* r, int n, FastScratch& s, FastAcc& acc) const;
  // L: Linf when it is 1 or 2 (a compile-time constant), else 0.
  template <int K, int L, bool kMark>
  void FastSmallUnit(uint32_t unit, Rec* r, int n, FastScratch& s, FastAcc& acc) const;
  template <int K>
  void FastKeepRows(const Rec* r, const int32_t* idx, int c, uint32_t rk, FastScratch& s) const;
  template <int K>
  uint64_t FastValueHash(const Rec& r) const {
    if (r.unit_local & kNullBit) return null_hash_;
    if constexpr (K == kDoubleValue) {
      if ((r.v << 1) == 0) return seed_ + 2;  // 0 and -0: hashfloat8extended returns the seed
      return row_hash8_.Hash8(r.v);
    } else if constexpr (K == kInt64Value) {
      return row_hash4_.HashInt8(static_cast<int64_t>(r.v));
    } else if constexpr (K == kBoolValue) {
      return r.v != 0 ? true_hash_ : false_hash_;
    } else {
      return seed_ + 2;
    }
  }
  // Adds record r to its group if keep is 1 (0: adds nothing), without branches.
  template <int K>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void FastAddIf(const Rec& r, int32_t keep, FastAcc& acc) const {
    int64_t* a = acc.at(r.gid);
    a[FastAcc::kRows] += keep;
    if constexpr (K != kNoValue) {
      const int32_t valid = keep & static_cast<int32_t>((~r.unit_local) >> 31);
      const int64_t valid_mask = -static_cast<int64_t>(valid);
      a[FastAcc::kNonNull] += valid;
      // The value, or 0 when not added (masked as bits, not with a branch on `valid`, which mispredicts): a
      // NULL's NaN never reaches the conversion to an integer.
      const uint64_t bits = r.v & static_cast<uint64_t>(valid_mask);
      double x;
      if constexpr (K == kDoubleValue) {
        std::memcpy(&x, &bits, sizeof(x));
      } else if constexpr (K == kInt64Value) {
        x = static_cast<double>(static_cast<int64_t>(bits));
      } else {
        x = static_cast<double>(bits != 0);
      }
      if (single_sum_) {
        // The usual SUM: one kSum component with an exact reciprocal (Quantiser::Of, inlined).
        const Quantiser& q = value_q_[0];
        a[FastAcc::kValues] +=
            valid_mask & static_cast<int64_t>(Quantiser::RoundEven(ClampValue(x, q.lo, q.hi) * q.inv_g));
        return;
      }
      const size_t nv = value_q_.size();
      for (size_t j = 0; j < nv; ++j) a[FastAcc::kValues + j] += valid_mask & value_q_[j].Of(x);
    }
  }
  template <int K>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void FastAdd(const Rec& r, FastAcc& acc) const {
    FastAddIf<K>(r, 1, acc);
  }
  // The kernels' output for a record kept (keep = 1) or not (0): added, or marked and counted in the
  // log-histogram (kMark).
  template <int K, bool kMark>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Emit(Rec& r, int32_t keep, FastAcc& acc) const {
    if constexpr (kMark) {
      r.unit_local |= static_cast<uint32_t>(keep) << kKeptShift;
      if constexpr (K != kNoValue) {
        if (keep != 0 && (r.unit_local & kNullBit) == 0) {
          double x;
          if constexpr (K == kDoubleValue) {
            std::memcpy(&x, &r.v, sizeof(x));
          } else if constexpr (K == kInt64Value) {
            x = static_cast<double>(static_cast<int64_t>(r.v));
          } else {
            x = r.v != 0 ? 1.0 : 0.0;
          }
          ++acc.hist[static_cast<size_t>(LogHistogramBin(x))];
        }
      }
    } else {
      FastAddIf<K>(r, keep, acc);
    }
  }
  // A (unit, group) cell kept (kept = 1) or not: counted for COUNT(DISTINCT unit), or marked on its first
  // record r[first] (kMark).
  template <bool kMark>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void EmitCell(Rec* r, int first, int32_t gid, int32_t kept,
                                             FastAcc& acc) const {
    if constexpr (kMark) {
      r[first].unit_local |= static_cast<uint32_t>(kept) << kCellShift;
    } else {
      (void)r;
      (void)first;
      acc.at(gid)[FastAcc::kUnits] += kept;
    }
  }

  const Table& t_;
  const QueryPlan& plan_;
  const CompiledPlan& cp_;
  const RowSet& rs_;
  const GroupIndex& gi_;
  const UnitIndex& ui_;
  const uint64_t seed_;
  const int64_t l0_, linf_;
  int threads_ = 1;
  std::vector<uint32_t> a_k_;  // per gid
  std::vector<const Column*> agg_column_;
  std::vector<std::optional<Bounds>> bounds_;
  std::vector<Quantiser> quant_;           // per component
  std::vector<QuantileTreeShape> shapes_;  // per quantile aggregate slot
  std::vector<int> quantile_slot_, histogram_slot_;
  int num_quantile_ = 0, num_hist_ = 0;
  std::vector<const Column*> hash_columns_;  // value columns of the row hash, each once, in plan order
  bool allow_fast_ = true;
  bool fast_ = false;
  bool marked_ = false;                  // the automatic-bounds pass has marked the kept records
  const Column* fast_column_ = nullptr;  // fast path: the one value column (nullptr: none)
  int fast_kind_ = kNoValue;
  // Fast path: the value components (kSum, kNormSum, kNormSquares) and their quantisers.
  std::vector<int> value_comp_;
  std::vector<Quantiser> value_q_;
  bool single_sum_ = false;  // value_q_ is one kSum with an exact reciprocal
  // Fast path: V for NULL, false and true under s + 2, and the seeded lookup3 states of 8- and 4-byte values.
  const internal::SeededLookup3 row_hash8_, row_hash4_;
  uint64_t null_hash_ = 0, false_hash_ = 0, true_hash_ = 0;
  std::vector<internal::SeededLookup3> unit_hash_by_len_;  // lengths 0 .. 11, seed s
  // Partitions.
  int shift_ = 0;
  int num_partitions_ = 1;
  std::vector<int64_t> part_begin_;  // size num_partitions_ + 1
  RecBuffer recs_;
};

absl::Status Engine::Prepare() {
  threads_ = ThreadsFor(rs_.count);
  if (t_.num_rows() > static_cast<int64_t>(UINT32_MAX))
    return Invalid("tables of 2^32 rows or more are not supported");
  const int n = static_cast<int>(plan_.aggregates.size());
  agg_column_.assign(n, nullptr);
  bounds_.assign(n, std::nullopt);
  quantile_slot_.assign(n, -1);
  histogram_slot_.assign(n, -1);
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan_.aggregates[i];
    if (NeedsColumn(a.function)) {
      const Column* c = t_.FindColumn(a.column);
      if (c == nullptr)
        return Invalid(absl::StrCat("unknown column ", a.column, " in ", cp_.aggregates[i].name));
      if (a.function != AggregateFunction::kCount && c->type() != DataType::kInt64 &&
          c->type() != DataType::kDouble && c->type() != DataType::kBool) {
        return Invalid(absl::StrCat(cp_.aggregates[i].name, " needs a numeric column; ", a.column, " is ",
                                    table::internal::ToAbsl(table::DataTypeName(c->type()))));
      }
      agg_column_[i] = c;
      if (std::find(hash_columns_.begin(), hash_columns_.end(), c) == hash_columns_.end()) {
        hash_columns_.push_back(c);
      }
    }
    if (!IsCount(a.function)) bounds_[i] = a.bounds;
    if (IsQuantile(a.function)) quantile_slot_[i] = num_quantile_++;
    if (cp_.aggregates[i].auto_bounds) histogram_slot_[i] = num_hist_++;
  }
  // The fast path: at most one value column, numeric, no quantile tree.
  fast_ = allow_fast_ && num_quantile_ == 0 && hash_columns_.size() <= 1;
  fast_kind_ = kNoValue;
  if (fast_ && hash_columns_.size() == 1) {
    fast_column_ = hash_columns_[0];
    switch (fast_column_->type()) {
      case DataType::kDouble:
        fast_kind_ = kDoubleValue;
        break;
      case DataType::kInt64:
        fast_kind_ = kInt64Value;
        break;
      case DataType::kBool:
        fast_kind_ = kBoolValue;
        break;
      default:
        fast_ = false;
        break;
    }
  }
  null_hash_ = internal::PgHashBytesExtended("\\N", seed_ + 2);
  for (uint32_t len = 0; len < 12; ++len) unit_hash_by_len_.emplace_back(len, seed_);
  false_hash_ = row_hash4_.HashInt8(0);
  true_hash_ = row_hash4_.HashInt8(1);
  // Group key hashes a_k (query.h): chained PostgreSQL text hashes from s + 1.
  a_k_.resize(static_cast<size_t>(gi_.num_groups()));
  for (int32_t g = 0; g < gi_.num_groups(); ++g) {
    uint64_t h = seed_ + 1;
    for (const Value& v : gi_.key(g)) h = internal::PgHashBytesExtended(HashText(v), h);
    a_k_[g] = internal::Fold32(h);
  }
  FinishQuantisers();
  Partition();
  return absl::OkStatus();
}

void Engine::FinishQuantisers() {
  quant_.assign(cp_.components.size(), Quantiser());
  value_comp_.clear();
  value_q_.clear();
  for (size_t c = 0; c < cp_.components.size(); ++c) {
    const Component& comp = cp_.components[c];
    const int i = comp.aggregate;
    quant_[c].Set(comp, agg_column_[i], bounds_[i].value_or(Bounds{0, 0}));
    if (comp.kind == CompKind::kSum || comp.kind == CompKind::kNormSum ||
        comp.kind == CompKind::kNormSquares) {
      value_comp_.push_back(static_cast<int>(c));
      value_q_.push_back(quant_[c]);
    }
  }
  single_sum_ = value_q_.size() == 1 && value_q_[0].kind == CompKind::kSum && value_q_[0].inv_g != 0;
}

// A row's group, read the way GroupIndex::source() says (a template parameter, so that the partition loops
// carry no per-row branch on it).
template <GroupIndex::Source S>
struct GidReader {
  const int32_t* row_gid;
  const int32_t* codes;
  const int32_t* code_to_gid;
  int32_t operator()(int64_t row) const {
    if constexpr (S == GroupIndex::Source::kRowGid) {
      return row_gid[row];
    } else if constexpr (S == GroupIndex::Source::kCodes) {
      return code_to_gid[codes[row] + 1];
    } else {
      return 0;
    }
  }
};

// Calls fn(std::integral_constant<GroupIndex::Source, ...>) for the index's source.
template <typename Fn>
void WithGidSource(const GroupIndex& gi, Fn&& fn) {
  switch (gi.source()) {
    case GroupIndex::Source::kRowGid:
      fn(std::integral_constant<GroupIndex::Source, GroupIndex::Source::kRowGid>());
      break;
    case GroupIndex::Source::kCodes:
      fn(std::integral_constant<GroupIndex::Source, GroupIndex::Source::kCodes>());
      break;
    case GroupIndex::Source::kSingle:
      fn(std::integral_constant<GroupIndex::Source, GroupIndex::Source::kSingle>());
      break;
  }
}

template <int K, GroupIndex::Source S, bool kAllRows>
void Engine::Scatter(int64_t begin, int64_t end, int64_t* off) {
  const uint32_t mask = (uint32_t{1} << shift_) - 1;
  const int shift = shift_;
  const int32_t* ucodes = ui_.codes;
  const int64_t* rows = rs_.rows;
  const GidReader<S> gid_of{gi_.row_gid(), gi_.codes(), gi_.code_to_gid()};
  Rec* out = recs_.data();
  const Column* fc = fast_column_;
  const double* dv = K == kDoubleValue ? fc->double_values().data() : nullptr;
  const int64_t* iv = K == kInt64Value ? fc->int64_values().data() : nullptr;
  const uint8_t* bv = K == kBoolValue ? fc->bool_values().data() : nullptr;
  const bool has_nulls = K != kNoValue && fc->null_count() > 0;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t row = kAllRows ? i : rows[i];
    const int32_t u = ucodes[row];
    const int32_t gid = gid_of(row);
    if ((u | gid) < 0) continue;  // no unit, or not a public group
    uint32_t unit_local = static_cast<uint32_t>(u) & mask;
    uint64_t v = static_cast<uint64_t>(row);
    if constexpr (K == kDoubleValue) {
      const double x = dv[row];
      std::memcpy(&v, &x, sizeof(v));
      if (std::isnan(x)) unit_local |= kNullBit;
    } else if constexpr (K == kInt64Value) {
      v = static_cast<uint64_t>(iv[row]);
    } else if constexpr (K == kBoolValue) {
      v = bv[row] != 0 ? 1 : 0;
    }
    if (K != kNoValue && has_nulls && fc->IsNull(row)) unit_local |= kNullBit;
    Rec& r = out[off[static_cast<uint32_t>(u) >> shift]++];
    r.unit_local = unit_local;
    r.gid = gid;
    r.v = v;
  }
}

template <GroupIndex::Source S, bool kAllRows>
void Engine::CountPartitions(int64_t begin, int64_t end, int64_t* cnt) const {
  const int shift = shift_;
  const int32_t* ucodes = ui_.codes;
  const int64_t* rows = rs_.rows;
  const GidReader<S> gid_of{gi_.row_gid(), gi_.codes(), gi_.code_to_gid()};
  // Without public groups every row has a group: only the unit decides.
  const bool check_gid = gi_.is_public();
  for (int64_t i = begin; i < end; ++i) {
    const int64_t row = kAllRows ? i : rows[i];
    const int32_t u = ucodes[row];
    if (u < 0 || (check_gid && gid_of(row) < 0)) continue;
    ++cnt[static_cast<uint32_t>(u) >> shift];
  }
}

void Engine::Partition() {
  // Partitions of at most 2048 units (so that a partition's records and per-unit arrays stay in cache).
  const int64_t units = std::max<int32_t>(1, ui_.num_units);
  int unit_bits = 0;
  while ((int64_t{1} << unit_bits) < units) ++unit_bits;
  const int part_bits = std::max(0, std::min(16, unit_bits - 11));
  shift_ = unit_bits - part_bits;
  num_partitions_ = 1 << part_bits;
  const int T = threads_;
  std::vector<std::vector<int64_t>> counts(T, std::vector<int64_t>(num_partitions_, 0));
  const int64_t chunk = (rs_.count + T - 1) / T;
  const bool all_rows = rs_.rows == nullptr;
  RunThreads(T, [&](int th) {
    const int64_t begin = std::min(rs_.count, th * chunk), end = std::min(rs_.count, begin + chunk);
    WithGidSource(gi_, [&](auto source) {
      if (all_rows) {
        CountPartitions<decltype(source)::value, true>(begin, end, counts[th].data());
      } else {
        CountPartitions<decltype(source)::value, false>(begin, end, counts[th].data());
      }
    });
  });
  part_begin_.assign(num_partitions_ + 1, 0);
  std::vector<std::vector<int64_t>> offsets(T, std::vector<int64_t>(num_partitions_, 0));
  int64_t pos = 0;
  for (int p = 0; p < num_partitions_; ++p) {
    part_begin_[p] = pos;
    for (int th = 0; th < T; ++th) {
      offsets[th][p] = pos;
      pos += counts[th][p];
    }
  }
  part_begin_[num_partitions_] = pos;
  recs_.Allocate(static_cast<size_t>(pos));
  const int kind = fast_ ? fast_kind_ : kNoValue;  // the general path stores the row
  RunThreads(T, [&](int th) {
    const int64_t begin = std::min(rs_.count, th * chunk), end = std::min(rs_.count, begin + chunk);
    int64_t* off = offsets[th].data();
    WithGidSource(gi_, [&](auto source) {
      constexpr GroupIndex::Source S = decltype(source)::value;
      auto run = [&](auto value_kind) {
        constexpr int K = decltype(value_kind)::value;
        if (all_rows) {
          Scatter<K, S, true>(begin, end, off);
        } else {
          Scatter<K, S, false>(begin, end, off);
        }
      };
      switch (kind) {
        case kDoubleValue:
          run(std::integral_constant<int, kDoubleValue>());
          break;
        case kInt64Value:
          run(std::integral_constant<int, kInt64Value>());
          break;
        case kBoolValue:
          run(std::integral_constant<int, kBoolValue>());
          break;
        default:
          run(std::integral_constant<int, kNoValue>());
          break;
      }
    });
  });
}

uint64_t Engine::ValueHash(const Rec& r) const {
  uint64_t h = seed_ + 2;
  const int64_t row = static_cast<int64_t>(r.v);
  for (const Column* c : hash_columns_) {
    if (c->IsNull(row) || (c->type() == DataType::kDouble && std::isnan(c->GetDouble(row)))) {
      h = internal::PgHashBytesExtended("\\N", h);
      continue;
    }
    switch (c->type()) {
      case DataType::kDouble:
        h = internal::PgHashFloat8Extended(c->GetDouble(row), h);
        break;
      case DataType::kInt64:
      case DataType::kTimestamp:
        h = internal::PgHashInt8Extended(c->GetInt64(row), h);
        break;
      case DataType::kDate:
        h = internal::PgHashInt8Extended(c->GetDate(row).days, h);
        break;
      case DataType::kBool:
        h = internal::PgHashInt8Extended(c->GetBool(row) ? 1 : 0, h);
        break;
      case DataType::kString:
        h = internal::PgHashBytesExtended(c->GetString(row), h);
        break;
    }
  }
  return h;
}

// Contribution bounding of one unit's records (query.h: group rank, row rank). Sets keep[i] for the kept
// records r[i] and lists the unit's kept groups.
void Engine::BoundUnit(uint32_t unit, Rec* r, int n, std::vector<uint8_t>& keep,
                       std::vector<int32_t>& kept_groups) {
  const int64_t l0 = plan_.max_groups_contributed;
  const int64_t linf = plan_.max_rows_per_group;
  keep.assign(static_cast<size_t>(n), 1);
  kept_groups.clear();
  // The unit's distinct groups, their row counts, and each record's group slot. Units have few rows, so
  // a linear scan; a unit with many rows sorts instead.
  struct Group {
    int32_t gid;
    int32_t count;
    uint64_t rank;   // r(u, k) << 32 | a_k
    uint32_t order;  // key order (tie-break)
    bool kept;
  };
  thread_local std::vector<Group> groups;
  thread_local std::vector<int32_t> slot;
  groups.clear();
  slot.resize(static_cast<size_t>(n));
  if (n <= 64) {
    for (int i = 0; i < n; ++i) {
      const int32_t gid = r[i].gid;
      int32_t s = 0;
      const int32_t ng = static_cast<int32_t>(groups.size());
      while (s < ng && groups[s].gid != gid) ++s;
      if (s == ng) groups.push_back({gid, 0, 0, 0, true});
      ++groups[s].count;
      slot[i] = s;
    }
  } else {
    thread_local std::vector<std::pair<int32_t, int>> by_gid;
    by_gid.clear();
    for (int i = 0; i < n; ++i) by_gid.emplace_back(r[i].gid, i);
    std::sort(by_gid.begin(), by_gid.end());
    for (size_t k = 0; k < by_gid.size(); ++k) {
      if (k == 0 || by_gid[k].first != by_gid[k - 1].first)
        groups.push_back({by_gid[k].first, 0, 0, 0, true});
      ++groups.back().count;
      slot[by_gid[k].second] = static_cast<int32_t>(groups.size()) - 1;
    }
  }
  const int64_t ng = static_cast<int64_t>(groups.size());
  bool over_full = false;
  for (const Group& g : groups) over_full |= g.count > linf;
  if (ng > l0 || over_full) {
    const uint32_t a_u = internal::Fold32(ui_.Hash(static_cast<int32_t>(unit), seed_));
    const uint32_t* order_rank = gi_.order_rank().data();
    for (Group& g : groups) {
      const uint32_t ak = a_k_[g.gid];
      g.rank = (static_cast<uint64_t>(internal::Mix32(a_u ^ ak)) << 32) | ak;
      g.order = order_rank[g.gid];
    }
    if (ng > l0) {
      // Keep the L0 groups with the smallest (r, a_k, key order).
      thread_local std::vector<int32_t> perm;
      perm.resize(static_cast<size_t>(ng));
      for (int32_t s = 0; s < ng; ++s) perm[s] = s;
      auto less = [&](int32_t a, int32_t b) {
        if (groups[a].rank != groups[b].rank) return groups[a].rank < groups[b].rank;
        return groups[a].order < groups[b].order;
      };
      std::nth_element(perm.begin(), perm.begin() + l0, perm.end(), less);
      for (int64_t k = l0; k < ng; ++k) groups[perm[k]].kept = false;
      for (int i = 0; i < n; ++i) keep[i] = groups[slot[i]].kept ? 1 : 0;
    }
    if (over_full) {
      thread_local std::vector<std::pair<uint64_t, int>> values;  // (V, record)
      thread_local std::vector<std::pair<uint32_t, int>> rows;    // (row rank, record)
      thread_local std::vector<int32_t> cell_begin, by_cell;      // the records of each slot, in row order
      // Gather every cell's records once (a counting sort by slot): O(n + groups), not O(n * groups).
      cell_begin.assign(static_cast<size_t>(ng) + 1, 0);
      for (int i = 0; i < n; ++i) ++cell_begin[slot[i] + 1];
      for (int64_t s = 0; s < ng; ++s) cell_begin[s + 1] += cell_begin[s];
      by_cell.resize(static_cast<size_t>(n));
      {
        thread_local std::vector<int32_t> fill;
        fill.assign(cell_begin.begin(), cell_begin.end() - 1);
        for (int i = 0; i < n; ++i) by_cell[fill[slot[i]]++] = i;
      }
      for (int32_t s = 0; s < ng; ++s) {
        const Group& g = groups[s];
        if (!g.kept || g.count <= linf) continue;
        // Row rank: M(r(u, k) xor a_row), a_row = F(V) for the first row with its values and
        // F(hashint8extended(d, V)) for the d-th repeat; keep the Linf smallest.
        const uint32_t rk = static_cast<uint32_t>(g.rank >> 32);
        values.clear();
        rows.clear();
        for (int32_t k = cell_begin[s]; k < cell_begin[s + 1]; ++k)
          values.emplace_back(ValueHash(r[by_cell[k]]), by_cell[k]);
        // Sorted by (V, row order): the d-th repeat of a value (in row order) is numbered by its run, in
        // O(c log c) for a cell of c records (a pairwise count was O(c^2), a timing leak and a DoS).
        std::sort(values.begin(), values.end());
        int64_t d = 0;
        for (size_t k = 0; k < values.size(); ++k) {
          d = k > 0 && values[k].first == values[k - 1].first ? d + 1 : 0;
          const uint64_t h = d == 0 ? values[k].first : internal::PgHashInt8Extended(d, values[k].first);
          rows.emplace_back(internal::Mix32(rk ^ internal::Fold32(h)), values[k].second);
        }
        std::sort(rows.begin(), rows.end());
        for (size_t k = static_cast<size_t>(linf); k < rows.size(); ++k) keep[rows[k].second] = 0;
      }
    }
  }
  for (const Group& g : groups) {
    if (g.kept) kept_groups.push_back(g.gid);
  }
}

void Engine::Accumulate(const Rec& r, bool histograms, ThreadAcc& acc) const {
  if (histograms) {
    const int64_t row = static_cast<int64_t>(r.v);
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      if (histogram_slot_[i] < 0) continue;
      const std::optional<double> x = NumericValue(*agg_column_[i], row);
      if (x.has_value()) ++acc.histograms[histogram_slot_[i]][LogHistogramBin(*x)];
    }
    return;
  }
  const size_t ncomp = cp_.components.size();
  int64_t* a = acc.acc.data() + static_cast<size_t>(r.gid) * ncomp;
  const int64_t row = static_cast<int64_t>(r.v);
  for (size_t c = 0; c < ncomp; ++c) {
    const Quantiser& q = quant_[c];
    switch (q.kind) {
      case CompKind::kRows:
        ++a[c];
        break;
      case CompKind::kUnits:
        break;
      case CompKind::kNonNull:
        if (q.column->type() == DataType::kDouble) {
          a[c] += NumericValue(*q.column, row).has_value() ? 1 : 0;
        } else {
          a[c] += q.column->IsNull(row) ? 0 : 1;
        }
        break;
      default: {
        const std::optional<double> x = NumericValue(*q.column, row);
        if (x.has_value()) a[c] += q.Of(*x);
        break;
      }
    }
  }
  for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
    const int slot = quantile_slot_[i];
    if (slot < 0) continue;
    const std::optional<double> x = NumericValue(*agg_column_[i], row);
    if (x.has_value()) {
      acc.leaves[slot].push_back((static_cast<uint64_t>(r.gid) << 32) | shapes_[slot].LeafOf(*x));
    }
  }
}

void Engine::ProcessPartition(int p, bool histograms, ThreadAcc& acc, std::vector<Rec>& scratch,
                              std::vector<uint8_t>& keep) {
  const int64_t begin = part_begin_[p], end = part_begin_[p + 1];
  if (begin == end) return;
  const uint32_t local_units = uint32_t{1} << shift_;
  const uint32_t mask = local_units - 1;
  thread_local std::vector<uint32_t> start;
  start.assign(local_units + 1, 0);
  const Rec* in = recs_.data() + begin;
  const int64_t n = end - begin;
  for (int64_t i = 0; i < n; ++i) ++start[(in[i].unit_local & mask) + 1];
  for (uint32_t u = 0; u < local_units; ++u) start[u + 1] += start[u];
  scratch.resize(static_cast<size_t>(n));
  {
    thread_local std::vector<uint32_t> fill;
    fill.assign(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) scratch[fill[in[i].unit_local & mask]++] = in[i];
  }
  const uint32_t base_unit = static_cast<uint32_t>(p) << shift_;
  thread_local std::vector<int32_t> kept_groups;
  for (uint32_t u = 0; u < local_units; ++u) {
    const uint32_t b = start[u], e = start[u + 1];
    if (b == e) continue;
    Rec* r = scratch.data() + b;
    const int cnt = static_cast<int>(e - b);
    BoundUnit(base_unit + u, r, cnt, keep, kept_groups);
    if (!histograms) {
      for (const int32_t g : kept_groups) ++acc.units[g];
    }
    for (int i = 0; i < cnt; ++i) {
      if (keep[i]) Accumulate(r[i], histograms, acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The fast path's kernel.

uint32_t Engine::UnitRank(int32_t unit) const {
  const Column& c = *ui_.column;
  std::string_view text;
  char digits[24];
  if (c.type() == DataType::kString) {
    text = c.dictionary().value(unit);
  } else if (c.type() == DataType::kInt64 && ui_.int_direct) {
    const int64_t v = static_cast<int64_t>(static_cast<uint64_t>(ui_.int_base) + static_cast<uint32_t>(unit));
    const std::to_chars_result end = std::to_chars(digits, digits + sizeof(digits), v);
    text = std::string_view(digits, static_cast<size_t>(end.ptr - digits));
  } else {
    return internal::Fold32(ui_.Hash(unit, seed_));
  }
  if (text.size() >= 12) return internal::Fold32(internal::PgHashBytesExtended(text, seed_));
  // PgHashBytesExtended's tail for fewer than 12 bytes: bytes 0..3 to a, 4..7 to b, 8..10 to c's bits 8..31.
  unsigned char k[12] = {};
  std::memcpy(k, text.data(), text.size());
  const internal::SeededLookup3& h = unit_hash_by_len_[text.size()];
  uint32_t a = h.a() + internal::Le32(k), b = h.b() + internal::Le32(k + 4),
           cc = h.c() + (internal::Le32(k + 8) << 8);
  internal::Final(a, b, cc);
  return b ^ cc;  // Fold32((b << 32) | c)
}

// Marks the Linf records of one cell (c > Linf records r[idx[0..c)], in row order) with the smallest row
// ranks M(rk xor a_row) (query.h), ties broken by row order as in BoundUnit: keep[idx[j]] = 1.
template <int K>
void Engine::FastKeepRows(const Rec* r, const int32_t* idx, int c, uint32_t rk, FastScratch& s) const {
  uint8_t* keep = s.keep.data();
  if constexpr (K == kNoValue) {
    // Without a value column every row of the cell has the same V and contributes only to counts: any
    // Linf of them give the same sums.
    for (int64_t j = 0; j < linf_; ++j) keep[idx[j]] = 1;
    (void)r;
    (void)rk;
    return;
  } else {
    uint64_t* vh = s.vh.data();
    uint64_t* keys = s.keys.data();
    for (int j = 0; j < c; ++j) vh[j] = FastValueHash<K>(r[idx[j]]);
    // a_row = F(V) for the first row with its values, F(hashint8extended(d, V)) for the d-th repeat (rows
    // with equal values are recognised by equal V, as in BoundUnit).
    auto row_rank = [&](int j, int64_t d) {
      const uint64_t h = d == 0 ? vh[j] : internal::PgHashInt8Extended(d, vh[j]);
      keys[j] =
          (static_cast<uint64_t>(internal::Mix32(rk ^ internal::Fold32(h))) << 32) | static_cast<uint32_t>(j);
    };
    if (c <= kLinearCell) {
      for (int j = 0; j < c; ++j) {
        int64_t d = 0;
        for (int m = 0; m < j; ++m) d += vh[m] == vh[j] ? 1 : 0;
        row_rank(j, d);
      }
    } else {
      auto& vp = s.vpairs;
      vp.clear();
      for (int j = 0; j < c; ++j) vp.emplace_back(vh[j], j);
      std::sort(vp.begin(), vp.end());  // by V, then row order: d counts up within a run of equal V
      int64_t d = 0;
      for (size_t k = 0; k < vp.size(); ++k) {
        d = k > 0 && vp[k].first == vp[k - 1].first ? d + 1 : 0;
        row_rank(vp[k].second, d);
      }
    }
    // The keys (rank << 32 | j) are distinct: keep the Linf smallest.
    if (linf_ <= 4) {
      uint64_t last = 0;
      for (int64_t t = 0; t < linf_; ++t) {
        uint64_t best = ~uint64_t{0};
        for (int j = 0; j < c; ++j) {
          if (keys[j] < best && (t == 0 || keys[j] > last)) best = keys[j];
        }
        keep[idx[static_cast<uint32_t>(best)]] = 1;
        last = best;
      }
    } else {
      std::nth_element(keys, keys + linf_, keys + c);
      for (int64_t t = 0; t < linf_; ++t) keep[idx[static_cast<uint32_t>(keys[t])]] = 1;
    }
  }
}

// lookup3's final mix of (a0 + lo[i], b0 + hi[i], c0) for i < n, written over 32-bit lanes so that the
// compiler vectorises it; out[i] receives F((b << 32) | c) = b xor c, the folded hash.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void FoldedFinalMany(const uint32_t* lo, const uint32_t* hi, int n,
                                                         uint32_t a0, uint32_t b0, uint32_t c0,
                                                         uint32_t* out) {
  for (int i = 0; i < n; ++i) {
    uint32_t a = a0 + lo[i], b = b0 + hi[i], c = c0;
    // clang-format off
    c ^= b; c -= internal::Rot(b, 14);  // NOLINT(whitespace/newline)
    a ^= c; a -= internal::Rot(c, 11);  // NOLINT
    b ^= a; b -= internal::Rot(a, 25);  // NOLINT
    c ^= b; c -= internal::Rot(b, 16);  // NOLINT
    a ^= c; a -= internal::Rot(c, 4);   // NOLINT
    b ^= a; b -= internal::Rot(a, 14);  // NOLINT
    c ^= b; c -= internal::Rot(b, 24);  // NOLINT
    // clang-format on
    out[i] = b ^ c;
  }
}

// FastUnit for a unit of at most kSmallUnit records when Linf <= kSmallLinf: the same choices with few
// data-dependent branches (a unit's records fall into its cells at random, so branches on them mispredict).
//  - Group slots from a per-thread table indexed by gid and stamped with the unit's serial (no search).
//  - F(V) of every record of a bounded unit, hashed 4 at a time (FoldedFinalMany); the full V only for the
//    rare records whose value is 0, NULL, or a possible duplicate.
//  - Duplicate values: a 64-bit filter per cell (one bit of F(V) per record) finds the units whose cells may
//    hold equal values; only then are V and the duplicate numbers d of query.h computed exactly.
//  - The Linf smallest row ranks of a cell: a running top-Linf per cell (min / max exchanges), then a record
//    is kept if its (row rank, row order) is at most the cell's Linf-th smallest.
template <int K, int L, bool kMark>
void Engine::FastSmallUnit(uint32_t unit, Rec* r, int n, FastScratch& s, FastAcc& acc) const {
  // Group slots.
  const uint32_t serial = acc.NextSerial();
  uint32_t* stamp = acc.stamp.data();
  uint8_t slot[kSmallUnit];
  int32_t sg[kSmallUnit], sc[kSmallUnit];
  int ng = 0;
  // The records' value bits for F(V) below, taken in the same loop (each loop over the records costs a
  // mispredicted exit).
  alignas(16) uint32_t lo[kSmallUnit], hi[kSmallUnit];
  bool special = false;  // a NULL or zero value: V is a constant, patched below
  for (int i = 0; i < n; ++i) sc[i] = 0;
  for (int i = 0; i < n; ++i) {
    if constexpr (K == kDoubleValue || K == kInt64Value) {
      uint64_t bits = r[i].v;
      special |= (r[i].unit_local & kNullBit) != 0;
      if constexpr (K == kDoubleValue) {
        special |= (bits << 1) == 0;
      } else {
        const uint32_t h32 = static_cast<uint32_t>(bits >> 32);
        bits =
            static_cast<uint32_t>(bits) ^ (static_cast<int64_t>(bits) >= 0 ? h32 : ~h32);  // hashint8's fold
      }
      lo[i] = static_cast<uint32_t>(bits);
      hi[i] = K == kInt64Value ? 0 : static_cast<uint32_t>(bits >> 32);  // 4-byte input: nothing added to b
    }
    const int32_t g = r[i].gid;
    const uint32_t e = stamp[g];
    // Selects written as masks: a branch on `seen` would mispredict on a good part of the records.
    const uint32_t seen = -static_cast<uint32_t>((e >> 8) == serial);
    const uint32_t k = (static_cast<uint32_t>(ng) & ~seen) | (e & 0xFF & seen);
    stamp[g] = (serial << 8) | k;
    sg[k] = g;
    ++sc[k];
    ng += static_cast<int>(1 + seen);  // + 1 for a new group, + 0 for a seen one
    slot[i] = static_cast<uint8_t>(k);
  }
  int first_of[kSmallUnit];  // kMark: the first record of each slot
  if constexpr (kMark) {
    for (int i = n; i-- > 0;) first_of[slot[i]] = i;
  }
  const int linf = L > 0 ? L : static_cast<int>(linf_);
  int32_t maxc = 0;
  for (int k = 0; k < ng; ++k) maxc = std::max(maxc, sc[k]);
  if (ng <= l0_ && maxc <= linf) {
    // Within its bounds: the unit keeps everything, no hash needed.
    for (int i = 0; i < n; ++i) Emit<K, kMark>(r[i], 1, acc);
    for (int k = 0; k < ng; ++k) EmitCell<kMark>(r, first_of[k], sg[k], 1, acc);
    return;
  }
  const uint32_t au = UnitRank(static_cast<int32_t>(unit));
  uint32_t gr[kSmallUnit];  // r(u, k) per slot
  int32_t kept[kSmallUnit];
  for (int k = 0; k < ng; ++k) {
    gr[k] = internal::Mix32(au ^ a_k_[static_cast<size_t>(sg[k])]);
    kept[k] = 1;
  }
  if (ng > l0_) {
    // Keep the L0 groups with the smallest (r(u, k), a_k, key order).
    int32_t order[kSmallUnit];
    for (int k = 0; k < ng; ++k) order[k] = k;
    const uint32_t* key_order = gi_.order_rank().data();
    std::nth_element(order, order + l0_, order + ng, [&](int32_t a, int32_t b) {
      if (gr[a] != gr[b]) return gr[a] < gr[b];
      const uint32_t aa = a_k_[static_cast<size_t>(sg[a])], ab = a_k_[static_cast<size_t>(sg[b])];
      if (aa != ab) return aa < ab;
      return key_order[sg[a]] < key_order[sg[b]];
    });
    for (int j = static_cast<int>(l0_); j < ng; ++j) kept[order[j]] = 0;
  }
  if (maxc <= linf) {
    for (int i = 0; i < n; ++i) Emit<K, kMark>(r[i], kept[slot[i]], acc);
  } else if constexpr (K == kNoValue) {
    // Every row of a cell has the same V and only counts: keep the first Linf rows of each kept cell.
    int32_t taken[kSmallUnit];
    for (int k = 0; k < ng; ++k) taken[k] = 0;
    for (int i = 0; i < n; ++i) {
      const int k = slot[i];
      Emit<K, kMark>(r[i], kept[k] & (taken[k] < linf ? 1 : 0), acc);
      ++taken[k];
    }
  } else {
    // F(V) of every record (kept cells within Linf included: cheaper than branching on them).
    alignas(16) uint32_t fv[kSmallUnit];
    const int npad = (n + 3) & ~3;  // whole vectors: no scalar tail in FoldedFinalMany
    for (int i = n; i < npad; ++i) lo[i] = hi[i] = 0;
    if constexpr (K == kBoolValue) {
      for (int i = 0; i < n; ++i) special |= (r[i].unit_local & kNullBit) != 0;
      for (int i = 0; i < n; ++i) fv[i] = internal::Fold32(r[i].v != 0 ? true_hash_ : false_hash_);
    } else {
      const internal::SeededLookup3& h = K == kDoubleValue ? row_hash8_ : row_hash4_;
      FoldedFinalMany(lo, hi, npad, h.a(), h.b(), h.c(), fv);
    }
    if (special) {
      for (int i = 0; i < n; ++i) {
        if (r[i].unit_local & kNullBit) {
          fv[i] = internal::Fold32(null_hash_);
        } else if (K == kDoubleValue && (r[i].v << 1) == 0) {
          fv[i] = internal::Fold32(seed_ + 2);  // hashfloat8extended(0 or -0, seed) is the seed
        }
      }
    }
    // Row keys (row rank << 32 | row order), assuming no duplicate values (d = 0); the duplicate filter (a
    // 64-bit mask per cell with one bit of F(V) per record: equal values always collide); and the running
    // top-Linf of each cell, top[k * Linf + t] ascending (min / max exchanges).
    uint64_t* key = s.small_keys.data();
    uint64_t* top = s.top.data();
    uint64_t mask[kSmallUnit];
    for (int k = 0; k < ng; ++k) {
      mask[k] = 0;
      for (int t = 0; t < linf; ++t) top[k * linf + t] = ~uint64_t{0};
    }
    uint8_t maybe_dup_at[kSmallUnit];  // record i's bit was already set in its cell's mask
    uint64_t maybe_dup = 0;
    for (int i = 0; i < n; ++i) {
      const int k = slot[i];
      const uint64_t bit = uint64_t{1} << (fv[i] >> 26);
      const uint64_t hit = mask[k] & bit;
      maybe_dup |= hit;
      maybe_dup_at[i] = hit != 0 ? 1 : 0;
      mask[k] |= bit;
      uint64_t x = (static_cast<uint64_t>(internal::Mix32(gr[k] ^ fv[i])) << 32) | static_cast<uint32_t>(i);
      key[i] = x;
      uint64_t* tk = top + k * linf;
      for (int t = 0; t < linf; ++t) {
        const uint64_t m = tk[t];
        tk[t] = m < x ? m : x;
        x = m < x ? x : m;
      }
    }
    if (maybe_dup != 0) {
      // Some cell may hold equal values: number them exactly (d of query.h: records of the cell with equal
      // V before this one). Only records whose filter bit was already set can have d > 0, and equal V
      // implies equal F(V), so V is computed only for such pairs. Then rebuild the top-Linf of each cell
      // with the corrected keys.
      bool changed = false;
      for (int i = 0; i < n; ++i) {
        if (!maybe_dup_at[i]) continue;
        int64_t d = 0;
        bool have_v = false;
        uint64_t vi = 0;
        for (int j = 0; j < i; ++j) {
          if (slot[j] != slot[i] || fv[j] != fv[i]) continue;
          if (!have_v) {
            vi = FastValueHash<K>(r[i]);
            have_v = true;
          }
          d += FastValueHash<K>(r[j]) == vi ? 1 : 0;
        }
        if (d > 0) {
          const uint64_t hd = internal::PgHashInt8Extended(d, vi);
          key[i] = (static_cast<uint64_t>(internal::Mix32(gr[slot[i]] ^ internal::Fold32(hd))) << 32) |
                   static_cast<uint32_t>(i);
          changed = true;
        }
      }
      if (changed) {
        for (int t = 0; t < ng * linf; ++t) top[t] = ~uint64_t{0};
        for (int i = 0; i < n; ++i) {
          uint64_t x = key[i];
          uint64_t* tk = top + slot[i] * linf;
          for (int t = 0; t < linf; ++t) {
            const uint64_t m = tk[t];
            tk[t] = m < x ? m : x;
            x = m < x ? x : m;
          }
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      const int k = slot[i];
      Emit<K, kMark>(r[i], kept[k] & (key[i] <= top[k * linf + linf - 1] ? 1 : 0), acc);
    }
  }
  for (int k = 0; k < ng; ++k) EmitCell<kMark>(r, first_of[k], sg[k], kept[k], acc);
}

// Contribution bounding and accumulation of one unit's records r[0..n) (in row order): BoundUnit's rules.
template <int K, bool kMark>
void Engine::FastUnit(uint32_t unit, Rec* r, int n, FastScratch& s, FastAcc& acc) const {
  s.Reserve(n);
  int32_t* slot = s.slot.data();
  int32_t* sg = s.gid.data();
  int32_t* sc = s.cnt.data();
  int ng = 0;
  if (n <= kLinearUnit) {
    for (int i = 0; i < n; ++i) {
      const int32_t g = r[i].gid;
      int k = 0;
      while (k < ng && sg[k] != g) ++k;
      if (k == ng) {
        sg[k] = g;
        sc[k] = 0;
        ++ng;
      }
      ++sc[k];
      slot[i] = k;
    }
  } else {
    auto& pairs = s.pairs;
    pairs.clear();
    for (int i = 0; i < n; ++i) pairs.emplace_back(r[i].gid, i);
    std::sort(pairs.begin(), pairs.end());
    for (int i = 0; i < n; ++i) {
      if (i == 0 || pairs[i].first != pairs[i - 1].first) {
        sg[ng] = pairs[i].first;
        sc[ng] = 0;
        ++ng;
      }
      ++sc[ng - 1];
      slot[pairs[i].second] = ng - 1;
    }
  }
  int32_t* first_of = s.first_of.data();  // kMark: the first record of each slot
  if constexpr (kMark) {
    for (int i = n; i-- > 0;) first_of[slot[i]] = i;
  }
  bool bounded = ng > l0_;
  for (int k = 0; k < ng; ++k) bounded |= sc[k] > linf_;
  if (!bounded) {
    // Within its bounds: the unit keeps everything, no hash needed.
    for (int i = 0; i < n; ++i) Emit<K, kMark>(r[i], 1, acc);
    for (int k = 0; k < ng; ++k) EmitCell<kMark>(r, first_of[k], sg[k], 1, acc);
    return;
  }
  const uint32_t au = internal::Fold32(ui_.Hash(static_cast<int32_t>(unit), seed_));
  uint64_t* rank = s.rank.data();
  uint8_t* kept = s.kept.data();
  for (int k = 0; k < ng; ++k) {
    const uint32_t ak = a_k_[sg[k]];
    rank[k] = (static_cast<uint64_t>(internal::Mix32(au ^ ak)) << 32) | ak;
    kept[k] = 1;
  }
  if (ng > l0_) {
    // Keep the L0 groups with the smallest (r(u, k), a_k, key order).
    int32_t* order = s.order.data();
    for (int k = 0; k < ng; ++k) order[k] = k;
    const uint32_t* key_order = gi_.order_rank().data();
    std::nth_element(order, order + l0_, order + ng, [&](int32_t a, int32_t b) {
      if (rank[a] != rank[b]) return rank[a] < rank[b];
      return key_order[sg[a]] < key_order[sg[b]];
    });
    for (int64_t j = l0_; j < ng; ++j) kept[order[j]] = 0;
  }
  bool full = false;
  for (int k = 0; k < ng; ++k) full |= kept[k] && sc[k] > linf_;
  if (!full) {
    for (int i = 0; i < n; ++i) {
      Emit<K, kMark>(r[i], kept[slot[i]], acc);
    }
  } else {
    // The records of each slot, in row order.
    int32_t* begin = s.slot_begin.data();
    int32_t* fill = s.slot_fill.data();
    int32_t* by_slot = s.by_slot.data();
    begin[0] = 0;
    for (int k = 0; k < ng; ++k) {
      begin[k + 1] = begin[k] + sc[k];
      fill[k] = begin[k];
    }
    uint8_t* keep = s.keep.data();
    for (int i = 0; i < n; ++i) {
      const int32_t k = slot[i];
      by_slot[fill[k]++] = i;
      keep[i] = kept[k] && sc[k] <= linf_ ? 1 : 0;
    }
    for (int k = 0; k < ng; ++k) {
      if (kept[k] && sc[k] > linf_) {
        FastKeepRows<K>(r, by_slot + begin[k], sc[k], static_cast<uint32_t>(rank[k] >> 32), s);
      }
    }
    for (int i = 0; i < n; ++i) {
      Emit<K, kMark>(r[i], keep[i], acc);
    }
  }
  for (int k = 0; k < ng; ++k) {
    EmitCell<kMark>(r, first_of[k], sg[k], kept[k], acc);
  }
}

template <int K, bool kMark>
void Engine::FastPartition(int p, FastScratch& s, FastAcc& acc) {
  const int64_t begin = part_begin_[p], end = part_begin_[p + 1];
  if (begin == end) return;
  const uint32_t local_units = uint32_t{1} << shift_;
  const uint32_t mask = local_units - 1;
  s.start.assign(local_units + 1, 0);
  uint32_t* start = s.start.data();
  Rec* in = recs_.data() + begin;
  const int64_t n = end - begin;
  for (int64_t i = 0; i < n; ++i) ++start[(in[i].unit_local & mask) + 1];
  for (uint32_t u = 0; u < local_units; ++u) start[u + 1] += start[u];
  if (s.sorted.size() < static_cast<size_t>(n)) s.sorted.resize(static_cast<size_t>(n));
  Rec* sorted = s.sorted.data();
  s.fill.assign(s.start.begin(), s.start.end() - 1);
  uint32_t* fill = s.fill.data();
  for (int64_t i = 0; i < n; ++i) sorted[fill[in[i].unit_local & mask]++] = in[i];
  const uint32_t base_unit = static_cast<uint32_t>(p) << shift_;
  const bool small_ok = linf_ <= kSmallLinf && !acc.stamp.empty();
  for (uint32_t u = 0; u < local_units; ++u) {
    const uint32_t b = start[u], e = start[u + 1];
    if (b == e) continue;
    const int n_unit = static_cast<int>(e - b);
    if (n_unit <= kSmallUnit && small_ok) {
      if (!kMark && linf_ == 1) {
        FastSmallUnit<K, 1, kMark>(base_unit + u, sorted + b, n_unit, s, acc);
      } else if (!kMark && linf_ == 2) {
        FastSmallUnit<K, 2, kMark>(base_unit + u, sorted + b, n_unit, s, acc);
      } else {
        FastSmallUnit<K, 0, kMark>(base_unit + u, sorted + b, n_unit, s, acc);
      }
    } else {
      FastUnit<K, kMark>(base_unit + u, sorted + b, n_unit, s, acc);
    }
  }
  // The marks go back to the partition (its records in unit order now; FastApplyPass reads them in any
  // order).
  if constexpr (kMark) std::memcpy(in, sorted, static_cast<size_t>(n) * sizeof(Rec));
}

template <bool kMark>
void Engine::FastPass(std::vector<ThreadAcc>& out) {
  const size_t G = static_cast<size_t>(gi_.num_groups());
  const size_t nv = value_q_.size();
  out.assign(threads_, ThreadAcc());
  std::atomic<int> next{0};
  RunThreads(threads_, [&](int th) {
    FastAcc a;
    while ((size_t{1} << a.shift) < FastAcc::kValues + nv) ++a.shift;
    a.cells.assign(G << a.shift, 0);
    if (static_cast<int64_t>(G) <= kSmallUnitMaxGroups) a.stamp.assign(G, 0u);
    if (kMark) a.hist.assign(kLogHistogramBins, 0);
    FastScratch s;
    for (;;) {
      const int p = next.fetch_add(1, std::memory_order_relaxed);
      if (p >= num_partitions_) break;
      switch (fast_kind_) {
        case kDoubleValue:
          FastPartition<kDoubleValue, kMark>(p, s, a);
          break;
        case kInt64Value:
          FastPartition<kInt64Value, kMark>(p, s, a);
          break;
        case kBoolValue:
          FastPartition<kBoolValue, kMark>(p, s, a);
          break;
        default:
          FastPartition<kNoValue, kMark>(p, s, a);
          break;
      }
    }
    if constexpr (kMark) {
      // Every automatic-bounds aggregate reads the one value column: the same histogram for each.
      out[th].histograms.assign(num_hist_, a.hist);
    } else {
      ToThreadAcc(a, out[th]);
    }
  });
}

void Engine::FastApplyPass(std::vector<ThreadAcc>& out) {
  const size_t G = static_cast<size_t>(gi_.num_groups());
  const size_t nv = value_q_.size();
  const int64_t total = part_begin_[num_partitions_];
  out.assign(threads_, ThreadAcc());
  RunThreads(threads_, [&](int th) {
    FastAcc a;
    while ((size_t{1} << a.shift) < FastAcc::kValues + nv) ++a.shift;
    a.cells.assign(G << a.shift, 0);
    const int64_t chunk = (total + threads_ - 1) / threads_;
    const int64_t begin = std::min(total, th * chunk), end = std::min(total, begin + chunk);
    auto apply = [&](auto value_kind) {
      constexpr int K = decltype(value_kind)::value;
      const Rec* r = recs_.data();
      for (int64_t i = begin; i < end; ++i) {
        FastAddIf<K>(r[i], static_cast<int32_t>((r[i].unit_local >> kKeptShift) & 1), a);
        a.at(r[i].gid)[FastAcc::kUnits] += (r[i].unit_local >> kCellShift) & 1;
      }
    };
    switch (fast_kind_) {
      case kDoubleValue:
        apply(std::integral_constant<int, kDoubleValue>());
        break;
      case kInt64Value:
        apply(std::integral_constant<int, kInt64Value>());
        break;
      case kBoolValue:
        apply(std::integral_constant<int, kBoolValue>());
        break;
      default:
        apply(std::integral_constant<int, kNoValue>());
        break;
    }
    ToThreadAcc(a, out[th]);
  });
}

void Engine::ToThreadAcc(const FastAcc& a, ThreadAcc& o) const {
  // The general layout: acc[gid * ncomp + c].
  const size_t G = static_cast<size_t>(gi_.num_groups());
  const size_t ncomp = cp_.components.size();
  const size_t nv = value_q_.size();
  o.acc.assign(G * ncomp, 0);
  o.leaves.assign(num_quantile_, {});
  std::vector<int> value_index(ncomp, -1);
  for (size_t j = 0; j < nv; ++j) value_index[value_comp_[j]] = static_cast<int>(j);
  for (size_t c = 0; c < ncomp; ++c) {
    const CompKind kind = cp_.components[c].kind;
    for (size_t g = 0; g < G; ++g) {
      const int64_t* cell = a.cells.data() + (g << a.shift);
      int64_t v = 0;
      if (kind == CompKind::kRows) {
        v = cell[FastAcc::kRows];
      } else if (kind == CompKind::kNonNull) {
        v = cell[FastAcc::kNonNull];
      } else if (value_index[c] >= 0) {
        v = cell[FastAcc::kValues + static_cast<size_t>(value_index[c])];
      }
      o.acc[g * ncomp + c] = v;
    }
  }
  o.units.resize(G);
  for (size_t g = 0; g < G; ++g) o.units[g] = a.cells[(g << a.shift) + FastAcc::kUnits];
}

void Engine::Pass(bool histograms, std::vector<ThreadAcc>& out) {
  if (fast_) {
    if (histograms) {
      FastPass</*kMark=*/true>(out);
      marked_ = true;
    } else if (marked_) {
      FastApplyPass(out);
    } else {
      FastPass</*kMark=*/false>(out);
    }
    return;
  }
  const size_t G = static_cast<size_t>(gi_.num_groups());
  const size_t ncomp = cp_.components.size();
  if (!histograms) {
    shapes_.clear();
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      if (quantile_slot_[i] >= 0)
        shapes_.push_back(*QuantileTreeShape::Create(*bounds_[i], plan_.quantile_tree));
    }
  }
  out.assign(threads_, ThreadAcc());
  for (ThreadAcc& a : out) {
    if (histograms) {
      a.histograms.assign(num_hist_, std::vector<int64_t>(kLogHistogramBins, 0));
    } else {
      a.acc.assign(G * ncomp, 0);
      a.units.assign(G, 0);
      a.leaves.assign(num_quantile_, {});
    }
  }
  std::atomic<int> next{0};
  RunThreads(threads_, [&](int th) {
    std::vector<Rec> scratch;
    std::vector<uint8_t> keep;
    for (;;) {
      const int p = next.fetch_add(1, std::memory_order_relaxed);
      if (p >= num_partitions_) break;
      ProcessPartition(p, histograms, out[th], scratch, keep);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Noise and results.

absl::StatusOr<int64_t> Noise(const QueryPlan& plan, double scale, RandomBits& bits) {
  if (plan.noise == NoiseKind::kLaplace) return SampleDiscreteLaplaceWithScale(bits, scale);
  return SampleDiscreteGaussianWithSigma(bits, scale);
}

// One candidate group of the finishing step: its key, units kept and integer totals (one per component).
struct FinishGroup {
  const std::vector<Value>* key = nullptr;
  int64_t units = 0;
  const int64_t* totals = nullptr;
  int32_t gid = -1;  // RunQuery's group id (for its quantile trees); -1 in FinishQuery
};

// The engine's last step, shared by RunQuery and FinishQuery: partition selection over the candidates (in
// key order: the selection draws come first, in that order), then the noisy values of every released group,
// aggregate and component in order. `quantiles(gid, aggregate, out)` answers a quantile aggregate.
absl::Status FinishGroups(const QueryPlan& plan, const CompiledPlan& cp,
                          const std::vector<Quantiser>& quantisers,
                          const std::vector<FinishGroup>& candidates,
                          absl::FunctionRef<absl::Status(int32_t, int, std::vector<NoisyValue>&)> quantiles,
                          RandomBits& bits, QueryResult& result) {
  const int n = static_cast<int>(plan.aggregates.size());
  std::vector<const FinishGroup*> released;
  if (cp.private_selection) {
    for (const FinishGroup& g : candidates) {
      VEIL_ASSIGN_OR_RETURN(const bool keep, cp.selector->ShouldKeep(g.units, bits));
      if (keep) released.push_back(&g);
    }
  } else {
    for (const FinishGroup& g : candidates) released.push_back(&g);
  }

  for (const GroupBy& g : plan.group_by) result.key_names.push_back(g.column);
  for (const CompiledAggregate& ca : cp.aggregates) result.aggregate_names.push_back(ca.name);
  for (const FinishGroup* g : released) {
    ResultRow row;
    row.key = *g->key;
    row.values.resize(n);
    const int64_t* a = g->totals;
    for (int i = 0; i < n; ++i) {
      const Aggregate& agg = plan.aggregates[i];
      const CompiledAggregate& ca = cp.aggregates[i];
      std::vector<NoisyValue>& out = row.values[i];
      if (IsQuantile(agg.function)) {
        VEIL_RETURN_IF_ERROR(quantiles(g->gid, i, out));
        continue;
      }
      // Noisy integer sums of the aggregate's components, with their interval half-widths.
      std::vector<double> noisy, hw;
      for (int c : ca.components) {
        VEIL_ASSIGN_OR_RETURN(const int64_t z, Noise(plan, cp.components[c].scale, bits));
        const int64_t truth = cp.components[c].kind == CompKind::kUnits ? g->units : a[c];
        noisy.push_back(static_cast<double>(truth + z));
        hw.push_back(cp.components[c].ci_half_width);
      }
      const Quantiser& q0 = quantisers[ca.components[0]];
      switch (agg.function) {
        case AggregateFunction::kCountStar:
        case AggregateFunction::kCount:
        case AggregateFunction::kCountDistinctUnits:
          out.push_back(
              {std::max(0.0, noisy[0]), std::max(0.0, noisy[0] - hw[0]), std::max(0.0, noisy[0] + hw[0])});
          break;
        case AggregateFunction::kSum:
          out.push_back({noisy[0] * q0.unit, (noisy[0] - hw[0]) * q0.unit, (noisy[0] + hw[0]) * q0.unit});
          break;
        default: {
          const Quantiser& qs = quantisers[ca.components[1]];
          const double scale = qs.scale, mid = qs.mid, half = qs.half;
          const double count = std::max(1.0, noisy[0]);
          const double c_lo = noisy[0] - hw[0], c_hi = noisy[0] + hw[0];
          // E[u] (u in [-1, 1]) and its interval: corners of s / c over the boxes (c_lo <= 0: no
          // information).
          auto ratio_interval = [&](double s_lo, double s_hi, double lo_clamp, double hi_clamp) {
            if (c_lo <= 0) return std::pair<double, double>(lo_clamp, hi_clamp);
            const double r[4] = {s_lo / c_lo, s_lo / c_hi, s_hi / c_lo, s_hi / c_hi};
            return std::pair<double, double>(std::clamp(*std::min_element(r, r + 4), lo_clamp, hi_clamp),
                                             std::clamp(*std::max_element(r, r + 4), lo_clamp, hi_clamp));
          };
          const double s1 = noisy[1] / scale, s1_hw = hw[1] / scale;
          const double eu = std::clamp(s1 / count, -1.0, 1.0);
          const auto [eu_lo, eu_hi] = ratio_interval(s1 - s1_hw, s1 + s1_hw, -1.0, 1.0);
          if (agg.function == AggregateFunction::kAvg) {
            out.push_back({mid + half * eu, mid + half * eu_lo, mid + half * eu_hi});
            break;
          }
          // Squares: z = 2u^2 - 1, so E[u^2] = (E[z] + 1) / 2.
          const double s2 = noisy[2] / scale, s2_hw = hw[2] / scale;
          const double ez = std::clamp(s2 / count, -1.0, 1.0);
          const auto [ez_lo, ez_hi] = ratio_interval(s2 - s2_hw, s2 + s2_hw, -1.0, 1.0);
          const double eu2 = (ez + 1) / 2, eu2_lo = (ez_lo + 1) / 2, eu2_hi = (ez_hi + 1) / 2;
          const double var_u = std::clamp(eu2 - eu * eu, 0.0, 1.0);
          const double max_sq = std::max(eu_lo * eu_lo, eu_hi * eu_hi);
          const double min_sq = (eu_lo <= 0 && eu_hi >= 0) ? 0.0 : std::min(eu_lo * eu_lo, eu_hi * eu_hi);
          const double var_lo = std::clamp(eu2_lo - max_sq, 0.0, 1.0);
          const double var_hi = std::clamp(eu2_hi - min_sq, 0.0, 1.0);
          const double h2 = half * half;
          if (agg.function == AggregateFunction::kVariance) {
            out.push_back({h2 * var_u, h2 * var_lo, h2 * var_hi});
          } else {
            out.push_back({half * std::sqrt(var_u), half * std::sqrt(var_lo), half * std::sqrt(var_hi)});
          }
          break;
        }
      }
    }
    result.rows.push_back(std::move(row));
  }
  if (!bits.ok()) return bits.status();
  result.cost = cp.cost;
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePlan(const QueryPlan& plan) { return Compile(plan).status(); }

absl::StatusOr<QueryCost> PlanCost(const QueryPlan& plan) {
  VEIL_ASSIGN_OR_RETURN(CompiledPlan cp, Compile(plan));
  return std::move(cp.cost);
}

absl::StatusOr<QueryResult> RunQuery(const Table& table,
                                     std::optional<std::span<const int64_t>> selected_rows,
                                     const QueryPlan& plan, RandomBits& bits) {
  return internal::RunQueryForTest(table, selected_rows, plan, bits, /*allow_fast_path=*/true);
}

absl::StatusOr<QueryResult> internal::RunQueryForTest(const Table& table,
                                                      std::optional<std::span<const int64_t>> selected_rows,
                                                      const QueryPlan& plan, RandomBits& bits,
                                                      bool allow_fast_path) {
  VEIL_ASSIGN_OR_RETURN(const CompiledPlan cp, Compile(plan));
  VEIL_ASSIGN_OR_RETURN(const RowSet rs, MakeRowSet(table, selected_rows));
  VEIL_ASSIGN_OR_RETURN(const GroupIndex gi, GroupIndex::Build(table, plan, rs));
  VEIL_ASSIGN_OR_RETURN(const UnitIndex ui, BuildUnitIndex(table, plan, rs));
  // The per-query bounding seed: 62 bits (query.h).
  VEIL_ASSIGN_OR_RETURN(const uint64_t seed, DrawBoundingSeed(bits));
  Engine engine(table, plan, cp, rs, gi, ui, seed);
  if (!allow_fast_path) engine.DisableFastPath();
  VEIL_RETURN_IF_ERROR(engine.Prepare());
  QueryResult result;
  const int n = static_cast<int>(plan.aggregates.size());
  std::vector<ThreadAcc> accs;
  if (engine.num_histograms() > 0) {
    engine.FinishQuantisers();
    engine.Pass(/*histograms=*/true, accs);
    for (int i = 0; i < n; ++i) {
      const int slot = engine.histogram_slot()[i];
      if (slot < 0) continue;
      std::vector<int64_t> counts(kLogHistogramBins, 0);
      for (const ThreadAcc& a : accs) {
        for (int b = 0; b < kLogHistogramBins; ++b) counts[b] += a.histograms[slot][b];
      }
      VEIL_ASSIGN_OR_RETURN(Bounds b,
                            ChooseBoundsFromLogHistogram(counts, cp.aggregates[i].bounds_epsilon,
                                                         EffectiveL0(plan) * plan.max_rows_per_group, bits));
      if (IsQuantile(plan.aggregates[i].function) && !(b.lo < b.hi))
        b.hi = b.lo + std::max(1.0, std::fabs(b.lo));
      engine.SetBounds(i, b);
      result.chosen_bounds.push_back({cp.aggregates[i].name, b});
    }
  }
  engine.FinishQuantisers();
  engine.Pass(/*histograms=*/false, accs);

  // Merge.
  const size_t G = static_cast<size_t>(gi.num_groups());
  const size_t ncomp = cp.components.size();
  std::vector<int64_t> acc(G * ncomp, 0), units(G, 0);
  for (const ThreadAcc& a : accs) {
    for (size_t k = 0; k < acc.size(); ++k) acc[k] += a.acc[k];
    for (size_t g = 0; g < G; ++g) units[g] += a.units[g];
  }
  std::vector<std::vector<uint64_t>> merged_leaves(engine.num_quantile_aggregates());
  for (int s = 0; s < engine.num_quantile_aggregates(); ++s) {
    for (const ThreadAcc& a : accs)
      merged_leaves[s].insert(merged_leaves[s].end(), a.leaves[s].begin(), a.leaves[s].end());
    std::sort(merged_leaves[s].begin(), merged_leaves[s].end());
  }

  // Released groups, in key order; the partition selection draws come first, in that order.
  std::vector<int32_t> candidates;
  if (gi.is_public() || plan.group_by.empty()) {
    candidates = gi.public_gids();
  } else {
    for (size_t g = 0; g < G; ++g) {
      if (units[g] > 0) candidates.push_back(static_cast<int32_t>(g));
    }
  }
  candidates = gi.SortedGids(candidates);
  std::vector<FinishGroup> finish;
  finish.reserve(candidates.size());
  for (int32_t g : candidates) {
    finish.push_back({&gi.key(g), units[g], acc.data() + static_cast<size_t>(g) * ncomp, g});
  }
  std::vector<uint32_t> group_leaves;
  const auto quantiles = [&](int32_t g, int i, std::vector<NoisyValue>& out) -> absl::Status {
    const Aggregate& agg = plan.aggregates[i];
    const int slot = engine.quantile_slot()[i];
    const std::vector<uint64_t>& ml = merged_leaves[slot];
    const auto lo = std::lower_bound(ml.begin(), ml.end(), static_cast<uint64_t>(g) << 32);
    const auto hi = std::lower_bound(lo, ml.end(), (static_cast<uint64_t>(g) + 1) << 32);
    group_leaves.clear();
    for (auto it = lo; it != hi; ++it) group_leaves.push_back(static_cast<uint32_t>(*it));
    GroupQuantileTree tree(engine.shapes()[slot], group_leaves, cp.aggregates[i].tree_noise);
    std::vector<double> ranks;
    if (agg.function == AggregateFunction::kPercentileCont) {
      ranks.push_back(agg.percentile);
    } else {
      for (int k = 0; k <= agg.num_quantiles; ++k)
        ranks.push_back(static_cast<double>(k) / agg.num_quantiles);
    }
    for (double q : ranks) {
      VEIL_ASSIGN_OR_RETURN(const double v, tree.Quantile(q, bits));
      out.push_back({v, std::nullopt, std::nullopt});
    }
    return absl::OkStatus();
  };
  VEIL_RETURN_IF_ERROR(FinishGroups(plan, cp, engine.quantisers(), finish, quantiles, bits, result));
  return result;
}

absl::StatusOr<uint64_t> DrawBoundingSeed(RandomBits& bits) {
  VEIL_ASSIGN_OR_RETURN(const uint64_t word, bits.Next64());
  return word >> 2;
}

namespace {

BoundedSumKind SumKindOf(CompKind k) {
  switch (k) {
    case CompKind::kRows:
      return BoundedSumKind::kRows;
    case CompKind::kNonNull:
      return BoundedSumKind::kNonNull;
    case CompKind::kUnits:
      return BoundedSumKind::kUnits;
    case CompKind::kSum:
      return BoundedSumKind::kSum;
    case CompKind::kNormSum:
      return BoundedSumKind::kNormSum;
    case CompKind::kNormSquares:
      return BoundedSumKind::kNormSquares;
  }
  return BoundedSumKind::kRows;
}

// The plan's components as BoundedSums, or Unimplemented for what has no such form.
absl::StatusOr<std::vector<BoundedSum>> SumsOf(const QueryPlan& plan, const CompiledPlan& cp) {
  for (size_t i = 0; i < plan.aggregates.size(); ++i) {
    const Aggregate& a = plan.aggregates[i];
    if (IsQuantile(a.function)) {
      return absl::UnimplementedError(absl::StrCat(
          cp.aggregates[i].name, ": quantiles are computed from a tree per group, not from bounded sums"));
    }
    if (cp.aggregates[i].auto_bounds) {
      return absl::UnimplementedError(
          absl::StrCat(cp.aggregates[i].name,
                       ": automatic bounds need a pass over the values (give contribution bounds)"));
    }
  }
  std::vector<BoundedSum> sums;
  for (const Component& c : cp.components) {
    BoundedSum s;
    s.kind = SumKindOf(c.kind);
    const Aggregate& a = plan.aggregates[c.aggregate];
    if (s.kind != BoundedSumKind::kRows && s.kind != BoundedSumKind::kUnits) s.column = a.column;
    if (s.kind == BoundedSumKind::kSum || s.kind == BoundedSumKind::kNormSum ||
        s.kind == BoundedSumKind::kNormSquares) {
      s.bounds = *a.bounds;
      s.bits = c.bits;
    }
    sums.push_back(std::move(s));
  }
  return sums;
}

}  // namespace

absl::StatusOr<std::vector<BoundedSum>> BoundedSums(const QueryPlan& plan) {
  VEIL_ASSIGN_OR_RETURN(const CompiledPlan cp, Compile(plan));
  return SumsOf(plan, cp);
}

absl::StatusOr<QueryResult> FinishQuery(const QueryPlan& plan, std::vector<BoundedGroup> groups,
                                        RandomBits& bits) {
  VEIL_ASSIGN_OR_RETURN(const CompiledPlan cp, Compile(plan));
  VEIL_ASSIGN_OR_RETURN(const std::vector<BoundedSum> sums, SumsOf(plan, cp));
  const size_t ncomp = sums.size();
  absl::flat_hash_map<std::string, size_t> by_key;
  for (size_t i = 0; i < groups.size(); ++i) {
    const BoundedGroup& g = groups[i];
    if (g.key.size() != plan.group_by.size()) {
      return Invalid(absl::StrCat("bounded group ", i, " has ", g.key.size(), " key values, expected ",
                                  plan.group_by.size()));
    }
    if (g.totals.size() != ncomp) {
      return Invalid(
          absl::StrCat("bounded group ", i, " has ", g.totals.size(), " totals, expected ", ncomp));
    }
    if (g.units < 0) return Invalid(absl::StrCat("bounded group ", i, " has a negative number of units"));
    if (!by_key.emplace(CanonicalKeyText(g.key), i).second) {
      return Invalid(absl::StrCat("bounded group ", i, " repeats the key of an earlier one"));
    }
  }
  // The candidates: as RunQuery's (every public key, or the one global group, with zeros when absent; else
  // the groups with units), in key order.
  const std::vector<int64_t> zeros(ncomp, 0);
  std::vector<std::vector<Value>> listed;
  std::vector<FinishGroup> candidates;
  if (plan.group_by.empty()) {
    listed.push_back({});
    const auto it = by_key.find(CanonicalKeyText({}));
    const BoundedGroup* g = it == by_key.end() ? nullptr : &groups[it->second];
    candidates.push_back({&listed[0], g ? g->units : 0, g ? g->totals.data() : zeros.data(), -1});
  } else if (plan.public_groups.has_value()) {
    size_t matched = 0;
    for (const std::vector<Value>& key : *plan.public_groups) {
      const auto it = by_key.find(CanonicalKeyText(key));
      const BoundedGroup* g = it == by_key.end() ? nullptr : &groups[it->second];
      if (g != nullptr) ++matched;
      candidates.push_back({&key, g ? g->units : 0, g ? g->totals.data() : zeros.data(), -1});
    }
    if (matched != groups.size()) return Invalid("a bounded group's key is not one of the public groups");
  } else {
    for (const BoundedGroup& g : groups) {
      if (g.units > 0) candidates.push_back({&g.key, g.units, g.totals.data(), -1});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FinishGroup& a, const FinishGroup& b) { return KeyLess(*a.key, *b.key); });
  // The quantisers of the components (the constants of the results: grid, midpoint, half-width).
  std::vector<Quantiser> quantisers(cp.components.size());
  for (size_t c = 0; c < cp.components.size(); ++c) {
    const Aggregate& a = plan.aggregates[cp.components[c].aggregate];
    quantisers[c].Set(cp.components[c], nullptr, IsCount(a.function) ? Bounds{0, 0} : *a.bounds);
  }
  QueryResult result;
  const auto no_quantiles = [](int32_t, int, std::vector<NoisyValue>&) -> absl::Status {
    return absl::InternalError("FinishQuery has no quantile trees");
  };
  VEIL_RETURN_IF_ERROR(FinishGroups(plan, cp, quantisers, candidates, no_quantiles, bits, result));
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// The plain (non-private) baseline.

absl::StatusOr<QueryResult> RunPlainAggregation(const Table& table,
                                                std::optional<std::span<const int64_t>> selected_rows,
                                                const QueryPlan& plan) {
  // Shape checks only (no budget): reuse the plan validation with a valid budget.
  QueryPlan shape = plan;
  shape.epsilon = 1;
  shape.delta = 0.5;
  shape.noise = NoiseKind::kLaplace;
  VEIL_RETURN_IF_ERROR(ValidatePlanImpl(shape));
  VEIL_ASSIGN_OR_RETURN(const RowSet rs, MakeRowSet(table, selected_rows));
  VEIL_ASSIGN_OR_RETURN(const GroupIndex gi, GroupIndex::Build(table, plan, rs));
  const int n = static_cast<int>(plan.aggregates.size());
  std::vector<const Column*> cols(n, nullptr);
  const Column* unit_col = table.FindColumn(plan.privacy_unit_column);
  if (unit_col == nullptr)
    return Invalid(absl::StrCat("unknown privacy unit column ", plan.privacy_unit_column));
  bool need_values = false, need_units = false;
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    if (a.function == AggregateFunction::kCountDistinctUnits) need_units = true;
    if (!NeedsColumn(a.function)) continue;
    cols[i] = table.FindColumn(a.column);
    if (cols[i] == nullptr)
      return Invalid(absl::StrCat("unknown column ", a.column, " in ", AggregateName(a)));
    if (a.function != AggregateFunction::kCount && cols[i]->type() != DataType::kInt64 &&
        cols[i]->type() != DataType::kDouble && cols[i]->type() != DataType::kBool) {
      return Invalid(absl::StrCat(AggregateName(a), " needs a numeric column"));
    }
    if (IsQuantile(a.function)) need_values = true;
  }
  const size_t G = static_cast<size_t>(gi.num_groups());
  // Per thread: rows[g], and per aggregate count[g], sum[g], sum of squares[g].
  struct Acc {
    std::vector<int64_t> rows;
    std::vector<int64_t> count;     // [i * G + g]
    std::vector<long double> sum;   // [i * G + g]
    std::vector<long double> sum2;  // [i * G + g]
  };
  const int T = ThreadsFor(rs.count);
  std::vector<Acc> accs(T);
  const int64_t chunk = (rs.count + T - 1) / T;
  RunThreads(T, [&](int th) {
    Acc& a = accs[th];
    a.rows.assign(G, 0);
    a.count.assign(static_cast<size_t>(n) * G, 0);
    a.sum.assign(static_cast<size_t>(n) * G, 0);
    a.sum2.assign(static_cast<size_t>(n) * G, 0);
    const int64_t begin = std::min(rs.count, th * chunk), end = std::min(rs.count, begin + chunk);
    for (int64_t k = begin; k < end; ++k) {
      const int64_t row = rs.Row(k);
      const int32_t g = gi.Gid(row);
      if (g < 0) continue;
      ++a.rows[g];
      for (int i = 0; i < n; ++i) {
        const Column* c = cols[i];
        if (c == nullptr) continue;
        const size_t slot = static_cast<size_t>(i) * G + static_cast<size_t>(g);
        if (plan.aggregates[i].function == AggregateFunction::kCount) {
          // NaN counts as NULL, as in RunQuery.
          a.count[slot] +=
              c->IsNull(row) || (c->type() == DataType::kDouble && std::isnan(c->GetDouble(row))) ? 0 : 1;
          continue;
        }
        if (c->type() == DataType::kDouble && !c->IsNull(row)) {
          const double x = c->GetDouble(row);
          if (std::isnan(x)) continue;
          ++a.count[slot];
          a.sum[slot] += x;
          if (plan.aggregates[i].function == AggregateFunction::kVariance ||
              plan.aggregates[i].function == AggregateFunction::kStddev) {
            a.sum2[slot] += static_cast<long double>(x) * x;
          }
        } else {
          const std::optional<double> x = NumericValue(*c, row);
          if (!x.has_value()) continue;
          ++a.count[slot];
          a.sum[slot] += *x;
          a.sum2[slot] += static_cast<long double>(*x) * *x;
        }
      }
    }
  });
  Acc total = std::move(accs[0]);
  for (int th = 1; th < T; ++th) {
    for (size_t g = 0; g < G; ++g) total.rows[g] += accs[th].rows[g];
    for (size_t k = 0; k < total.count.size(); ++k) {
      total.count[k] += accs[th].count[k];
      total.sum[k] += accs[th].sum[k];
      total.sum2[k] += accs[th].sum2[k];
    }
  }
  // Distinct units and quantile values per group, when asked (slow path: not part of the benchmark).
  std::vector<int64_t> distinct_units(G, 0);
  if (need_units) {
    std::vector<std::pair<int32_t, std::string>> pairs;
    for (int64_t k = 0; k < rs.count; ++k) {
      const int64_t row = rs.Row(k);
      const int32_t g = gi.Gid(row);
      if (g < 0 || unit_col->IsNull(row)) continue;
      pairs.emplace_back(g, HashText(*unit_col, row));
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    for (const auto& p : pairs) ++distinct_units[p.first];
  }
  std::vector<std::vector<std::vector<double>>> values(n);
  if (need_values) {
    for (int i = 0; i < n; ++i) {
      if (!IsQuantile(plan.aggregates[i].function)) continue;
      values[i].resize(G);
      for (int64_t k = 0; k < rs.count; ++k) {
        const int64_t row = rs.Row(k);
        const int32_t g = gi.Gid(row);
        if (g < 0) continue;
        const std::optional<double> x = NumericValue(*cols[i], row);
        if (x.has_value()) values[i][g].push_back(*x);
      }
      for (auto& v : values[i]) std::sort(v.begin(), v.end());
    }
  }
  auto exact_quantile = [](const std::vector<double>& v, double q) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(v.size() - 1, lo + 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
  };

  std::vector<int32_t> out_gids;
  if (gi.is_public() || plan.group_by.empty()) {
    out_gids = gi.public_gids();
  } else {
    for (size_t g = 0; g < G; ++g) {
      if (total.rows[g] > 0) out_gids.push_back(static_cast<int32_t>(g));
    }
  }
  out_gids = gi.SortedGids(out_gids);
  QueryResult result;
  for (const GroupBy& g : plan.group_by) result.key_names.push_back(g.column);
  for (const Aggregate& a : plan.aggregates) result.aggregate_names.push_back(AggregateName(a));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int32_t g : out_gids) {
    ResultRow row;
    row.key = gi.key(g);
    row.values.resize(n);
    for (int i = 0; i < n; ++i) {
      const Aggregate& a = plan.aggregates[i];
      const size_t slot = static_cast<size_t>(i) * G + static_cast<size_t>(g);
      const double cnt = static_cast<double>(total.count[slot]);
      const long double sum = total.sum[slot];
      auto push = [&](double v) { row.values[i].push_back({v, std::nullopt, std::nullopt}); };
      switch (a.function) {
        case AggregateFunction::kCountStar:
          push(static_cast<double>(total.rows[g]));
          break;
        case AggregateFunction::kCount:
          push(cnt);
          break;
        case AggregateFunction::kCountDistinctUnits:
          push(static_cast<double>(distinct_units[g]));
          break;
        case AggregateFunction::kSum:
          push(static_cast<double>(sum));
          break;
        case AggregateFunction::kAvg:
          push(cnt > 0 ? static_cast<double>(sum / cnt) : nan);
          break;
        case AggregateFunction::kVariance:
        case AggregateFunction::kStddev: {
          if (cnt <= 0) {
            push(nan);
            break;
          }
          const long double mean = sum / cnt;
          const long double var = std::max(0.0L, total.sum2[slot] / cnt - mean * mean);
          push(a.function == AggregateFunction::kVariance ? static_cast<double>(var)
                                                          : static_cast<double>(std::sqrt(var)));
          break;
        }
        case AggregateFunction::kPercentileCont:
          push(exact_quantile(values[i][g], a.percentile));
          break;
        case AggregateFunction::kApproxQuantiles:
          for (int k = 0; k <= a.num_quantiles; ++k) {
            push(exact_quantile(values[i][g], static_cast<double>(k) / a.num_quantiles));
          }
          break;
      }
    }
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace veil::dp
