// The syntax tree of a DP SQL query, as the parser (parser.h) builds it and before any name is bound: names
// are text, types are unknown. The planner (planner.h) checks and binds it against a table's schema.
//
// Every node carries `offset`, the byte offset in the query text of the token that names it (an operator's
// symbol, a function's name, a literal's first character), so that later errors can point at it with
// SqlError (lexer.h).
//
// Nodes are plain move-only values: a Query owns its whole tree. Thread safety: as any value type.
#ifndef VEIL_SQL_AST_H_
#define VEIL_SQL_AST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/table/types.h"

namespace veil::sql {

enum class ExprKind : uint8_t {
  kLiteral,  // value
  kColumn,   // name, optionally qualifier.name
  kUnary,    // unary_op children[0]
  kBinary,   // children[0] binary_op children[1]
  kAnd,      // children[0] AND children[1] AND ... (two or more)
  kOr,       // children[0] OR children[1] OR ... (two or more)
  kIn,       // children[0] [NOT] IN (children[1], ...)
  kBetween,  // children[0] [NOT] BETWEEN children[1] AND children[2]
  kLike,     // children[0] [NOT] LIKE children[1]
  kIsNull,   // children[0] IS [NOT] NULL
  kCall,     // name([DISTINCT] children... | *, named_args...)
  kArray,    // [children...]
  kTuple,    // (children[0], children[1], ...): contribution bounds, multi-column public groups
};

enum class UnaryOp : uint8_t { kNegate, kPlus, kNot };

enum class BinaryOp : uint8_t {
  kAdd,
  kSubtract,
  kMultiply,
  kDivide,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
};

// True for = != < <= > >=.
inline bool IsComparison(BinaryOp op) { return op >= BinaryOp::kEqual; }

// The operator's SQL text: "+", "!=", "<=", ..., "-", "NOT".
std::string_view OperatorText(BinaryOp op);
std::string_view OperatorText(UnaryOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// `name => value` in a function call: contribution_bounds_per_group => (0, 100).
struct NamedArgument {
  std::string name;  // as written
  int32_t offset = 0;
  ExprPtr value;
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int32_t offset = 0;
  // 1 + the largest depth of a child (1 for a leaf). The parser caps it (parser.h), so recursive walks over
  // a tree are safe.
  int32_t depth = 1;

  table::Value value;     // kLiteral (std::monostate for NULL)
  std::string name;       // kColumn: the column; kCall: the function, in upper case
  std::string qualifier;  // kColumn: the table or alias before the dot, or empty
  UnaryOp unary_op = UnaryOp::kNegate;
  BinaryOp binary_op = BinaryOp::kAdd;
  bool negated = false;                   // kIn, kBetween, kLike, kIsNull: the NOT form
  bool distinct = false;                  // kCall: COUNT(DISTINCT x)
  bool star = false;                      // kCall: COUNT(*)
  std::vector<ExprPtr> children;          // operands, arguments, elements
  std::vector<NamedArgument> named_args;  // kCall
};

// One `name = value` of OPTIONS(...).
struct Option {
  std::string name;  // as written
  int32_t offset = 0;
  ExprPtr value;
};

// One item of the select list: an expression and its alias (empty if none was written).
struct SelectItem {
  ExprPtr expr;
  std::string alias;
  int32_t alias_offset = -1;  // -1 if no alias
};

struct OrderItem {
  ExprPtr expr;
  bool descending = false;
};

struct TableRef {
  std::vector<std::string> path;  // dataset.table -> {"dataset", "table"}
  std::string alias;              // empty if none
  int32_t offset = 0;
  // The path joined with dots: the name the query reads from.
  std::string Name() const;
};

struct Query {
  int32_t offset = 0;  // of SELECT
  std::vector<Option> options;
  int32_t options_offset = 0;  // of DIFFERENTIAL_PRIVACY
  std::vector<SelectItem> select;
  TableRef from;
  ExprPtr where;  // null if there is no WHERE
  std::vector<ExprPtr> group_by;
  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;
  int32_t limit_offset = -1;
};

// --- Printing: canonical GoogleSQL text that the parser reads back to an equal tree. Keywords are in upper
// case, identifiers quoted only when needed (lexer.h, QuoteIdentifier), parentheses only where precedence
// needs them, doubles in their shortest round-trip form.
std::string ToSql(const Expr& expr);
std::string ToSql(const Query& query);

// True if the two trees are the same expression: same shape, operators, literals (by value) and names, with
// column and function names compared without regard to case. Offsets do not matter.
bool SameExpr(const Expr& a, const Expr& b);

}  // namespace veil::sql

#endif  // VEIL_SQL_AST_H_
