// End-to-end tests of `veil anon risk` (anon_risk_commands.cc).
#include <string>

#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AnonRiskCliTest : public VeilCliTest {};

// Classes of 3, 2 and 1 records on (age, zip), and a suppressed record; name is not a quasi-identifier.
constexpr char kSample[] =
    "name,age,zip\n"
    "Ann,30,100\nBob,30,100\nCid,40,200\nDee,30,100\nEve,*,*\nFay,40,200\nGus,50,300\n";

// The sample's classes 6, 4 and 2 times, and another class 5 times.
std::string PopulationCsv() {
  std::string p = "zip,age\n";
  for (int i = 0; i < 6; ++i) p += "100,30\n";
  for (int i = 0; i < 4; ++i) p += "200,40\n";
  for (int i = 0; i < 2; ++i) p += "300,50\n";
  for (int i = 0; i < 5; ++i) p += "400,60\n";
  return p;
}

TEST_F(AnonRiskCliTest, HumanTable) {
  const std::string file = WriteFile("s.csv", kSample);
  Result r = Veil("anon risk " + Q(file) + " --quasi age,zip");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("6 records (and 1 suppressed, left out), 3 equivalence classes on age, zip; "
                               "smallest class 1"));
  // highest 1, average 3/6, every record above 0.2, 1 of 6 unique.
  EXPECT_THAT(r.out,
              HasSubstr("prosecutor             1           0.5                  100.00%          16.67%"));
  EXPECT_THAT(r.out, HasSubstr("marketer               -           0.5"));
  EXPECT_THAT(r.out, Not(HasSubstr("journalist")));
  EXPECT_THAT(r.out, Not(HasSubstr("Ann")));
}

TEST_F(AnonRiskCliTest, JsonWithPopulationAndThreshold) {
  const std::string file = WriteFile("s.csv", kSample);
  const std::string population = WriteFile("p.csv", PopulationCsv());
  Result r = Veil("--json anon risk " + Q(file) + " --quasi age --quasi zip --population " + Q(population) +
                  " --threshold 0.4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["file"], file);
  EXPECT_EQ(doc["quasi_identifiers"], nlohmann::json::array({"age", "zip"}));
  EXPECT_EQ(doc["records"], 6);
  EXPECT_EQ(doc["suppressed"], 1);
  EXPECT_EQ(doc["classes"], 3);
  EXPECT_DOUBLE_EQ(doc["threshold"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(doc["prosecutor"]["highest"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(doc["prosecutor"]["average"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(doc["prosecutor"]["records_at_risk"].get<double>(), 3.0 / 6);  // 1/2 and 1 exceed 0.4
  EXPECT_DOUBLE_EQ(doc["prosecutor"]["sample_uniques"].get<double>(), 1.0 / 6);
  EXPECT_EQ(doc["prosecutor"]["smallest_class"], 1);
  EXPECT_EQ(doc["population"], population);
  EXPECT_DOUBLE_EQ(doc["journalist"]["highest"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(doc["journalist"]["average"].get<double>(), 1.5 / 6);          // (3/6 + 2/4 + 1/2) / 6
  EXPECT_DOUBLE_EQ(doc["journalist"]["records_at_risk"].get<double>(), 1.0 / 6);  // only 1/2 exceeds 0.4
  EXPECT_EQ(doc["journalist"]["smallest_population_class"], 2);
  EXPECT_EQ(doc["journalist"]["population_records"], 17);
  EXPECT_DOUBLE_EQ(doc["marketer"].get<double>(), 1.5 / 6);

  Result human = Veil("anon risk " + Q(file) + " --quasi age,zip --population " + Q(population));
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_THAT(human.out, HasSubstr("17 records; smallest population class of a sample record 2"));
  EXPECT_THAT(human.out,
              HasSubstr("journalist           0.5          0.25                   50.00%               -"));
}

TEST_F(AnonRiskCliTest, AdultWithSeparator) {
  Result r = Veil(
      "--json anon risk ../shared/data/adult/arx/adult.csv --separator ';' --quasi "
      "sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  // 19,502 distinct records of 30,162, 15,512 of them unique (sort | uniq -c).
  EXPECT_EQ(doc["records"], 30162);
  EXPECT_EQ(doc["classes"], 19502);
  EXPECT_DOUBLE_EQ(doc["prosecutor"]["sample_uniques"].get<double>(), 15512.0 / 30162);
  EXPECT_TRUE(doc["journalist"].is_null());
}

TEST_F(AnonRiskCliTest, BadInputSaysWhatAndWhere) {
  const std::string file = WriteFile("s.csv", kSample);
  Result unknown = Veil("anon risk " + Q(file) + " --quasi age,sex");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr(file + ": no column \"sex\" in the sample"));

  const std::string malformed = WriteFile("m.csv", "age,zip\n30,100\n40\n");
  Result bad = Veil("anon risk " + Q(malformed) + " --quasi age,zip");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("m.csv:3"));

  const std::string no_zip = WriteFile("p.csv", "age\n30\n");
  Result lacking = Veil("anon risk " + Q(file) + " --quasi age,zip --population " + Q(no_zip));
  EXPECT_EQ(lacking.exit_code, 2);
  EXPECT_THAT(lacking.err, HasSubstr(no_zip + ": no quasi-identifier column \"zip\" in the population"));

  const std::string partial = WriteFile("q.csv", "age,zip\n30,100\n30,100\n30,100\n40,200\n40,200\n");
  Result not_contained = Veil("anon risk " + Q(file) + " --quasi age,zip --population " + Q(partial));
  EXPECT_EQ(not_contained.exit_code, 2);
  EXPECT_THAT(not_contained.err,
              HasSubstr("sample row 7: its quasi-identifier combination occurs 1 times in the "
                        "sample but 0 times in the population"));
  EXPECT_THAT(not_contained.err, Not(HasSubstr("Gus")));

  Result missing = Veil("anon risk " + Q(Path("nope.csv")) + " --quasi age");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.csv"));

  Result threshold = Veil("anon risk " + Q(file) + " --quasi age --threshold 2");
  EXPECT_EQ(threshold.exit_code, 2);
  EXPECT_THAT(threshold.err, HasSubstr("--threshold"));

  Result empty = Veil("anon risk " + Q(file) + " --quasi age,,zip");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.err, HasSubstr("--quasi: an empty column name"));

  Result json_error = Veil("--json anon risk " + Q(file) + " --quasi nope");
  EXPECT_EQ(json_error.exit_code, 2);
  EXPECT_TRUE(ParseJson(json_error.out).contains("error"));
}

}  // namespace
}  // namespace veil::cli::testing
