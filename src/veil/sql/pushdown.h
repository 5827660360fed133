// PostgreSQL push-down of a DP query: the WHERE filter, contribution bounding and the aggregation per group
// run inside PostgreSQL as ONE SQL statement; Veil receives one row per group of exact bounded integer sums
// and adds the noise (and selects partitions) itself, as for an in-memory table.
//
//   VEIL_ASSIGN_OR_RETURN(table::PgConnection pg, table::PgConnection::Connect(conninfo));
//   VEIL_ASSIGN_OR_RETURN(std::vector<BoundedSum> sums, BoundedSumsFor(plan, bits));
//   const uint64_t seed = ...;  // the query's bounding seed (dp/query.h): RunQuery's Next64() >> 2
//   VEIL_ASSIGN_OR_RETURN(BoundedAggregates agg, RunPushdown(pg, {"public", "visits"}, plan, sums, where,
//   seed));
//   // then partition selection and noise over agg.groups (see "What the engine finishes" below)
//
// The statement (BuildPushdownStatement returns it, e.g. for `veil query --explain`):
//
//   WITH base AS (SELECT unit AS u, keys AS k1.., values AS x1..  -- columns cast to Veil's types (int2/4 ->
//                 FROM "schema"."table"                         -- int8, real/numeric -> float8, char(n) ->
//                 WHERE (filter) IS TRUE AND unit IS NOT NULL), -- text), binned keys with width_bucket
//   filtered AS (... public groups only ...),
//   dt_<col> AS (...),                -- FormatDouble texts of double units / keys, once per distinct value
//   v0 .. vm AS (...),                -- a_u, a_k: hashtextextended chains over T(v); the row hash chain
//                                     -- hashfloat8extended / hashint8extended / hashtextextended
//   hashed AS (... ROW_NUMBER() OVER (PARTITION BY u, keys, g_m) - 1 AS d ...),  -- occurrence number
//   folded, m1 .. m6 AS (...),        -- F and M of query.h: r = M(a_u # a_k), w = M(r # a_row)
//   ranked AS (SELECT *,
//     DENSE_RANK() OVER (PARTITION BY u ORDER BY r, a_k, keys) AS group_rank,  -- L0
//     ROW_NUMBER() OVER (PARTITION BY u, keys ORDER BY w) AS row_rank         -- Linf
//     FROM m6)
//   SELECT keys, units, t1 .. tn      -- per BoundedSum: count(*), count(x), sum(round(clamped x ...))
//   FROM ranked WHERE group_rank <= L0 AND row_rank <= Linf GROUP BY keys ORDER BY keys
//
// Every level ends with OFFSET 0 (PostgreSQL would otherwise flatten them and copy a column's expression
// into each of its uses: exponential), and the statement runs in a READ ONLY transaction with
// enable_nestloop off and cursor_tuple_fraction 1 (row estimates under a WHERE can be 1, and a nested loop
// over dt_* is quadratic). Identifiers are quoted with PQescapeIdentifier and every value (literals of WHERE,
// bounds and the constants derived from them, bucket boundaries, public keys, the seeds) is a binary
// parameter: nothing of the query's text or data is spliced into the SQL.
//
// Exactness. The groups and rows kept are those of query.h's bounding rule: PostgreSQL's own hash functions
// (which dp::internal::PgHash* reimplement), value texts T(v) rebuilt in SQL for every type (doubles:
// std::to_chars' shortest form, reconstructed from PostgreSQL's shortest digits), the occurrence number of
// repeated rows. The per-row integers use the engine's formulas with the constants (g, mid, half, 2^bits)
// computed in C++ and sent as float8, and IEEE arithmetic in the same order, so the sums are exact integers
// equal to the in-memory engine's. Tested against the real server (pushdown_test.cc): hashes and texts bit
// for bit on thousands of values, 50,000 rows equal to a reference of query.h's rule and to RunQuery's
// counts, sums and averages under the same DeterministicRandom stream.
// Known gaps (the in-memory engine and PostgreSQL disagree, so such data should not be attached): dates and
// timestamps before year 1 (PostgreSQL's BC years); timestamps on PostgreSQL < 14 (extract(epoch) is a
// double there); comparisons with NaN in WHERE (PostgreSQL's NaN equals itself and sorts above every
// number); a double unit or key column holding both 0.0 and -0.0 (the engine groups them and hashes the
// text of whichever it saw first).
//
// Supported plans: COUNT(*), COUNT(column), COUNT(DISTINCT unit), SUM, AVG, VARIANCE, STDDEV with explicit
// bounds; GROUP BY columns, binned (RANGE_BUCKET) or not; public groups. Not (Unimplemented, so the caller
// can fall back to reading the rows with table::PgConnection::ReadTable and running the in-memory engine,
// which gives the same result): quantiles (PERCENTILE_CONT, APPROX_QUANTILES) and aggregations without
// bounds (automatic bounds).
//
// WHERE: the parsed expression (sql/ast.h) that the planner checked against the table; columns are read with
// the same types as the in-memory table (so `x / y` divides doubles, as GoogleSQL does). Supported: literals,
// columns, + - * / (unary and binary), comparisons, AND, OR, NOT, [NOT] IN, [NOT] BETWEEN, [NOT] LIKE,
// IS [NOT] NULL, RANGE_BUCKET. Anything else is InvalidArgument naming it.
//
// What the engine finishes (the request to dp/aggregation.h): (1) the BoundedSum list it noises for a plan,
// with its bits per sum (today BoundedSumsFor mirrors its Compile order and takes one `bits`), and (2) a
// function that takes the plan, the seed and these BoundedAggregates and does partition selection and noise
// (RunQuery's code after its accumulation), so that both paths share that code and give equal results
// under the same RandomBits.
//
// Thread safety: pure functions, except RunPushdown, which uses the connection (one thread at a time).
#ifndef VEIL_SQL_PUSHDOWN_H_
#define VEIL_SQL_PUSHDOWN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/dp/query.h"
#include "veil/sql/ast.h"
#include "veil/table/postgres_source.h"
#include "veil/table/types.h"

namespace veil::sql {

// One integer sum per group that the engine adds noise to (one "component" of an aggregation in
// dp/aggregation.cc): over the rows kept by contribution bounding, the sum of a per-row integer.
enum class BoundedSumKind {
  kRows,         // 1 per kept row (COUNT(*))
  kNonNull,      // 1 per kept row whose `column` is not NULL (nor NaN) (COUNT(column), the count of AVG...)
  kUnits,        // 1 per kept (unit, group) cell (COUNT(DISTINCT unit))
  kSum,          // round(clamp(x) / g), g = 2^(ceil(log2 max(|lo|, |hi|)) - bits) (1 if both are 0)
  kNormSum,      // round(u 2^bits), u = clamp((clamp(x) - mid) / half, -1, 1), mid = lo + (hi - lo) / 2,
                 // half = (hi - lo) / 2 (u = 0 if half = 0)
  kNormSquares,  // round((2 u^2 - 1) 2^bits)
};
// round() is round-half-even (std::nearbyint, PostgreSQL's round(float8)); clamp(x) = min(max(x, lo), hi),
// with an int64 value converted to double and a bool as 0 / 1; rows whose value is NULL or NaN add nothing.

struct BoundedSum {
  BoundedSumKind kind = BoundedSumKind::kRows;
  std::string column;  // all but kRows and kUnits
  dp::Bounds bounds;   // kSum, kNormSum, kNormSquares
  int bits = 0;        // kSum, kNormSum, kNormSquares: 0 .. 30

  friend bool operator==(const BoundedSum&, const BoundedSum&) = default;
};

// The sums the in-memory engine adds noise to for `plan`, in its order (per aggregate: COUNT(*) kRows,
// COUNT(x) kNonNull, COUNT(DISTINCT unit) kUnits, SUM kSum, AVG kNonNull + kNormSum, VARIANCE and STDDEV
// kNonNull + kNormSum + kNormSquares), every value sum with `bits` of precision. The engine chooses bits
// per sum from its share of the budget (20 at most); until it exposes its choice, callers pass it here.
// Errors: Unimplemented for quantiles and for aggregations without bounds.
absl::StatusOr<std::vector<BoundedSum>> BoundedSumsFor(const dp::QueryPlan& plan, int bits);

// One group that kept at least one row after contribution bounding.
struct BoundedGroup {
  std::vector<table::Value> key;  // one value per GROUP BY column (int64 or NULL for a binned one)
  int64_t units = 0;  // distinct privacy units with a kept row in this group (for partition selection)
  std::vector<int64_t> totals;  // one per BoundedSum, in order

  friend bool operator==(const BoundedGroup&, const BoundedGroup&) = default;
};

struct BoundedAggregates {
  uint64_t seed = 0;  // the bounding seed used
  // The groups with at least one kept row, sorted by key (SQL order, NULL first; strings by bytes). With
  // public groups, listed keys without rows are absent: the finisher releases them as empty groups.
  std::vector<BoundedGroup> groups;
};

// The statement and its parameters ($1, $2, ...).
struct PushdownStatement {
  std::string sql;
  std::vector<table::Value> params;
  // Output columns: the keys ("k1", "k2", ...), "units", then "t1", "t2", ... (one per BoundedSum).
};

// Builds the statement for `plan` over the table `table` whose columns are `columns` (DescribeTable), with
// the filter `where` (nullptr: none) and the bounding seed `seed` (< 2^62). `pg` is used only to quote
// identifiers. Errors: InvalidArgument for a plan ValidatePlan rejects, an unknown column, a column of a type
// Veil does not read, a seed >= 2^62, or a WHERE expression outside the supported subset; Unimplemented for
// the plans listed above as not supported.
absl::StatusOr<PushdownStatement> BuildPushdownStatement(const table::PgConnection& pg,
                                                         const table::PgTableName& table,
                                                         const std::vector<table::PgColumn>& columns,
                                                         const dp::QueryPlan& plan,
                                                         const std::vector<BoundedSum>& sums,
                                                         const Expr* where, uint64_t seed);

// Describes the table, builds the statement and runs it: the bounded aggregates per group. Errors: those of
// BuildPushdownStatement and of the connection (table::PgConnection's mapping); FailedPrecondition for a
// server older than PostgreSQL 11 (no hashtextextended).
absl::StatusOr<BoundedAggregates> RunPushdown(table::PgConnection& pg, const table::PgTableName& table,
                                              const dp::QueryPlan& plan, const std::vector<BoundedSum>& sums,
                                              const Expr* where, uint64_t seed);

namespace internal {

// The SQL text of query.h's T(v) for an expression `sql_value` of Veil type `type` (NULL gives "\N");
// `utc_timestamptz` for a timestamptz value (converted to UTC first). For kDouble, `sql_value` must already
// be the text (a column of DoubleTextsQuery): only NULL is handled. Exposed for tests.
std::string SqlValueText(const std::string& sql_value, table::DataType type, bool utc_timestamptz);

// A query with columns (bits bytea, t text): one row per distinct bit pattern (float8send) of the non-NULL
// float8 `column` of `source` (a table or CTE name, already quoted), t = table::FormatDouble of the value.
// Exposed for tests.
std::string DoubleTextsQuery(const std::string& source, const std::string& column);

}  // namespace internal
}  // namespace veil::sql

#endif  // VEIL_SQL_PUSHDOWN_H_
