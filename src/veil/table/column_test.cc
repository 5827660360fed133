#include "veil/table/column.h"

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

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

TEST(ValidityBitmapTest, TakeGathersBitsAcrossWords) {
  ValidityBitmap v;
  for (int i = 0; i < 200; ++i) v.Append(i % 7 != 3);  // nulls at 3, 10, 17, ...
  std::vector<int64_t> rows;
  for (int i = 0; i < 150; ++i) rows.push_back((i * 37) % 200);  // more than two output words
  rows.push_back(3);
  rows.push_back(3);  // repeats
  ValidityBitmap taken = v.Take(rows);
  ValidityBitmap expected;
  for (int64_t r : rows) expected.Append(v.IsValid(r));
  EXPECT_EQ(taken.size(), 152);
  EXPECT_EQ(taken.null_count(), expected.null_count());
  EXPECT_GT(taken.null_count(), 2);
  EXPECT_TRUE(taken == expected);

  // Only valid rows taken: no nulls, and equal to a bitmap that never had any.
  const std::vector<int64_t> valid_rows = {0, 1, 198, 64};  // 198 % 7 == 2
  ValidityBitmap all_valid;
  all_valid.AppendValid(4);
  EXPECT_EQ(v.Take(valid_rows).null_count(), 0);
  EXPECT_TRUE(v.Take(valid_rows) == all_valid);

  EXPECT_EQ(v.Take({}).size(), 0);
  EXPECT_TRUE(v.Take({}) == ValidityBitmap());
  ValidityBitmap no_nulls;
  no_nulls.AppendValid(10);
  const std::vector<int64_t> some = {9, 9, 0};
  EXPECT_EQ(no_nulls.Take(some).size(), 3);
  EXPECT_EQ(no_nulls.Take(some).null_count(), 0);
}

TEST(StringDictionaryTest, ACopyKeepsCodesAndTakesNewStrings) {
  StringDictionary d;
  for (int i = 0; i < 5000; ++i) d.Insert(absl::StrCat("v", i));  // several storage blocks
  d.Insert("");
  d.Insert(std::string(100'000, 'y'));
  const StringDictionary copy = d;
  ASSERT_EQ(copy.size(), d.size());
  EXPECT_EQ(copy.byte_size(), d.byte_size());
  for (int32_t code = 0; code < d.size(); ++code) {
    EXPECT_EQ(copy.value(code), d.value(code));
    EXPECT_EQ(copy.Find(d.value(code)), code);
  }
  StringDictionary grown = copy;
  EXPECT_EQ(grown.Insert("new"), d.size());
  EXPECT_EQ(grown.Insert("v17"), 17);
  EXPECT_EQ(grown.Find("new"), d.size());
  EXPECT_EQ(copy.Find("new"), std::nullopt) << "copies are independent";
  StringDictionary empty_copy = StringDictionary();
  EXPECT_EQ(empty_copy.Insert("a"), 0);
}

// Take against the obvious implementation: append each selected row's value to a builder.
Column TakeByAppending(const Column& c, std::span<const int64_t> rows) {
  ColumnBuilder b(c.type());
  for (int64_t r : rows) EXPECT_TRUE(b.Append(c.GetValue(r)).ok());
  return *b.Finish();
}

TEST(ColumnTest, TakeGathersEveryTypeWithNulls) {
  ColumnBuilder ints(DataType::kInt64), doubles(DataType::kDouble), bools(DataType::kBool),
      dates(DataType::kDate), stamps(DataType::kTimestamp), strings(DataType::kString);
  const char* const kWords[] = {"x", "", "yy", "zzz"};
  for (int i = 0; i < 300; ++i) {
    if (i % 5 == 2) {
      for (ColumnBuilder* b : {&ints, &doubles, &bools, &dates, &stamps, &strings}) b->AppendNull();
      continue;
    }
    ints.AppendInt64(i * 1'000'003 - 7);
    doubles.AppendDouble(i * 0.25 - 3);
    bools.AppendBool(i % 3 == 0);
    dates.AppendDate(Date{i - 150});
    stamps.AppendTimestamp(Timestamp{int64_t{i} * 86'400'000'000});
    strings.AppendString(kWords[i % 4]);
  }
  std::vector<int64_t> rows = {299, 0, 2, 2, 150, 7, 7, 7, 64, 63, 128};
  for (int i = 0; i < 200; ++i) rows.push_back((i * 131 + 17) % 300);
  for (ColumnBuilder* b : {&ints, &doubles, &bools, &dates, &stamps, &strings}) {
    const Column c = *b->Finish();
    const Column taken = c.Take(rows);
    const std::string type(DataTypeName(c.type()));
    EXPECT_EQ(taken.type(), c.type()) << type;
    ASSERT_EQ(taken.size(), static_cast<int64_t>(rows.size())) << type;
    EXPECT_GT(taken.null_count(), 0) << type;
    EXPECT_TRUE(taken == TakeByAppending(c, rows)) << type;
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(taken.IsNull(static_cast<int64_t>(i)), c.IsNull(rows[i])) << type << " row " << i;
      EXPECT_EQ(taken.FormatValue(static_cast<int64_t>(i)), c.FormatValue(rows[i])) << type << " row " << i;
    }
    if (c.type() == DataType::kString) {
      EXPECT_EQ(taken.dictionary().size(), c.dictionary().size()) << "the dictionary is kept as it is";
      for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(taken.GetStringCode(i), c.GetStringCode(rows[i]));
      EXPECT_EQ(taken.GetStringCode(2), -1) << "a null row's code stays -1";
    }
    if (c.type() == DataType::kInt64) {
      EXPECT_EQ(taken.int64_values()[2], 0) << "a null row's slot stays 0";
    }

    const Column none = c.Take({});
    EXPECT_EQ(none.type(), c.type()) << type;
    EXPECT_EQ(none.size(), 0) << type;
    EXPECT_EQ(none.null_count(), 0) << type;
  }
}

TEST(ColumnTest, TakeOfAColumnWithoutNullsHasNone) {
  const Column c = *Column::FromDoubles({0.5, -0.0, 2.0});
  const std::vector<int64_t> rows = {1, 1, 0, 2};
  const Column taken = c.Take(rows);
  EXPECT_EQ(taken.null_count(), 0);
  EXPECT_TRUE(taken == *Column::FromDoubles({-0.0, -0.0, 0.5, 2.0}));
  EXPECT_TRUE(c.Take(std::vector<int64_t>{0, 1, 2}) == c) << "the identity selection";
}

}  // namespace
}  // namespace veil::table
