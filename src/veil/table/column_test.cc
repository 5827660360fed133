#include "veil/table/column.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::table {
namespace {

using ::testing::HasSubstr;

TEST(ValidityBitmapTest, TracksNullsAcrossWordBoundaries) {
  ValidityBitmap v;
  v.AppendValid(70);
  EXPECT_EQ(v.size(), 70);
  EXPECT_EQ(v.null_count(), 0);
  v.AppendNull();
  v.AppendValid(100);
  v.Append(false);
  EXPECT_EQ(v.size(), 172);
  EXPECT_EQ(v.null_count(), 2);
  EXPECT_TRUE(v.IsValid(69));
  EXPECT_TRUE(v.IsNull(70));
  EXPECT_TRUE(v.IsValid(71));
  EXPECT_TRUE(v.IsValid(170));
  EXPECT_TRUE(v.IsNull(171));

  ValidityBitmap w;
  for (int i = 0; i < 172; ++i) w.Append(i != 70 && i != 171);
  EXPECT_TRUE(v == w);
  w.AppendValid(1);
  EXPECT_FALSE(v == w);
}

TEST(StringDictionaryTest, AssignsCodesInOrderOfFirstInsertion) {
  StringDictionary d;
  bool added = false;
  EXPECT_EQ(d.Insert("b", &added), 0);
  EXPECT_TRUE(added);
  EXPECT_EQ(d.Insert("a"), 1);
  EXPECT_EQ(d.Insert("b", &added), 0);
  EXPECT_FALSE(added);
  EXPECT_EQ(d.Insert(""), 2);
  const std::string big(100'000, 'x');  // larger than a storage block
  EXPECT_EQ(d.Insert(big), 3);
  EXPECT_EQ(d.size(), 4);
  EXPECT_EQ(d.value(1), "a");
  EXPECT_EQ(d.value(3), big);
  EXPECT_EQ(d.Find("a"), 1);
  EXPECT_EQ(d.Find("c"), std::nullopt);

  // Views stay valid across a move; a copy is deep.
  const std::string_view a_view = d.value(1);
  StringDictionary moved = std::move(d);
  EXPECT_EQ(a_view.data(), moved.value(1).data());
  StringDictionary copy = moved;
  EXPECT_NE(copy.value(1).data(), moved.value(1).data());
  EXPECT_EQ(copy.value(1), "a");
  EXPECT_EQ(copy.Find(big), 3);
}

TEST(StringDictionaryTest, GrowsAndFindsEverything) {
  StringDictionary d;
  for (int i = 0; i < 100'000; ++i) {
    const std::string s = absl::StrCat("value-", i);
    // Hints are harmless, also for values not in the dictionary.
    for (auto stage : {StringDictionary::PrefetchStage::kSlot, StringDictionary::PrefetchStage::kEntry,
                       StringDictionary::PrefetchStage::kBytes}) {
      d.Prefetch(internal::HashedString::Of(s), stage);
    }
    ASSERT_EQ(d.Insert(s), i);
  }
  EXPECT_EQ(d.size(), 100'000);
  for (int i = 0; i < 100'000; i += 997) {
    EXPECT_EQ(d.Find(absl::StrCat("value-", i)), i);
    EXPECT_EQ(d.Insert(internal::HashedString::Of(absl::StrCat("value-", i))), i);
  }
  EXPECT_EQ(d.Find("value-100000"), std::nullopt);
  StringDictionary reserved;
  reserved.Reserve(1000);
  EXPECT_EQ(reserved.Insert("x"), 0);
  EXPECT_EQ(reserved.Find("x"), 0);
}

TEST(HashTest, SameBytesAndHashAgreeOnAllLengths) {
  for (size_t n = 0; n <= 40; ++n) {
    const std::string a(n, 'a');
    std::string b = a;
    EXPECT_TRUE(internal::SameBytes(a, b));
    EXPECT_EQ(internal::HashString(a), internal::HashString(b));
    for (size_t i = 0; i < n; ++i) {
      b = a;
      b[i] = 'b';
      EXPECT_FALSE(internal::SameBytes(a, b)) << n << " " << i;
      EXPECT_NE(internal::HashString(a), internal::HashString(b)) << n << " " << i;
    }
  }
}

TEST(ColumnBuilderTest, BuildsEachType) {
  ColumnBuilder ints(DataType::kInt64);
  ints.AppendInt64(39);
  ints.AppendNull();
  ints.AppendInt64(-1);
  absl::StatusOr<Column> c = ints.Finish();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->type(), DataType::kInt64);
  EXPECT_EQ(c->size(), 3);
  EXPECT_EQ(c->null_count(), 1);
  EXPECT_EQ(c->GetInt64(0), 39);
  EXPECT_TRUE(c->IsNull(1));
  EXPECT_EQ(c->GetInt64(2), -1);
  EXPECT_EQ(c->FormatValue(1), "NULL");
  EXPECT_EQ(c->GetValue(2), Value(int64_t{-1}));
  EXPECT_EQ(ints.size(), 0);  // Finish leaves the builder empty

  ColumnBuilder strings(DataType::kString);
  strings.AppendString("x");
  strings.AppendString("y");
  strings.AppendString("x");
  strings.AppendNull();
  c = strings.Finish();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dictionary().size(), 2);
  EXPECT_EQ(c->GetString(2), "x");
  EXPECT_EQ(c->GetStringCode(2), 0);
  EXPECT_EQ(c->GetStringCode(3), -1);
  EXPECT_EQ(c->GetString(3), "");
  EXPECT_EQ(c->GetValue(3), Value());

  ColumnBuilder dates(DataType::kDate);
  dates.AppendDate(Date{19782});
  c = dates.Finish();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->FormatValue(0), "2024-02-29");

  ColumnBuilder stamps(DataType::kTimestamp);
  stamps.AppendTimestamp(Timestamp{1});
  c = stamps.Finish();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->FormatValue(0), "1970-01-01T00:00:00.000001Z");

  ColumnBuilder bools(DataType::kBool);
  ASSERT_TRUE(bools.Append(Value(true)).ok());
  ASSERT_TRUE(bools.Append(Value()).ok());
  c = bools.Finish();
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->GetBool(0));
  EXPECT_TRUE(c->IsNull(1));
}

TEST(ColumnBuilderTest, WrongTypeOrBadUtf8FailsAtFinish) {
  ColumnBuilder b(DataType::kInt64);
  b.AppendInt64(1);
  b.AppendDouble(2.0);
  EXPECT_EQ(b.size(), 2);  // a null took its place
  absl::StatusOr<Column> c = b.Finish();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("row 1: a double value appended to a int64 column"));

  ColumnBuilder s(DataType::kString);
  s.AppendString("ok");
  s.AppendString("bad \xFF");
  c = s.Finish();
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("not valid UTF-8 at byte 4"));

  ColumnBuilder v(DataType::kBool);
  EXPECT_EQ(v.Append(Value(int64_t{1})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.size(), 0);
}

TEST(ColumnTest, FactoriesValidate) {
  ValidityBitmap validity;
  validity.AppendValid(1);
  validity.AppendNull();
  absl::StatusOr<Column> c = Column::FromDoubles({1.5, 0}, validity);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->IsNull(1));
  EXPECT_EQ(c->double_values().size(), 2u);

  EXPECT_FALSE(Column::FromInt64s({1, 2, 3}, validity).ok());  // sizes differ
  EXPECT_FALSE(Column::FromBools({0, 2}).ok());

  StringDictionary dict;
  dict.Insert("a");
  EXPECT_TRUE(Column::FromStrings({0, 7}, dict, validity).ok());  // the null row's code is ignored
  absl::StatusOr<Column> bad = Column::FromStrings({0, 1}, dict);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("string code 1 at row 1"));
  StringDictionary bad_dict;
  bad_dict.Insert("\xC0\xAF");
  EXPECT_FALSE(Column::FromStrings({0}, bad_dict).ok());
}

TEST(ColumnTest, EqualityComparesValuesNotEncoding) {
  StringDictionary ab, ba;
  ab.Insert("a");
  ab.Insert("b");
  ba.Insert("b");
  ba.Insert("a");
  EXPECT_TRUE(*Column::FromStrings({0, 1}, ab) == *Column::FromStrings({1, 0}, ba));
  EXPECT_FALSE(*Column::FromStrings({0, 0}, ab) == *Column::FromStrings({1, 0}, ba));

  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(*Column::FromDoubles({nan}) == *Column::FromDoubles({-nan}));
  EXPECT_FALSE(*Column::FromDoubles({0.0}) == *Column::FromDoubles({-0.0}));
  EXPECT_FALSE(*Column::FromInt64s({1}) == *Column::FromTimestamps({1}));

  // Values under nulls do not matter.
  ValidityBitmap null_row;
  null_row.AppendNull();
  EXPECT_TRUE(*Column::FromInt64s({5}, null_row) == *Column::FromInt64s({6}, null_row));
  EXPECT_FALSE(*Column::FromInt64s({5}, null_row) == *Column::FromInt64s({5}));
}

}  // namespace
}  // namespace veil::table
