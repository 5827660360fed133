// The planner of Veil's DP SQL: binds a parsed query (parser.h) to a table's schema, checks its types and
// options, and turns it into the DP engine's plan (dp::QueryPlan, veil/dp/query.h) with its privacy cost
// and expected error, without reading any data.
//
//   VEIL_ASSIGN_OR_RETURN(sql::PreparedQuery q, sql::PrepareQuery(text, table.schema()));
//   ledger.Charge(q.cost());                                   // before any data is touched
//   VEIL_ASSIGN_OR_RETURN(sql::QueryOutput out, sql::ExecuteQuery(q, table, bits));   // executor.h
//   std::cout << sql::Explain(q);                              // what `veil query --explain` prints
//
// OPTIONS (names in any case; each at most once):
//   epsilon                      required; a number, finite and > 0: the query's whole epsilon.
//   delta                        a number in [0, 1); default 0. Private GROUP BY (without public_groups)
//                                needs delta > 0 (partition selection), and so does noise_kind = gaussian.
//   privacy_unit_column          required; a column of the table: the data subject. Neighbouring tables
//                                differ in all the rows of one value of this column.
//   max_groups_contributed       integer 1 .. 1,000,000; default 1 (L0: groups a unit contributes to, kept
//                                uniformly at random).
//   max_rows_contributed         integer 1 .. 1,000,000; default 1 (Linf: rows a unit contributes to EACH
//                                group). NOTE: ZetaSQL uses this name for a bound on a unit's rows across all
//                                groups, exclusive with max_groups_contributed; Veil bounds groups (L0) and
//                                rows per group (Linf) together, and this option is the Linf bound.
//   min_privacy_units_per_group  integer >= 1; default 1: a pre-threshold for private partition selection.
//   public_groups                an array of the group keys to release, every one with noise, including keys
//                                without rows; rows with other keys are dropped. One literal per key for one
//                                GROUP BY expression ([ 'F', 'M' ]), a tuple per key for several, in GROUP BY
//                                order ([('F', 1), ('M', 1)]). Requires GROUP BY.
//   noise_kind                   laplace (default) or gaussian (Veil extension; gaussian needs delta > 0).
//   confidence_level             in (0, 1); default 0.95: the level of the intervals (Veil extension).
//
// Aggregates (each must be a whole select item; see parser.h):
//   COUNT(*)                     rows (after contribution bounding).
//   COUNT(expr)                  rows where expr is not NULL.
//   COUNT(DISTINCT unit)         privacy units; the argument must be the privacy unit column.
//   SUM(x), AVG(x)               x numeric (int64 or double).
//   VAR_POP(x) = VARIANCE(x)     population variance; STDDEV_POP(x) = STDDEV(x) its square root.
//   PERCENTILE_CONT(x, p)        p a number literal in [0, 1].
//   APPROX_QUANTILES(x, n)       n an integer literal in 1 .. 1000; gives n + 1 values (min, cut points,
//   max).
// Bounds (each value aggregate, optional): contribution_bounds_per_row => (lo, hi) clamps every row's value
// to [lo, hi]. contribution_bounds_per_group => (lo, hi) (BigQuery's form for SUM and AVG) clamps a unit's
// aggregate in a group; it is accepted only where it means the same as clamping rows, i.e. when
// max_rows_contributed = 1, and is rejected otherwise rather than approximated. lo and hi are number
// literals, finite, lo <= hi. Without bounds the engine chooses them with a DP log-histogram, whose cost is
// part of the query's cost. Counts take no bounds (a unit's rows per group are bounded by
// max_rows_contributed).
//
// Group keys: GROUP BY lists columns or scalar expressions, by expression, by the alias of a select item, or
// by its 1-based position. Every key must appear in the select list, and every select item that is not an
// aggregate must be a key. RANGE_BUCKET(x, [b0, b1, ...]) (boundaries number literals, strictly increasing)
// gives the int64 bucket number 0 .. n, as BigQuery does (NULL for a NULL or NaN x): histograms with binning.
//
// Scalar expressions (WHERE, group keys, aggregate arguments) follow GoogleSQL: arithmetic on int64 / double
// (int64 + - * int64 stays int64; / always gives double; int64 mixed with double converts to double),
// comparisons between numbers, strings, bools, dates or timestamps (a string literal compared with a DATE or
// TIMESTAMP column is read as one), IN, BETWEEN, LIKE ('%' any text, '_' one character, '\' escapes),
// IS [NOT] NULL, AND / OR / NOT with three-valued logic. WHERE must be a BOOL expression and keeps the rows
// where it is TRUE. Where GoogleSQL would stop with a runtime error that depends on the data (int64
// overflow, division by zero), Veil yields NULL instead: an error would tell the analyst something about one
// row.
//
// Errors: InvalidArgument in the form of SqlError (lexer.h), pointing at the offending token: an unknown
// column (with a "did you mean" suggestion), a type error (SUM of a string column), a missing or invalid
// option (epsilon missing or <= 0, bounds with lo > hi, the privacy unit column not in the table), a select
// item neither grouped nor aggregated, duplicate output names, and everything ParseQuery rejects.
//
// Thread safety: PrepareQuery and Explain are pure functions; a PreparedQuery is an immutable value that may
// be shared between threads.
#ifndef VEIL_SQL_PLANNER_H_
#define VEIL_SQL_PLANNER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "veil/dp/accountant.h"
#include "veil/dp/query.h"
#include "veil/sql/ast.h"
#include "veil/table/schema.h"
#include "veil/table/types.h"

namespace veil::sql {

namespace internal {

// A scalar expression bound to a schema: columns are indices, types are known, literals are coerced. The
// executor (executor.h) evaluates it vectorised over a table's columns.
enum class BoundOp : uint8_t {
  kColumn,       // column: an index into the schema
  kConstant,     // constant (std::monostate for NULL)
  kToDouble,     // children[0] (int64) as double
  kNegate,       // -children[0]
  kNot,          // NOT children[0]
  kArithmetic,   // children[0] arithmetic children[1] (kAdd, kSubtract, kMultiply, kDivide)
  kCompare,      // children[0] compare children[1] (kEqual .. kGreaterEqual)
  kAnd,          // children[0] AND children[1] AND ...
  kOr,           // children[0] OR children[1] OR ...
  kInSet,        // children[0] [NOT] IN set (constants of children[0]'s type), set_has_null
  kIsNull,       // children[0] IS [NOT] NULL
  kLike,         // children[0] [NOT] LIKE pattern
  kRangeBucket,  // RANGE_BUCKET(children[0], boundaries)
};

struct BoundExpr {
  BoundOp op = BoundOp::kConstant;
  // The result type. For a NULL literal that no context typed, kInt64 (it is NULL whatever the type).
  table::DataType type = table::DataType::kInt64;
  int column = -1;
  table::Value constant;
  BinaryOp binary_op = BinaryOp::kAdd;  // kArithmetic, kCompare
  bool negated = false;                 // kInSet, kIsNull, kLike
  std::vector<table::Value> set;        // kInSet, without NULLs
  bool set_has_null = false;            // kInSet
  std::string pattern;                  // kLike
  std::vector<double> boundaries;       // kRangeBucket
  std::vector<std::unique_ptr<BoundExpr>> children;
};

// True if the two bound expressions compute the same thing (same shape, columns and constants).
bool SameBound(const BoundExpr& a, const BoundExpr& b);

// A column the executor computes before running the plan: an aggregate's argument or a group key that is an
// expression rather than a column. Named so that it cannot clash with the table's columns.
struct DerivedColumn {
  std::string name;
  table::DataType type = table::DataType::kDouble;
  std::shared_ptr<const BoundExpr> expr;
};

}  // namespace internal

// One item of the select list, as the result presents it.
struct OutputColumn {
  enum class Kind { kGroupKey, kAggregate };
  Kind kind = Kind::kGroupKey;
  std::string name;  // the alias, else the column's name or the expression as written in canonical SQL
  // kGroupKey: position in plan().group_by; kAggregate: position in plan().aggregates.
  int index = 0;
  // kGroupKey: the key's type (int64 for RANGE_BUCKET). kAggregate: int64 for the counts, double otherwise.
  table::DataType type = table::DataType::kDouble;
  // Aggregates: the values per result row (1, or n + 1 for APPROX_QUANTILES(x, n)).
  int num_values = 1;
};

// One ORDER BY item: the select item it sorts by.
struct OrderKey {
  int output = 0;  // index into columns()
  bool descending = false;
};

// A query parsed, bound and planned, with its cost. Immutable; cheap to copy (the bound expressions are
// shared).
class PreparedQuery {
 public:
  // The query text, as given.
  const std::string& sql() const { return sql_; }
  // The table the query reads (FROM), as written: "visits", "hospital.visits".
  const std::string& table_name() const { return table_name_; }
  // The schema the query was bound to; ExecuteQuery requires a table with exactly this schema.
  const table::Schema& schema() const { return schema_; }

  // The engine's plan: privacy unit, bounding, group keys (column names; derived ones are computed by the
  // executor), aggregates, budget.
  const dp::QueryPlan& plan() const { return plan_; }
  // What running the query costs (what the ledger must charge), with one component per mechanism.
  const dp::PrivacyCost& cost() const { return query_cost_.privacy; }
  // The cost with the expected error of every aggregate and the noise scales (dp::PlanCost).
  const dp::QueryCost& query_cost() const { return query_cost_; }

  // The select list, in order.
  const std::vector<OutputColumn>& columns() const { return columns_; }
  const std::vector<OrderKey>& order_by() const { return order_by_; }
  std::optional<int64_t> limit() const { return limit_; }
  // The WHERE clause in canonical SQL, or "" if there is none.
  const std::string& where_sql() const { return where_sql_; }

  // For the executor.
  const internal::BoundExpr* where() const { return where_.get(); }
  const std::vector<internal::DerivedColumn>& derived_columns() const { return derived_; }

 private:
  friend class Planner;

  std::string sql_;
  std::string table_name_;
  table::Schema schema_;
  dp::QueryPlan plan_;
  dp::QueryCost query_cost_;
  std::vector<OutputColumn> columns_;
  std::vector<OrderKey> order_by_;
  std::optional<int64_t> limit_;
  std::string where_sql_;
  std::shared_ptr<const internal::BoundExpr> where_;
  std::vector<internal::DerivedColumn> derived_;
};

// The names of the result table's columns for one select item (executor.h, QueryOutput): a group key gives
// its name; an aggregate gives NAME, NAME_ci_lo and NAME_ci_hi (its value and confidence interval), except
// APPROX_QUANTILES(x, n), which gives NAME_0 .. NAME_n. The planner rejects queries where two of these names
// would be equal (without regard to case).
std::vector<std::string> ResultColumnNames(const OutputColumn& column);

// Parses `sql`, binds it to `schema` and plans it: the whole of what happens before data is read. The table
// name in FROM is not checked against anything (the caller maps it to a dataset). Errors: InvalidArgument as
// described at the top of this file and in parser.h.
absl::StatusOr<PreparedQuery> PrepareQuery(std::string_view sql, const table::Schema& schema);

// What `veil query --explain` prints: the plan (table, privacy unit and bounds, filter, group keys and how
// they are selected, the aggregates with their bounds), the privacy cost with its breakdown, the noise of
// each mechanism, and the expected error (standard deviation and confidence-interval half-width) of each
// output column, computed from the plan alone. Reads no data and spends no budget.
std::string Explain(const PreparedQuery& query);

// The same as one JSON document (stable field names, in this order): table, privacy_unit_column,
// epsilon, delta, noise_kind, max_groups_contributed, max_rows_contributed, filter, group_by,
// group_selection, columns (name, kind, and for aggregates: function, column, bounds, stddev, ci_half_width,
// data_dependent, note), confidence_level, cost (epsilon, delta, rho, method, components), mechanisms,
// order_by, limit.
nlohmann::ordered_json ExplainJson(const PreparedQuery& query);

}  // namespace veil::sql

#endif  // VEIL_SQL_PLANNER_H_
