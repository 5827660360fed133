// End-to-end tests of the governance commands (gov_commands.cc): `veil catalog`, `veil consent`, ... as a
// user runs them.
#include <algorithm>
#include <ctime>
#include <filesystem>
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
using Json = nlohmann::json;

class GovCliTest : public VeilCliTest {
 protected:
  void SetUp() override {
    VeilCliTest::SetUp();
    InitWithPatients();
    ASSERT_EQ(Ws("grant alex analyst --quiet").exit_code, 0);
    ASSERT_EQ(Ws("grant ines auditor --quiet").exit_code, 0);
  }

  // The column `name` of dataset `dataset` in `veil catalog --json`.
  Json Column(const Json& map, const std::string& dataset, const std::string& name) {
    for (const Json& d : map["datasets"]) {
      if (d["name"] != dataset) continue;
      for (const Json& c : d["columns"]) {
        if (c["name"] == name) return c;
      }
    }
    ADD_FAILURE() << "no column " << name;
    return Json::object();
  }

  // The audit entries whose action is `action`.
  std::vector<Json> Entries(const std::string& action) {
    std::vector<Json> out;
    const Json log = AuditLog();  // kept: a range-for over a temporary's member would dangle
    for (const Json& e : log["entries"]) {
      if (e["action"] == action) out.push_back(e);
    }
    return out;
  }

  // The subject ids (patient_id) of the rows `veil export patients --purpose P` releases, sorted.
  std::vector<std::string> Exported(const std::string& purpose) {
    Result r = Ws("export patients --purpose " + purpose + " -o " + Q(Path("export.csv")));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    std::istringstream in(Slurp(Path("export.csv")));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) ids.push_back(line.substr(0, line.find(',')));
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // The workspace's pseudonym of a subject id, as `veil consent show --json` reports it.
  std::string PseudonymOf(const std::string& subject) {
    Result r = Ws("--json consent show --subject " + subject);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson(r.out).value("subject", "");
  }

  // Ws() with the clock of the governance commands frozen at `now` (VEIL_TEST_NOW, tests only: a veil built
  // with -DVEIL_TEST_HOOKS=ON, as the Makefile's trees are; the tests that need it are skipped otherwise).
  Result At(const std::string& now, const std::string& args, const std::string& actor = "alice") {
    return Run("env -u VEIL_PASSPHRASE VEIL_TEST_SEED_OK=1 VEIL_TEST_NOW=" + Q(now) +
                   " VEIL_WORKSPACE=" + Q(ws_.string()) + " VEIL_ACTOR=" + Q(actor) + " ",
               args, "");
  }

  // The time `days` days from now, RFC 3339 UTC.
  static std::string DaysFromNow(int days) {
    const std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days) * 86400;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  void DeclareResearchOnConsent() {
    ASSERT_EQ(Ws("catalog declare patients --purpose research --basis consent --subject-type patient --quiet")
                  .exit_code,
              0);
    ASSERT_EQ(Ws("catalog declare patients --purpose care --basis contract --subject-type patient --quiet")
                  .exit_code,
              0);
  }
};

// Ingest classifies the columns; the owner confirms or corrects them; analysts and auditors read the map.
TEST_F(GovCliTest, CatalogStartsFromTheClassifierAndIsCorrectedByAPerson) {
  Result r = Ws("--json catalog");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json map = ParseJson(r.out);
  ASSERT_EQ(map["datasets"].size(), 1u);
  EXPECT_EQ(Column(map, "patients", "email")["categories"], Json::array({"user.contact.email"}));
  EXPECT_EQ(Column(map, "patients", "email")["source"], "classifier");
  EXPECT_EQ(Column(map, "patients", "email")["confirmed"], false);
  EXPECT_EQ(Column(map, "patients", "birth_date")["categories"],
            Json::array({"user.demographic.date_of_birth"}));
  EXPECT_EQ(Column(map, "patients", "zip")["role"], "quasi_identifier");
  EXPECT_EQ(Column(map, "patients", "notes")["categories"], Json::array({"user.content"}));
  EXPECT_EQ(Column(map, "patients", "diagnosis")["categories"], Json::array());
  EXPECT_THAT(map["datasets"][0]["findings"].dump(), HasSubstr("not confirmed"));

  r =
      Ws("catalog annotate patients diagnosis --category user.health.diagnosis --role quasi_identifier "
         "--note 'ICD chapter names'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.diagnosis"));
  ASSERT_EQ(Ws("catalog annotate patients email --confirm --quiet").exit_code, 0);
  r = Ws("catalog annotate patients diagnosis --category user.astrology");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is not a data category of the taxonomy"));
  EXPECT_EQ(Ws("catalog annotate patients nosuchcolumn --confirm").exit_code, 2);
  EXPECT_EQ(Ws("catalog annotate patients email --confirm", "alex").exit_code, 3) << "analysts read only";

  map = ParseJson(Ws("--json catalog patients", "ines").out);
  EXPECT_EQ(Column(map, "patients", "diagnosis")["categories"], Json::array({"user.health.diagnosis"}));
  EXPECT_EQ(Column(map, "patients", "diagnosis")["special"], "art9");
  EXPECT_EQ(Column(map, "patients", "diagnosis")["source"], "user");
  EXPECT_EQ(Column(map, "patients", "email")["confirmed"], true);
  EXPECT_EQ(map["datasets"][0]["special_categories"], Json::array({"user.health.diagnosis"}));

  r = Ws("catalog", "alex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.diagnosis [Art. 9]"));
  EXPECT_THAT(r.out, HasSubstr("Special categories held: user.health.diagnosis"));

  // Each change is audited, without any value of the data.
  const Json log = AuditLog();
  int annotations = 0;
  for (const Json& e : log["entries"]) annotations += e["action"] == "catalog.annotate" ? 1 : 0;
  EXPECT_EQ(annotations, 3) << "two changes and the analyst's refusal";
}

TEST_F(GovCliTest, DeclarationsRecordTheLegalBasisAndFlows) {
  ASSERT_EQ(Ws("catalog annotate patients diagnosis --category user.health.diagnosis --quiet").exit_code, 0);
  Result r =
      Ws("catalog declare patients --purpose research --basis consent --special-basis explicit_consent "
         "--subject-type patient --recipient 'University hospital' --transfer US:scc "
         "--retention '5 years' --description 'Outcome studies'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("consent (Art. 6(1)(a)), explicit_consent (Art. 9(2)(a))"));
  EXPECT_THAT(r.out, HasSubstr("use only the rows of subjects with a recorded, unexpired consent"));
  r = Ws("catalog declare patients --purpose care --basis contract --subject-type patient");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const Json map = ParseJson(Ws("--json catalog").out);
  const Json& d = map["datasets"][0];
  ASSERT_EQ(d["declarations"].size(), 2u);
  EXPECT_EQ(d["declarations"][1]["purpose"], "research");
  EXPECT_EQ(d["declarations"][1]["legal_basis_article"], "Art. 6(1)(a)");
  EXPECT_EQ(d["declarations"][1]["transfers"][0]["safeguard"], "scc");
  EXPECT_EQ(d["subject_types"], Json::array({"patient"}));
  EXPECT_THAT(d["findings"].dump(),
              HasSubstr("the declaration for \\\"care\\\" names no Art. 9(2) condition"));

  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis whim").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis consent --transfer US").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose astrology --basis consent").exit_code, 2);
  EXPECT_EQ(Ws("catalog declare patients --purpose research --basis consent", "alex").exit_code, 3);
  ASSERT_EQ(Ws("catalog declare patients --purpose care --remove --quiet").exit_code, 0);
  EXPECT_EQ(ParseJson(Ws("--json catalog").out)["datasets"][0]["declarations"].size(), 1u);
}

TEST_F(GovCliTest, TaxonomyIsListedAndExtended) {
  Result r = Ws("--json catalog taxonomy --kind category");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json t = ParseJson(r.out);
  ASSERT_TRUE(t.contains("categories"));
  EXPECT_FALSE(t.contains("uses"));
  r = Ws("catalog taxonomy add category user.health.allergy --description 'Allergies'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Ws("catalog taxonomy add category user.health.allergy --description 'again'").exit_code, 2);
  EXPECT_EQ(Ws("catalog taxonomy add use nowhere.child --description 'orphan'").exit_code, 2);
  r = Ws("catalog taxonomy --kind category");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("user.health.allergy"));
  EXPECT_THAT(r.out, HasSubstr("added by alice"));
  bool found = false;
  const Json all = ParseJson(Ws("--json catalog taxonomy").out);
  for (const Json& e : all["categories"]) {
    if (e["key"] == "user.health.allergy") {
      found = true;
      EXPECT_EQ(e["special"], "art9") << "inherited from user.health";
      EXPECT_EQ(e["builtin"], false);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(GovCliTest, GraphIsDrawnByGraphviz) {
  ASSERT_EQ(Ws("catalog declare patients --purpose research --basis consent --subject-type patient "
               "--recipient Lab --quiet")
                .exit_code,
            0);
  Result r = Ws("catalog graph -o " + Q(Path("map.svg")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = Slurp(Path("map.svg"));
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("user.contact.email"));
  EXPECT_THAT(svg, HasSubstr("disclosed to"));
  EXPECT_FALSE(std::filesystem::exists(Path("map.svg.tmp")));
  EXPECT_FALSE(std::filesystem::exists(Path("map.svg.dot.tmp")));
  r = Ws("catalog graph -o " + Q(Path("map.dot")), "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Slurp(Path("map.dot")), HasSubstr("digraph veil_data_map"));
  EXPECT_EQ(Ws("catalog graph -o " + Q(Path("map.gif"))).exit_code, 2);
}

// Granting and withdrawing are the same command shape and role (Art. 7(3)); each change is one audit entry
// naming the subject by pseudonym only; the history is versioned.
TEST_F(GovCliTest, ConsentIsGrantedAndWithdrawnAlikeAndAudited) {
  DeclareResearchOnConsent();
  const uint64_t before = AuditSize();
  Result r =
      Ws("consent grant --subject P00001 --purpose research --source web_form --notice-version v3 "
         "--at 2026-01-05");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Recorded the consent of subject "));
  EXPECT_THAT(r.out, HasSubstr("to \"research\" (version 1; audited)"));
  r = Ws("consent withdraw --subject P00001 --purpose research --source web_form --at 2026-02-01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Recorded the withdrawal"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("P00001"))) << "the id is never echoed";
  // A grant dated before the withdrawal joins the history without changing the state.
  r = Ws("consent grant --subject P00001 --purpose research --at 2026-01-20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("older than the subject's current record"));
  // Withdrawing everything at once.
  ASSERT_EQ(Ws("consent grant --subject P00002 --purpose research --quiet").exit_code, 0);
  ASSERT_EQ(Ws("consent grant --subject P00002 --purpose marketing.direct --quiet").exit_code, 0);
  r = Ws("consent withdraw --subject P00002 --all");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("marketing.direct, research"));

  r = Ws("--json consent show --subject P00001", "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json show = ParseJson(r.out);
  const std::string pseudonym = show["subject"];
  EXPECT_TRUE(IsLowerHex(show["subject"], 64));
  ASSERT_EQ(show["consent"].size(), 3u);
  EXPECT_EQ(show["consent"][0]["version"], 1);
  EXPECT_EQ(show["consent"][0]["state"], "granted");
  EXPECT_EQ(show["consent"][0]["source"], "web_form");
  EXPECT_EQ(show["consent"][0]["notice_version"], "v3");
  EXPECT_EQ(show["consent"][1]["state"], "withdrawn");
  EXPECT_EQ(show["consent"][1]["current"], true);
  EXPECT_EQ(show["consent"][2]["current"], false);
  r = Ws("consent show --subject P00001");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Consent history:"));
  EXPECT_THAT(r.out, HasSubstr("current"));
  const Json summary = ParseJson(Ws("--json consent show").out);
  ASSERT_EQ(summary["purposes"].size(), 2u);
  EXPECT_EQ(summary["purposes"][1]["purpose"], "research");
  EXPECT_EQ(summary["purposes"][1]["withdrawn"], 2);
  EXPECT_EQ(summary["purposes"][1]["granted"], 0);

  // One entry per change (3 for P00001, 2 grants and one withdraw --all for P00002), naming the pseudonym.
  const Json log = AuditLog();
  int changes = 0;
  for (const Json& e : log["entries"]) {
    if (e["seq"].get<uint64_t>() < before) continue;
    if (e["action"] != "consent.grant" && e["action"] != "consent.withdraw") continue;
    ++changes;
    EXPECT_EQ(e["decision"], "allowed");
    ASSERT_EQ(e["subject_pseudonyms"].size(), 1u) << e.dump();
    EXPECT_TRUE(IsLowerHex(e["subject_pseudonyms"][0], 64));
  }
  EXPECT_EQ(changes, 6);
  EXPECT_THAT(log.dump(), Not(HasSubstr("P0000"))) << "no subject id in the audit log";
  EXPECT_THAT(log.dump(), HasSubstr(pseudonym));

  // Only owners record; auditors read; analysts do neither. Each refusal exits 3 and is audited.
  const uint64_t size = AuditSize();
  EXPECT_EQ(Ws("consent grant --subject P00003 --purpose research", "alex").exit_code, 3);
  EXPECT_EQ(Ws("consent withdraw --subject P00003 --purpose research", "alex").exit_code, 3);
  EXPECT_EQ(Ws("consent withdraw --subject P00003 --all", "ines").exit_code, 3);
  EXPECT_EQ(Ws("consent show --subject P00001", "alex").exit_code, 3);
  EXPECT_EQ(Ws("consent object --subject P00003", "alex").exit_code, 3);
  EXPECT_EQ(Ws("consent restrict --subject P00003", "ines").exit_code, 3);
  EXPECT_EQ(Ws("consent lift --subject P00003 --objection", "alex").exit_code, 3);
  EXPECT_EQ(AuditSize(), size + 7) << "every refusal is an audit entry";

  // Bad input: exit 2, nothing recorded.
  for (const char* bad :
       {"consent grant --subject P00003 --purpose research --expires someday",
        "consent grant --subject P00003 --purpose Research!",
        "consent grant --subject P00003 --purpose research --source 'a b'",
        "consent grant --subject P00003 --purpose research --at 2026-03-01 "
        "--expires 2026-02-01",
        "consent withdraw --subject P00003 --purpose research --all", "consent withdraw --subject P00003"}) {
    r = Ws(bad);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_THAT(r.err, Not(HasSubstr("P00003"))) << bad;
  }
  EXPECT_EQ(AuditSize(), size + 7);
}

// An import is all or nothing: a bad record is named (with its field) and nothing is imported.
TEST_F(GovCliTest, ConsentImportNamesABadRecordAndImportsNothing) {
  DeclareResearchOnConsent();
  const std::string bad = WriteFile("consents.csv",
                                    "subject,purpose,state,time,source,notice_version\n"
                                    "P00001,research,granted,2026-01-05,web_form,v3\n"
                                    "P00002,research,granted,2026-01-05T10:00:00Z,paper,v3\n"
                                    "P00003,research,maybe,2026-01-05,web_form,v3\n"
                                    "P00004,research,granted,2026-01-05,web_form,v3\n");
  const uint64_t size = AuditSize();
  Result r = Ws("consent import " + Q(bad));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("consents.csv: record 3, field \"state\": must be granted or withdrawn"));
  EXPECT_THAT(r.err, Not(HasSubstr("P00003"))) << "the message names the record, not the subject";
  EXPECT_EQ(AuditSize(), size) << "nothing imported, nothing audited";
  EXPECT_EQ(ParseJson(Ws("--json consent show").out)["purposes"].size(), 0u);
  EXPECT_EQ(
      Ws("consent import " + Q(WriteFile("no-time.csv", "subject,purpose,state\nP1,research,granted\n")))
          .exit_code,
      2);
  EXPECT_EQ(Ws("consent import " + Q(WriteFile("x.json", "[{\"subject\": \"P1\"}"))).exit_code, 2);

  const std::string good = WriteFile("consents2.csv",
                                     "subject,purpose,state,time,source,notice_version\n"
                                     "P00001,research,granted,2026-01-05,web_form,v3\n"
                                     "P00002,research,granted,2026-01-05T10:00:00Z,paper,v3\n"
                                     "P00003,research,granted,2026-01-05,web_form,v3\n"
                                     "P00003,research,withdrawn,2026-02-05,web_form,v3\n");
  r = Ws("--json consent import " + Q(good));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json doc = ParseJson(r.out);
  EXPECT_EQ(doc["records"], 4);
  EXPECT_EQ(doc["subjects"], 3);
  ASSERT_EQ(doc["audit_entries"].size(), 1u);
  const std::vector<Json> imports = Entries("consent.import");
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0]["subject_pseudonyms"].size(), 3u);
  EXPECT_EQ(Exported("research"), (std::vector<std::string>{"P00001", "P00002"}));
  EXPECT_EQ(Ws("consent import " + Q(good), "alex").exit_code, 3);

  const std::string json = WriteFile("consents.json",
                                     R"({"records": [{"subject": "P00004", "purpose": "research",
                                         "state": "granted", "time": "2026-01-06", "expires": "2027-01-06"}]})");
  r = Ws("consent import " + Q(json) + " --source crm");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Imported 1 consent records of 1 subjects"));
  const Json show = ParseJson(Ws("--json consent show --subject P00004").out);
  EXPECT_EQ(show["consent"][0]["source"], "crm");
  EXPECT_EQ(show["consent"][0]["expires"], "2027-01-06T00:00:00Z");
}

// Objections (Art. 21) and restrictions (Art. 18) leave the subject out of what they cover until lifted.
TEST_F(GovCliTest, ObjectionAndRestrictionExcludeUntilLifted) {
  DeclareResearchOnConsent();
  const std::vector<std::string> all = Exported("care");
  ASSERT_EQ(all.size(), 300u);
  Result r = Ws("consent object --subject P00002 --purpose care --reason art21");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Recorded the objection of subject"));
  r = Ws("consent restrict --subject P00003 --dataset patients");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Recorded the restriction"));
  std::vector<std::string> kept = Exported("care");
  EXPECT_EQ(kept.size(), 298u);
  EXPECT_FALSE(std::binary_search(kept.begin(), kept.end(), "P00002"));
  EXPECT_FALSE(std::binary_search(kept.begin(), kept.end(), "P00003"));
  const Json show = ParseJson(Ws("--json consent show --subject P00003", "ines").out);
  ASSERT_EQ(show["restrictions"].size(), 1u);
  EXPECT_EQ(show["restrictions"][0]["kind"], "restriction");
  EXPECT_EQ(show["restrictions"][0]["dataset"], "patients");
  const Json summary = ParseJson(Ws("--json consent show").out);
  EXPECT_EQ(summary["objections"], 1);
  EXPECT_EQ(summary["restrictions"], 1);
  EXPECT_EQ(Entries("objection").size(), 1u);
  EXPECT_EQ(Entries("restriction").size(), 1u);

  r = Ws("consent lift --subject P00003 --restriction --dataset patients");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Lifted 1 restriction(s)"));
  EXPECT_EQ(Ws("consent lift --subject P00003 --restriction --dataset patients").exit_code, 2)
      << "nothing left to lift";
  EXPECT_EQ(Ws("consent lift --subject P00002 --objection --restriction").exit_code, 2);
  ASSERT_EQ(Ws("consent lift --subject P00002 --objection --purpose care --quiet").exit_code, 0);
  EXPECT_EQ(Exported("care"), all);
  EXPECT_EQ(Entries("restriction.lift").size(), 1u);
  EXPECT_EQ(Entries("objection.lift").size(), 1u);
  const Json log = AuditLog();
  for (const Json& e : log["entries"]) {
    if (e["action"] == "objection" || e["action"] == "restriction.lift") {
      ASSERT_EQ(e["subject_pseudonyms"].size(), 1u);
    }
  }
  EXPECT_THAT(AuditLog().dump(), Not(HasSubstr("P0000")));
}

// Where consent is the purpose's legal basis, a DP query (an analyst's, charged) counts only consenting
// subjects; the audit entry says how many were left out.
TEST_F(GovCliTest, DpQueryUsesOnlyConsentingSubjects) {
  DeclareResearchOnConsent();
  ASSERT_EQ(Ws("budget set patients --epsilon 20 --quiet").exit_code, 0);
  for (const char* s : {"P00001", "P00002", "P00003"})
    ASSERT_EQ(Ws(std::string("consent grant --subject ") + s + " --purpose research --quiet").exit_code, 0);
  ASSERT_EQ(Ws("consent withdraw --subject P00003 --purpose research --quiet").exit_code, 0);
  ASSERT_EQ(Ws("consent object --subject P00002 --purpose research.cohort --quiet").exit_code, 0);

  const std::string count =
      "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 4, privacy_unit_column = patient_id) "
      "COUNT(*) AS n FROM patients";
  Result r = Ws("--json query " + Q(count) + " --purpose research", "alex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Two consenting subjects of one row each. Laplace noise of scale 1 / 4: |noise| > 20 has probability
  // exp(-80); without the consent filter the count would be near 300.
  EXPECT_NEAR(ParseJson(r.out)["result"]["rows"][0][0].get<double>(), 2, 20);
  std::vector<Json> queries = Entries("query");
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_THAT(queries[0]["reason"].get<std::string>(),
              HasSubstr("consent is the legal basis of \"research\"; 298 subject(s) left out"));
  // The objection to research.cohort leaves P00002 out of that narrower purpose too.
  r = Ws("--json query " + Q(count) + " --purpose research.cohort", "alex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  queries = Entries("query");
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_THAT(queries[1]["reason"].get<std::string>(), HasSubstr("299 subject(s) left out"));
  // A contract basis needs no consent: everyone counts.
  r = Ws("--json query " + Q(count) + " --purpose care", "alex");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(ParseJson(r.out)["result"]["rows"][0][0].get<double>(), 300, 20);
  EXPECT_EQ(Exported("research"), (std::vector<std::string>{"P00001", "P00002"}));
}

// A consent's expiry, end to end on the frozen clock.
TEST_F(GovCliTest, ConsentExpiresOnTheFrozenClock) {
  DeclareResearchOnConsent();
  if (!VEIL_TEST_HOOKS) {
    // A build without test hooks (what is deployed) refuses the frozen clock, switch or not.
    Result r = At("2026-06-01", "consent show");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("built without test hooks"));
    GTEST_SKIP() << "the rest needs a veil built with -DVEIL_TEST_HOOKS=ON (the frozen clock)";
  }
  ASSERT_EQ(Ws("consent grant --subject P00001 --purpose research --at 2026-01-01 --expires 2026-06-01 "
               "--quiet")
                .exit_code,
            0);
  Result r = At("2026-05-31T23:59:59Z", "--json consent show");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["purposes"][0]["granted"], 1);
  r = At("2026-06-01", "--json consent show");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["purposes"][0]["expired"], 1);
  // The hook is for tests only: without the tests' switch it is refused.
  r = Run("env -u VEIL_TEST_SEED_OK VEIL_TEST_NOW=2026-06-01 VEIL_WORKSPACE=" + Q(ws_.string()) + " ",
          "consent show", "");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("VEIL_TEST_NOW freezes the clock and is for tests only"));
  EXPECT_EQ(At("soon", "consent show").exit_code, 2);
}

// A date-column rule: what is due when, a dry run, enforcement by crypto-shredding that a second run does
// not repeat, a legal hold that keeps what it covers until released; one audit entry per run, counts only.
TEST_F(GovCliTest, RetentionByDateColumnWithLegalHolds) {
  if (!VEIL_TEST_HOOKS) GTEST_SKIP() << "needs a veil built with -DVEIL_TEST_HOOKS=ON (the frozen clock)";
  Result r = Ws("retention set --dataset patients --days 730 --trigger column:admitted_at");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("is kept 730 days from column:admitted_at (audited)"));
  // patients.csv's admissions run through 2025; 152 of them are before 2025-07-01, the next on 2025-07-03.
  // (Times after the real clock: audit entries are never dated before the previous one.)
  const std::string when = "2027-07-01T00:00:00Z";
  r = At(when, "--json retention status", "ines");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json status = ParseJson(r.out);
  ASSERT_EQ(status["datasets"].size(), 1u);
  EXPECT_EQ(status["datasets"][0]["subjects"], 300);
  EXPECT_EQ(status["datasets"][0]["due"], 152);
  EXPECT_EQ(status["datasets"][0]["upcoming"].size(), 12u);
  r = At(when, "retention status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("due now: 152; next due: 2027-07-03T02:32:00Z"));

  r = Ws("retention hold --dataset patients --subject P00002 --reason litigation-2026-04");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Placed legal hold #1 on subject "));
  EXPECT_EQ(Ws("retention hold --dataset patients --subject P00002 --reason again").exit_code, 2);
  const uint64_t size = AuditSize();
  r = At(when, "--json retention enforce --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json dry = ParseJson(r.out);
  EXPECT_EQ(dry["due"], 151);
  EXPECT_EQ(dry["held"], 1);
  EXPECT_EQ(dry["erased_subjects"], 0);
  EXPECT_TRUE(dry["audit_seq"].is_null());
  EXPECT_EQ(AuditSize(), size) << "a dry run changes nothing";

  r = At(when, "retention enforce");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Erased 151 subject record(s), 151 rows, by crypto-shredding (151 data keys "
                               "destroyed); 1 due record(s) kept under legal holds"));
  EXPECT_EQ(Exported("care").size(), 149u);
  r = At(when, "retention enforce");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Nothing was due at 2027-07-01T00:00:00Z: nothing erased; 1 due record(s) "
                               "kept under legal holds"));
  EXPECT_EQ(Exported("care").size(), 149u);

  const std::vector<Json> runs = Entries("retention.enforce");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_THAT(
      runs[0]["reason"].get<std::string>(),
      HasSubstr("retention enforcement: 151 subject record(s) due, erased by crypto-shredding; 1 kept "
                "under legal holds"));
  EXPECT_EQ(runs[0]["time"], when);
  EXPECT_THAT(runs[1]["reason"].get<std::string>(), HasSubstr("0 subject record(s) due, nothing to erase"));
  for (const Json& e : runs) EXPECT_TRUE(e["subject_pseudonyms"].empty()) << e.dump();
  EXPECT_THAT(AuditLog().dump(), Not(HasSubstr("P0000")));

  // Released, the held record goes at the next run.
  ASSERT_EQ(Ws("retention release --dataset patients --subject P00002 --quiet").exit_code, 0);
  EXPECT_EQ(Ws("retention release --dataset patients --subject P00002").exit_code, 2);
  r = At(when, "--json retention enforce");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["erased_subjects"], 1);
  // A hold on the whole dataset keeps everything due.
  ASSERT_EQ(Ws("retention hold --dataset patients --reason audit-2026 --quiet").exit_code, 0);
  r = At("2028-01-01", "--json retention enforce");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["erased_subjects"], 0);
  EXPECT_EQ(ParseJson(r.out)["held"], 148);

  // Roles: owners enforce and set; auditors read the status; analysts neither. Refusals exit 3.
  EXPECT_EQ(At(when, "retention enforce", "alex").exit_code, 3);
  EXPECT_EQ(At(when, "retention enforce --dry-run", "ines").exit_code, 3);
  EXPECT_EQ(At(when, "retention status", "alex").exit_code, 3);
  EXPECT_EQ(Ws("retention set --dataset patients --days 1", "alex").exit_code, 3);
  EXPECT_EQ(Ws("retention hold --dataset patients --reason x", "ines").exit_code, 3);
}

// The ingest trigger counts from when the subject's rows arrived (today, in this test).
TEST_F(GovCliTest, RetentionFromIngest) {
  if (!VEIL_TEST_HOOKS) GTEST_SKIP() << "needs a veil built with -DVEIL_TEST_HOOKS=ON (the frozen clock)";
  ASSERT_EQ(Ws("retention set --dataset patients --days 30 --trigger ingest --quiet").exit_code, 0);
  Result r = At(DaysFromNow(29), "--json retention enforce --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["due"], 0);
  r = At(DaysFromNow(31), "--json retention enforce --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["due"], 300);
  // A shorter rule for a category the dataset holds (its e-mail column) makes its records due sooner.
  r = Ws("retention set --dataset patients --category user.contact --days 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(columns of user.contact) is kept 7 days from ingest"));
  r = At(DaysFromNow(8), "--json retention status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["datasets"][0]["rules"].size(), 2u);
  EXPECT_EQ(ParseJson(r.out)["datasets"][0]["due"], 300);
  ASSERT_EQ(Ws("retention set --dataset patients --category user.contact --remove --quiet").exit_code, 0);
  r = At(DaysFromNow(8), "--json retention status");
  EXPECT_EQ(ParseJson(r.out)["datasets"][0]["due"], 0);
}

// Bad input exits 2 with the reason and changes nothing.
TEST_F(GovCliTest, RetentionBadInputChangesNothing) {
  const uint64_t size = AuditSize();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"retention set --dataset nosuch --days 30", "nosuch"},
      {"retention set --dataset patients --days 0", "--days N is required"},
      {"retention set --dataset patients --days -5", ""},
      {"retention set --dataset patients --days 40000", "must be 1 to 36500 days"},
      {"retention set --dataset patients --days ten", ""},
      {"retention set --dataset patients --days 30 --trigger column:nosuch", "has no column \"nosuch\""},
      {"retention set --dataset patients --days 30 --trigger column:name", "not a date or timestamp"},
      {"retention set --dataset patients --days 30 --trigger last_activity", "unknown retention trigger"},
      {"retention set --dataset patients --days 30 --category user.health", "holds no column of category"},
      {"retention set --dataset patients --days 30 --category user.astrology", "not a data category"},
      {"retention hold --dataset nosuch --reason x", "nosuch"},
      {"retention hold --dataset patients --reason 'free text'", "short code"},
      {"retention release --dataset patients", "no legal hold"},
  };
  for (const auto& [args, message] : bad) {
    Result r = Ws(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(message)) << args;
  }
  EXPECT_EQ(AuditSize(), size) << "nothing recorded";
  Result r = Ws("retention status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("No retention rules"));
}

// A subject request from receipt to completion, as a data protection officer runs it: the Art. 12(3) month on
// the frozen clock, one extension, illegal steps refused, access and portability files, erasure honouring a
// legal hold, owner only, each step one audit entry without personal data in its text.
TEST_F(GovCliTest, SubjectRequests) {
  if (!VEIL_TEST_HOOKS) GTEST_SKIP() << "needs a veil built with -DVEIL_TEST_HOOKS=ON (the frozen clock)";
  DeclareResearchOnConsent();
  const std::string t0 = "2026-03-01T09:00:00Z";
  Result r = At(t0, "--json dsr open --kind access --subject P00001 --note ticket-7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json req = ParseJson(r.out);
  EXPECT_EQ(req["id"], 1);
  EXPECT_EQ(req["state"], "received");
  EXPECT_EQ(req["due"], "2026-04-01T09:00:00Z");
  EXPECT_EQ(req["subject"], PseudonymOf("P00001"));
  EXPECT_THAT(r.out, Not(HasSubstr("P00001")));

  r = At(t0, "dsr run 1 -o " + Q(Path("access.json")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("verify the requester's identity first"));
  EXPECT_FALSE(std::filesystem::exists(Path("access.json")));
  ASSERT_EQ(At(t0, "dsr verify 1 --quiet").exit_code, 0);
  r = At(t0, "dsr run 1 -o " + Q(Path("access.json")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json doc = ParseJson(Slurp(Path("access.json")));
  ASSERT_EQ(doc["datasets"].size(), 1u);
  ASSERT_EQ(doc["datasets"][0]["rows"].size(), 1u);
  EXPECT_EQ(doc["datasets"][0]["rows"][0]["patient_id"], "P00001");
  EXPECT_EQ(doc["datasets"][0]["rows"][0]["name"], "Nora Costa");
  EXPECT_EQ(doc["datasets"][0]["processing"].size(), 2u) << "care and research declarations";
  EXPECT_TRUE(doc.contains("consent") && doc.contains("automated_decisions"));
  r = At(t0, "--json dsr status 1");
  EXPECT_EQ(ParseJson(r.out)["state"], "completed");
  EXPECT_EQ(At(t0, "dsr verify 1").exit_code, 1) << "a completed request takes no more steps";

  // Portability: JSON and one CSV per dataset.
  ASSERT_EQ(At(t0, "dsr open --kind portability --subject P00002 --quiet").exit_code, 0);
  ASSERT_EQ(At(t0, "dsr verify 2 --quiet").exit_code, 0);
  EXPECT_EQ(At(t0, "dsr run 2").exit_code, 2) << "portability needs -o";
  ASSERT_EQ(At(t0, "dsr run 2 --quiet -o " + Q(Path("port.json"))).exit_code, 0);
  const std::string csv = Slurp(Path("port.patients.csv"));
  EXPECT_THAT(csv, HasSubstr("patient_id,name,"));
  EXPECT_THAT(csv, HasSubstr("P00002,Nora Mensah,"));
  EXPECT_THAT(csv, Not(HasSubstr("P00001")));

  // Erasure of two subjects, one under a legal hold: kept, with the Art. 17(3)(e) exception recorded.
  ASSERT_EQ(
      Ws("retention hold --dataset patients --subject P00003 --reason litigation-2026-04 --quiet").exit_code,
      0);
  ASSERT_EQ(At(t0, "dsr open --kind erasure --subject P00003 --quiet").exit_code, 0);
  ASSERT_EQ(At(t0, "dsr open --kind erasure --subject P00004 --quiet").exit_code, 0);
  // The deadline: overdue after one month, not once extended (three months).
  r = At("2026-04-02", "--json dsr list --overdue");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["requests"].size(), 2u);
  r = At("2026-04-02", "dsr extend 3 --reason complexity");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2026-06-01"));
  EXPECT_EQ(At("2026-04-02", "dsr extend 3 --reason again").exit_code, 1) << "once only";
  // Extended is shown with the state the request stays in.
  r = At("2026-04-02", "dsr status 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("state     received, extended (identity not verified yet)"));
  EXPECT_EQ(ParseJson(At("2026-04-02", "--json dsr status 3").out)["extended"], true);
  r = At("2026-04-02", "--json dsr list --overdue");
  ASSERT_EQ(ParseJson(r.out)["requests"].size(), 1u);
  EXPECT_EQ(ParseJson(r.out)["requests"][0]["id"], 4);
  for (const char* id : {"3", "4"}) {
    ASSERT_EQ(At("2026-04-02", std::string("dsr verify ") + id + " --quiet").exit_code, 0);
    r = At("2026-04-02", std::string("--json dsr run ") + id);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const Json held = ParseJson(At("2026-04-02", "--json dsr status 3").out);
  EXPECT_EQ(held["outcome"]["kept"][0]["holds"][0]["reason"], "litigation-2026-04");
  EXPECT_EQ(held["outcome"]["erased"].size(), 0u);
  const Json erased = ParseJson(At("2026-04-02", "--json dsr status 4").out);
  EXPECT_EQ(erased["outcome"]["erased"][0]["dataset"], "patients");
  const std::vector<std::string> left = Exported("care");
  EXPECT_TRUE(std::binary_search(left.begin(), left.end(), "P00003")) << "held";
  EXPECT_FALSE(std::binary_search(left.begin(), left.end(), "P00004")) << "erased";

  // Owner only: an auditor or analyst is refused (and audited).
  EXPECT_EQ(Ws("dsr list", "ines").exit_code, 3);
  EXPECT_EQ(Ws("dsr open --kind access --subject P00005", "alex").exit_code, 3);

  // Bad input: exit 2, nothing recorded.
  const size_t before = ParseJson(At(t0, "--json dsr list").out)["requests"].size();
  EXPECT_EQ(At(t0, "dsr open --kind nonsense --subject P00005").exit_code, 2);
  EXPECT_EQ(At(t0, "dsr open --kind access --subject P00005 --note " + Q("call her back")).exit_code, 2);
  EXPECT_EQ(At(t0, "dsr open --kind access --subject P00005 --dataset nope").exit_code, 2);
  EXPECT_EQ(At(t0, "dsr open --kind access --subject P00005 --purpose research").exit_code, 2);
  EXPECT_EQ(At(t0, "dsr status 99").exit_code, 2);
  EXPECT_EQ(At(t0, "dsr reject 1 --reason " + Q("no reason")).exit_code, 2);
  EXPECT_EQ(ParseJson(At(t0, "--json dsr list").out)["requests"].size(), before);

  // Every step is one audit entry naming the pseudonym; no subject id or value in its text.
  const auto allowed = [&](const std::string& action) {
    size_t n = 0;
    for (const Json& e : Entries(action)) n += e["decision"] == "allowed" ? 1 : 0;
    return n;
  };
  EXPECT_EQ(allowed("dsr.open"), 4u);
  EXPECT_EQ(allowed("dsr.update"), 5u) << "4 verifications and one extension";
  EXPECT_EQ(allowed("dsr.run"), 6u) << "4 runs, and the 2 erasures' completions (a step, its own entry)";
  EXPECT_EQ(Entries("dsr.read").size(), 1u) << "the auditor's refused list";
  for (const char* action : {"dsr.open", "dsr.update", "dsr.run", "dsr.read"}) {
    for (const Json& e : Entries(action)) {
      EXPECT_THAT(e.dump(), Not(HasSubstr("P0000"))) << action;
      EXPECT_THAT(e.dump(), Not(HasSubstr("Nora"))) << action;
    }
  }
}

}  // namespace
}  // namespace veil::cli::testing
