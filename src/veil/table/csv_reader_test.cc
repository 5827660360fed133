#include "veil/table/csv_reader.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/env.h"
#include "veil/base/random.h"
#include "veil/base/test_env.h"
#include "veil/table/table.h"

namespace veil::table {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The CSV code never draws randomness; TestEnv just needs a source.
class UnusedRandom : public base::RandomSource {
 public:
  absl::Status Fill(std::span<uint8_t>) override { return absl::InternalError("not used"); }
};

absl::StatusOr<Table> Read(std::string_view csv, const CsvReadOptions& options = {}) {
  return ReadCsvFromString(csv, options, "t.csv");
}

// Column `c` of `t` in display form, rows joined by '|'.
std::string ColumnText(const Table& t, int c) {
  std::vector<std::string> values;
  for (int64_t row = 0; row < t.num_rows(); ++row) values.push_back(t.FormatValue(row, c));
  return absl::StrJoin(values, "|");
}

std::string TypesOf(const Table& t) {
  std::vector<std::string> types;
  for (const Field& f : t.schema().fields()) types.push_back(std::string(DataTypeName(f.type)));
  return absl::StrJoin(types, ",");
}

std::string NamesOf(const Table& t) {
  std::vector<std::string> names;
  for (const Field& f : t.schema().fields()) names.push_back(f.name);
  return absl::StrJoin(names, ",");
}

std::string ErrorOf(std::string_view csv, const CsvReadOptions& options = {}) {
  absl::StatusOr<Table> t = Read(csv, options);
  if (t.ok()) return "OK";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  return std::string(t.status().message());
}

// --- RFC 4180 features ---

TEST(CsvReaderTest, ReadsHeaderAndInfersTypes) {
  absl::StatusOr<Table> t = Read(
      "id,name,score,born,seen,member\n"
      "1,Ada,2.5,1815-12-10,2024-01-31T12:00:00Z,true\n"
      "2,Bob,3,1990-01-01,2024-02-01 08:30:00.25,FALSE\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "id,name,score,born,seen,member");
  EXPECT_EQ(TypesOf(*t), "int64,string,double,date,timestamp,bool");
  EXPECT_EQ(t->num_rows(), 2);
  EXPECT_EQ(t->column(0).GetInt64(1), 2);
  EXPECT_EQ(t->column(1).GetString(0), "Ada");
  EXPECT_EQ(t->column(2).GetDouble(1), 3.0);
  EXPECT_EQ(ColumnText(*t, 3), "1815-12-10|1990-01-01");
  EXPECT_EQ(ColumnText(*t, 4), "2024-01-31T12:00:00Z|2024-02-01T08:30:00.250000Z");
  EXPECT_EQ(ColumnText(*t, 5), "true|false");
  EXPECT_TRUE(t->schema().field(0).nullable);
}

TEST(CsvReaderTest, QuotedFieldsHoldDelimitersQuotesAndNewlines) {
  absl::StatusOr<Table> t = Read(
      "a,b\n"
      "\"x,y\",\"say \"\"hi\"\"\"\n"
      "\"line1\nline2\",\"\"\"\"\n"
      "\"crlf\r\ninside\",plain\n");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_rows(), 3);
  EXPECT_EQ(t->column(0).GetString(0), "x,y");
  EXPECT_EQ(t->column(1).GetString(0), "say \"hi\"");
  EXPECT_EQ(t->column(0).GetString(1), "line1\nline2");
  EXPECT_EQ(t->column(1).GetString(1), "\"");
  EXPECT_EQ(t->column(0).GetString(2), "crlf\r\ninside");
  EXPECT_EQ(t->column(1).GetString(2), "plain");
}

TEST(CsvReaderTest, CrLfAndLfAndNoFinalNewline) {
  for (std::string_view csv :
       {"a,b\r\n1,x\r\n2,y\r\n", "a,b\n1,x\n2,y\n", "a,b\r\n1,x\n2,y", "a,b\n1,x\r\n2,y\r\n"}) {
    absl::StatusOr<Table> t = Read(csv);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(NamesOf(*t), "a,b");
    EXPECT_EQ(ColumnText(*t, 0), "1|2");
    EXPECT_EQ(ColumnText(*t, 1), "x|y") << absl::CHexEscape(internal::ToAbsl(csv));
    EXPECT_EQ(TypesOf(*t), "int64,string");
  }
}

TEST(CsvReaderTest, SkipsUtf8ByteOrderMark) {
  absl::StatusOr<Table> t = Read("\xEF\xBB\xBFname,n\nZ\xC3\xBCrich,1\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "name,n");
  EXPECT_EQ(t->column(0).GetString(0), "Z\xC3\xBCrich");
}

TEST(CsvReaderTest, ConfigurableDelimiterAndQuote) {
  CsvReadOptions semicolon;
  semicolon.delimiter = ';';
  absl::StatusOr<Table> t = Read("a;b\n1,5;\"x;y\"\n", semicolon);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ColumnText(*t, 0), "1,5");  // a comma is data here
  EXPECT_EQ(ColumnText(*t, 1), "x;y");

  CsvReadOptions tabs;
  tabs.delimiter = '\t';
  tabs.quote = '\'';
  t = Read("a\tb\n 1 \t'it''s\tfine'\n", tabs);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->column(0).GetInt64(0), 1);  // spaces trimmed, tabs are delimiters
  EXPECT_EQ(t->column(1).GetString(0), "it's\tfine");
}

TEST(CsvReaderTest, WithoutHeaderColumnsGetGeneratedNames) {
  CsvReadOptions o;
  o.has_header = false;
  absl::StatusOr<Table> t = Read("1,x\n2,y\n", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "column_1,column_2");
  EXPECT_EQ(t->num_rows(), 2);
  EXPECT_EQ(ColumnText(*t, 0), "1|2");

  // An empty header name is generated too.
  t = Read("a,,c\n1,2,3\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "a,column_2,c");
}

TEST(CsvReaderTest, NullTokens) {
  absl::StatusOr<Table> t = Read("a,b,c\n1,,?\n,\"\",\"?\"\n?,x, ? \n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TypesOf(*t), "int64,string,string");
  EXPECT_EQ(ColumnText(*t, 0), "1|NULL|NULL");
  // A quoted field is never null: "" is the empty string, "?" a question mark.
  EXPECT_EQ(ColumnText(*t, 1), "NULL||x");
  EXPECT_EQ(ColumnText(*t, 2), "NULL|?|NULL");
  EXPECT_EQ(t->column(1).null_count(), 1);

  CsvReadOptions na;
  na.null_tokens = {"NA", "N/A"};
  t = Read("a,b\nNA,\n2,N/A\n", na);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ColumnText(*t, 0), "NULL|2");
  EXPECT_EQ(t->column(1).GetString(0), "");  // empty is not null now
  EXPECT_TRUE(t->column(1).IsNull(1));
}

TEST(CsvReaderTest, TrimsSpacesUnlessTold) {
  // As in UCI's adult.data: ", " between fields.
  absl::StatusOr<Table> t = Read("age, workclass, note\n39, State-gov,  \" padded \" \n50, ?, x\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "age,workclass,note");
  EXPECT_EQ(TypesOf(*t), "int64,string,string");
  EXPECT_EQ(ColumnText(*t, 1), "State-gov|NULL");
  EXPECT_EQ(t->column(2).GetString(0), " padded ");  // spaces inside quotes are data

  CsvReadOptions strict;
  strict.trim_whitespace = false;
  t = Read("a,b\n1, x\n", strict);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->column(1).GetString(0), " x");
  EXPECT_THAT(ErrorOf("a,b\n1, \"x\"\n", strict), HasSubstr("quote character in the unquoted field"));
}

TEST(CsvReaderTest, BlankLines) {
  // Skipped when there are several columns ...
  absl::StatusOr<Table> t = Read("a,b\n\n1,2\n\r\n3,4\n\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ColumnText(*t, 0), "1|3");
  // ... but in a one-column file an empty line is an empty (null) field.
  t = Read("a\n1\n\n3\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ColumnText(*t, 0), "1|NULL|3");
}

TEST(CsvReaderTest, EmptyAndHeaderOnlyInputs) {
  absl::StatusOr<Table> t = Read("");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->num_columns(), 0);
  EXPECT_EQ(t->num_rows(), 0);
  t = Read("a,b\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(NamesOf(*t), "a,b");
  EXPECT_EQ(TypesOf(*t), "string,string");  // no values: strings
  EXPECT_EQ(t->num_rows(), 0);
  t = Read("x,y\n?,\n,?\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(TypesOf(*t), "string,string");
  EXPECT_EQ(t->column(0).null_count(), 2);
}

TEST(CsvReaderTest, TrailingDelimiterMeansAnEmptyLastField) {
  absl::StatusOr<Table> t = Read("a,b,c\n1,2,\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ColumnText(*t, 2), "NULL");
}

// --- Type inference ---

TEST(CsvReaderTest, InferenceRules) {
  absl::StatusOr<Table> t = Read(
      "zip,big,mixed,when,flag,ratio,code\n"
      "02134,99999999999999999999,1,2024-01-01,true,1,7\n"
      "10001,1,2.5,2024-01-01 10:00:00,false,nan,x\n"
      "?,2,3,?,TRUE,-inf,8\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TypesOf(*t), "string,string,double,timestamp,bool,double,string");
  EXPECT_EQ(ColumnText(*t, 0), "02134|10001|NULL");  // leading zero kept
  EXPECT_EQ(ColumnText(*t, 1), "99999999999999999999|1|2");
  EXPECT_EQ(ColumnText(*t, 2), "1.0|2.5|3.0");
  EXPECT_EQ(ColumnText(*t, 3), "2024-01-01T00:00:00Z|2024-01-01T10:00:00Z|NULL");
  EXPECT_EQ(ColumnText(*t, 6), "7|x|8");  // original text of the numbers
  EXPECT_TRUE(std::isnan(t->column(5).GetDouble(1)));
}

TEST(CsvReaderTest, DeclaredTypesOverrideInference) {
  CsvReadOptions o;
  o.column_types = {{"zip", DataType::kInt64},
                    {"n", DataType::kDouble},
                    {"flag", DataType::kBool},
                    {"s", DataType::kString}};
  absl::StatusOr<Table> t = Read("zip,n,flag,s\n02134,1,1,5\n007,2,0,6\n", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TypesOf(*t), "int64,double,bool,string");
  EXPECT_EQ(ColumnText(*t, 0), "2134|7");
  EXPECT_EQ(ColumnText(*t, 1), "1.0|2.0");
  EXPECT_EQ(ColumnText(*t, 2), "true|false");
  EXPECT_EQ(ColumnText(*t, 3), "5|6");

  o.column_types = {{"nope", DataType::kInt64}};
  EXPECT_THAT(ErrorOf("a,b\n1,2\n", o),
              HasSubstr("column_types names \"nope\", which is not a column of t.csv"));
}

TEST(CsvReaderTest, SchemaGivesTypesNamesAndNullability) {
  CsvReadOptions o;
  o.schema = *Schema::Make({{"id", DataType::kInt64, false}, {"name", DataType::kString}});
  absl::StatusOr<Table> t = Read("id,name\n1,\n2,b\n", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->schema(), *o.schema);
  EXPECT_EQ(ColumnText(*t, 1), "NULL|b");

  EXPECT_EQ(ErrorOf("id,name\n1,a\n?,b\n", o),
            "t.csv:3: column 1 (\"id\"): null value \"?\" in a column that is not nullable");
  EXPECT_EQ(ErrorOf("id,nom\n1,a\n", o),
            "t.csv:1: column 2 (\"nom\"): the schema names this column \"name\"");
  EXPECT_THAT(ErrorOf("id\n1\n", o), HasSubstr("the header has 1 columns but the schema has 2"));

  o.has_header = false;
  t = Read("1,a\n", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(NamesOf(*t), "id,name");

  t = Read("", o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->schema(), *o.schema);
  EXPECT_EQ(t->num_rows(), 0);
}

// --- Errors name file, line and column ---

TEST(CsvReaderErrorTest, RaggedRows) {
  EXPECT_EQ(ErrorOf("a,b,c\n1,2,3\n4,5\n"), "t.csv:3: column 3 (\"c\"): the record has 2 fields, expected 3");
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3,4,5,6\n"), "t.csv:3: column 3: the record has 4 fields, expected 2");
  // The line is the physical line: newlines inside quotes count.
  EXPECT_EQ(ErrorOf("a,b\n\"x\ny\",1\n\"p\n\nq\",2\nz\n"),
            "t.csv:7: column 2 (\"b\"): the record has 1 field, expected 2");
}

TEST(CsvReaderErrorTest, UnterminatedQuote) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3,\"open\n4,5\n"),
            "t.csv:3: column 2 (\"b\"): quoted field is not terminated (the closing quote is missing)");
  EXPECT_EQ(ErrorOf("\"a,b\n1,2\n"),
            "t.csv:1: column 1: quoted field is not terminated (the closing quote is missing)");
}

TEST(CsvReaderErrorTest, QuotesInTheWrongPlace) {
  EXPECT_EQ(ErrorOf("a,b\n1,ab\"c\n"),
            "t.csv:2: column 2 (\"b\"): quote character in the unquoted field \"ab\\\"\" (quote the whole "
            "field and double the quotes inside it)");
  EXPECT_EQ(ErrorOf("a,b\n1,\"ab\"c\n"),
            "t.csv:2: column 2 (\"b\"): unexpected character \"c\" after the closing quote of \"ab\"");
}

TEST(CsvReaderErrorTest, InvalidUtf8) {
  EXPECT_EQ(ErrorOf("a,b\n1,ok\n2,caf\xE9\n"),
            "t.csv:3: column 2 (\"b\"): invalid UTF-8 at byte 4 of the value \"caf\\xe9\"");
  // Also in a column that looked numeric, and in the header.
  EXPECT_THAT(ErrorOf("a\n1\n\xFF\n"), StartsWith("t.csv:3: column 1 (\"a\"): invalid UTF-8 at byte 1"));
  EXPECT_THAT(ErrorOf("a,\xC0\xAF\n1,2\n"), StartsWith("t.csv:1: column 2: the header name"));
}

TEST(CsvReaderErrorTest, ValueDoesNotFitDeclaredType) {
  CsvReadOptions o;
  o.column_types = {{"age", DataType::kInt64},
                    {"d", DataType::kDate},
                    {"ts", DataType::kTimestamp},
                    {"x", DataType::kDouble},
                    {"ok", DataType::kBool}};
  const std::string header = "name,age,d,ts,x,ok\n";
  EXPECT_EQ(ErrorOf(header + "a,1,2024-01-01,2024-01-01,1,1\nb,abc,?,?,?,?\n", o),
            "t.csv:3: column 2 (\"age\"): \"abc\" is not an int64");
  EXPECT_EQ(ErrorOf(header + "a,1,2024-02-30,?,?,?\n", o),
            "t.csv:2: column 3 (\"d\"): \"2024-02-30\" is not a date (YYYY-MM-DD)");
  EXPECT_THAT(ErrorOf(header + "a,1,?,noon,?,?\n", o),
              StartsWith("t.csv:2: column 4 (\"ts\"): \"noon\" is not a timestamp"));
  EXPECT_EQ(ErrorOf(header + "a,1,?,?,1e999,?\n", o), "t.csv:2: column 5 (\"x\"): \"1e999\" is not a double");
  EXPECT_THAT(ErrorOf(header + "a,1,?,?,?,yes\n", o),
              StartsWith("t.csv:2: column 6 (\"ok\"): \"yes\" is not a bool"));
  EXPECT_EQ(ErrorOf(header + "a,9223372036854775808,?,?,?,?\n", o),
            "t.csv:2: column 2 (\"age\"): \"9223372036854775808\" is not an int64");
}

TEST(CsvReaderErrorTest, HeaderProblems) {
  EXPECT_EQ(ErrorOf("a,b,a\n1,2,3\n"), "t.csv:1: column 3 (\"a\"): the header repeats the name of column 1");
  CsvReadOptions o;
  o.delimiter = '"';
  EXPECT_THAT(ErrorOf("a\n", o), HasSubstr("delimiter and quote characters must differ"));
}

TEST(CsvReaderErrorTest, MessagesDoNotEchoLongValues) {
  CsvReadOptions o;
  o.column_types = {{"n", DataType::kInt64}};
  const std::string huge(100'000, '7');
  const std::string message = ErrorOf("n\n" + huge + "x\n", o);
  EXPECT_EQ(message,
            "t.csv:2: column 1 (\"n\"): \"7777777777777777777777777777777777777777...\" is not an int64");
  const std::string quoted = ErrorOf("a,b\n1,\"" + huge + "\"x\n");
  EXPECT_LT(quoted.size(), 200u);
}

TEST(CsvReaderErrorTest, ReportsTheFirstErrorInFileOrderWithManyChunks) {
  std::string csv = "a,b\n";
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&csv, i, ",x\n");
  csv += "1,2,3\n";  // line 5002: too many fields
  csv += "\"unterminated\n";
  for (int threads : {1, 2}) {
    CsvReadOptions o;
    o.chunk_size = 512;
    o.num_threads = threads;
    EXPECT_EQ(ErrorOf(csv, o), "t.csv:5002: column 3: the record has 3 fields, expected 2");
  }
}

// --- Chunking, threads and inference across chunks ---

TEST(CsvReaderChunkTest, EveryChunkSizeGivesTheSameTable) {
  const std::string csv =
      "id,text,v\n"
      "1,\"a\nb\",1\n"
      "2,\"q\"\"\n\",2.5\n"
      "3,,x\r\n"
      "\n"
      "4,\"\",2024-01-01\n";
  absl::StatusOr<Table> whole = Read(csv);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(TypesOf(*whole), "int64,string,string");
  for (size_t chunk = 1; chunk <= csv.size(); ++chunk) {
    for (int threads : {1, 2}) {
      CsvReadOptions o;
      o.chunk_size = chunk;
      o.num_threads = threads;
      absl::StatusOr<Table> t = Read(csv, o);
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_TRUE(*t == *whole) << "chunk size " << chunk << ", threads " << threads << "\n" << t->ToString();
    }
  }
}

TEST(CsvReaderChunkTest, LateValuesWidenInt64ToDoubleToString) {
  std::string csv = "x,y,d\n";
  for (int i = 0; i < 3000; ++i) {
    std::string x = absl::StrCat(i);
    if (i == 1500) x = "2.50";  // forces double
    if (i == 2999) x = "abc";   // then string, in the last chunk
    absl::StrAppend(&csv, x, ",", i, ",", i == 2000 ? "2024-01-01 12:00:00" : "2024-01-01", "\n");
  }
  for (int threads : {1, 2}) {
    CsvReadOptions o;
    o.chunk_size = 1000;
    o.num_threads = threads;
    absl::StatusOr<Table> t = Read(csv, o);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(TypesOf(*t), "string,int64,timestamp");
    ASSERT_EQ(t->num_rows(), 3000);
    // The string column keeps each value's original text.
    EXPECT_EQ(t->column(0).GetString(0), "0");
    EXPECT_EQ(t->column(0).GetString(1500), "2.50");
    EXPECT_EQ(t->column(0).GetString(2998), "2998");
    EXPECT_EQ(t->column(0).GetString(2999), "abc");
    EXPECT_EQ(t->column(1).GetInt64(2999), 2999);
    EXPECT_EQ(t->FormatValue(0, 2), "2024-01-01T00:00:00Z");
    EXPECT_EQ(t->FormatValue(2000, 2), "2024-01-01T12:00:00Z");
  }

  // Without the string at the end the column stays double.
  csv = "x\n";
  for (int i = 0; i < 3000; ++i) absl::StrAppend(&csv, i == 2500 ? "0.5" : absl::StrCat(i), "\n");
  CsvReadOptions o;
  o.chunk_size = 500;
  absl::StatusOr<Table> t = Read(csv, o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TypesOf(*t), "double");
  EXPECT_EQ(t->column(0).GetDouble(2499), 2499.0);
  EXPECT_EQ(t->column(0).GetDouble(2500), 0.5);
}

TEST(CsvReaderChunkTest, EarlyStringWithLaterNumbersKeepsTheirText) {
  // The first chunk makes the column a string while later chunks, parsed in parallel, see only numbers.
  std::string csv = "x\nfirst\n";
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&csv, "+", i, "\n");
  for (int threads : {1, 2}) {
    CsvReadOptions o;
    o.chunk_size = 256;
    o.num_threads = threads;
    absl::StatusOr<Table> t = Read(csv, o);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(TypesOf(*t), "string");
    EXPECT_EQ(t->column(0).GetString(0), "first");
    EXPECT_EQ(t->column(0).GetString(4000), "+3999");
  }
}

// A large input with every feature, embedded newlines crossing chunk boundaries included.
std::string GenerateCsv(int rows) {
  std::mt19937_64 rng(20240131);  // fixed seed: test data, not privacy randomness
  std::string csv = "id,amount,name,comment,day,at,flag,maybe,email\n";
  const char* names[] = {"Ada", "Bob", "Chloé", "Dmitri", "Eve", "名前"};
  for (int i = 0; i < rows; ++i) {
    const uint64_t r = rng();
    absl::StrAppend(&csv, i, ",");
    absl::StrAppend(&csv, (r % 7 == 0) ? "" : absl::StrCat(static_cast<double>(r % 100000) / 100), ",");
    absl::StrAppend(&csv, names[r % 6], ",");
    switch (r % 5) {
      case 0:
        absl::StrAppend(&csv, "\"multi\nline ", i % 13, "\"");
        break;
      case 1:
        absl::StrAppend(&csv, "\"with \"\"quotes\"\", and a comma\"");
        break;
      case 2:
        absl::StrAppend(&csv, "plain");
        break;
      case 3:
        absl::StrAppend(&csv, "?");
        break;
      default:
        absl::StrAppend(&csv, "\"\r\n\"");
        break;
    }
    absl::StrAppend(&csv, ",2024-", 1 + r % 12, "-1", r % 10, ",");  // 2024-M-1D is not a date: a string
    absl::StrAppend(&csv, "2024-01-0", 1 + r % 9, "T10:00:0", r % 10, ".", r % 1000, "Z,");
    absl::StrAppend(&csv, (r & 1) ? "true" : "false", ",");
    absl::StrAppend(&csv, (r % 3 == 0) ? "?" : absl::StrCat(r % 1000), ",");
    // Mostly distinct: the parser stops deduplicating it within chunks.
    absl::StrAppend(&csv, "u", (r >> 20) % 30000, "@example.org", i % 2 == 0 ? "\r\n" : "\n");
  }
  return csv;
}

TEST(CsvReaderChunkTest, TwoThreadsGiveExactlyTheSingleThreadTable) {
  const std::string csv = GenerateCsv(40000);
  CsvReadOptions single;
  single.num_threads = 1;
  single.chunk_size = size_t{64} << 20;  // one chunk
  absl::StatusOr<Table> reference = Read(csv, single);
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_EQ(reference->num_rows(), 40000);
  EXPECT_EQ(TypesOf(*reference), "int64,double,string,string,string,timestamp,bool,int64,string");
  EXPECT_GT(reference->column(8).dictionary().size(), 20000);
  EXPECT_GT(reference->column(1).null_count(), 0);
  EXPECT_GT(reference->column(3).null_count(), 0);

  for (size_t chunk : {size_t{997}, size_t{4096}, size_t{65536}}) {
    for (int threads : {1, 2}) {
      CsvReadOptions o;
      o.chunk_size = chunk;
      o.num_threads = threads;
      absl::StatusOr<Table> t = Read(csv, o);
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_TRUE(*t == *reference) << "chunk " << chunk << ", threads " << threads;
      // Also the dictionary order, which follows first appearance in the file.
      for (int c : {2, 3, 4, 8}) {
        ASSERT_EQ(t->column(c).dictionary().size(), reference->column(c).dictionary().size());
        for (int32_t code = 0; code < t->column(c).dictionary().size(); ++code) {
          ASSERT_EQ(t->column(c).dictionary().value(code), reference->column(c).dictionary().value(code));
        }
      }
    }
  }
}

// --- Files through base::Env ---

class CsvFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDirs("/data").ok()); }

  void WriteFile(const std::string& path, std::string_view data) {
    absl::StatusOr<std::unique_ptr<base::WritableFile>> f = env_.NewWritableFile(path);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }

  UnusedRandom random_;
  base::testing::TestEnv env_{random_};
};

TEST_F(CsvFileTest, ReadsAFileInChunksLikeAString) {
  const std::string csv = GenerateCsv(20000);
  WriteFile("/data/people.csv", csv);
  absl::StatusOr<Table> from_string = Read(csv);
  ASSERT_TRUE(from_string.ok());
  for (int threads : {1, 2}) {
    CsvReadOptions o;
    o.chunk_size = 10000;
    o.num_threads = threads;
    absl::StatusOr<Table> t = ReadCsv(env_, "/data/people.csv", o);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(*t == *from_string);
  }
}

TEST_F(CsvFileTest, ErrorsNameThePath) {
  WriteFile("/data/bad.csv",
            "\xEF\xBB\xBF"
            "a,b\n1,2\n3\n");
  absl::StatusOr<Table> t = ReadCsv(env_, "/data/bad.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "/data/bad.csv:3: column 2 (\"b\"): the record has 1 field, expected 2");
  EXPECT_EQ(ReadCsv(env_, "/data/missing.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CsvFileTest, SecondPassRereadsTheFile) {
  std::string csv = "x\n";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&csv, i, "\n");
  csv += "late string\n";
  WriteFile("/data/late.csv", csv);
  CsvReadOptions o;
  o.chunk_size = 300;
  absl::StatusOr<Table> t = ReadCsv(env_, "/data/late.csv", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TypesOf(*t), "string");
  EXPECT_EQ(t->column(0).GetString(1999), "1999");
  EXPECT_EQ(t->column(0).GetString(2000), "late string");
}

TEST_F(CsvFileTest, RecordLongerThanTheLimitIsAnError) {
  std::string csv = "a,b\n1,2\n3,\"never closed\n";
  csv += std::string(5000, 'x');
  WriteFile("/data/long.csv", csv);
  CsvReadOptions o;
  o.chunk_size = 64;
  o.max_record_size = 1024;
  absl::StatusOr<Table> t = ReadCsv(env_, "/data/long.csv", o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "/data/long.csv:3: a record is longer than 1024 bytes (is a quote missing its closing quote?)");
}

// --- Real data ---

TEST(CsvReaderAdultTest, ReadsAdultCsv) {
  UnusedRandom random;
  std::unique_ptr<base::Env> env = base::NewPosixEnv(random);
  absl::StatusOr<Table> t = ReadCsv(*env, "../shared/data/adult/adult.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_rows(), 48842);
  ASSERT_EQ(t->num_columns(), 15);
  EXPECT_EQ(
      TypesOf(*t),
      "int64,string,int64,string,int64,string,string,string,string,string,int64,int64,int64,string,string");
  EXPECT_EQ(t->schema().field(14).name, "income");
  // First row: 39,State-gov,77516,Bachelors,13,...
  EXPECT_EQ(t->column(0).GetInt64(0), 39);
  EXPECT_EQ(t->column(1).GetString(0), "State-gov");
  EXPECT_EQ(t->column(2).GetInt64(0), 77516);
  EXPECT_EQ(t->column(10).GetInt64(0), 2174);
  // "?" marks missing values: 2,799 in workclass, 857 in native-country; row 15 (line 16) lacks the country.
  EXPECT_EQ(t->column(1).null_count(), 2799);
  EXPECT_EQ(t->column(13).null_count(), 857);
  EXPECT_TRUE(t->IsNull(14, 13));
  EXPECT_EQ(t->column(0).null_count(), 0);
  // Last row.
  EXPECT_EQ(t->column(1).GetString(48841), "Self-emp-inc");
  EXPECT_EQ(t->column(14).GetString(48841), ">50K");
}

TEST(CsvReaderAdultTest, ReadsUciTrainingFileWithSpacesAndNoHeader) {
  UnusedRandom random;
  std::unique_ptr<base::Env> env = base::NewPosixEnv(random);
  CsvReadOptions o;
  o.has_header = false;
  absl::StatusOr<Table> t = ReadCsv(*env, "../shared/data/adult/adult_train.csv", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_rows(), 32561);
  EXPECT_EQ(t->num_columns(), 15);
  EXPECT_EQ(t->schema().field(0).name, "column_1");
  EXPECT_EQ(t->schema().field(0).type, DataType::kInt64);
  EXPECT_EQ(t->column(1).GetString(0), "State-gov");  // the space after the comma is trimmed
  EXPECT_EQ(t->column(14).GetString(0), "<=50K");
}

}  // namespace
}  // namespace veil::table
