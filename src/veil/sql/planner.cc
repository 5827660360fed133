#include "veil/sql/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "veil/base/absl_compat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/aggregation.h"
#include "veil/sql/lexer.h"
#include "veil/sql/parser.h"
#include "veil/table/types.h"

namespace veil::sql {

using internal::BoundExpr;
using internal::BoundOp;
using table::DataType;

namespace {

using BoundPtr = std::unique_ptr<BoundExpr>;

using base::ToAbsl;
std::string Upper(std::string_view s) { return absl::AsciiStrToUpper(ToAbsl(s)); }
std::string Lower(std::string_view s) { return absl::AsciiStrToLower(ToAbsl(s)); }
std::string TypeName(DataType t) { return std::string(table::DataTypeName(t)); }
std::string Quoted(std::string_view s) { return absl::StrCat("\"", ToAbsl(s), "\""); }

constexpr int64_t kMaxContributionBound = 1'000'000;
constexpr int kMaxQuantiles = 1000;

// Levenshtein distance without regard to ASCII case, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const bool same = absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
                        absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean \"x\"?" for the closest candidate within a third of the name's length (at least 1, at
// most 3 edits), or "".
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  const size_t limit = std::clamp<size_t>(name.size() / 3, 1, 3);
  size_t best = limit + 1;
  std::string suggestion;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(name, c);
    if (d < best) {
      best = d;
      suggestion = c;
    }
  }
  if (suggestion.empty() && name.size() >= 3) {
    // A name cut short or run on ("patient" for "patient_id") is further than the edit limit.
    for (const std::string& c : candidates) {
      const std::string a = Lower(name), b = Lower(c);
      if (absl::StartsWith(b, a) || absl::StartsWith(a, b)) {
        suggestion = c;
        break;
      }
    }
  }
  if (suggestion.empty()) return "";
  return absl::StrCat("; did you mean ", Quoted(suggestion), "?");
}

const std::vector<std::string>& KnownOptions() {
  static const auto* const kOptions = new std::vector<std::string>{"epsilon",
                                                                   "delta",
                                                                   "privacy_unit_column",
                                                                   "max_groups_contributed",
                                                                   "max_rows_contributed",
                                                                   "min_privacy_units_per_group",
                                                                   "public_groups",
                                                                   "noise_kind",
                                                                   "confidence_level"};
  return *kOptions;
}

bool IsNullConstant(const BoundExpr& b) {
  return b.op == BoundOp::kConstant && std::holds_alternative<std::monostate>(b.constant);
}

BoundPtr MakeConstant(table::Value v, DataType type) {
  auto b = std::make_unique<BoundExpr>();
  b->op = BoundOp::kConstant;
  b->type = type;
  b->constant = std::move(v);
  return b;
}

BoundPtr MakeNode(BoundOp op, DataType type) {
  auto b = std::make_unique<BoundExpr>();
  b->op = op;
  b->type = type;
  return b;
}

BoundPtr Clone(const BoundExpr& b) {
  auto c = std::make_unique<BoundExpr>();
  c->op = b.op;
  c->type = b.type;
  c->column = b.column;
  c->constant = b.constant;
  c->binary_op = b.binary_op;
  c->negated = b.negated;
  c->set = b.set;
  c->set_has_null = b.set_has_null;
  c->pattern = b.pattern;
  c->boundaries = b.boundaries;
  for (const BoundPtr& child : b.children) c->children.push_back(Clone(*child));
  return c;
}

BoundPtr ToDouble(BoundPtr b) {
  if (b->type == DataType::kDouble) return b;
  if (b->op == BoundOp::kConstant) {
    if (const int64_t* i = std::get_if<int64_t>(&b->constant)) b->constant = static_cast<double>(*i);
    b->type = DataType::kDouble;
    return b;
  }
  BoundPtr cast = MakeNode(BoundOp::kToDouble, DataType::kDouble);
  cast->children.push_back(std::move(b));
  return cast;
}

std::optional<double> NumberOf(const Expr& e) {
  if (e.kind != ExprKind::kLiteral) return std::nullopt;
  if (const int64_t* i = std::get_if<int64_t>(&e.value)) return static_cast<double>(*i);
  if (const double* d = std::get_if<double>(&e.value)) return *d;
  return std::nullopt;
}

std::optional<int64_t> IntegerOf(const Expr& e) {
  if (e.kind != ExprKind::kLiteral) return std::nullopt;
  if (const int64_t* i = std::get_if<int64_t>(&e.value)) return *i;
  return std::nullopt;
}

std::string FormatNumber(double v) { return absl::StrFormat("%.6g", v); }

// The literal `v` as a value of `type`, when GoogleSQL would coerce it (int64 to double, a string to a date
// or timestamp); nullopt otherwise. NULL stays NULL.
std::optional<table::Value> Coerce(const table::Value& v, DataType type) {
  if (std::holds_alternative<std::monostate>(v)) return v;
  const std::optional<DataType> from = table::ValueType(v);
  if (from == type) return v;
  if (type == DataType::kDouble && from == DataType::kInt64) return static_cast<double>(std::get<int64_t>(v));
  if (from == DataType::kString) {
    const std::string& s = std::get<std::string>(v);
    if (type == DataType::kDate) {
      if (const std::optional<table::Date> d = table::ParseDate(s)) return *d;
    } else if (type == DataType::kTimestamp) {
      if (const std::optional<table::Timestamp> t = table::ParseTimestamp(s)) return *t;
    }
  }
  return std::nullopt;
}

// The display name of an aggregate call: its text without the named arguments, "SUM(cost)".
std::string AggregateDisplayName(const Expr& call) {
  std::string out = absl::StrCat(call.name, "(");
  if (call.distinct) out += "DISTINCT ";
  if (call.star) out += "*";
  for (size_t i = 0; i < call.children.size(); ++i) {
    if (i > 0 || call.star) out += ", ";
    out += ToSql(*call.children[i]);
  }
  out += ")";
  return out;
}

bool IsCountFunction(dp::AggregateFunction f) {
  return f == dp::AggregateFunction::kCountStar || f == dp::AggregateFunction::kCount ||
         f == dp::AggregateFunction::kCountDistinctUnits;
}

}  // namespace

namespace internal {

bool SameBound(const BoundExpr& a, const BoundExpr& b) {
  if (a.op != b.op || a.type != b.type || a.column != b.column || !(a.constant == b.constant) ||
      a.binary_op != b.binary_op || a.negated != b.negated || a.set != b.set ||
      a.set_has_null != b.set_has_null || a.pattern != b.pattern || a.boundaries != b.boundaries ||
      a.children.size() != b.children.size()) {
    return false;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!SameBound(*a.children[i], *b.children[i])) return false;
  }
  return true;
}

}  // namespace internal

std::vector<std::string> ResultColumnNames(const OutputColumn& col) {
  if (col.kind == OutputColumn::Kind::kGroupKey) return {col.name};
  if (col.num_values > 1) {
    std::vector<std::string> out;
    for (int q = 0; q < col.num_values; ++q) out.push_back(absl::StrCat(col.name, "_", q));
    return out;
  }
  return {col.name, col.name + "_ci_lo", col.name + "_ci_hi"};
}

// Binds and plans one parsed query. Used once, by PrepareQuery.
class Planner {
 public:
  Planner(std::string_view sql, const Query& query, const table::Schema& schema)
      : sql_(sql), query_(query), schema_(schema) {
    for (const table::Field& f : schema.fields()) column_names_.push_back(f.name);
  }

  absl::StatusOr<PreparedQuery> Run() {
    PreparedQuery out;
    out.sql_ = std::string(sql_);
    out.table_name_ = query_.from.Name();
    out.schema_ = schema_;
    VEIL_RETURN_IF_ERROR(BindOptions());
    if (query_.where) {
      VEIL_ASSIGN_OR_RETURN(BoundPtr where, Bind(*query_.where));
      if (where->type != DataType::kBool && !IsNullConstant(*where)) {
        return Error(query_.where->offset,
                     absl::StrCat("WHERE needs a BOOL condition, got ", TypeName(where->type)));
      }
      where->type = DataType::kBool;
      out.where_ = std::move(where);
      out.where_sql_ = ToSql(*query_.where);
    }
    VEIL_RETURN_IF_ERROR(BindSelectAndGroupBy());
    VEIL_RETURN_IF_ERROR(BindPublicGroups());
    VEIL_RETURN_IF_ERROR(BindOrderBy(out));
    out.limit_ = query_.limit;
    VEIL_RETURN_IF_ERROR(CheckDelta());

    plan_.privacy_unit_column = schema_.field(unit_column_).name;
    absl::StatusOr<dp::QueryCost> cost = dp::PlanCost(plan_);
    if (!cost.ok()) {
      return Error(query_.options_offset,
                   absl::StrCat("the engine rejects this query: ", cost.status().message()));
    }
    out.query_cost_ = *std::move(cost);
    out.plan_ = std::move(plan_);
    out.columns_ = std::move(columns_);
    out.derived_ = std::move(derived_);
    return out;
  }

 private:
  absl::Status Error(int32_t offset, std::string_view message) const {
    return SqlError(sql_, offset, message);
  }

  // --- Options.

  absl::Status BindOptions() {
    absl::flat_hash_set<std::string> seen;
    bool have_epsilon = false;
    for (const Option& option : query_.options) {
      const std::string name = Lower(option.name);
      if (!seen.insert(name).second)
        return Error(option.offset, absl::StrCat("option ", name, " is given twice"));
      const Expr& v = *option.value;
      if (name == "epsilon") {
        const std::optional<double> e = NumberOf(v);
        if (!e || !std::isfinite(*e) || *e <= 0) {
          return Error(v.offset, absl::StrCat("epsilon must be a number > 0, got ", ToSql(v)));
        }
        plan_.epsilon = *e;
        have_epsilon = true;
      } else if (name == "delta") {
        const std::optional<double> d = NumberOf(v);
        if (!d || !(*d >= 0 && *d < 1)) {
          return Error(v.offset, absl::StrCat("delta must be a number in [0, 1), got ", ToSql(v)));
        }
        plan_.delta = *d;
        delta_offset_ = v.offset;
      } else if (name == "max_groups_contributed" || name == "max_rows_contributed") {
        const std::optional<int64_t> n = IntegerOf(v);
        if (!n || *n < 1 || *n > kMaxContributionBound) {
          return Error(v.offset, absl::StrCat(name, " must be an integer in [1, ", kMaxContributionBound,
                                              "], got ", ToSql(v)));
        }
        (name == "max_groups_contributed" ? plan_.max_groups_contributed : plan_.max_rows_per_group) = *n;
      } else if (name == "min_privacy_units_per_group") {
        const std::optional<int64_t> n = IntegerOf(v);
        if (!n || *n < 1) {
          return Error(v.offset,
                       absl::StrCat("min_privacy_units_per_group must be an integer >= 1, got ", ToSql(v)));
        }
        plan_.min_units_per_group = *n;
      } else if (name == "privacy_unit_column") {
        if (v.kind != ExprKind::kColumn) {
          return Error(v.offset, absl::StrCat("privacy_unit_column must name a column, got ", ToSql(v)));
        }
        VEIL_ASSIGN_OR_RETURN(unit_column_, ResolveColumn(v));
      } else if (name == "public_groups") {
        public_groups_ = &v;
      } else if (name == "noise_kind") {
        std::string kind;
        if (v.kind == ExprKind::kColumn && v.qualifier.empty()) kind = Lower(v.name);
        if (v.kind == ExprKind::kLiteral && std::holds_alternative<std::string>(v.value)) {
          kind = Lower(std::get<std::string>(v.value));
        }
        if (kind == "laplace") {
          plan_.noise = dp::NoiseKind::kLaplace;
        } else if (kind == "gaussian") {
          plan_.noise = dp::NoiseKind::kGaussian;
          gaussian_offset_ = v.offset;
        } else {
          return Error(v.offset, absl::StrCat("noise_kind must be laplace or gaussian, got ", ToSql(v)));
        }
      } else if (name == "confidence_level") {
        const std::optional<double> c = NumberOf(v);
        if (!c || !(*c > 0 && *c < 1)) {
          return Error(v.offset, absl::StrCat("confidence_level must be a number in (0, 1), got ", ToSql(v)));
        }
        plan_.confidence_level = *c;
      } else {
        return Error(option.offset,
                     absl::StrCat("unknown option ", Quoted(option.name), DidYouMean(name, KnownOptions()),
                                  " (options: ", absl::StrJoin(KnownOptions(), ", "), ")"));
      }
    }
    if (!have_epsilon) {
      return Error(query_.options_offset,
                   "OPTIONS must set epsilon, the query's privacy budget: OPTIONS(epsilon = 1.0, ...)");
    }
    if (unit_column_ < 0) {
      return Error(query_.options_offset,
                   "OPTIONS must set privacy_unit_column, the column that identifies a data subject: "
                   "OPTIONS(privacy_unit_column = patient_id, ...)");
    }
    return absl::OkStatus();
  }

  absl::Status CheckDelta() const {
    if (plan_.noise == dp::NoiseKind::kGaussian && plan_.delta <= 0) {
      return Error(gaussian_offset_, "noise_kind = gaussian needs delta > 0: add delta = ... to OPTIONS");
    }
    if (!plan_.group_by.empty() && !plan_.public_groups && plan_.delta <= 0) {
      return Error(delta_offset_ >= 0 ? delta_offset_ : query_.group_by[0]->offset,
                   "GROUP BY without public_groups selects the released groups privately, which needs "
                   "delta > 0: set delta (for example 1e-6) or list public_groups in OPTIONS");
    }
    return absl::OkStatus();
  }

  // --- Names.

  bool QualifierMatches(std::string_view qualifier) const {
    if (!query_.from.alias.empty()) return SameName(qualifier, query_.from.alias);
    return SameName(qualifier, query_.from.Name()) ||
           (!query_.from.path.empty() && SameName(qualifier, query_.from.path.back()));
  }

  absl::StatusOr<int> ResolveColumn(const Expr& column) const {
    if (!column.qualifier.empty() && !QualifierMatches(column.qualifier)) {
      return Error(
          column.offset,
          absl::StrCat("unknown table ", Quoted(column.qualifier), " (the query reads ",
                       Quoted(query_.from.alias.empty() ? query_.from.Name() : query_.from.alias), ")"));
    }
    if (const std::optional<int> exact = schema_.FindField(column.name)) return *exact;
    int found = -1;
    for (int i = 0; i < schema_.num_fields(); ++i) {
      if (!SameName(schema_.field(i).name, column.name)) continue;
      if (found >= 0) {
        return Error(column.offset,
                     absl::StrCat("column name ", Quoted(column.name), " is ambiguous: the table has ",
                                  Quoted(schema_.field(found).name), " and ", Quoted(schema_.field(i).name),
                                  "; quote the exact name"));
      }
      found = i;
    }
    if (found >= 0) return found;
    std::string message = absl::StrCat("unknown column ", Quoted(column.name));
    const std::string suggestion = DidYouMean(column.name, column_names_);
    if (!suggestion.empty()) {
      message += suggestion;
    } else if (column_names_.size() <= 30) {
      absl::StrAppend(&message, " (the table has ", absl::StrJoin(column_names_, ", "), ")");
    }
    return Error(column.offset, message);
  }

  // --- Scalar expressions.

  absl::StatusOr<BoundPtr> Bind(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral: {
        const std::optional<DataType> t = table::ValueType(e.value);
        return MakeConstant(e.value, t.value_or(DataType::kInt64));
      }
      case ExprKind::kColumn: {
        VEIL_ASSIGN_OR_RETURN(const int index, ResolveColumn(e));
        BoundPtr b = MakeNode(BoundOp::kColumn, schema_.field(index).type);
        b->column = index;
        return b;
      }
      case ExprKind::kUnary:
        return BindUnary(e);
      case ExprKind::kBinary:
        if (IsComparison(e.binary_op)) {
          VEIL_ASSIGN_OR_RETURN(BoundPtr l, Bind(*e.children[0]));
          VEIL_ASSIGN_OR_RETURN(BoundPtr r, Bind(*e.children[1]));
          return Compare(std::move(l), std::move(r), e.binary_op, e.offset);
        }
        return BindArithmetic(e);
      case ExprKind::kAnd:
      case ExprKind::kOr: {
        BoundPtr node = MakeNode(e.kind == ExprKind::kAnd ? BoundOp::kAnd : BoundOp::kOr, DataType::kBool);
        for (const ExprPtr& c : e.children) {
          VEIL_ASSIGN_OR_RETURN(BoundPtr b, BindBool(*c, e.kind == ExprKind::kAnd ? "AND" : "OR"));
          node->children.push_back(std::move(b));
        }
        return node;
      }
      case ExprKind::kIn:
        return BindIn(e);
      case ExprKind::kBetween: {
        VEIL_ASSIGN_OR_RETURN(BoundPtr x1, Bind(*e.children[0]));
        VEIL_ASSIGN_OR_RETURN(BoundPtr lo, Bind(*e.children[1]));
        VEIL_ASSIGN_OR_RETURN(BoundPtr x2, Bind(*e.children[0]));
        VEIL_ASSIGN_OR_RETURN(BoundPtr hi, Bind(*e.children[2]));
        VEIL_ASSIGN_OR_RETURN(BoundPtr ge,
                              Compare(std::move(x1), std::move(lo), BinaryOp::kGreaterEqual, e.offset));
        VEIL_ASSIGN_OR_RETURN(BoundPtr le,
                              Compare(std::move(x2), std::move(hi), BinaryOp::kLessEqual, e.offset));
        BoundPtr both = MakeNode(BoundOp::kAnd, DataType::kBool);
        both->children.push_back(std::move(ge));
        both->children.push_back(std::move(le));
        if (!e.negated) return both;
        BoundPtr n = MakeNode(BoundOp::kNot, DataType::kBool);
        n->children.push_back(std::move(both));
        return n;
      }
      case ExprKind::kLike: {
        VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*e.children[0]));
        const Expr& p = *e.children[1];
        if (x->type != DataType::kString && !IsNullConstant(*x)) {
          return Error(e.offset, absl::StrCat("LIKE needs a string on its left, got ", TypeName(x->type)));
        }
        if (p.kind == ExprKind::kLiteral && std::holds_alternative<std::monostate>(p.value)) {
          return MakeConstant(std::monostate(), DataType::kBool);
        }
        if (p.kind != ExprKind::kLiteral || !std::holds_alternative<std::string>(p.value)) {
          return Error(p.offset, "the LIKE pattern must be a string literal");
        }
        if (IsNullConstant(*x)) return MakeConstant(std::monostate(), DataType::kBool);
        const std::string& pattern = std::get<std::string>(p.value);
        if (!pattern.empty() && pattern.back() == '\\') {
          size_t backslashes = 0;
          for (size_t i = pattern.size(); i > 0 && pattern[i - 1] == '\\'; --i) ++backslashes;
          if (backslashes % 2 == 1)
            return Error(p.offset, "the LIKE pattern ends with an unfinished \\ escape");
        }
        BoundPtr like = MakeNode(BoundOp::kLike, DataType::kBool);
        like->negated = e.negated;
        like->pattern = pattern;
        like->children.push_back(std::move(x));
        return like;
      }
      case ExprKind::kIsNull: {
        VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*e.children[0]));
        if (x->op == BoundOp::kConstant) {
          return MakeConstant(IsNullConstant(*x) != e.negated, DataType::kBool);
        }
        BoundPtr node = MakeNode(BoundOp::kIsNull, DataType::kBool);
        node->negated = e.negated;
        node->children.push_back(std::move(x));
        return node;
      }
      case ExprKind::kCall:
        if (e.name == "RANGE_BUCKET") return BindRangeBucket(e);
        return Error(e.offset, absl::StrCat("aggregate function ", e.name, " is not allowed here"));
      case ExprKind::kArray:
        return Error(e.offset, "an array is only allowed as RANGE_BUCKET's boundaries and in public_groups");
      case ExprKind::kTuple:
        return Error(e.offset,
                     "a tuple (a, b, ...) is only allowed as contribution bounds and in public_groups");
    }
    return Error(e.offset, "unsupported expression");
  }

  absl::StatusOr<BoundPtr> BindBool(const Expr& e, std::string_view op) {
    VEIL_ASSIGN_OR_RETURN(BoundPtr b, Bind(e));
    if (IsNullConstant(*b)) {
      b->type = DataType::kBool;
      return b;
    }
    if (b->type != DataType::kBool) {
      return Error(e.offset, absl::StrCat(ToAbsl(op), " needs BOOL operands, got ", TypeName(b->type)));
    }
    return b;
  }

  absl::StatusOr<BoundPtr> BindUnary(const Expr& e) {
    if (e.unary_op == UnaryOp::kNot) {
      VEIL_ASSIGN_OR_RETURN(BoundPtr x, BindBool(*e.children[0], "NOT"));
      if (IsNullConstant(*x)) return x;
      BoundPtr n = MakeNode(BoundOp::kNot, DataType::kBool);
      n->children.push_back(std::move(x));
      return n;
    }
    VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*e.children[0]));
    if (IsNullConstant(*x)) return x;
    if (!table::IsNumeric(x->type)) {
      return Error(e.offset, absl::StrCat("unary ", ToAbsl(OperatorText(e.unary_op)), " needs a number, got ",
                                          TypeName(x->type)));
    }
    if (e.unary_op == UnaryOp::kPlus) return x;
    BoundPtr n = MakeNode(BoundOp::kNegate, x->type);
    n->children.push_back(std::move(x));
    return n;
  }

  absl::StatusOr<BoundPtr> BindArithmetic(const Expr& e) {
    VEIL_ASSIGN_OR_RETURN(BoundPtr l, Bind(*e.children[0]));
    VEIL_ASSIGN_OR_RETURN(BoundPtr r, Bind(*e.children[1]));
    for (const BoundPtr* side : {&l, &r}) {
      if (!IsNullConstant(**side) && !table::IsNumeric((*side)->type)) {
        return Error(e.offset,
                     absl::StrCat("operator ", ToAbsl(OperatorText(e.binary_op)), " needs numbers, got ",
                                  TypeName(l->type), " and ", TypeName(r->type)));
      }
    }
    const bool is_double = e.binary_op == BinaryOp::kDivide ||
                           (!IsNullConstant(*l) && l->type == DataType::kDouble) ||
                           (!IsNullConstant(*r) && r->type == DataType::kDouble);
    const DataType type = is_double ? DataType::kDouble : DataType::kInt64;
    if (IsNullConstant(*l) || IsNullConstant(*r)) return MakeConstant(std::monostate(), type);
    BoundPtr node = MakeNode(BoundOp::kArithmetic, type);
    node->binary_op = e.binary_op;
    node->children.push_back(is_double ? ToDouble(std::move(l)) : std::move(l));
    node->children.push_back(is_double ? ToDouble(std::move(r)) : std::move(r));
    return node;
  }

  // Makes `l` and `r` comparable (GoogleSQL's rules: numbers with numbers, a string literal read as a date
  // or timestamp when compared with one), or explains why not.
  absl::Status Unify(BoundPtr& l, BoundPtr& r, int32_t offset) const {
    if (IsNullConstant(*l) || IsNullConstant(*r)) return absl::OkStatus();
    if (table::IsNumeric(l->type) && table::IsNumeric(r->type)) {
      if (l->type != r->type) {
        l = ToDouble(std::move(l));
        r = ToDouble(std::move(r));
      }
      return absl::OkStatus();
    }
    if (l->type == r->type) return absl::OkStatus();
    for (BoundPtr* lit : {&r, &l}) {
      BoundPtr& other = lit == &r ? l : r;
      if ((*lit)->op == BoundOp::kConstant && (*lit)->type == DataType::kString &&
          (other->type == DataType::kDate || other->type == DataType::kTimestamp)) {
        const std::optional<table::Value> v = Coerce((*lit)->constant, other->type);
        if (!v) {
          return Error(
              offset,
              absl::StrCat("cannot read ", QuoteString(std::get<std::string>((*lit)->constant)), " as a ",
                           Upper(TypeName(other->type)),
                           other->type == DataType::kDate ? " (YYYY-MM-DD)" : " (YYYY-MM-DD HH:MM:SS)"));
        }
        (*lit)->constant = *v;
        (*lit)->type = other->type;
        return absl::OkStatus();
      }
    }
    return Error(offset, absl::StrCat("cannot compare ", TypeName(l->type), " with ", TypeName(r->type)));
  }

  absl::StatusOr<BoundPtr> Compare(BoundPtr l, BoundPtr r, BinaryOp op, int32_t offset) const {
    VEIL_RETURN_IF_ERROR(Unify(l, r, offset));
    if (IsNullConstant(*l) || IsNullConstant(*r)) return MakeConstant(std::monostate(), DataType::kBool);
    BoundPtr node = MakeNode(BoundOp::kCompare, DataType::kBool);
    node->binary_op = op;
    node->children.push_back(std::move(l));
    node->children.push_back(std::move(r));
    return node;
  }

  absl::StatusOr<BoundPtr> BindIn(const Expr& e) {
    VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*e.children[0]));
    std::vector<BoundPtr> items;
    bool all_constant = true;
    for (size_t i = 1; i < e.children.size(); ++i) {
      VEIL_ASSIGN_OR_RETURN(BoundPtr item, Bind(*e.children[i]));
      all_constant = all_constant && item->op == BoundOp::kConstant;
      items.push_back(std::move(item));
    }
    if (all_constant && !IsNullConstant(*x)) {
      // One pass with a set. Numbers compare as doubles if either side has a double.
      bool any_double = x->type == DataType::kDouble;
      for (const BoundPtr& item : items)
        any_double = any_double || (!IsNullConstant(*item) && item->type == DataType::kDouble);
      if (any_double && x->type == DataType::kInt64) x = ToDouble(std::move(x));
      BoundPtr node = MakeNode(BoundOp::kInSet, DataType::kBool);
      node->negated = e.negated;
      for (size_t i = 0; i < items.size(); ++i) {
        if (IsNullConstant(*items[i])) {
          node->set_has_null = true;
          continue;
        }
        std::optional<table::Value> v = Coerce(items[i]->constant, x->type);
        if (!v) {
          return Error(e.children[i + 1]->offset, absl::StrCat("cannot compare ", TypeName(x->type), " with ",
                                                               TypeName(items[i]->type), " in IN"));
        }
        if (double* d = std::get_if<double>(&*v)) *d += 0.0;  // -0.0 and 0.0 are one value
        node->set.push_back(*std::move(v));
      }
      node->children.push_back(std::move(x));
      return node;
    }
    // General form: x = a OR x = b ..., with x bound once per item.
    BoundPtr any = MakeNode(BoundOp::kOr, DataType::kBool);
    for (size_t i = 0; i < items.size(); ++i) {
      VEIL_ASSIGN_OR_RETURN(BoundPtr xi, Bind(*e.children[0]));
      VEIL_ASSIGN_OR_RETURN(BoundPtr eq, Compare(std::move(xi), std::move(items[i]), BinaryOp::kEqual,
                                                 e.children[i + 1]->offset));
      any->children.push_back(std::move(eq));
    }
    if (!e.negated) return any;
    BoundPtr n = MakeNode(BoundOp::kNot, DataType::kBool);
    n->children.push_back(std::move(any));
    return n;
  }

  absl::StatusOr<BoundPtr> BindRangeBucket(const Expr& e) {
    if (e.children.size() != 2 || !e.named_args.empty() || e.star || e.distinct) {
      return Error(e.offset, "RANGE_BUCKET takes two arguments: RANGE_BUCKET(value, [b0, b1, ...])");
    }
    VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*e.children[0]));
    if (!IsNullConstant(*x) && !table::IsNumeric(x->type)) {
      return Error(e.children[0]->offset,
                   absl::StrCat("RANGE_BUCKET needs a number to bin, got ", TypeName(x->type)));
    }
    const Expr& array = *e.children[1];
    if (array.kind != ExprKind::kArray) {
      return Error(array.offset, "RANGE_BUCKET's boundaries must be an array literal [b0, b1, ...]");
    }
    BoundPtr node = MakeNode(BoundOp::kRangeBucket, DataType::kInt64);
    for (const ExprPtr& b : array.children) {
      const std::optional<double> v = NumberOf(*b);
      if (!v) return Error(b->offset, "RANGE_BUCKET's boundaries must be number literals");
      if (!node->boundaries.empty() && !(*v > node->boundaries.back())) {
        return Error(b->offset, "RANGE_BUCKET's boundaries must be strictly increasing");
      }
      node->boundaries.push_back(*v);
    }
    if (IsNullConstant(*x)) return MakeConstant(std::monostate(), DataType::kInt64);
    node->children.push_back(std::move(x));
    return node;
  }

  // --- Plan columns.

  // The plan's name for the value of `b`: a table column, or a derived column the executor computes.
  std::string ColumnFor(BoundPtr b) {
    if (b->op == BoundOp::kColumn) return schema_.field(b->column).name;
    for (const internal::DerivedColumn& d : derived_) {
      if (internal::SameBound(*d.expr, *b)) return d.name;
    }
    std::string name = absl::StrCat("$expr", derived_.size() + 1);
    while (schema_.FindField(name)) name += "$";
    internal::DerivedColumn d;
    d.name = name;
    d.type = b->type;
    d.expr = std::shared_ptr<const BoundExpr>(std::move(b));
    derived_.push_back(std::move(d));
    return name;
  }

  // --- Select list and GROUP BY.

  struct Item {
    bool aggregate = false;
    BoundPtr bound;  // non-aggregates
    int key = -1;    // position in GROUP BY
  };

  // The select item that GROUP BY / ORDER BY entry `e` refers to: a 1-based position, an alias, or the same
  // expression. -1 if none.
  absl::StatusOr<int> FindItem(const Expr& e, std::string_view clause) {
    if (const std::optional<int64_t> position = IntegerOf(e)) {
      if (*position < 1 || *position > static_cast<int64_t>(items_.size())) {
        return Error(e.offset, absl::StrCat(ToAbsl(clause), " position ", *position,
                                            " is not in the select list (1 .. ", items_.size(), ")"));
      }
      return static_cast<int>(*position - 1);
    }
    if (e.kind == ExprKind::kColumn && e.qualifier.empty()) {
      bool names_aggregate = false;
      for (size_t i = 0; i < query_.select.size(); ++i) {
        if (query_.select[i].alias.empty() || !SameName(query_.select[i].alias, e.name)) continue;
        if (clause == "ORDER BY" || !items_[i].aggregate) return static_cast<int>(i);
        names_aggregate = true;
      }
      if (names_aggregate && !ResolveColumn(e).ok()) {
        return Error(e.offset, absl::StrCat(ToAbsl(clause), " ", e.name, " refers to an aggregate"));
      }
    }
    if (e.kind == ExprKind::kCall && IsAggregateFunction(e.name)) {
      for (size_t i = 0; i < query_.select.size(); ++i) {
        if (items_[i].aggregate && SameExpr(*query_.select[i].expr, e)) return static_cast<int>(i);
      }
      return -1;
    }
    VEIL_ASSIGN_OR_RETURN(BoundPtr b, Bind(e));
    for (size_t i = 0; i < items_.size(); ++i) {
      if (!items_[i].aggregate && internal::SameBound(*items_[i].bound, *b)) return static_cast<int>(i);
    }
    return -1;
  }

  absl::Status BindSelectAndGroupBy() {
    items_.resize(query_.select.size());
    for (size_t i = 0; i < query_.select.size(); ++i) {
      const Expr& e = *query_.select[i].expr;
      if (e.kind == ExprKind::kCall && IsAggregateFunction(e.name)) {
        items_[i].aggregate = true;
      } else {
        VEIL_ASSIGN_OR_RETURN(items_[i].bound, Bind(e));
      }
    }
    for (size_t k = 0; k < query_.group_by.size(); ++k) {
      const Expr& g = *query_.group_by[k];
      VEIL_ASSIGN_OR_RETURN(const int i, FindItem(g, "GROUP BY"));
      if (i < 0) {
        return Error(g.offset, absl::StrCat("GROUP BY ", ToSql(g),
                                            " is not in the select list: select every group key"));
      }
      if (items_[i].aggregate) return Error(g.offset, "GROUP BY cannot refer to an aggregate");
      if (items_[i].key >= 0) return Error(g.offset, absl::StrCat(ToSql(g), " is grouped twice"));
      if (items_[i].bound->op == BoundOp::kConstant) {
        return Error(g.offset, "a group key must depend on a column, not be a constant");
      }
      items_[i].key = static_cast<int>(k);
    }
    // Keys, in GROUP BY order.
    plan_.group_by.resize(query_.group_by.size());
    std::vector<DataType> key_types(query_.group_by.size());
    for (size_t i = 0; i < items_.size(); ++i) {
      const Expr& e = *query_.select[i].expr;
      if (items_[i].aggregate) continue;
      if (items_[i].key < 0) {
        return Error(e.offset, absl::StrCat(ToSql(e),
                                            " is neither grouped nor aggregated: add it to GROUP BY "
                                            "or aggregate it"));
      }
      dp::GroupBy& key = plan_.group_by[items_[i].key];
      key_types[items_[i].key] = items_[i].bound->type;
      // Clones: the bound item stays for ORDER BY to match against.
      if (items_[i].bound->op == BoundOp::kRangeBucket) {
        key.bucket_boundaries = items_[i].bound->boundaries;
        key.column = ColumnFor(Clone(*items_[i].bound->children[0]));
      } else {
        key.column = ColumnFor(Clone(*items_[i].bound));
      }
    }
    key_types_ = key_types;
    // Output columns and aggregates, in select order.
    absl::flat_hash_set<std::string> names;  // lower case, with the generated interval columns
    for (size_t i = 0; i < items_.size(); ++i) {
      const SelectItem& item = query_.select[i];
      OutputColumn col;
      if (items_[i].aggregate) {
        VEIL_ASSIGN_OR_RETURN(dp::Aggregate agg, BindAggregate(*item.expr));
        col.kind = OutputColumn::Kind::kAggregate;
        col.name = item.alias.empty() ? AggregateDisplayName(*item.expr) : item.alias;
        agg.name = col.name;
        col.index = static_cast<int>(plan_.aggregates.size());
        col.type = IsCountFunction(agg.function) ? DataType::kInt64 : DataType::kDouble;
        col.num_values = agg.function == dp::AggregateFunction::kApproxQuantiles ? agg.num_quantiles + 1 : 1;
        plan_.aggregates.push_back(std::move(agg));
      } else {
        col.kind = OutputColumn::Kind::kGroupKey;
        col.index = items_[i].key;
        col.type = key_types_[items_[i].key];
        if (!item.alias.empty()) {
          col.name = item.alias;
        } else if (item.expr->kind == ExprKind::kColumn) {
          col.name = plan_.group_by[col.index].column;  // the table's spelling
        } else {
          col.name = ToSql(*item.expr);
        }
      }
      const int32_t at = item.alias_offset >= 0 ? item.alias_offset : item.expr->offset;
      for (const std::string& generated : ResultColumnNames(col)) {
        if (!names.insert(Lower(generated)).second) {
          return Error(at, absl::StrCat("two result columns would be named ", Quoted(generated),
                                        "; give this item another alias (AS ...)"));
        }
      }
      columns_.push_back(std::move(col));
    }
    if (plan_.aggregates.empty()) {
      return Error(query_.offset,
                   "the query has no aggregate: a DP query releases aggregates such as COUNT(*)");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<dp::Aggregate> BindAggregate(const Expr& call) {
    dp::Aggregate agg;
    const std::string& f = call.name;
    auto arity = [&](size_t n, std::string_view form) -> absl::Status {
      if (call.children.size() != n || call.star) {
        return Error(call.offset,
                     absl::StrCat(f, " takes ", n, n == 1 ? " argument: " : " arguments: ", ToAbsl(form)));
      }
      return absl::OkStatus();
    };
    if (f == "COUNT") {
      if (!call.named_args.empty()) {
        const NamedArgument& a = call.named_args[0];
        return Error(a.offset, absl::StrCat("COUNT takes no ", Quoted(a.name),
                                            ": a unit's rows per group are bounded by max_rows_contributed"));
      }
      if (call.star) {
        agg.function = dp::AggregateFunction::kCountStar;
        return agg;
      }
      VEIL_RETURN_IF_ERROR(arity(1, "COUNT(*), COUNT(expr) or COUNT(DISTINCT privacy_unit_column)"));
      VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*call.children[0]));
      if (call.distinct) {
        if (x->op != BoundOp::kColumn || x->column != unit_column_) {
          return Error(call.children[0]->offset,
                       absl::StrCat("COUNT(DISTINCT ...) is only supported for the privacy unit column ",
                                    Quoted(schema_.field(unit_column_).name)));
        }
        agg.function = dp::AggregateFunction::kCountDistinctUnits;
        return agg;
      }
      if (x->op == BoundOp::kConstant) {
        return Error(call.children[0]->offset, "COUNT of a constant: write COUNT(*)");
      }
      agg.function = dp::AggregateFunction::kCount;
      agg.column = ColumnFor(std::move(x));
      return agg;
    }
    const bool per_group_allowed = f == "SUM" || f == "AVG";
    if (f == "SUM") {
      agg.function = dp::AggregateFunction::kSum;
      VEIL_RETURN_IF_ERROR(arity(1, "SUM(x)"));
    } else if (f == "AVG") {
      agg.function = dp::AggregateFunction::kAvg;
      VEIL_RETURN_IF_ERROR(arity(1, "AVG(x)"));
    } else if (f == "VAR_POP" || f == "VARIANCE") {
      agg.function = dp::AggregateFunction::kVariance;
      VEIL_RETURN_IF_ERROR(arity(1, absl::StrCat(f, "(x)")));
    } else if (f == "STDDEV_POP" || f == "STDDEV") {
      agg.function = dp::AggregateFunction::kStddev;
      VEIL_RETURN_IF_ERROR(arity(1, absl::StrCat(f, "(x)")));
    } else if (f == "PERCENTILE_CONT") {
      agg.function = dp::AggregateFunction::kPercentileCont;
      VEIL_RETURN_IF_ERROR(arity(2, "PERCENTILE_CONT(x, percentile)"));
      const std::optional<double> p = NumberOf(*call.children[1]);
      if (!p || !(*p >= 0 && *p <= 1)) {
        return Error(call.children[1]->offset, "the percentile must be a number literal in [0, 1]");
      }
      agg.percentile = *p;
    } else if (f == "APPROX_QUANTILES") {
      agg.function = dp::AggregateFunction::kApproxQuantiles;
      VEIL_RETURN_IF_ERROR(arity(2, "APPROX_QUANTILES(x, number_of_quantiles)"));
      const std::optional<int64_t> n = IntegerOf(*call.children[1]);
      if (!n || *n < 1 || *n > kMaxQuantiles) {
        return Error(
            call.children[1]->offset,
            absl::StrCat("the number of quantiles must be an integer literal in [1, ", kMaxQuantiles, "]"));
      }
      agg.num_quantiles = static_cast<int>(*n);
    } else {
      return Error(call.offset, absl::StrCat("unknown aggregate ", f));
    }
    if (call.distinct) return Error(call.offset, absl::StrCat(f, "(DISTINCT ...) is not supported"));
    VEIL_ASSIGN_OR_RETURN(BoundPtr x, Bind(*call.children[0]));
    if (IsNullConstant(*x) || !table::IsNumeric(x->type)) {
      return Error(call.children[0]->offset,
                   absl::StrCat(f, " needs a number (int64 or double), got ",
                                IsNullConstant(*x) ? std::string("NULL") : TypeName(x->type)));
    }
    if (x->op == BoundOp::kConstant) {
      return Error(call.children[0]->offset, absl::StrCat(f, " of a constant is not supported"));
    }
    agg.column = ColumnFor(std::move(x));
    bool have_bounds = false;
    for (const NamedArgument& a : call.named_args) {
      const std::string name = Lower(a.name);
      const bool per_group = name == "contribution_bounds_per_group";
      if (!per_group && name != "contribution_bounds_per_row") {
        return Error(
            a.offset,
            absl::StrCat(f, " has no argument ", Quoted(a.name),
                         DidYouMean(name, {"contribution_bounds_per_row", "contribution_bounds_per_group"})));
      }
      if (have_bounds) return Error(a.offset, "contribution bounds are given twice");
      have_bounds = true;
      if (per_group && !per_group_allowed) {
        return Error(
            a.offset,
            absl::StrCat(f, " takes contribution_bounds_per_row, not contribution_bounds_per_group"));
      }
      if (per_group && plan_.max_rows_per_group != 1) {
        return Error(
            a.offset,
            "contribution_bounds_per_group clamps a unit's aggregate in a group, which Veil does only "
            "when max_rows_contributed = 1 (then it equals clamping each row); with more rows per "
            "group use contribution_bounds_per_row");
      }
      VEIL_ASSIGN_OR_RETURN(agg.bounds, BindBounds(*a.value));
    }
    return agg;
  }

  absl::StatusOr<dp::Bounds> BindBounds(const Expr& v) const {
    if (v.kind != ExprKind::kTuple || v.children.size() != 2) {
      return Error(v.offset, "contribution bounds are a pair of numbers: (lower, upper)");
    }
    const std::optional<double> lo = NumberOf(*v.children[0]), hi = NumberOf(*v.children[1]);
    if (!lo) return Error(v.children[0]->offset, "the lower bound must be a number literal");
    if (!hi) return Error(v.children[1]->offset, "the upper bound must be a number literal");
    if (*lo > *hi) {
      return Error(v.offset, absl::StrCat("the lower bound ", FormatNumber(*lo),
                                          " is greater than the upper bound ", FormatNumber(*hi)));
    }
    return dp::Bounds{*lo, *hi};
  }

  // --- public_groups.

  absl::StatusOr<table::Value> PublicKeyValue(const Expr& e, size_t key) const {
    if (e.kind != ExprKind::kLiteral) return Error(e.offset, "a public group key must be a literal");
    const DataType type = key_types_[key];
    std::optional<table::Value> v = Coerce(e.value, type);
    if (!v) {
      return Error(e.offset, absl::StrCat("public group key ", ToSql(e), " does not match the type of ",
                                          ToSql(*query_.group_by[key]), " (", TypeName(type), ")"));
    }
    return *std::move(v);
  }

  absl::Status BindPublicGroups() {
    if (public_groups_ == nullptr) return absl::OkStatus();
    const Expr& v = *public_groups_;
    if (query_.group_by.empty()) return Error(v.offset, "public_groups needs a GROUP BY");
    if (v.kind != ExprKind::kArray) {
      return Error(v.offset,
                   "public_groups must be an array of keys: ['a', 'b'], or [('a', 1), ('b', 2)] for "
                   "several GROUP BY keys");
    }
    const size_t n = query_.group_by.size();
    std::vector<std::vector<table::Value>> keys;
    std::vector<std::string> seen;  // canonical text of each key, to find duplicates
    for (const ExprPtr& element : v.children) {
      std::vector<table::Value> key;
      if (n == 1) {
        VEIL_ASSIGN_OR_RETURN(table::Value value, PublicKeyValue(*element, 0));
        key.push_back(std::move(value));
      } else {
        if (element->kind != ExprKind::kTuple || element->children.size() != n) {
          return Error(element->offset,
                       absl::StrCat("each public group is a tuple of ", n, " values, one per GROUP BY key"));
        }
        for (size_t k = 0; k < n; ++k) {
          VEIL_ASSIGN_OR_RETURN(table::Value value, PublicKeyValue(*element->children[k], k));
          key.push_back(std::move(value));
        }
      }
      std::string text;
      for (const table::Value& value : key) {
        absl::StrAppend(&text, value.index(), ":", table::FormatValue(value), "\x1f");
      }
      if (std::find(seen.begin(), seen.end(), text) != seen.end()) {
        return Error(element->offset, absl::StrCat("public group ", ToSql(*element), " is listed twice"));
      }
      seen.push_back(std::move(text));
      keys.push_back(std::move(key));
    }
    plan_.public_groups = std::move(keys);
    return absl::OkStatus();
  }

  // --- ORDER BY.

  absl::Status BindOrderBy(PreparedQuery& out) {
    for (const OrderItem& o : query_.order_by) {
      VEIL_ASSIGN_OR_RETURN(const int i, FindItem(*o.expr, "ORDER BY"));
      if (i < 0) {
        return Error(o.expr->offset,
                     absl::StrCat("ORDER BY ", ToSql(*o.expr),
                                  " is not in the select list: order by a selected column, its "
                                  "alias or its position"));
      }
      if (columns_[i].num_values > 1) {
        return Error(o.expr->offset, "cannot order by APPROX_QUANTILES, which gives several values");
      }
      out.order_by_.push_back(OrderKey{i, o.descending});
    }
    return absl::OkStatus();
  }

  std::string_view sql_;
  const Query& query_;
  const table::Schema& schema_;
  std::vector<std::string> column_names_;

  dp::QueryPlan plan_;
  int unit_column_ = -1;
  const Expr* public_groups_ = nullptr;
  int32_t delta_offset_ = -1;
  int32_t gaussian_offset_ = 0;
  std::vector<Item> items_;
  std::vector<DataType> key_types_;
  std::vector<OutputColumn> columns_;
  std::vector<internal::DerivedColumn> derived_;
};

absl::StatusOr<PreparedQuery> PrepareQuery(std::string_view sql, const table::Schema& schema) {
  VEIL_ASSIGN_OR_RETURN(const Query query, ParseQuery(sql));
  return Planner(sql, query, schema).Run();
}

// --- Explain.

namespace {

std::string NoiseName(dp::NoiseKind k) { return k == dp::NoiseKind::kLaplace ? "laplace" : "gaussian"; }

std::string BoundsText(const dp::Aggregate& a) {
  if (IsCountFunction(a.function)) return "";
  if (!a.bounds) return "automatic bounds";
  return absl::StrCat("bounds [", FormatNumber(a.bounds->lo), ", ", FormatNumber(a.bounds->hi), "]");
}

std::string GroupSelectionText(const PreparedQuery& q) {
  const dp::QueryPlan& p = q.plan();
  const dp::QueryCost& c = q.query_cost();
  if (p.group_by.empty()) return "one global row (no GROUP BY)";
  if (p.public_groups) {
    return absl::StrCat("public: the ", p.public_groups->size(), " keys of public_groups, each released");
  }
  std::string out = absl::StrCat("private partition selection: a group with ", c.selection_units_for_half,
                                 " privacy units is released with probability 0.5, with ",
                                 c.selection_units_for_99, " units 0.99");
  if (p.min_units_per_group > 1) absl::StrAppend(&out, " (pre-threshold: ", p.min_units_per_group, " units)");
  return out;
}

const dp::ColumnError* ErrorFor(const PreparedQuery& q, int aggregate) {
  const auto& errors = q.query_cost().errors;
  return aggregate < static_cast<int>(errors.size()) ? &errors[aggregate] : nullptr;
}

std::string KeyText(const PreparedQuery& q, const OutputColumn& col) {
  const dp::GroupBy& g = q.plan().group_by[col.index];
  if (g.bucket_boundaries.empty())
    return absl::StrCat("group key (", ToAbsl(table::DataTypeName(col.type)), ")");
  return absl::StrCat("group key: bucket 0 .. ", g.bucket_boundaries.size(), " of ", g.column);
}

}  // namespace

std::string Explain(const PreparedQuery& q) {
  const dp::QueryPlan& p = q.plan();
  std::string out = absl::StrCat("Differentially private query on table \"", q.table_name(), "\"\n");
  absl::StrAppend(&out, "  privacy unit:  ", p.privacy_unit_column, " (each unit: at most ",
                  p.max_groups_contributed, p.max_groups_contributed == 1 ? " group" : " groups", ", ",
                  p.max_rows_per_group, p.max_rows_per_group == 1 ? " row" : " rows", " per group)\n");
  absl::StrAppend(&out, "  budget:        epsilon = ", FormatNumber(p.epsilon),
                  ", delta = ", FormatNumber(p.delta), ", noise = ", NoiseName(p.noise), "\n");
  absl::StrAppend(&out, "  filter:        ", q.where_sql().empty() ? "(none)" : q.where_sql(), "\n");
  if (!p.group_by.empty()) {
    std::vector<std::string> keys;
    for (const OutputColumn& c : q.columns()) {
      if (c.kind == OutputColumn::Kind::kGroupKey) keys.push_back(c.name);
    }
    absl::StrAppend(&out, "  group by:      ", absl::StrJoin(keys, ", "), "\n");
  }
  absl::StrAppend(&out, "  groups:        ", GroupSelectionText(q), "\n");
  if (!q.order_by().empty() || q.limit()) {
    std::vector<std::string> order;
    for (const OrderKey& k : q.order_by()) {
      order.push_back(absl::StrCat(q.columns()[k.output].name, k.descending ? " DESC" : ""));
    }
    absl::StrAppend(
        &out, "  then:          ", order.empty() ? std::string() : "ORDER BY " + absl::StrJoin(order, ", "),
        q.limit() && !order.empty() ? " " : "", q.limit() ? absl::StrCat("LIMIT ", *q.limit()) : "",
        " (applied to the noisy results)\n");
  }
  const int level = static_cast<int>(std::lround(p.confidence_level * 100));
  absl::StrAppend(&out, "\nOutput columns (expected error: noise standard deviation and ", level,
                  "% interval half-width)\n");
  for (const OutputColumn& c : q.columns()) {
    if (c.kind == OutputColumn::Kind::kGroupKey) {
      absl::StrAppend(&out, "  ", c.name, ": ", KeyText(q, c), "\n");
      continue;
    }
    const dp::Aggregate& a = p.aggregates[c.index];
    std::string what = std::string(dp::AggregateFunctionName(a.function));
    if (!a.column.empty()) absl::StrAppend(&what, "(", a.column, ")");
    const std::string bounds = BoundsText(a);
    absl::StrAppend(&out, "  ", c.name, ": ", what, bounds.empty() ? "" : ", ", bounds, "\n");
    if (const dp::ColumnError* e = ErrorFor(q, c.index)) {
      absl::StrAppend(&out, "      stddev ", FormatNumber(e->stddev));
      if (e->half_width > 0)
        absl::StrAppend(&out, ", ", level, "% interval +- ", FormatNumber(e->half_width));
      if (!e->note.empty()) absl::StrAppend(&out, " (", e->note, ")");
      out += "\n";
    }
  }
  absl::StrAppend(&out, "\nPrivacy cost\n");
  for (absl::string_view line : absl::StrSplit(q.cost().ToString(), '\n')) {
    if (!line.empty()) absl::StrAppend(&out, "  ", line, "\n");
  }
  if (!q.query_cost().mechanisms.empty()) {
    absl::StrAppend(&out, "\nMechanisms\n");
    for (const std::string& m : q.query_cost().mechanisms) absl::StrAppend(&out, "  ", m, "\n");
  }
  return out;
}

nlohmann::ordered_json ExplainJson(const PreparedQuery& q) {
  const dp::QueryPlan& p = q.plan();
  nlohmann::ordered_json j;
  j["table"] = q.table_name();
  j["privacy_unit_column"] = p.privacy_unit_column;
  j["epsilon"] = p.epsilon;
  j["delta"] = p.delta;
  j["noise_kind"] = NoiseName(p.noise);
  j["max_groups_contributed"] = p.max_groups_contributed;
  j["max_rows_contributed"] = p.max_rows_per_group;
  j["filter"] = q.where_sql().empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(q.where_sql());
  nlohmann::ordered_json group_by = nlohmann::ordered_json::array();
  for (const OutputColumn& c : q.columns()) {
    if (c.kind != OutputColumn::Kind::kGroupKey) continue;
    const dp::GroupBy& g = p.group_by[c.index];
    nlohmann::ordered_json key;
    key["name"] = c.name;
    key["column"] = g.column;
    key["type"] = std::string(table::DataTypeName(c.type));
    if (!g.bucket_boundaries.empty()) key["bucket_boundaries"] = g.bucket_boundaries;
    group_by.push_back(std::move(key));
  }
  j["group_by"] = std::move(group_by);
  nlohmann::ordered_json selection;
  if (p.group_by.empty()) {
    selection["kind"] = "none";
  } else if (p.public_groups) {
    selection["kind"] = "public";
    selection["keys"] = p.public_groups->size();
  } else {
    selection["kind"] = "private";
    selection["min_privacy_units_per_group"] = p.min_units_per_group;
    selection["units_for_probability_0_5"] = q.query_cost().selection_units_for_half;
    selection["units_for_probability_0_99"] = q.query_cost().selection_units_for_99;
  }
  j["group_selection"] = std::move(selection);
  nlohmann::ordered_json columns = nlohmann::ordered_json::array();
  for (const OutputColumn& c : q.columns()) {
    nlohmann::ordered_json col;
    col["name"] = c.name;
    if (c.kind == OutputColumn::Kind::kGroupKey) {
      col["kind"] = "group_key";
      col["type"] = std::string(table::DataTypeName(c.type));
      columns.push_back(std::move(col));
      continue;
    }
    const dp::Aggregate& a = p.aggregates[c.index];
    col["kind"] = "aggregate";
    col["function"] = std::string(dp::AggregateFunctionName(a.function));
    col["column"] = a.column.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(a.column);
    if (!IsCountFunction(a.function)) {
      col["bounds"] = a.bounds ? nlohmann::ordered_json::array({a.bounds->lo, a.bounds->hi})
                               : nlohmann::ordered_json("automatic");
    }
    if (a.function == dp::AggregateFunction::kPercentileCont) col["percentile"] = a.percentile;
    if (a.function == dp::AggregateFunction::kApproxQuantiles) col["num_quantiles"] = a.num_quantiles;
    if (const dp::ColumnError* e = ErrorFor(q, c.index)) {
      col["stddev"] = e->stddev;
      col["ci_half_width"] = e->half_width;
      col["data_dependent"] = e->data_dependent;
      if (e->data_dependent) col["reference_units"] = e->reference_count;
      if (!e->note.empty()) col["note"] = e->note;
    }
    columns.push_back(std::move(col));
  }
  j["columns"] = std::move(columns);
  j["confidence_level"] = p.confidence_level;
  nlohmann::ordered_json cost;
  cost["epsilon"] = q.cost().total.epsilon;
  cost["delta"] = q.cost().total.delta;
  cost["rho"] = q.cost().rho ? nlohmann::ordered_json(*q.cost().rho) : nlohmann::ordered_json();
  cost["method"] = q.cost().method;
  nlohmann::ordered_json components = nlohmann::ordered_json::array();
  for (const dp::CostComponent& component : q.cost().components) {
    nlohmann::ordered_json cj;
    cj["name"] = component.name;
    cj["kind"] = std::string(dp::CostKindName(component.kind));
    cj["epsilon"] = component.cost.epsilon;
    cj["delta"] = component.cost.delta;
    if (component.rho) cj["rho"] = *component.rho;
    components.push_back(std::move(cj));
  }
  cost["components"] = std::move(components);
  j["cost"] = std::move(cost);
  j["mechanisms"] = q.query_cost().mechanisms;
  nlohmann::ordered_json order = nlohmann::ordered_json::array();
  for (const OrderKey& k : q.order_by()) {
    order.push_back({{"column", q.columns()[k.output].name}, {"descending", k.descending}});
  }
  j["order_by"] = std::move(order);
  j["limit"] = q.limit() ? nlohmann::ordered_json(*q.limit()) : nlohmann::ordered_json();
  return j;
}

}  // namespace veil::sql
