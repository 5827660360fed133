#include "veil/synth/discretize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "veil/base/status_macros.h"
#include "veil/dp/bounds.h"
#include "veil/dp/quantile_tree.h"
#include "veil/dp/samplers.h"

namespace veil::synth {
namespace {

using table::DataType;

bool IsIntegerType(DataType t) { return t != DataType::kDouble; }

std::string TypeName(DataType t) { return std::string(table::DataTypeName(t)); }

int64_t IntegerValue(const table::Column& c, int64_t row) {
  switch (c.type()) {
    case DataType::kInt64:
      return c.GetInt64(row);
    case DataType::kDate:
      return c.GetDate(row).days;
    case DataType::kTimestamp:
      return c.GetTimestamp(row).micros;
    default:
      return 0;
  }
}

// Integer bins: [lo, hi] split into b runs; run i starts at lo + floor(i n / b), n = hi - lo + 1.
struct IntegerBins {
  int64_t lo = 0;
  int64_t hi = 0;
  int64_t b = 1;
  unsigned __int128 n() const { return static_cast<unsigned __int128>(static_cast<__int128>(hi) - lo) + 1; }
  int64_t Start(int64_t i) const {
    return static_cast<int64_t>(static_cast<__int128>(lo) +
                                static_cast<__int128>(static_cast<unsigned __int128>(i) * n() / b));
  }
  // The bin of x (clamped into [lo, hi]): floor(((k + 1) b - 1) / n), k = x - lo.
  int64_t BinOf(int64_t x) const {
    x = std::clamp(x, lo, hi);
    const unsigned __int128 k = static_cast<unsigned __int128>(static_cast<__int128>(x) - lo);
    return static_cast<int64_t>(((k + 1) * static_cast<unsigned __int128>(b) - 1) / n());
  }
};

// Clamps a bound to the int64 range (dates and timestamps are narrower still, see below).
int64_t ClampToInt64(double v) {
  if (!(v > -9.2e18)) return std::numeric_limits<int64_t>::min() / 2;
  if (!(v < 9.2e18)) return std::numeric_limits<int64_t>::max() / 2;
  return static_cast<int64_t>(v);
}

IntegerBins MakeIntegerBins(const ColumnCoding& c) {
  IntegerBins ib;
  ib.lo = ClampToInt64(std::ceil(c.lower));
  ib.hi = ClampToInt64(std::floor(c.upper));
  if (c.type == DataType::kDate) {
    // Dates are int32 days: keep the bounds in range.
    ib.lo =
        std::clamp<int64_t>(ib.lo, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
    ib.hi =
        std::clamp<int64_t>(ib.hi, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  }
  if (ib.hi < ib.lo) ib.hi = ib.lo;  // e.g. [0.2, 0.8]: no integer inside; one bin at ceil(lower)
  const unsigned __int128 n = ib.n();
  ib.b = static_cast<int64_t>(std::min<unsigned __int128>(n, static_cast<unsigned __int128>(c.bins)));
  return ib;
}

// The number of value codes (bins) of a binned coding after resolving its bounds.
int64_t BinCount(const ColumnCoding& c) {
  if (!c.starts.empty()) return static_cast<int64_t>(c.starts.size());
  if (IsIntegerType(c.type)) return MakeIntegerBins(c).b;
  return c.lower == c.upper ? 1 : c.bins;
}

int64_t DoubleBinOf(const ColumnCoding& c, int64_t bins, double x) {
  if (bins <= 1 || !(x > c.lower)) return 0;  // NaN lands in the lowest bin
  if (x >= c.upper) return bins - 1;
  const double w = (c.upper - c.lower) / static_cast<double>(bins);
  return std::clamp<int64_t>(static_cast<int64_t>(std::floor((x - c.lower) / w)), 0, bins - 1);
}

absl::Status ColumnError(const std::string& column, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("column \"", column, "\": ", what));
}

// The bin of x among explicit starts (x below starts[0] -> 0, NaN -> 0).
int64_t StartsBinOf(const std::vector<double>& starts, double x) {
  if (!(x >= starts.front())) return 0;
  return static_cast<int64_t>(std::upper_bound(starts.begin(), starts.end(), x) - starts.begin()) - 1;
}

// Checks explicit bin starts (binning kQuantiles after fitting, or kEdges).
absl::Status ValidateStarts(const ColumnCoding& c) {
  if (c.starts.empty()) return ColumnError(c.name, "quantile or edge bins need their bin starts");
  if (static_cast<int64_t>(c.starts.size()) > kMaxAttributeSize) return ColumnError(c.name, "too many bins");
  if (c.starts.front() != c.lower) return ColumnError(c.name, "the first bin must start at the lower bound");
  for (size_t i = 0; i < c.starts.size(); ++i) {
    const double v = c.starts[i];
    if (!std::isfinite(v) || v > c.upper) return ColumnError(c.name, "a bin starts outside the bounds");
    if (i > 0 && !(v > c.starts[i - 1])) return ColumnError(c.name, "bin starts must increase strictly");
    if (IsIntegerType(c.type) && v != std::floor(v))
      return ColumnError(c.name, "bins of an integer column must start at integers");
  }
  return absl::OkStatus();
}

// Sets size (values + other + null) once the value codes are known.
void FinishSize(ColumnCoding& c) {
  const int64_t value_codes = c.categorical ? static_cast<int64_t>(c.values.size()) : BinCount(c);
  c.size = value_codes + (c.has_other ? 1 : 0) + (c.nullable ? 1 : 0);
}

// Checks that a fully resolved coding is consistent (FromCodings and the end of FitCodec).
absl::Status ValidateCoding(const ColumnCoding& c) {
  if (c.name.empty()) return absl::InvalidArgumentError("a coded column has an empty name");
  if (c.categorical) {
    if (c.type != DataType::kString && c.type != DataType::kBool && c.type != DataType::kInt64)
      return ColumnError(
          c.name,
          absl::StrCat("a categorical coding needs a string, bool or int64 column, not ", TypeName(c.type)));
    if (c.type == DataType::kInt64 && c.has_other)
      return ColumnError(c.name, "an int64 categorical coding has no other code");
    absl::flat_hash_set<std::string> seen;
    for (const std::string& v : c.values) {
      if (!seen.insert(v).second) return ColumnError(c.name, "a value is listed twice");
      if (c.type == DataType::kBool && !table::ParseBool(v).has_value())
        return ColumnError(c.name, "a listed value is not a boolean");
      if (c.type == DataType::kInt64 && !table::ParseInt64(v).has_value())
        return ColumnError(c.name, "a listed value is not an integer");
    }
  } else {
    if (!internal::IsBinnedType(c.type))
      return ColumnError(c.name, "only numbers, dates and timestamps are binned");
    if (!std::isfinite(c.lower) || !std::isfinite(c.upper) || c.lower > c.upper)
      return ColumnError(c.name, "bounds must be finite with lower <= upper");
    if (c.bins < 1 || c.bins > kMaxAttributeSize)
      return ColumnError(c.name, absl::StrCat("bins must be in [1, ", kMaxAttributeSize, "]"));
    if (c.binning == Binning::kAuto) return ColumnError(c.name, "the binning is not resolved");
    if (c.binning == Binning::kEqualWidth) {
      if (!c.starts.empty()) return ColumnError(c.name, "equal-width bins have no bin starts");
    } else {
      VEIL_RETURN_IF_ERROR(ValidateStarts(c));
    }
    if (!c.quantiles.empty()) {
      if (c.binning != Binning::kQuantiles) return ColumnError(c.name, "only quantile bins have quantiles");
      if (c.quantiles.size() < 2 || c.quantiles.size() > 4097)
        return ColumnError(c.name, "quantiles must hold 2 to 4097 knots");
      const double hi_end = IsIntegerType(c.type) ? c.upper + 1 : c.upper;
      for (size_t i = 0; i < c.quantiles.size(); ++i) {
        const double q = c.quantiles[i];
        if (!std::isfinite(q) || q < c.lower || q > hi_end || (i > 0 && q < c.quantiles[i - 1]))
          return ColumnError(c.name, "quantiles must be non-decreasing within the bounds");
      }
    }
  }
  int64_t want = c.size;
  ColumnCoding copy = c;
  FinishSize(copy);
  if (copy.size != want) return ColumnError(c.name, "the coding's size does not match its values or bins");
  if (c.size < 1 || c.size > kMaxAttributeSize)
    return ColumnError(c.name, absl::StrCat("a column may have at most ", kMaxAttributeSize, " codes"));
  return absl::OkStatus();
}

// A bin to which the tree gives less rank than this (noise) is decoded uniformly.
constexpr double kMinBinRank = 1e-9;

// A uniform rank in [range.first, range.second) (53 random bits).
absl::StatusOr<double> UniformBetween(dp::RandomBits& bits, std::pair<double, double> range) {
  VEIL_ASSIGN_OR_RETURN(const uint64_t u53, bits.Uniform(uint64_t{1} << 53));
  return range.first + static_cast<double>(u53) * 0x1p-53 * (range.second - range.first);
}

}  // namespace

const char* ColumnRuleName(ColumnRule rule) {
  switch (rule) {
    case ColumnRule::kAuto:
      return "auto";
    case ColumnRule::kPublicValues:
      return "public values";
    case ColumnRule::kPublicMinCount:
      return "public min count";
    case ColumnRule::kDpValues:
      return "dp values";
    case ColumnRule::kPublicBounds:
      return "public bounds";
    case ColumnRule::kDpBounds:
      return "dp bounds";
  }
  return "?";
}

const char* BinningName(Binning binning) {
  switch (binning) {
    case Binning::kAuto:
      return "auto";
    case Binning::kQuantiles:
      return "quantiles";
    case Binning::kEqualWidth:
      return "equal-width";
    case Binning::kEdges:
      return "edges";
  }
  return "?";
}

std::optional<Binning> ParseBinning(std::string_view name) {
  for (Binning b : {Binning::kQuantiles, Binning::kEqualWidth, Binning::kEdges}) {
    if (name == BinningName(b)) return b;
  }
  return std::nullopt;
}

namespace internal {

bool IsBinnedType(DataType t) {
  return t == DataType::kInt64 || t == DataType::kDouble || t == DataType::kDate || t == DataType::kTimestamp;
}

double NumericValue(const table::Column& c, int64_t row) {
  switch (c.type()) {
    case DataType::kInt64:
      return static_cast<double>(c.GetInt64(row));
    case DataType::kDouble:
      return c.GetDouble(row);
    case DataType::kDate:
      return c.GetDate(row).days;
    case DataType::kTimestamp:
      return static_cast<double>(c.GetTimestamp(row).micros);
    default:
      return 0;
  }
}

GaussianThreshold GaussianThresholdFor(double rho, double delta) {
  GaussianThreshold g;
  // sigma = 1 / sqrt(2 rho), nudged up so that the zCDP cost 1 / (2 sigma^2) never exceeds rho.
  g.sigma = std::sqrt(1 / (2 * rho)) * (1 + 0x1p-30);
  // The sampler may round sigma^2 up by a relative 2^-40: bound the tail with a slightly larger sigma. The
  // discrete Gaussian is sub-Gaussian with variance proxy sigma^2 (CKS20: E exp(tZ) <= exp(t^2 sigma^2 / 2)),
  // so P(Z >= k) <= exp(-k^2 / (2 sigma^2)) <= delta for k = tau - 1.
  const double s = g.sigma * (1 + 0x1p-39);
  g.tau = 1 + static_cast<int64_t>(std::ceil(s * std::sqrt(2 * std::log(1 / delta))));
  return g;
}

double QuantileRankBelow(const std::vector<double>& knots, double x) {
  const size_t m = knots.size() - 1;
  if (!(x > knots.front())) return 0;
  if (x > knots.back()) return 1;
  // The first knot at or above x (j >= 1); between knots j - 1 and j the function is linear.
  const size_t j = static_cast<size_t>(std::lower_bound(knots.begin(), knots.end(), x) - knots.begin());
  const double below = knots[j - 1], above = knots[j];
  const double within = above > below ? (x - below) / (above - below) : 1.0;
  return (static_cast<double>(j - 1) + within) / static_cast<double>(m);
}

double QuantileAt(const std::vector<double>& knots, double u) {
  const size_t m = knots.size() - 1;
  const double t = std::clamp(u, 0.0, 1.0) * static_cast<double>(m);
  const size_t j = std::min(static_cast<size_t>(t), m - 1);
  return knots[j] + (t - static_cast<double>(j)) * (knots[j + 1] - knots[j]);
}

std::pair<double, double> ExactCell(double v, bool integer) {
  return {v, integer ? v + 1 : std::nextafter(v, std::numeric_limits<double>::infinity())};
}

std::vector<double> BinStartsFromCells(std::vector<std::pair<double, double>> cells, double lower,
                                       double upper) {
  std::sort(cells.begin(), cells.end());
  std::vector<double> cuts;
  for (size_t i = 0; i < cells.size();) {
    size_t j = i;
    while (j < cells.size() && cells[j] == cells[i]) ++j;
    if (j - i >= 2) cuts.push_back(cells[i].first);  // a bin of its own
    cuts.push_back(cells[i].second);
    i = j;
  }
  std::vector<double> starts = {lower};
  std::sort(cuts.begin(), cuts.end());
  for (double v : cuts) {
    if (v > starts.back() && v <= upper) starts.push_back(v);
  }
  return starts;
}

}  // namespace internal

absl::StatusOr<DiscretizePlan> PlanDiscretization(const table::Schema& schema,
                                                  const DiscretizeOptions& options) {
  if (options.default_bins < 1 || options.default_bins > kMaxAttributeSize)
    return absl::InvalidArgumentError(
        absl::StrCat("the default number of bins must be in [1, ", kMaxAttributeSize, "]"));
  if (options.max_categories < 1 || options.max_categories >= kMaxAttributeSize)
    return absl::InvalidArgumentError("max_categories must be in [1, 2^24)");
  absl::flat_hash_map<std::string, const ColumnSpec*> specs;
  for (const ColumnSpec& s : options.columns) {
    const std::optional<int> i = schema.FindField(s.name);
    if (!i.has_value()) return ColumnError(s.name, "the spec names a column the table does not have");
    if (std::find(options.drop.begin(), options.drop.end(), s.name) != options.drop.end())
      return ColumnError(s.name, "the spec names a column that is left out");
    if (!specs.emplace(s.name, &s).second) return ColumnError(s.name, "two specs for the same column");
  }
  for (const std::string& d : options.drop) {
    if (!schema.FindField(d).has_value())
      return ColumnError(d, "cannot leave out a column the table does not have");
  }
  DiscretizePlan plan;
  for (int i = 0; i < schema.num_fields(); ++i) {
    const table::Field& f = schema.field(i);
    if (std::find(options.drop.begin(), options.drop.end(), f.name) != options.drop.end()) continue;
    const auto it = specs.find(f.name);
    const ColumnSpec empty;
    const ColumnSpec& s = it == specs.end() ? empty : *it->second;
    ColumnCoding c;
    c.name = f.name;
    c.type = f.type;
    c.nullable = f.nullable;
    ColumnRule rule = s.rule;
    const bool binned = internal::IsBinnedType(f.type);
    if (rule == ColumnRule::kAuto) {
      if (f.type == DataType::kBool) {
        rule = ColumnRule::kPublicValues;
      } else if (f.type == DataType::kString) {
        rule = !s.values.empty() ? ColumnRule::kPublicValues
               : s.min_count > 0 ? ColumnRule::kPublicMinCount
                                 : ColumnRule::kDpValues;
      } else {
        rule = s.lower.has_value() || s.upper.has_value() ? ColumnRule::kPublicBounds : ColumnRule::kDpBounds;
      }
    }
    const bool rule_binned = rule == ColumnRule::kPublicBounds || rule == ColumnRule::kDpBounds;
    if (binned != rule_binned) {
      return ColumnError(f.name, absl::StrCat("the rule \"", ColumnRuleName(rule), "\" does not apply to a ",
                                              TypeName(f.type), " column"));
    }
    if (f.type == DataType::kBool && rule != ColumnRule::kPublicValues)
      return ColumnError(f.name, "a bool column's values are public (false, true): only \"public values\"");
    c.rule = rule;
    c.categorical = !binned;
    if (binned) {
      c.bins = s.bins == 0 ? options.default_bins : s.bins;
      if (c.bins < 1 || c.bins > kMaxAttributeSize)
        return ColumnError(f.name, absl::StrCat("bins must be in [1, ", kMaxAttributeSize, "]"));
      if (!s.values.empty() || s.min_count != 0)
        return ColumnError(f.name, "values are for categorical columns");
      c.binning = s.binning != Binning::kAuto ? s.binning
                  : !s.edges.empty()          ? Binning::kEdges
                                              : options.default_binning;
      if (c.binning == Binning::kAuto) c.binning = Binning::kQuantiles;
      if (c.binning == Binning::kEdges) {
        if (s.edges.size() < 2) return ColumnError(f.name, "edges need at least two values");
        if (s.lower.has_value() || s.upper.has_value() || s.bins != 0)
          return ColumnError(f.name, "edges exclude lower, upper and bins (the edges are the bins)");
        for (size_t e = 0; e < s.edges.size(); ++e) {
          if (!std::isfinite(s.edges[e]) || (e > 0 && !(s.edges[e] > s.edges[e - 1])))
            return ColumnError(f.name, "edges must be finite and strictly increasing");
          if (IsIntegerType(f.type) && s.edges[e] != std::floor(s.edges[e]))
            return ColumnError(f.name, "edges of an integer column must be integers");
        }
        c.rule = ColumnRule::kPublicBounds;
        c.lower = s.edges.front();
        c.upper = s.edges.back();
        c.starts.assign(s.edges.begin(), s.edges.end() - 1);
        c.bins = static_cast<int64_t>(c.starts.size());
        plan.columns.push_back(std::move(c));
        continue;
      }
      if (!s.edges.empty()) return ColumnError(f.name, "edges are given but the binning is not \"edges\"");
      if (c.binning == Binning::kQuantiles) ++plan.dp_quantile_steps;
      if (rule == ColumnRule::kPublicBounds) {
        if (!s.lower.has_value() || !s.upper.has_value())
          return ColumnError(f.name, "public bounds need both lower and upper");
        if (!std::isfinite(*s.lower) || !std::isfinite(*s.upper) || *s.lower > *s.upper)
          return ColumnError(f.name, "bounds must be finite with lower <= upper");
        c.lower = *s.lower;
        c.upper = *s.upper;
      } else {
        if (s.lower.has_value() || s.upper.has_value())
          return ColumnError(f.name, "bounds are given but the rule is \"dp bounds\"");
        ++plan.dp_bounds_steps;
      }
    } else {
      if (s.lower.has_value() || s.upper.has_value() || s.bins != 0 || !s.edges.empty() ||
          s.binning != Binning::kAuto)
        return ColumnError(f.name, "bounds and bins are for numeric, date and timestamp columns");
      if (f.type == DataType::kBool) {
        c.values = {"false", "true"};
        if (!s.values.empty()) {
          c.values.clear();
          for (const std::string& v : s.values) {
            const std::optional<bool> b = table::ParseBool(v);
            if (!b.has_value()) return ColumnError(f.name, "a listed value is not a boolean");
            c.values.push_back(*b ? "true" : "false");
          }
          std::sort(c.values.begin(), c.values.end());
          c.values.erase(std::unique(c.values.begin(), c.values.end()), c.values.end());
          c.has_other = c.values.size() < 2;
        }
      } else {
        c.has_other = true;
        if (rule == ColumnRule::kPublicValues) {
          if (s.values.empty()) return ColumnError(f.name, "\"public values\" needs the list of values");
          c.values = s.values;
          std::sort(c.values.begin(), c.values.end());
          if (std::adjacent_find(c.values.begin(), c.values.end()) != c.values.end())
            return ColumnError(f.name, "a value is listed twice");
        } else if (rule == ColumnRule::kPublicMinCount) {
          if (s.min_count < 1) return ColumnError(f.name, "\"public min count\" needs min_count >= 1");
          if (!s.values.empty()) return ColumnError(f.name, "values are listed but the rule is a min count");
        } else {
          if (!s.values.empty() || s.min_count != 0)
            return ColumnError(f.name, "values or a min count are given but the rule is \"dp values\"");
          ++plan.dp_values_steps;
        }
      }
    }
    plan.columns.push_back(std::move(c));
  }
  if (plan.columns.empty()) return absl::InvalidArgumentError("no column is left to synthesize");
  return plan;
}

namespace internal {
namespace {

// Knots of the quantile function kept per column for decoding: 16 per bin (the top bin of Adult's ages gets
// 16 ranks of resolution 1 / 256), at most 1024.
int64_t QuantileKnots(int64_t bins) { return std::clamp<int64_t>(16 * bins, 16, 1024); }

// The quantile step of one column (see the header): a quantile tree over [c.lower, c.upper] with discrete
// Gaussian node noise for `rho` zCDP; sets c.lower / c.upper to integers for integer types, c.starts (the
// bins) and c.quantiles (the decoding knots, from the same noisy tree).
absl::Status FitDpBins(const table::Column& column, ColumnCoding& c, double rho, dp::RandomBits& bits) {
  const bool integer = IsIntegerType(c.type);
  if (integer) {
    const IntegerBins ib = MakeIntegerBins(c);
    c.lower = static_cast<double>(ib.lo);
    c.upper = static_cast<double>(ib.hi);
  }
  // The tree's grid: integer types unit leaves when 16^height (height <= 6) covers the range, else leaves
  // of an integer width; doubles 16^4 leaves over the bounds.
  constexpr int kBranching = 16;
  int height = 4;
  double width = 0;
  if (integer) {
    const double range = c.upper - c.lower + 1;
    height = 1;
    while (height < 6 && std::pow(kBranching, height) < range) ++height;
    width = std::max(1.0, std::ceil(range / std::pow(kBranching, height)));
  } else {
    width = (c.upper - c.lower) / std::pow(kBranching, height);
  }
  const double tree_hi = c.lower + width * std::pow(kBranching, height);
  if (!(tree_hi > c.lower) || !std::isfinite(tree_hi)) {
    c.starts = {c.lower};
    return absl::OkStatus();
  }
  VEIL_ASSIGN_OR_RETURN(const dp::QuantileTreeShape shape,
                        dp::QuantileTreeShape::Create({c.lower, tree_hi}, {kBranching, height}));
  std::vector<uint32_t> leaves;
  leaves.reserve(column.size());
  for (int64_t r = 0; r < column.size(); ++r) {
    if (column.IsNull(r)) continue;
    const double x = internal::NumericValue(column, r);
    if (std::isnan(x)) continue;
    leaves.push_back(shape.LeafOf(std::clamp(x, c.lower, c.upper)));
  }
  std::sort(leaves.begin(), leaves.end());
  // One value per row changes one node per level: L2 sensitivity sqrt(height); rho = height / (2 sigma^2).
  const double sigma = std::sqrt(static_cast<double>(height) / (2 * rho));
  dp::GroupQuantileTree tree(shape, leaves, {dp::NoiseKind::kGaussian, sigma});
  std::vector<std::pair<double, double>> cells;
  for (int64_t j = 1; j < c.bins; ++j) {
    VEIL_ASSIGN_OR_RETURN(const double q,
                          tree.Quantile(static_cast<double>(j) / static_cast<double>(c.bins), bits));
    const double leaf = shape.LeafOf(std::clamp(q, c.lower, c.upper));
    const double start = c.lower + leaf * width;
    cells.emplace_back(start, start + width);
  }
  c.starts = BinStartsFromCells(std::move(cells), c.lower, c.upper);
  // Decoding knots: more quantiles of the same noisy tree (post-processing). Cells above the upper bound
  // are empty by construction (values were clamped), so what the noise puts there is cut off at the end of
  // the upper bound's cell.
  const double hi_end = integer ? c.upper + 1 : c.upper;
  const int64_t m = QuantileKnots(c.bins);
  c.quantiles.clear();
  for (int64_t j = 0; j <= m; ++j) {
    VEIL_ASSIGN_OR_RETURN(const double q,
                          tree.Quantile(static_cast<double>(j) / static_cast<double>(m), bits));
    c.quantiles.push_back(std::clamp(q, c.lower, hi_end));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace internal

absl::StatusOr<Codec> FitCodec(const table::Table& data, const DiscretizeOptions& options, ZcdpBudget* budget,
                               double selection_delta, dp::RandomBits& bits) {
  VEIL_ASSIGN_OR_RETURN(DiscretizePlan plan, PlanDiscretization(data.schema(), options));
  double rho_step = 0;
  double delta_step = 0;
  if (plan.dp_steps() > 0) {
    if (budget == nullptr) return absl::InvalidArgumentError("the discretization has DP steps but no budget");
    if (budget->remaining_rho() <= 0)
      return absl::ResourceExhaustedError("the discretization's budget is spent");
    // Shares: bounds and value selections 2 each (a noisy count must clear a threshold), quantiles 1 (the
    // tree's top levels hold large counts).
    const int64_t shares = 2 * (plan.dp_bounds_steps + plan.dp_values_steps) + plan.dp_quantile_steps;
    VEIL_ASSIGN_OR_RETURN(rho_step, EqualShare(budget->remaining_rho(), shares));
    rho_step *= 1.0 - 0x1p-30;
  }
  if (plan.dp_values_steps > 0) {
    if (!(selection_delta > 0 && selection_delta < 1))
      return absl::InvalidArgumentError("DP value selection needs a delta in (0, 1)");
    delta_step = selection_delta / plan.dp_values_steps;
  }
  // Pure epsilon-DP costs epsilon^2 / 2 in zCDP (BS16 Prop. 1.4): the epsilon a two-share step may spend.
  const double rho_threshold_step = 2 * rho_step;
  const double epsilon_step = std::sqrt(2 * rho_threshold_step);

  for (ColumnCoding& c : plan.columns) {
    const int col = *data.schema().FindField(c.name);
    const table::Column& column = data.column(col);
    const int64_t n = data.num_rows();
    if (c.rule == ColumnRule::kDpBounds) {
      std::vector<int64_t> counts(dp::kLogHistogramBins, 0);
      for (int64_t r = 0; r < n; ++r) {
        if (column.IsNull(r)) continue;
        const double x = internal::NumericValue(column, r);
        if (std::isnan(x)) continue;
        ++counts[dp::LogHistogramBin(x)];
      }
      VEIL_RETURN_IF_ERROR(budget->Charge(absl::StrCat("bounds (", c.name, ")"), rho_threshold_step));
      VEIL_ASSIGN_OR_RETURN(const dp::Bounds b,
                            dp::ChooseBoundsFromLogHistogram(counts, epsilon_step, 1, bits));
      c.lower = std::max(b.lo, -1e300);
      c.upper = std::min(b.hi, 1e300);
      if (c.lower > c.upper) std::swap(c.lower, c.upper);
    }
    if (c.binning == Binning::kQuantiles) {
      VEIL_RETURN_IF_ERROR(budget->Charge(absl::StrCat("quantiles (", c.name, ")"), rho_step));
      VEIL_RETURN_IF_ERROR(internal::FitDpBins(column, c, rho_step, bits));
    } else if (c.rule == ColumnRule::kDpValues || c.rule == ColumnRule::kPublicMinCount) {
      // Rows per distinct string (dictionary codes first, then merged by text: a dictionary holds each
      // string once, so codes and strings correspond one to one).
      std::vector<int64_t> per_code(column.dictionary().size(), 0);
      for (int64_t r = 0; r < n; ++r) {
        const int32_t code = column.GetStringCode(r);
        if (code >= 0) ++per_code[code];
      }
      std::vector<std::string> kept;
      if (c.rule == ColumnRule::kDpValues) {
        VEIL_RETURN_IF_ERROR(budget->Charge(absl::StrCat("values (", c.name, ")"), rho_threshold_step));
        const internal::GaussianThreshold g = internal::GaussianThresholdFor(rho_threshold_step, delta_step);
        c.keep_rows = g.tau;
        for (int32_t code = 0; code < column.dictionary().size(); ++code) {
          if (per_code[code] == 0) continue;
          VEIL_ASSIGN_OR_RETURN(const int64_t z, dp::SampleDiscreteGaussianWithSigma(bits, g.sigma));
          if (per_code[code] + z >= g.tau) kept.emplace_back(column.dictionary().value(code));
        }
      } else {
        int64_t min_count = 1;
        for (const ColumnSpec& s : options.columns) {
          if (s.name == c.name) min_count = s.min_count;
        }
        for (int32_t code = 0; code < column.dictionary().size(); ++code) {
          if (per_code[code] >= min_count) kept.emplace_back(column.dictionary().value(code));
        }
      }
      std::sort(kept.begin(), kept.end());
      if (static_cast<int64_t>(kept.size()) > options.max_categories) kept.resize(options.max_categories);
      c.values = std::move(kept);
    }
    FinishSize(c);
    VEIL_RETURN_IF_ERROR(ValidateCoding(c));
  }
  VEIL_ASSIGN_OR_RETURN(Codec codec, Codec::FromCodings(std::move(plan.columns)));
  codec.other_value_ = options.other_value;
  return codec;
}

absl::StatusOr<Codec> Codec::FromCodings(std::vector<ColumnCoding> columns) {
  if (columns.empty()) return absl::InvalidArgumentError("no column is left to synthesize");
  std::vector<Attribute> attrs;
  std::vector<table::Field> fields;
  for (ColumnCoding& c : columns) {
    if (c.size == 0) FinishSize(c);
    VEIL_RETURN_IF_ERROR(ValidateCoding(c));
    attrs.push_back({c.name, c.size});
    fields.push_back({c.name, c.type, c.nullable});
  }
  Codec codec;
  VEIL_ASSIGN_OR_RETURN(codec.domain_, Domain::Create(std::move(attrs)));
  VEIL_ASSIGN_OR_RETURN(codec.schema_, table::Schema::Make(std::move(fields)));
  codec.columns_ = std::move(columns);
  return codec;
}

absl::StatusOr<Codec> IdentityCodec(const Domain& domain) {
  std::vector<ColumnCoding> columns;
  for (const Attribute& a : domain.attributes()) {
    ColumnCoding c;
    c.name = a.name;
    c.type = DataType::kInt64;
    c.nullable = false;
    c.rule = ColumnRule::kPublicValues;
    c.categorical = true;
    for (int64_t v = 0; v < a.size; ++v) c.values.push_back(absl::StrCat(v));
    c.size = a.size;
    columns.push_back(std::move(c));
  }
  return Codec::FromCodings(std::move(columns));
}

absl::StatusOr<DiscreteTable> Codec::Encode(const table::Table& t) const {
  std::vector<std::vector<int32_t>> codes(columns_.size());
  const int64_t n = t.num_rows();
  for (size_t a = 0; a < columns_.size(); ++a) {
    const ColumnCoding& c = columns_[a];
    const std::optional<int> col = t.schema().FindField(c.name);
    if (!col.has_value()) return ColumnError(c.name, "missing from the table to encode");
    const table::Column& column = t.column(*col);
    if (column.type() != c.type)
      return ColumnError(
          c.name, absl::StrCat("is ", TypeName(column.type()), ", the coding expects ", TypeName(c.type)));
    std::vector<int32_t>& out = codes[a];
    out.resize(n);
    const int32_t other =
        c.has_other ? static_cast<int32_t>(c.categorical ? c.values.size() : BinCount(c)) : -1;
    const int32_t null_code = c.null_code();
    const auto null_or = [&](int64_t row) -> absl::StatusOr<int32_t> {
      if (null_code >= 0) return null_code;
      if (other >= 0) return other;
      return absl::InvalidArgumentError(
          absl::StrCat("column \"", c.name, "\", row ", row + 1, ": null, but the coding has no null code"));
    };
    if (c.categorical && c.type == DataType::kString) {
      // One lookup per dictionary entry, then a gather.
      absl::flat_hash_map<std::string_view, int32_t> index;
      for (size_t i = 0; i < c.values.size(); ++i) index.emplace(c.values[i], static_cast<int32_t>(i));
      std::vector<int32_t> by_dict(column.dictionary().size());
      for (int32_t d = 0; d < column.dictionary().size(); ++d) {
        const auto it = index.find(column.dictionary().value(d));
        by_dict[d] = it == index.end() ? other : it->second;
      }
      for (int64_t r = 0; r < n; ++r) {
        const int32_t d = column.GetStringCode(r);
        if (d < 0) {
          VEIL_ASSIGN_OR_RETURN(out[r], null_or(r));
        } else {
          out[r] = by_dict[d];
        }
      }
    } else if (c.categorical) {
      absl::flat_hash_map<std::string, int32_t> index;
      for (size_t i = 0; i < c.values.size(); ++i) index.emplace(c.values[i], static_cast<int32_t>(i));
      for (int64_t r = 0; r < n; ++r) {
        if (column.IsNull(r)) {
          VEIL_ASSIGN_OR_RETURN(out[r], null_or(r));
          continue;
        }
        const std::string text = c.type == DataType::kBool ? (column.GetBool(r) ? "true" : "false")
                                                           : absl::StrCat(column.GetInt64(r));
        const auto it = index.find(text);
        if (it != index.end()) {
          out[r] = it->second;
        } else if (other >= 0) {
          out[r] = other;
        } else {
          return absl::InvalidArgumentError(absl::StrCat("column \"", c.name, "\", row ", r + 1, ": value ",
                                                         text, " is outside the domain (0 .. ", c.size - 1,
                                                         ")"));
        }
      }
    } else if (!c.starts.empty()) {
      for (int64_t r = 0; r < n; ++r) {
        if (column.IsNull(r)) {
          VEIL_ASSIGN_OR_RETURN(out[r], null_or(r));
        } else {
          out[r] = static_cast<int32_t>(StartsBinOf(c.starts, internal::NumericValue(column, r)));
        }
      }
    } else if (IsIntegerType(c.type)) {
      const IntegerBins ib = MakeIntegerBins(c);
      for (int64_t r = 0; r < n; ++r) {
        if (column.IsNull(r)) {
          VEIL_ASSIGN_OR_RETURN(out[r], null_or(r));
        } else {
          out[r] = static_cast<int32_t>(ib.BinOf(IntegerValue(column, r)));
        }
      }
    } else {
      const int64_t bins = BinCount(c);
      for (int64_t r = 0; r < n; ++r) {
        if (column.IsNull(r)) {
          VEIL_ASSIGN_OR_RETURN(out[r], null_or(r));
        } else {
          out[r] = static_cast<int32_t>(DoubleBinOf(c, bins, column.GetDouble(r)));
        }
      }
    }
  }
  return DiscreteTable::Create(domain_, std::move(codes));
}

absl::StatusOr<table::Table> Codec::Decode(const DiscreteTable& codes, base::RandomSource& random) const {
  if (!(codes.domain() == domain_))
    return absl::InvalidArgumentError("the codes are over another domain than the codec's");
  dp::RandomBits bits(random);
  const int64_t n = codes.num_rows();
  std::vector<table::Column> out;
  for (size_t a = 0; a < columns_.size(); ++a) {
    const ColumnCoding& c = columns_[a];
    const std::span<const int32_t> in = codes.column(static_cast<int>(a));
    const int32_t null_code = c.null_code();
    const int64_t value_codes = c.categorical ? static_cast<int64_t>(c.values.size()) : BinCount(c);
    table::ColumnBuilder b(c.type);
    b.Reserve(n);
    if (c.categorical && c.type == DataType::kString) {
      // Build the dictionary once: value codes, then the other value.
      table::StringDictionary dict;
      std::vector<int32_t> dict_code(static_cast<size_t>(c.size), -1);
      for (int64_t v = 0; v < value_codes; ++v) dict_code[v] = dict.Insert(c.values[v]);
      if (c.has_other) dict_code[value_codes] = dict.Insert(other_value_);
      std::vector<int32_t> rows(n);
      table::ValidityBitmap validity;
      validity.Reserve(n);
      for (int64_t r = 0; r < n; ++r) {
        rows[r] = in[r] == null_code ? -1 : dict_code[in[r]];
        validity.Append(rows[r] >= 0);
      }
      VEIL_ASSIGN_OR_RETURN(table::Column col, table::Column::FromStrings(std::move(rows), std::move(dict),
                                                                          std::move(validity)));
      out.push_back(std::move(col));
      continue;
    }
    if (c.categorical) {
      std::vector<std::optional<int64_t>> ints(c.values.size());
      for (size_t v = 0; v < c.values.size(); ++v) {
        if (c.type == DataType::kBool) {
          ints[v] = table::ParseBool(c.values[v]).value_or(false) ? 1 : 0;
        } else {
          ints[v] = table::ParseInt64(c.values[v]);
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        const int32_t code = in[r];
        if (code == null_code) {
          b.AppendNull();
        } else if (code >= value_codes) {
          // The other code exists only for a bool column with one listed value: the other boolean.
          b.AppendBool(*ints[0] == 0);
        } else if (c.type == DataType::kBool) {
          b.AppendBool(*ints[code] != 0);
        } else {
          b.AppendInt64(*ints[code]);
        }
      }
    } else if (IsIntegerType(c.type)) {
      const IntegerBins ib = MakeIntegerBins(c);
      const bool explicit_bins = !c.starts.empty();
      const int64_t hi = ClampToInt64(std::floor(c.upper));
      const auto bin_range = [&](int32_t code) -> std::pair<int64_t, int64_t> {
        if (explicit_bins) {
          return {static_cast<int64_t>(c.starts[code]),
                  code + 1 >= value_codes ? hi : static_cast<int64_t>(c.starts[code + 1]) - 1};
        }
        return {ib.Start(code), code + 1 >= ib.b ? ib.hi : ib.Start(code + 1) - 1};
      };
      // Per bin, the ranks [G(start), G(end + 1)) of the tree's distribution (integer v is [v, v + 1)).
      std::vector<std::pair<double, double>> ranks;
      if (!c.quantiles.empty()) {
        for (int32_t code = 0; code < value_codes; ++code) {
          const auto [start, end] = bin_range(code);
          ranks.emplace_back(internal::QuantileRankBelow(c.quantiles, static_cast<double>(start)),
                             internal::QuantileRankBelow(c.quantiles, static_cast<double>(end) + 1));
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        if (in[r] == null_code) {
          b.AppendNull();
          continue;
        }
        const auto [start, end] = bin_range(in[r]);
        const uint64_t width = static_cast<uint64_t>(end) - static_cast<uint64_t>(start) + 1;
        int64_t v = start;
        if (width > 1 && !ranks.empty() && ranks[in[r]].second - ranks[in[r]].first > kMinBinRank) {
          VEIL_ASSIGN_OR_RETURN(const double u, UniformBetween(bits, ranks[in[r]]));
          const double x = std::floor(internal::QuantileAt(c.quantiles, u));
          v = std::clamp(
              static_cast<int64_t>(std::clamp(x, static_cast<double>(start), static_cast<double>(end))),
              start, end);
        } else if (width > 1) {
          VEIL_ASSIGN_OR_RETURN(const uint64_t offset, bits.Uniform(width));
          v = static_cast<int64_t>(static_cast<uint64_t>(start) + offset);
        }
        if (c.type == DataType::kInt64) {
          b.AppendInt64(v);
        } else if (c.type == DataType::kDate) {
          b.AppendDate(table::Date{static_cast<int32_t>(v)});
        } else {
          b.AppendTimestamp(table::Timestamp{v});
        }
      }
    } else {
      const double w = value_codes <= 1 ? 0 : (c.upper - c.lower) / static_cast<double>(value_codes);
      for (int64_t r = 0; r < n; ++r) {
        if (in[r] == null_code) {
          b.AppendNull();
          continue;
        }
        double v = c.lower;
        if (!c.starts.empty()) {
          // [start, next): a point bin (next is the double after start) gives start itself.
          const double start = c.starts[in[r]];
          const bool last = in[r] + 1 >= value_codes;
          const double next = last ? c.upper : c.starts[in[r] + 1];
          v = start;
          const std::pair<double, double> rank =
              c.quantiles.empty() ? std::pair<double, double>{0, 0}
                                  : std::pair<double, double>{internal::QuantileRankBelow(c.quantiles, start),
                                                              internal::QuantileRankBelow(c.quantiles, next)};
          if (next > std::nextafter(start, next + 1) && rank.second - rank.first > kMinBinRank) {
            // From the tree's distribution within the bin (see the file comment).
            VEIL_ASSIGN_OR_RETURN(const double u, UniformBetween(bits, rank));
            v = std::clamp(internal::QuantileAt(c.quantiles, u), start, next);
            if (!last && v >= next) v = std::nextafter(next, start);
          } else if (next > std::nextafter(start, next + 1)) {
            VEIL_ASSIGN_OR_RETURN(const uint64_t u53, bits.Uniform(uint64_t{1} << 53));
            v = start + static_cast<double>(u53) * 0x1p-53 * (next - start);
            if (!last && v >= next) v = std::nextafter(next, start);
            v = std::min(v, c.upper);
          }
        } else if (w > 0) {
          VEIL_ASSIGN_OR_RETURN(const uint64_t u53, bits.Uniform(uint64_t{1} << 53));
          const double u = static_cast<double>(u53) * 0x1p-53;
          v = c.lower + (static_cast<double>(in[r]) + u) * w;
          v = std::min(v, c.upper);
        }
        b.AppendDouble(v);
      }
    }
    VEIL_ASSIGN_OR_RETURN(table::Column col, b.Finish());
    out.push_back(std::move(col));
  }
  return table::Table::Make(schema_, std::move(out));
}

std::vector<std::string> Codec::Labels(int attr) const {
  const ColumnCoding& c = columns_[attr];
  std::vector<std::string> out;
  const auto number = [&](double v) {
    if (c.type == DataType::kDate) return table::FormatDate(table::Date{static_cast<int32_t>(v)});
    if (c.type == DataType::kTimestamp)
      return table::FormatTimestamp(table::Timestamp{static_cast<int64_t>(v)});
    return absl::StrFormat("%.6g", v);
  };
  if (c.categorical) {
    out = c.values;
  } else if (!c.starts.empty()) {
    const int64_t k = static_cast<int64_t>(c.starts.size());
    for (int64_t i = 0; i < k; ++i) {
      const double start = c.starts[i];
      const double next = i + 1 < k ? c.starts[i + 1] : c.upper;
      if (IsIntegerType(c.type)) {
        const double end = i + 1 < k ? next - 1 : next;
        out.push_back(end <= start ? number(start) : absl::StrCat(number(start), "..", number(end)));
      } else if (i + 1 < k && next <= std::nextafter(start, next + 1)) {
        out.push_back(number(start));
      } else {
        out.push_back(absl::StrCat("[", number(start), ", ", number(next), i + 1 < k ? ")" : "]"));
      }
    }
  } else if (IsIntegerType(c.type)) {
    const IntegerBins ib = MakeIntegerBins(c);
    const auto text = [&](int64_t v) {
      if (c.type == DataType::kDate) return table::FormatDate(table::Date{static_cast<int32_t>(v)});
      if (c.type == DataType::kTimestamp) return table::FormatTimestamp(table::Timestamp{v});
      return absl::StrCat(v);
    };
    for (int64_t i = 0; i < ib.b; ++i) {
      const int64_t start = ib.Start(i);
      const int64_t end = i + 1 >= ib.b ? ib.hi : ib.Start(i + 1) - 1;
      out.push_back(start == end ? text(start) : absl::StrCat(text(start), "..", text(end)));
    }
  } else {
    const int64_t bins = BinCount(c);
    const double w = bins <= 1 ? 0 : (c.upper - c.lower) / static_cast<double>(bins);
    for (int64_t i = 0; i < bins; ++i) {
      out.push_back(absl::StrFormat("[%.4g, %.4g%s", c.lower + i * w,
                                    i + 1 == bins ? c.upper : c.lower + (i + 1) * w,
                                    i + 1 == bins ? "]" : ")"));
    }
  }
  if (c.has_other) out.push_back("(other)");
  if (c.nullable) out.push_back("null");
  return out;
}

std::vector<std::string> Codec::Describe() const {
  std::vector<std::string> out;
  for (const ColumnCoding& c : columns_) {
    std::string d = absl::StrCat(c.name, ": ", TypeName(c.type), ", ");
    if (c.categorical) {
      absl::StrAppend(&d, c.values.size(), " values", c.has_other ? " + other" : "");
      if (c.keep_rows > 0)
        absl::StrAppend(&d, " (a value needs about ", c.keep_rows, " rows to be kept at this budget)");
    } else {
      absl::StrAppend(&d, BinCount(c), " bins (", BinningName(c.binning), ") over [",
                      absl::StrFormat("%.6g", c.lower), ", ", absl::StrFormat("%.6g", c.upper), "]");
    }
    if (c.nullable) absl::StrAppend(&d, " + null");
    absl::StrAppend(&d, " (", ColumnRuleName(c.rule), ")");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> Codec::Warnings() const {
  std::vector<std::string> out;
  for (const ColumnCoding& c : columns_) {
    if (c.rule != ColumnRule::kDpValues || !c.values.empty()) continue;
    out.push_back(absl::StrCat(
        "column \"", c.name, "\": the DP value selection kept no value, so every synthetic value is \"",
        other_value_, "\" (at this budget a value needs about ", c.keep_rows,
        " rows to be kept); if the column's values are public, list them in a spec (\"values\": [...]) "
        "or raise epsilon"));
  }
  return out;
}

std::string CodingsToJson(const std::vector<ColumnCoding>& columns) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ColumnCoding& c : columns) {
    nlohmann::ordered_json j = {{"name", c.name},
                                {"type", std::string(table::DataTypeName(c.type))},
                                {"nullable", c.nullable},
                                {"rule", ColumnRuleName(c.rule)},
                                {"categorical", c.categorical}};
    if (c.categorical) {
      j["values"] = c.values;
      j["has_other"] = c.has_other;
      if (c.keep_rows > 0) j["keep_rows"] = c.keep_rows;
    } else {
      j["lower"] = c.lower;
      j["upper"] = c.upper;
      j["bins"] = c.bins;
      j["binning"] = BinningName(c.binning);
      if (!c.starts.empty()) j["starts"] = c.starts;
      if (!c.quantiles.empty()) j["quantiles"] = c.quantiles;
    }
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

absl::StatusOr<std::vector<ColumnCoding>> CodingsFromJson(std::string_view json) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array())
    return absl::InvalidArgumentError("the coding is not a JSON array");
  std::vector<ColumnCoding> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& j = doc[i];
    const auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("coding entry ", i + 1, ": ", what));
    };
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return bad("needs a name");
    ColumnCoding c;
    c.name = j["name"].get<std::string>();
    const std::optional<DataType> type = j.contains("type") && j["type"].is_string()
                                             ? table::ParseDataType(j["type"].get<std::string>())
                                             : std::nullopt;
    if (!type.has_value()) return bad("unknown type");
    c.type = *type;
    if (!j.value("nullable", nlohmann::json(false)).is_boolean() ||
        !j.value("categorical", nlohmann::json(false)).is_boolean())
      return bad("nullable and categorical must be booleans");
    c.nullable = j.value("nullable", false);
    c.categorical = j.value("categorical", false);
    const std::string rule = j.contains("rule") && j["rule"].is_string() ? j["rule"].get<std::string>() : "";
    bool rule_found = false;
    for (ColumnRule r : {ColumnRule::kPublicValues, ColumnRule::kPublicMinCount, ColumnRule::kDpValues,
                         ColumnRule::kPublicBounds, ColumnRule::kDpBounds}) {
      if (rule == ColumnRuleName(r)) {
        c.rule = r;
        rule_found = true;
      }
    }
    if (!rule_found) return bad("unknown rule");
    if (c.categorical) {
      if (!j.contains("values") || !j["values"].is_array()) return bad("values must be an array");
      for (const nlohmann::json& v : j["values"]) {
        if (!v.is_string()) return bad("values must be strings");
        c.values.push_back(v.get<std::string>());
      }
      if (j.contains("has_other") && !j["has_other"].is_boolean()) return bad("has_other must be a boolean");
      c.has_other = j.value("has_other", false);
      if (j.contains("keep_rows")) {
        if (!j["keep_rows"].is_number_integer() || j["keep_rows"].get<int64_t>() < 0)
          return bad("keep_rows must be a non-negative integer");
        c.keep_rows = j["keep_rows"].get<int64_t>();
      }
    } else {
      if (!j.contains("lower") || !j["lower"].is_number() || !j.contains("upper") ||
          !j["upper"].is_number() || !j.contains("bins") || !j["bins"].is_number_integer())
        return bad("a binned column needs lower, upper and bins");
      c.lower = j["lower"].get<double>();
      c.upper = j["upper"].get<double>();
      c.bins = j["bins"].get<int64_t>();
      const std::optional<Binning> binning = j.contains("binning") && j["binning"].is_string()
                                                 ? ParseBinning(j["binning"].get<std::string>())
                                                 : std::nullopt;
      if (!binning.has_value()) return bad("unknown binning");
      c.binning = *binning;
      if (j.contains("starts")) {
        if (!j["starts"].is_array()) return bad("starts must be an array of numbers");
        for (const nlohmann::json& v : j["starts"]) {
          if (!v.is_number()) return bad("starts must be an array of numbers");
          c.starts.push_back(v.get<double>());
        }
      }
      if (j.contains("quantiles")) {
        if (!j["quantiles"].is_array() || j["quantiles"].size() > 4097)
          return bad("quantiles must be an array of at most 4097 numbers");
        for (const nlohmann::json& v : j["quantiles"]) {
          if (!v.is_number()) return bad("quantiles must be an array of numbers");
          c.quantiles.push_back(v.get<double>());
        }
      }
    }
    FinishSize(c);
    if (absl::Status st = ValidateCoding(c); !st.ok()) return bad(std::string(st.message()));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace veil::synth
