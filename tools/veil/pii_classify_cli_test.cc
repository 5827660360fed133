// End-to-end tests of `veil pii classify` and `veil pii eval` (tools/veil/pii_classify_commands.cc).
#include <filesystem>
#include <string>

#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdult[] = "../shared/data/adult/adult.csv";

const nlohmann::json* Column(const nlohmann::json& doc, const std::string& name) {
  for (const nlohmann::json& c : doc["columns"]) {
    if (c["name"] == name) return &c;
  }
  ADD_FAILURE() << "no column " << name;
  return nullptr;
}

class PiiClassifyCliTest : public VeilCliTest {};

TEST_F(PiiClassifyCliTest, ClassifiesPatients) {
  Result r = Veil(std::string("pii classify --json ") + kPatients);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["rows"], 300);
  ASSERT_EQ(doc["columns"].size(), 15u);
  EXPECT_EQ(doc["cells"], 300 * 15);
  EXPECT_LE(doc["cells_examined"].get<int64_t>(), 15 * 100);
  const nlohmann::json* email = Column(doc, "email");
  ASSERT_NE(email, nullptr);
  EXPECT_EQ((*email)["entity"], "EMAIL_ADDRESS");
  EXPECT_EQ((*email)["role"], "direct_identifier");
  EXPECT_GE((*email)["confidence"].get<double>(), 0.9);
  EXPECT_THAT((*email)["evidence"].get<std::string>(), HasSubstr("sampled values are EMAIL_ADDRESS"));
  EXPECT_EQ((*Column(doc, "patient_id"))["role"], "direct_identifier");
  EXPECT_EQ((*Column(doc, "name"))["entity"], "PERSON");
  EXPECT_EQ((*Column(doc, "zip"))["entity"], "ZIP_CODE");
  EXPECT_EQ((*Column(doc, "zip"))["role"], "quasi_identifier");
  EXPECT_EQ((*Column(doc, "sex"))["role"], "quasi_identifier");
  EXPECT_EQ((*Column(doc, "birth_date"))["entity"], "DATE_TIME");
  EXPECT_EQ((*Column(doc, "length_of_stay"))["role"], "none");
  // Evidence and output never carry values.
  EXPECT_THAT(r.out, Not(HasSubstr("@example.org")));
}

TEST_F(PiiClassifyCliTest, TextOutputHasOneLinePerColumn) {
  Result r = Veil(std::string("pii classify --sample 20 ") + kPatients);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("300 rows, 15 columns; up to 20 values sampled per column"));
  EXPECT_THAT(r.out, HasSubstr("evidence"));
  EXPECT_THAT(r.out, HasSubstr("direct_identifier"));
  EXPECT_THAT(r.out, HasSubstr("of 4,500 cells examined"));
}

TEST_F(PiiClassifyCliTest, AdultHasNoDirectIdentifiers) {
  if (!std::filesystem::exists(kAdult)) GTEST_SKIP() << "../shared/data is not available";
  Result r = Veil(std::string("pii classify --json ") + kAdult);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  for (const nlohmann::json& c : doc["columns"]) EXPECT_NE(c["role"], "direct_identifier") << c.dump();
  EXPECT_EQ((*Column(doc, "age"))["role"], "quasi_identifier");
  EXPECT_EQ((*Column(doc, "sex"))["role"], "quasi_identifier");
  EXPECT_EQ((*Column(doc, "native-country"))["role"], "quasi_identifier");
  EXPECT_EQ((*Column(doc, "fnlwgt"))["role"], "none");
}

TEST_F(PiiClassifyCliTest, BadCsvIsBadInputNamingFileAndLine) {
  const std::string path = WriteFile("bad.csv", "a,b\n1,2\n3\n");
  Result r = Veil("pii classify " + Q(path));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:3:"));
  r = Veil("pii classify " + Q(Path("missing.csv")));
  EXPECT_EQ(r.exit_code, 2);
  r = Veil(std::string("pii classify --sample 0 ") + kPatients);
  EXPECT_EQ(r.exit_code, 2);
}

// A small labeled set the pattern recognizers find for certain.
constexpr char kDataset[] = R"([
  {"full_text": "Write to bob.smith@example.org today", "spans": [
     {"entity_type": "EMAIL_ADDRESS", "entity_value": "bob.smith@example.org", "start_position": 9,
      "end_position": 30}]},
  {"full_text": "Zoë’s IBAN is GB82WEST12345698765432.", "spans": [
     {"entity_type": "IBAN_CODE", "entity_value": "GB82WEST12345698765432", "start_position": 14,
      "end_position": 36}]},
  {"full_text": "The Persint board met.", "spans": [
     {"entity_type": "ORGANIZATION", "entity_value": "Persint", "start_position": 4, "end_position": 11}]},
  {"full_text": "What are my options?", "spans": []}
])";

TEST_F(PiiClassifyCliTest, EvalScoresPerTypeAndHardNegatives) {
  const std::string path = WriteFile("set.json", kDataset);
  Result r = Veil("pii eval --json --hard-negatives 55 " + Q(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = ParseJson(r.out);
  EXPECT_EQ(doc["samples"], 4);
  EXPECT_EQ(doc["iou_threshold"], 0.9);
  EXPECT_EQ(doc["out_of_scope_by_dataset_type"]["ORGANIZATION"], 1);
  bool saw_email = false, saw_iban = false;
  for (const nlohmann::json& row : doc["entities"]) {
    if (row["entity"] == "EMAIL_ADDRESS") {
      saw_email = true;
      EXPECT_EQ(row["tp"], 1);
      EXPECT_EQ(row["fn"], 0);
      EXPECT_EQ(row["recall"], 1.0);
    }
    if (row["entity"] == "IBAN_CODE") {
      saw_iban = true;
      EXPECT_EQ(row["tp"], 1);
    }
  }
  EXPECT_TRUE(saw_email);
  EXPECT_TRUE(saw_iban);
  EXPECT_EQ(doc["overall"]["gold"], 2);  // the ORGANIZATION is out of scope
  EXPECT_GE(doc["any_pii"]["tp"].get<int>(), doc["overall"]["tp"].get<int>());
  EXPECT_GE(doc["analysis"]["seconds"].get<double>(), 0.0);
  // Token level: "Write to bob.smith@example.org today" (4 tokens), "Zoë ’ s IBAN is GB82... ." (7),
  // "The Persint board met ." (5), "What are my options ?" (5); the ORGANIZATION's token is O.
  const nlohmann::json& tokens = doc["token_level"];
  EXPECT_EQ(tokens["tokens"], 21);
  EXPECT_EQ(tokens["pii"]["gold"], 2);
  EXPECT_EQ(tokens["pii"]["tp"], 2);
  bool saw_email_tokens = false;
  for (const nlohmann::json& row : tokens["entities"]) {
    if (row["entity"] != "EMAIL_ADDRESS") continue;
    saw_email_tokens = true;
    EXPECT_EQ(row["tp"], 1);
    EXPECT_EQ(row["fp"], 0);
    EXPECT_EQ(row["f2"], 1.0);
  }
  EXPECT_TRUE(saw_email_tokens);
  EXPECT_EQ(doc["hard_negatives"]["texts"], 55);
  EXPECT_EQ(doc["hard_negatives"]["by_kind"].size(), 11u);
  EXPECT_EQ(doc["hard_negatives"]["by_kind"]["luhn_failing_16"]["texts"], 5);
}

TEST_F(PiiClassifyCliTest, EvalTextOutputAndEntityFilter) {
  const std::string path = WriteFile("set.json", kDataset);
  Result r = Veil("pii eval --entities EMAIL_ADDRESS --hard-negatives 11 " + Q(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("EMAIL_ADDRESS"));
  EXPECT_THAT(r.out, Not(HasSubstr("IBAN_CODE")));
  EXPECT_THAT(r.out, HasSubstr("overall"));
  EXPECT_THAT(r.out, HasSubstr("any PII (type-agnostic)"));
  EXPECT_THAT(r.out, HasSubstr("token level"));
  EXPECT_THAT(r.out, HasSubstr("PII (token-level, type-agnostic)"));
  EXPECT_THAT(r.out, HasSubstr("MB/s"));
  EXPECT_THAT(r.out, HasSubstr("hard negatives: 11 generated texts"));
  EXPECT_THAT(r.out, HasSubstr("1 gold spans out of scope (ORGANIZATION 1)"));
}

TEST_F(PiiClassifyCliTest, EvalRejectsBadInput) {
  const std::string bad = WriteFile("bad.json", R"([{"full_text": "abc", "spans": []}, {"spans": []}])");
  Result r = Veil("pii eval " + Q(bad));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.json: samples[1].full_text: missing"));
  const std::string broken = WriteFile("broken.json", "[{\"full_text\": ");
  r = Veil("pii eval " + Q(broken));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not valid JSON (byte"));
  r = Veil("pii eval " + Q(Path("missing.json")));
  EXPECT_EQ(r.exit_code, 2);
  const std::string ok = WriteFile("set.json", kDataset);
  r = Veil("pii eval --entities EMAIL,BOGUS " + Q(ok));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown entity type 'EMAIL'"));
  r = Veil("pii eval --iou 1.5 " + Q(ok));
  EXPECT_EQ(r.exit_code, 2);
  r = Veil("--json pii eval " + Q(bad));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(ParseJson(r.out)["error"]["exit_code"], 2);
}

}  // namespace
}  // namespace veil::cli::testing
