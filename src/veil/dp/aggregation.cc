#include "veil/dp/aggregation.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

}  // namespace internal

namespace {

using table::Column;
using table::DataType;
using table::Table;
using table::Value;

constexpr int64_t kMaxBound = 1'000'000;  // L0 and Linf
constexpr int kMaxPrecisionBits = 20;     // fixed point: |quantised value| <= 2^20
constexpr int kMinPrecisionBits = 4;
constexpr int32_t kNullPayload = std::numeric_limits<int32_t>::min();
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
  int bits = 0;                 // precision of kSum / kNormSum / kNormSquares
  int64_t group_sensitivity = 1;  // Linf * max |per-row value| in integer units
  double epsilon = 0;           // kLaplace
  double rho = 0;               // kGaussian
  double delta = 0;             // kGaussian: share of delta used for the conversion
  double scale = 0;             // discrete Laplace scale t, or discrete Gaussian sigma, in integer units
  double alpha = kDefaultCiAlpha;  // the failure probability of this component's interval
  double ci_half_width = 0;     // in integer units
  double stddev = 0;            // in integer units
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
    return Invalid(absl::StrCat("max_rows_per_group must be in [1, ", kMaxBound, "], got ",
                                plan.max_rows_per_group));
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
      if (!std::isfinite(g.bucket_boundaries[j]) || (j > 0 && !(g.bucket_boundaries[j] > g.bucket_boundaries[j - 1]))) {
        return Invalid(absl::StrCat("bucket boundaries of ", g.column, " must be finite and strictly increasing"));
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
    }
    if (a.function == AggregateFunction::kPercentileCont && !(a.percentile >= 0 && a.percentile <= 1)) {
      return Invalid(absl::StrCat(name, ": percentile must be in [0, 1], got ", a.percentile));
    }
    if (a.function == AggregateFunction::kApproxQuantiles && (a.num_quantiles < 1 || a.num_quantiles > 1000)) {
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
      std::string text;
      for (const Value& v : key) absl::StrAppend(&text, v.index(), ":", table::FormatValue(v), "\x1f");
      if (!seen.insert(text).second) return Invalid(absl::StrCat("public group ", i, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

// The precision bits of a fixed-point sum component whose per-row magnitude is at most 2^bits in integer
// units: the largest bits <= 20 that keeps the noise within the samplers' ranges.
absl::StatusOr<int> PrecisionBits(const QueryPlan& plan, double epsilon, double rho, const std::string& name) {
  const double l0 = static_cast<double>(plan.max_groups_contributed);
  const double linf = static_cast<double>(plan.max_rows_per_group);
  double room;  // log2 of the largest allowed 2^bits
  if (plan.noise == NoiseKind::kLaplace) {
    room = std::floor(std::log2(std::ldexp(epsilon, 47) / (l0 * linf)));  // t = L0 Linf 2^bits / eps <= 2^47
  } else {
    room = std::floor(std::log2(std::ldexp(std::sqrt(2 * rho), 23) / (std::sqrt(l0) * linf)));  // sigma <= 2^23
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
      ca.bounds_epsilon = parts[i].epsilon * f;
      agg_eps[i] = parts[i].epsilon * (1 - f);
    }
    gauss_eps += agg_eps[i];
    gauss_delta += parts[i].delta;
  }
  if (gaussian) {
    VEIL_ASSIGN_OR_RETURN(rho_total, ApproxDpToZcdp(ApproxDp{gauss_eps, gauss_delta}));
  }
  const int64_t l0 = plan.max_groups_contributed;
  const int64_t linf = plan.max_rows_per_group;

  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    CompiledAggregate& ca = cp.aggregates[i];
    if (ca.auto_bounds) {
      VEIL_RETURN_IF_ERROR(accountant.AddLaplace(absl::StrCat(ca.name, " automatic bounds"), ca.bounds_epsilon));
      const double t = static_cast<double>(l0 * linf) / ca.bounds_epsilon;
      if (t > std::ldexp(1.0, 47)) return Invalid(absl::StrCat(ca.name, ": automatic bounds epsilon too small"));
      cp.cost.mechanisms.push_back(absl::StrFormat("%s automatic bounds: log-histogram, discrete Laplace scale %.6g, "
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
        VEIL_RETURN_IF_ERROR(accountant.AddGaussian(absl::StrCat(ca.name, " quantile tree"), share_rho, share_delta));
        ca.tree_noise = {NoiseKind::kGaussian,
                         static_cast<double>(linf) * std::sqrt(static_cast<double>(l0 * h)) / std::sqrt(2 * share_rho)};
        VEIL_ASSIGN_OR_RETURN(ca.tree_stddev, DiscreteGaussianStddev(ca.tree_noise.scale));
      }
      if (ca.tree_noise.scale > (gaussian ? std::ldexp(1.0, 23) : std::ldexp(1.0, 47))) {
        return Invalid(absl::StrCat(ca.name, ": the quantile tree noise would be too large"));
      }
      cp.cost.mechanisms.push_back(absl::StrFormat(
          "%s: quantile tree (branching %d, height %d), discrete %s noise %.6g per node", ca.name,
          plan.quantile_tree.branching_factor, h, gaussian ? "Gaussian sigma" : "Laplace scale", ca.tree_noise.scale));
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
        kinds = {{CompKind::kNonNull, " count"}, {CompKind::kNormSum, " sum"}, {CompKind::kNormSquares, " squares"}};
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
        if (c.scale > std::ldexp(1.0, 47)) return Invalid(absl::StrCat(c.name, ": the noise would be too large"));
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
          "noise stddev %.4g per tree node; a quantile's rank error is about stddev * sqrt(%d) values out of the "
          "group's count (e.g. %.2g%% of the ranks at %d values)",
          ca.tree_stddev, plan.quantile_tree.height * plan.quantile_tree.branching_factor / 2,
          100 * ca.tree_stddev * std::sqrt(plan.quantile_tree.height * plan.quantile_tree.branching_factor / 2.0) /
              kReferenceCount,
          kReferenceCount);
    } else {
      const Component& first = cp.components[ca.components[0]];
      if (IsCount(a.function)) {
        e.stddev = first.stddev;
        e.half_width = first.ci_half_width;
      } else if (a.function == AggregateFunction::kSum) {
        if (a.bounds.has_value()) {
          const double m = std::max(std::fabs(a.bounds->lo), std::fabs(a.bounds->hi));
          const double g = m > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(m))) - first.bits) : 1.0;
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
        const double sd_u = std::hypot(sum.stddev / std::ldexp(1.0, sum.bits), first.stddev) / kReferenceCount;
        const double half = a.bounds.has_value() ? (a.bounds->hi - a.bounds->lo) / 2 : 1.0;
        e.data_dependent = true;
        e.reference_count = kReferenceCount;
        double sd = sd_u * half;
        if (a.function != AggregateFunction::kAvg) {
          // Var = half^2 (E[u^2] - E[u]^2): the squares' noise dominates; E[u]^2's error is at most 2 sd_u.
          const Component& sq = cp.components[ca.components[2]];
          const double sd_w = std::hypot(sq.stddev / std::ldexp(1.0, sq.bits), first.stddev) / kReferenceCount / 2;
          sd = half * half * std::hypot(sd_w, 2 * sd_u);
          if (a.function == AggregateFunction::kStddev) sd = std::sqrt(sd);
        }
        e.stddev = sd;
        e.half_width = z_level * sd;
        e.note = absl::StrFormat("at a group of %d values%s; the error shrinks as 1/count", kReferenceCount,
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
  if (!selected.has_value()) {
    rs.count = t.num_rows();
    return rs;
  }
  rs.rows = selected->data();
  rs.count = static_cast<int64_t>(selected->size());
  for (int64_t i = 0; i < rs.count; ++i) {
    const int64_t r = rs.rows[i];
    if (r < 0 || r >= t.num_rows()) {
      return Invalid(absl::StrCat("selected_rows[", i, "] = ", r, " is outside the table (", t.num_rows(), " rows)"));
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
  if (!g.bucket_boundaries.empty() && c.type() == DataType::kDouble && std::isnan(c.GetDouble(row))) return true;
  return false;
}

Value KeyValueOf(const Column& c, const GroupBy& g, int64_t row) {
  if (RowIsNullKey(c, g, row)) return std::monostate();
  if (!g.bucket_boundaries.empty()) return static_cast<int64_t>(RowKeyBits(c, g, row));
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
  if (cols.size() == 1 && cols[0]->type() == DataType::kString && plan.group_by[0].bucket_boundaries.empty()) {
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
    uint64_t product = 1;
    bool product_overflow = false;
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
            const auto [it, added] = c.index.try_emplace(RowKeyBits(col, *c.spec, row),
                                                         static_cast<int32_t>(c.values.size()));
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
      const uint64_t card = c.values.size() + 1;  // +1: room for "a public value absent from the data"
      if (product > (uint64_t{1} << 62) / card) product_overflow = true;
      product *= card;
    }
    if (product_overflow) return Invalid("too many distinct GROUP BY keys");
    std::vector<uint64_t> stride(cols.size());
    uint64_t s = 1;
    for (size_t j = cols.size(); j-- > 0;) {
      stride[j] = s;
      s *= cc[j].values.size() + 1;
    }
    absl::flat_hash_map<uint64_t, int32_t> combined_to_gid;
    gi.owned_row_gid_.assign(static_cast<size_t>(t.num_rows()), -1);
    if (gi.is_public_) {
      for (size_t k = 0; k < plan.public_groups->size(); ++k) {
        const auto& key = (*plan.public_groups)[k];
        const int32_t gid = static_cast<int32_t>(gi.keys_.size());
        uint64_t combined = 0;
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
              if (dc.has_value()) bits = static_cast<uint64_t>(*dc);
              else present = false;
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
              if (it == cc[j].index.end()) present = false;
              else code = static_cast<uint64_t>(it->second);
            }
          }
          combined += code * stride[j];
        }
        if (present) combined_to_gid.emplace(combined, gid);
        gi.keys_.push_back(key);
        gi.public_gids_.push_back(gid);
      }
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        uint64_t combined = 0;
        for (size_t j = 0; j < cols.size(); ++j) combined += static_cast<uint64_t>(cc[j].codes[row]) * stride[j];
        const auto it = combined_to_gid.find(combined);
        gi.owned_row_gid_[row] = it == combined_to_gid.end() ? -1 : it->second;
      }
    } else {
      const bool direct = product <= (uint64_t{1} << 24);
      std::vector<int32_t> direct_gid(direct ? product : 0, -1);
      for (int64_t i = 0; i < rs.count; ++i) {
        const int64_t row = rs.Row(i);
        uint64_t combined = 0;
        for (size_t j = 0; j < cols.size(); ++j) combined += static_cast<uint64_t>(cc[j].codes[row]) * stride[j];
        int32_t* slot;
        if (direct) {
          slot = &direct_gid[combined];
        } else {
          slot = &combined_to_gid.try_emplace(combined, -1).first->second;
        }
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
  std::vector<int64_t> rep_row;  // non-string units: one row of each unit (for its text)

  // H(T(u), seed) of query.h.
  uint64_t Hash(int32_t unit, uint64_t seed) const {
    if (column->type() == DataType::kString) {
      return internal::PgHashBytesExtended(column->dictionary().value(unit), seed);
    }
    return internal::PgHashBytesExtended(column->FormatValue(rep_row[unit]), seed);
  }
};

absl::StatusOr<UnitIndex> BuildUnitIndex(const Table& t, const QueryPlan& plan, const RowSet& rs) {
  UnitIndex u;
  u.column = t.FindColumn(plan.privacy_unit_column);
  if (u.column == nullptr) return Invalid(absl::StrCat("unknown privacy unit column ", plan.privacy_unit_column));
  const Column& c = *u.column;
  if (c.type() == DataType::kString) {
    u.codes = c.string_codes().data();
    u.num_units = c.dictionary().size();
    return u;
  }
  u.owned.assign(static_cast<size_t>(t.num_rows()), -1);
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

struct Quantiser {
  CompKind kind = CompKind::kRows;
  const Column* column = nullptr;
  double lo = 0, hi = 0;
  double g = 1;       // kSum grid
  double mid = 0, half = 0;
  double scale = 1;   // 2^bits
  double unit = 1;    // the value of one integer unit of the noisy sum

  void Set(const Component& c, const Column* col, Bounds b) {
    kind = c.kind;
    column = col;
    lo = b.lo;
    hi = b.hi;
    scale = std::ldexp(1.0, c.bits);
    if (kind == CompKind::kSum) {
      const double m = std::max(std::fabs(lo), std::fabs(hi));
      g = m > 0 ? std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(m))) - c.bits) : 1.0;
      unit = g;
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
    const double t = y + kMagic;  // IEEE semantics (no -ffast-math): not folded away
    return t - kMagic;
  }
  // The integer contribution of value x (not NULL, not NaN).
  int64_t Of(double x) const {
    const double v = std::clamp(x, lo, hi);
    switch (kind) {
      case CompKind::kSum:
        return static_cast<int64_t>(RoundEven(v / g));
      case CompKind::kNormSum: {
        const double u = half > 0 ? std::clamp((v - mid) / half, -1.0, 1.0) : 0.0;
        return static_cast<int64_t>(RoundEven(u * scale));
      }
      case CompKind::kNormSquares: {
        const double u = half > 0 ? std::clamp((v - mid) / half, -1.0, 1.0) : 0.0;
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
//    thread owns a contiguous range of rows and a slice of every partition, so the layout is deterministic).
// 2. Per partition (threads take partitions in turn): a counting sort by unit puts each unit's records
//    together, BoundUnit applies query.h's bounding rules, and the kept records are accumulated into the
//    thread's integer sums per group. The fast path (one numeric value column, no quantiles, no automatic
//    bounds) carries the value itself in the record, so this step never reads the table; the general path
//    carries the row and reads values from the columns.
// Integer sums make the result independent of the number of threads and of the order of the rows.

struct Rec {
  uint32_t unit_local;  // the unit's low bits; bit 31: the value is NULL (fast path)
  int32_t gid;
  uint64_t v;  // fast path: the value (double bits, or int64); general path: the row
};
static_assert(sizeof(Rec) == 16);
constexpr uint32_t kNullBit = uint32_t{1} << 31;

// What a pass over the kept rows accumulates, per thread.
struct ThreadAcc {
  std::vector<int64_t> acc;    // [gid * ncomp + c]
  std::vector<int64_t> units;  // [gid]: kept (unit, group) cells
  std::vector<std::vector<uint64_t>> leaves;      // per quantile aggregate: (gid << 32) | leaf
  std::vector<std::vector<int64_t>> histograms;   // per auto-bounds aggregate: log-histogram bins
};

class Engine {
 public:
  Engine(const Table& t, const QueryPlan& plan, const CompiledPlan& cp, const RowSet& rs, const GroupIndex& gi,
         const UnitIndex& ui, uint64_t seed)
      : t_(t), plan_(plan), cp_(cp), rs_(rs), gi_(gi), ui_(ui), seed_(seed) {}

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
  void ProcessPartition(int p, bool histograms, ThreadAcc& acc, std::vector<Rec>& scratch,
                        std::vector<uint8_t>& keep);
  void BoundUnit(uint32_t unit, Rec* r, int n, std::vector<uint8_t>& keep, std::vector<int32_t>& kept_groups);
  // The hash chain V(x_1..x_m) of a record's values, from s + 2 (query.h, row rank).
  uint64_t ValueHash(const Rec& r) const;
  void Accumulate(const Rec& r, bool histograms, ThreadAcc& acc) const;
  // Fast path: the value of a record (nullopt for NULL / NaN).
  std::optional<double> FastValue(const Rec& r) const {
    if (r.unit_local & kNullBit) return std::nullopt;
    switch (fast_column_->type()) {
      case DataType::kDouble: {
        double x;
        std::memcpy(&x, &r.v, sizeof(x));
        return x;
      }
      case DataType::kBool:
        return r.v != 0 ? 1.0 : 0.0;
      default:
        return static_cast<double>(static_cast<int64_t>(r.v));
    }
  }

  const Table& t_;
  const QueryPlan& plan_;
  const CompiledPlan& cp_;
  const RowSet& rs_;
  const GroupIndex& gi_;
  const UnitIndex& ui_;
  const uint64_t seed_;
  int threads_ = 1;
  std::vector<uint32_t> a_k_;  // per gid
  std::vector<const Column*> agg_column_;
  std::vector<std::optional<Bounds>> bounds_;
  std::vector<Quantiser> quant_;  // per component
  std::vector<QuantileTreeShape> shapes_;  // per quantile aggregate slot
  std::vector<int> quantile_slot_, histogram_slot_;
  int num_quantile_ = 0, num_hist_ = 0;
  std::vector<const Column*> hash_columns_;  // value columns of the row hash, each once, in plan order
  bool allow_fast_ = true;
  bool fast_ = false;
  const Column* fast_column_ = nullptr;  // fast path: the one value column (nullptr: none)
  // Partitions.
  int shift_ = 0;
  int num_partitions_ = 1;
  std::vector<int64_t> part_begin_;  // size num_partitions_ + 1
  std::vector<Rec> recs_;
};

absl::Status Engine::Prepare() {
  threads_ = ThreadsFor(rs_.count);
  if (t_.num_rows() > static_cast<int64_t>(UINT32_MAX)) return Invalid("tables of 2^32 rows or more are not supported");
  const int n = static_cast<int>(plan_.aggregates.size());
  agg_column_.assign(n, nullptr);
  bounds_.assign(n, std::nullopt);
  quantile_slot_.assign(n, -1);
  histogram_slot_.assign(n, -1);
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan_.aggregates[i];
    if (NeedsColumn(a.function)) {
      const Column* c = t_.FindColumn(a.column);
      if (c == nullptr) return Invalid(absl::StrCat("unknown column ", a.column, " in ", cp_.aggregates[i].name));
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
  // The fast path: at most one value column, numeric, no quantile tree and no automatic bounds.
  fast_ = allow_fast_ && num_quantile_ == 0 && num_hist_ == 0 && hash_columns_.size() <= 1;
  if (fast_ && hash_columns_.size() == 1) {
    fast_column_ = hash_columns_[0];
    const DataType type = fast_column_->type();
    fast_ = type == DataType::kInt64 || type == DataType::kDouble || type == DataType::kBool;
  }
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
  for (size_t c = 0; c < cp_.components.size(); ++c) {
    const Component& comp = cp_.components[c];
    const int i = comp.aggregate;
    quant_[c].Set(comp, agg_column_[i], bounds_[i].value_or(Bounds{0, 0}));
  }
}

void Engine::Partition() {
  // Partitions of at most 2048 units (so that a partition's records and per-unit arrays stay in cache).
  const int64_t units = std::max<int32_t>(1, ui_.num_units);
  int unit_bits = 0;
  while ((int64_t{1} << unit_bits) < units) ++unit_bits;
  const int part_bits = std::max(0, std::min(14, unit_bits - 11));
  shift_ = unit_bits - part_bits;
  num_partitions_ = 1 << part_bits;
  const int T = threads_;
  std::vector<std::vector<int64_t>> counts(T, std::vector<int64_t>(num_partitions_, 0));
  const int64_t chunk = (rs_.count + T - 1) / T;
  const int32_t* ucodes = ui_.codes;
  RunThreads(T, [&](int th) {
    const int64_t begin = std::min(rs_.count, th * chunk), end = std::min(rs_.count, begin + chunk);
    int64_t* cnt = counts[th].data();
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = rs_.Row(i);
      const int32_t u = ucodes[row];
      if (u < 0 || gi_.Gid(row) < 0) continue;
      ++cnt[static_cast<uint32_t>(u) >> shift_];
    }
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
  recs_.resize(static_cast<size_t>(pos));
  const uint32_t mask = (uint32_t{1} << shift_) - 1;
  const Column* fc = fast_ ? fast_column_ : nullptr;
  const int kind = fc == nullptr ? 0 : (fc->type() == DataType::kDouble ? 1 : (fc->type() == DataType::kInt64 ? 2 : 3));
  RunThreads(T, [&](int th) {
    const int64_t begin = std::min(rs_.count, th * chunk), end = std::min(rs_.count, begin + chunk);
    int64_t* off = offsets[th].data();
    Rec* out = recs_.data();
    const double* dv = kind == 1 ? fc->double_values().data() : nullptr;
    const int64_t* iv = kind == 2 ? fc->int64_values().data() : nullptr;
    const bool has_nulls = fc != nullptr && fc->null_count() > 0;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = rs_.Row(i);
      const int32_t u = ucodes[row];
      const int32_t gid = gi_.Gid(row);
      if (u < 0 || gid < 0) continue;
      Rec& r = out[off[static_cast<uint32_t>(u) >> shift_]++];
      uint32_t unit_local = static_cast<uint32_t>(u) & mask;
      uint64_t v = static_cast<uint64_t>(row);
      if (kind == 1) {
        const double x = dv[row];
        std::memcpy(&v, &x, sizeof(v));
        if (std::isnan(x)) unit_local |= kNullBit;
      } else if (kind == 2) {
        v = static_cast<uint64_t>(iv[row]);
      } else if (kind == 3) {
        v = fc->bool_values()[row];
      }
      if (has_nulls && fc->IsNull(row)) unit_local |= kNullBit;
      r.unit_local = unit_local;
      r.gid = gid;
      r.v = v;
    }
  });
}

uint64_t Engine::ValueHash(const Rec& r) const {
  uint64_t h = seed_ + 2;
  if (fast_) {
    if (fast_column_ == nullptr) return h;
    if (r.unit_local & kNullBit) return internal::PgHashBytesExtended("\\N", h);
    if (fast_column_->type() == DataType::kDouble) {
      double x;
      std::memcpy(&x, &r.v, sizeof(x));
      return internal::PgHashFloat8Extended(x, h);
    }
    return internal::PgHashInt8Extended(static_cast<int64_t>(r.v), h);
  }
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
      if (k == 0 || by_gid[k].first != by_gid[k - 1].first) groups.push_back({by_gid[k].first, 0, 0, 0, true});
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
      for (int32_t s = 0; s < ng; ++s) {
        const Group& g = groups[s];
        if (!g.kept || g.count <= linf) continue;
        // Row rank: M(r(u, k) xor a_row), a_row = F(V) for the first row with its values and
        // F(hashint8extended(d, V)) for the d-th repeat; keep the Linf smallest.
        const uint32_t rk = static_cast<uint32_t>(g.rank >> 32);
        values.clear();
        rows.clear();
        for (int i = 0; i < n; ++i) {
          if (slot[i] == s) values.emplace_back(ValueHash(r[i]), i);
        }
        for (size_t k = 0; k < values.size(); ++k) {
          int64_t d = 0;
          for (size_t m = 0; m < k; ++m) d += values[m].first == values[k].first ? 1 : 0;
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
  if (fast_) {
    const std::optional<double> x = fast_column_ != nullptr ? FastValue(r) : std::nullopt;
    for (size_t c = 0; c < ncomp; ++c) {
      const Quantiser& q = quant_[c];
      switch (q.kind) {
        case CompKind::kRows:
          ++a[c];
          break;
        case CompKind::kNonNull:
          a[c] += x.has_value() ? 1 : 0;
          break;
        case CompKind::kUnits:
          break;
        default:
          if (x.has_value()) a[c] += q.Of(*x);
          break;
      }
    }
    return;
  }
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

void Engine::Pass(bool histograms, std::vector<ThreadAcc>& out) {
  const size_t G = static_cast<size_t>(gi_.num_groups());
  const size_t ncomp = cp_.components.size();
  if (!histograms) {
    shapes_.clear();
    for (size_t i = 0; i < plan_.aggregates.size(); ++i) {
      if (quantile_slot_[i] >= 0) shapes_.push_back(*QuantileTreeShape::Create(*bounds_[i], plan_.quantile_tree));
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

}  // namespace

absl::Status ValidatePlan(const QueryPlan& plan) { return Compile(plan).status(); }

absl::StatusOr<QueryCost> PlanCost(const QueryPlan& plan) {
  VEIL_ASSIGN_OR_RETURN(CompiledPlan cp, Compile(plan));
  return std::move(cp.cost);
}

absl::StatusOr<QueryResult> RunQuery(const Table& table, std::optional<std::span<const int64_t>> selected_rows,
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
  VEIL_ASSIGN_OR_RETURN(const uint64_t word, bits.Next64());
  const uint64_t seed = word >> 2;
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
      VEIL_ASSIGN_OR_RETURN(
          Bounds b, ChooseBoundsFromLogHistogram(counts, cp.aggregates[i].bounds_epsilon,
                                                 plan.max_groups_contributed * plan.max_rows_per_group, bits));
      if (IsQuantile(plan.aggregates[i].function) && !(b.lo < b.hi)) b.hi = b.lo + 1;
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
    for (const ThreadAcc& a : accs) merged_leaves[s].insert(merged_leaves[s].end(), a.leaves[s].begin(), a.leaves[s].end());
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
  std::vector<int32_t> released;
  if (cp.private_selection) {
    for (int32_t g : candidates) {
      VEIL_ASSIGN_OR_RETURN(const bool keep, cp.selector->ShouldKeep(units[g], bits));
      if (keep) released.push_back(g);
    }
  } else {
    released = std::move(candidates);
  }

  for (const GroupBy& g : plan.group_by) result.key_names.push_back(g.column);
  for (const CompiledAggregate& ca : cp.aggregates) result.aggregate_names.push_back(ca.name);
  std::vector<uint32_t> group_leaves;
  for (int32_t g : released) {
    ResultRow row;
    row.key = gi.key(g);
    row.values.resize(n);
    const int64_t* a = acc.data() + static_cast<size_t>(g) * ncomp;
    for (int i = 0; i < n; ++i) {
      const Aggregate& agg = plan.aggregates[i];
      const CompiledAggregate& ca = cp.aggregates[i];
      std::vector<NoisyValue>& out = row.values[i];
      if (IsQuantile(agg.function)) {
        const int slot = engine.quantile_slot()[i];
        const std::vector<uint64_t>& ml = merged_leaves[slot];
        const auto lo = std::lower_bound(ml.begin(), ml.end(), static_cast<uint64_t>(g) << 32);
        const auto hi = std::lower_bound(lo, ml.end(), (static_cast<uint64_t>(g) + 1) << 32);
        group_leaves.clear();
        for (auto it = lo; it != hi; ++it) group_leaves.push_back(static_cast<uint32_t>(*it));
        GroupQuantileTree tree(engine.shapes()[slot], group_leaves, ca.tree_noise);
        std::vector<double> ranks;
        if (agg.function == AggregateFunction::kPercentileCont) {
          ranks.push_back(agg.percentile);
        } else {
          for (int k = 0; k <= agg.num_quantiles; ++k) ranks.push_back(static_cast<double>(k) / agg.num_quantiles);
        }
        for (double q : ranks) {
          VEIL_ASSIGN_OR_RETURN(const double v, tree.Quantile(q, bits));
          out.push_back({v, std::nullopt, std::nullopt});
        }
        continue;
      }
      // Noisy integer sums of the aggregate's components, with their interval half-widths.
      std::vector<double> noisy, hw;
      for (int c : ca.components) {
        VEIL_ASSIGN_OR_RETURN(const int64_t z, Noise(plan, cp.components[c].scale, bits));
        const int64_t truth = cp.components[c].kind == CompKind::kUnits ? units[g] : a[c];
        noisy.push_back(static_cast<double>(truth + z));
        hw.push_back(cp.components[c].ci_half_width);
      }
      const Quantiser& q0 = engine.quantisers()[ca.components[0]];
      switch (agg.function) {
        case AggregateFunction::kCountStar:
        case AggregateFunction::kCount:
        case AggregateFunction::kCountDistinctUnits:
          out.push_back({std::max(0.0, noisy[0]), std::max(0.0, noisy[0] - hw[0]), std::max(0.0, noisy[0] + hw[0])});
          break;
        case AggregateFunction::kSum:
          out.push_back({noisy[0] * q0.unit, (noisy[0] - hw[0]) * q0.unit, (noisy[0] + hw[0]) * q0.unit});
          break;
        default: {
          const Quantiser& qs = engine.quantisers()[ca.components[1]];
          const double scale = qs.scale, mid = qs.mid, half = qs.half;
          const double count = std::max(1.0, noisy[0]);
          const double c_lo = noisy[0] - hw[0], c_hi = noisy[0] + hw[0];
          // E[u] (u in [-1, 1]) and its interval: corners of s / c over the boxes (c_lo <= 0: no information).
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
  if (unit_col == nullptr) return Invalid(absl::StrCat("unknown privacy unit column ", plan.privacy_unit_column));
  bool need_values = false, need_units = false;
  for (int i = 0; i < n; ++i) {
    const Aggregate& a = plan.aggregates[i];
    if (a.function == AggregateFunction::kCountDistinctUnits) need_units = true;
    if (!NeedsColumn(a.function)) continue;
    cols[i] = table.FindColumn(a.column);
    if (cols[i] == nullptr) return Invalid(absl::StrCat("unknown column ", a.column, " in ", AggregateName(a)));
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
    std::vector<int64_t> count;      // [i * G + g]
    std::vector<long double> sum;    // [i * G + g]
    std::vector<long double> sum2;   // [i * G + g]
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
          a.count[slot] += c->IsNull(row) ? 0 : 1;
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
