// The executor of Veil's DP SQL: runs a PreparedQuery (planner.h) on a table.
//
//   VEIL_ASSIGN_OR_RETURN(sql::PreparedQuery q, sql::PrepareQuery(text, table.schema()));
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(sql::QueryOutput out, sql::ExecuteQuery(q, table, bits));
//   std::cout << out.table.ToString();
//
// Steps: WHERE is evaluated over the table's columns, vectorised (one typed pass per operator over whole
// columns, string predicates once per distinct string of a column's dictionary), into the selected rows;
// derived columns (aggregate arguments and group keys that are expressions) are computed the same way; the
// DP engine (dp::RunQuery, veil/dp/aggregation.h) bounds contributions, aggregates with noise and selects
// groups; ORDER BY and LIMIT then apply to the noisy result (post-processing, which costs no privacy).
//
// Guarantee: that of dp::RunQuery for the plan, (q.cost().total.epsilon, q.cost().total.delta)-DP for the
// privacy unit: WHERE and the derived columns are functions of one row each, so a unit's rows still change
// only that unit's contribution. Evaluation never fails on the data (see planner.h: overflow and division by
// zero give NULL), so an error cannot reveal anything about a row.
//
// Thread safety: the functions are reentrant; `bits` is used from the calling thread only.
#ifndef VEIL_SQL_EXECUTOR_H_
#define VEIL_SQL_EXECUTOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "veil/dp/query.h"
#include "veil/dp/random_bits.h"
#include "veil/sql/planner.h"
#include "veil/table/table.h"

namespace veil::sql {

struct QueryOutput {
  // One row per released group, in the query's ORDER BY order (else by key, NULL first), at most LIMIT
  // rows. Columns, in select-list order, named by ResultColumnNames (planner.h): a group key is one column
  // of its type (int64 for RANGE_BUCKET); an aggregate is its noisy value (int64 for the counts, double
  // otherwise) and the bounds of its confidence interval at the plan's confidence_level (double, NULL where
  // the engine gives none: quantiles); APPROX_QUANTILES(x, n) is n + 1 double columns.
  table::Table table;
  // What was spent: equals the PreparedQuery's query_cost().
  dp::QueryCost cost;
  // Bounds the engine chose for aggregates written without bounds (DP outputs, safe to show).
  std::vector<dp::ChosenBounds> chosen_bounds;
};

// Runs `query` on `table` with randomness from `bits` only. Errors: InvalidArgument if the table's schema is
// not the one the query was prepared with; the engine's errors (dp::RunQuery), including the RandomBits'
// error (nothing is released then).
absl::StatusOr<QueryOutput> ExecuteQuery(const PreparedQuery& query, const table::Table& table,
                                         dp::RandomBits& bits);

// The output of `query` from the engine's result for its plan, computed elsewhere (e.g. pushed down to
// PostgreSQL, sql/pushdown.h: RunPushdownQuery): ORDER BY, LIMIT and the output columns, as ExecuteQuery
// does after the engine. Errors: Internal if the result does not have the plan's shape.
absl::StatusOr<QueryOutput> OutputFromResult(const PreparedQuery& query, dp::QueryResult result);

// The NON-private baseline of the same query (dp::RunPlainAggregation): exact values, no bounding, no noise,
// no intervals (NULL), zero cost, same output shape. For tests and benchmarks only; never release it.
// Errors: as ExecuteQuery.
absl::StatusOr<QueryOutput> ExecutePlainQuery(const PreparedQuery& query, const table::Table& table);

// The rows of `table` where the query's WHERE is TRUE, in increasing order (all rows if there is no WHERE).
// Errors: InvalidArgument if the table's schema is not the query's.
absl::StatusOr<std::vector<int64_t>> SelectRows(const PreparedQuery& query, const table::Table& table);

// The output as JSON: {"columns": [names], "rows": [[values]], "cost": {epsilon, delta}, "chosen_bounds":
// [{name, lo, hi}]}. Values are JSON numbers, strings, booleans or null; dates and timestamps as their text
// (types.h).
nlohmann::ordered_json OutputToJson(const QueryOutput& output);

}  // namespace veil::sql

#endif  // VEIL_SQL_EXECUTOR_H_
