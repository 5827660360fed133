#include "veil/sql/parser.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/sql/ast.h"
#include "veil/sql/lexer.h"

namespace veil::sql {
namespace parser_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Canonical(std::string_view sql) {
  absl::StatusOr<Query> q = ParseQuery(sql);
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? ToSql(*q) : "";
}

std::string CanonicalExpr(std::string_view sql) {
  absl::StatusOr<ExprPtr> e = ParseExpression(sql);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? ToSql(**e) : "";
}

// The first line of the error message ("LINE:COL: message").
std::string ErrorOf(std::string_view sql) {
  absl::StatusOr<Query> q = ParseQuery(sql);
  EXPECT_FALSE(q.ok()) << "parsed: " << sql;
  if (q.ok()) return "";
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(q.status().message());
  return message.substr(0, message.find('\n'));
}

constexpr std::string_view kPrefix =
    "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1.0, delta = 1e-6, privacy_unit_column = id) ";

std::string Q(std::string_view rest) { return std::string(kPrefix) + std::string(rest); }

TEST(ParserTest, FullQueryGolden) {
  const std::string sql = R"sql(
    select with differential_privacy
      options (epsilon = 1, delta = 1e-6, max_groups_contributed = 2, privacy_unit_column = patient_id,
               max_rows_contributed = 5, public_groups = ['a', 'b'])
      ward,
      count(*) as n,
      SUM(cost, contribution_bounds_per_group => (0, 100)) total,
      AVG(cost, contribution_bounds_per_row => (-1.5, 100)),
      PERCENTILE_CONT(age, 0.5, contribution_bounds_per_row => (0, 120)) AS median_age,
      COUNT(DISTINCT patient_id) AS patients,
    FROM hospital.visits AS v
    WHERE age BETWEEN 18 AND 65 AND (sex = 'F' OR sex IS NULL) AND NOT ward IN ('x', 'y')
      AND admitted >= DATE '2020-01-31' AND name NOT LIKE 'A%' AND v.cost * 2 + 1 > 10
    GROUP BY ward
    ORDER BY n DESC, ward
    LIMIT 10;
  )sql";
  EXPECT_EQ(
      Canonical(sql),
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, delta = 1e-06, max_groups_contributed = 2, "
      "privacy_unit_column = patient_id, max_rows_contributed = 5, public_groups = ['a', 'b']) ward, "
      "COUNT(*) AS n, SUM(cost, contribution_bounds_per_group => (0, 100)) AS total, "
      "AVG(cost, contribution_bounds_per_row => (-1.5, 100)), "
      "PERCENTILE_CONT(age, 0.5, contribution_bounds_per_row => (0, 120)) AS median_age, "
      "COUNT(DISTINCT patient_id) AS patients FROM hospital.visits AS v "
      "WHERE age BETWEEN 18 AND 65 AND (sex = 'F' OR sex IS NULL) AND NOT ward IN ('x', 'y') AND "
      "admitted >= DATE '2020-01-31' AND name NOT LIKE 'A%' AND v.cost * 2 + 1 > 10 "
      "GROUP BY ward ORDER BY n DESC, ward LIMIT 10");
}

TEST(ParserTest, QueryStructure) {
  absl::StatusOr<Query> q =
      ParseQuery(Q("g, RANGE_BUCKET(age, [0, 18, 65]) AS bucket, COUNT(*) FROM `proj.data.t` t WHERE x > 1 "
                   "GROUP BY g, bucket"));
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->options.size(), 3u);
  EXPECT_EQ(q->options[0].name, "epsilon");
  EXPECT_EQ(std::get<double>(q->options[0].value->value), 1.0);
  EXPECT_EQ(q->options[2].value->kind, ExprKind::kColumn);
  EXPECT_EQ(q->options[2].value->name, "id");
  ASSERT_EQ(q->select.size(), 3u);
  EXPECT_EQ(q->select[1].alias, "bucket");
  EXPECT_EQ(q->select[1].expr->kind, ExprKind::kCall);
  EXPECT_EQ(q->select[1].expr->name, "RANGE_BUCKET");
  EXPECT_EQ(q->select[1].expr->children[1]->kind, ExprKind::kArray);
  EXPECT_EQ(q->select[2].expr->star, true);
  EXPECT_THAT(q->from.path, ::testing::ElementsAre("proj", "data", "t"));
  EXPECT_EQ(q->from.Name(), "proj.data.t");
  EXPECT_EQ(q->from.alias, "t");
  ASSERT_NE(q->where, nullptr);
  EXPECT_EQ(q->group_by.size(), 2u);
  EXPECT_FALSE(q->limit.has_value());
  // Offsets point at the tokens.
  const std::string sql = Q("a FROM t WHERE x > 1");
  absl::StatusOr<Query> q2 = ParseQuery(sql);
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(q2->where->offset, static_cast<int>(sql.find('>')));
  EXPECT_EQ(q2->where->children[0]->offset, static_cast<int>(sql.find("x >")));
}

TEST(ParserTest, OptionsAreOptionalAndMayBeEmpty) {
  absl::StatusOr<Query> q = ParseQuery("SELECT WITH DIFFERENTIAL_PRIVACY COUNT(*) FROM t");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->options.empty());
  q = ParseQuery("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS() COUNT(*) FROM t");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->options.empty());
  // A column called "options" is a column when no parenthesis follows.
  q = ParseQuery("SELECT WITH DIFFERENTIAL_PRIVACY options, COUNT(*) FROM t GROUP BY options");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->select[0].expr->name, "options");
}

TEST(ParserTest, Precedence) {
  EXPECT_EQ(CanonicalExpr("a + b * c"), "a + b * c");
  EXPECT_EQ(CanonicalExpr("(a + b) * c"), "(a + b) * c");
  EXPECT_EQ(CanonicalExpr("a - (b - c)"), "a - (b - c)");
  EXPECT_EQ(CanonicalExpr("(a - b) - c"), "a - b - c");
  EXPECT_EQ(CanonicalExpr("a / b / c"), "a / b / c");
  EXPECT_EQ(CanonicalExpr("a OR b AND c"), "a OR b AND c");
  EXPECT_EQ(CanonicalExpr("(a OR b) AND c"), "(a OR b) AND c");
  EXPECT_EQ(CanonicalExpr("NOT a = b"), "NOT a = b");
  EXPECT_EQ(CanonicalExpr("NOT NOT a"), "NOT NOT a");
  EXPECT_EQ(CanonicalExpr("NOT (a AND b)"), "NOT (a AND b)");
  EXPECT_EQ(CanonicalExpr("(a = b) = c"), "(a = b) = c");
  EXPECT_EQ(CanonicalExpr("-a * b"), "-a * b");
  EXPECT_EQ(CanonicalExpr("-(a * b)"), "-(a * b)");
  EXPECT_EQ(CanonicalExpr("- -a"), "- -a");
  EXPECT_EQ(CanonicalExpr("a--comment\n+1"), "a + 1");
  EXPECT_EQ(CanonicalExpr("a + b IS NOT NULL"), "a + b IS NOT NULL");
  EXPECT_EQ(CanonicalExpr("x BETWEEN 1 AND 2 AND y"), "x BETWEEN 1 AND 2 AND y");
  EXPECT_EQ(CanonicalExpr("x <> 1"), "x != 1");
  // AND and OR chains are flat lists.
  absl::StatusOr<ExprPtr> e = ParseExpression("a AND b AND c AND d");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->kind, ExprKind::kAnd);
  EXPECT_EQ((*e)->children.size(), 4u);
  EXPECT_EQ((*e)->depth, 2);
  // Arithmetic is left-associative.
  e = ParseExpression("a - b - c");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->children[0]->kind, ExprKind::kBinary);
  EXPECT_EQ((*e)->children[1]->kind, ExprKind::kColumn);
}

TEST(ParserTest, Literals) {
  EXPECT_EQ(CanonicalExpr("-5"), "-5");
  EXPECT_EQ(CanonicalExpr("-(5)"), "-5");
  EXPECT_EQ(CanonicalExpr("- - 5"), "5");
  EXPECT_EQ(CanonicalExpr("+5"), "+5");
  EXPECT_EQ(CanonicalExpr("1.50"), "1.5");
  EXPECT_EQ(CanonicalExpr("2e3"), "2000.0");
  EXPECT_EQ(CanonicalExpr(".5"), "0.5");
  EXPECT_EQ(CanonicalExpr("0x1F"), "31");
  EXPECT_FALSE(ParseExpression("'it''s'").ok());  // adjacent literals are not concatenated
  EXPECT_EQ(CanonicalExpr("\"it's\""), "'it\\'s'");
  EXPECT_EQ(CanonicalExpr("true"), "TRUE");
  EXPECT_EQ(CanonicalExpr("Null"), "NULL");
  EXPECT_EQ(CanonicalExpr("date '2024-02-29'"), "DATE '2024-02-29'");
  EXPECT_EQ(CanonicalExpr("TIMESTAMP '2024-02-29 12:00:01.5'"), "TIMESTAMP '2024-02-29T12:00:01.500000Z'");
  absl::StatusOr<ExprPtr> e = ParseExpression("-9223372036854775808");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(std::get<int64_t>((*e)->value), std::numeric_limits<int64_t>::min());
  e = ParseExpression("9223372036854775807");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(std::get<int64_t>((*e)->value), std::numeric_limits<int64_t>::max());
  e = ParseExpression("DATE '1970-01-02'");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<table::Date>((*e)->value).days, 1);
}

TEST(ParserTest, LiteralErrors) {
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = 9223372036854775808")),
              HasSubstr("integer literal \"9223372036854775808\" is outside the int64 range"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = -9223372036854775809")),
              HasSubstr("is outside the int64 range"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = 0x8000000000000000")),
              HasSubstr("outside the int64 range"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = 1e400")), HasSubstr("1e400 is outside the double range"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = 1e-400")), HasSubstr("outside the double range"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = - -9223372036854775808")), HasSubstr("integer overflow"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE d = DATE '2023-02-29'")), HasSubstr("invalid DATE literal"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE d = TIMESTAMP 'noon'")),
              HasSubstr("invalid TIMESTAMP literal"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE d = DATETIME '2023-02-01'")), HasSubstr("typed literals"));
}

TEST(ParserTest, ErrorsPointAtTheToken) {
  // The full message: position, reason, the line and a caret.
  const std::string sql =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1)\n  COUNT(*)\nFROM a JOIN b ON a.x = b.x";
  absl::StatusOr<Query> q = ParseQuery(sql);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "3:8: joins are not supported: a differentially private query reads one table\n"
            "  FROM a JOIN b ON a.x = b.x\n"
            "         ^");
}

TEST(ParserTest, RejectsWhatIsOutsideTheSubset) {
  // Columns are 1-based: the first select item is at column kPrefix.size() + 1.
  auto at = [](int k) { return std::to_string(static_cast<int>(kPrefix.size()) + 1 + k) + ": "; };
  EXPECT_EQ(ErrorOf("SELECT a FROM t"),
            "1:8: Veil answers only differentially private queries: write SELECT WITH DIFFERENTIAL_PRIVACY "
            "OPTIONS(epsilon = ..., delta = ..., privacy_unit_column = ...) ...");
  EXPECT_THAT(ErrorOf("SELECT DISTINCT a FROM t"), StartsWith("1:8: SELECT DISTINCT is not supported"));
  EXPECT_THAT(ErrorOf("WITH x AS (SELECT 1) SELECT 1"),
              StartsWith("1:1: WITH ... AS (common table expressions)"));
  EXPECT_THAT(ErrorOf("UPDATE t SET a = 1"), StartsWith("1:1: unexpected \"UPDATE\"; expected SELECT"));
  EXPECT_THAT(ErrorOf("SELECT WITH ANONYMIZATION OPTIONS(epsilon=1) COUNT(*) FROM t"),
              StartsWith("1:13: WITH ANONYMIZATION is ZetaSQL's older syntax"));
  EXPECT_THAT(ErrorOf("SELECT WITH PRIVACY COUNT(*) FROM t"),
              StartsWith("1:13: unexpected \"PRIVACY\"; expected DIFFERENTIAL_PRIVACY after SELECT WITH"));
  EXPECT_THAT(ErrorOf(Q("* FROM t")), StartsWith("1:" + at(0) + "SELECT * is not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM a, b")), StartsWith("1:" + at(15) + "joins are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM a LEFT JOIN b")),
              StartsWith("1:" + at(16) + "joins are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM (SELECT 1)")),
              StartsWith("1:" + at(14) + "subqueries are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x IN (SELECT y FROM u)")),
              StartsWith("1:" + at(28) + "subqueries are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE (SELECT 1) = 1")),
              StartsWith("1:" + at(23) + "subqueries are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE EXISTS (SELECT 1)")),
              StartsWith("1:" + at(22) + "subqueries (EXISTS) are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM UNNEST([1])")), StartsWith("1:" + at(14) + "UNNEST is not supported"));
  EXPECT_THAT(ErrorOf(Q("g, COUNT(*) FROM t GROUP BY g HAVING COUNT(*) > 5")),
              StartsWith("1:" + at(30) + "HAVING is not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t UNION ALL SELECT 1")), StartsWith("1:" + at(16) + "set operations"));
  EXPECT_THAT(ErrorOf(Q("SUM(x) OVER (PARTITION BY g) FROM t")),
              StartsWith("1:" + at(7) + "window functions (OVER) are not supported"));
  EXPECT_THAT(ErrorOf(Q("MAX(x) FROM t")), StartsWith("1:" + at(0) + "unknown function \"MAX\""));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE LOWER(name) = 'a'")),
              StartsWith("1:" + at(22) + "unknown function \"LOWER\""));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE SUM(x) > 1")),
              StartsWith("1:" + at(22) + "aggregate function SUM is not allowed in WHERE"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t GROUP BY COUNT(*)")),
              StartsWith("1:" + at(25) + "aggregate function COUNT is not allowed in GROUP BY"));
  EXPECT_THAT(
      ErrorOf(Q("SUM(AVG(x)) FROM t")),
      StartsWith("1:" + at(4) + "aggregate function AVG is not allowed inside a function's arguments"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) + 1 FROM t")),
              StartsWith("1:" + at(9) + "an aggregate must be a whole select item"));
  EXPECT_THAT(ErrorOf(Q("1 + COUNT(*) FROM t")),
              StartsWith("1:" + at(4) + "aggregate function COUNT is not allowed here"));
  EXPECT_THAT(ErrorOf(Q("SUM(*) FROM t")), StartsWith("1:" + at(4) + "* is only allowed as COUNT(*)"));
  EXPECT_THAT(ErrorOf(Q("SUM(DISTINCT x) FROM t")), StartsWith("1:" + at(4) + "DISTINCT is only supported"));
  EXPECT_THAT(ErrorOf(Q("SUM(x, contribution_bounds_per_row => (0, 1), y) FROM t")),
              StartsWith("1:" + at(46) + "a positional argument cannot follow a named argument"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE a = b = c")),
              StartsWith("1:" + at(28) + "comparisons cannot be chained"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE a IS TRUE")),
              StartsWith("1:" + at(27) + "unexpected keyword TRUE"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE a || b = 'x'")),
              StartsWith("1:" + at(24) + "string concatenation (||) is not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE a % 2 = 0")), StartsWith("1:" + at(24) + "the % operator"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE CASE WHEN a THEN 1 END = 1")),
              StartsWith("1:" + at(22) + "CASE expressions are not supported"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE CAST(a AS INT64) = 1")),
              StartsWith("1:" + at(22) + "CAST is not"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t LIMIT 5 OFFSET 2")), StartsWith("1:" + at(24) + "LIMIT ... OFFSET"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t LIMIT -1")), StartsWith("1:" + at(22) + "unexpected \"-\""));
  EXPECT_THAT(ErrorOf(Q("g FROM t GROUP BY ROLLUP(g)")), StartsWith("1:" + at(18) + "GROUP BY ROLLUP"));
  EXPECT_THAT(ErrorOf(Q("g FROM t ORDER BY g NULLS LAST")), StartsWith("1:" + at(20) + "NULLS FIRST"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE a.b.c = 1")), StartsWith("1:" + at(25) + "a column is named"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE")), StartsWith("1:" + at(21) + "unexpected end of input"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t; SELECT 1")), StartsWith("1:" + at(17) + "subqueries"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE x = 1 GROUP")), StartsWith("1:" + at(33) + "unexpected end"));
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t GROUP BY g WHERE x = 1")),
              StartsWith("1:" + at(27) + "unexpected keyword WHERE; expected the end of the query"));
  EXPECT_THAT(ErrorOf(Q("COUNT(* FROM t")),
              StartsWith("1:" + at(8) + "unexpected keyword FROM; expected \")\""));
}

TEST(ParserTest, NestingIsCapped) {
  // Deep parentheses, long unary chains and long operator chains all stop with an error, not a crash.
  const std::string deep_parens = std::string(100000, '(') + "x" + std::string(100000, ')');
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE " + deep_parens + " = 1")), HasSubstr("nested too deeply"));
  std::string nots;
  for (int i = 0; i < 50000; ++i) nots += "NOT ";
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE " + nots + "x")), HasSubstr("nested too deeply"));
  std::string minus(50000, '-');
  for (size_t i = 1; i < minus.size(); i += 2) minus[i] = ' ';
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE " + minus + "x = 1")), HasSubstr("nested too deeply"));
  std::string sum = "x";
  for (int i = 0; i < 5000; ++i) sum += " + x";
  EXPECT_THAT(ErrorOf(Q("COUNT(*) FROM t WHERE " + sum + " = 1")),
              HasSubstr("nested too deeply (more than 100"));
  std::string arrays = std::string(1000, '[') + "1" + std::string(1000, ']');
  EXPECT_THAT(ErrorOf(Q("RANGE_BUCKET(x, " + arrays + ") FROM t")), HasSubstr("nested too deeply"));
  // Within the limits, fine; long AND / OR / IN lists are flat and not limited by depth.
  const std::string ok_parens = std::string(50, '(') + "x" + std::string(50, ')');
  EXPECT_TRUE(ParseQuery(Q("COUNT(*) FROM t WHERE " + ok_parens + " = 1")).ok());
  std::string ors = "x = 0";
  for (int i = 1; i < 10000; ++i) ors += " OR x = " + std::to_string(i);
  EXPECT_TRUE(ParseQuery(Q("COUNT(*) FROM t WHERE " + ors)).ok());
  std::string in = "0";
  for (int i = 1; i < 10000; ++i) in += ", " + std::to_string(i);
  EXPECT_TRUE(ParseQuery(Q("COUNT(*) FROM t WHERE x IN (" + in + ")")).ok());
}

TEST(ParserTest, RoundTrips) {
  // parse -> print -> parse gives the same tree, and printing is a fixed point.
  const char* kQueries[] = {
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1, delta=1e-5, privacy_unit_column=id) COUNT(*) FROM "
      "t",
      ("select with differential_privacy options(epsilon=.5) `group`, count(distinct id) c from `my table` x "
       "where x.`group` in ('a', 'b\\n') and -y * 2 >= -3.25e-3 and z not between -1 and +2 "
       "group by `group` order by c desc limit 3"),
      ("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1, public_groups=[(1, 'a'), (2, 'b')]) "
       "RANGE_BUCKET(age, [0, 18.5, 65]) b, APPROX_QUANTILES(x, 4, contribution_bounds_per_row => (0, 1e3)) "
       "FROM t WHERE NOT (a OR b) AND (c = d) = TRUE AND d IS NOT NULL AND e LIKE '%x_' GROUP BY 1"),
      ("SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=1) COUNT(*, contribution_bounds_per_group => (0, "
       "5)) "
       "FROM t WHERE - - x = - (y - z) AND d = DATE '2000-01-01' AND ts < TIMESTAMP '2000-01-01 "
       "00:00:00.000001'"),
  };
  for (const char* sql : kQueries) {
    absl::StatusOr<Query> first = ParseQuery(sql);
    ASSERT_TRUE(first.ok()) << sql << ": " << first.status();
    const std::string printed = ToSql(*first);
    absl::StatusOr<Query> second = ParseQuery(printed);
    ASSERT_TRUE(second.ok()) << printed << ": " << second.status();
    EXPECT_EQ(ToSql(*second), printed);
    ASSERT_EQ(first->select.size(), second->select.size());
    for (size_t i = 0; i < first->select.size(); ++i) {
      EXPECT_TRUE(SameExpr(*first->select[i].expr, *second->select[i].expr)) << printed;
    }
    if (first->where) {
      EXPECT_TRUE(SameExpr(*first->where, *second->where)) << printed;
    }
  }
}

TEST(ParserTest, SameExpr) {
  auto same = [](std::string_view a, std::string_view b) {
    absl::StatusOr<ExprPtr> x = ParseExpression(a), y = ParseExpression(b);
    EXPECT_TRUE(x.ok() && y.ok());
    return x.ok() && y.ok() && SameExpr(**x, **y);
  };
  EXPECT_TRUE(same("RANGE_BUCKET(Age, [0, 10])", "range_bucket(age,[0,10])"));
  EXPECT_TRUE(same("(a + 1)", "a+1"));
  EXPECT_FALSE(same("a + 1", "1 + a"));
  EXPECT_FALSE(same("a + 1", "a + 1.0"));
  EXPECT_FALSE(same("a IN (1)", "a NOT IN (1)"));
  EXPECT_FALSE(same("t.a", "a"));
}

}  // namespace
}  // namespace parser_test
}  // namespace veil::sql
