#include "veil/sql/parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "veil/base/absl_compat.h"
#include "veil/base/status_macros.h"
#include "veil/sql/ast.h"
#include "veil/sql/lexer.h"
#include "veil/table/types.h"

namespace veil::sql {
namespace {

using base::ToAbsl;

constexpr std::array<std::string_view, 9> kAggregates = {
    "COUNT",           "SUM", "AVG", "VAR_POP", "VARIANCE", "STDDEV_POP", "STDDEV", "PERCENTILE_CONT",
    "APPROX_QUANTILES"};
constexpr std::array<std::string_view, 1> kScalarFunctions = {"RANGE_BUCKET"};

std::string AggregateList() {
  std::string out;
  for (std::string_view name : kAggregates) absl::StrAppend(&out, out.empty() ? "" : ", ", ToAbsl(name));
  return out;
}

// Parentheses, unary operators and argument lists may nest this deep while parsing. Twice the tree depth:
// printing a tree (ToSql) can need a parenthesis and an operator per level, and must parse back.
constexpr int kMaxNesting = 2 * kMaxExpressionDepth + 2;

// Messages for keywords of GoogleSQL that the subset leaves out, so that the error says so plainly.
std::string_view UnsupportedKeywordMessage(std::string_view keyword) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 32> kMessages = {{
      {"JOIN", "joins are not supported: a differentially private query reads one table"},
      {"INNER", "joins are not supported: a differentially private query reads one table"},
      {"LEFT", "joins are not supported: a differentially private query reads one table"},
      {"RIGHT", "joins are not supported: a differentially private query reads one table"},
      {"FULL", "joins are not supported: a differentially private query reads one table"},
      {"CROSS", "joins are not supported: a differentially private query reads one table"},
      {"NATURAL", "joins are not supported: a differentially private query reads one table"},
      {"OUTER", "joins are not supported: a differentially private query reads one table"},
      {"ON", "joins are not supported: a differentially private query reads one table"},
      {"USING", "joins are not supported: a differentially private query reads one table"},
      {"UNION", "set operations (UNION, INTERSECT, EXCEPT) are not supported"},
      {"INTERSECT", "set operations (UNION, INTERSECT, EXCEPT) are not supported"},
      {"EXCEPT", "set operations (UNION, INTERSECT, EXCEPT) are not supported"},
      {"HAVING", "HAVING is not supported (filter rows with WHERE before aggregation)"},
      {"QUALIFY", "QUALIFY is not supported (window functions are outside the DP subset)"},
      {"WINDOW", "WINDOW is not supported (window functions are outside the DP subset)"},
      {"OVER", "window functions (OVER) are not supported"},
      {"PARTITION", "window functions (PARTITION BY) are not supported"},
      {"CASE", "CASE expressions are not supported in the DP SQL subset"},
      {"CAST", "CAST is not supported in the DP SQL subset"},
      {"EXISTS", "subqueries (EXISTS) are not supported"},
      {"INTERVAL", "INTERVAL values are not supported in the DP SQL subset"},
      {"ARRAY", "ARRAY expressions are not supported; write an array literal as [a, b, ...]"},
      {"STRUCT", "STRUCT is not supported in the DP SQL subset"},
      {"EXTRACT", "EXTRACT is not supported in the DP SQL subset"},
      {"IF", "IF is not supported in the DP SQL subset"},
      {"ROLLUP", "GROUP BY ROLLUP is not supported"},
      {"CUBE", "GROUP BY CUBE is not supported"},
      {"GROUPING", "GROUPING SETS are not supported"},
      {"UNNEST", "UNNEST is not supported: a differentially private query reads one table"},
      {"TABLESAMPLE", "TABLESAMPLE is not supported"},
      {"SELECT", "subqueries are not supported"},
  }};
  for (const auto& [word, message] : kMessages) {
    if (word == keyword) return message;
  }
  return {};
}

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens) : sql_(sql), tokens_(std::move(tokens)) {}

  absl::StatusOr<Query> ParseQuery() {
    Query query;
    const Token& first = Peek();
    if (first.kind == TokenKind::kKeyword && first.value == "WITH") {
      return Error(first, "WITH ... AS (common table expressions) is not supported; write one SELECT");
    }
    if (!(first.kind == TokenKind::kKeyword && first.value == "SELECT")) return Unexpected(first, "SELECT");
    query.offset = first.offset;
    Advance();
    VEIL_RETURN_IF_ERROR(ParseDpClause(query));
    VEIL_RETURN_IF_ERROR(ParseSelectList(query));
    VEIL_RETURN_IF_ERROR(ParseFrom(query));
    if (PeekKeyword("WHERE")) {
      Advance();
      VEIL_ASSIGN_OR_RETURN(query.where, ParseTopExpr("in WHERE (it filters rows before aggregation)"));
    }
    if (PeekKeyword("GROUP")) {
      Advance();
      VEIL_RETURN_IF_ERROR(ExpectKeyword("BY"));
      do {
        VEIL_ASSIGN_OR_RETURN(ExprPtr key, ParseTopExpr("in GROUP BY"));
        query.group_by.push_back(std::move(key));
      } while (ConsumeOperator(","));
    }
    if (PeekKeyword("ORDER")) {
      Advance();
      VEIL_RETURN_IF_ERROR(ExpectKeyword("BY"));
      do {
        OrderItem item;
        VEIL_ASSIGN_OR_RETURN(item.expr, ParseItemExpr());
        if (PeekKeyword("DESC")) {
          item.descending = true;
          Advance();
        } else if (PeekKeyword("ASC")) {
          Advance();
        }
        if (PeekKeyword("NULLS")) return Error(Peek(), "NULLS FIRST / NULLS LAST is not supported");
        query.order_by.push_back(std::move(item));
      } while (ConsumeOperator(","));
    }
    if (PeekKeyword("LIMIT")) {
      Advance();
      const Token& n = Peek();
      if (n.kind != TokenKind::kInteger) return Unexpected(n, "a non-negative integer after LIMIT");
      VEIL_ASSIGN_OR_RETURN(const int64_t limit, IntegerValue(n, /*negative=*/false));
      query.limit = limit;
      query.limit_offset = n.offset;
      Advance();
      if (Peek().IsWord("OFFSET")) return Error(Peek(), "LIMIT ... OFFSET is not supported");
    }
    ConsumeOperator(";");
    if (Peek().kind != TokenKind::kEnd) return Unexpected(Peek(), "the end of the query");
    return query;
  }

  absl::StatusOr<ExprPtr> ParseStandaloneExpression() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr e, ParseTopExpr("in a scalar expression"));
    if (Peek().kind != TokenKind::kEnd) return Unexpected(Peek(), "the end of the expression");
    return e;
  }

 private:
  // --- Tokens.

  const Token& Peek(size_t k = 0) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  const Token& Advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool PeekKeyword(std::string_view keyword, size_t k = 0) const {
    return Peek(k).kind == TokenKind::kKeyword && Peek(k).value == keyword;
  }
  bool ConsumeOperator(std::string_view op) {
    if (!Peek().IsOperator(op)) return false;
    Advance();
    return true;
  }
  absl::Status ExpectOperator(std::string_view op) {
    if (ConsumeOperator(op)) return absl::OkStatus();
    return Unexpected(Peek(), absl::StrCat("\"", ToAbsl(op), "\""));
  }
  absl::Status ExpectKeyword(std::string_view keyword) {
    if (PeekKeyword(keyword)) {
      Advance();
      return absl::OkStatus();
    }
    return Unexpected(Peek(), keyword);
  }
  static bool IsName(const Token& t) {
    return t.kind == TokenKind::kIdentifier || t.kind == TokenKind::kQuotedIdentifier;
  }

  absl::Status Error(const Token& t, std::string_view message) const {
    return SqlError(sql_, t.offset, message);
  }
  absl::Status Error(int32_t offset, std::string_view message) const {
    return SqlError(sql_, offset, message);
  }

  // "unexpected X; expected Y", or the plain reason why a keyword of GoogleSQL is outside the subset.
  absl::Status Unexpected(const Token& t, std::string_view expected) const {
    if (t.kind == TokenKind::kKeyword) {
      const std::string_view why = UnsupportedKeywordMessage(t.value);
      if (!why.empty()) return Error(t, why);
      return Error(t, absl::StrCat("unexpected keyword ", t.value, "; expected ", ToAbsl(expected)));
    }
    if (t.kind == TokenKind::kEnd)
      return Error(t, absl::StrCat("unexpected end of input; expected ", ToAbsl(expected)));
    return Error(t, absl::StrCat("unexpected ", DescribeToken(sql_, t), "; expected ", ToAbsl(expected)));
  }

  // --- Clauses.

  absl::Status ParseDpClause(Query& query) {
    const Token& t = Peek();
    if (!PeekKeyword("WITH")) {
      if (PeekKeyword("DISTINCT") || PeekKeyword("ALL")) {
        return Error(t,
                     absl::StrCat("SELECT ", t.value,
                                  " is not supported; a query must start SELECT WITH DIFFERENTIAL_PRIVACY"));
      }
      return Error(t,
                   "Veil answers only differentially private queries: write SELECT WITH DIFFERENTIAL_PRIVACY "
                   "OPTIONS(epsilon = ..., delta = ..., privacy_unit_column = ...) ...");
    }
    Advance();
    const Token& dp = Peek();
    if (dp.IsWord("ANONYMIZATION")) {
      return Error(dp, "WITH ANONYMIZATION is ZetaSQL's older syntax; write WITH DIFFERENTIAL_PRIVACY");
    }
    if (!(dp.kind == TokenKind::kIdentifier && dp.IsWord("DIFFERENTIAL_PRIVACY"))) {
      return Unexpected(dp, "DIFFERENTIAL_PRIVACY after SELECT WITH");
    }
    query.options_offset = dp.offset;
    Advance();
    if (!(Peek().IsWord("OPTIONS") && Peek(1).IsOperator("("))) return absl::OkStatus();
    Advance();
    Advance();
    if (ConsumeOperator(")")) return absl::OkStatus();
    do {
      const Token& name = Peek();
      if (name.kind != TokenKind::kIdentifier) return Unexpected(name, "an option name");
      Option option;
      option.name = name.value;
      option.offset = name.offset;
      Advance();
      VEIL_RETURN_IF_ERROR(ExpectOperator("="));
      VEIL_ASSIGN_OR_RETURN(option.value, ParseTopExpr("in OPTIONS"));
      query.options.push_back(std::move(option));
    } while (ConsumeOperator(","));
    return ExpectOperator(")");
  }

  absl::Status ParseSelectList(Query& query) {
    while (true) {
      if (Peek().IsOperator("*")) {
        return Error(Peek(), "SELECT * is not supported: list the group keys and the aggregates");
      }
      SelectItem item;
      VEIL_ASSIGN_OR_RETURN(item.expr, ParseItemExpr());
      if (PeekKeyword("AS")) {
        Advance();
        if (!IsName(Peek())) return Unexpected(Peek(), "an alias after AS");
      }
      if (IsName(Peek())) {
        item.alias = Peek().value;
        item.alias_offset = Peek().offset;
        Advance();
      }
      query.select.push_back(std::move(item));
      if (!ConsumeOperator(",")) break;
      if (PeekKeyword("FROM")) break;  // a trailing comma, as GoogleSQL allows
    }
    return absl::OkStatus();
  }

  // A select or order item: an aggregate call that is the whole item, or a scalar expression.
  absl::StatusOr<ExprPtr> ParseItemExpr() {
    const Token& t = Peek();
    if (IsName(t) && Peek(1).IsOperator("(") && IsAggregateFunction(absl::AsciiStrToUpper(ToAbsl(t.value)))) {
      aggregate_allowed_ = true;
      absl::StatusOr<ExprPtr> call = ParsePrimary();
      aggregate_allowed_ = false;
      if (!call.ok()) return call.status();
      const Token& next = Peek();
      static constexpr std::array<std::string_view, 13> kOperators = {"+", "-",  "*", "/",  "=",  "!=", "<>",
                                                                      "<", "<=", ">", ">=", "||", "%"};
      const bool op = next.kind == TokenKind::kOperator &&
                      std::find(kOperators.begin(), kOperators.end(), next.value) != kOperators.end();
      if (op || PeekKeyword("AND") || PeekKeyword("OR") || PeekKeyword("IS") || PeekKeyword("IN") ||
          PeekKeyword("NOT") || PeekKeyword("BETWEEN") || PeekKeyword("LIKE")) {
        return Error(next,
                     "an aggregate must be a whole select item: operators on aggregate results are not "
                     "supported");
      }
      return call;
    }
    return ParseTopExpr("here: an aggregate must be a whole select item (no operators on aggregate results)");
  }

  absl::Status ParseFrom(Query& query) {
    VEIL_RETURN_IF_ERROR(ExpectKeyword("FROM"));
    const Token& t = Peek();
    if (t.IsOperator("(")) return Error(t, "subqueries are not supported: a DP query reads one table");
    if (!IsName(t)) return Unexpected(t, "a table name");
    query.from.offset = t.offset;
    while (true) {
      const Token& part = Peek();
      if (!IsName(part)) return Unexpected(part, "a name after \".\"");
      if (part.kind == TokenKind::kQuotedIdentifier) {
        // `project.dataset.table` names a path, as in BigQuery.
        for (absl::string_view segment : absl::StrSplit(ToAbsl(part.value), '.')) {
          if (segment.empty()) return Error(part, "empty name in the table path");
          query.from.path.emplace_back(segment);
        }
      } else {
        query.from.path.push_back(part.value);
      }
      Advance();
      if (!ConsumeOperator(".")) break;
    }
    if (PeekKeyword("AS")) {
      Advance();
      if (!IsName(Peek())) return Unexpected(Peek(), "an alias after AS");
    }
    if (IsName(Peek())) {
      query.from.alias = Peek().value;
      Advance();
    }
    if (Peek().IsOperator(",")) {
      return Error(Peek(), "joins are not supported: a differentially private query reads one table");
    }
    return absl::OkStatus();
  }

  // --- Expressions.

  // A scalar expression where aggregates are not allowed; `context` says where, for the error.
  absl::StatusOr<ExprPtr> ParseTopExpr(std::string_view context) {
    const std::string_view saved = context_;
    context_ = context;
    absl::StatusOr<ExprPtr> e = ParseExpr();
    context_ = saved;
    return e;
  }

  // Counts one level of nesting for the duration of a parse call.
  class NestingGuard {
   public:
    explicit NestingGuard(Parser* p) : p_(p) { ++p_->nesting_; }
    ~NestingGuard() { --p_->nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    Parser* p_;
  };

  absl::Status CheckNesting() const {
    if (nesting_ > kMaxNesting) {
      return Error(Peek(), absl::StrCat("the expression is nested too deeply (more than ", kMaxNesting,
                                        " levels of parentheses, operators and arguments)"));
    }
    return absl::OkStatus();
  }

  ExprPtr Node(ExprKind kind, int32_t offset) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  // Sets e.depth from its children and checks it against the limit.
  absl::StatusOr<ExprPtr> Finish(ExprPtr e) const {
    int32_t depth = 0;
    for (const ExprPtr& c : e->children) depth = std::max(depth, c->depth);
    for (const NamedArgument& a : e->named_args) depth = std::max(depth, a.value->depth);
    e->depth = depth + 1;
    if (e->depth > kMaxExpressionDepth) {
      return Error(e->offset, absl::StrCat("the expression is nested too deeply (more than ",
                                           kMaxExpressionDepth, " levels)"));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> ParseExpr() {
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    return ParseOr();
  }

  absl::StatusOr<ExprPtr> ParseOr() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    if (!PeekKeyword("OR")) return left;
    ExprPtr node = Node(ExprKind::kOr, Peek().offset);
    node->children.push_back(std::move(left));
    while (PeekKeyword("OR")) {
      Advance();
      VEIL_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      node->children.push_back(std::move(right));
    }
    return Finish(std::move(node));
  }

  absl::StatusOr<ExprPtr> ParseAnd() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    if (!PeekKeyword("AND")) return left;
    ExprPtr node = Node(ExprKind::kAnd, Peek().offset);
    node->children.push_back(std::move(left));
    while (PeekKeyword("AND")) {
      Advance();
      VEIL_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      node->children.push_back(std::move(right));
    }
    return Finish(std::move(node));
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    if (!PeekKeyword("NOT")) return ParseComparison();
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    ExprPtr node = Node(ExprKind::kUnary, Advance().offset);
    node->unary_op = UnaryOp::kNot;
    VEIL_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
    node->children.push_back(std::move(operand));
    return Finish(std::move(node));
  }

  // The comparison operator at the current token, if any.
  std::optional<BinaryOp> PeekComparison() const {
    const Token& t = Peek();
    if (t.kind != TokenKind::kOperator) return std::nullopt;
    if (t.value == "=") return BinaryOp::kEqual;
    if (t.value == "!=" || t.value == "<>") return BinaryOp::kNotEqual;
    if (t.value == "<") return BinaryOp::kLess;
    if (t.value == "<=") return BinaryOp::kLessEqual;
    if (t.value == ">") return BinaryOp::kGreater;
    if (t.value == ">=") return BinaryOp::kGreaterEqual;
    return std::nullopt;
  }

  bool PeekComparisonStart() const {
    return PeekComparison().has_value() || PeekKeyword("IN") || PeekKeyword("BETWEEN") ||
           PeekKeyword("LIKE") || PeekKeyword("IS") ||
           (PeekKeyword("NOT") &&
            (PeekKeyword("IN", 1) || PeekKeyword("BETWEEN", 1) || PeekKeyword("LIKE", 1)));
  }

  absl::StatusOr<ExprPtr> ParseComparison() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr left, ParseAdditive());
    if (!PeekComparisonStart()) return left;
    VEIL_ASSIGN_OR_RETURN(ExprPtr node, ParseComparisonTail(std::move(left)));
    if (PeekComparisonStart()) {
      return Error(Peek(), "comparisons cannot be chained (a = b = c); add parentheses");
    }
    return node;
  }

  absl::StatusOr<ExprPtr> ParseComparisonTail(ExprPtr left) {
    if (const std::optional<BinaryOp> op = PeekComparison()) {
      ExprPtr node = Node(ExprKind::kBinary, Advance().offset);
      node->binary_op = *op;
      VEIL_ASSIGN_OR_RETURN(ExprPtr right, ParseAdditive());
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      return Finish(std::move(node));
    }
    if (PeekKeyword("IS")) {
      ExprPtr node = Node(ExprKind::kIsNull, Advance().offset);
      if (PeekKeyword("NOT")) {
        node->negated = true;
        Advance();
      }
      if (!PeekKeyword("NULL"))
        return Unexpected(Peek(), "NULL after IS (IS TRUE, IS FALSE are not supported)");
      Advance();
      node->children.push_back(std::move(left));
      return Finish(std::move(node));
    }
    const bool negated = PeekKeyword("NOT");
    if (negated) Advance();
    const Token& op = Advance();  // IN, BETWEEN or LIKE (PeekComparisonStart checked)
    if (op.value == "IN") {
      ExprPtr node = Node(ExprKind::kIn, op.offset);
      node->negated = negated;
      node->children.push_back(std::move(left));
      if (PeekKeyword("UNNEST")) return Error(Peek(), "IN UNNEST is not supported; write IN (a, b, ...)");
      VEIL_RETURN_IF_ERROR(ExpectOperator("("));
      if (PeekKeyword("SELECT")) return Error(Peek(), "subqueries are not supported");
      do {
        VEIL_ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
        node->children.push_back(std::move(item));
      } while (ConsumeOperator(","));
      VEIL_RETURN_IF_ERROR(ExpectOperator(")"));
      return Finish(std::move(node));
    }
    if (op.value == "BETWEEN") {
      ExprPtr node = Node(ExprKind::kBetween, op.offset);
      node->negated = negated;
      node->children.push_back(std::move(left));
      VEIL_ASSIGN_OR_RETURN(ExprPtr low, ParseAdditive());
      VEIL_RETURN_IF_ERROR(ExpectKeyword("AND"));
      VEIL_ASSIGN_OR_RETURN(ExprPtr high, ParseAdditive());
      node->children.push_back(std::move(low));
      node->children.push_back(std::move(high));
      return Finish(std::move(node));
    }
    ExprPtr node = Node(ExprKind::kLike, op.offset);  // LIKE
    node->negated = negated;
    VEIL_ASSIGN_OR_RETURN(ExprPtr pattern, ParseAdditive());
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(pattern));
    return Finish(std::move(node));
  }

  absl::StatusOr<ExprPtr> ParseAdditive() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr left, ParseMultiplicative());
    while (true) {
      const Token& t = Peek();
      if (t.IsOperator("||")) return Error(t, "string concatenation (||) is not supported");
      if (!t.IsOperator("+") && !t.IsOperator("-")) return left;
      ExprPtr node = Node(ExprKind::kBinary, Advance().offset);
      node->binary_op = t.value == "+" ? BinaryOp::kAdd : BinaryOp::kSubtract;
      VEIL_ASSIGN_OR_RETURN(ExprPtr right, ParseMultiplicative());
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      VEIL_ASSIGN_OR_RETURN(left, Finish(std::move(node)));
    }
  }

  absl::StatusOr<ExprPtr> ParseMultiplicative() {
    VEIL_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary());
    while (true) {
      const Token& t = Peek();
      if (t.IsOperator("%")) return Error(t, "the % operator is not supported");
      if (t.IsOperator("|") || t.IsOperator("&") || t.IsOperator("^") || t.IsOperator("<<") ||
          t.IsOperator(">>")) {
        return Error(t, "bit operators are not supported");
      }
      if (!t.IsOperator("*") && !t.IsOperator("/")) return left;
      ExprPtr node = Node(ExprKind::kBinary, Advance().offset);
      node->binary_op = t.value == "*" ? BinaryOp::kMultiply : BinaryOp::kDivide;
      VEIL_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary());
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      VEIL_ASSIGN_OR_RETURN(left, Finish(std::move(node)));
    }
  }

  absl::StatusOr<ExprPtr> ParseUnary() {
    const Token& t = Peek();
    if (t.IsOperator("~")) return Error(t, "bit operators are not supported");
    if (!t.IsOperator("-") && !t.IsOperator("+")) return ParsePrimary();
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    const bool minus = t.value == "-";
    const int32_t offset = Advance().offset;
    // A minus sign directly before an integer literal is part of it, so that -9223372036854775808 (whose
    // magnitude is not an int64) reads as the smallest int64.
    if (minus && Peek().kind == TokenKind::kInteger) {
      VEIL_ASSIGN_OR_RETURN(const int64_t v, IntegerValue(Peek(), /*negative=*/true));
      Advance();
      ExprPtr lit = Node(ExprKind::kLiteral, offset);
      lit->value = v;
      return lit;
    }
    VEIL_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
    if (minus && operand->kind == ExprKind::kLiteral) {
      // Fold the sign into a numeric literal: -1.5 is a literal, as the printer writes it.
      if (const double* d = std::get_if<double>(&operand->value)) {
        operand->value = -*d;
        operand->offset = offset;
        return operand;
      }
      if (const int64_t* i = std::get_if<int64_t>(&operand->value)) {
        if (*i == std::numeric_limits<int64_t>::min()) {
          return Error(offset, "integer overflow: the negation of the smallest int64");
        }
        operand->value = -*i;
        operand->offset = offset;
        return operand;
      }
    }
    ExprPtr node = Node(ExprKind::kUnary, offset);
    node->unary_op = minus ? UnaryOp::kNegate : UnaryOp::kPlus;
    node->children.push_back(std::move(operand));
    return Finish(std::move(node));
  }

  absl::StatusOr<int64_t> IntegerValue(const Token& t, bool negative) const {
    std::string_view text = t.value;
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
      base = 16;
    }
    const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    uint64_t v = 0;
    for (const char c : text) {
      const uint64_t digit =
          c <= '9' ? static_cast<uint64_t>(c - '0')
                   : static_cast<uint64_t>(absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10);
      if (v > (limit - digit) / static_cast<uint64_t>(base)) {
        return Error(t, absl::StrCat("integer literal ", negative ? "-" : "", DescribeToken(sql_, t),
                                     " is outside the int64 range"));
      }
      v = v * static_cast<uint64_t>(base) + digit;
    }
    if (negative)
      return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
    return static_cast<int64_t>(v);
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kInteger: {
        VEIL_ASSIGN_OR_RETURN(const int64_t v, IntegerValue(t, /*negative=*/false));
        ExprPtr e = Node(ExprKind::kLiteral, Advance().offset);
        e->value = v;
        return e;
      }
      case TokenKind::kFloat: {
        const std::optional<double> v = table::ParseDouble(t.value);
        if (!v)
          return Error(t, absl::StrCat("floating-point literal ", t.value, " is outside the double range"));
        ExprPtr e = Node(ExprKind::kLiteral, Advance().offset);
        e->value = *v;
        return e;
      }
      case TokenKind::kString: {
        ExprPtr e = Node(ExprKind::kLiteral, t.offset);
        e->value = t.value;
        Advance();
        return e;
      }
      case TokenKind::kKeyword: {
        if (t.value == "TRUE" || t.value == "FALSE" || t.value == "NULL") {
          ExprPtr e = Node(ExprKind::kLiteral, Advance().offset);
          if (t.value != "NULL") e->value = t.value == "TRUE";
          return e;
        }
        return Unexpected(t, "an expression");
      }
      case TokenKind::kIdentifier:
      case TokenKind::kQuotedIdentifier:
        if (Peek(1).IsOperator("(")) return ParseCall();
        if (t.kind == TokenKind::kIdentifier && Peek(1).kind == TokenKind::kString)
          return ParseTypedLiteral();
        return ParseColumn();
      case TokenKind::kOperator:
        if (t.value == "(") return ParseParenthesized();
        if (t.value == "[") return ParseArray();
        if (t.value == "*") return Error(t, "* is only allowed as COUNT(*)");
        return Unexpected(t, "an expression");
      case TokenKind::kEnd:
        return Unexpected(t, "an expression");
    }
    return Unexpected(t, "an expression");
  }

  absl::StatusOr<ExprPtr> ParseTypedLiteral() {
    const Token& type = Advance();
    const Token& text = Advance();
    ExprPtr e = Node(ExprKind::kLiteral, type.offset);
    if (type.IsWord("DATE")) {
      const std::optional<table::Date> d = table::ParseDate(text.value);
      if (!d)
        return Error(text, "invalid DATE literal: expected 'YYYY-MM-DD', a valid date in years 0000..9999");
      e->value = *d;
      return e;
    }
    if (type.IsWord("TIMESTAMP")) {
      const std::optional<table::Timestamp> ts = table::ParseTimestamp(text.value);
      if (!ts) {
        return Error(text,
                     "invalid TIMESTAMP literal: expected 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' (UTC), in years "
                     "0000..9999");
      }
      e->value = *ts;
      return e;
    }
    return Error(type, absl::StrCat("typed literals other than DATE '...' and TIMESTAMP '...' are not "
                                    "supported (",
                                    DescribeToken(sql_, type), ")"));
  }

  absl::StatusOr<ExprPtr> ParseColumn() {
    const Token& first = Advance();
    ExprPtr e = Node(ExprKind::kColumn, first.offset);
    e->name = first.value;
    if (Peek().IsOperator(".")) {
      Advance();
      const Token& second = Peek();
      if (!IsName(second)) return Unexpected(second, "a column name after \".\"");
      e->qualifier = std::move(e->name);
      e->name = second.value;
      Advance();
      if (Peek().IsOperator(".")) {
        return Error(Peek(), "a column is named as column or table.column; field access is not supported");
      }
    }
    return e;
  }

  absl::StatusOr<ExprPtr> ParseParenthesized() {
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    const Token& open = Advance();
    if (PeekKeyword("SELECT")) return Error(Peek(), "subqueries are not supported");
    VEIL_ASSIGN_OR_RETURN(ExprPtr first, ParseExpr());
    if (!Peek().IsOperator(",")) {
      VEIL_RETURN_IF_ERROR(ExpectOperator(")"));
      return first;
    }
    ExprPtr tuple = Node(ExprKind::kTuple, open.offset);
    tuple->children.push_back(std::move(first));
    while (ConsumeOperator(",")) {
      VEIL_ASSIGN_OR_RETURN(ExprPtr next, ParseExpr());
      tuple->children.push_back(std::move(next));
    }
    VEIL_RETURN_IF_ERROR(ExpectOperator(")"));
    return Finish(std::move(tuple));
  }

  absl::StatusOr<ExprPtr> ParseArray() {
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    ExprPtr array = Node(ExprKind::kArray, Advance().offset);
    if (!ConsumeOperator("]")) {
      do {
        VEIL_ASSIGN_OR_RETURN(ExprPtr element, ParseExpr());
        array->children.push_back(std::move(element));
      } while (ConsumeOperator(","));
      VEIL_RETURN_IF_ERROR(ExpectOperator("]"));
    }
    return Finish(std::move(array));
  }

  absl::StatusOr<ExprPtr> ParseCall() {
    NestingGuard guard(this);
    VEIL_RETURN_IF_ERROR(CheckNesting());
    const Token& name = Advance();
    const std::string upper = absl::AsciiStrToUpper(ToAbsl(name.value));
    const bool aggregate = IsAggregateFunction(upper);
    if (!aggregate && !IsScalarFunction(upper)) {
      return Error(name, absl::StrCat("unknown function ", DescribeToken(sql_, name),
                                      ": the DP SQL subset has the aggregates ", AggregateList(),
                                      " and the scalar function RANGE_BUCKET"));
    }
    if (aggregate && !aggregate_allowed_) {
      return Error(name, absl::StrCat("aggregate function ", upper, " is not allowed ", ToAbsl(context_)));
    }
    ExprPtr call = Node(ExprKind::kCall, name.offset);
    call->name = upper;
    Advance();  // (
    const bool saved_allowed = aggregate_allowed_;
    const std::string_view saved_context = context_;
    aggregate_allowed_ = false;
    context_ = "inside a function's arguments (aggregates cannot be nested)";
    absl::Status s = ParseArguments(*call);
    aggregate_allowed_ = saved_allowed;
    context_ = saved_context;
    VEIL_RETURN_IF_ERROR(s);
    if (PeekKeyword("OVER")) return Error(Peek(), "window functions (OVER) are not supported");
    return Finish(std::move(call));
  }

  absl::Status ParseArguments(Expr& call) {
    if (PeekKeyword("DISTINCT")) {
      if (call.name != "COUNT") return Error(Peek(), "DISTINCT is only supported as COUNT(DISTINCT ...)");
      call.distinct = true;
      Advance();
    }
    if (ConsumeOperator(")")) return absl::OkStatus();
    do {
      const Token& t = Peek();
      if (t.IsOperator("*")) {
        if (call.name != "COUNT" || call.distinct || !call.children.empty() || call.star) {
          return Error(t, "* is only allowed as COUNT(*)");
        }
        call.star = true;
        Advance();
      } else if (t.kind == TokenKind::kIdentifier && Peek(1).IsOperator("=>")) {
        NamedArgument arg;
        arg.name = t.value;
        arg.offset = t.offset;
        Advance();
        Advance();
        VEIL_ASSIGN_OR_RETURN(arg.value, ParseExpr());
        call.named_args.push_back(std::move(arg));
      } else {
        if (!call.named_args.empty()) {
          return Error(t, "a positional argument cannot follow a named argument (name => value)");
        }
        if (call.star) return Error(t, "COUNT(*) takes no other positional argument");
        VEIL_ASSIGN_OR_RETURN(ExprPtr arg, ParseExpr());
        call.children.push_back(std::move(arg));
      }
    } while (ConsumeOperator(","));
    if (PeekKeyword("ORDER") || PeekKeyword("IGNORE") || PeekKeyword("RESPECT") || PeekKeyword("LIMIT")) {
      return Error(Peek(), absl::StrCat(Peek().value, " inside an aggregate call is not supported"));
    }
    return ExpectOperator(")");
  }

  std::string_view sql_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  bool aggregate_allowed_ = false;
  std::string_view context_ = "here";
};

// --- Printing.

// Binding strength, loosest first; a child printed where a stronger one is needed gets parentheses.
enum Precedence : int {
  kPrecOr = 1,
  kPrecAnd = 2,
  kPrecNot = 3,
  kPrecComparison = 4,
  kPrecAdditive = 5,
  kPrecMultiplicative = 6,
  kPrecUnary = 7,
  kPrecPrimary = 8,
};

int PrecedenceOf(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kOr:
      return kPrecOr;
    case ExprKind::kAnd:
      return kPrecAnd;
    case ExprKind::kUnary:
      return e.unary_op == UnaryOp::kNot ? kPrecNot : kPrecUnary;
    case ExprKind::kBinary:
      if (IsComparison(e.binary_op)) return kPrecComparison;
      return e.binary_op == BinaryOp::kAdd || e.binary_op == BinaryOp::kSubtract ? kPrecAdditive
                                                                                 : kPrecMultiplicative;
    case ExprKind::kIn:
    case ExprKind::kBetween:
    case ExprKind::kLike:
    case ExprKind::kIsNull:
      return kPrecComparison;
    default:
      return kPrecPrimary;
  }
}

void Print(const Expr& e, int min_precedence, std::string* out);

void PrintList(const std::vector<ExprPtr>& items, std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->append(", ");
    Print(*items[i], 0, out);
  }
}

void PrintLiteral(const table::Value& v, std::string* out) {
  switch (v.index()) {
    case 0:
      out->append("NULL");
      break;
    case 1:
      out->append(std::to_string(std::get<int64_t>(v)));
      break;
    case 2:
      table::AppendDouble(std::get<double>(v), out);
      break;
    case 3:
      out->append(std::get<bool>(v) ? "TRUE" : "FALSE");
      break;
    case 4:
      out->append(QuoteString(std::get<std::string>(v)));
      break;
    case 5:
      absl::StrAppend(out, "DATE '", table::FormatDate(std::get<table::Date>(v)), "'");
      break;
    case 6:
      absl::StrAppend(out, "TIMESTAMP '", table::FormatTimestamp(std::get<table::Timestamp>(v)), "'");
      break;
  }
}

void Print(const Expr& e, int min_precedence, std::string* out) {
  const bool parens = PrecedenceOf(e) < min_precedence;
  if (parens) out->push_back('(');
  switch (e.kind) {
    case ExprKind::kLiteral:
      PrintLiteral(e.value, out);
      break;
    case ExprKind::kColumn:
      if (!e.qualifier.empty()) absl::StrAppend(out, QuoteIdentifier(e.qualifier), ".");
      out->append(QuoteIdentifier(e.name));
      break;
    case ExprKind::kUnary: {
      if (e.unary_op == UnaryOp::kNot) {
        out->append("NOT ");
        Print(*e.children[0], kPrecNot, out);
        break;
      }
      std::string operand;
      Print(*e.children[0], kPrecUnary, &operand);
      out->append(e.unary_op == UnaryOp::kNegate ? "-" : "+");
      if (!operand.empty() && (operand[0] == '-' || operand[0] == '+')) out->push_back(' ');  // never "--"
      out->append(operand);
      break;
    }
    case ExprKind::kBinary: {
      const int p = PrecedenceOf(e);
      // Comparisons are not associative; arithmetic is left-associative.
      Print(*e.children[0], p == kPrecComparison ? kPrecAdditive : p, out);
      absl::StrAppend(out, " ", ToAbsl(OperatorText(e.binary_op)), " ");
      Print(*e.children[1], p == kPrecComparison ? kPrecAdditive : p + 1, out);
      break;
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const bool is_and = e.kind == ExprKind::kAnd;
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i > 0) out->append(is_and ? " AND " : " OR ");
        Print(*e.children[i], is_and ? kPrecNot : kPrecAnd, out);
      }
      break;
    }
    case ExprKind::kIn:
      Print(*e.children[0], kPrecAdditive, out);
      out->append(e.negated ? " NOT IN (" : " IN (");
      for (size_t i = 1; i < e.children.size(); ++i) {
        if (i > 1) out->append(", ");
        Print(*e.children[i], 0, out);
      }
      out->push_back(')');
      break;
    case ExprKind::kBetween:
      Print(*e.children[0], kPrecAdditive, out);
      out->append(e.negated ? " NOT BETWEEN " : " BETWEEN ");
      Print(*e.children[1], kPrecAdditive, out);
      out->append(" AND ");
      Print(*e.children[2], kPrecAdditive, out);
      break;
    case ExprKind::kLike:
      Print(*e.children[0], kPrecAdditive, out);
      out->append(e.negated ? " NOT LIKE " : " LIKE ");
      Print(*e.children[1], kPrecAdditive, out);
      break;
    case ExprKind::kIsNull:
      Print(*e.children[0], kPrecAdditive, out);
      out->append(e.negated ? " IS NOT NULL" : " IS NULL");
      break;
    case ExprKind::kCall:
      absl::StrAppend(out, e.name, "(");
      if (e.distinct) out->append("DISTINCT ");
      if (e.star) out->append("*");
      if (e.star && !e.children.empty()) out->append(", ");
      PrintList(e.children, out);
      for (size_t i = 0; i < e.named_args.size(); ++i) {
        if (i > 0 || e.star || !e.children.empty()) out->append(", ");
        absl::StrAppend(out, e.named_args[i].name, " => ");
        Print(*e.named_args[i].value, 0, out);
      }
      out->push_back(')');
      break;
    case ExprKind::kArray:
      out->push_back('[');
      PrintList(e.children, out);
      out->push_back(']');
      break;
    case ExprKind::kTuple:
      out->push_back('(');
      PrintList(e.children, out);
      out->push_back(')');
      break;
  }
  if (parens) out->push_back(')');
}

}  // namespace

std::string_view OperatorText(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSubtract:
      return "-";
    case BinaryOp::kMultiply:
      return "*";
    case BinaryOp::kDivide:
      return "/";
    case BinaryOp::kEqual:
      return "=";
    case BinaryOp::kNotEqual:
      return "!=";
    case BinaryOp::kLess:
      return "<";
    case BinaryOp::kLessEqual:
      return "<=";
    case BinaryOp::kGreater:
      return ">";
    case BinaryOp::kGreaterEqual:
      return ">=";
  }
  return "?";
}

std::string_view OperatorText(UnaryOp op) {
  switch (op) {
    case UnaryOp::kNegate:
      return "-";
    case UnaryOp::kPlus:
      return "+";
    case UnaryOp::kNot:
      return "NOT";
  }
  return "?";
}

std::string TableRef::Name() const { return absl::StrJoin(path, "."); }

std::string ToSql(const Expr& expr) {
  std::string out;
  Print(expr, 0, &out);
  return out;
}

std::string ToSql(const Query& query) {
  std::string out = "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(";
  for (size_t i = 0; i < query.options.size(); ++i) {
    if (i > 0) out.append(", ");
    absl::StrAppend(&out, query.options[i].name, " = ");
    Print(*query.options[i].value, 0, &out);
  }
  out.append(")");
  for (size_t i = 0; i < query.select.size(); ++i) {
    out.append(i > 0 ? ", " : " ");
    Print(*query.select[i].expr, 0, &out);
    if (!query.select[i].alias.empty()) absl::StrAppend(&out, " AS ", QuoteIdentifier(query.select[i].alias));
  }
  out.append(" FROM ");
  for (size_t i = 0; i < query.from.path.size(); ++i) {
    if (i > 0) out.push_back('.');
    out.append(QuoteIdentifier(query.from.path[i]));
  }
  if (!query.from.alias.empty()) absl::StrAppend(&out, " AS ", QuoteIdentifier(query.from.alias));
  if (query.where) {
    out.append(" WHERE ");
    Print(*query.where, 0, &out);
  }
  if (!query.group_by.empty()) {
    out.append(" GROUP BY ");
    PrintList(query.group_by, &out);
  }
  for (size_t i = 0; i < query.order_by.size(); ++i) {
    out.append(i == 0 ? " ORDER BY " : ", ");
    Print(*query.order_by[i].expr, 0, &out);
    if (query.order_by[i].descending) out.append(" DESC");
  }
  if (query.limit) absl::StrAppend(&out, " LIMIT ", *query.limit);
  return out;
}

bool SameExpr(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.negated != b.negated || a.distinct != b.distinct || a.star != b.star ||
      a.children.size() != b.children.size() || a.named_args.size() != b.named_args.size()) {
    return false;
  }
  switch (a.kind) {
    case ExprKind::kLiteral:
      if (!(a.value == b.value)) return false;
      break;
    case ExprKind::kColumn:
      if (!SameName(a.name, b.name) || !SameName(a.qualifier, b.qualifier)) return false;
      break;
    case ExprKind::kCall:
      if (!SameName(a.name, b.name)) return false;
      break;
    case ExprKind::kUnary:
      if (a.unary_op != b.unary_op) return false;
      break;
    case ExprKind::kBinary:
      if (a.binary_op != b.binary_op) return false;
      break;
    default:
      break;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!SameExpr(*a.children[i], *b.children[i])) return false;
  }
  for (size_t i = 0; i < a.named_args.size(); ++i) {
    if (!SameName(a.named_args[i].name, b.named_args[i].name) ||
        !SameExpr(*a.named_args[i].value, *b.named_args[i].value)) {
      return false;
    }
  }
  return true;
}

bool IsAggregateFunction(std::string_view upper_name) {
  return std::find(kAggregates.begin(), kAggregates.end(), upper_name) != kAggregates.end();
}

bool IsScalarFunction(std::string_view upper_name) {
  return std::find(kScalarFunctions.begin(), kScalarFunctions.end(), upper_name) != kScalarFunctions.end();
}

absl::StatusOr<Query> ParseQuery(std::string_view sql) {
  VEIL_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  return Parser(sql, std::move(tokens)).ParseQuery();
}

absl::StatusOr<ExprPtr> ParseExpression(std::string_view sql) {
  VEIL_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql));
  return Parser(sql, std::move(tokens)).ParseStandaloneExpression();
}

}  // namespace veil::sql
