// End-to-end tests of the report commands (report_commands.cc): `veil report ropa` and `veil dpia` as a
// privacy officer runs them on examples/data/patients.csv.
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Values of the first patients of patients.csv: none may appear in a report.
const std::vector<std::string> kValues = {
    "P00001", "P00002",     "Nora Costa", "nora.costa39@example.org", "+1 555", "Springfield",
    "62701",  "1963-04-07", "COPD",       "Seen by Dr. Jensen"};

class ReportCliTest : public VeilCliTest {
 protected:
  void SetUp() override {
    VeilCliTest::SetUp();
    InitWithPatients();
    ASSERT_EQ(Ws("grant alex analyst --quiet").exit_code, 0);
    ASSERT_EQ(Ws("grant ines auditor --quiet").exit_code, 0);
    ASSERT_EQ(Ws("catalog annotate patients diagnosis --category user.health.diagnosis --quiet").exit_code,
              0);
    Result r =
        Ws("catalog declare patients --purpose research --basis consent --special-basis explicit_consent "
           "--subject-type patient --recipient 'Lab <A&B>' --transfer US:scc --retention '5 years' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string consents =
        WriteFile("consent.csv",
                  "subject,purpose,state,time\nP00001,research,granted,2026-01-01\n"
                  "P00002,research,granted,2026-01-01\nP00003,research,withdrawn,2026-01-01\n");
    ASSERT_EQ(Ws("consent import " + Q(consents) + " --quiet").exit_code, 0);
  }

  std::vector<Json> Entries(const std::string& action) {
    std::vector<Json> out;
    const Json log = AuditLog();
    for (const Json& e : log["entries"]) {
      if (e["action"] == action) out.push_back(e);
    }
    return out;
  }

  static void ExpectNoValues(const std::string& doc) {
    for (const std::string& v : kValues) EXPECT_THAT(doc, Not(HasSubstr(v))) << v;
  }
};

TEST_F(ReportCliTest, RopaAsTextHtmlAndJson) {
  Result r = Ws("report ropa");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Record of processing activities"));
  EXPECT_THAT(r.out, HasSubstr("1.1 research on dataset patients"));
  EXPECT_THAT(r.out, HasSubstr("Recipients (d): Lab <A&B>"));
  EXPECT_THAT(r.out, HasSubstr("US (scc: standard contractual clauses"));
  EXPECT_THAT(r.out, HasSubstr("purpose \"care\" has no processing declaration"));
  EXPECT_THAT(r.out, HasSubstr("Audit log integrity: verified"));
  EXPECT_THAT(r.out, HasSubstr("Controller (name and contact details): (to fill in)"));
  ExpectNoValues(r.out);

  const std::string html = Path("ropa.html");
  r = Ws("report ropa -o " + Q(html) + " --controller 'Clinic <North> & Co' --dpo dpo@clinic.example",
         "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Wrote the record of processing activities to"));
  const std::string doc = Slurp(html);
  EXPECT_THAT(doc, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(doc, HasSubstr("Clinic &lt;North&gt; &amp; Co"));
  EXPECT_THAT(doc, HasSubstr("Lab &lt;A&amp;B&gt;"));
  EXPECT_THAT(doc, Not(HasSubstr("<script")));
  ExpectNoValues(doc);

  r = Ws("--json report ropa");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json j = ParseJson(r.out);
  EXPECT_EQ(j["report"], "ropa");
  ASSERT_EQ(j["activities"].size(), 1u);
  EXPECT_EQ(j["activities"][0]["purpose"], "research");
  EXPECT_EQ(j["activities"][0]["subjects"], 300);
  EXPECT_EQ(j["security"]["encryption"][0]["data_keys"], 300);
  EXPECT_EQ(j["security"]["encryption"][0]["vault_verified"], true);
  EXPECT_EQ(j["security"]["audit_log"]["verified"], true);
  ExpectNoValues(r.out);

  // Three reports, three audit entries, by the actors who generated them.
  const std::vector<Json> entries = Entries("report.ropa");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1]["actor"], "ines");
  EXPECT_EQ(entries[2]["seq"], j["header"]["audit_seq"]);
  for (const Json& e : entries) EXPECT_TRUE(e["subject_pseudonyms"].empty());
}

TEST_F(ReportCliTest, DpiaFollowsTheCnilStructureFromMeasuredFacts) {
  const std::string html = Path("dpia.html");
  Result r = Ws("dpia --dataset patients --purpose research -o " + Q(html), "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Wrote the data protection impact assessment to"));
  const std::string doc = Slurp(html);
  size_t at = 0;
  for (const char* s : {"1. Context", "2. Fundamental principles", "3. Risks", "3.1 Illegitimate access",
                        "3.2 Unwanted modification", "3.3 Disappearance", "4. Measures", "5. Validation"}) {
    const size_t next = doc.find(s, at);
    ASSERT_NE(next, std::string::npos) << s;
    at = next;
  }
  EXPECT_THAT(doc, HasSubstr("Opinion of the data protection officer"));
  ExpectNoValues(doc);

  r = Ws("--json dpia --dataset patients --purpose research", "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json j = ParseJson(r.out);
  EXPECT_EQ(j["context"]["subjects"], 300);
  EXPECT_EQ(j["context"]["special_categories"], Json::array({"user.health.diagnosis"}));
  // The classifier marks zip (and others) as quasi-identifiers at ingest: the risk is measured on them.
  const Json& risk = j["risks"]["reidentification"];
  EXPECT_EQ(risk["assessed"], true) << risk.dump();
  EXPECT_THAT(risk["columns"].dump(), HasSubstr("zip"));
  EXPECT_EQ(risk["records"], 300);
  EXPECT_GT(risk["classes"].get<int>(), 0);
  EXPECT_GT(risk["highest"].get<double>(), 0.0);
  // Consent is the basis: two of the 300 patients consented (one withdrew).
  const Json& consent = j["principles"]["consent"];
  EXPECT_EQ(consent["consent_basis"], true);
  EXPECT_EQ(consent["consented"], 2);
  EXPECT_EQ(consent["usable"], 2);
  EXPECT_EQ(j["measures"]["audit_log"]["verified"], true);
  EXPECT_EQ(j["measures"]["encryption"]["vault_verified"], true);
  EXPECT_EQ(j["measures"]["privacy_budget"]["total"], nullptr);
  EXPECT_EQ(j["principles"]["subject_requests"]["opened"], 0) << "no subject request yet";
  ExpectNoValues(r.out);

  // A subject request about a patient is counted (a count, no pseudonym).
  ASSERT_EQ(Ws("dsr open --kind access --subject P00001 --quiet").exit_code, 0);
  r = Ws("--json dpia --dataset patients --purpose research");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["principles"]["subject_requests"]["opened"], 1);
  EXPECT_EQ(ParseJson(r.out)["principles"]["subject_requests"]["open"], 1);

  // `veil report dpia` is the same command; text on stdout.
  r = Ws("report dpia --dataset patients --purpose care");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Data protection impact assessment"));
  EXPECT_THAT(r.out, HasSubstr("Governing declaration: none"));
  ExpectNoValues(r.out);

  const std::vector<Json> entries = Entries("report.dpia");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0]["dataset"], "patients");
  EXPECT_EQ(entries[0]["purpose"], "research");
  EXPECT_EQ(entries[0]["decision"], "allowed");
}

// A vault file changed on disk: the report is written, says so, and the command exits 4.
// A CSV header with control characters (an ESC sequence that would retitle the terminal, a bell) names a
// column: the text report on the terminal shows it escaped, never the raw bytes.
TEST_F(ReportCliTest, ControlCharactersInAColumnNameNeverReachTheTerminal) {
  const std::string csv = WriteFile("odd.csv", "id,\x1b]0;owned\x07name,age\nS1,a,30\nS2,b,40\n");
  Result r = Ws("ingest " + Q(csv) + " --dataset odd --subject-column id --purpose care --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ws("dpia --dataset odd --purpose care");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_THAT(r.out, HasSubstr("\\x1b]0;owned\\x07name"));
  r = Ws("report ropa");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  // The data map's text form: the column table and the findings.
  for (const char* command : {"catalog", "catalog odd"}) {
    r = Ws(command);
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << command;
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << command;
    EXPECT_THAT(r.out, HasSubstr("\\x1b]0;owned\\x07name")) << command;
  }
}

TEST_F(ReportCliTest, AFailedIntegrityCheckIsReportedAndExitsFour) {
  std::filesystem::path file;
  for (const auto& e : std::filesystem::directory_iterator(ws_ / "vault" / "patients")) file = e.path();
  ASSERT_FALSE(file.empty());
  std::string bytes = Slurp(file.string());
  bytes[bytes.size() / 2] ^= 1;
  WriteFile("tampered", bytes);
  std::filesystem::copy_file(Path("tampered"), file, std::filesystem::copy_options::overwrite_existing);
  const std::string html = Path("ropa.html");
  Result r = Ws("report ropa -o " + Q(html));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("dataset \"patients\" failed its check"));
  EXPECT_THAT(Slurp(html), HasSubstr("FAILED"));
  r = Ws("--json report ropa");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(ParseJson(r.out)["security"]["encryption"][0]["vault_verified"], false);
}

TEST_F(ReportCliTest, AnalystsAreRefusedAndBadInputRecordsNothing) {
  Result r = Ws("dpia --dataset patients --purpose research -o " + Q(Path("x.html")), "alex");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("report.dpia needs the role owner or auditor"));
  EXPECT_FALSE(std::filesystem::exists(Path("x.html")));
  r = Ws("report ropa", "alex");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Entries("report.dpia").at(0)["decision"], "denied");
  EXPECT_EQ(Entries("report.ropa").at(0)["decision"], "denied");

  const uint64_t size = AuditSize();
  EXPECT_EQ(Ws("dpia --purpose research").exit_code, 2);  // --dataset missing
  EXPECT_EQ(Ws("dpia --dataset patients --purpose 'Not A Key'").exit_code, 2);
  r = Ws("dpia --dataset nope --purpose research");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nope"));
  EXPECT_EQ(Ws("report ropa --controller \"$(printf 'a\\tb')\"").exit_code, 2);
  EXPECT_EQ(Ws("report").exit_code, 2);
  // The unknown dataset passed the gate and was refused after: one entry for it is not written either.
  EXPECT_EQ(AuditSize(), size);
}

}  // namespace
}  // namespace veil::cli::testing
