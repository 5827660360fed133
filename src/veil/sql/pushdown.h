// PostgreSQL push-down of a DP query: the WHERE filter, contribution bounding and the aggregation per group
// run inside PostgreSQL as ONE SQL statement; Veil receives one row per group of exact bounded integer sums
// and adds the noise (and selects partitions) itself, as for an in-memory table.
//
//   VEIL_ASSIGN_OR_RETURN(table::PgConnection pg, table::PgConnection::Connect(conninfo));
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(dp::QueryResult r, RunPushdownQuery(pg, {"public", "visits"}, plan, where, bits));
//
// RunPushdownQuery is the whole path: it draws the bounding seed (dp::DrawBoundingSeed, RunQuery's first
// draw), takes the engine's list of sums (dp::BoundedSums), runs the statement (RunPushdown) and lets the
// engine finish (dp::FinishQuery: partition selection and noise), so that its result equals
// dp::RunQuery's on the same rows under the same RandomBits.
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
// Edge cases handled: double unit and key columns are canonicalised in `base` as the engine does (-0 as 0,
// every NaN as the quiet NaN), so 0.0 and -0.0 are one unit or group with one hash; NULL and NaN values of an
// aggregated column are both "missing" (the same row hash, neither counted nor summed); dates and timestamps
// before year 1 get the engine's texts (astronomical years: 0000 is 1 BC, -0001 is 2 BC).
// Known gaps (the in-memory engine and PostgreSQL disagree, so such data should not be attached):
// timestamps as values or keys on PostgreSQL < 14 (extract(epoch) is a double there, not exact numeric);
// comparisons with NaN in WHERE (PostgreSQL's NaN equals itself and sorts above every number).
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
// Thread safety: pure functions, except RunPushdown and RunPushdownQuery, which use the connection (one
// thread at a time).
#ifndef VEIL_SQL_PUSHDOWN_H_
#define VEIL_SQL_PUSHDOWN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/dp/aggregation.h"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"
#include "veil/sql/ast.h"
#include "veil/table/postgres_source.h"
#include "veil/table/types.h"

namespace veil::sql {

// The engine's bounded sums and groups (dp/aggregation.h: one source of truth for what is summed, with
// which precision, and how the engine finishes).
using BoundedSumKind = dp::BoundedSumKind;
using BoundedSum = dp::BoundedSum;
using BoundedGroup = dp::BoundedGroup;

// dp::BoundedSums(plan) with errors that say what the push-down cannot do. Errors: Unimplemented for
// quantiles and for aggregations without bounds (the caller reads the rows instead); those of ValidatePlan.
absl::StatusOr<std::vector<BoundedSum>> BoundedSumsFor(const dp::QueryPlan& plan);

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
// the filter `where` (nullptr: none) and the bounding seed `seed` (< 2^62). Needs no connection (identifiers
// are quoted as PQescapeIdentifier quotes them for UTF-8), so `veil query --explain` can show it. Errors:
// InvalidArgument for a plan ValidatePlan rejects, an unknown column, a column of a type Veil does not read,
// a seed >= 2^62, an identifier that is empty, holds a NUL or is not UTF-8, or a WHERE expression outside
// the supported subset; Unimplemented for the plans listed above as not supported.
absl::StatusOr<PushdownStatement> BuildPushdownStatement(const table::PgTableName& table,
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

// The whole push-down of a DP query (see the top of this file): the bounding seed from `bits`, the statement
// run in PostgreSQL, partition selection and noise in Veil. Equal to dp::RunQuery over the table's rows that
// pass `where` (read as table::PgConnection::ReadTable reads them) under the same RandomBits. Guarantee: that
// of dp::RunQuery for `plan`. Errors: those of BoundedSumsFor, RunPushdown and dp::FinishQuery.
absl::StatusOr<dp::QueryResult> RunPushdownQuery(table::PgConnection& pg, const table::PgTableName& table,
                                                 const dp::QueryPlan& plan, const Expr* where,
                                                 dp::RandomBits& bits);

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
