// End-to-end tests of `veil pii redact`, `veil pii restore` and `veil pii transform`
// (pii_redact_commands.cc).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace pii_redact_cli_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Pattern-and-checksum types only (--no-dictionaries), so the expectations do not depend on name lists.
constexpr char kText[] =
    "Contact jane.doe@example.com or 212-555-0143 about card 4111-1111-1111-1111.\n"
    "Again: jane.doe@example.com.\n";
constexpr char kFast[] = " --no-dictionaries --entities EMAIL_ADDRESS,CREDIT_CARD ";

class PiiRedactCliTest : public VeilCliTest {};

TEST_F(PiiRedactCliTest, ReplaceRedactMaskNeedNoWorkspace) {
  const std::string in = WriteFile("in.txt", kText);
  Result r = Veil("pii redact " + in + kFast + "--operator replace");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Contact <EMAIL_ADDRESS> or 212-555-0143 about card <CREDIT_CARD>.\n"
            "Again: <EMAIL_ADDRESS>.\n");
  r = Veil("pii redact " + in + kFast + "--operator redact");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Contact  or 212-555-0143 about card .\nAgain: .\n");
  r = Veil("pii redact " + in + kFast + "--operator mask --mask-chars 15 --entities CREDIT_CARD -o " +
           Path("out.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Slurp(Path("out.txt")), HasSubstr("card ***************1111."));
  EXPECT_FALSE(std::filesystem::exists(ws_));  // no workspace was touched
}

TEST_F(PiiRedactCliTest, TokenAndFf1UseTheWorkspaceAndAreAudited) {
  InitWithPatients();
  const std::string in = WriteFile("in.txt", kText);
  const uint64_t before = AuditSize();
  Result t1 = Ws("pii redact " + in + kFast + "--operator token");
  ASSERT_EQ(t1.exit_code, 0) << t1.err;
  EXPECT_THAT(t1.out, ::testing::MatchesRegex(
                          "Contact TOK_EMAIL_ADDRESS_[0-9a-f]{16} or 212-555-0143 about card "
                          "TOK_CREDIT_CARD_[0-9a-f]{16}\\.\nAgain: TOK_EMAIL_ADDRESS_[0-9a-f]{16}\\.\n"));
  // The same e-mail address gets the same token both times.
  const size_t first = t1.out.find("TOK_EMAIL_ADDRESS_"), second = t1.out.rfind("TOK_EMAIL_ADDRESS_");
  ASSERT_NE(first, second);
  EXPECT_EQ(t1.out.substr(first, 34), t1.out.substr(second, 34));
  Result t2 = Ws("pii redact " + in + kFast + "--operator token");
  EXPECT_EQ(t2.out, t1.out);  // deterministic under the workspace's key
  EXPECT_EQ(AuditSize(), before + 2);
  const nlohmann::json log = AuditLog();
  ASSERT_TRUE(log.contains("entries"));
  const nlohmann::json& last = log["entries"].back();
  EXPECT_EQ(last.value("action", ""), "pii.redact");
  EXPECT_THAT(log.dump(), Not(HasSubstr("jane.doe")));

  Result f = Ws("pii redact " + in + kFast + "--operator ff1");
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_THAT(f.out, ::testing::MatchesRegex("Contact [a-z]{4}\\.[a-z]{3}@[a-z]{7}\\.com or 212-555-0143 "
                                             "about card [0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}\\.\n.*\n"));
  EXPECT_THAT(f.out, Not(HasSubstr("4111-1111-1111-1111")));

  // Another workspace gives other tokens.
  Result other = Veil("--workspace " + Path("ws2") + " init --quiet");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  Result t3 = Veil("--workspace " + Path("ws2") + " pii redact " + in + kFast + "--operator token");
  ASSERT_EQ(t3.exit_code, 0) << t3.err;
  EXPECT_NE(t3.out, t1.out);
}

TEST_F(PiiRedactCliTest, PseudonymRoundTripThroughAnAiAnswer) {
  InitWithPatients();
  const std::string in = WriteFile("prompt.txt", kText);
  const std::string map = Path("prompt.map");
  Result r = Ws("pii redact " + in + kFast + "--operator pseudonym --mapping " + map);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Contact <EMAIL_ADDRESS_1> or 212-555-0143 about card <CREDIT_CARD_1>.\n"
            "Again: <EMAIL_ADDRESS_1>.\n");
  EXPECT_THAT(Slurp(map), Not(HasSubstr("jane")));
  // The answer reorders and repeats placeholders, drops one and invents another.
  const std::string answer = WriteFile(
      "answer.txt", "Card <CREDIT_CARD_1> belongs to <EMAIL_ADDRESS_1> (<EMAIL_ADDRESS_1>); <PERSON_4>?\n");
  Result back = Ws("pii restore " + answer + " --mapping " + map);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out,
            "Card 4111-1111-1111-1111 belongs to jane.doe@example.com (jane.doe@example.com); <PERSON_4>?\n");
  EXPECT_THAT(back.err, HasSubstr("<PERSON_4>"));

  // A second turn extends the same mapping.
  const std::string in2 = WriteFile("prompt2.txt", "Also bob@example.org and jane.doe@example.com.\n");
  Result r2 = Ws("pii redact " + in2 + kFast + "--operator pseudonym --mapping " + map);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(r2.out, "Also <EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>.\n");
}

TEST_F(PiiRedactCliTest, RestoreRefusesAnalystsTamperedMapsAndOtherWorkspaces) {
  InitWithPatients();
  const std::string in = WriteFile("prompt.txt", kText);
  const std::string map = Path("prompt.map");
  ASSERT_EQ(Ws("pii redact " + in + kFast + "--operator pseudonym --mapping " + map).exit_code, 0);
  ASSERT_EQ(Ws("grant bob analyst").exit_code, 0);
  // An analyst may pseudonymize but not re-identify.
  const uint64_t before = AuditSize();
  Result analyst = Ws("pii restore " + in + " --mapping " + map, "bob");
  EXPECT_EQ(analyst.exit_code, 3) << analyst.err;
  EXPECT_EQ(AuditSize(), before + 1);  // the refusal is audited
  EXPECT_EQ(AuditLog()["entries"].back().value("decision", ""), "denied");

  std::string bytes = Slurp(map);
  bytes[bytes.size() / 2] ^= 0x20;
  const std::string tampered = WriteFile("tampered.map", bytes);
  Result t = Ws("pii restore " + in + " --mapping " + tampered);
  EXPECT_EQ(t.exit_code, 4) << t.err;
  EXPECT_THAT(t.err, HasSubstr("authentication failed"));

  ASSERT_EQ(Veil("--workspace " + Path("ws2") + " init --quiet").exit_code, 0);
  Result foreign = Veil("--workspace " + Path("ws2") + " pii restore " + in + " --mapping " + map);
  EXPECT_EQ(foreign.exit_code, 4) << foreign.err;

  Result truncated = Ws("pii restore " + in + " --mapping " + WriteFile("short.map", bytes.substr(0, 20)));
  EXPECT_EQ(truncated.exit_code, 4) << truncated.err;
}

TEST_F(PiiRedactCliTest, UsageErrors) {
  const std::string in = WriteFile("in.txt", kText);
  Result r = Veil("pii redact " + in + " --operator shred");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown operator 'shred'"));
  r = Veil("pii redact " + in + " --operator pseudonym");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--mapping"));
  r = Veil("pii redact " + Path("missing.txt") + " --operator replace");
  EXPECT_EQ(r.exit_code, 2);
  r = Veil("pii redact " + in + " --operator replace --entities SHOE_SIZE");
  EXPECT_EQ(r.exit_code, 2);
}

constexpr char kPolicy[] = R"({
  "columns": {
    "patient_id": "token",
    "name": {"operator": "token", "entity": "PERSON"},
    "email": {"operator": "mask", "chars": 6},
    "phone": {"operator": "ff1", "entity": "PHONE_NUMBER"},
    "birth_date": "generalize",
    "zip": {"operator": "generalize", "kind": "zip"},
    "charges": {"operator": "generalize", "width": 1000},
    "address": "replace",
    "notes": "drop"
  },
  "default": "keep"
})";

TEST_F(PiiRedactCliTest, TransformPatients) {
  InitWithPatients();
  const std::string policy = WriteFile("policy.json", kPolicy);
  const std::string out = Path("out.csv");
  Result r = Ws(std::string("pii transform ") + kPatients + " --policy " + policy + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = Slurp(out);
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(
      header,
      "patient_id,name,email,phone,birth_date,sex,address,zip,admitted_at,diagnosis,length_of_stay,charges,"
      "smoker,readmitted");
  const std::string first =
      csv.substr(header.size() + 1, csv.find('\n', header.size() + 1) - header.size() - 1);
  EXPECT_THAT(first, ::testing::MatchesRegex(
                         "TOK_VALUE_[0-9a-f]{16},TOK_PERSON_[0-9a-f]{16},\\*{6}osta39@example.org,"
                         "\\+[0-9] [0-9]{3} [0-9]{3} [0-9]{4},1963-04,F,<VALUE>,627,.*,"
                         "\"\\[7000, 8000\\)\",false,false"));
  EXPECT_THAT(csv, Not(HasSubstr("Nora Costa")));
  EXPECT_THAT(csv, Not(HasSubstr("+1 555 739 8414")));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 301);
}

TEST_F(PiiRedactCliTest, TransformPolicyErrorsAreExit2) {
  const std::string out = Path("out.csv");
  Result r = Veil(std::string("pii transform ") + kPatients + " --policy " +
                  WriteFile("p1.json", R"({"columns": {"shoe": "drop"}, "default": "keep"})") + " -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no column \"shoe\""));
  r = Veil(std::string("pii transform ") + kPatients + " --policy " +
           WriteFile("p2.json", R"({"columns": {"name": "shred"}, "default": "keep"})") + " -o " + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("columns.name: unknown operator \"shred\""));
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace pii_redact_cli_test
}  // namespace veil::cli::testing
