#include "veil/sql/planner.h"

#include <string>
#include <string_view>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/dp/query.h"
#include "veil/table/schema.h"

namespace veil::sql {
namespace planner_test {
namespace {

using table::DataType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

table::Schema VisitsSchema() {
  absl::StatusOr<table::Schema> s = table::Schema::Make({{"patient_id", DataType::kInt64},
                                                         {"ward", DataType::kString},
                                                         {"age", DataType::kInt64},
                                                         {"cost", DataType::kDouble},
                                                         {"sex", DataType::kString},
                                                         {"admitted", DataType::kDate},
                                                         {"urgent", DataType::kBool},
                                                         {"seen_at", DataType::kTimestamp},
                                                         {"Ward Name", DataType::kString}});
  EXPECT_TRUE(s.ok());
  return *s;
}

constexpr std::string_view kOptions =
    "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, delta = 1e-6, privacy_unit_column = patient_id) ";

std::string Q(std::string_view rest) { return std::string(kOptions) + std::string(rest); }

absl::StatusOr<PreparedQuery> Prepare(std::string_view sql) { return PrepareQuery(sql, VisitsSchema()); }

// The first line of the error ("LINE:COL: message"); fails the test if the query prepares.
std::string ErrorOf(std::string_view sql) {
  absl::StatusOr<PreparedQuery> q = Prepare(sql);
  EXPECT_FALSE(q.ok()) << "prepared: " << sql;
  if (q.ok()) return "";
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << q.status();
  const std::string m(q.status().message());
  return m.substr(0, m.find('\n'));
}

// "1:COL: " for the first occurrence of `token` in `sql` (single-line queries).
std::string At(std::string_view sql, std::string_view token) {
  return "1:" + std::to_string(sql.find(token) + 1) + ": ";
}

std::string AtLast(std::string_view sql, std::string_view token) {
  return "1:" + std::to_string(sql.rfind(token) + 1) + ": ";
}

TEST(PlannerTest, PlansAGroupByQuery) {
  const std::string sql =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 2, delta = 1e-5, max_groups_contributed = 3, "
      "max_rows_contributed = 1, privacy_unit_column = patient_id, min_privacy_units_per_group = 4) "
      "ward, COUNT(*) AS n, SUM(cost, contribution_bounds_per_group => (0, 100)) total, "
      "AVG(age, contribution_bounds_per_row => (0, 120)), COUNT(DISTINCT patient_id) AS patients, "
      "PERCENTILE_CONT(age, 0.9) p90, APPROX_QUANTILES(cost, 4, contribution_bounds_per_row => (-5, 5)) q, "
      "COUNT(sex) FROM hospital.visits WHERE age >= 18 GROUP BY ward ORDER BY n DESC LIMIT 5";
  absl::StatusOr<PreparedQuery> q = Prepare(sql);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->table_name(), "hospital.visits");
  EXPECT_EQ(q->sql(), sql);
  const dp::QueryPlan& p = q->plan();
  EXPECT_EQ(p.privacy_unit_column, "patient_id");
  EXPECT_EQ(p.epsilon, 2);
  EXPECT_EQ(p.delta, 1e-5);
  EXPECT_EQ(p.max_groups_contributed, 3);
  EXPECT_EQ(p.max_rows_per_group, 1);
  EXPECT_EQ(p.min_units_per_group, 4);
  EXPECT_EQ(p.noise, dp::NoiseKind::kLaplace);
  EXPECT_FALSE(p.public_groups.has_value());
  ASSERT_EQ(p.group_by.size(), 1u);
  EXPECT_EQ(p.group_by[0].column, "ward");
  EXPECT_TRUE(p.group_by[0].bucket_boundaries.empty());
  ASSERT_EQ(p.aggregates.size(), 7u);
  EXPECT_EQ(p.aggregates[0].function, dp::AggregateFunction::kCountStar);
  EXPECT_EQ(p.aggregates[0].name, "n");
  EXPECT_EQ(p.aggregates[1].function, dp::AggregateFunction::kSum);
  EXPECT_EQ(p.aggregates[1].column, "cost");
  ASSERT_TRUE(p.aggregates[1].bounds.has_value());
  EXPECT_EQ(p.aggregates[1].bounds->lo, 0);
  EXPECT_EQ(p.aggregates[1].bounds->hi, 100);
  EXPECT_EQ(p.aggregates[2].function, dp::AggregateFunction::kAvg);
  EXPECT_EQ(p.aggregates[2].name, "AVG(age)");
  EXPECT_EQ(p.aggregates[3].function, dp::AggregateFunction::kCountDistinctUnits);
  EXPECT_EQ(p.aggregates[4].function, dp::AggregateFunction::kPercentileCont);
  EXPECT_EQ(p.aggregates[4].percentile, 0.9);
  EXPECT_FALSE(p.aggregates[4].bounds.has_value());  // automatic bounds
  EXPECT_EQ(p.aggregates[5].function, dp::AggregateFunction::kApproxQuantiles);
  EXPECT_EQ(p.aggregates[5].num_quantiles, 4);
  EXPECT_EQ(p.aggregates[6].function, dp::AggregateFunction::kCount);
  EXPECT_EQ(p.aggregates[6].column, "sex");
  // The select list, as the result shows it.
  ASSERT_EQ(q->columns().size(), 8u);
  EXPECT_EQ(q->columns()[0].kind, OutputColumn::Kind::kGroupKey);
  EXPECT_EQ(q->columns()[0].name, "ward");
  EXPECT_EQ(q->columns()[0].type, DataType::kString);
  EXPECT_EQ(q->columns()[1].type, DataType::kInt64);  // a count
  EXPECT_EQ(q->columns()[2].type, DataType::kDouble);
  EXPECT_EQ(q->columns()[6].num_values, 5);
  EXPECT_THAT(ResultColumnNames(q->columns()[1]), ElementsAre("n", "n_ci_lo", "n_ci_hi"));
  EXPECT_THAT(ResultColumnNames(q->columns()[6]), ElementsAre("q_0", "q_1", "q_2", "q_3", "q_4"));
  EXPECT_THAT(ResultColumnNames(q->columns()[0]), ElementsAre("ward"));
  ASSERT_EQ(q->order_by().size(), 1u);
  EXPECT_EQ(q->order_by()[0].output, 1);
  EXPECT_TRUE(q->order_by()[0].descending);
  EXPECT_EQ(q->limit(), 5);
  EXPECT_EQ(q->where_sql(), "age >= 18");
  ASSERT_NE(q->where(), nullptr);
  EXPECT_TRUE(q->derived_columns().empty());
  // The cost is the engine's, spends the query's budget and has a component per mechanism.
  EXPECT_GT(q->cost().total.epsilon, 0);
  EXPECT_LE(q->cost().total.epsilon, 2 * (1 + 1e-9));
  EXPECT_GT(q->cost().total.delta, 0);
  EXPECT_LE(q->cost().total.delta, 1e-5 * (1 + 1e-9));
  EXPECT_GE(q->cost().components.size(), 8u);
  EXPECT_EQ(q->query_cost().errors.size(), 7u);
}

TEST(PlannerTest, GlobalAggregateNeedsNoDelta) {
  absl::StatusOr<PreparedQuery> q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 0.5, privacy_unit_column = patient_id) COUNT(*) "
      "FROM t");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->plan().group_by.empty());
  EXPECT_EQ(q->plan().delta, 0);
  EXPECT_EQ(q->cost().total.delta, 0);
  EXPECT_NEAR(q->cost().total.epsilon, 0.5, 1e-12);
  EXPECT_EQ(q->where(), nullptr);
}

TEST(PlannerTest, GroupKeysByNameAliasPositionAndExpression) {
  for (const char* group_by : {"GROUP BY ward", "GROUP BY w", "GROUP BY 1", "GROUP BY WARD"}) {
    absl::StatusOr<PreparedQuery> q = Prepare(Q(std::string("ward AS w, COUNT(*) FROM t ") + group_by));
    ASSERT_TRUE(q.ok()) << group_by << ": " << q.status();
    EXPECT_EQ(q->plan().group_by[0].column, "ward");
    EXPECT_EQ(q->columns()[0].name, "w");
  }
  // RANGE_BUCKET on a column is the engine's binning; keys come in GROUP BY order.
  absl::StatusOr<PreparedQuery> q =
      Prepare(Q("sex, RANGE_BUCKET(age, [18, 40.5, 65]) AS bucket, COUNT(*) FROM t GROUP BY bucket, sex"));
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->plan().group_by.size(), 2u);
  EXPECT_EQ(q->plan().group_by[0].column, "age");
  EXPECT_THAT(q->plan().group_by[0].bucket_boundaries, ElementsAre(18, 40.5, 65));
  EXPECT_EQ(q->plan().group_by[1].column, "sex");
  EXPECT_EQ(q->columns()[0].index, 1);
  EXPECT_EQ(q->columns()[1].index, 0);
  EXPECT_EQ(q->columns()[1].type, DataType::kInt64);
  // An expression as a key becomes a derived column; the same expression in GROUP BY matches it.
  q = Prepare(Q("age >= 65 AS senior, COUNT(*) FROM t GROUP BY age >= 65"));
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->derived_columns().size(), 1u);
  EXPECT_EQ(q->plan().group_by[0].column, q->derived_columns()[0].name);
  EXPECT_EQ(q->derived_columns()[0].type, DataType::kBool);
  EXPECT_EQ(q->columns()[0].type, DataType::kBool);
  // Qualified and case-insensitive names, and quoted ones with spaces.
  q = Prepare(Q("v.WARD, `Ward Name`, COUNT(*) FROM visits AS v GROUP BY ward, 2"));
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->columns()[0].name, "ward");
  EXPECT_EQ(q->plan().group_by[1].column, "Ward Name");
}

TEST(PlannerTest, AggregateArgumentsMayBeExpressions) {
  absl::StatusOr<PreparedQuery> q = Prepare(
      Q("SUM(cost * 2, contribution_bounds_per_row => (0, 10)), AVG(cost * 2), COUNT(age + 1) FROM t"));
  ASSERT_TRUE(q.ok()) << q.status();
  // cost * 2 is computed once.
  ASSERT_EQ(q->derived_columns().size(), 2u);
  EXPECT_EQ(q->plan().aggregates[0].column, q->plan().aggregates[1].column);
  EXPECT_EQ(q->derived_columns()[0].type, DataType::kDouble);
  EXPECT_EQ(q->derived_columns()[1].type, DataType::kInt64);
  EXPECT_EQ(q->columns()[0].name, "SUM(cost * 2)");
}

TEST(PlannerTest, PublicGroups) {
  absl::StatusOr<PreparedQuery> q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = patient_id, "
      "public_groups = ['a', 'b', NULL]) ward, COUNT(*) FROM t GROUP BY ward");
  ASSERT_TRUE(q.ok()) << q.status();  // public groups need no delta
  ASSERT_TRUE(q->plan().public_groups.has_value());
  ASSERT_EQ(q->plan().public_groups->size(), 3u);
  EXPECT_EQ(std::get<std::string>((*q->plan().public_groups)[1][0]), "b");
  EXPECT_TRUE(std::holds_alternative<std::monostate>((*q->plan().public_groups)[2][0]));
  // Several keys: tuples in GROUP BY order, literals coerced to the key types.
  q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = patient_id, "
      "public_groups = [(0, '2024-01-01', 1), (3, DATE '2024-01-02', 2.5)]) "
      "RANGE_BUCKET(age, [10, 20, 30]) b, admitted, cost, COUNT(*) FROM t GROUP BY b, admitted, cost");
  ASSERT_TRUE(q.ok()) << q.status();
  const auto& keys = *q->plan().public_groups;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(keys[0][0]), 0);
  EXPECT_EQ(std::get<table::Date>(keys[0][1]).days, 19723);
  EXPECT_EQ(std::get<double>(keys[0][2]), 1.0);
  EXPECT_EQ(std::get<double>(keys[1][2]), 2.5);
}

TEST(PlannerTest, Options) {
  absl::StatusOr<PreparedQuery> q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(EPSILON = 1, Delta = 0.001, privacy_unit_column = "
      "patient_id, "
      "noise_kind = gaussian, confidence_level = 0.9) ward, COUNT(*) FROM t GROUP BY ward");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->plan().noise, dp::NoiseKind::kGaussian);
  EXPECT_EQ(q->plan().confidence_level, 0.9);
  q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = patient_id, "
      "noise_kind = 'Laplace') COUNT(*) FROM t");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->plan().noise, dp::NoiseKind::kLaplace);
}

TEST(PlannerTest, OptionErrors) {
  const std::string dp = "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(";
  auto query = [&](std::string_view options) {
    return dp + std::string(options) + ") ward, COUNT(*) FROM t GROUP BY ward";
  };
  std::string sql = query("delta = 1e-6, privacy_unit_column = patient_id");
  EXPECT_EQ(ErrorOf(sql),
            At(sql, "DIFFERENTIAL_PRIVACY") +
                "OPTIONS must set epsilon, the query's privacy budget: OPTIONS(epsilon = 1.0, ...)");
  sql = query("epsilon = 0, delta = 1e-6, privacy_unit_column = patient_id");
  EXPECT_EQ(ErrorOf(sql), At(sql, "0,") + "epsilon must be a number > 0, got 0");
  sql = query("epsilon = -1.5, delta = 1e-6, privacy_unit_column = patient_id");
  EXPECT_EQ(ErrorOf(sql), At(sql, "-1.5") + "epsilon must be a number > 0, got -1.5");
  sql = query("epsilon = 'one', privacy_unit_column = patient_id");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "'one'") + "epsilon must be a number > 0"));
  sql = query("epsilon = 1, delta = 1, privacy_unit_column = patient_id");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "1, p") + "delta must be a number in [0, 1)"));
  sql = query("epsilon = 1, delta = 1e-6");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "DIFFERENTIAL_PRIVACY") + "OPTIONS must set privacy_unit_column"));
  sql = query("epsilon = 1, delta = 1e-6, privacy_unit_column = patient");
  EXPECT_EQ(ErrorOf(sql), At(sql, "patient") + "unknown column \"patient\"; did you mean \"patient_id\"?");
  sql = query("epsilon = 1, delta = 1e-6, privacy_unit_column = 'patient_id'");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "'patient_id'") + "privacy_unit_column must name a column"));
  sql = query("epsilom = 1, delta = 1e-6, privacy_unit_column = patient_id");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "epsilom") + "unknown option \"epsilom\"; did you mean \"epsilon\"?"));
  sql = query("epsilon = 1, epsilon = 2, privacy_unit_column = patient_id");
  EXPECT_EQ(ErrorOf(sql), At(sql, "epsilon = 2") + "option epsilon is given twice");
  sql = query("epsilon = 1, delta = 1e-6, privacy_unit_column = patient_id, max_groups_contributed = 0");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "0)") + "max_groups_contributed must be an integer in [1, 1000000]"));
  sql = query("epsilon = 1, delta = 1e-6, privacy_unit_column = patient_id, max_rows_contributed = 2.5");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "2.5") + "max_rows_contributed must be an integer"));
  sql = query("epsilon = 1, delta = 1e-6, privacy_unit_column = patient_id, noise_kind = uniform");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "uniform") + "noise_kind must be laplace or gaussian"));
  sql = query("epsilon = 1, privacy_unit_column = patient_id, noise_kind = gaussian, public_groups = ['a']");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "gaussian") + "noise_kind = gaussian needs delta > 0"));
  sql = query("epsilon = 1, privacy_unit_column = patient_id");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(AtLast(sql, "ward") + "GROUP BY without public_groups selects the released "
                                               "groups privately, which needs delta > 0"));
  sql = query("epsilon = 1, delta = 0, privacy_unit_column = patient_id");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "0, p") + "GROUP BY without public_groups"));
}

TEST(PlannerTest, TypeAndNameErrors) {
  std::string sql = Q("SUM(ward) FROM t");
  EXPECT_EQ(ErrorOf(sql), At(sql, "ward)") + "SUM needs a number (int64 or double), got string");
  sql = Q("AVG(urgent) FROM t");
  EXPECT_EQ(ErrorOf(sql), At(sql, "urgent") + "AVG needs a number (int64 or double), got bool");
  sql = Q("COUNT(*) FROM t WHERE agee > 3");
  EXPECT_EQ(ErrorOf(sql), At(sql, "agee") + "unknown column \"agee\"; did you mean \"age\"?");
  sql = Q("COUNT(*) FROM t WHERE zzzzzz > 3");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "zzzzzz") + "unknown column \"zzzzzz\" (the table has patient_id, "
                                             "ward, age,"));
  sql = Q("COUNT(*) FROM t WHERE u.age > 3");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "u.age") + "unknown table \"u\" (the query reads \"t\")"));
  sql = Q("SUM(cost, contribution_bounds_per_group => (100, 0)) FROM t");
  EXPECT_EQ(ErrorOf(sql), At(sql, "(100") + "the lower bound 100 is greater than the upper bound 0");
  sql = Q("SUM(cost, contribution_bounds_per_row => (0, x)) FROM t");
  EXPECT_EQ(ErrorOf(sql), At(sql, "x)") + "the upper bound must be a number literal");
  sql = Q("SUM(cost, contribution_bounds_per_row => 5) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "5)") + "contribution bounds are a pair of numbers"));
  sql = Q("SUM(cost, contribution_bound_per_row => (0, 1)) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "contribution_bound_per_row") +
                                       "SUM has no argument \"contribution_bound_per_row\"; did you mean "
                                       "\"contribution_bounds_per_row\"?"));
  sql = Q("SUM(cost, contribution_bounds_per_row => (0, 1), contribution_bounds_per_group => (0, 1)) FROM t");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "contribution_bounds_per_group") + "contribution bounds are given twice"));
  sql = Q("PERCENTILE_CONT(age, 0.5, contribution_bounds_per_group => (0, 1)) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "contribution_bounds_per_group") +
                                       "PERCENTILE_CONT takes contribution_bounds_per_row"));
  sql =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = patient_id, "
      "max_rows_contributed = 3) SUM(cost, contribution_bounds_per_group => (0, 1)) FROM t";
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "contribution_bounds_per_group") +
                                       "contribution_bounds_per_group clamps a unit's aggregate in a group"));
  sql = Q("COUNT(*, contribution_bounds_per_group => (0, 1)) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "contribution_bounds_per_group") + "COUNT takes no"));
  sql = Q("COUNT(DISTINCT ward) FROM t");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "ward)") + "COUNT(DISTINCT ...) is only supported for the privacy "
                                            "unit column \"patient_id\""));
  sql = Q("PERCENTILE_CONT(age, 1.5) FROM t");
  EXPECT_EQ(ErrorOf(sql), At(sql, "1.5") + "the percentile must be a number literal in [0, 1]");
  sql = Q("PERCENTILE_CONT(age) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "PERCENTILE_CONT") + "PERCENTILE_CONT takes 2 arguments"));
  sql = Q("APPROX_QUANTILES(age, 0) FROM t");
  EXPECT_THAT(ErrorOf(sql),
              StartsWith(At(sql, "0)") + "the number of quantiles must be an integer literal in [1, "
                                         "1000]"));
  sql = Q("SUM(1) FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "1)") + "SUM of a constant is not supported"));
  sql = Q("ward, age, COUNT(*) FROM t GROUP BY ward");
  EXPECT_EQ(ErrorOf(sql), At(sql, "age,") +
                              "age is neither grouped nor aggregated: add it to GROUP BY or "
                              "aggregate it");
  sql = Q("ward FROM t GROUP BY ward");
  EXPECT_THAT(ErrorOf(sql), StartsWith("1:1: the query has no aggregate"));
  sql = Q("COUNT(*) FROM t GROUP BY ward");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "ward") + "GROUP BY ward is not in the select list"));
  sql = Q("ward, COUNT(*) FROM t GROUP BY ward, 1");
  EXPECT_THAT(ErrorOf(sql), StartsWith(AtLast(sql, "1") + "1 is grouped twice"));
  sql = Q("ward, COUNT(*) FROM t GROUP BY 3");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "3") + "GROUP BY position 3 is not in the select list"));
  sql = Q("ward, COUNT(*) AS n FROM t GROUP BY n");
  EXPECT_EQ(ErrorOf(sql), AtLast(sql, "n") + "GROUP BY n refers to an aggregate");
  sql = Q("ward, COUNT(*) FROM t GROUP BY ward ORDER BY age");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "age") + "ORDER BY age is not in the select list"));
  sql = Q("ward, APPROX_QUANTILES(age, 2) q FROM t GROUP BY ward ORDER BY q");
  EXPECT_EQ(ErrorOf(sql), AtLast(sql, "q") + "cannot order by APPROX_QUANTILES, which gives several values");
  sql = Q("COUNT(*) AS n, SUM(age) AS N FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "N FROM") + "two result columns would be named \"N\""));
  sql = Q("COUNT(*) AS n, SUM(age) AS n_ci_lo FROM t");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "n_ci_lo") + "two result columns would be named \"n_ci_lo\""));
}

TEST(PlannerTest, ScalarTypeErrors) {
  std::string sql = Q("COUNT(*) FROM t WHERE age");
  EXPECT_EQ(ErrorOf(sql), At(sql, "age") + "WHERE needs a BOOL condition, got int64");
  sql = Q("COUNT(*) FROM t WHERE age = 'x'");
  EXPECT_EQ(ErrorOf(sql), At(sql, "= 'x'") + "cannot compare int64 with string");
  sql = Q("COUNT(*) FROM t WHERE admitted > '2024-13-01'");
  EXPECT_EQ(ErrorOf(sql), At(sql, ">") + "cannot read '2024-13-01' as a DATE (YYYY-MM-DD)");
  sql = Q("COUNT(*) FROM t WHERE ward + 1 > 2");
  EXPECT_EQ(ErrorOf(sql), At(sql, "+") + "operator + needs numbers, got string and int64");
  sql = Q("COUNT(*) FROM t WHERE -ward = 'a'");
  EXPECT_EQ(ErrorOf(sql), At(sql, "-ward") + "unary - needs a number, got string");
  sql = Q("COUNT(*) FROM t WHERE urgent AND age");
  EXPECT_EQ(ErrorOf(sql), At(sql, "age") + "AND needs BOOL operands, got int64");
  sql = Q("COUNT(*) FROM t WHERE age LIKE 'a%'");
  EXPECT_EQ(ErrorOf(sql), At(sql, "LIKE") + "LIKE needs a string on its left, got int64");
  sql = Q("COUNT(*) FROM t WHERE ward LIKE sex");
  EXPECT_EQ(ErrorOf(sql), At(sql, "sex") + "the LIKE pattern must be a string literal");
  sql = Q("COUNT(*) FROM t WHERE ward IN ('a', 1)");
  EXPECT_EQ(ErrorOf(sql), At(sql, "1)") + "cannot compare string with int64 in IN");
  sql = Q("COUNT(*) FROM t WHERE RANGE_BUCKET(ward, [1]) = 0");
  EXPECT_EQ(ErrorOf(sql), At(sql, "ward") + "RANGE_BUCKET needs a number to bin, got string");
  sql = Q("COUNT(*) FROM t WHERE RANGE_BUCKET(age, [1, 1]) = 0");
  EXPECT_EQ(ErrorOf(sql), At(sql, "1]") + "RANGE_BUCKET's boundaries must be strictly increasing");
  sql = Q("COUNT(*) FROM t WHERE RANGE_BUCKET(age, 5) = 0");
  EXPECT_THAT(ErrorOf(sql), StartsWith(At(sql, "5)") + "RANGE_BUCKET's boundaries must be an array literal"));
  sql = Q("COUNT(*) FROM t WHERE admitted = seen_at");
  EXPECT_EQ(ErrorOf(sql), At(sql, "= seen_at") + "cannot compare date with timestamp");
  sql = Q("COUNT(*) FROM t WHERE age IN [1, 2]");
  EXPECT_THAT(ErrorOf(sql), HasSubstr("expected \"(\""));
}

TEST(PlannerTest, LiteralsAreCoercedAndNullsFolded) {
  // A string compared with a DATE or TIMESTAMP is read as one; NULL comparisons fold to NULL.
  absl::StatusOr<PreparedQuery> q = Prepare(
      Q("COUNT(*) FROM t WHERE admitted >= '2024-01-31' AND seen_at < '2024-02-01 10:00:00' AND age = NULL"));
  ASSERT_TRUE(q.ok()) << q.status();
  const internal::BoundExpr* w = q->where();
  ASSERT_EQ(w->op, internal::BoundOp::kAnd);
  ASSERT_EQ(w->children.size(), 3u);
  EXPECT_EQ(std::get<table::Date>(w->children[0]->children[1]->constant).days, 19753);
  EXPECT_TRUE(std::holds_alternative<table::Timestamp>(w->children[1]->children[1]->constant));
  EXPECT_EQ(w->children[2]->op, internal::BoundOp::kConstant);
  // int64 mixed with double converts to double.
  q = Prepare(Q("COUNT(*) FROM t WHERE age > 1.5 AND age IN (1, 2.5)"));
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->where()->children[0]->children[0]->op, internal::BoundOp::kToDouble);
  EXPECT_EQ(q->where()->children[1]->op, internal::BoundOp::kInSet);
  EXPECT_EQ(q->where()->children[1]->children[0]->type, DataType::kDouble);
}

TEST(PlannerTest, ExplainShowsPlanCostAndErrors) {
  absl::StatusOr<PreparedQuery> q = Prepare(
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, delta = 1e-6, privacy_unit_column = patient_id, "
      "max_groups_contributed = 2) ward, COUNT(*) AS n, AVG(cost, contribution_bounds_per_row => (0, 100)) "
      "AS "
      "avg_cost, SUM(age) FROM visits WHERE age >= 18 GROUP BY ward ORDER BY n DESC LIMIT 3");
  ASSERT_TRUE(q.ok()) << q.status();
  const std::string text = Explain(*q);
  EXPECT_THAT(text, HasSubstr("Differentially private query on table \"visits\""));
  EXPECT_THAT(text, HasSubstr("privacy unit:  patient_id (each unit: at most 2 groups, 1 row per group)"));
  EXPECT_THAT(text, HasSubstr("filter:        age >= 18"));
  EXPECT_THAT(text, HasSubstr("private partition selection"));
  EXPECT_THAT(text, HasSubstr("ORDER BY n DESC LIMIT 3"));
  EXPECT_THAT(text, HasSubstr("n: COUNT(*)"));
  EXPECT_THAT(text, HasSubstr("avg_cost: AVG(cost), bounds [0, 100]"));
  EXPECT_THAT(text, HasSubstr("SUM(age): SUM(age), automatic bounds"));
  EXPECT_THAT(text, HasSubstr("Privacy cost"));
  EXPECT_THAT(text, HasSubstr("stddev"));
  // The count's expected error is that of its noise: the engine's figure, shown as is.
  const dp::ColumnError& count_error = q->query_cost().errors[0];
  EXPECT_GT(count_error.stddev, 0);
  EXPECT_GT(count_error.half_width, count_error.stddev);

  const nlohmann::ordered_json j = ExplainJson(*q);
  EXPECT_EQ(j["table"], "visits");
  EXPECT_EQ(j["privacy_unit_column"], "patient_id");
  EXPECT_EQ(j["max_groups_contributed"], 2);
  EXPECT_EQ(j["filter"], "age >= 18");
  EXPECT_EQ(j["group_selection"]["kind"], "private");
  ASSERT_EQ(j["columns"].size(), 4u);
  EXPECT_EQ(j["columns"][0]["kind"], "group_key");
  EXPECT_EQ(j["columns"][1]["name"], "n");
  EXPECT_EQ(j["columns"][1]["stddev"], count_error.stddev);
  EXPECT_EQ(j["columns"][2]["bounds"], nlohmann::ordered_json::array({0.0, 100.0}));
  EXPECT_EQ(j["columns"][3]["bounds"], "automatic");
  EXPECT_EQ(j["cost"]["epsilon"], q->cost().total.epsilon);
  EXPECT_EQ(j["cost"]["components"].size(), q->cost().components.size());
  EXPECT_EQ(j["limit"], 3);
  EXPECT_EQ(j["order_by"][0]["column"], "n");
  // Field order is part of the format.
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(keys, ElementsAre("table", "privacy_unit_column", "epsilon", "delta", "noise_kind",
                                "max_groups_contributed", "max_rows_contributed", "filter", "group_by",
                                "group_selection", "columns", "confidence_level", "cost", "mechanisms",
                                "order_by", "limit"));
}

TEST(PlannerTest, ParseErrorsComeThrough) {
  const std::string sql = "SELECT ward FROM t";
  EXPECT_THAT(ErrorOf(sql), StartsWith("1:8: Veil answers only differentially private queries"));
}

}  // namespace
}  // namespace planner_test
}  // namespace veil::sql
