// End-to-end tests of `veil anon kanon` (anon_kanon_commands.cc).
#include <algorithm>
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

// Six people with distinct ages and birth dates (for the built-in numeric and date hierarchies).
constexpr char kAgesAndDates[] =
    "age,dob,x\n"
    "15,2001-03-04,a\n"
    "17,2001-07-09,b\n"
    "30,2002-01-01,c\n"
    "31,2003-05-05,d\n"
    "70,1999-12-31,e\n"
    "72,1998-01-01,f\n";

class AnonKanonCliTest : public VeilCliTest {
 protected:
  std::string Adult() const { return std::string(kAdultDir) + "/adult.csv"; }
};

TEST_F(AnonKanonCliTest, AdultK5ReproducesArxAndWritesSuppressedAsStars) {
  const std::string out = Path("out.csv");
  Result r = Veil("--json anon kanon " + Adult() + " --separator ';' --quasi " + kAllQis + " --hierarchies " +
                  kAdultDir + " --k 5 --suppression 0.04 --suppressed keep-star -o " + Q(out));
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
  // keep-star: the '*' rows are released, one class counted in the risk after.
  EXPECT_EQ(doc["risk"]["after"]["records"].get<int64_t>(), 30162);
  EXPECT_EQ(doc["suppressed"]["mode"], "keep-star");
  EXPECT_EQ(doc["suppressed"]["star_class"]["size"].get<int64_t>(), suppressed);
  EXPECT_EQ(doc["suppressed"]["star_class"]["violates_k"], false);
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

// By default suppressed records are not released: the output leaves them out, the ARX metrics stay ARX's.
TEST_F(AnonKanonCliTest, AdultSuppressedRecordsAreRemovedByDefault) {
  const std::string out = Path("out.csv");
  Result r = Veil("--json anon kanon " + Adult() + " --separator ';' --quasi " + kAllQis + " --hierarchies " +
                  kAdultDir + " --k 5 --suppression 0.04 -o " + Q(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_NEAR(doc["information_loss"].get<double>(), 255559.85455731067, 1e-6);
  const int64_t suppressed = doc["utility"]["suppressed"].get<int64_t>();
  ASSERT_GT(suppressed, 0);
  EXPECT_EQ(doc["suppressed"]["mode"], "remove");
  EXPECT_EQ(doc["suppressed"]["removed_from_output"].get<int64_t>(), suppressed);
  EXPECT_EQ(doc["risk"]["after"]["records"].get<int64_t>(), 30162 - suppressed);
  EXPECT_EQ(doc["risk"]["after"]["suppressed"].get<int64_t>(), 0);
  const std::string csv = Slurp(out);
  EXPECT_EQ(csv.find("*;*;*;*;*;*;*;*;*"), std::string::npos);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 30162 - suppressed);
}

// The review's case: the two suppressed records share their disease, so as '*' rows they are a class of 2
// with k=3 and l=2 violated. Default: they are gone. keep-star: they stay, counted as a class, with a
// warning.
TEST_F(AnonKanonCliTest, SuppressedStarClassIsReportedAndWarned) {
  const std::string csv =
      WriteFile("t2.csv",
                "age,sex,disease\n30,M,flu\n31,M,flu\n32,M,cancer\n33,M,hiv\n34,M,flu\n"
                "35,F,flu\n36,F,hiv\n37,F,flu\n38,F,cancer\n39,F,flu\n70,M,hiv\n90,F,hiv\n");
  WriteFile("sex.csv", "M;*\nF;*\n");
  const std::string base = "anon kanon " + Q(csv) + " --quasi age,sex --hierarchies " + Q(Path("")) +
                           " --interval age=10,20 --k 3 --l 2 --sensitive disease --suppression 0.2 -o " +
                           Q(Path("o.csv"));
  Result r = Veil(base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 records removed from the output"));
  EXPECT_THAT(Slurp(Path("o.csv")), Not(HasSubstr("*")));
  EXPECT_THAT(Slurp(Path("o.csv")), Not(HasSubstr("70")));
  r = Veil("--json " + base + " --suppressed keep-star");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Slurp(Path("o.csv")), HasSubstr("*,*,hiv\n*,*,hiv\n"));
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["suppressed"]["star_class"]["size"], 2);
  EXPECT_EQ(doc["suppressed"]["star_class"]["distinct_sensitive"], 1);
  EXPECT_EQ(doc["suppressed"]["star_class"]["violates_k"], true);
  EXPECT_EQ(doc["suppressed"]["star_class"]["violates_l"], true);
  // The risk after counts the '*' class of 2: highest risk 1/2, not the 1/5 of the other classes.
  EXPECT_DOUBLE_EQ(doc["risk"]["after"]["highest"].get<double>(), 0.5);
  EXPECT_EQ(doc["risk"]["after"]["records"], 12);
  EXPECT_THAT(r.err, HasSubstr("warning"));
  r = Veil(base + " --suppressed keep-star");
  EXPECT_THAT(r.err, HasSubstr("violates k=3 and l=2"));
  EXPECT_THAT(r.out, HasSubstr("one class of 2, 1 distinct disease values"));
  r = Veil(base + " --suppressed drop");
  EXPECT_EQ(r.exit_code, 2);
}

// An empty cell in a QI is the missing value: a leaf of its own.
TEST_F(AnonKanonCliTest, MissingValuesAreLeavesOfTheirOwn) {
  const std::string csv = WriteFile("m.csv", "age,q\n30,x\n,x\n31,\n,\n");
  WriteFile("q.csv", "x;*\n\"\";*\n");
  Result r = Veil("anon kanon " + Q(csv) + " --quasi age,q --hierarchies " + Q(Path("")) +
                  " --interval age=10 --k 1 -o " + Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Slurp(Path("o.csv")), "age,q\n30,x\n\"\",x\n31,\"\"\n\"\",\"\"\n");
  r = Veil("anon kanon " + Q(csv) + " --quasi age,q --hierarchies " + Q(Path("")) +
           " --interval age=10 --k 2 -o " + Q(Path("o.csv")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Dates, Mondrian (flat categorical) too.
  const std::string dates = WriteFile("d.csv", "d\n2024-01-02\n\n2024-01-03\n\n");
  r = Veil("anon kanon " + Q(dates) + " --quasi d --date d --k 2 -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Veil("anon kanon " + Q(csv) + " --quasi q --k 2 --algorithm mondrian -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A hierarchy file without a row for it: one clear error naming column and row.
  WriteFile("q.csv", "x;*\n");
  r = Veil("anon kanon " + Q(csv) + " --quasi q --hierarchies " + Q(Path("")) + " --k 1 -o " +
           Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'q', row 3: empty value;"));
}

// Errors of the built-in hierarchies name the data row (not the index among distinct values).
TEST_F(AnonKanonCliTest, BadNumberNamesTheDataRow) {
  const std::string csv = WriteFile("a.csv", "age\n30\n30\n30\nsecret\n");
  Result r = Veil("anon kanon " + Q(csv) + " --quasi age --interval age=10 --k 1 -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'age', row 4:"));
  EXPECT_THAT(r.err, Not(HasSubstr("secret")));
}

// kanon and risk read a file the same way: the same classes ("NULL", "?" and "" are three values; " sex"
// is the column sex).
TEST_F(AnonKanonCliTest, KanonAndRiskSeeTheSameClasses) {
  const std::string csv = WriteFile("r.csv", "sex,v\nNULL,1\n?,2\n,3\nM,4\nM,5\n39.0,6\n39,7\n");
  Result risk = Veil("--json anon risk " + Q(csv) + " --quasi ' sex'");
  ASSERT_EQ(risk.exit_code, 0) << risk.err;
  nlohmann::json rd = ParseJson(risk.out);
  Result kanon = Veil("--json anon kanon " + Q(csv) + " --quasi ' sex' --k 1 --algorithm mondrian -o " +
                      Q(Path("o.csv")));
  ASSERT_EQ(kanon.exit_code, 0) << kanon.err;
  nlohmann::json kd = ParseJson(kanon.out);
  EXPECT_EQ(rd["classes"], 6);
  EXPECT_EQ(kd["risk"]["before"]["classes"], 6);
  EXPECT_EQ(rd["records"], kd["risk"]["before"]["records"]);
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
  const std::string csv = WriteFile("t.csv", kAgesAndDates);
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
  const std::string csv = WriteFile("t.csv", kAgesAndDates);
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
  WriteFile("zip.csv", "12345;123**;*\n");
  Result r =
      Veil("anon kanon " + Q(csv) + " --quasi zip --hierarchies " + Q(Path("")) + " -o " + Q(Path("o.csv")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'zip', row 2"));
  EXPECT_THAT(r.err, Not(HasSubstr("99999")));
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
  // --sensitive without --l would be silently ignored: a usage error.
  r = Veil(base + " --sensitive d");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--sensitive needs --l"));
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
