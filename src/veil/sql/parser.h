// The parser of Veil's DP SQL: a clear subset of GoogleSQL (BigQuery / ZetaSQL) differentially private
// queries. The grammar (keywords in any case):
//
//   query      := SELECT WITH DIFFERENTIAL_PRIVACY [OPTIONS ( [option {, option}] )]
//                   item {, item} [,]
//                 FROM table_path [[AS] alias]
//                 [WHERE expr]
//                 [GROUP BY expr {, expr}]
//                 [ORDER BY expr [ASC | DESC] {, ...}]
//                 [LIMIT integer]
//                 [;]
//   option     := name = expr                         epsilon = 1.0, privacy_unit_column = id, ...
//   item       := aggregate [[AS] alias] | expr [[AS] alias]
//   aggregate  := COUNT(*) | COUNT([DISTINCT] expr) | SUM(expr) | AVG(expr) | VAR_POP(expr) | VARIANCE(expr)
//               | STDDEV_POP(expr) | STDDEV(expr) | PERCENTILE_CONT(expr, p) | APPROX_QUANTILES(expr, n)
//                 each optionally followed by named arguments inside the parentheses:
//                 , contribution_bounds_per_group => (lo, hi)   , contribution_bounds_per_row => (lo, hi)
//   table_path := name {. name}
//   expr       := expr OR expr | expr AND expr | NOT expr
//               | sum (= | != | <> | < | <= | > | >=) sum
//               | sum [NOT] IN (expr {, expr}) | sum [NOT] BETWEEN sum AND sum | sum [NOT] LIKE sum
//               | sum IS [NOT] NULL
//   sum        := sum (+ | -) product | product;   product := product (* | /) unary | unary
//   unary      := - unary | + unary | primary
//   primary    := integer | float | 'string' | TRUE | FALSE | NULL | DATE 'yyyy-mm-dd'
//               | TIMESTAMP 'yyyy-mm-dd hh:mm:ss' | column | table.column | RANGE_BUCKET(expr, [b0, b1, ...])
//               | [expr {, expr}] | (expr) | (expr, expr {, expr})
// Operator precedence follows GoogleSQL: unary minus, then * /, + -, comparisons (non-associative: a = b = c
// is an error), NOT, AND, OR.
//
// What the parser rejects (InvalidArgument naming the token, its line:column, and the query line with a
// caret under it; see lexer.h, SqlError), rather than approximating:
//   - a SELECT without WITH DIFFERENTIAL_PRIVACY, SELECT DISTINCT, SELECT *, WITH ... AS (CTEs);
//   - joins, several tables, subqueries, UNNEST, set operations (UNION ...), HAVING, QUALIFY, WINDOW,
//     window functions (OVER), LIMIT ... OFFSET, ORDER BY ... NULLS FIRST;
//   - unknown functions, an aggregate anywhere but as a whole select or order item (so: no aggregates in
//     WHERE or GROUP BY, no nested aggregates, no arithmetic on aggregates), * outside COUNT(*), DISTINCT
//     outside COUNT;
//   - CASE, CAST, EXISTS, INTERVAL, ARRAY, STRUCT, string concatenation (||), %, bit operators;
//   - literals out of range: integers outside int64, doubles that overflow or underflow, invalid dates;
//   - expressions nested more than kMaxExpressionDepth levels, and everything the lexer rejects.
// Which names, options, argument counts and types are valid is the planner's business (planner.h): the
// parser checks shape, not meaning.
//
// Thread safety: pure functions.
#ifndef VEIL_SQL_PARSER_H_
#define VEIL_SQL_PARSER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "veil/sql/ast.h"

namespace veil::sql {

// The deepest expression tree accepted (Expr::depth), and the deepest nesting of parentheses, unary
// operators and argument lists while parsing: bounds the recursion of the parser and of every later walk
// over the tree, whatever the input.
inline constexpr int kMaxExpressionDepth = 100;

// Parses one query. Errors: InvalidArgument as described above.
absl::StatusOr<Query> ParseQuery(std::string_view sql);

// Parses one scalar expression (no aggregates), the whole of `sql`. For tests and tools. Errors: as
// ParseQuery.
absl::StatusOr<ExprPtr> ParseExpression(std::string_view sql);

// The aggregate functions of the subset, in upper case: COUNT, SUM, AVG, VAR_POP, VARIANCE, STDDEV_POP,
// STDDEV, PERCENTILE_CONT, APPROX_QUANTILES.
bool IsAggregateFunction(std::string_view upper_name);

// The scalar functions of the subset, in upper case: RANGE_BUCKET.
bool IsScalarFunction(std::string_view upper_name);

}  // namespace veil::sql

#endif  // VEIL_SQL_PARSER_H_
