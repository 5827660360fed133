// The plan and result types of a differentially private aggregation query (one SELECT WITH
// DIFFERENTIAL_PRIVACY ... GROUP BY ...), the contract between the DP SQL layer (src/veil/sql), which builds
// a QueryPlan, and the engine (aggregation.h: PlanCost, RunQuery, RunPlainAggregation), which runs it on a
// table::Table.
//
// Semantics follow BigQuery / ZetaSQL differential privacy and Google's differential-privacy library:
//
//   privacy unit   Neighbouring tables differ in ALL the rows of one privacy unit (one value of
//                  privacy_unit_column: a data subject). Rows whose unit is NULL are dropped (they cannot be
//                  attributed, so they are not used). In a double unit column every NaN is the SAME unit
//                  (and -0 the same as 0): its rows are bounded together, as one subject's.
//   bounding       Done by the engine, never assumed: every unit keeps at most max_groups_contributed (L0) of
//                  its groups, chosen uniformly at random, and in each kept group at most max_rows_per_group
//                  (Linf) of its rows; every aggregated value is clamped to its Aggregate's bounds. The
//                  choice is a deterministic function of a per-query seed, the unit and the group (see
//                  "Bounding hash" below), so that a PostgreSQL push-down can make exactly the same choice.
//   groups         Without GROUP BY there is one group (the empty key), always released. With public_groups,
//                  every listed key is released (with noise; keys without rows included) and rows whose key
//                  is not listed are dropped BEFORE bounding. Otherwise keys are chosen privately by
//                  partition selection (partition_selection.h: Desfontaines, Voss, Gipson, Mandayam 2022),
//                  which needs delta > 0, after an optional pre-threshold on the number of distinct units.
//   noise          kLaplace: discrete Laplace on counts, secure (power-of-two granularity) Laplace on sums:
//                  every aggregation is pure epsilon-DP, the query is (epsilon, delta)-DP with delta spent by
//                  partition selection only (pure epsilon-DP when groups are public). kGaussian: discrete /
//                  secure Gaussian, composed in zCDP (sqrt(L0) instead of L0 in the sensitivity: better for
//                  large max_groups_contributed), converted to (epsilon, delta); needs delta > 0.
//
// Budget split (PlanCost reports every part): the query's epsilon is split over the aggregations in
// proportion to their budget_weight, plus one share of selection_budget_weight for private partition
// selection. An aggregation without bounds that needs them gives auto_bounds_budget_fraction of its share to
// the DP log-histogram that chooses them (bounds.h). AVG splits its share equally between a noisy count and a
// noisy normalised sum (Google's BoundedMean), VARIANCE/STDDEV in three (count, normalised sum, normalised
// sum of squares), quantiles spend theirs on one quantile tree. delta goes to partition selection (kLaplace),
// or half to partition selection and half to the Gaussian aggregations (kGaussian; all of it to the
// aggregations when groups are public).
//
// Bounding hash (stable across Veil versions; reproducible in PostgreSQL with built-in functions):
//   seed          s: a 62-bit integer drawn once per query from RandomBits (so 0 <= s < 2^62; s, s + 1 and
//                 s + 2 are valid PostgreSQL bigints).
//   T(v)          the text form of a value: table::FormatValue (int64 in decimal, strings as they are, ...);
//                 NULL is the two characters "\N".
//   H(text, x)    PostgreSQL's hashtextextended(text, x): Bob Jenkins' lookup3 hash_bytes_extended over the
//                 UTF-8 bytes with 64-bit seed x, as an unsigned 64-bit number
//                 (internal::PgHashBytesExtended).
//   F(h)          fold to 32 bits: (h xor (h >> 32)) mod 2^32.
//   M(x)          a 32-bit mixer whose multipliers are below 2^31, so that PostgreSQL bigint arithmetic never
//                 overflows: x ^= x >> 16; x = (x * 0x7FEB352D) mod 2^32; x ^= x >> 15;
//                 x = (x * 0x2C1B3C6D) mod 2^32; x ^= x >> 16.
//   unit          a_u = F(H(T(u), s)), once per distinct unit.
//   group key     k = (k_1, ..., k_n): h_0 = s + 1, h_i = H(T(k_i), h_{i-1}); a_k = F(h_n), once per
//                 distinct key (n = 0: a_k = F(s + 1)).
//   group rank    r(u, k) = M(a_u xor a_k). A unit with more than L0 distinct groups keeps the L0 groups with
//                 the smallest (r(u, k), a_k, key) (ties on (r, a_k) have probability < 2^-32 per pair; the
//                 key's order is then the SQL order of the key tuple, NULL first).
//   row rank      in a kept (unit, group) cell with more than Linf rows, the rows are ordered by
//                 M(r(u, k) xor a_row), built from g_0 = s + 2, g_j = V(x_j, g_{j-1}) over the
//                 columns x_1..x_m that the aggregations read, in plan order, each column once, where V is
//                 PostgreSQL's hash of the value's binary form (cheaper than text, and exact for doubles):
//                 double: hashfloat8extended(x, g); int64: hashint8extended(x, g); timestamp: the same on its
//                 microseconds since the epoch; date: on its days since the epoch; bool: on 0 / 1; string:
//                 hashtextextended(x, g); NULL (and NaN): hashtextextended('\N', g)
//                 (internal::PgHash*Extended). Rows with equal values are told apart by their occurrence
//                 number d = 0, 1, ... among the cell's rows with those values (any order: such rows are
//                 interchangeable; in SQL, ROW_NUMBER() OVER (PARTITION BY unit, key, x_1..x_m) - 1), and
//                 a_row = F(g_m) for d = 0, F(hashint8extended(d, g_m)) for d >= 1; the Linf rows with the
//                 smallest M(r(u, k) xor a_row) are kept, so every row of the cell is equally likely to be
//                 kept.
// Privacy does not depend on the hash (bounding depends only on the unit's own rows and a seed independent of
// the data); only the uniformity of the choice does: over the seed, every group of a unit is kept with
// probability L0 / (number of its groups) up to the quality of the hash.
//
// Fixed point: clamped values are accumulated as integers (value / g rounded to nearest, g a power of two
// chosen from the bounds so that |value| / g <= 2^30), so sums do not depend on the order of the rows or on
// the number of threads. The rounding moves each kept row's value by at most g / 2 (SUM) or 2^-(bits+1) of
// the bounds' half-width (AVG, VARIANCE, STDDEV); the confidence intervals cover the noise only, not this
// rounding (at most rows * g / 2 on a SUM: negligible unless the bounds are far wider than the values).
//
// Double GROUP BY keys: -0 and +0 are one group, released as +0; all NaNs are one group, released as the
// quiet NaN (the released key never depends on which row came first). Public keys equal under this rule are
// duplicates.
//
// Size: tables of 2^31 - 1 rows or more are rejected up front (ids are 32-bit); the table's size is not
// protected by unit-level DP, so this error leaks nothing the result would not.
//
// Thread safety: plain value types.
#ifndef VEIL_DP_QUERY_H_
#define VEIL_DP_QUERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "veil/dp/accountant.h"
#include "veil/table/types.h"

namespace veil::dp {

enum class NoiseKind {
  kLaplace,   // pure epsilon-DP aggregations (discrete Laplace / secure Laplace)
  kGaussian,  // zCDP aggregations (discrete Gaussian / secure Gaussian), needs delta > 0
};

enum class AggregateFunction {
  kCountStar,           // COUNT(*): rows (after bounding). Sensitivity per group: Linf.
  kCount,               // COUNT(column): non-NULL values of `column` (after bounding).
  kCountDistinctUnits,  // COUNT(DISTINCT privacy_unit_column): units in the group. Sensitivity per group: 1.
  kSum,             // SUM(column), values clamped to bounds. Sensitivity per group: Linf * max(|lo|, |hi|).
  kAvg,             // AVG(column): midpoint + noisy normalised sum / noisy count, clamped to bounds.
  kVariance,        // VAR_POP(column): population variance from noisy count and moments, in [0, (hi-lo)^2/4].
  kStddev,          // STDDEV_POP(column): square root of kVariance.
  kPercentileCont,  // PERCENTILE_CONT(column, percentile) from a DP quantile tree (quantile_tree.h).
  kApproxQuantiles,  // APPROX_QUANTILES(column, num_quantiles): num_quantiles + 1 values (the minimum,
                     // the num_quantiles - 1 cut points, the maximum) from ONE quantile tree.
};

// "COUNT(*)", "COUNT", "COUNT(DISTINCT unit)", "SUM", "AVG", "VARIANCE", "STDDEV", "PERCENTILE_CONT",
// "APPROX_QUANTILES".
std::string_view AggregateFunctionName(AggregateFunction function);

// Clamping bounds of one value (BigQuery's contribution_bounds_per_row / _per_group => (lo, hi)): finite,
// lo <= hi.
struct Bounds {
  double lo = 0;
  double hi = 0;
};

struct Aggregate {
  AggregateFunction function = AggregateFunction::kCountStar;
  // The column read: empty for kCountStar and kCountDistinctUnits; an int64, double or bool column for the
  // others (kCount accepts any type).
  std::string column;
  // Clamping bounds for kSum .. kApproxQuantiles; ignored by the counts. nullopt: chosen automatically by a
  // DP log-histogram (bounds.h) whose cost is part of the query's cost.
  std::optional<Bounds> bounds;
  // kPercentileCont: the percentile in [0, 1].
  double percentile = 0.5;
  // kApproxQuantiles: n >= 1 (output has n + 1 values). At most 1000.
  int num_quantiles = 0;
  // The output column's name (for results, errors and the cost breakdown); if empty, a name is derived
  // ("COUNT(*)", "SUM(x)", ...).
  std::string name;
  // This aggregation's share of the query's epsilon (relative to the other weights); finite, > 0.
  double budget_weight = 1.0;
};

struct GroupBy {
  std::string column;
  // Optional binning (BigQuery's RANGE_BUCKET(column, boundaries)): when not empty, the key is the int64
  // number of boundaries <= value (0 .. boundaries.size()), NULL stays NULL (and NaN is NULL). The column
  // must be int64 or double; boundaries finite and strictly increasing. Use with public_groups listing
  // every bucket 0 .. boundaries.size() for a DP histogram.
  std::vector<double> bucket_boundaries;
};

// Quantile tree shape (Google's QuantileTree defaults): leaves = branching_factor ^ height equal-width
// buckets over the bounds.
struct QuantileTreeOptions {
  int branching_factor = 16;  // 2 .. 256
  int height = 4;             // 1 .. 8, with branching_factor ^ height <= 2^24
};

struct QueryPlan {
  // The privacy unit (data subject) column: any type.
  std::string privacy_unit_column;
  // GROUP BY columns, in order (the key of a result row); empty for a global aggregate.
  std::vector<GroupBy> group_by;
  std::vector<Aggregate> aggregates;  // at least one

  // The query's budget: epsilon finite > 0; 0 <= delta < 1.
  double epsilon = 0;
  double delta = 0;
  NoiseKind noise = NoiseKind::kLaplace;

  // L0: groups a unit may contribute to (BigQuery's max_groups_contributed, default 1). 1 .. 1,000,000.
  int64_t max_groups_contributed = 1;
  // Linf: rows a unit may contribute to one group (Google's max_contributions_per_partition; default 1:
  // COUNT(*) counts units). 1 .. 1,000,000.
  int64_t max_rows_per_group = 1;

  // Public groups: when set, exactly these keys are released (each a tuple of one value per group_by
  // column, of that column's type, or int64 for a binned column; NULL allowed), duplicates rejected. Must be
  // unset for a global aggregate.
  std::optional<std::vector<std::vector<table::Value>>> public_groups;
  // Private partition selection: a group needs at least this many distinct units (after bounding) before
  // selection even considers it (Google's pre-thresholding: the keep probability becomes that of
  // units - min_units_per_group + 1). >= 1.
  int64_t min_units_per_group = 1;
  // The share of epsilon given to private partition selection, relative to the aggregations' weights.
  double selection_budget_weight = 1.0;
  // The fraction of an aggregation's epsilon that automatic bounds spend, in (0, 1).
  double auto_bounds_budget_fraction = 0.25;

  QuantileTreeOptions quantile_tree;
  // Level of the confidence intervals in results and PlanCost: in (0, 1).
  double confidence_level = 0.95;
};

// ---------------------------------------------------------------------------------------------------------
// Cost and expected error (PlanCost), computed from the plan alone.

// The expected error of one output column (one Aggregate), from the noise scales alone.
struct ColumnError {
  std::string name;
  // For counts and SUM: the standard deviation of the noise and the half-width of its confidence interval
  // (at the plan's confidence_level); the interval of a released value is value +- half_width.
  // For AVG, VARIANCE, STDDEV and quantiles the error depends on the data (the group's count): these hold the
  // error at a group of `reference_count` units contributing Linf rows each, as an indication; `note` says
  // how it scales.
  double stddev = 0;
  double half_width = 0;
  bool data_dependent = false;
  int64_t reference_count = 0;
  std::string note;
  // The bounds used, when the plan gives them (nullopt for counts and for automatic bounds).
  std::optional<Bounds> bounds;
};

struct QueryCost {
  // What the ledger charges, with one component per mechanism: "COUNT(*)", "AVG(x) count", "AVG(x) sum",
  // "SUM(x) automatic bounds", "partition selection", ...
  PrivacyCost privacy;
  std::vector<ColumnError> errors;  // one per Aggregate, in plan order
  // The noise scales used per aggregation component (for --explain): "laplace scale 2.0" etc.
  std::vector<std::string> mechanisms;
  // Partition selection: the smallest number of units at which a group is kept with probability >= 0.5
  // and >= 0.99 (0 when groups are public or there is no GROUP BY).
  int64_t selection_units_for_half = 0;
  int64_t selection_units_for_99 = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Results (RunQuery, RunPlainAggregation).

struct NoisyValue {
  double value = 0;
  // A confidence interval at the plan's confidence_level for the bounded quantity (the aggregate of the
  // rows kept by contribution bounding, after clamping): nullopt when none is computed (quantiles, and
  // exact results of RunPlainAggregation).
  std::optional<double> ci_lo;
  std::optional<double> ci_hi;
};

struct ResultRow {
  std::vector<table::Value> key;  // one value per group_by column (int64 for a binned column)
  // One entry per plan aggregate; each holds one value, except APPROX_QUANTILES (num_quantiles + 1).
  std::vector<std::vector<NoisyValue>> values;
};

// Bounds chosen automatically for one aggregate (a DP output, safe to show).
struct ChosenBounds {
  std::string name;  // the aggregate's name
  Bounds bounds;
};

struct QueryResult {
  std::vector<std::string> key_names;        // group_by column names
  std::vector<std::string> aggregate_names;  // output names, in plan order
  std::vector<ResultRow> rows;               // sorted by key (SQL order, NULL first)
  QueryCost cost;                            // equals PlanCost(plan); zero cost for RunPlainAggregation
  std::vector<ChosenBounds> chosen_bounds;
};

}  // namespace veil::dp

#endif  // VEIL_DP_QUERY_H_
