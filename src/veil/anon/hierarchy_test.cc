#include "veil/anon/hierarchy.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::anon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(HierarchyTest, ParsesArxCsvWithQuotesAndCrLf) {
  auto h = Hierarchy::ParseArxCsv("a;x;*\r\n\nb;x;*\n\"c;d\";\"y\"\"\";*\n", "h.csv");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->num_leaves(), 3);
  EXPECT_EQ(h->num_levels(), 3);
  EXPECT_EQ(h->Label(2, 0), "c;d");
  EXPECT_EQ(h->Label(2, 1), "y\"");
  EXPECT_EQ(h->FindLeaf("b"), 1);
  EXPECT_EQ(h->FindLeaf("x"), std::nullopt);
  auto again = Hierarchy::ParseArxCsv(h->ToArxCsv(), "again.csv");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->rows(), h->rows());
}

TEST(HierarchyTest, RejectsRaggedRowsNamingFileAndLine) {
  auto h = Hierarchy::ParseArxCsv("a;x;*\n\nb;*\n", "h.csv");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(h.status().message(), HasSubstr("h.csv:3:"));
  EXPECT_THAT(h.status().message(), HasSubstr("2 levels"));
}

TEST(HierarchyTest, RejectsDuplicateLeaf) {
  auto h = Hierarchy::ParseArxCsv("a;x;*\nb;x;*\na;y;*\n", "h.csv");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("h.csv:3: value 'a' is listed twice (first at line 1)"));
}

TEST(HierarchyTest, RejectsInconsistentLevels) {
  // x has two parents at level 2.
  auto h = Hierarchy::ParseArxCsv("a;x;p\nb;x;q\n", "h.csv");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("h.csv:2: inconsistent levels"));
  EXPECT_THAT(h.status().message(), HasSubstr("'x' at level 1"));
}

TEST(HierarchyTest, RejectsEmptyValueAndUnterminatedQuote) {
  EXPECT_THAT(Hierarchy::ParseArxCsv("a;;*\n", "h.csv").status().message(),
              HasSubstr("h.csv:1: level 1 is empty"));
  EXPECT_THAT(Hierarchy::ParseArxCsv("a;x;*\n\"b;x;*\n", "h.csv").status().message(),
              HasSubstr("h.csv:2: unterminated"));
  EXPECT_FALSE(Hierarchy::ParseArxCsv("", "h.csv").ok());
}

// Found by arx_hierarchy_fuzz (separator '\t', so each line is one leaf): a quoted field followed by text, a
// quote inside an unquoted field, and a leaf ending in a lone UTF-8 lead byte. The parse used to succeed, and
// a table holding that leaf could then not be built (tables hold UTF-8 only).
TEST(HierarchyTest, RejectsInvalidUtf8NamingLineAndLevel) {
  const std::string text = "\"spou&se vres\"entq\n1\";\"\";*\nX;*\xc2\n;X;*\ny;X;*\n";
  auto h = Hierarchy::ParseArxCsv(text, "fuzz.csv", '\t');
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(h.status().message(),
              HasSubstr("fuzz.csv:3: level 0 is not valid UTF-8 (at byte 4 of the value)"));
  // Without the stray byte the same text is a valid one-level hierarchy, parsed as the fuzzer read it.
  std::string fixed = text;
  fixed.erase(fixed.find('\xc2'), 1);
  auto ok = Hierarchy::ParseArxCsv(fixed, "fuzz.csv", '\t');
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(ok->rows(), ElementsAre(ElementsAre("spou&se vresentq"), ElementsAre("1\";\"\";*"),
                                      ElementsAre("X;*"), ElementsAre(";X;*"), ElementsAre("y;X;*")));
  // A generalized label is checked too (it becomes a cell of the anonymized table).
  EXPECT_THAT(Hierarchy::ParseArxCsv("a;x\xff;*\n", "h.csv").status().message(),
              HasSubstr("h.csv:1: level 1 is not valid UTF-8 (at byte 2 of the value)"));
  EXPECT_FALSE(Hierarchy::FromRows({{"a", "\xe2\x82", "*"}}, "rows").ok());
}

// Found by arx_hierarchy_fuzz (input ';' + "\"\""): a one-level hierarchy holding only the missing value was
// written as a blank line, which parses as an empty hierarchy.
TEST(HierarchyTest, EmptyValueRoundTripsQuoted) {
  for (const std::string text : {"\"\"", "\"\"\nx\n", "\"\";\"\";*\nx;X;*\n"}) {
    auto h = Hierarchy::ParseArxCsv(text, "q.csv");
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->Label(0, 0), "");
    auto again = Hierarchy::ParseArxCsv(h->ToArxCsv(), "again.csv");
    ASSERT_TRUE(again.ok()) << text << ": " << again.status();
    EXPECT_EQ(again->rows(), h->rows()) << text;
  }
  EXPECT_EQ(Hierarchy::ParseArxCsv("\"\";*\n", "q.csv")->ToArxCsv(), "\"\";*\n");
}

TEST(HierarchyTest, AdultHierarchiesParse) {
  for (const char* name : {"age", "education", "marital-status", "native-country", "occupation", "race",
                           "salary-class", "sex", "workclass"}) {
    const std::string path = std::string("../shared/data/adult/arx/adult_hierarchy_") + name + ".csv";
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream text;
    text << in.rdbuf();
    auto h = Hierarchy::ParseArxCsv(text.str(), path);
    ASSERT_TRUE(h.ok()) << name << ": " << h.status();
  }
}

TEST(HierarchyTest, IntervalHierarchyNestsAndLabelsLikeArx) {
  std::vector<std::string> values = {"39", "5", "17", "39", "120"};
  auto h = MakeIntervalHierarchy(values, {5, 10, 20}, "age");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->num_leaves(), 4);  // distinct, sorted numerically
  EXPECT_THAT(h->rows()[0], ElementsAre("5", "5-9", "0-9", "0-19", "*"));
  EXPECT_THAT(h->rows()[2], ElementsAre("39", "35-39", "30-39", "20-39", "*"));
  EXPECT_THAT(h->rows()[3], ElementsAre("120", "120-124", "120-129", "120-139", "*"));
  auto d = MakeIntervalHierarchy(std::vector<std::string>{"1.5", "2.25"}, {0.5}, "x");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->rows()[1], ElementsAre("2.25", "[2, 2.5)", "*"));
  EXPECT_THAT(MakeIntervalHierarchy(values, {5, 7}, "age").status().message(), HasSubstr("not a multiple"));
  EXPECT_THAT(MakeIntervalHierarchy(values, {0}, "age").status().message(), HasSubstr("> 0"));
  auto bad = MakeIntervalHierarchy(std::vector<std::string>{"1", "secret"}, {5}, "age");
  EXPECT_THAT(bad.status().message(), HasSubstr("column 'age', row 2: not a finite number"));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("secret")));
}

TEST(HierarchyTest, IntervalHierarchyNestsWithFractionalWidthsAndNegatives) {
  std::vector<std::string> values;
  for (int i = -50; i <= 50; ++i) values.push_back(absl::StrCat(i / 10.0));
  auto h = MakeIntervalHierarchy(values, {0.1, 0.2, 0.4, 1.2}, "x");
  ASSERT_TRUE(h.ok()) << h.status();  // FromRows checked the nesting
  EXPECT_EQ(h->num_leaves(), 101);
  auto ints = MakeIntervalHierarchy(std::vector<std::string>{"-1", "-10", "-11", "0"}, {10, 20}, "t");
  ASSERT_TRUE(ints.ok()) << ints.status();
  EXPECT_THAT(ints->rows()[0], ElementsAre("-11", "-20--11", "-20--1", "*"));
  EXPECT_THAT(ints->rows()[1], ElementsAre("-10", "-10--1", "-20--1", "*"));
  EXPECT_THAT(ints->rows()[3], ElementsAre("0", "0-9", "0-19", "*"));
}

TEST(HierarchyTest, BoundsHierarchy) {
  auto h = MakeBoundsHierarchy(std::vector<std::string>{"10", "30", "70"}, {{18, 40, 65}, {18, 65}}, "age");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(h->rows()[0], ElementsAre("10", "<18", "<18", "*"));
  EXPECT_THAT(h->rows()[1], ElementsAre("30", "[18, 40)", "[18, 65)", "*"));
  EXPECT_THAT(h->rows()[2], ElementsAre("70", ">=65", ">=65", "*"));
  EXPECT_THAT(MakeBoundsHierarchy(std::vector<std::string>{"1"}, {{18}, {20}}, "age").status().message(),
              HasSubstr("not a bound of level 1"));
}

TEST(HierarchyTest, DateHierarchy) {
  auto h = MakeDateHierarchy(std::vector<std::string>{"2024-02-29", "1999-12-31", "2024-02-29"}, "dob");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->num_leaves(), 2);
  EXPECT_THAT(h->rows()[0], ElementsAre("1999-12-31", "1999-12", "1999", "1990-1999", "*"));
  EXPECT_THAT(h->rows()[1], ElementsAre("2024-02-29", "2024-02", "2024", "2020-2029", "*"));
  EXPECT_THAT(MakeDateHierarchy(std::vector<std::string>{"2023-02-29"}, "dob").status().message(),
              HasSubstr("column 'dob', row 1: not an ISO date"));
  // A timestamp uses its date part; a date not written YYYY-MM-DD is refused with its row.
  auto ts = MakeDateHierarchy(std::vector<std::string>{"2024-01-05T10:00:00Z"}, "dob");
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_THAT(ts->rows()[0], ElementsAre("2024-01-05T10:00:00Z", "2024-01", "2024", "2020-2029", "*"));
  EXPECT_THAT(
      MakeDateHierarchy(std::vector<std::string>{"2024-01-05", "2024-1-05"}, "dob").status().message(),
      HasSubstr("column 'dob', row 2: not an ISO date"));
}

// A missing value (empty cell) is a leaf of its own: "" in a hierarchy file, and the built-in hierarchies
// give it its own branch up to '*'.
TEST(HierarchyTest, MissingValueIsALeafOfItsOwn) {
  auto file = Hierarchy::ParseArxCsv("\"\";*\nx;*\n", "q.csv");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->FindLeaf(""), 0);
  auto unquoted = Hierarchy::ParseArxCsv(";;*\nx;X;*\n", "q.csv");
  ASSERT_TRUE(unquoted.ok()) << unquoted.status();
  EXPECT_THAT(unquoted->rows()[0], ElementsAre("", "", "*"));
  // Only the missing value's row may have empty levels.
  EXPECT_THAT(Hierarchy::ParseArxCsv("x;;*\n", "q.csv").status().message(), HasSubstr("q.csv:1: level 1"));

  auto age = MakeIntervalHierarchy(std::vector<std::string>{"39", "", "41", ""}, {10, 20}, "age");
  ASSERT_TRUE(age.ok()) << age.status();
  ASSERT_EQ(age->num_leaves(), 3);
  EXPECT_THAT(age->rows()[2], ElementsAre("", "", "", "*"));
  auto bounds = MakeBoundsHierarchy(std::vector<std::string>{"", "30"}, {{18}}, "age");
  ASSERT_TRUE(bounds.ok()) << bounds.status();
  EXPECT_THAT(bounds->rows()[1], ElementsAre("", "", "*"));
  auto dob = MakeDateHierarchy(std::vector<std::string>{"", "2024-02-29"}, "dob");
  ASSERT_TRUE(dob.ok()) << dob.status();
  EXPECT_THAT(dob->rows()[1], ElementsAre("", "", "", "", "*"));
}

table::Table SmallTable() {
  auto t = table::ReadCsvFromString("age,zip,disease\n39,1234,flu\n41,1234,cold\n39,9999,flu\n",
                                    table::CsvReadOptions{});
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

TEST(EncodeTableTest, EncodesLeavesLevelsAndCounts) {
  table::Table t = SmallTable();
  auto age = MakeIntervalHierarchy(std::vector<std::string>{"39", "41", "45"}, {10}, "age");
  auto zip = Hierarchy::ParseArxCsv("1234;12**;*\n9999;99**;*\n1299;12**;*\n", "zip.csv");
  ASSERT_TRUE(age.ok() && zip.ok());
  std::vector<std::string> qis = {"age", "zip"};
  auto e = EncodeTable(t, qis, {*age, *zip}, "disease");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->num_rows, 3);
  const EncodedQi& a = e->qis[0];
  EXPECT_THAT(a.leaf, ElementsAre(0, 1, 0));
  EXPECT_TRUE(a.numeric);
  EXPECT_THAT(a.leaf_value, ElementsAre(39, 41, 45));
  EXPECT_EQ(a.num_levels(), 3);
  EXPECT_THAT(a.parent[1], ElementsAre(0, 1, 1));  // 30-39, 40-49, 40-49
  EXPECT_THAT(a.leaves_under[1], ElementsAre(1, 2));
  EXPECT_THAT(a.records_under[0], ElementsAre(2, 1, 0));
  EXPECT_THAT(a.records_under[1], ElementsAre(2, 1));
  EXPECT_THAT(a.records_under[2], ElementsAre(3));
  EXPECT_THAT(a.labels[1], ElementsAre("30-39", "40-49"));
  const EncodedQi& z = e->qis[1];
  EXPECT_THAT(z.leaf, ElementsAre(0, 0, 1));
  EXPECT_THAT(z.parent[1], ElementsAre(0, 1, 0));
  EXPECT_THAT(z.leaves_under[1], ElementsAre(2, 1));
  ASSERT_TRUE(e->sensitive.has_value());
  EXPECT_THAT(e->sensitive->value, ElementsAre(0, 1, 0));
  EXPECT_THAT(e->sensitive->values, ElementsAre("flu", "cold"));
}

TEST(EncodeTableTest, MissingValueNamesColumnAndRowNotValue) {
  table::Table t = SmallTable();
  auto zip = Hierarchy::ParseArxCsv("1234;12**;*\n", "zip.csv");
  ASSERT_TRUE(zip.ok());
  std::vector<std::string> qis = {"zip"};
  auto e = EncodeTable(t, qis, {*zip});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("column 'zip', row 3"));
  EXPECT_THAT(e.status().message(), Not(HasSubstr("9999")));
}

TEST(EncodeTableTest, NullCellIsTheMissingLeaf) {
  auto t = table::ReadCsvFromString("q\nx\n\nx\n", table::CsvReadOptions{});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->IsNull(1, 0));
  std::vector<std::string> qis = {"q"};
  auto with = Hierarchy::ParseArxCsv("x;*\n\"\";*\n", "q.csv");
  ASSERT_TRUE(with.ok()) << with.status();
  auto e = EncodeTable(*t, qis, {*with});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->qis[0].leaf, ElementsAre(0, 1, 0));
  auto without = Hierarchy::ParseArxCsv("x;*\n", "q.csv");
  ASSERT_TRUE(without.ok());
  auto bad = EncodeTable(*t, qis, {*without});
  EXPECT_THAT(bad.status().message(), HasSubstr("column 'q', row 2: empty value;"));
}

TEST(EncodeTableTest, RejectsBadColumns) {
  table::Table t = SmallTable();
  auto zip = Hierarchy::ParseArxCsv("1234;*\n9999;*\n", "zip.csv");
  ASSERT_TRUE(zip.ok());
  std::vector<std::string> nope = {"nope"};
  EXPECT_THAT(EncodeTable(t, nope, {*zip}).status().message(), HasSubstr("'nope' not found"));
  std::vector<std::string> zips = {"zip"};
  EXPECT_THAT(EncodeTable(t, zips, {*zip}, "zip").status().message(), HasSubstr("both"));
  EXPECT_THAT(EncodeTable(t, zips, {}).status().message(), HasSubstr("hierarchies"));
}

}  // namespace
}  // namespace veil::anon
