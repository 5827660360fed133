// End-to-end tests of `veil anon kanon` (anon_kanon_commands.cc).
#include <filesystem>
#include <string>

#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdultDir[] = "../shared/data/adult/arx";
constexpr char kAllQis[] =
    "sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class";

class AnonKanonCliTest : public VeilCliTest {
 protected:
  std::string Adult() const { return std::string(kAdultDir) + "/adult.csv"; }
};

TEST_F(AnonKanonCliTest, AdultK5ReproducesArxAndWritesSuppressedAsStars) {
  const std::string out = Path("out.csv");
  Result r = Veil("--json anon kanon " + Adult() + " --separator ';' --quasi " + kAllQis + " --hierarchies " +
                  kAdultDir + " --k 5 --suppression 0.04 -o " + Q(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_NEAR(doc["information_loss"].get<double>(), 255559.85455731067, 1e-6);
  std::vector<int> levels;
  for (const auto& t : doc["transformation"]) levels.push_back(t["level"].get<int>());
  EXPECT_EQ(levels, (std::vector<int>{1, 0, 1, 1, 3, 2, 2, 0, 1}));
  EXPECT_EQ(doc["transformation"][1]["column"], "age");
  EXPECT_EQ(doc["transformation"][1]["level_name"], "original");
  EXPECT_EQ(doc["search"]["lattice_nodes"], 12960);
  const int64_t suppressed = doc["utility"]["suppressed"].get<int64_t>();
  EXPECT_GT(suppressed, 0);
  EXPECT_LE(suppressed, 1206);  // floor(0.04 * 30162)
  // Risk after: every class has >= 5 records.
  EXPECT_LE(doc["risk"]["after"]["highest"].get<double>(), 0.2 + 1e-12);
  EXPECT_GT(doc["risk"]["before"]["highest"].get<double>(), 0.2);
  EXPECT_EQ(doc["risk"]["after"]["suppressed"].get<int64_t>(), suppressed);
  // Output: header kept, ';' kept, suppressed rows all '*' in the nine QIs.
  const std::string csv = Slurp(out);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "sex;age;race;marital-status;education;native-country;workclass;occupation;salary-class");
  int64_t star_rows = 0;
  size_t pos = 0;
  while ((pos = csv.find("\n*;*;*;*;*;*;*;*;*\n", pos)) != std::string::npos) {
    ++star_rows;
    ++pos;
  }
  EXPECT_EQ(star_rows, suppressed);
}

TEST_F(AnonKanonCliTest, HumanReportShowsLevelsMetricsAndRisk) {
  Result r = Veil("anon kanon " + Adult() + " --separator ';' --quasi " + kAllQis + " --hierarchies " +
                  kAdultDir + " --k 100 -o " + Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("age               4/4  *"));
  EXPECT_THAT(r.out, HasSubstr("non-uniform entropy"));
  EXPECT_THAT(r.out, HasSubstr("453197"));
  EXPECT_THAT(r.out, HasSubstr("prosecutor risk"));
  EXPECT_THAT(r.out, HasSubstr("lattice nodes"));
}

TEST_F(AnonKanonCliTest, EntropyLDiversityAndIntervalHierarchy) {
  // Hierarchies for all but age from the ARX folder, age from the built-in intervals.
  std::filesystem::create_directories(Path("h"));
  for (const char* c : {"sex", "race", "marital-status", "education", "native-country", "workclass"}) {
    std::filesystem::copy_file(std::string(kAdultDir) + "/adult_hierarchy_" + c + ".csv",
                               Path("h") + "/" + c + ".csv");
  }
  Result r = Veil("--json anon kanon " + Adult() +
                  " --separator ';' --quasi sex,age,race,marital-status,education,native-country,workclass "
                  "--hierarchies " +
                  Q(Path("h")) +
                  " --interval age=5,10,20 --k 2 --l 3 --sensitive occupation --l-diversity entropy -o " +
                  Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["model"]["l_diversity"], "entropy");
  EXPECT_EQ(doc["transformation"][1]["max_level"], 4);
  const int age_level = doc["transformation"][1]["level"].get<int>();
  const std::vector<std::string> names = {"original", "width 5", "width 10", "width 20", "*"};
  EXPECT_EQ(doc["transformation"][1]["level_name"], names[age_level]);
  EXPECT_EQ(doc["utility"]["suppressed"], 0);
}

TEST_F(AnonKanonCliTest, MondrianReportsClassesAndUtility) {
  Result r = Veil("--json anon kanon " + Adult() + " --separator ';' --quasi " + kAllQis + " --hierarchies " +
                  kAdultDir + " --k 5 --algorithm mondrian -o " + Q(Path("m.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_GT(doc["mondrian"]["classes"].get<int64_t>(), 1000);
  EXPECT_EQ(doc["utility"]["classes"], doc["mondrian"]["classes"]);
  EXPECT_LE(doc["risk"]["after"]["highest"].get<double>(), 0.2 + 1e-12);
  // Mondrian keeps more detail than the full-domain optimum (NUE 407289 at k=5, 0%).
  EXPECT_LT(doc["utility"]["non_uniform_entropy"].get<double>(), 407289.0);
}

TEST_F(AnonKanonCliTest, BoundsAndDateHierarchies) {
  const std::string csv = WriteFile("t.csv",
                                    "age,dob,x\n"
                                    "15,2001-03-04,a\n"
                                    "17,2001-07-09,b\n"
                                    "30,2002-01-01,c\n"
                                    "31,2003-05-05,d\n"
                                    "70,1999-12-31,e\n"
                                    "72,1998-01-01,f\n");
  Result r = Veil("--json anon kanon " + Q(csv) +
                  " --quasi age,dob --bounds age=18,65:18 --date dob --k 2 -o " + Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  // Ages are all distinct and years nearly so: the cheapest 2-anonymous node is age by the cut points 18 and
  // 65 (level 1) with dob by decade (level 3): classes of two in each.
  EXPECT_EQ(doc["transformation"][0]["level"], 1);
  EXPECT_EQ(doc["transformation"][0]["level_name"], "2 cut points");
  EXPECT_EQ(doc["transformation"][1]["level"], 3);
  EXPECT_EQ(doc["transformation"][1]["level_name"], "decade");
  EXPECT_EQ(
      Slurp(Path("o.csv")),
      "age,dob,x\n<18,2000-2009,a\n<18,2000-2009,b\n\"[18, 65)\",2000-2009,c\n\"[18, 65)\",2000-2009,d\n"
      ">=65,1990-1999,e\n>=65,1990-1999,f\n");
  r = Veil("anon kanon " + Q(csv) + " --quasi age --bounds age=18,x --k 2 -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bound 'x' is not a number"));
}

TEST_F(AnonKanonCliTest, MondrianOnDatesAndNumbersIsScored) {
  const std::string csv = WriteFile("t.csv",
                                    "age,dob,x\n"
                                    "15,2001-03-04,a\n"
                                    "17,2001-07-09,b\n"
                                    "30,2002-01-01,c\n"
                                    "31,2003-05-05,d\n"
                                    "70,1999-12-31,e\n"
                                    "72,1998-01-01,f\n");
  Result r = Veil("--json anon kanon " + Q(csv) +
                  " --quasi age,dob --interval age=10 --date dob --k 2 "
                  "--algorithm mondrian -o " +
                  Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  // Median cuts: 6 records -> two classes of 3 (a class of 3 has no cut leaving >= 2 on both sides).
  EXPECT_EQ(doc["mondrian"]["classes"], 2);
  EXPECT_EQ(doc["utility"]["classes"], 2);
  // The date ranges are scored like the numbers (cells made of the dates inside each range).
  EXPECT_GT(doc["utility"]["non_uniform_entropy"].get<double>(), 0);
  EXPECT_GT(doc["utility"]["loss"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(doc["risk"]["after"]["highest"].get<double>(), 1.0 / 3);
}

TEST_F(AnonKanonCliTest, MissingHierarchyIsUsageErrorAndNoOutput) {
  const std::string out = Path("never.csv");
  Result r = Veil("anon kanon " + Adult() + " --separator ';' --quasi sex,age --k 5 -o " + Q(out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no hierarchy for quasi-identifier 'sex'"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(AnonKanonCliTest, ValueMissingFromHierarchyNamesRowAndColumnNotValue) {
  const std::string csv = WriteFile("t.csv", "zip,city\n12345,Oslo\n99999,Bergen\n");
  const std::string h = WriteFile("zip.csv", "12345;123**;*\n");
  Result r =
      Veil("anon kanon " + Q(csv) + " --quasi zip --hierarchies " + Q(Path("")) + " -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'zip', row 2"));
  EXPECT_THAT(r.err, Not(HasSubstr("99999")));
  (void)h;
}

TEST_F(AnonKanonCliTest, BadHierarchyNamesFileAndLine) {
  WriteFile("zip.csv", "12345;123**;*\n12399;123**\n");
  const std::string csv = WriteFile("t.csv", "zip\n12345\n");
  Result r =
      Veil("anon kanon " + Q(csv) + " --quasi zip --hierarchies " + Q(Path("")) + " -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("zip.csv:2:"));
}

TEST_F(AnonKanonCliTest, ImpossibleModelIsAnErrorAndKeepsExistingOutput) {
  const std::string csv = WriteFile("t.csv", "zip\n12345\n12399\n");
  WriteFile("zip.csv", "12345;123**;*\n12399;123**;*\n");
  const std::string out = WriteFile("o.csv", "previous\n");
  Result r =
      Veil("anon kanon " + Q(csv) + " --quasi zip --hierarchies " + Q(Path("")) + " --k 3 -o " + Q(out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no transformation satisfies"));
  EXPECT_EQ(Slurp(out), "previous\n");
}

TEST_F(AnonKanonCliTest, BadOptions) {
  const std::string csv = WriteFile("t.csv", "zip,d\n12345,a\n12399,b\n");
  WriteFile("zip.csv", "12345;123**;*\n12399;123**;*\n");
  const std::string base =
      "anon kanon " + Q(csv) + " --quasi zip --hierarchies " + Q(Path("")) + " -o " + Q(Path("o.csv"));
  Result r = Veil(base + " --metric entropy");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown metric"));
  r = Veil(base + " --l 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--sensitive"));
  r = Veil(base + " --suppression 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("suppression limit"));
  r = Veil(base + " --algorithm greedy");
  EXPECT_EQ(r.exit_code, 2);
  r = Veil(base + " --interval d=5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not a --quasi column"));
  r = Veil(base + " --k 2 --metric loss");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Slurp(Path("o.csv")), "zip,d\n123**,a\n123**,b\n");
}

}  // namespace
}  // namespace veil::cli::testing
