// The DP aggregation engine: runs a QueryPlan (query.h) on a table::Table with contribution bounding per
// privacy unit, noisy aggregates and partition selection, and computes a plan's privacy cost and expected
// error without data.
//
//   dp::QueryPlan plan;
//   plan.privacy_unit_column = "patient_id";
//   plan.group_by = {{"diagnosis"}};
//   plan.aggregates = {{dp::AggregateFunction::kCountStar},
//                      {dp::AggregateFunction::kAvg, "age", dp::Bounds{0, 100}}};
//   plan.epsilon = 1;
//   plan.delta = 1e-6;
//   VEIL_ASSIGN_OR_RETURN(dp::QueryCost cost, dp::PlanCost(plan));     // charge the ledger first
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(dp::QueryResult r, dp::RunQuery(table, std::nullopt, plan, bits));
//
// Guarantee of RunQuery: (cost.privacy.total.epsilon, cost.privacy.total.delta)-DP with respect to adding or
// removing all rows of one privacy unit (see query.h for the mechanisms and the budget split).
//
// Thread safety: the functions are reentrant; RunQuery uses up to 2 worker threads internally and the
// RandomBits only from the calling thread.
#ifndef VEIL_DP_AGGREGATION_H_
#define VEIL_DP_AGGREGATION_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"
#include "veil/table/table.h"

namespace veil::dp {

// Checks a plan on its own (without a table): budget, bounds, options, names. Errors: InvalidArgument
// naming the field and the reason, e.g. "delta must be > 0 for private partition selection (GROUP BY
// without public groups)".
absl::Status ValidatePlan(const QueryPlan& plan);

// The privacy cost of running `plan` (what RunQuery will spend, exactly), with the breakdown per mechanism
// and the expected error of each output column. Pure: no data, no randomness. Used by `veil query
// --explain` and to charge the ledger before a query runs. Errors: those of ValidatePlan.
absl::StatusOr<QueryCost> PlanCost(const QueryPlan& plan);

// Runs `plan` on the rows `selected_rows` of `table` (the rows that passed WHERE: strictly increasing
// indices in [0, table.num_rows())), or on every row when nullopt. Randomness (the bounding seed, all noise,
// partition selection) comes from `bits` only.
// Result: one row per released group, sorted by key; result.cost == PlanCost(plan).
// Errors: those of ValidatePlan; InvalidArgument for an unknown column, a column of the wrong type, a public
// key of the wrong type, or bad selected_rows; the RandomBits' error (nothing is released then).
absl::StatusOr<QueryResult> RunQuery(const table::Table& table,
                                     std::optional<std::span<const int64_t>> selected_rows,
                                     const QueryPlan& plan, RandomBits& bits);

// The NON-private baseline of the same plan: exact GROUP BY over the selected rows (or all), no bounding, no
// clamping (bounds are ignored), no noise, no partition selection (every non-empty group is output; with
// public_groups exactly the listed keys, empty ones included, as RunQuery). Exact aggregates: SUM in
// extended precision, AVG / VAR_POP / STDDEV_POP (NaN for a group without values), PERCENTILE_CONT with
// linear interpolation, APPROX_QUANTILES as exact quantiles at i / n. Intervals are nullopt and the cost is
// zero. Rows with a NULL unit are kept (units are not used). For tests and the benchmark baseline; never
// release its output. Errors: as RunQuery (except the budget is not checked).
absl::StatusOr<QueryResult> RunPlainAggregation(const table::Table& table,
                                                std::optional<std::span<const int64_t>> selected_rows,
                                                const QueryPlan& plan);

// ---------------------------------------------------------------------------------------------------------
// The engine in two halves, for a caller that does the contribution bounding and the per-group integer sums
// elsewhere (sql/pushdown.h: PostgreSQL) and lets the engine finish: partition selection and noise. RunQuery
// is exactly RunQuery's own accumulation followed by FinishQuery, so both give equal results under the same
// RandomBits:
//
//   VEIL_ASSIGN_OR_RETURN(std::vector<dp::BoundedSum> sums, dp::BoundedSums(plan));  // what to compute
//   VEIL_ASSIGN_OR_RETURN(uint64_t seed, dp::DrawBoundingSeed(bits));   // RunQuery's first draw
//   ... per group: the units kept and one integer total per BoundedSum, over the rows that query.h's
//       bounding rule keeps under `seed` ...
//   VEIL_ASSIGN_OR_RETURN(dp::QueryResult r, dp::FinishQuery(plan, std::move(groups), bits));

// One integer sum per group that the engine adds noise to (one "component" of an aggregation): over the rows
// kept by contribution bounding, the sum of a per-row integer.
enum class BoundedSumKind {
  kRows,         // 1 per kept row (COUNT(*))
  kNonNull,      // 1 per kept row whose `column` is not NULL (nor NaN) (COUNT(column), the count of AVG...)
  kUnits,        // 1 per kept (unit, group) cell (COUNT(DISTINCT unit))
  kSum,          // round(clamp(x) / g), g = FixedPointGrid(bounds, bits)
  kNormSum,      // round(u 2^bits), u = clamp((clamp(x) - mid) / half, -1, 1), mid = lo + (hi - lo) / 2,
                 // half = (hi - lo) / 2 (u = 0 if half = 0)
  kNormSquares,  // round((2 u^2 - 1) 2^bits)
};
// round() is round-half-even; clamp(x) = min(max(x, lo), hi), with an int64 value converted to double and a
// bool as 0 / 1; rows whose value is NULL or NaN add nothing.

struct BoundedSum {
  BoundedSumKind kind = BoundedSumKind::kRows;
  std::string column;  // all but kRows and kUnits
  Bounds bounds;       // kSum, kNormSum, kNormSquares
  int bits = 0;        // kSum, kNormSum, kNormSquares: the fixed-point precision, 4 .. 20

  friend bool operator==(const BoundedSum& a, const BoundedSum& b) {
    return a.kind == b.kind && a.column == b.column && a.bounds.lo == b.bounds.lo &&
           a.bounds.hi == b.bounds.hi && a.bits == b.bits;
  }
};

// The fixed-point grid of a kSum: 2^(ceil(log2 max(|lo|, |hi|)) - bits), or 1 when both bounds are 0.
double FixedPointGrid(const Bounds& bounds, int bits);

// The sums the engine adds noise to for `plan`, in its order (per aggregate: COUNT(*) kRows, COUNT(x)
// kNonNull, COUNT(DISTINCT unit) kUnits, SUM kSum, AVG kNonNull + kNormSum, VARIANCE and STDDEV kNonNull +
// kNormSum + kNormSquares), each value sum with the precision the engine chose from its share of the budget.
// Errors: those of ValidatePlan; Unimplemented for quantiles (PERCENTILE_CONT, APPROX_QUANTILES: a tree per
// group, not sums) and for aggregations without bounds (automatic bounds need a pass over the values).
absl::StatusOr<std::vector<BoundedSum>> BoundedSums(const QueryPlan& plan);

// The per-query bounding seed of query.h (62 bits): RunQuery's first draw from `bits`.
absl::StatusOr<uint64_t> DrawBoundingSeed(RandomBits& bits);

// One group with its bounded sums: the rows query.h's bounding keeps, accumulated.
struct BoundedGroup {
  // One value per GROUP BY column (int64 or NULL for a binned one); doubles canonical (-0 as +0, every NaN
  // as the quiet NaN), as the engine groups them.
  std::vector<table::Value> key;
  int64_t units = 0;            // distinct privacy units with a kept row in the group (partition selection)
  std::vector<int64_t> totals;  // one per BoundedSums(plan), in order

  friend bool operator==(const BoundedGroup&, const BoundedGroup&) = default;
};

// Finishes a query from its bounded sums: partition selection (private GROUP BY: every group with units > 0
// is a candidate; public groups: every listed key, released with the totals of its group or with zeros if
// it has none; no GROUP BY: the one group, given or empty), then noise, in RunQuery's order of draws (the
// selection draws over the candidates in key order, then the noise per released group, aggregate and
// component). `bits` must be the stream whose first draw was the bounding seed. Guarantee: that of RunQuery,
// provided the groups were bounded by query.h's rules. Result: as RunQuery (cost == PlanCost(plan)).
// Errors: those of BoundedSums; InvalidArgument for a group whose key or totals have the wrong size, a key
// given twice, or, with public groups, a key that is not listed; the RandomBits' error.
absl::StatusOr<QueryResult> FinishQuery(const QueryPlan& plan, std::vector<BoundedGroup> groups,
                                        RandomBits& bits);

namespace internal {

// PostgreSQL's hash_bytes_extended (the lookup3 hash behind hashtextextended(text, seed)), reimplemented:
// the same 64-bit value PostgreSQL returns (as an unsigned number) on little-endian machines.
uint64_t PgHashBytesExtended(std::string_view bytes, uint64_t seed);

// PostgreSQL's hashfloat8extended(x, seed) (0 and -0 give the seed itself; NaN is hashed as the canonical
// quiet NaN; otherwise the 8 bytes of the double) and hashint8extended(v, seed) (the 32-bit fold
// lo ^ (v >= 0 ? hi : ~hi) hashed as 4 bytes), as unsigned numbers.
uint64_t PgHashFloat8Extended(double x, uint64_t seed);
uint64_t PgHashInt8Extended(int64_t v, uint64_t seed);

// PgHashBytesExtended of inputs of one fixed length under one fixed seed, with the seed's mixing step done
// once: Hash8(b) == PgHashBytesExtended(the 8 little-endian bytes of b, seed) when constructed with length 8,
// Hash4 likewise with length 4. The engine hashes millions of values under the query's seed this way.
// Thread safety: immutable after construction.
class SeededLookup3 {
 public:
  SeededLookup3(uint32_t length, uint64_t seed);
  uint64_t Hash8(uint64_t bytes) const;  // length 8
  uint64_t Hash4(uint32_t bytes) const;  // length 4
  // PgHashInt8Extended(v, seed) (length 4).
  uint64_t HashInt8(int64_t v) const {
    const uint32_t hi = static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32);
    return Hash4(static_cast<uint32_t>(v) ^ (v >= 0 ? hi : ~hi));
  }
  // The state (lanes a, b, c) before the input's bytes are added.
  uint32_t a() const { return a_; }
  uint32_t b() const { return b_; }
  uint32_t c() const { return c_; }

 private:
  uint32_t a_ = 0, b_ = 0, c_ = 0;
};

// RunQuery with the engine's fast path (at most one numeric value column and no quantile tree: records carry
// the value, a branch-light bounding kernel) allowed or not, so tests can check that both paths give
// identical results under the same seed.
absl::StatusOr<QueryResult> RunQueryForTest(const table::Table& table,
                                            std::optional<std::span<const int64_t>> selected_rows,
                                            const QueryPlan& plan, RandomBits& bits, bool allow_fast_path);

// F and M of query.h's bounding hash.
inline uint32_t Fold32(uint64_t h) { return static_cast<uint32_t>(h ^ (h >> 32)); }
inline uint32_t Mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x2C1B3C6Du;
  x ^= x >> 16;
  return x;
}

}  // namespace internal
}  // namespace veil::dp

#endif  // VEIL_DP_AGGREGATION_H_
