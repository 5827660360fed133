#include "veil/table/csv_writer.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_env.h"
#include "veil/table/csv_reader.h"

namespace veil::table {
namespace csv_writer_test {
namespace {

using ::testing::HasSubstr;

class UnusedRandom : public base::RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t>) override { return absl::InternalError("not used"); }
};

// A table with every type, nulls, and the strings that are hardest to write.
Table TrickyTable() {
  Schema schema = *Schema::Make({{"id", DataType::kInt64, false},
                                 {"text", DataType::kString},
                                 {"x", DataType::kDouble},
                                 {"ok", DataType::kBool},
                                 {"day", DataType::kDate},
                                 {"at", DataType::kTimestamp},
                                 {"needs, \"quotes\"", DataType::kString}});
  TableBuilder b(schema);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::string> texts = {"plain",
                                          "a,b",
                                          "say \"hi\"",
                                          "two\nlines",
                                          "crlf\r\nend",
                                          "",
                                          "?",
                                          " padded ",
                                          "\ttab",
                                          "Z\xC3\xBCrich",
                                          "\xEF\xBB\xBF"
                                          "bom",
                                          "\"",
                                          "NULL",
                                          "123",
                                          "lone\rcr"};
  const std::vector<double> doubles = {0.1,     -0.0,    1e300, 5e-324, 9007199254740993.0,
                                       nan,     inf,     -inf,  2.0,    123456789012345680000.0,
                                       -1.5e-7, 1.0 / 3, 0.0,   42.0,   -7.25};
  for (int i = 0; i < static_cast<int>(texts.size()); ++i) {
    Value text = texts[i];
    if (i == 4) text = std::monostate();
    Value x = doubles[i];
    if (i == 12) x = std::monostate();
    Value day = Date{-719528 + i * 100000};
    if (i == 3) day = std::monostate();
    Value at = Timestamp{int64_t{i} * 1'234'567'891'234 - 62'000'000'000'000'000};
    if (i == 7) at = std::monostate();
    Value ok = (i % 2) == 0;
    if (i == 9) ok = std::monostate();
    EXPECT_TRUE(b.AppendRow({int64_t{i - 7}, text, x, ok, day, at, Value(std::string(i % 3, ','))}).ok());
  }
  absl::StatusOr<Table> t = b.Finish();
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(CsvWriterTest, RoundTripsEveryTypeExactlyWithTheSchema) {
  const Table t = TrickyTable();
  for (const char* ending : {"\n", "\r\n"}) {
    CsvWriteOptions w;
    w.line_ending = ending;
    absl::StatusOr<std::string> csv = WriteCsvToString(t, w);
    ASSERT_TRUE(csv.ok()) << csv.status();
    CsvReadOptions r;
    r.schema = t.schema();
    for (int threads : {1, 2}) {
      r.num_threads = threads;
      r.chunk_size = 64;
      absl::StatusOr<Table> back = ReadCsvFromString(*csv, r);
      ASSERT_TRUE(back.ok()) << back.status() << "\n" << *csv;
      EXPECT_TRUE(*back == t) << back->ToString(100) << "\nvs\n" << t.ToString(100);
      EXPECT_TRUE(std::signbit(back->column(2).GetDouble(1)));  // -0.0 stays negative
    }
  }
}

TEST(CsvWriterTest, RoundTripsWithInferenceForTypicalTables) {
  Schema schema = *Schema::Make({{"n", DataType::kInt64},
                                 {"x", DataType::kDouble},
                                 {"s", DataType::kString},
                                 {"b", DataType::kBool},
                                 {"d", DataType::kDate},
                                 {"t", DataType::kTimestamp}});
  TableBuilder b(schema);
  ASSERT_TRUE(b.AppendRow({int64_t{1}, 2.0, "02134", true, Date{0}, Timestamp{0}}).ok());
  ASSERT_TRUE(b.AppendRow({std::monostate(), 1e21, "", std::monostate(), Date{1}, Timestamp{1}}).ok());
  ASSERT_TRUE(
      b.AppendRow({int64_t{-3}, std::monostate(), "?", false, std::monostate(), std::monostate()}).ok());
  const Table t = *b.Finish();
  absl::StatusOr<std::string> csv = WriteCsvToString(t);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv,
            "n,x,s,b,d,t\n"
            "1,2.0,02134,true,1970-01-01,1970-01-01T00:00:00Z\n"
            ",1e+21,\"\",,1970-01-02,1970-01-01T00:00:00.000001Z\n"
            "-3,,\"?\",false,,\n");
  absl::StatusOr<Table> back = ReadCsvFromString(*csv);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == t) << back->ToString();
}

TEST(CsvWriterTest, OneColumnNullsAreEmptyLines) {
  TableBuilder b(*Schema::Make({{"v", DataType::kString}}));
  ASSERT_TRUE(b.AppendRow({std::monostate()}).ok());
  ASSERT_TRUE(b.AppendRow({""}).ok());
  ASSERT_TRUE(b.AppendRow({std::monostate()}).ok());
  const Table t = *b.Finish();
  absl::StatusOr<std::string> csv = WriteCsvToString(t);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv, "v\n\n\"\"\n\n");
  absl::StatusOr<Table> back = ReadCsvFromString(*csv);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == t) << back->ToString();
}

TEST(CsvWriterTest, OtherDialects) {
  const Table t = TrickyTable();
  CsvWriteOptions w;
  w.delimiter = ';';
  w.quote = '\'';
  w.null_tokens = {"NA"};
  w.write_header = false;
  absl::StatusOr<std::string> csv = WriteCsvToString(t, w);
  ASSERT_TRUE(csv.ok()) << csv.status();
  CsvReadOptions r;
  r.delimiter = ';';
  r.quote = '\'';
  r.null_tokens = {"NA"};
  r.has_header = false;
  r.schema = t.schema();
  absl::StatusOr<Table> back = ReadCsvFromString(*csv, r);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == t);
}

TEST(CsvWriterTest, WritesThroughEnv) {
  UnusedRandom random;
  base::testing::TestEnv env(random);
  ASSERT_TRUE(env.CreateDirs("/out").ok());
  const Table t = TrickyTable();
  ASSERT_TRUE(WriteCsv(t, env, "/out/t.csv").ok());
  CsvReadOptions r;
  r.schema = t.schema();
  absl::StatusOr<Table> back = ReadCsv(env, "/out/t.csv", r);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == t);

  env.FailNextOperation(base::testing::TestEnv::Op::kOpenWrite, absl::UnavailableError("injected"));
  EXPECT_EQ(WriteCsv(t, env, "/out/u.csv").code(), absl::StatusCode::kUnavailable);
}

TEST(CsvWriterTest, RefusesWhatCannotBeReadBack) {
  TableBuilder b(*Schema::Make({{"d", DataType::kDate}}));
  b.column(0).AppendDate(Date{2932897});  // 10000-01-01
  const Table far = *b.Finish();
  EXPECT_THAT(WriteCsvToString(far).status().message(),
              HasSubstr("date 10000-01-01 is outside years 0000..9999"));

  TableBuilder n(*Schema::Make({{"a", DataType::kInt64}}));
  n.column(0).AppendNull();
  const Table with_null = *n.Finish();
  CsvWriteOptions w;
  w.null_tokens = {};
  EXPECT_THAT(WriteCsvToString(with_null, w).status().message(), HasSubstr("no null token"));
  w.null_tokens = {"a,b"};
  EXPECT_THAT(WriteCsvToString(with_null, w).status().message(), HasSubstr("would not read back as null"));
  w = CsvWriteOptions();
  w.line_ending = "\r";
  EXPECT_FALSE(WriteCsvToString(with_null, w).ok());
}

}  // namespace
}  // namespace csv_writer_test
}  // namespace veil::table
