#include "veil/table/types.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_parser.h"

namespace veil::table {
namespace {

using ::testing::Optional;

TEST(DataTypeTest, NamesRoundTrip) {
  for (DataType t : {DataType::kInt64, DataType::kDouble, DataType::kBool, DataType::kString, DataType::kDate,
                     DataType::kTimestamp}) {
    EXPECT_THAT(ParseDataType(DataTypeName(t)), Optional(t));
  }
  EXPECT_EQ(DataTypeName(DataType::kTimestamp), "timestamp");
  EXPECT_EQ(ParseDataType("integer"), std::nullopt);
  EXPECT_TRUE(IsNumeric(DataType::kDouble));
  EXPECT_FALSE(IsNumeric(DataType::kDate));
}

TEST(ParseTest, Int64) {
  EXPECT_THAT(ParseInt64("42"), Optional(42));
  EXPECT_THAT(ParseInt64("+5"), Optional(5));
  EXPECT_THAT(ParseInt64("-7"), Optional(-7));
  EXPECT_THAT(ParseInt64("007"), Optional(7));
  EXPECT_THAT(ParseInt64("-9223372036854775808"), Optional(std::numeric_limits<int64_t>::min()));
  EXPECT_THAT(ParseInt64("9223372036854775807"), Optional(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(ParseInt64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(ParseInt64(""), std::nullopt);
  EXPECT_EQ(ParseInt64("+"), std::nullopt);
  EXPECT_EQ(ParseInt64("+-1"), std::nullopt);
  EXPECT_EQ(ParseInt64(" 1"), std::nullopt);
  EXPECT_EQ(ParseInt64("1.0"), std::nullopt);
}

TEST(ParseTest, Double) {
  EXPECT_THAT(ParseDouble("2.5"), Optional(2.5));
  EXPECT_THAT(ParseDouble("+3"), Optional(3.0));
  EXPECT_THAT(ParseDouble("-.5"), Optional(-0.5));
  EXPECT_THAT(ParseDouble("1e-7"), Optional(1e-7));
  EXPECT_THAT(ParseDouble("Infinity"), Optional(std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(std::isnan(*ParseDouble("NaN")));
  EXPECT_EQ(ParseDouble("1e400"), std::nullopt);   // overflow
  EXPECT_EQ(ParseDouble("2e-324"), std::nullopt);  // underflow to zero
  EXPECT_THAT(ParseDouble("4.9e-324"), Optional(std::numeric_limits<double>::denorm_min()));
  EXPECT_EQ(ParseDouble("1e"), std::nullopt);
  EXPECT_EQ(ParseDouble("0x10"), std::nullopt);
  EXPECT_EQ(ParseDouble(""), std::nullopt);
}

TEST(ParseTest, Bool) {
  EXPECT_THAT(ParseBool("TRUE"), Optional(true));
  EXPECT_THAT(ParseBool("false"), Optional(false));
  EXPECT_THAT(ParseBool("1"), Optional(true));
  EXPECT_THAT(ParseBool("0"), Optional(false));
  EXPECT_EQ(ParseBool("yes"), std::nullopt);
}

TEST(ParseTest, Date) {
  EXPECT_THAT(ParseDate("1970-01-01"), Optional(Date{0}));
  EXPECT_THAT(ParseDate("2000-03-01"), Optional(Date{11017}));
  EXPECT_THAT(ParseDate("2024-02-29"), Optional(Date{19782}));
  EXPECT_THAT(ParseDate("1969-12-31"), Optional(Date{-1}));
  EXPECT_THAT(ParseDate("0000-01-01"), Optional(Date{-719528}));
  EXPECT_THAT(ParseDate("9999-12-31"), Optional(Date{2932896}));
  EXPECT_EQ(ParseDate("2023-02-29"), std::nullopt);
  EXPECT_EQ(ParseDate("2023-13-01"), std::nullopt);
  EXPECT_EQ(ParseDate("2023-1-01"), std::nullopt);
  EXPECT_EQ(ParseDate("2023/01/01"), std::nullopt);
}

TEST(ParseTest, Timestamp) {
  EXPECT_THAT(ParseTimestamp("1970-01-01T00:00:01Z"), Optional(Timestamp{1'000'000}));
  EXPECT_THAT(ParseTimestamp("1970-01-02 00:00:00"), Optional(Timestamp{kMicrosPerDay}));
  EXPECT_THAT(ParseTimestamp("1970-01-01 00:00:00.5"), Optional(Timestamp{500'000}));
  EXPECT_THAT(ParseTimestamp("1970-01-01T00:01:00.000001Z"), Optional(Timestamp{60'000'001}));
  EXPECT_THAT(ParseTimestamp("1969-12-31T23:59:59.999999Z"), Optional(Timestamp{-1}));
  EXPECT_THAT(ParseTimestamp("2024-01-31"), Optional(Timestamp{int64_t{19753} * kMicrosPerDay}));
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00.1234567"), std::nullopt);  // below a microsecond
  EXPECT_EQ(ParseTimestamp("1970-01-01T24:00:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00."), std::nullopt);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00+01:00"), std::nullopt);
}

TEST(FormatTest, Double) {
  EXPECT_EQ(FormatDouble(5.0), "5.0");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(-0.0), "-0.0");
  EXPECT_EQ(FormatDouble(1e21), "1e+21");
  EXPECT_EQ(FormatDouble(123456789012345680000.0), "123456789012345683968.0");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::denorm_min()), "5e-324");
}

TEST(FormatTest, DateAndTimestamp) {
  EXPECT_EQ(FormatDate(Date{0}), "1970-01-01");
  EXPECT_EQ(FormatDate(Date{-719528}), "0000-01-01");
  EXPECT_EQ(FormatDate(Date{19782}), "2024-02-29");
  EXPECT_EQ(FormatTimestamp(Timestamp{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(Timestamp{-1}), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimestamp(Timestamp{kMicrosPerDay + 3'723'000'042}), "1970-01-02T01:02:03.000042Z");
  EXPECT_TRUE(InTextRange(Date{2932896}));
  EXPECT_FALSE(InTextRange(Date{2932897}));
  EXPECT_FALSE(InTextRange(Date{-719529}));
  EXPECT_FALSE(InTextRange(Timestamp{int64_t{2932897} * kMicrosPerDay}));
}

TEST(FormatTest, ValueDisplay) {
  EXPECT_EQ(FormatValue(Value()), "NULL");
  EXPECT_EQ(FormatValue(Value(int64_t{-3})), "-3");
  EXPECT_EQ(FormatValue(Value(true)), "true");
  EXPECT_EQ(FormatValue(Value("x")), "x");  // a string, not a bool
  EXPECT_EQ(FormatValue(Value(Date{1})), "1970-01-02");
  EXPECT_EQ(ValueType(Value(2.0)), DataType::kDouble);
  EXPECT_EQ(ValueType(Value(Timestamp{})), DataType::kTimestamp);
}

TEST(TextRoundTripTest, FormatThenParseGivesTheSameValue) {
  for (int32_t days : {-719528, -1, 0, 1, 11016, 19782, 2932896}) {
    EXPECT_THAT(ParseDate(FormatDate(Date{days})), Optional(Date{days})) << days;
  }
  for (int64_t us : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{1'700'000'000'123'456},
                     int64_t{-62'000'000'000'000'000}}) {
    EXPECT_THAT(ParseTimestamp(FormatTimestamp(Timestamp{us})), Optional(Timestamp{us})) << us;
  }
  for (double d : {0.1, 1.0 / 3, 1e300, -2.5e-300, 9007199254740993.0, 4.9e-324}) {
    EXPECT_THAT(ParseDouble(FormatDouble(d)), Optional(d)) << d;
  }
}

TEST(ClassifyTest, NarrowestTypes) {
  using internal::ClassifyField;
  using internal::CsvType;
  EXPECT_EQ(ClassifyField("123").type, CsvType::kInt64);
  EXPECT_EQ(ClassifyField("123").int_value, 123);
  EXPECT_EQ(ClassifyField("-0").type, CsvType::kInt64);
  EXPECT_EQ(ClassifyField("+5").int_value, 5);
  EXPECT_EQ(ClassifyField("-9223372036854775808").int_value, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ClassifyField("9223372036854775808").type, CsvType::kString);  // too big: not a rounded double
  EXPECT_EQ(ClassifyField("02134").type, CsvType::kString);                // leading zero kept
  EXPECT_EQ(ClassifyField("05.5").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("0.5").type, CsvType::kDouble);
  EXPECT_EQ(ClassifyField(".5").double_value, 0.5);
  EXPECT_EQ(ClassifyField("-.5").double_value, -0.5);
  EXPECT_EQ(ClassifyField("1e5").double_value, 1e5);
  EXPECT_EQ(ClassifyField("1e400").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("1.5.1").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("nan").type, CsvType::kDouble);
  EXPECT_EQ(ClassifyField("-inf").type, CsvType::kDouble);
  EXPECT_EQ(ClassifyField("NaN").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("Infinity").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("TRUE").type, CsvType::kBool);
  EXPECT_EQ(ClassifyField("false").int_value, 0);
  EXPECT_EQ(ClassifyField("FaLsE").type, CsvType::kBool);
  EXPECT_EQ(ClassifyField("True").int_value, 1);
  // Bytes that bit 5 does not fold onto a letter: not bools.
  EXPECT_EQ(ClassifyField("tru\x05").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("fals\xC5").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("truth").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("1").type, CsvType::kInt64);  // not a bool
  EXPECT_EQ(ClassifyField("2020-02-29").type, CsvType::kDate);
  EXPECT_EQ(ClassifyField("2021-02-29").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("2020-02-29T10:00:00Z").type, CsvType::kTimestamp);
  EXPECT_EQ(ClassifyField("2020-02-29 10:00:00.25").int_value,
            int64_t{18321} * kMicrosPerDay + 36'000'250'000);
  EXPECT_EQ(ClassifyField("-2020-01-01").type, CsvType::kString);
  EXPECT_EQ(ClassifyField(" 5").type, CsvType::kString);
  EXPECT_EQ(ClassifyField("").type, CsvType::kString);
}

TEST(ClassifyTest, JoinIsALattice) {
  using internal::CsvType;
  using internal::JoinTypes;
  EXPECT_EQ(JoinTypes(CsvType::kNull, CsvType::kDate), CsvType::kDate);
  EXPECT_EQ(JoinTypes(CsvType::kInt64, CsvType::kDouble), CsvType::kDouble);
  EXPECT_EQ(JoinTypes(CsvType::kDouble, CsvType::kInt64), CsvType::kDouble);
  EXPECT_EQ(JoinTypes(CsvType::kTimestamp, CsvType::kDate), CsvType::kTimestamp);
  EXPECT_EQ(JoinTypes(CsvType::kInt64, CsvType::kBool), CsvType::kString);
  EXPECT_EQ(JoinTypes(CsvType::kDate, CsvType::kInt64), CsvType::kString);
  EXPECT_EQ(JoinTypes(CsvType::kString, CsvType::kNull), CsvType::kString);
}

TEST(RecordBoundaryTest, IgnoresNewlinesInsideQuotes) {
  using internal::FindLastRecordBoundary;
  EXPECT_EQ(FindLastRecordBoundary("a,b\nc,d\n", '"'), 8u);
  EXPECT_EQ(FindLastRecordBoundary("a,b\nc,d", '"'), 4u);
  EXPECT_EQ(FindLastRecordBoundary("a,\"x\ny\"\nb,\"p\nq", '"'), 8u);
  EXPECT_EQ(FindLastRecordBoundary("a,\"x\ny", '"'), std::string_view::npos);
  EXPECT_EQ(FindLastRecordBoundary("\"say \"\"hi\"\"\nthere\"\n", '"'), 19u);
  EXPECT_EQ(FindLastRecordBoundary("no newline", '"'), std::string_view::npos);
}

}  // namespace
}  // namespace veil::table
