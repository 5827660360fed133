#include "veil/table/column_stats.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::table {
namespace {

using ::testing::ElementsAre;

TEST(ColumnStatsTest, SmallKnownTable) {
  absl::StatusOr<Table> t = ReadCsvFromString(
      "age,city,score,member,joined,seen\n"
      "30,Paris,1.5,true,2020-01-01,2020-01-01T00:00:00Z\n"
      "40,Oslo,?,false,2021-06-30,2020-01-01T00:00:00Z\n"
      "30,Paris,-2.5,true,?,?\n"
      "?,Lima,1.5,true,2019-12-31,2021-01-01T12:00:00Z\n"
      "50,Paris,4,?,2020-01-01,?\n");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<ColumnStats> stats = ComputeTableStats(*t, {.top_k = 2});
  ASSERT_EQ(stats.size(), 6u);

  const ColumnStats& age = stats[0];
  EXPECT_EQ(age.name, "age");
  EXPECT_EQ(age.type, DataType::kInt64);
  EXPECT_EQ(age.row_count, 5);
  EXPECT_EQ(age.null_count, 1);
  EXPECT_EQ(age.distinct_count, 3);
  EXPECT_EQ(age.min, "30");
  EXPECT_EQ(age.max, "50");
  EXPECT_EQ(age.mean, 37.5);
  EXPECT_THAT(age.top_values,
              ElementsAre(ValueCount{"30", 2}, ValueCount{"40", 1}));  // tie 40/50: smaller first

  const ColumnStats& city = stats[1];
  EXPECT_EQ(city.null_count, 0);
  EXPECT_EQ(city.distinct_count, 3);
  EXPECT_EQ(city.min, "Lima");
  EXPECT_EQ(city.max, "Paris");
  EXPECT_EQ(city.mean, std::nullopt);
  EXPECT_THAT(city.top_values, ElementsAre(ValueCount{"Paris", 3}, ValueCount{"Lima", 1}));

  const ColumnStats& score = stats[2];
  EXPECT_EQ(score.type, DataType::kDouble);
  EXPECT_EQ(score.null_count, 1);
  EXPECT_EQ(score.distinct_count, 3);
  EXPECT_EQ(score.min, "-2.5");
  EXPECT_EQ(score.max, "4.0");
  EXPECT_EQ(score.mean, 1.125);
  EXPECT_THAT(score.top_values, ElementsAre(ValueCount{"1.5", 2}, ValueCount{"-2.5", 1}));

  const ColumnStats& member = stats[3];
  EXPECT_EQ(member.distinct_count, 2);
  EXPECT_EQ(member.min, "false");
  EXPECT_EQ(member.max, "true");
  EXPECT_THAT(member.top_values, ElementsAre(ValueCount{"true", 3}, ValueCount{"false", 1}));

  const ColumnStats& joined = stats[4];
  EXPECT_EQ(joined.type, DataType::kDate);
  EXPECT_EQ(joined.distinct_count, 3);
  EXPECT_EQ(joined.min, "2019-12-31");
  EXPECT_EQ(joined.max, "2021-06-30");
  EXPECT_THAT(joined.top_values, ElementsAre(ValueCount{"2020-01-01", 2}, ValueCount{"2019-12-31", 1}));

  const ColumnStats& seen = stats[5];
  EXPECT_EQ(seen.null_count, 2);
  EXPECT_EQ(seen.max, "2021-01-01T12:00:00Z");
  EXPECT_EQ(seen.mean, std::nullopt);
}

TEST(ColumnStatsTest, EmptyAndSpecialColumns) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ValidityBitmap v;
  v.AppendValid(4);
  v.AppendNull();
  const Column doubles = *Column::FromDoubles({nan, 0.0, -0.0, 3.0, 0}, v);
  const ColumnStats s = ComputeColumnStats(doubles, Field{"d", DataType::kDouble});
  EXPECT_EQ(s.distinct_count, 3);  // nan, zero, 3
  EXPECT_EQ(s.min, "0.0");
  EXPECT_EQ(s.max, "3.0");
  EXPECT_TRUE(std::isnan(*s.mean));
  EXPECT_EQ(s.top_values.front(), (ValueCount{"0.0", 2}));

  ValidityBitmap all_null;
  all_null.AppendNull();
  all_null.AppendNull();
  const ColumnStats empty =
      ComputeColumnStats(*Column::FromInt64s({0, 0}, all_null), Field{"e", DataType::kInt64});
  EXPECT_EQ(empty.null_count, 2);
  EXPECT_EQ(empty.distinct_count, 0);
  EXPECT_EQ(empty.min, std::nullopt);
  EXPECT_EQ(empty.mean, std::nullopt);
  EXPECT_TRUE(empty.top_values.empty());

  // Int64 sums do not overflow.
  const int64_t big = std::numeric_limits<int64_t>::max();
  const ColumnStats sum = ComputeColumnStats(*Column::FromInt64s({big, big}), Field{"b", DataType::kInt64});
  EXPECT_EQ(*sum.mean, static_cast<double>(big));
}

}  // namespace
}  // namespace veil::table
