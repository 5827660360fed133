#include "veil/sql/pushdown.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/dp/aggregation.h"

namespace veil::sql {
namespace {

using table::DataType;
using table::PgColumn;
using table::Value;

constexpr uint64_t kSeedLimit = uint64_t{1} << 62;

// PostgreSQL type OIDs (src/include/catalog/pg_type.dat) of the columns that need a conversion to read as
// Veil reads them (postgres_source.h).
constexpr uint32_t kBpcharOid = 1042;
constexpr uint32_t kTimestamptzOid = 1184;

absl::Status Invalid(std::string_view what) { return absl::InvalidArgumentError(std::string(what)); }
using table::internal::ToAbsl;

bool NeedsColumn(dp::AggregateFunction f) {
  return f != dp::AggregateFunction::kCountStar && f != dp::AggregateFunction::kCountDistinctUnits;
}

// Builds the statement: parameters, quoted names, and the SQL text of the pieces.
class Builder {
 public:
  explicit Builder(const std::vector<PgColumn>& columns) {
    for (const PgColumn& c : columns) columns_.emplace(c.name, &c);
  }

  std::vector<Value>& params() { return params_; }

  // "$n" for a value (typed by its binary parameter), or NULL.
  std::string Param(const Value& v) {
    if (std::holds_alternative<std::monostate>(v)) return "NULL";
    params_.push_back(v);
    return absl::StrCat("$", params_.size());
  }
  std::string Float(double v) {
    params_.emplace_back(std::in_place_type<double>, v);
    return absl::StrCat("$", params_.size());
  }
  std::string Int(int64_t v) {
    params_.emplace_back(std::in_place_type<int64_t>, v);
    return absl::StrCat("$", params_.size());
  }

  absl::StatusOr<const PgColumn*> Column(const std::string& name, std::string_view used_as) {
    auto it = columns_.find(name);
    if (it == columns_.end()) {
      return Invalid(absl::StrCat("the table has no column \"", name, "\" (", ToAbsl(used_as), ")"));
    }
    if (!it->second->supported) {
      return Invalid(absl::StrCat("column \"", name, "\" has type ", it->second->pg_type,
                                  ", which Veil does not read (", ToAbsl(used_as), ")"));
    }
    return it->second;
  }

  // The column as the in-memory table holds it: integers as int8, real and numeric as float8, char(n)
  // without its padding (the cast to text drops it), timestamps as they are.
  absl::StatusOr<std::string> Typed(const PgColumn& c) {
    VEIL_ASSIGN_OR_RETURN(const std::string q, table::QuotePgIdentifier(c.name));
    switch (c.type) {
      case DataType::kInt64:
        return absl::StrCat("(", q, ")::int8");
      case DataType::kDouble:
        return absl::StrCat("(", q, ")::float8");
      case DataType::kString:
        return c.type_oid == kBpcharOid ? absl::StrCat("rtrim((", q, ")::text, ' ')")
                                        : absl::StrCat("(", q, ")::text");
      default:
        return q;
    }
  }

 private:
  std::map<std::string, const PgColumn*> columns_;
  std::vector<Value> params_;
};

// A double unit or key as the engine groups and hashes it (query.h): -0 as 0 and every NaN as the quiet NaN
// (PostgreSQL groups them already, but their bit patterns, hence their texts, differ). Other types as they
// are.
std::string CanonicalDouble(const std::string& x, DataType type) {
  if (type != DataType::kDouble) return x;
  return absl::StrCat("(CASE WHEN ", x, " = 0 THEN 0::float8 WHEN ", x,
                      " = 'NaN'::float8 THEN 'NaN'::float8 ELSE ", x, " END)");
}

// --- WHERE: the parsed expression in PostgreSQL's SQL, with every literal a parameter.

absl::StatusOr<std::string> Translate(const Expr& e, Builder& b);

absl::StatusOr<std::string> TranslateList(const std::vector<ExprPtr>& items, size_t from, Builder& b) {
  std::vector<std::string> parts;
  for (size_t i = from; i < items.size(); ++i) {
    VEIL_ASSIGN_OR_RETURN(std::string p, Translate(*items[i], b));
    parts.push_back(std::move(p));
  }
  return absl::StrJoin(parts, ", ");
}

// RANGE_BUCKET(x, [b0, b1, ...]): the number of boundaries <= x (PostgreSQL's width_bucket over a sorted
// array); NULL for NULL and NaN.
std::string RangeBucketSql(const std::string& x, const std::vector<double>& boundaries, Builder& b) {
  std::vector<std::string> items;
  for (double v : boundaries) items.push_back(b.Float(v));
  const std::string value = absl::StrCat("(", x, ")::float8");
  return absl::StrCat("(CASE WHEN ", value, " IS NULL OR ", value,
                      " = 'NaN'::float8 THEN NULL ELSE width_bucket(", value, ", ARRAY[",
                      absl::StrJoin(items, ", "), "]::float8[])::int8 END)");
}

absl::StatusOr<std::string> Translate(const Expr& e, Builder& b) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return b.Param(e.value);
    case ExprKind::kColumn: {
      VEIL_ASSIGN_OR_RETURN(const PgColumn* c, b.Column(e.name, "in WHERE"));
      return b.Typed(*c);
    }
    case ExprKind::kUnary: {
      VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
      switch (e.unary_op) {
        case UnaryOp::kNegate:
          return absl::StrCat("(- ", x, ")");
        case UnaryOp::kPlus:
          return absl::StrCat("(+ ", x, ")");
        case UnaryOp::kNot:
          return absl::StrCat("(NOT ", x, ")");
      }
      return Invalid("unknown unary operator");
    }
    case ExprKind::kBinary: {
      VEIL_ASSIGN_OR_RETURN(const std::string l, Translate(*e.children[0], b));
      VEIL_ASSIGN_OR_RETURN(const std::string r, Translate(*e.children[1], b));
      switch (e.binary_op) {
        case BinaryOp::kAdd:
          return absl::StrCat("(", l, " + ", r, ")");
        case BinaryOp::kSubtract:
          return absl::StrCat("(", l, " - ", r, ")");
        case BinaryOp::kMultiply:
          return absl::StrCat("(", l, " * ", r, ")");
        case BinaryOp::kDivide:  // GoogleSQL's / always divides doubles
          return absl::StrCat("((", l, ")::float8 / (", r, ")::float8)");
        case BinaryOp::kEqual:
          return absl::StrCat("(", l, " = ", r, ")");
        case BinaryOp::kNotEqual:
          return absl::StrCat("(", l, " <> ", r, ")");
        case BinaryOp::kLess:
          return absl::StrCat("(", l, " < ", r, ")");
        case BinaryOp::kLessEqual:
          return absl::StrCat("(", l, " <= ", r, ")");
        case BinaryOp::kGreater:
          return absl::StrCat("(", l, " > ", r, ")");
        case BinaryOp::kGreaterEqual:
          return absl::StrCat("(", l, " >= ", r, ")");
      }
      return Invalid("unknown binary operator");
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      std::vector<std::string> parts;
      for (const ExprPtr& c : e.children) {
        VEIL_ASSIGN_OR_RETURN(std::string p, Translate(*c, b));
        parts.push_back(std::move(p));
      }
      return absl::StrCat("(", absl::StrJoin(parts, e.kind == ExprKind::kAnd ? " AND " : " OR "), ")");
    }
    case ExprKind::kIn: {
      VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
      VEIL_ASSIGN_OR_RETURN(const std::string list, TranslateList(e.children, 1, b));
      return absl::StrCat("(", x, e.negated ? " NOT IN (" : " IN (", list, "))");
    }
    case ExprKind::kBetween: {
      VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
      VEIL_ASSIGN_OR_RETURN(const std::string lo, Translate(*e.children[1], b));
      VEIL_ASSIGN_OR_RETURN(const std::string hi, Translate(*e.children[2], b));
      return absl::StrCat("(", x, e.negated ? " NOT BETWEEN " : " BETWEEN ", lo, " AND ", hi, ")");
    }
    case ExprKind::kLike: {
      VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
      VEIL_ASSIGN_OR_RETURN(const std::string pattern, Translate(*e.children[1], b));
      // The default escape character of both GoogleSQL and PostgreSQL is the backslash; "C" compares bytes.
      return absl::StrCat("(", x, " COLLATE \"C\"", e.negated ? " NOT LIKE " : " LIKE ", pattern, ")");
    }
    case ExprKind::kIsNull: {
      VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
      return absl::StrCat("(", x, e.negated ? " IS NOT NULL)" : " IS NULL)");
    }
    case ExprKind::kCall: {
      if (e.name == "RANGE_BUCKET" && e.children.size() == 2 && e.children[1]->kind == ExprKind::kArray &&
          e.named_args.empty() && !e.distinct && !e.star) {
        std::vector<double> boundaries;
        for (const ExprPtr& item : e.children[1]->children) {
          if (item->kind != ExprKind::kLiteral) return Invalid("RANGE_BUCKET boundaries must be literals");
          if (const auto* i = std::get_if<int64_t>(&item->value)) {
            boundaries.push_back(static_cast<double>(*i));
          } else if (const auto* d = std::get_if<double>(&item->value)) {
            boundaries.push_back(*d);
          } else {
            return Invalid("RANGE_BUCKET boundaries must be numbers");
          }
        }
        VEIL_ASSIGN_OR_RETURN(const std::string x, Translate(*e.children[0], b));
        return RangeBucketSql(x, boundaries, b);
      }
      return Invalid(absl::StrCat("the function ", e.name, " cannot be pushed down to PostgreSQL"));
    }
    case ExprKind::kArray:
    case ExprKind::kTuple:
      return Invalid("an array or tuple cannot be used as a value in WHERE");
  }
  return Invalid("unknown expression");
}

// --- The bounding hash of dp/query.h in SQL.

// F(h): the 64-bit hash folded to 32 bits. bigint's >> is arithmetic, but only the low 32 bits of the
// result are kept, and those are h's high half either way.
std::string Fold32Sql(const std::string& h) {
  return absl::StrCat("((", h, " # (", h, " >> 32)) & 4294967295)");
}

// One step of M (query.h): x < 2^32 and the multipliers are < 2^31, so bigint never overflows.
std::string MixStepSql(const std::string& x, int shift, int64_t multiplier) {
  if (multiplier == 0) return absl::StrCat("(", x, " # (", x, " >> ", shift, "))");
  return absl::StrCat("(((", x, " # (", x, " >> ", shift, ")) * ", multiplier, ") & 4294967295)");
}

// Wraps a query as a subquery level that PostgreSQL keeps apart (OFFSET 0): the next level uses its
// columns several times, and flattening would copy their expressions into every use.
std::string Level(const std::string& select, const std::string& from, int n) {
  return absl::StrCat("(SELECT ", select, " FROM ", from, " OFFSET 0) l", n);
}

}  // namespace

namespace internal {

std::string DoubleTextsQuery(const std::string& source, const std::string& column) {
  // table::FormatDouble is std::to_chars' shortest round-trip form (the shorter of fixed and scientific
  // notation, fixed on a tie; exponents with a sign and at least two digits), with ".0" added to a plain
  // integer. PostgreSQL prints shortest round-trip digits too (extra_float_digits = 1, which PgConnection
  // sets), in its own choice of notation: the digits D and the exponent P (value = D * 10^P) are parsed back
  // from that text and the notation is chosen again. PostgreSQL's Ryu does not accept a decimal lying exactly
  // on the boundary of x's rounding interval (1e23 prints as 9.999999999999999e+22) where std::to_chars does
  // (x's mantissa even): so D rounded to one digit less is tried too, and taken, trailing zeros dropped, when
  // it reads back as x (the guards keep that read within double's range: float8 input errors on overflow
  // and on underflow to zero). One row per distinct bit pattern, so each value is converted once.
  std::string from =
      absl::StrCat("(SELECT DISTINCT ON (float8send(", column, ")) float8send(", column, ") AS bits, ",
                   column, " AS v FROM ", source, " WHERE ", column, " IS NOT NULL) l0");
  from = Level(
      "bits, v, CASE WHEN v <> 0 AND v <> 'Infinity'::float8 AND v <> '-Infinity'::float8 AND v <> "
      "'NaN'::float8 "
      "THEN regexp_match(v::text, '^(-?)([0-9]+)(?:\\.([0-9]+))?(?:e([-+][0-9]+))?$') END AS m",
      from, 1);
  from = Level(
      "bits, v, m[1] AS sg, ltrim(m[2] || coalesce(m[3], ''), '0') AS d0, "
      "coalesce(m[4]::int, 0) - length(coalesce(m[3], '')) AS p0",
      from, 2);
  from = Level("bits, v, sg, rtrim(d0, '0') AS d, p0 + length(d0) - length(rtrim(d0, '0')) AS p", from, 3);
  from =
      Level("bits, v, sg, d, p, CASE WHEN length(d) > 1 THEN round(d::numeric / 10)::text END AS c", from, 4);
  from = Level("bits, v, sg, d, p, rtrim(c, '0') AS cd, p + 1 + length(c) - length(rtrim(c, '0')) AS cp",
               from, 5);
  from = Level(
      "bits, v, sg, d, p, cd, cp, coalesce(CASE WHEN (cd || 'e' || cp)::numeric BETWEEN 2.5e-324 AND "
      "1.7976931348623157e308 THEN (cd || 'e' || cp)::float8 = abs(v) END, false) AS ok",
      from, 6);
  from = Level("bits, v, sg, CASE WHEN ok THEN cd ELSE d END AS d, CASE WHEN ok THEN cp ELSE p END AS p",
               from, 7);
  from = Level(
      "bits, v, sg, d, p, length(d) AS n, "
      "CASE WHEN p >= 0 THEN length(d) + p WHEN length(d) + p > 0 THEN length(d) + 1 ELSE 2 - p END AS fl, "
      "length(d) + CASE WHEN length(d) > 1 THEN 1 ELSE 0 END + 2 + "
      "greatest(2, length(abs(length(d) - 1 + p)::text)) AS sl",
      from, 8);
  // The sign of NaN and of zero is only visible in the bits (float8send: big-endian IEEE 754).
  return absl::StrCat(
      "SELECT bits, CASE "
      // A plain integer in fixed notation: std::to_chars prints the double's exact digits (as short as the
      // shortest digits followed by zeros, and closer), e.g. 935227735084318336.0, not ...300.0. Such a
      // double is an integer below 10^22, so it converts to int8 exactly below 2^63, and is a multiple of
      // 2^11 (hence x / 2048 is an exact int8) above.
      "WHEN fl <= sl AND p > 0 THEN sg || CASE WHEN abs(v) < 9223372036854775807::float8 THEN "
      "abs(v)::int8::text "
      "ELSE ((abs(v) / 2048)::int8::numeric * 2048)::text END || '.0' "
      "WHEN v = 'NaN'::float8 THEN CASE WHEN get_byte(bits, 0) >= 128 THEN '-nan' ELSE 'nan' END "
      "WHEN v = 'Infinity'::float8 THEN 'inf' WHEN v = '-Infinity'::float8 THEN '-inf' "
      "WHEN v = 0 THEN CASE WHEN get_byte(bits, 0) >= 128 THEN '-0.0' ELSE '0.0' END "
      "ELSE sg || CASE WHEN fl <= sl THEN "
      "CASE WHEN p >= 0 THEN d || repeat('0', p) || '.0' "
      "WHEN n + p > 0 THEN substr(d, 1, n + p) || '.' || substr(d, n + p + 1) "
      "ELSE '0.' || repeat('0', -(n + p)) || d END "
      "ELSE substr(d, 1, 1) || CASE WHEN n > 1 THEN '.' || substr(d, 2) ELSE '' END || 'e' || "
      "CASE WHEN n - 1 + p < 0 THEN '-' ELSE '+' END || "
      "CASE WHEN abs(n - 1 + p) < 10 THEN '0' ELSE '' END || abs(n - 1 + p)::text END END AS t FROM ",
      from);
}

namespace {

// The year of table::FormatDate: astronomical (year 0 is 1 BC, -0001 is 2 BC), at least 4 digits.
// PostgreSQL's YYYY prints BC years as positive numbers (1 BC is 0001), so years before 1 are rebuilt from
// extract(year), which is -1 for 1 BC.
std::string YearText(const std::string& v, const std::string& year_one) {
  const std::string y = absl::StrCat("(extract(year FROM ", v, ")::int8 + 1)");
  return absl::StrCat("CASE WHEN ", v, " >= ", year_one, " THEN to_char(", v, ", 'YYYY') ELSE CASE WHEN ", y,
                      " < 0 THEN '-' ELSE '' END || lpad(abs(", y, ")::text, greatest(4, length(abs(", y,
                      ")::text)), '0') END");
}

}  // namespace

std::string SqlValueText(const std::string& v, DataType type, bool utc_timestamptz) {
  std::string text;
  switch (type) {
    case DataType::kInt64:
      text = absl::StrCat("(", v, ")::text");
      break;
    case DataType::kString:
      text = absl::StrCat("(", v, ")::text");
      break;
    case DataType::kBool:
      text = absl::StrCat("(CASE WHEN ", v, " THEN 'true' WHEN NOT ", v, " THEN 'false' END)");
      break;
    case DataType::kDate:
      text = absl::StrCat("(", YearText(v, "DATE '0001-01-01'"), " || to_char(", v, ", '-MM-DD'))");
      break;
    case DataType::kTimestamp: {
      const std::string ts = utc_timestamptz ? absl::StrCat("((", v, ") AT TIME ZONE 'UTC')") : v;
      text = absl::StrCat("(", YearText(ts, "TIMESTAMP '0001-01-01 00:00:00'"), " || to_char(", ts,
                          ", '-MM-DD\"T\"HH24:MI:SS') || CASE WHEN to_char(", ts,
                          ", 'US') = '000000' THEN '' ELSE '.' || to_char(", ts, ", 'US') END || 'Z')");
      break;
    }
    case DataType::kDouble:
      text = v;  // the column of the text (DoubleTextsQuery), joined in by the caller
      break;
  }
  return absl::StrCat("coalesce(", text, ", E'\\\\N')");
}

}  // namespace internal

absl::StatusOr<std::vector<BoundedSum>> BoundedSumsFor(const dp::QueryPlan& plan) {
  absl::StatusOr<std::vector<BoundedSum>> sums = dp::BoundedSums(plan);
  if (absl::IsUnimplemented(sums.status())) {
    return absl::UnimplementedError(absl::StrCat("not pushed down to PostgreSQL: ", sums.status().message()));
  }
  return sums;
}

absl::StatusOr<PushdownStatement> BuildPushdownStatement(const table::PgTableName& table,
                                                         const std::vector<PgColumn>& columns,
                                                         const dp::QueryPlan& plan,
                                                         const std::vector<BoundedSum>& sums,
                                                         const Expr* where, uint64_t seed) {
  VEIL_RETURN_IF_ERROR(dp::ValidatePlan(plan));
  if (seed >= kSeedLimit) return Invalid("the bounding seed must be below 2^62");
  if (sums.empty()) return Invalid("no bounded sums to compute");
  Builder b(columns);
  // T(v) of a base column: inline SQL, except for doubles, whose texts come from a per-column table
  // dt_<alias> (internal::DoubleTextsQuery) joined in by bit pattern.
  std::vector<std::string> double_aliases;
  auto text_of = [&](const std::string& alias, DataType type, bool tz) {
    if (type != DataType::kDouble) return internal::SqlValueText(alias, type, tz);
    if (std::find(double_aliases.begin(), double_aliases.end(), alias) == double_aliases.end()) {
      double_aliases.push_back(alias);
    }
    return internal::SqlValueText(absl::StrCat("dt_", alias, ".t"), type, false);
  };

  // base: the filtered rows, with the unit, the keys and the value columns as Veil reads them.
  std::vector<std::string> base_select;
  VEIL_ASSIGN_OR_RETURN(const PgColumn* unit_col, b.Column(plan.privacy_unit_column, "the privacy unit"));
  VEIL_ASSIGN_OR_RETURN(const std::string unit, b.Typed(*unit_col));
  base_select.push_back(absl::StrCat(CanonicalDouble(unit, unit_col->type), " AS u"));

  std::vector<std::string> keys;      // k1, k2, ...
  std::vector<std::string> key_text;  // T(k_i) over base's columns
  std::vector<std::string> key_order;
  std::vector<DataType> key_types;
  for (size_t i = 0; i < plan.group_by.size(); ++i) {
    const dp::GroupBy& g = plan.group_by[i];
    VEIL_ASSIGN_OR_RETURN(const PgColumn* c, b.Column(g.column, "in GROUP BY"));
    VEIL_ASSIGN_OR_RETURN(const std::string typed, b.Typed(*c));
    const std::string name = absl::StrCat("k", i + 1);
    keys.push_back(name);
    if (!g.bucket_boundaries.empty()) {
      if (c->type != DataType::kInt64 && c->type != DataType::kDouble) {
        return Invalid(absl::StrCat("a binned GROUP BY column must be numeric; \"", g.column, "\" is not"));
      }
      base_select.push_back(absl::StrCat(RangeBucketSql(typed, g.bucket_boundaries, b), " AS ", name));
      key_types.push_back(DataType::kInt64);
      key_text.push_back(internal::SqlValueText(name, DataType::kInt64, false));
    } else {
      base_select.push_back(absl::StrCat(CanonicalDouble(typed, c->type), " AS ", name));
      key_types.push_back(c->type);
      key_text.push_back(text_of(name, c->type, c->type_oid == kTimestamptzOid));
    }
    key_order.push_back(
        absl::StrCat(name, key_types.back() == DataType::kString ? " COLLATE \"C\"" : "", " NULLS FIRST"));
  }

  // The value columns the aggregations read, in plan order, each once (query.h: the row hash).
  std::vector<std::string> value_cols;  // names in the table
  std::map<std::string, std::string> value_alias;
  std::vector<std::pair<std::string, DataType>> row_values;  // (alias, type)
  for (const dp::Aggregate& a : plan.aggregates) {
    if (!NeedsColumn(a.function) || value_alias.count(a.column) > 0) continue;
    VEIL_ASSIGN_OR_RETURN(const PgColumn* c, b.Column(a.column, "in an aggregation"));
    VEIL_ASSIGN_OR_RETURN(const std::string typed, b.Typed(*c));
    const std::string alias = absl::StrCat("x", value_cols.size() + 1);
    value_cols.push_back(a.column);
    value_alias[a.column] = alias;
    base_select.push_back(absl::StrCat(typed, " AS ", alias));
    row_values.emplace_back(alias, c->type);
  }
  // Every column a sum reads must be one of them (the engine's components come from the aggregations).
  std::map<std::string, DataType> value_type;
  for (const std::string& name : value_cols) value_type[name] = (*b.Column(name, ""))->type;
  for (const BoundedSum& s : sums) {
    if (s.kind == BoundedSumKind::kRows || s.kind == BoundedSumKind::kUnits) continue;
    if (value_alias.count(s.column) == 0) {
      return Invalid(
          absl::StrCat("a bounded sum reads \"", s.column, "\", which no aggregation of the plan reads"));
    }
    if (s.kind != BoundedSumKind::kNonNull) {
      const DataType t = value_type[s.column];
      if (t != DataType::kInt64 && t != DataType::kDouble && t != DataType::kBool) {
        return Invalid(absl::StrCat("a sum needs a numeric column; \"", s.column, "\" is ",
                                    table::internal::ToAbsl(table::DataTypeName(t))));
      }
      if (!std::isfinite(s.bounds.lo) || !std::isfinite(s.bounds.hi) || s.bounds.lo > s.bounds.hi) {
        return Invalid(absl::StrCat("bounds of \"", s.column, "\" must be finite with lo <= hi"));
      }
      if (s.bits < 0 || s.bits > 30) return Invalid("bits must be in [0, 30]");
    }
  }

  std::vector<std::string> conditions;
  if (where != nullptr) {
    VEIL_ASSIGN_OR_RETURN(const std::string w, Translate(*where, b));
    conditions.push_back(absl::StrCat("(", w, ") IS TRUE"));
  }
  conditions.push_back(absl::StrCat(unit, " IS NOT NULL"));
  VEIL_ASSIGN_OR_RETURN(const std::string quoted_table, table::QuotePgTable(table));

  // Public groups: rows whose key is not listed are dropped before bounding (NULL keys match NULL).
  std::string public_filter;
  if (plan.public_groups.has_value()) {
    if (plan.group_by.empty()) return Invalid("public groups need GROUP BY");
    if (plan.public_groups->empty()) {
      public_filter = "WHERE false";
    } else {
      std::vector<std::string> rows;
      for (const std::vector<Value>& key : *plan.public_groups) {
        if (key.size() != plan.group_by.size())
          return Invalid("a public group key has the wrong number of values");
        std::vector<std::string> parts;
        for (size_t i = 0; i < key.size(); ++i) {
          parts.push_back(absl::StrCat("b.", keys[i], " IS NOT DISTINCT FROM ", b.Param(key[i])));
        }
        rows.push_back(absl::StrCat("(", absl::StrJoin(parts, " AND "), ")"));
      }
      public_filter = absl::StrCat("WHERE ", absl::StrJoin(rows, " OR "));
    }
  }

  // The seeds s, s + 1, s + 2 (all below 2^62 + 2, valid bigints).
  const std::string s0 = b.Int(static_cast<int64_t>(seed));
  const std::string s1 = b.Int(static_cast<int64_t>(seed + 1));
  const std::string s2 = b.Int(static_cast<int64_t>(seed + 2));
  const std::string unit_hash =
      absl::StrCat("hashtextextended(", text_of("u", unit_col->type, unit_col->type_oid == kTimestamptzOid),
                   ", ", s0, ")");
  std::string key_hash = s1;
  for (const std::string& t : key_text) key_hash = absl::StrCat("hashtextextended(", t, ", ", key_hash, ")");
  // The row hash's steps V(x_j, g_{j-1}) (query.h): PostgreSQL's hash of the value's binary form, NULL and
  // NaN as the text \N. Each step is a level of its own, since g appears in two branches.
  std::vector<std::string> row_steps;
  for (size_t j = 0; j < row_values.size(); ++j) {
    const auto& [x, type] = row_values[j];
    const std::string g = absl::StrCat("g", j);
    std::string hash;
    switch (type) {
      case DataType::kDouble:
        hash = absl::StrCat("hashfloat8extended(", x, ", ", g, ")");
        break;
      case DataType::kInt64:
        hash = absl::StrCat("hashint8extended(", x, ", ", g, ")");
        break;
      case DataType::kTimestamp:  // microseconds since 1970 (extract is exact numeric from PostgreSQL 14)
        hash = absl::StrCat("hashint8extended((extract(epoch FROM ", x, ") * 1000000)::int8, ", g, ")");
        break;
      case DataType::kDate:
        hash = absl::StrCat("hashint8extended((", x, " - DATE '1970-01-01')::int8, ", g, ")");
        break;
      case DataType::kBool:
        hash = absl::StrCat("hashint8extended(CASE WHEN ", x, " THEN 1::int8 ELSE 0::int8 END, ", g, ")");
        break;
      case DataType::kString:
        hash = absl::StrCat("hashtextextended(", x, ", ", g, ")");
        break;
    }
    const std::string missing = type == DataType::kDouble
                                    ? absl::StrCat(x, " IS NULL OR ", x, " = 'NaN'::float8")
                                    : absl::StrCat(x, " IS NULL");
    row_steps.push_back(absl::StrCat("CASE WHEN ", missing, " THEN hashtextextended(E'\\\\N', ", g, ") ELSE ",
                                     hash, " END AS g", j + 1));
  }

  // Per-row integers of the sums.
  std::vector<std::string> totals;
  for (size_t i = 0; i < sums.size(); ++i) {
    const BoundedSum& s = sums[i];
    const std::string out = absl::StrCat("t", i + 1);
    switch (s.kind) {
      case BoundedSumKind::kRows:
        totals.push_back(absl::StrCat("count(*)::int8 AS ", out));
        continue;
      case BoundedSumKind::kUnits:
        totals.push_back(absl::StrCat("(count(*) FILTER (WHERE row_rank = 1))::int8 AS ", out));
        continue;
      case BoundedSumKind::kNonNull: {
        const std::string x = value_alias[s.column];
        const bool is_double = value_type[s.column] == DataType::kDouble;
        totals.push_back(absl::StrCat(
            "(count(", x, ")", is_double ? absl::StrCat(" FILTER (WHERE ", x, " <> 'NaN'::float8)") : "",
            ")::int8 AS ", out));
        continue;
      }
      default:
        break;
    }
    // The value as a double (NULL for NULL and NaN), clamped; then the engine's per-row integer. The
    // constants are computed here exactly as the engine computes them and sent as float8 parameters.
    const std::string x = value_alias[s.column];
    std::string value;
    switch (value_type[s.column]) {
      case DataType::kBool:
        value = absl::StrCat("(CASE WHEN ", x, " THEN 1.0::float8 WHEN NOT ", x, " THEN 0.0::float8 END)");
        break;
      case DataType::kInt64:
        value = absl::StrCat("(", x, ")::float8");
        break;
      default:
        value = absl::StrCat("NULLIF(", x, ", 'NaN'::float8)");
        break;
    }
    const std::string clamped =
        absl::StrCat("LEAST(GREATEST(", value, ", ", b.Float(s.bounds.lo), "), ", b.Float(s.bounds.hi), ")");
    std::string q;
    if (s.kind == BoundedSumKind::kSum) {
      q = absl::StrCat("round(", clamped, " / ", b.Float(dp::FixedPointGrid(s.bounds, s.bits)), ")");
    } else {
      const double lo = s.bounds.lo, hi = s.bounds.hi;
      const double mid = lo + (hi - lo) / 2, half = (hi - lo) / 2;
      const std::string scale = b.Float(std::ldexp(1.0, s.bits));
      const std::string u =
          half > 0 ? absl::StrCat("LEAST(GREATEST((", clamped, " - ", b.Float(mid), ") / ", b.Float(half),
                                  ", -1.0::float8), 1.0::float8)")
                   : absl::StrCat("(CASE WHEN ", value, " IS NULL THEN NULL ELSE 0.0::float8 END)");
      if (s.kind == BoundedSumKind::kNormSum) {
        q = absl::StrCat("round(", u, " * ", scale, ")");
      } else {
        q = absl::StrCat("(SELECT round((2 * uu * uu - 1) * ", scale, ") FROM (SELECT ", u, " AS uu) z)");
      }
    }
    // GREATEST and LEAST skip NULLs (GREATEST(NULL, lo) is lo): a NULL or NaN value must stay NULL.
    totals.push_back(absl::StrCat("coalesce(sum((CASE WHEN ", value, " IS NULL THEN NULL ELSE ", q,
                                  " END)::int8), 0)::int8 AS ", out));
  }

  const std::string keys_csv = absl::StrJoin(keys, ", ");
  const std::string key_partition = keys.empty() ? "" : absl::StrCat(", ", keys_csv);
  const std::string key_ordering = keys.empty() ? "" : absl::StrCat(", ", absl::StrJoin(key_order, ", "));

  PushdownStatement st;
  // Each level's columns: base (u, k*, x*), v0 (+ hu, hk, g0: the unit and key hashes, the row hash's seed),
  // v1.. (+ g1..: the row hash's steps), hashed (+ d), folded (+ a_u, a_k, a_row), then the two mixes
  // M(a_u # a_k) = r and M(r # a_row) = w in three steps each. A level uses a column of the one below
  // it twice; PostgreSQL would flatten the levels into one expression tree with the lower expressions copied
  // at every use (exponential in the depth), so each level ends with OFFSET 0, the fence that keeps it a
  // separate, streamed subquery.
  absl::StrAppend(&st.sql, "WITH base AS (SELECT ", absl::StrJoin(base_select, ", "), " FROM ", quoted_table,
                  " WHERE ", absl::StrJoin(conditions, " AND "), "),\n");
  absl::StrAppend(&st.sql, "filtered AS (SELECT * FROM base b ", public_filter, "),\n");
  std::string joins;
  for (const std::string& a : double_aliases) {
    absl::StrAppend(&st.sql, "dt_", a, " AS (", internal::DoubleTextsQuery("filtered", a), "),\n");
    absl::StrAppend(&joins, " LEFT JOIN dt_", a, " ON float8send(f.", a, ") = dt_", a, ".bits");
  }
  absl::StrAppend(&st.sql, "v0 AS (SELECT f.*, ", unit_hash, " AS hu, ", key_hash, " AS hk, ", s2,
                  " AS g0 FROM filtered f", joins, " OFFSET 0),\n");
  for (size_t j = 0; j < row_steps.size(); ++j) {
    absl::StrAppend(&st.sql, "v", j + 1, " AS (SELECT *, ", row_steps[j], " FROM v", j, " OFFSET 0),\n");
  }
  // Rows of a cell with equal values (equal g_m) are told apart by their occurrence number d.
  const std::string gm = absl::StrCat("g", row_steps.size());
  absl::StrAppend(&st.sql, "hashed AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY u", key_partition, ", ", gm,
                  ") - 1 AS d FROM v", row_steps.size(), "),\n");
  absl::StrAppend(&st.sql, "folded AS (SELECT *, ", Fold32Sql("hu"), " AS a_u, ", Fold32Sql("hk"),
                  " AS a_k, ", "CASE WHEN d = 0 THEN ", Fold32Sql(gm), " ELSE ",
                  Fold32Sql(absl::StrCat("hashint8extended(d, ", gm, ")")),
                  " END AS a_row FROM hashed OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m1 AS (SELECT *, ", MixStepSql("(a_u # a_k)", 16, 2146121005),
                  " AS r1 FROM folded OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m2 AS (SELECT *, ", MixStepSql("r1", 15, 739982445),
                  " AS r2 FROM m1 OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m3 AS (SELECT *, ", MixStepSql("r2", 16, 0), " AS r FROM m2 OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m4 AS (SELECT *, ", MixStepSql("(r # a_row)", 16, 2146121005),
                  " AS w1 FROM m3 OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m5 AS (SELECT *, ", MixStepSql("w1", 15, 739982445),
                  " AS w2 FROM m4 OFFSET 0),\n");
  absl::StrAppend(&st.sql, "m6 AS (SELECT *, ", MixStepSql("w2", 16, 0), " AS w FROM m5 OFFSET 0),\n");
  // L0: a unit keeps its groups of smallest (r, a_k, key); DENSE_RANK numbers the unit's groups (all rows of
  // a group share r and a_k). Linf: in each kept (unit, group) cell, the rows of smallest w.
  absl::StrAppend(&st.sql, "ranked AS (SELECT *, DENSE_RANK() OVER (PARTITION BY u ORDER BY r, a_k",
                  key_ordering, ") AS group_rank, ROW_NUMBER() OVER (PARTITION BY u", key_partition,
                  " ORDER BY w) AS row_rank FROM m6)\n");
  std::vector<std::string> out_cols = keys;
  out_cols.push_back("(count(*) FILTER (WHERE row_rank = 1))::int8 AS units");
  for (std::string& t : totals) out_cols.push_back(std::move(t));
  absl::StrAppend(&st.sql, "SELECT ", absl::StrJoin(out_cols, ", "),
                  " FROM ranked WHERE group_rank <= ", plan.max_groups_contributed,
                  " AND row_rank <= ", plan.max_rows_per_group);
  if (!keys.empty()) {
    absl::StrAppend(&st.sql, " GROUP BY ", keys_csv, " ORDER BY ", absl::StrJoin(key_order, ", "));
  } else {
    // No GROUP BY: one group, which holds nothing when no row passes (units = 0).
  }
  st.params = std::move(b.params());
  return st;
}

absl::StatusOr<BoundedAggregates> RunPushdown(table::PgConnection& pg, const table::PgTableName& table,
                                              const dp::QueryPlan& plan, const std::vector<BoundedSum>& sums,
                                              const Expr* where, uint64_t seed) {
  if (pg.server_version() < 110000) {
    return absl::FailedPreconditionError(
        absl::StrCat(pg.location(), ": the push-down needs PostgreSQL 11 or later (hashtextextended)"));
  }
  VEIL_ASSIGN_OR_RETURN(const std::vector<PgColumn> columns, pg.DescribeTable(table));
  VEIL_ASSIGN_OR_RETURN(const PushdownStatement st,
                        BuildPushdownStatement(table, columns, plan, sums, where, seed));
  // One READ ONLY transaction, with planner settings that end with it. The row estimates of a filtered
  // table can be far too low (a WHERE of several conditions is estimated at one row), and a nested loop
  // would then recompute the texts of a double column (dt_*) for every row: quadratic. No plan here needs a
  // nested loop (the joins are equalities on the bit patterns), and the whole result is read
  // (cursor_tuple_fraction 1 rather than a cursor's 0.1, which favours fast-start plans).
  VEIL_RETURN_IF_ERROR(pg.Execute("BEGIN READ ONLY").status());
  absl::StatusOr<table::Table> queried = [&]() -> absl::StatusOr<table::Table> {
    VEIL_RETURN_IF_ERROR(pg.Execute("SET LOCAL cursor_tuple_fraction = 1.0").status());
    VEIL_RETURN_IF_ERROR(pg.Execute("SET LOCAL enable_nestloop = off").status());
    return pg.Query(st.sql, st.params);
  }();
  const absl::Status ended = pg.Execute(queried.ok() ? "COMMIT" : "ROLLBACK").status();
  if (!queried.ok()) return queried.status();
  VEIL_RETURN_IF_ERROR(ended);
  const table::Table& result = *queried;
  const int nkeys = static_cast<int>(plan.group_by.size());
  if (result.num_columns() != nkeys + 1 + static_cast<int>(sums.size())) {
    return absl::InternalError(absl::StrCat("push-down: the PostgreSQL statement returned ",
                                            result.num_columns(), " columns, expected ",
                                            nkeys + 1 + sums.size(), " (keys, units, sums)"));
  }
  BoundedAggregates out;
  out.seed = seed;
  for (int64_t row = 0; row < result.num_rows(); ++row) {
    BoundedGroup g;
    for (int k = 0; k < nkeys; ++k) g.key.push_back(result.GetValue(row, k));
    g.units = result.column(nkeys).GetInt64(row);
    // The global aggregate's single group is released even when empty; other groups exist only with rows.
    if (g.units == 0 && nkeys > 0) continue;
    for (size_t i = 0; i < sums.size(); ++i) {
      g.totals.push_back(result.column(nkeys + 1 + static_cast<int>(i)).GetInt64(row));
    }
    out.groups.push_back(std::move(g));
  }
  return out;
}

absl::StatusOr<dp::QueryResult> RunPushdownQuery(table::PgConnection& pg, const table::PgTableName& table,
                                                 const dp::QueryPlan& plan, const Expr* where,
                                                 dp::RandomBits& bits) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<BoundedSum> sums, BoundedSumsFor(plan));
  // RunQuery's first draw, so that the rest of the stream (selection, noise) lines up with it.
  VEIL_ASSIGN_OR_RETURN(const uint64_t seed, dp::DrawBoundingSeed(bits));
  VEIL_ASSIGN_OR_RETURN(BoundedAggregates agg, RunPushdown(pg, table, plan, sums, where, seed));
  return dp::FinishQuery(plan, std::move(agg.groups), bits);
}

}  // namespace veil::sql
