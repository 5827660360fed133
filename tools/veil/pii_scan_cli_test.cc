// End-to-end tests of `veil pii scan` (pii_scan_commands.cc).
#include <string>

#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PiiScanCliTest : public VeilCliTest {};

constexpr char kText[] =
    "Dear Jürgen,\n"
    "your card 4111 1111 1111 1111 was charged; mail jane.doe@example.com, SSN 123-45-6780.\n";

TEST_F(PiiScanCliTest, PrintsMaskedSpansWithLineAndCharacterColumn) {
  const std::string file = WriteFile("t.txt", kText);
  Result r = Veil("pii scan --no-dictionaries " + Q(file));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Line 2, column in characters (the "ü" on line 1 does not shift line 2).
  EXPECT_THAT(r.out, HasSubstr("2:11  CREDIT_CARD  1.00  luhn_credit_card  4***1"));
  EXPECT_THAT(r.out, HasSubstr("EMAIL_ADDRESS"));
  EXPECT_THAT(r.out, HasSubstr("US_SSN"));
  // The values themselves are not printed by default.
  EXPECT_THAT(r.out, Not(HasSubstr("4111 1111 1111 1111")));
  EXPECT_THAT(r.out, Not(HasSubstr("jane.doe@example.com")));
  EXPECT_THAT(r.out, Not(HasSubstr("123-45-6780")));

  Result shown = Veil("pii scan --no-dictionaries --show-values " + Q(file));
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("4111 1111 1111 1111"));
  EXPECT_THAT(shown.out, HasSubstr("jane.doe@example.com"));
}

TEST_F(PiiScanCliTest, JsonDocument) {
  const std::string file = WriteFile("t.txt", kText);
  Result r = Veil("--json pii scan --no-dictionaries " + Q(file));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["file"], file);
  EXPECT_EQ(doc["bytes"], std::string(kText).size());
  ASSERT_EQ(doc["spans"].size(), 3u);
  const nlohmann::json& card = doc["spans"][0];
  EXPECT_EQ(card["type"], "CREDIT_CARD");
  EXPECT_EQ(card["recognizer"], "luhn_credit_card");
  EXPECT_EQ(card["line"], 2);
  EXPECT_EQ(card["column"], 11);
  // Byte offsets: "Dear Jürgen,\n" is 14 bytes (ü is two).
  EXPECT_EQ(card["begin"], 14 + 10);
  EXPECT_EQ(card["end"], 14 + 10 + 19);
  EXPECT_FALSE(card.contains("text"));
  EXPECT_EQ(doc["counts"]["CREDIT_CARD"], 1);
  EXPECT_EQ(doc["counts"]["US_SSN"], 1);
}

TEST_F(PiiScanCliTest, EntitiesMinScoreAndStdin) {
  const std::string file = WriteFile("t.txt", kText);
  // Standard input: Run() appends "</dev/null", so the command ends with its own redirections and a comment.
  Result r = Veil("--json pii scan --no-dictionaries --entities US_SSN,EMAIL_ADDRESS - <" + Q(file) + " >" +
                  Q(Path("stdout")) + " 2>" + Q(Path("stderr")) + " #");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  ASSERT_EQ(doc["spans"].size(), 2u);
  EXPECT_EQ(doc["spans"][0]["type"], "EMAIL_ADDRESS");
  EXPECT_EQ(doc["spans"][1]["type"], "US_SSN");

  Result high = Veil("--json pii scan --no-dictionaries --min-score 0.99 " + Q(file));
  ASSERT_EQ(high.exit_code, 0) << high.err;
  const nlohmann::json high_doc = ParseJson(high.out);  // named: a temporary would die before the loop
  for (const auto& s : high_doc["spans"]) EXPECT_GE(s["score"].get<double>(), 0.99);
}

TEST_F(PiiScanCliTest, Errors) {
  Result missing = Veil("pii scan " + Q(Path("nope.txt")));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("nope.txt"));

  const std::string file = WriteFile("t.txt", kText);
  Result bad_type = Veil("pii scan --entities CREDIT_CARDS " + Q(file));
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_THAT(bad_type.err, HasSubstr("CREDIT_CARDS"));

  Result bad_score = Veil("pii scan --min-score 2 " + Q(file));
  EXPECT_EQ(bad_score.exit_code, 2);
  EXPECT_THAT(bad_score.err, HasSubstr("min_score"));
  // The personal data of the file never appears in an error.
  EXPECT_THAT(bad_score.err, Not(HasSubstr("4111")));
}

TEST_F(PiiScanCliTest, NoWorkspaceNeededAndInvalidUtf8) {
  const std::string file = WriteFile("bin.txt", std::string("\xff\xfe card 4111111111111111 \xc3", 27));
  Result r = Veil("--workspace " + Q(Path("does-not-exist")) + " --json pii scan " + Q(file));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = ParseJson(r.out);
  ASSERT_EQ(doc["spans"].size(), 1u);
  EXPECT_EQ(doc["spans"][0]["type"], "CREDIT_CARD");
}

}  // namespace
}  // namespace veil::cli::testing
