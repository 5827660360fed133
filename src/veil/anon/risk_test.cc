#include "veil/anon/risk.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/env.h"
#include "veil/base/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::anon {
namespace risk_test {
namespace {

using ::testing::HasSubstr;
using Rows = std::vector<std::vector<std::string>>;

// Three classes of sizes 3, 2 and 1 on (age, zip), and one suppressed record.
const Rows kSample = {{"30", "100"}, {"30", "100"}, {"40", "200"}, {"30", "100"},
                      {"*", "*"},    {"40", "200"}, {"50", "300"}};

// The sample's classes 6, 4 and 2 times, another class 5 times, and a suppressed record.
Rows Population() {
  Rows p;
  for (int i = 0; i < 6; ++i) p.push_back({"30", "100"});
  for (int i = 0; i < 4; ++i) p.push_back({"40", "200"});
  for (int i = 0; i < 2; ++i) p.push_back({"50", "300"});
  for (int i = 0; i < 5; ++i) p.push_back({"60", "400"});
  p.push_back({"*", "*"});
  return p;
}

TEST(RiskTest, ProsecutorByHand) {
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(kSample);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->records, 6);
  EXPECT_EQ(r->suppressed, 1);
  EXPECT_EQ(r->classes, 3);
  EXPECT_DOUBLE_EQ(r->threshold, 0.2);
  EXPECT_DOUBLE_EQ(r->prosecutor.highest, 1.0);
  EXPECT_EQ(r->prosecutor.smallest_class, 1);
  EXPECT_DOUBLE_EQ(r->prosecutor.average, 3.0 / 6);      // mean of 1/3, 1/3, 1/3, 1/2, 1/2, 1
  EXPECT_DOUBLE_EQ(r->prosecutor.records_at_risk, 1.0);  // every risk > 0.2
  EXPECT_DOUBLE_EQ(r->prosecutor.sample_uniques, 1.0 / 6);
  EXPECT_FALSE(r->journalist.has_value());
  EXPECT_DOUBLE_EQ(r->marketer, 3.0 / 6);
}

TEST(RiskTest, RecordsAtRiskAreStrictlyAboveTheThreshold) {
  struct Case {
    double threshold;
    double at_risk;
  };
  for (const Case& c :
       {Case{0.0, 1.0}, Case{1.0 / 3, 3.0 / 6}, Case{0.4, 3.0 / 6}, Case{0.5, 1.0 / 6}, Case{1.0, 0.0}}) {
    absl::StatusOr<RiskReport> r = AssessRiskOfRows(kSample, RiskOptions{.threshold = c.threshold});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_DOUBLE_EQ(r->prosecutor.records_at_risk, c.at_risk) << "T = " << c.threshold;
  }
}

TEST(RiskTest, JournalistAndMarketerByHand) {
  const Rows population = Population();
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(kSample, {}, &population);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->journalist.has_value());
  const JournalistRisk& j = *r->journalist;
  EXPECT_EQ(j.population_records, 17);
  EXPECT_EQ(j.smallest_population_class, 2);  // the (60, 400) class is not in the sample
  EXPECT_DOUBLE_EQ(j.highest, 0.5);
  // (3/6 + 2/4 + 1/2) / 6: each record's 1/F averaged over the 6 records.
  EXPECT_DOUBLE_EQ(j.average, 1.5 / 6);
  // 1/6 is not above 0.2; 1/4 (2 records) and 1/2 (1 record) are.
  EXPECT_DOUBLE_EQ(j.records_at_risk, 3.0 / 6);
  EXPECT_DOUBLE_EQ(r->marketer, 1.5 / 6);
  // The prosecutor figures do not depend on the population.
  EXPECT_DOUBLE_EQ(r->prosecutor.average, 0.5);
  EXPECT_DOUBLE_EQ(r->prosecutor.highest, 1.0);
}

TEST(RiskTest, PopulationThatLacksTheSampleIsAnError) {
  Rows sample = kSample;
  sample.push_back({"70", "500"});  // row 8 (1-based)
  const Rows population = Population();
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(sample, {}, &population);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("sample row 8:"));
  EXPECT_THAT(r.status().message(), HasSubstr("0 times in the population"));
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("500")));  // no values in errors

  // Fewer times in the population than in the sample is the same error.
  Rows small = {{"50", "300"}, {"50", "300"}, {"50", "300"}};
  const Rows two = {{"50", "300"}, {"50", "300"}};
  r = AssessRiskOfRows(small, {}, &two);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("3 times in the sample but 2 times"));
}

TEST(RiskTest, OnlyAllStarRecordsAreSuppressed) {
  const Rows rows = {{"*", "100"}, {"*", "100"}, {"*", "*"}, {"30", "*"}};
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(rows);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->suppressed, 1);
  EXPECT_EQ(r->records, 3);
  EXPECT_EQ(r->classes, 2);
}

// Released '*' rows are a class an attacker sees: with suppressed_form_a_class they count as one.
TEST(RiskTest, SuppressedRecordsCanFormOneClass) {
  const Rows rows = {{"30", "1"}, {"30", "1"}, {"30", "1"}, {"*", "*"}, {"*", "*"}, {"*", "100"}};
  RiskOptions o;
  o.suppressed_form_a_class = true;
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(rows, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->suppressed, 2);
  EXPECT_EQ(r->records, 6);
  EXPECT_EQ(r->classes, 3);
  EXPECT_EQ(r->prosecutor.smallest_class, 1);
  EXPECT_DOUBLE_EQ(r->prosecutor.records_at_risk, 1.0);  // classes of 3, 2 and 1 are all below 5
  absl::StatusOr<table::Table> t = table::ReadCsvFromString("a,b\n30,1\n30,1\n*,*\n*,*\n");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<std::string> quasi = {"a", "b"};
  absl::StatusOr<RiskReport> tr = AssessRisk(*t, quasi, o);
  ASSERT_TRUE(tr.ok()) << tr.status();
  EXPECT_EQ(tr->records, 4);
  EXPECT_EQ(tr->suppressed, 2);
  EXPECT_EQ(tr->classes, 2);
  absl::StatusOr<RiskReport> excluded = AssessRisk(*t, quasi);
  ASSERT_TRUE(excluded.ok());
  EXPECT_EQ(excluded->records, 2);
  EXPECT_EQ(excluded->suppressed, 2);
}

TEST(RiskTest, EmptyOrAllSuppressedGivesZeroRisk) {
  const Rows rows = {{"*", "*"}, {"*", "*"}};
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(rows);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->records, 0);
  EXPECT_EQ(r->suppressed, 2);
  EXPECT_EQ(r->prosecutor.highest, 0);
  EXPECT_EQ(r->prosecutor.average, 0);
  EXPECT_EQ(r->marketer, 0);
  const Rows population = {{"1", "2"}};
  r = AssessRiskOfRows(rows, {}, &population);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->journalist.has_value());
  EXPECT_EQ(r->journalist->highest, 0);
  EXPECT_EQ(r->journalist->population_records, 1);
}

TEST(RiskTest, BadRowsAndThreshold) {
  const Rows ragged = {{"1", "2"}, {"1"}};
  absl::StatusOr<RiskReport> r = AssessRiskOfRows(ragged);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("sample row 2 has 1"));
  const Rows population = {{"1", "2", "3"}};
  r = AssessRiskOfRows(kSample, {}, &population);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("population row 1 has 3"));
  for (double t : {-0.1, 1.5, std::nan("")}) {
    r = AssessRiskOfRows(kSample, RiskOptions{.threshold = t});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << t;
  }
}

TEST(RiskTest, FromClassSizes) {
  const std::vector<int64_t> f = {3, 2, 1};
  const std::vector<int64_t> big_f = {6, 4, 2};
  absl::StatusOr<RiskReport> r = RiskFromClassSizes(f, big_f, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->records, 6);
  EXPECT_EQ(r->suppressed, 1);
  EXPECT_DOUBLE_EQ(r->prosecutor.average, 0.5);
  EXPECT_DOUBLE_EQ(r->journalist->average, 0.25);
  EXPECT_EQ(r->journalist->population_records, 12);

  const std::vector<int64_t> zero = {3, 0};
  EXPECT_EQ(RiskFromClassSizes(zero, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> short_f = {6, 4};
  EXPECT_EQ(RiskFromClassSizes(f, short_f, 0).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int64_t> smaller = {6, 1, 2};
  r = RiskFromClassSizes(f, smaller, 0);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("class 1"));
}

TEST(RiskTest, TablesMatchByTextAndKeepNullApart) {
  // The sample's age is int64, the population's a string column (it holds "unknown"); null is not "NULL".
  absl::StatusOr<table::Table> sample =
      table::ReadCsvFromString("age,zip,name\n39,1,a\n39,1,b\n,1,c\n\"NULL\",1,d\n");
  absl::StatusOr<table::Table> population =
      table::ReadCsvFromString("zip,age\n1,39\n1,39\n1,39\n1,\n1,NULL\n1,unknown\n");
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_TRUE(population.ok()) << population.status();
  const std::vector<std::string> quasi = {"age", "zip"};
  absl::StatusOr<RiskReport> r = AssessRisk(*sample, quasi, {}, &*population);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->classes, 3);  // 39, null, "NULL"
  EXPECT_EQ(r->records, 4);
  EXPECT_DOUBLE_EQ(r->prosecutor.highest, 1.0);
  EXPECT_EQ(r->journalist->population_records, 6);
  EXPECT_DOUBLE_EQ(r->journalist->highest, 1.0);
  EXPECT_DOUBLE_EQ(r->journalist->average, (2.0 / 3 + 1 + 1) / 4);
}

TEST(RiskTest, TableErrorsNameTheColumn) {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString("age,zip\n39,1\n");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<table::Table> p = table::ReadCsvFromString("age\n39\n");
  ASSERT_TRUE(p.ok());
  std::vector<std::string> quasi = {"age", "sex"};
  absl::StatusOr<RiskReport> r = AssessRisk(*t, quasi);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("no column \"sex\" in the sample"));
  quasi = {"age", "zip"};
  r = AssessRisk(*t, quasi, {}, &*p);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("no column \"zip\" in the population"));
  quasi = {"age", "age"};
  EXPECT_THAT(AssessRisk(*t, quasi).status().message(), HasSubstr("listed twice"));
  quasi = {};
  EXPECT_EQ(AssessRisk(*t, quasi).status().code(), absl::StatusCode::kInvalidArgument);
}

class AdultRiskTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    table::CsvReadOptions options;
    options.delimiter = ';';
    base::testing::ZeroRandom random;
    std::unique_ptr<base::Env> env = base::NewPosixEnv(random);
    absl::StatusOr<table::Table> t = table::ReadCsv(*env, "../shared/data/adult/arx/adult.csv", options);
    ASSERT_TRUE(t.ok()) << t.status();
    adult_ = new table::Table(*std::move(t));
  }
  static void TearDownTestSuite() {
    delete adult_;
    adult_ = nullptr;
  }
  static table::Table* adult_;
};
table::Table* AdultRiskTest::adult_ = nullptr;

TEST_F(AdultRiskTest, AllNineColumns) {
  std::vector<std::string> quasi;
  for (int c = 0; c < adult_->num_columns(); ++c) quasi.push_back(adult_->schema().field(c).name);
  ASSERT_EQ(quasi.size(), 9u);
  absl::StatusOr<RiskReport> r = AssessRisk(*adult_, quasi);
  ASSERT_TRUE(r.ok()) << r.status();
  // Counted with `tail -n +2 adult.csv | sort | uniq -c`: 19,502 distinct records, 15,512 of them unique;
  // classes of sizes 2, 3, 4 number 2,098, 754 and 375.
  const double n = 30162;
  EXPECT_EQ(r->records, 30162);
  EXPECT_EQ(r->classes, 19502);
  EXPECT_DOUBLE_EQ(r->prosecutor.highest, 1.0);
  EXPECT_DOUBLE_EQ(r->prosecutor.average, 19502 / n);
  EXPECT_DOUBLE_EQ(r->prosecutor.sample_uniques, 15512 / n);
  EXPECT_DOUBLE_EQ(r->prosecutor.records_at_risk, (15512 + 2 * 2098 + 3 * 754 + 4 * 375) / n);

  // The table as its own population: the journalist figures equal the prosecutor's.
  absl::StatusOr<RiskReport> self = AssessRisk(*adult_, quasi, {}, adult_);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_DOUBLE_EQ(self->journalist->highest, r->prosecutor.highest);
  EXPECT_DOUBLE_EQ(self->journalist->average, r->prosecutor.average);
  EXPECT_DOUBLE_EQ(self->journalist->records_at_risk, r->prosecutor.records_at_risk);
  EXPECT_DOUBLE_EQ(self->marketer, r->prosecutor.average);
}

TEST_F(AdultRiskTest, SexAlone) {
  const std::vector<std::string> quasi = {"sex"};
  absl::StatusOr<RiskReport> r = AssessRisk(*adult_, quasi);
  ASSERT_TRUE(r.ok()) << r.status();
  // 20,380 Male and 9,782 Female records.
  EXPECT_EQ(r->classes, 2);
  EXPECT_EQ(r->prosecutor.smallest_class, 9782);
  EXPECT_DOUBLE_EQ(r->prosecutor.highest, 1.0 / 9782);
  EXPECT_DOUBLE_EQ(r->prosecutor.records_at_risk, 0.0);
  EXPECT_DOUBLE_EQ(r->prosecutor.sample_uniques, 0.0);
}

}  // namespace
}  // namespace risk_test
}  // namespace veil::anon
