// End-to-end tests of `veil he` (keygen, encrypt, score, decrypt) as a user runs them.
#include <sys/stat.h>

#include <cmath>
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

constexpr char kModel[] = R"({"format": "veil-linear-model", "version": 1, "kind": "logistic",
  "features": ["income", "debts", "age"], "weights": [0.9, -1.4, 0.2], "bias": -0.3,
  "standardization": {"means": [52000, 9000, 41], "scales": [21000, 7000, 12]}})";

double Logit(double income, double debts, double age) {
  return 0.9 * (income - 52000) / 21000 - 1.4 * (debts - 9000) / 7000 + 0.2 * (age - 41) / 12 - 0.3;
}

std::vector<double> ReadScores(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<double> out;
  while (std::getline(in, line)) out.push_back(std::stod(line.substr(line.find(',') + 1)));
  return out;
}

class HeCliTest : public VeilCliTest {
 protected:
  void SetUp() override {
    VeilCliTest::SetUp();
    model_ = WriteFile("model.json", kModel);
    features_ = WriteFile("features.csv",
                          "customer,income,debts,age\n"
                          "c1,64000,3000,35\n"
                          "c2,31000,15000,52\n"
                          "c3,\"120000\",500,29\n");
  }
  void Keygen(const std::string& dir = "keys") {
    Result r = Veil("he keygen --quiet -o " + Q(Path(dir)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string model_, features_;
};

TEST_F(HeCliTest, EndToEndWithOnlyPublicKeysAtTheServer) {
  Keygen();
  struct stat st {};
  ASSERT_EQ(::stat(Path("keys/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The server's copy of the public directory, elsewhere, with nothing else.
  std::filesystem::copy(Path("keys/public"), Path("bank"));
  Result enc = Veil("--json he encrypt " + Q(features_) + " --keys " + Q(Path("keys")) + " --model " +
                    Q(model_) + " -o " + Q(Path("q.bin")));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  nlohmann::json e = ParseJson(enc.out);
  EXPECT_EQ(e["records"], 3);
  EXPECT_EQ(e["standardized"], true);
  EXPECT_LT(e["bytes"].get<int>(), 200 * 1000);  // seeded: half size
  Result sc = Veil("--json he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                   Q(Path("bank")) + " -o " + Q(Path("r.bin")));
  ASSERT_EQ(sc.exit_code, 0) << sc.err;
  EXPECT_EQ(ParseJson(sc.out)["ciphertexts"], 1);
  Result de = Veil("--json he decrypt " + Q(Path("r.bin")) + " --keys " + Q(Path("keys")) + " -o " +
                   Q(Path("scores.csv")));
  ASSERT_EQ(de.exit_code, 0) << de.err;
  nlohmann::json d = ParseJson(de.out);
  EXPECT_EQ(d["flooded"], true);
  const double sd = d["flooding_stddev"].get<double>();
  EXPECT_LT(sd, 0x1p-10);
  const std::vector<double> s = ReadScores(Path("scores.csv"));
  const std::vector<double> expected = {Logit(64000, 3000, 35), Logit(31000, 15000, 52),
                                        Logit(120000, 500, 29)};
  ASSERT_EQ(s.size(), 3u);
  // Printed with 6 decimals (5e-7) plus flooding noise (6 standard deviations).
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(s[i], expected[i], 6 * sd + 1e-6) << i;
  Result owner = Veil("he decrypt --quiet " + Q(Path("r.bin")) + " --keys " + Q(Path("keys")) + " -o " +
                      Q(Path("owner.csv")) + " --key-owner-only");
  ASSERT_EQ(owner.exit_code, 0) << owner.err;
  const std::vector<double> o = ReadScores(Path("owner.csv"));
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(o[i], expected[i], 1e-6) << i;
  EXPECT_EQ(Slurp(Path("owner.csv")).substr(0, 14), "record,logit\n1");
}

TEST_F(HeCliTest, ServerRefusesSecretKeys) {
  Keygen();
  Result enc = Veil("he encrypt --quiet " + Q(features_) + " --keys " + Q(Path("keys")) + " --model " +
                    Q(model_) + " -o " + Q(Path("q.bin")));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  Result whole = Veil("he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                      Q(Path("keys")) + " -o " + Q(Path("r.bin")));
  EXPECT_EQ(whole.exit_code, 3);
  EXPECT_THAT(whole.err, HasSubstr("secret key"));
  // A secret file slipped into the public directory under another name.
  std::filesystem::copy(Path("keys/public"), Path("bank"));
  std::filesystem::copy(Path("keys/secret"), Path("bank/extra"));
  Result slipped = Veil("he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                        Q(Path("bank")) + " -o " + Q(Path("r.bin")));
  EXPECT_EQ(slipped.exit_code, 3);
  EXPECT_THAT(slipped.err, HasSubstr("is a secret key"));
  EXPECT_FALSE(std::filesystem::exists(Path("r.bin")));
}

TEST_F(HeCliTest, CorruptedAndForeignFiles) {
  Keygen();
  Keygen("other");
  ASSERT_EQ(Veil("he encrypt --quiet " + Q(features_) + " --keys " + Q(Path("keys")) + " --model " +
                 Q(model_) + " -o " + Q(Path("q.bin")))
                .exit_code,
            0);
  const std::string q = Slurp(Path("q.bin"));
  WriteFile("trunc.bin", q.substr(0, q.size() - 10));
  std::string altered = q;
  altered[q.size() / 2] ^= 0x10;
  WriteFile("altered.bin", altered);
  for (const char* bad : {"trunc.bin", "altered.bin"}) {
    Result r = Veil("he score " + Q(Path(bad)) + " --model " + Q(model_) + " --keys " +
                    Q(Path("keys/public")) + " -o " + Q(Path("r.bin")));
    EXPECT_EQ(r.exit_code, 4) << bad;
    EXPECT_THAT(r.err, HasSubstr("checksum")) << bad;
  }
  // The query was made for `keys`: the other key set's server is told, and so is its owner.
  Result foreign = Veil("he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                        Q(Path("other/public")) + " -o " + Q(Path("r.bin")));
  EXPECT_EQ(foreign.exit_code, 4);
  EXPECT_THAT(foreign.err, HasSubstr("wrong keys"));
  ASSERT_EQ(Veil("he score --quiet " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                 Q(Path("keys/public")) + " -o " + Q(Path("r.bin")))
                .exit_code,
            0);
  Result wrong =
      Veil("he decrypt " + Q(Path("r.bin")) + " --keys " + Q(Path("other")) + " -o " + Q(Path("s.csv")));
  EXPECT_EQ(wrong.exit_code, 4);
  EXPECT_THAT(wrong.err, HasSubstr("wrong keys"));
  const std::string r = Slurp(Path("r.bin"));
  WriteFile("r_trunc.bin", r.substr(0, r.size() / 3));
  Result rt =
      Veil("he decrypt " + Q(Path("r_trunc.bin")) + " --keys " + Q(Path("keys")) + " -o " + Q(Path("s.csv")));
  EXPECT_EQ(rt.exit_code, 4);
  // A query is not a result.
  Result kind =
      Veil("he decrypt " + Q(Path("q.bin")) + " --keys " + Q(Path("keys")) + " -o " + Q(Path("s.csv")));
  EXPECT_EQ(kind.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(Path("s.csv")));
  // A galois key file from another key set is caught by the manifest.
  std::filesystem::copy(Path("keys/public"), Path("mixed"));
  std::filesystem::copy_file(Path("other/public/galois_keys"), Path("mixed/galois_keys"),
                             std::filesystem::copy_options::overwrite_existing);
  Result mixed = Veil("he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                      Q(Path("mixed")) + " -o " + Q(Path("r2.bin")));
  EXPECT_EQ(mixed.exit_code, 4);
  EXPECT_THAT(mixed.err, HasSubstr("keyset.json"));
}

TEST_F(HeCliTest, BadInputsNameFileLineAndColumn) {
  Keygen();
  const std::string bad = WriteFile("bad.csv", "income,debts,age\n1,2,3\n4,abc,6\n");
  Result r = Veil("he encrypt " + Q(bad) + " --keys " + Q(Path("keys")) + " --model " + Q(model_) + " -o " +
                  Q(Path("q.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3:2 (debts): not a finite number"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("abc")));
  const std::string ragged = WriteFile("ragged.csv", "income,debts,age\n1,2,3\n4,5\n");
  r = Veil("he encrypt " + Q(ragged) + " --keys " + Q(Path("keys")) + " -o " + Q(Path("q.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ragged.csv:3: 2 fields; the header has 3"));
  const std::string missing = WriteFile("missing.csv", "income,age\n1,2\n");
  r = Veil("he encrypt " + Q(missing) + " --keys " + Q(Path("keys")) + " --model " + Q(model_) + " -o " +
           Q(Path("q.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("debts"));
  // Raw incomes without the model's standardization are too large for the precision: said, not garbage.
  const std::string raw = WriteFile("raw.csv", "income,debts,age\n64000,3000,35\n");
  r = Veil("he encrypt " + Q(raw) + " --keys " + Q(Path("keys")) + " -o " + Q(Path("q.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("raw.csv:2:1 (income): the value is above 256"));
  EXPECT_THAT(r.err, HasSubstr("standardize"));
  const std::string bad_model =
      WriteFile("bad_model.json", R"({"format": "veil-linear-model", "version": 1, "kind": "logistic",
        "features": ["a", "b"], "weights": [1], "bias": 0})");
  r = Veil("he encrypt " + Q(bad) + " --keys " + Q(Path("keys")) + " --model " + Q(bad_model) + " -o " +
           Q(Path("q.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("weights"));
  // keygen does not overwrite a key set; decrypt needs the secret.
  r = Veil("he keygen -o " + Q(Path("keys")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("exists"));
  r = Veil("he decrypt x.bin --keys " + Q(Path("keys/public")) + " -o " + Q(Path("s.csv")));
  EXPECT_EQ(r.exit_code, 2);
  // A probability needs a probability key set.
  ASSERT_EQ(Veil("he encrypt --quiet " + Q(features_) + " --keys " + Q(Path("keys")) + " --model " +
                 Q(model_) + " -o " + Q(Path("q.bin")))
                .exit_code,
            0);
  r = Veil("he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " + Q(Path("keys/public")) +
           " -o " + Q(Path("r.bin")) + " --probability");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--probability"));
}

TEST_F(HeCliTest, ProbabilityUnderEncryption) {
  Result kg = Veil("he keygen --quiet --probability --max-features 4 -o " + Q(Path("keys")));
  ASSERT_EQ(kg.exit_code, 0) << kg.err;
  ASSERT_EQ(Veil("he encrypt --quiet " + Q(features_) + " --keys " + Q(Path("keys")) + " --model " +
                 Q(model_) + " -o " + Q(Path("q.bin")))
                .exit_code,
            0);
  Result sc = Veil("--json he score " + Q(Path("q.bin")) + " --model " + Q(model_) + " --keys " +
                   Q(Path("keys/public")) + " -o " + Q(Path("r.bin")) + " --probability");
  ASSERT_EQ(sc.exit_code, 0) << sc.err;
  const double fit = ParseJson(sc.out)["sigmoid"]["fit_error"].get<double>();
  Result shared = Veil("he decrypt " + Q(Path("r.bin")) + " --keys " + Q(Path("keys")) + " -o " +
                       Q(Path("p.csv")) + " --probability");
  EXPECT_NE(shared.exit_code, 0);
  EXPECT_THAT(shared.err, HasSubstr("--key-owner-only"));
  Result de = Veil("he decrypt --quiet " + Q(Path("r.bin")) + " --keys " + Q(Path("keys")) + " -o " +
                   Q(Path("p.csv")) + " --probability --key-owner-only");
  ASSERT_EQ(de.exit_code, 0) << de.err;
  const std::vector<double> p = ReadScores(Path("p.csv"));
  const std::vector<double> z = {Logit(64000, 3000, 35), Logit(31000, 15000, 52), Logit(120000, 500, 29)};
  ASSERT_EQ(p.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(p[i], 1 / (1 + std::exp(-z[i])), fit + 1e-5) << i;
}

}  // namespace
}  // namespace veil::cli::testing
