#include "veil/table/table.h"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/schema.h"

namespace veil::table {
namespace {

using ::testing::HasSubstr;

TEST(SchemaTest, LooksUpFieldsByName) {
  absl::StatusOr<Schema> s = Schema::Make({{"age", DataType::kInt64}, {"name", DataType::kString, false}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->num_fields(), 2);
  EXPECT_EQ(s->FindField("name"), 1);
  EXPECT_EQ(s->FindField("Name"), std::nullopt);
  EXPECT_FALSE(s->field(1).nullable);
  EXPECT_EQ(s->ToString(), "age: int64, name: string not null");
  Schema copy = *s;
  EXPECT_EQ(copy, *s);
  EXPECT_EQ(copy.FindField("age"), 0);
}

TEST(SchemaTest, RejectsBadNames) {
  absl::StatusOr<Schema> dup = Schema::Make({{"a", DataType::kInt64}, {"a", DataType::kDouble}});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("fields 1 and 2 have the same name \"a\""));
  EXPECT_FALSE(Schema::Make({{"", DataType::kInt64}}).ok());
  EXPECT_FALSE(Schema::Make({{"\xFF", DataType::kInt64}}).ok());
}

Schema PeopleSchema() {
  return *Schema::Make({{"id", DataType::kInt64, false},
                        {"name", DataType::kString},
                        {"score", DataType::kDouble},
                        {"born", DataType::kDate},
                        {"seen", DataType::kTimestamp},
                        {"ok", DataType::kBool}});
}

TEST(TableBuilderTest, BuildsRowByRow) {
  TableBuilder b(PeopleSchema());
  ASSERT_TRUE(b.AppendRow({int64_t{1}, "Ada", 2.5, Date{0}, Timestamp{1'000'000}, true}).ok());
  ASSERT_TRUE(
      b.AppendRow({int64_t{2}, std::monostate(), std::monostate(), Date{-1}, std::monostate(), false}).ok());
  absl::StatusOr<Table> t = b.Finish();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_rows(), 2);
  EXPECT_EQ(t->num_columns(), 6);
  EXPECT_EQ(t->column(1).GetString(0), "Ada");
  EXPECT_TRUE(t->IsNull(1, 1));
  EXPECT_EQ(t->FormatValue(0, 2), "2.5");
  EXPECT_EQ(t->FormatValue(1, 3), "1969-12-31");
  EXPECT_EQ(t->FormatValue(0, 4), "1970-01-01T00:00:01Z");
  EXPECT_EQ(t->FormatValue(1, 4), "NULL");
  EXPECT_EQ(t->GetValue(1, 5), Value(false));
  ASSERT_NE(t->FindColumn("score"), nullptr);
  EXPECT_EQ(t->FindColumn("score")->GetDouble(0), 2.5);
  EXPECT_EQ(t->FindColumn("nope"), nullptr);
  EXPECT_EQ(t->ToString(1),
            "id:int64 | name:string | score:double | born:date | seen:timestamp | ok:bool\n"
            "1 | Ada | 2.5 | 1970-01-01 | 1970-01-01T00:00:01Z | true\n"
            "... (2 rows)\n");
}

TEST(TableBuilderTest, RejectsBadRowsAndKeepsGoodOnes) {
  TableBuilder b(PeopleSchema());
  absl::Status s = b.AppendRow({int64_t{1}, "x"});
  EXPECT_THAT(s.message(), HasSubstr("row has 2 values but the schema has 6"));
  s = b.AppendRow({std::monostate(), "x", 1.0, Date{}, Timestamp{}, true});
  EXPECT_THAT(s.message(), HasSubstr("column 1 (\"id\") is not nullable"));
  s = b.AppendRow({int64_t{1}, int64_t{2}, 1.0, Date{}, Timestamp{}, true});
  EXPECT_THAT(s.message(), HasSubstr("column 2 (\"name\") is string but the row has a int64"));
  ASSERT_TRUE(b.AppendRow({int64_t{1}, "x", 1.0, Date{}, Timestamp{}, true}).ok());
  absl::StatusOr<Table> t = b.Finish();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->num_rows(), 1);
}

TEST(TableBuilderTest, ColumnWiseAppendsMustEndEven) {
  absl::StatusOr<Schema> schema = Schema::Make({{"a", DataType::kInt64}, {"b", DataType::kInt64}});
  TableBuilder b(*schema);
  b.column(0).AppendInt64(1);
  b.column(0).AppendInt64(2);
  b.column(1).AppendInt64(3);
  absl::StatusOr<Table> t = b.Finish();
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("column 2 (\"b\") has 1 rows but column 1 has 2"));
}

TEST(TableTest, MakeValidatesAgainstTheSchema) {
  absl::StatusOr<Schema> schema = Schema::Make({{"a", DataType::kInt64, false}});
  std::vector<Column> cols;
  cols.push_back(*Column::FromDoubles({1.0}));
  EXPECT_THAT(Table::Make(*schema, std::move(cols)).status().message(),
              HasSubstr("is double but the schema says int64"));
  ValidityBitmap nulls;
  nulls.AppendNull();
  cols.clear();
  cols.push_back(*Column::FromInt64s({0}, nulls));
  EXPECT_THAT(Table::Make(*schema, std::move(cols)).status().message(),
              HasSubstr("not nullable but holds 1 nulls"));
  EXPECT_FALSE(Table::Make(*schema, {}).ok());
}

TEST(TableTest, EqualityIncludesTheSchema) {
  absl::StatusOr<Schema> s1 = Schema::Make({{"a", DataType::kInt64}});
  absl::StatusOr<Schema> s2 = Schema::Make({{"b", DataType::kInt64}});
  std::vector<Column> c1, c2, c3;
  c1.push_back(*Column::FromInt64s({1, 2}));
  c2.push_back(*Column::FromInt64s({1, 2}));
  c3.push_back(*Column::FromInt64s({1, 2}));
  const Table t1 = *Table::Make(*s1, std::move(c1));
  const Table t2 = *Table::Make(*s1, std::move(c2));
  const Table t3 = *Table::Make(*s2, std::move(c3));
  EXPECT_TRUE(t1 == t2);
  EXPECT_FALSE(t1 == t3);
  EXPECT_TRUE(Table() == Table());
  const Table copy = t1;
  EXPECT_TRUE(copy == t1);
}

Table People() {
  TableBuilder b(PeopleSchema());
  EXPECT_TRUE(b.AppendRow({int64_t{1}, "Ada", 2.5, Date{0}, Timestamp{1'000'000}, true}).ok());
  EXPECT_TRUE(
      b.AppendRow({int64_t{2}, std::monostate(), std::monostate(), Date{-1}, std::monostate(), false}).ok());
  EXPECT_TRUE(
      b.AppendRow({int64_t{3}, "Grace", -1.0, std::monostate(), Timestamp{0}, std::monostate()}).ok());
  return *b.Finish();
}

TEST(TableTest, TakeSelectsRowsInTheGivenOrder) {
  const Table t = People();
  const std::vector<int64_t> rows = {2, 0, 2, 1};
  absl::StatusOr<Table> taken = t.Take(rows);
  ASSERT_TRUE(taken.ok()) << taken.status();
  TableBuilder expected(PeopleSchema());
  for (int64_t r : rows) {
    std::vector<Value> row;
    for (int c = 0; c < t.num_columns(); ++c) row.push_back(t.GetValue(r, c));
    ASSERT_TRUE(expected.AppendRow(row).ok());
  }
  EXPECT_TRUE(*taken == *expected.Finish()) << taken->ToString();
  EXPECT_EQ(taken->num_rows(), 4);
  EXPECT_EQ(taken->FormatValue(0, 1), "Grace");
  EXPECT_EQ(taken->FormatValue(3, 1), "NULL");
  EXPECT_EQ(taken->schema(), t.schema());

  absl::StatusOr<Table> none = t.Take({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->num_rows(), 0);
  EXPECT_EQ(none->num_columns(), 6);
  EXPECT_EQ(none->schema(), t.schema());
}

TEST(TableTest, FirstRowPerKeyKeepsTheFirstOfEachKeyAndEveryNull) {
  TableBuilder b(
      *Schema::Make({{"id", DataType::kString, /*nullable=*/true}, {"v", DataType::kInt64, false}}));
  for (const auto& [id, v] : std::vector<std::pair<const char*, int64_t>>{
           {"a", 1}, {"b", 2}, {"a", 3}, {nullptr, 4}, {"b", 5}, {nullptr, 6}, {"c", 7}}) {
    ASSERT_TRUE(b.AppendRow({id == nullptr ? Value(std::monostate()) : Value(std::string(id)), v}).ok());
  }
  const Table t = *b.Finish();
  absl::StatusOr<Table> one = FirstRowPerKey(t, "id");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->num_rows(), 5);
  std::vector<int64_t> kept;
  for (int64_t r = 0; r < one->num_rows(); ++r) kept.push_back(one->column(1).GetInt64(r));
  EXPECT_EQ(kept, (std::vector<int64_t>{1, 2, 4, 6, 7}));
  // Distinct keys: the same table back.
  EXPECT_TRUE(*FirstRowPerKey(t, "v") == t);
  EXPECT_EQ(FirstRowPerKey(t, "nope").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TableTest, TakeRejectsAnIndexOutsideTheRows) {
  const Table t = People();
  for (int64_t bad : {int64_t{3}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    const std::vector<int64_t> rows = {0, 1, bad};
    absl::StatusOr<Table> taken = t.Take(rows);
    EXPECT_EQ(taken.status().code(), absl::StatusCode::kOutOfRange) << bad;
    EXPECT_THAT(
        taken.status().message(),
        HasSubstr(absl::StrCat("row index ", bad, " at position 2 is outside the table's rows [0, 3)")));
  }
  EXPECT_TRUE(Table().Take({}).ok());
  EXPECT_EQ(Table().Take(std::vector<int64_t>{0}).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace veil::table
