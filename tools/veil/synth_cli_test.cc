// End-to-end tests of `veil synth` and `veil synth report`: the binary as a user runs it.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// 300 people: age 18..77, sex, city, income (follows age), a visit date, smoker (follows age).
std::string PeopleCsv() {
  std::string csv = "pid,age,sex,city,income,visit,smoker\n";
  const char* cities[] = {"Lyon", "Paris", "Nice"};
  for (int i = 0; i < 300; ++i) {
    const int age = 18 + (i * 7) % 60;
    csv += 'P';
    csv += std::to_string(1000 + i);
    csv += ',';
    csv += std::to_string(age);
    csv += i % 2 == 0 ? ",F," : ",M,";
    csv += cities[i % 3];
    csv += ',';
    csv += std::to_string(1000 + age * 37);
    csv += ".5,2024-0";
    csv += std::to_string(1 + i % 9);
    csv += age > 50 ? "-15,true\n" : "-15,false\n";
  }
  return csv;
}

// Public facts about the columns, equal-width bins: no DP step is needed for the coding.
constexpr char kSpec[] = R"({"bins": 8, "binning": "equal-width", "columns": {
  "age": {"lower": 18, "upper": 80},
  "income": {"lower": 0, "upper": 5000, "bins": 10},
  "visit": {"lower": "2024-01-01", "upper": "2024-12-31", "bins": 12},
  "sex": {"values": ["F", "M"]},
  "city": {"values": ["Lyon", "Nice", "Paris"]}}})";

class SynthCliTest : public VeilCliTest {
 protected:
  void InitPeople() {
    ASSERT_EQ(Ws("init --quiet").exit_code, 0);
    const std::string csv = WriteFile("people.csv", PeopleCsv());
    Result ingest =
        Ws("ingest " + Q(csv) + " --dataset people --subject-column pid --purpose research --quiet");
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
    spec_ = WriteFile("spec.json", kSpec);
  }
  std::string spec_;
};

TEST_F(SynthCliTest, WorkspaceSynthIsChargedAuditedAndRefusedOverBudget) {
  InitPeople();
  // No budget yet: refused (3), nothing written.
  Result none = Ws("synth --dataset people --purpose research --epsilon 1 --delta 1e-6 --spec " + spec_ +
                   " -o " + Path("none.csv"));
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_FALSE(std::filesystem::exists(Path("none.csv")));
  ASSERT_EQ(Ws("budget set people --epsilon 1.5 --delta 1e-5 --quiet").exit_code, 0);

  const uint64_t before = AuditSize();
  Result r =
      Ws("--json synth --dataset people --purpose research --epsilon 1 --delta 1e-6 --rows 500 "
         "--method mst --spec " +
         spec_ + " -o " + Path("out.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["rows"], 500);
  EXPECT_LE(doc["charge"]["epsilon"].get<double>(), 1.0);
  EXPECT_GT(doc["charge"]["epsilon"].get<double>(), 0.999);
  EXPECT_EQ(doc["charge"]["delta"], 1e-6);
  EXPECT_NEAR(doc["budget"]["remaining"]["epsilon"].get<double>(), 0.5, 1e-3);
  // The output: the dataset's columns minus the subject column, typed as the input.
  const std::string out = Slurp(Path("out.csv"));
  EXPECT_THAT(out, StartsWith("age,sex,city,income,visit,smoker\n"));
  EXPECT_THAT(out, Not(HasSubstr("P10")));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 501);
  Result inspect = Veil("--json inspect " + Path("out.csv"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const nlohmann::json cols = ParseJson(inspect.out)["columns"];
  ASSERT_EQ(cols.size(), 6u);
  EXPECT_EQ(cols[0]["type"], "int64");
  EXPECT_EQ(cols[3]["type"], "double");
  EXPECT_EQ(cols[4]["type"], "date");
  EXPECT_EQ(cols[5]["type"], "bool");
  // The sidecar: parameters and every measurement, and the ledger's charge.
  const nlohmann::json side = ParseJson(Slurp(Path("out.csv.synth.json")));
  EXPECT_EQ(side["method"], "mst");
  EXPECT_EQ(side["source"]["ledger"], true);
  EXPECT_EQ(side["source"]["dataset"], "people");
  EXPECT_EQ(side["measurements"].size(), 6u + 2 * 5u) << "MST: d 1-way, d-1 selections, d-1 2-way";
  EXPECT_EQ(side["seeded"], false);
  // The ledger and the audit log show it.
  const nlohmann::json budget = ParseJson(Ws("--json budget people").out);
  ASSERT_EQ(budget["charges"].size(), 1u) << budget.dump();
  EXPECT_EQ(budget["charges"][0]["operation"], "synth");
  const nlohmann::json log = AuditLog();
  ASSERT_GT(log["entries"].size(), before);
  EXPECT_EQ(log["entries"][before]["action"], "synth");
  EXPECT_EQ(log["entries"][before]["decision"], "allowed");

  // Over budget: refused with 3 before anything is read, and audited; no output.
  Result over = Ws("synth --dataset people --purpose research --epsilon 1 --delta 1e-6 --spec " + spec_ +
                   " -o " + Path("over.csv"));
  EXPECT_EQ(over.exit_code, 3);
  EXPECT_THAT(over.err,
              HasSubstr("refused: the privacy budget of dataset \"people\" does not cover this synth"));
  EXPECT_FALSE(std::filesystem::exists(Path("over.csv")));
  // Purpose not declared, role missing: refused.
  EXPECT_EQ(
      Ws("synth --dataset people --purpose ads --epsilon 0.1 --delta 1e-6 -o " + Path("x.csv")).exit_code, 3);
  EXPECT_EQ(Ws("synth --dataset people --purpose research --epsilon 0.1 --delta 1e-6 -o " + Path("x.csv"),
               "mallory")
                .exit_code,
            3);
  // The test seed is refused on workspace data, even with the test variable.
  Result seeded =
      Run("VEIL_TEST_SEED_OK=1 VEIL_WORKSPACE=" + Q(ws_.string()) + " VEIL_ACTOR=alice ",
          "synth --dataset people --purpose research --epsilon 0.1 --delta 1e-6 --seed 3 -o " + Path("x.csv"),
          "");
  EXPECT_EQ(seeded.exit_code, 2);
  EXPECT_THAT(seeded.err, HasSubstr("refused on workspace datasets"));
  EXPECT_NEAR(ParseJson(Ws("--json budget people").out)["spent"]["epsilon"].get<double>(), 1.0, 1e-3)
      << "nothing else was charged";
}

TEST_F(SynthCliTest, DefaultDpDiscretizationIsChargedToo) {
  InitPeople();
  ASSERT_EQ(Ws("budget set people --epsilon 10 --delta 1e-5 --quiet").exit_code, 0);
  Result r =
      Ws("--json synth --dataset people --purpose research --epsilon 8 --delta 1e-6 -o " + Path("dp.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json side = ParseJson(r.out)["privacy"];
  std::vector<std::string> names;
  for (const auto& m : side["measurements"]) names.push_back(m["name"]);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"bounds (age)", "quantiles (age)", "values (sex)",
                                              "values (city)", "bounds (visit)", "quantiles (visit)"}));
  // Quantile bins of integer columns decode to integers of the column inside the DP bounds.
  const nlohmann::json age = side["coding"][0];
  ASSERT_EQ(age["name"], "age");
  EXPECT_EQ(age["binning"], "quantiles");
  ASSERT_TRUE(age["starts"].is_array());
  EXPECT_EQ(age["starts"][0].get<double>(), age["lower"].get<double>());
  EXPECT_GT(side["rho"]["discretization"].get<double>(), 0);
  EXPECT_GT(side["selection_delta"].get<double>(), 0);
  EXPECT_LE(side["rho"]["spent"].get<double>(), side["rho"]["total"].get<double>());
}

// Few categories and no spec on a small table: at epsilon 0.1 the DP value selection needs a value to have
// about 2,250 rows to keep it (Gaussian threshold tau; the noise sigma is ~tau / 5.3, so a value of 100 or
// 150 rows is kept with probability below 1e-20), so nothing is released and the user is told (stderr and the
// sidecar's "warnings"); at epsilon 8 the same values (300 people, 150 per sex, 100 per city; tau about 60)
// are kept. The sidecar carries the decoding knots of the quantile bins.
TEST_F(SynthCliTest, FewCategoriesWithoutASpecAreKeptOrWarnedAbout) {
  const std::string csv = WriteFile("people.csv", PeopleCsv());
  // Seeded (tests only) so that the noisy selection is reproducible.
  const std::string base = "synth " + csv + " --subject-column pid --delta 1e-6 --seed 3 ";
  Result low = Run("VEIL_TEST_SEED_OK=1 ", base + "--epsilon 0.1 -o " + Path("low.csv"), "");
  ASSERT_EQ(low.exit_code, 0) << low.err;
  EXPECT_THAT(low.err, HasSubstr("warning: column \"city\": the DP value selection kept no value"));
  EXPECT_THAT(low.err, HasSubstr("warning: column \"sex\": the DP value selection kept no value"));
  EXPECT_THAT(low.err, HasSubstr("rows to be kept"));
  const nlohmann::json low_side = ParseJson(Slurp(Path("low.csv.synth.json")));
  ASSERT_TRUE(low_side["warnings"].is_array());
  EXPECT_EQ(low_side["warnings"].size(), 2u);
  Result high = Run("VEIL_TEST_SEED_OK=1 ", base + "--epsilon 8 -o " + Path("high.csv"), "");
  ASSERT_EQ(high.exit_code, 0) << high.err;
  EXPECT_THAT(high.err, Not(HasSubstr("warning")));
  const nlohmann::json side = ParseJson(Slurp(Path("high.csv.synth.json")));
  EXPECT_TRUE(side["warnings"].empty());
  for (const auto& c : side["coding"]) {
    if (c["name"] == "city") {
      EXPECT_EQ(c["values"], nlohmann::json({"Lyon", "Nice", "Paris"}));
    }
    if (c["name"] == "sex") {
      EXPECT_EQ(c["values"], nlohmann::json({"F", "M"}));
    }
    if (c["name"] == "age") {
      ASSERT_TRUE(c["quantiles"].is_array());
      EXPECT_GE(c["quantiles"].size(), 17u);
    }
  }
  EXPECT_THAT(Slurp(Path("high.csv")), HasSubstr(",Paris,"));
}

TEST_F(SynthCliTest, PlainCsvModeHasNoLedgerAndTheTestSeedReproduces) {
  const std::string csv = WriteFile("people.csv", PeopleCsv());
  const std::string spec = WriteFile("spec.json", kSpec);
  const std::string args = "synth " + csv + " --subject-column pid --epsilon 2 --delta 1e-6 --spec " + spec;
  Result refused = Veil(args + " --seed 7 -o " + Path("a.csv"));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("VEIL_TEST_SEED_OK=1"));
  Result a = Run("VEIL_TEST_SEED_OK=1 ", args + " --seed 7 -o " + Path("a.csv"), "");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_THAT(a.err, HasSubstr("plain-CSV mode: no workspace, so nothing was charged"));
  Result b = Run("VEIL_TEST_SEED_OK=1 ", args + " --seed 7 -o " + Path("b.csv"), "");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  Result c = Run("VEIL_TEST_SEED_OK=1 ", args + " --seed 8 -o " + Path("c.csv"), "");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(Slurp(Path("a.csv")), Slurp(Path("b.csv"))) << "same seed, same rows";
  EXPECT_NE(Slurp(Path("a.csv")), Slurp(Path("c.csv")));
  const nlohmann::json side = ParseJson(Slurp(Path("a.csv.synth.json")));
  EXPECT_EQ(side["source"]["ledger"], false);
  EXPECT_EQ(side["seeded"], true);
  // Without a seed, two runs differ (fresh noise).
  ASSERT_EQ(Veil(args + " --quiet -o " + Path("d.csv")).exit_code, 0);
  ASSERT_EQ(Veil(args + " --quiet -o " + Path("e.csv")).exit_code, 0);
  EXPECT_NE(Slurp(Path("d.csv")), Slurp(Path("e.csv")));
  // --method mst (the fast option) runs too: d 1-way marginals, d - 1 selections, d - 1 2-way marginals.
  Result mst = Veil(args + " --method mst --quiet -o " + Path("mst.csv"));
  EXPECT_EQ(mst.exit_code, 0) << mst.err;
  const nlohmann::json mst_side = ParseJson(Slurp(Path("mst.csv.synth.json")));
  EXPECT_EQ(mst_side["method"], "mst");
  EXPECT_EQ(mst_side["measurements"].size(), 6u + 2 * 5u);
}

// Without --method the synthesizer is AIM (the one that meets issue 8's quality targets), in both modes, and
// every place that reports the run says so: the sidecar, --json, the text summary, the ledger's charge. Its
// measurements are AIM's (d 1-way marginals, then a selection and a measurement per round), not MST's edges.
TEST_F(SynthCliTest, DefaultMethodIsAimAndIsReported) {
  const auto expect_aim = [](const nlohmann::json& side) {
    EXPECT_EQ(side["method"], "aim");
    const nlohmann::json& m = side["measurements"];
    ASSERT_GE(m.size(), 6u + 2u) << m.dump();
    EXPECT_THAT(m[0]["name"].get<std::string>(), StartsWith("1-way marginal ("));
    EXPECT_EQ(m[6]["name"], "select marginal 1");
    EXPECT_EQ((m.size() - 6) % 2, 0u) << "a selection and a measurement per round";
    for (const auto& e : m) EXPECT_THAT(e["name"].get<std::string>(), Not(HasSubstr("select edge")));
  };
  const std::string csv = WriteFile("people.csv", PeopleCsv());
  const std::string spec = WriteFile("spec.json", kSpec);
  const std::string args = "synth " + csv + " --subject-column pid --epsilon 2 --delta 1e-6 --spec " + spec;
  Result json = Veil("--json " + args + " -o " + Path("j.csv"));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  expect_aim(ParseJson(json.out)["privacy"]);
  expect_aim(ParseJson(Slurp(Path("j.csv.synth.json"))));
  Result text = Veil(args + " -o " + Path("t.csv"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("(method aim, "));

  InitPeople();
  ASSERT_EQ(Ws("budget set people --epsilon 1 --delta 1e-5 --quiet").exit_code, 0);
  Result ws = Ws("synth --dataset people --purpose research --epsilon 1 --delta 1e-6 --quiet --spec " +
                 spec_ + " -o " + Path("w.csv"));
  ASSERT_EQ(ws.exit_code, 0) << ws.err;
  expect_aim(ParseJson(Slurp(Path("w.csv.synth.json"))));
  const nlohmann::json budget = ParseJson(Ws("--json budget people").out);
  ASSERT_EQ(budget["charges"].size(), 1u) << budget.dump();
  EXPECT_THAT(budget["charges"][0]["description"].get<std::string>(), StartsWith("synthetic data (aim)"));
}

TEST_F(SynthCliTest, ReportWritesHtmlAndJson) {
  const std::string csv = WriteFile("people.csv", PeopleCsv());
  const std::string spec = WriteFile("spec.json", kSpec);
  ASSERT_EQ(Veil("synth " + csv + " --subject-column pid --epsilon 4 --delta 1e-6 --quiet --spec " + spec +
                 " -o " + Path("syn.csv"))
                .exit_code,
            0);
  Result r =
      Veil("--json synth report " + csv + " " + Path("syn.csv") + " --target smoker -o " + Path("r.html"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  ASSERT_EQ(doc["tvd"].size(), 3u);
  EXPECT_GE(doc["tvd"][0]["average"].get<double>(), 0);
  EXPECT_LE(doc["tvd"][0]["average"].get<double>(), doc["tvd"][0]["worst"].get<double>());
  EXPECT_EQ(doc["ignored_columns"], nlohmann::json::array({"pid"}));
  EXPECT_EQ(doc["ml"]["target"], "smoker");
  EXPECT_TRUE(doc["ml"]["ran"].get<bool>());
  EXPECT_GT(doc["ml"]["real"]["accuracy"].get<double>(), 0.9) << "smoker follows age";
  EXPECT_EQ(doc["privacy"]["epsilon"], 4.0);
  EXPECT_EQ(doc["privacy"]["ledger"], false);
  const std::string html = Slurp(Path("r.html"));
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("plain-CSV mode: not charged to any ledger"));
  EXPECT_THAT(html, HasSubstr("Membership check"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  // The sidecar carries the synthesizer's coding, which the report uses by default; --coding real bins the
  // numbers at the real table's quantiles instead.
  const nlohmann::json sidecar = ParseJson(Slurp(Path("syn.csv") + ".synth.json"));
  ASSERT_TRUE(sidecar["coding"].is_array());
  EXPECT_EQ(sidecar["coding"].size(), sidecar["columns"].size());
  EXPECT_EQ(doc["coding_source"], "the synthesizer's coding (sidecar)");
  Result real = Veil("--json synth report " + csv + " " + Path("syn.csv") + " --coding real --target smoker");
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_THAT(ParseJson(real.out)["coding_source"].get<std::string>(), HasSubstr("quantiles"));
  EXPECT_EQ(
      Veil("synth report " + csv + " " + Path("syn.csv") + " --coding nope -o " + Path("r3.html")).exit_code,
      2);
  // Text mode prints a summary.
  Result text = Veil("synth report " + csv + " " + Path("syn.csv") + " -o " + Path("r2.html"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("3-way TVD: average"));
}

TEST_F(SynthCliTest, BadInputExitsWithTwoNamingFileLineAndColumn) {
  const std::string bad = WriteFile("bad.csv", "id,age\n1,34\n2,41,9\n");
  Result r = Veil("synth " + bad + " --epsilon 1 --delta 1e-6 -o " + Path("o.csv"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3"));
  EXPECT_FALSE(std::filesystem::exists(Path("o.csv")));

  const std::string good = WriteFile("good.csv", PeopleCsv());
  const std::string spec = WriteFile("spec.json", R"({"columns": {"age": {"lower": 90, "upper": 10}}})");
  Result s = Veil("synth " + good + " --epsilon 1 --delta 1e-6 --spec " + spec + " -o " + Path("o.csv"));
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_THAT(s.err, HasSubstr("column \"age\": bounds must be finite with lower <= upper"));
  const std::string typo = WriteFile("typo.json", R"({"columns": {"agee": {"lower": 1, "upper": 2}}})");
  Result t = Veil("synth " + good + " --epsilon 1 --delta 1e-6 --spec " + typo + " -o " + Path("o.csv"));
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_THAT(t.err, HasSubstr("typo.json: column \"agee\": the data has no such column"));
  for (const std::string& args :
       {"synth " + good + " --epsilon 0 --delta 1e-6 -o o.csv",
        "synth " + good + " --epsilon 1 --delta 1 -o o.csv", "synth " + good + " --epsilon 1 --delta 1e-6",
        "synth " + good + " --epsilon 1 --delta 1e-6 --method gan -o o.csv",
        std::string("synth --epsilon 1 --delta 1e-6 -o o.csv")}) {
    EXPECT_EQ(Veil(args).exit_code, 2) << args;
  }
  const std::string bad_synth = WriteFile("bs.csv", "age,town\n1,x\n");
  Result rep = Veil("synth report " + good + " " + bad_synth + " -o " + Path("r.html"));
  EXPECT_EQ(rep.exit_code, 2);
  EXPECT_THAT(rep.err, HasSubstr("bs.csv: column \"town\" is not in"));
}

}  // namespace
}  // namespace veil::cli::testing
