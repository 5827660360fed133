// End-to-end tests of `veil train`, `evaluate`, `fairness`, `decide` and `model` on a sample of UCI Adult
// (../shared/data/adult, read from the repository root) with a generated subject id column.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kMetadata[] = "examples/data/adult_ml_metadata.json";

// The first `n` rows of an Adult file as CSV with a header and a subject id column "person_id" (prefix +
// row number); trailing "." of the test file's labels removed.
std::string AdultCsv(const std::string& path, int n, const std::string& prefix) {
  std::ifstream in(path);
  std::string out =
      "person_id,age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,"
      "sex,"
      "capital-gain,capital-loss,hours-per-week,native-country,income\n";
  std::string line;
  int i = 0;
  while (i < n && std::getline(in, line)) {
    if (line.empty() || line[0] == '|') continue;
    std::string row;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      const size_t a = cell.find_first_not_of(' ');
      cell = a == std::string::npos ? "" : cell.substr(a);
      if (!row.empty()) row += ',';
      row += cell;
    }
    if (!row.empty() && row.back() == '.') row.pop_back();
    out += prefix + std::to_string(10000 + i) + "," + row + "\n";
    ++i;
  }
  return out;
}

class MlCliTest : public VeilCliTest {
 protected:
  void InitAdult(int rows = 3000) {
    ASSERT_EQ(Ws("init --quiet").exit_code, 0);
    train_ = WriteFile("adult.csv", AdultCsv("../shared/data/adult/adult_train.csv", rows, "A"));
    test_ = WriteFile("adult_test.csv", AdultCsv("../shared/data/adult/adult_test.csv", 1500, "T"));
    Result ingest = Ws("ingest " + Q(train_) +
                       " --dataset adult --subject-column person_id --purpose credit.scoring --quiet");
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  }
  Result TrainPlain(const std::string& name, const std::string& extra = "") {
    return Ws("--json train --dataset adult --target income --purpose credit.scoring -o " + name + " " +
              extra);
  }
  Result TrainDp(const std::string& name, const std::string& eps, const std::string& actor = "alice") {
    return Ws("--json train --dataset adult --target income --model logreg --epsilon " + eps +
                  " --delta 1e-6 --metadata " + std::string(kMetadata) + " --purpose credit.scoring -o " +
                  name,
              actor);
  }
  std::string train_, test_;
};

TEST_F(MlCliTest, NonPrivateAndDpTrainingAreRegisteredChargedAndRefusedOverBudget) {
  InitAdult();
  Result plain = TrainPlain("loans-plain");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  nlohmann::json p = ParseJson(plain.out);
  EXPECT_EQ(p["version"], 1);
  EXPECT_EQ(p["privacy"]["mode"], "non-private");
  EXPECT_EQ(p["metrics"]["n"], 600) << "held-out 20% of 3,000";
  EXPECT_GT(p["metrics"]["accuracy"].get<double>(), 0.78);
  EXPECT_GT(p["metrics"]["auc"].get<double>(), 0.85);

  // DP without a budget: refused (3), nothing registered.
  Result none = TrainDp("loans-dp", "1");
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_THAT(none.err, HasSubstr("refused"));
  ASSERT_EQ(Ws("budget set adult --epsilon 1.5 --delta 1e-5 --quiet").exit_code, 0);
  Result dp = TrainDp("loans-dp", "1");
  ASSERT_EQ(dp.exit_code, 0) << dp.err;
  nlohmann::json d = ParseJson(dp.out);
  EXPECT_EQ(d["privacy"]["mode"], "dp-sgd");
  EXPECT_LE(d["charge"]["epsilon"].get<double>(), 1.0 + 1e-9);
  EXPECT_GT(d["charge"]["epsilon"].get<double>(), 0.99);
  EXPECT_EQ(d["charge"]["delta"], 1e-6);
  EXPECT_GT(d["privacy"]["noise_multiplier"].get<double>(), 1.0);
  // No exact metrics on held-out subjects (that would not be private): only a --test file is evaluated.
  EXPECT_FALSE(d["metrics"].contains("n")) << d["metrics"].dump();
  EXPECT_FALSE(d["metrics"].contains("confusion"));
  // The ledger shows the charge.
  const nlohmann::json budget = ParseJson(Ws("--json budget adult").out);
  ASSERT_EQ(budget["charges"].size(), 1u) << budget.dump();
  EXPECT_EQ(budget["charges"][0]["operation"], "train");
  EXPECT_THAT(budget["charges"][0]["description"].get<std::string>(), HasSubstr("DP-SGD logreg"));
  EXPECT_NEAR(budget["remaining"]["epsilon"].get<double>(), 0.5, 0.01);

  // The card: data, purpose, privacy cost, metrics.
  Result show = Ws("--json model show loans-dp");
  ASSERT_EQ(show.exit_code, 0) << show.err;
  nlohmann::json card = ParseJson(show.out);
  EXPECT_EQ(card["name"], "loans-dp");
  EXPECT_EQ(card["created_by"], "alice");
  EXPECT_EQ(card["dataset"], "adult");
  EXPECT_EQ(card["purpose"], "credit.scoring");
  EXPECT_EQ(card["kind"], "logreg");
  EXPECT_EQ(card["features"]["columns"].size(), 14u);
  for (const char* k : {"epsilon", "delta", "noise_multiplier", "sampling_rate", "steps", "clip_norm"})
    EXPECT_TRUE(card["privacy"].contains(k)) << k;
  EXPECT_EQ(card["privacy"]["charge_id"], budget["charges"][0]["id"]);
  EXPECT_FALSE(card["metrics"].contains("auc"));
  Result text = Ws("model show loans-dp");
  EXPECT_THAT(text.out, HasSubstr("privacy     DP-SGD: epsilon 0.99"));
  Result list = Ws("model list");
  EXPECT_THAT(list.out, HasSubstr("loans-plain"));
  EXPECT_THAT(list.out, HasSubstr("non-private"));

  // Over budget: refused with 3, audited, no new version.
  const uint64_t before = AuditSize();
  Result over = TrainDp("loans-dp", "1");
  EXPECT_EQ(over.exit_code, 3);
  EXPECT_THAT(over.err,
              HasSubstr("refused: the privacy budget of dataset \"adult\" does not cover this train"));
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["entries"].size(), before + 1);
  EXPECT_EQ(log["entries"][before]["action"], "train");
  EXPECT_EQ(log["entries"][before]["decision"], "denied");
  EXPECT_EQ(ParseJson(Ws("--json model show loans-dp").out)["versions"], 1);
  // A second non-private training is version 2.
  Result again = TrainPlain("loans-plain", "--test " + Q(test_));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ParseJson(again.out)["version"], 2);
  EXPECT_EQ(ParseJson(again.out)["metrics"]["n"], 1500);
}

TEST_F(MlCliTest, NonPrivateTrainingAndExactMetricsAreForOwners) {
  InitAdult(1000);
  ASSERT_EQ(Ws("grant bob analyst --quiet").exit_code, 0);
  Result r = Ws("train --dataset adult --target income --purpose credit.scoring -o m", "bob");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("train.nonprivate needs the role owner"));
  ASSERT_EQ(TrainPlain("m").exit_code, 0);
  EXPECT_EQ(Ws("evaluate --model m --dataset adult --purpose credit.scoring", "bob").exit_code, 3);
  EXPECT_EQ(Ws("train --dataset adult --target income -o m2").exit_code, 3) << "a purpose is required";
  // The analyst may read cards and evaluate on a file of their own.
  EXPECT_EQ(Ws("model show m", "bob").exit_code, 0);
  // A non-private model's parameters and pipeline (category lists, exact means) are for owners: an analyst
  // may neither export it nor run decisions with it (refused with 3 and audited, before the input is read).
  const uint64_t before = AuditSize();
  Result exported = Ws("model export m -o " + Q(Path("m.json")), "bob");
  EXPECT_EQ(exported.exit_code, 3) << exported.err;
  EXPECT_THAT(exported.err, HasSubstr("trained without differential privacy needs the role owner"));
  EXPECT_FALSE(std::filesystem::exists(Path("m.json")));
  Result decided = Ws("decide --model m " + Q(test_), "bob");
  EXPECT_EQ(decided.exit_code, 3) << decided.err;
  const nlohmann::json denials = AuditLog();
  ASSERT_EQ(denials["entries"].size(), before + 2);
  EXPECT_EQ(denials["entries"][before]["action"], "model.export");
  EXPECT_EQ(denials["entries"][before]["decision"], "denied");
  EXPECT_EQ(denials["entries"][before + 1]["action"], "decide");
  EXPECT_EQ(denials["entries"][before + 1]["decision"], "denied");
  // decide needs a purpose declared for the model's dataset, checked before the input is transformed.
  Result undeclared = Ws("decide --model m --purpose marketing " + Q(test_));
  EXPECT_EQ(undeclared.exit_code, 3) << undeclared.err;
  EXPECT_THAT(undeclared.err, HasSubstr("purpose \"marketing\" is not declared"));
  const std::string bad = WriteFile("bad_rows.csv", "person_id,age\nX1,notanumber\n");
  EXPECT_EQ(Ws("decide --model m --purpose marketing " + Q(bad)).exit_code, 3)
      << "refused for the purpose before the input is transformed";
  Result file = Ws("--json evaluate --model m " + Q(test_), "bob");
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(ParseJson(file.out)["metrics"]["n"], 1500);
  // The owner's evaluation on the dataset is stored in the card.
  ASSERT_EQ(Ws("evaluate --model m --dataset adult --purpose credit.scoring --quiet").exit_code, 0);
  EXPECT_EQ(ParseJson(Ws("--json model show m").out)["evaluations"].size(), 1u);
}

TEST_F(MlCliTest, OneClassTestFileLeavesAucOutAndTheCardReads) {
  InitAdult(1000);
  std::istringstream all(AdultCsv("../shared/data/adult/adult_test.csv", 400, "T"));
  std::string line, one;
  while (std::getline(all, line)) {
    if (one.empty() || line.ends_with(",<=50K")) one += line + "\n";
  }
  const std::string path = WriteFile("one_class.csv", one);
  Result r = TrainPlain("m", "--test " + Q(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(ParseJson(r.out)["metrics"].contains("auc"));
  Result show = Ws("model show m");
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("AUC n/a"));
  EXPECT_EQ(Ws("--json model show m").exit_code, 0);
}

TEST_F(MlCliTest, FairnessPrintsGroupsAndVerdictsAndStoresThemInTheCard) {
  InitAdult();
  ASSERT_EQ(TrainPlain("loans").exit_code, 0);
  Result r = Ws("fairness --model loans --dataset adult --protected sex,race --purpose credit.scoring");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Female"));
  EXPECT_THAT(r.out, HasSubstr("selection"));
  EXPECT_THAT(r.out, HasSubstr("sex: FAIL (disparate impact"));
  EXPECT_THAT(r.out, HasSubstr("\nrace: "));
  Result j = Ws("--json fairness --model loans --dataset adult --protected sex --purpose credit.scoring");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const nlohmann::json f = ParseJson(j.out)["fairness"];
  ASSERT_EQ(f["attributes"].size(), 1u);
  const nlohmann::json& sex = f["attributes"][0];
  EXPECT_EQ(sex["groups"].size(), 2u);
  EXPECT_LT(sex["disparate_impact_ratio"].get<double>(), 0.8);
  EXPECT_EQ(sex["verdict"], "FAIL");
  const nlohmann::json card = ParseJson(Ws("--json model show loans").out);
  EXPECT_EQ(card["fairness"]["attributes"][0]["attribute"], "sex");
  EXPECT_THAT(Ws("model show loans").out, HasSubstr("sex: FAIL"));
  // The owner sees every group; the card, which analysts and auditors read, keeps only the compared ones
  // (the sample holds 29 Amer-Indian-Eskimo and 13 Other: below min_group_size 30).
  Result race = Ws("--json fairness --model loans --dataset adult --protected race --purpose credit.scoring");
  ASSERT_EQ(race.exit_code, 0) << race.err;
  EXPECT_EQ(ParseJson(race.out)["fairness"]["attributes"][0]["groups"].size(), 5u);
  const nlohmann::json stored = ParseJson(Ws("--json model show loans").out)["fairness"];
  ASSERT_EQ(stored["min_group_size"], 30) << stored.dump();
  const nlohmann::json& groups = stored["attributes"][0]["groups"];
  EXPECT_EQ(groups.size(), 3u) << groups.dump();
  EXPECT_EQ(stored["attributes"][0]["suppressed_groups"], 2);
  for (const auto& group : groups) EXPECT_GE(group["count"].get<int64_t>(), 30) << group.dump();
  EXPECT_THAT(stored.dump(), Not(HasSubstr("Amer-Indian-Eskimo")));
  EXPECT_EQ(
      Ws("fairness --model loans --dataset adult --protected religion --purpose credit.scoring").exit_code,
      2);
}

TEST_F(MlCliTest, DecisionsAreExplainedAndAuditedUnderPseudonymsOnly) {
  InitAdult(1500);
  ASSERT_EQ(TrainPlain("loans").exit_code, 0);
  const std::string applicants =
      WriteFile("applicants.csv", AdultCsv("../shared/data/adult/adult_test.csv", 4, "T"));
  const uint64_t before = AuditSize();
  Result r = Ws("--json decide --model loans " + Q(applicants) + " --top 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  ASSERT_EQ(doc["decisions"].size(), 4u);
  std::vector<std::string> pseudonyms;
  for (const auto& d : doc["decisions"]) {
    EXPECT_TRUE(d["decision"] == "<=50K" || d["decision"] == ">50K") << d;
    EXPECT_EQ(d["top"].size(), 2u);
    // Exact linear contributions: base + contributions = logit; the top ones are the largest.
    EXPECT_GE(std::abs(d["top"][0]["contribution"].get<double>()),
              std::abs(d["top"][1]["contribution"].get<double>()));
    EXPECT_TRUE(IsLowerHex(d["pseudonym"], 64));
    pseudonyms.push_back(d["pseudonym"]);
  }
  EXPECT_EQ(doc["decisions"][0]["subject"], "T10000");
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["entries"].size(), before + 4);
  for (int i = 0; i < 4; ++i) {
    const nlohmann::json& e = log["entries"][before + i];
    EXPECT_EQ(e["action"], "decide");
    EXPECT_EQ(e["decision"], "allowed");
    EXPECT_EQ(e["purpose"], "credit.scoring");
    ASSERT_EQ(e["subject_pseudonyms"].size(), 1u);
    EXPECT_EQ(e["subject_pseudonyms"][0], pseudonyms[i]);
  }
  EXPECT_THAT(log.dump(), Not(HasSubstr("T1000"))) << "no raw subject id in the audit log";
  // The same subject gets the same pseudonym (so their request finds every decision), a new one another.
  Result again = Ws("--json decide --model loans " + Q(applicants));
  EXPECT_EQ(ParseJson(again.out)["decisions"][0]["pseudonym"], pseudonyms[0]);
  EXPECT_NE(pseudonyms[0], pseudonyms[1]);
  // Text output.
  Result text = Ws("decide --model loans " + Q(applicants));
  EXPECT_THAT(text.out, HasSubstr("top contributions (exact, log-odds)"));
  EXPECT_THAT(text.out, HasSubstr("T10003"));
  // No subject column: refused as bad input, nothing audited.
  const std::string anonymous = WriteFile("anon.csv", "age,workclass\n40,Private\n");
  const uint64_t size = AuditSize();
  Result bad = Ws("decide --model loans " + Q(anonymous));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("no subject column \"person_id\""));
  EXPECT_EQ(AuditSize(), size);
}

// The subject's pseudonym (the audit log's key for the person) is printed to owners only: to an analyst it
// would be an oracle from ids to pseudonyms. A category the model never saw still gets a decision (encoded
// as no category) and is said per row: in the record (JSON), the text table's note column, and the audit
// entry's reason, by column name only (never the value).
TEST_F(MlCliTest, PseudonymsAreForOwnersAndUnknownCategoriesAreSaidPerDecision) {
  InitAdult(1000);
  ASSERT_EQ(Ws("budget set adult --epsilon 2 --delta 1e-5 --quiet").exit_code, 0);
  ASSERT_EQ(TrainDp("loans", "1").exit_code, 0);
  ASSERT_EQ(Ws("grant bob analyst --quiet").exit_code, 0);
  std::string csv = AdultCsv("../shared/data/adult/adult_test.csv", 3, "T");
  // Row 2: an unknown workclass and an unknown native country.
  const size_t second = csv.find("\nT10001,") + 1;
  const size_t end = csv.find('\n', second);
  std::vector<std::string> cells;
  std::stringstream row(csv.substr(second, end - second));
  for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
  ASSERT_EQ(cells.size(), 16u);
  cells[2] = "Astronaut";
  cells[14] = "Atlantis";
  std::string replaced;
  for (const std::string& cell : cells) replaced += (replaced.empty() ? "" : ",") + cell;
  csv.replace(second, end - second, replaced);
  const std::string applicants = WriteFile("applicants.csv", csv);

  const uint64_t before = AuditSize();
  Result owner = Ws("--json decide --model loans " + Q(applicants));
  ASSERT_EQ(owner.exit_code, 0) << owner.err;
  const nlohmann::json o = ParseJson(owner.out);
  ASSERT_EQ(o["decisions"].size(), 3u);
  EXPECT_EQ(o["unknown_category_rows"], 1);
  EXPECT_TRUE(o["decisions"][0]["unknown_categories"].empty());
  EXPECT_EQ(o["decisions"][1]["unknown_categories"], nlohmann::json({"workclass", "native-country"}));
  EXPECT_TRUE(o["decisions"][1]["decision"] == "<=50K" || o["decisions"][1]["decision"] == ">50K");
  const std::string pseudonym = o["decisions"][1]["pseudonym"];
  EXPECT_TRUE(IsLowerHex(pseudonym, 64));
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["entries"].size(), before + 3);
  EXPECT_THAT(log["entries"][before + 1]["reason"].get<std::string>(),
              HasSubstr("unknown category in column workclass, native-country (encoded as no category)"));
  EXPECT_THAT(log["entries"][before]["reason"].get<std::string>(), Not(HasSubstr("unknown")));
  EXPECT_THAT(log.dump(), Not(HasSubstr("Astronaut")));
  EXPECT_THAT(log.dump(), Not(HasSubstr("Atlantis")));

  Result text = Ws("decide --model loans " + Q(applicants));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("unknown category in workclass, native-country"));
  EXPECT_THAT(text.out, HasSubstr("1 of them had a category the model never saw"));
  EXPECT_THAT(text.out, Not(HasSubstr("Astronaut")));

  // The analyst gets the same decisions without any pseudonym; the entries still carry it.
  Result analyst = Ws("--json decide --model loans " + Q(applicants), "bob");
  ASSERT_EQ(analyst.exit_code, 0) << analyst.err;
  const nlohmann::json a = ParseJson(analyst.out);
  ASSERT_EQ(a["decisions"].size(), 3u);
  for (const auto& d : a["decisions"]) EXPECT_FALSE(d.contains("pseudonym")) << d;
  EXPECT_THAT(analyst.out, Not(HasSubstr(pseudonym)));
  EXPECT_EQ(a["decisions"][1]["subject"], "T10001");
  EXPECT_EQ(a["decisions"][1]["unknown_categories"], o["decisions"][1]["unknown_categories"]);
  EXPECT_THAT(Ws("decide --model loans " + Q(applicants), "bob").out, Not(HasSubstr(pseudonym)));
  const nlohmann::json after = AuditLog();
  EXPECT_EQ(after["entries"].back()["actor"], "bob");
  EXPECT_EQ(after["entries"].back()["subject_pseudonyms"][0],
            ParseJson(Ws("--json decide --model loans " + Q(applicants)).out)["decisions"][2]["pseudonym"]);
}

TEST_F(MlCliTest, ExportIsTheHeScoringFormatAndScoresTheSameUnderEncryption) {
  InitAdult(1500);
  ASSERT_EQ(TrainPlain("small", "--features age,hours-per-week,education-num").exit_code, 0);
  Result exp = Ws("--json model export small -o " + Q(Path("small.json")));
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  const nlohmann::json m = ParseJson(Slurp(Path("small.json")));
  EXPECT_EQ(m["format"], "veil-linear-model");
  EXPECT_EQ(m["features"], nlohmann::json({"age", "hours-per-week", "education-num"}));
  EXPECT_EQ(m["weights"].size(), 3u);
  // The round trip: the customer's features encrypted, scored by `veil he score`, decrypted; the logits
  // match the plaintext ones of `veil decide`.
  const std::string people = WriteFile("people.csv",
                                       "person_id,age,hours-per-week,education-num\n"
                                       "P1,25,40,9\nP2,52,60,14\nP3,38,20,11\n");
  ASSERT_EQ(Veil("he keygen --quiet -o " + Q(Path("keys"))).exit_code, 0);
  Result enc = Veil("he encrypt --quiet " + Q(people) + " --keys " + Q(Path("keys")) + " --model " +
                    Q(Path("small.json")) + " -o " + Q(Path("q.bin")));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  Result sc = Veil("he score --quiet " + Q(Path("q.bin")) + " --model " + Q(Path("small.json")) + " --keys " +
                   Q(Path("keys/public")) + " -o " + Q(Path("r.bin")));
  ASSERT_EQ(sc.exit_code, 0) << sc.err;
  Result de = Veil("he decrypt --quiet " + Q(Path("r.bin")) + " --keys " + Q(Path("keys")) + " -o " +
                   Q(Path("scores.csv")));
  ASSERT_EQ(de.exit_code, 0) << de.err;
  std::ifstream in(Path("scores.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<double> he;
  while (std::getline(in, line)) he.push_back(std::stod(line.substr(line.find(',') + 1)));
  Result plain = Ws("--json decide --model small " + Q(people));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const nlohmann::json decisions = ParseJson(plain.out)["decisions"];
  ASSERT_EQ(he.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(he[i], decisions[i]["logit"].get<double>(), 1e-3) << i;
  // The export is audited.
  int exports = 0;
  const nlohmann::json entries = AuditLog()["entries"];
  for (const auto& e : entries) exports += e["action"] == "model.export" ? 1 : 0;
  EXPECT_EQ(exports, 1);
  // An MLP has no HE format: refused with a clear message.
  ASSERT_EQ(Ws("train --quiet --dataset adult --target income --model mlp --hidden 8 --epochs 2 --purpose "
               "credit.scoring -o deep")
                .exit_code,
            0);
  Result mlp = Ws("model export deep -o " + Q(Path("deep.json")));
  EXPECT_EQ(mlp.exit_code, 2);
  EXPECT_THAT(mlp.err, HasSubstr("is an MLP"));
  EXPECT_FALSE(std::filesystem::exists(Path("deep.json")));
  // The MLP's decisions are explained by integrated gradients.
  Result ig = Ws("--json decide --model deep " +
                 Q(WriteFile("one.csv", AdultCsv("../shared/data/adult/adult_test.csv", 1, "T"))));
  ASSERT_EQ(ig.exit_code, 0) << ig.err;
  EXPECT_EQ(ParseJson(ig.out)["decisions"][0]["method"], "integrated gradients");
}

// A DP run that finds nothing to learn (no row has a declared class) still ran on the data: it is charged and
// audited like any other, so a failure or an empty run is no free oracle on the rows.
TEST_F(MlCliTest, DpRunWhoseClassesDoNotOccurIsChargedAndAudited) {
  InitAdult(500);
  ASSERT_EQ(Ws("budget set adult --epsilon 2 --delta 1e-5 --quiet").exit_code, 0);
  const std::string meta =
      WriteFile("nomatch.json",
                "{\"columns\": {\"age\": {\"lower\": 17, \"upper\": 90}}, \"target\": {\"classes\": "
                "[\"never-a\", \"never-b\"]}}");
  const uint64_t before = AuditSize();
  Result r =
      Ws("--json train --dataset adult --target income --features age --epsilon 1 --delta 1e-6 "
         "--metadata " +
         Q(meta) + " --purpose credit.scoring -o m");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json budget = ParseJson(Ws("--json budget adult").out);
  ASSERT_EQ(budget["charges"].size(), 1u) << budget.dump();
  EXPECT_GT(budget["charges"][0]["epsilon"].get<double>(), 0.99);
  const nlohmann::json log = AuditLog();
  ASSERT_EQ(log["entries"].size(), before + 1);
  EXPECT_EQ(log["entries"][before]["action"], "train");
  EXPECT_EQ(log["entries"][before]["decision"], "allowed");
}

// Metadata with a mean and scale but no bounds would let one record's value make (x - mean) / scale overflow
// (and the run fail on it): refused before anything is reserved or read.
TEST_F(MlCliTest, DpTrainingNeedsBoundsForEveryNumericFeature) {
  InitAdult(500);
  ASSERT_EQ(Ws("budget set adult --epsilon 2 --delta 1e-5 --quiet").exit_code, 0);
  const std::string meta =
      WriteFile("oracle.json",
                "{\"columns\": {\"age\": {\"mean\": 50, \"scale\": 1e-300}}, \"target\": {\"classes\": "
                "[\"<=50K\", \">50K\"]}}");
  const uint64_t before = AuditSize();
  Result r = Ws("train --dataset adult --target income --features age --epsilon 1 --delta 1e-6 --metadata " +
                Q(meta) + " --purpose credit.scoring -o m");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("needs public bounds"));
  EXPECT_EQ(AuditSize(), before);
  EXPECT_TRUE(ParseJson(Ws("--json budget adult").out)["charges"].empty());
}

TEST_F(MlCliTest, BadInputExitsTwo) {
  InitAdult(500);
  EXPECT_EQ(
      Ws("train --dataset adult --target income --model forest --purpose credit.scoring -o m").exit_code, 2);
  Result nocol = Ws("train --dataset adult --target salary --purpose credit.scoring -o m");
  EXPECT_EQ(nocol.exit_code, 2);
  EXPECT_THAT(nocol.err, HasSubstr("has no column \"salary\""));
  Result nometa =
      Ws("train --dataset adult --target income --epsilon 1 --delta 1e-6 --purpose credit.scoring -o m");
  EXPECT_EQ(nometa.exit_code, 2);
  EXPECT_THAT(nometa.err, HasSubstr("--metadata"));
  const std::string broken = WriteFile("broken.json", "{\"columns\": {\"age\": {\"lower\": \"x\"}}}");
  Result meta = Ws("train --dataset adult --target income --epsilon 1 --delta 1e-6 --metadata " + Q(broken) +
                   " --purpose credit.scoring -o m");
  EXPECT_EQ(meta.exit_code, 2);
  EXPECT_THAT(meta.err, HasSubstr("column \"age\": \"lower\" must be a number"));
  EXPECT_EQ(Ws("train --dataset adult --target income --purpose credit.scoring -o 'bad name'").exit_code, 2);
  EXPECT_EQ(Ws("decide --model nope " + Q(train_)).exit_code, 2);
  EXPECT_EQ(Ws("model show nope").exit_code, 2);
  EXPECT_EQ(Ws("model show nope@x").exit_code, 2);
  EXPECT_EQ(Ws("train --dataset adult --target income --purpose credit.scoring --test /nonexistent.csv -o m")
                .exit_code,
            2);
  EXPECT_THAT(Ws("model list").out, HasSubstr("No models yet"));
}

}  // namespace
}  // namespace veil::cli::testing
