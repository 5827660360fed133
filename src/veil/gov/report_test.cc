// Tests of the reports (report.h): rendering of fixed facts against golden files, and the gathering of facts
// from a small real workspace through the gate.
//
// Golden files: src/veil/gov/testdata/{ropa,dpia}.{txt,html}. After an intended change of a report's
// content or layout, regenerate them and review the diff:
//
//   VEIL_UPDATE_GOLDEN=1 build/<dir>/src/veil/gov/veil_gov_test --gtest_filter='ReportGolden*'
//
// (run from the repository root, or with VEIL_SOURCE_DIR pointing at it).
#include "veil/gov/report.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/hex.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/catalog.h"
#include "veil/gov/consent.h"
#include "veil/gov/dsr.h"
#include "veil/gov/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace report_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::veil::gov::testing::AuditEntries;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::DamageVault;
using ::veil::gov::testing::UtcTime;

// --- Fixed facts for the golden files ---

ReportHeader FixedHeader() {
  ReportHeader h;
  h.workspace_id = "0123456789abcdef0123456789abcdef";
  h.generated_at = UtcTime(2026, 12, 1) + absl::Hours(9) + absl::Minutes(30);
  h.generated_by = "ines";
  h.controller = "Clinique <Saint-Éloi> & Partners, 1 rue de l'Hôpital, Lyon";  // escaped in HTML
  h.dpo = "";                                                                   // left to fill in
  h.audit_seq = 42;
  return h;
}

Declaration ResearchDeclaration() {
  Declaration d;
  d.dataset = "patients";
  d.purpose = "research.cohort";
  d.basis = LegalBasis::kConsent;
  d.special_basis = SpecialBasis::kExplicitConsent;
  d.subject_types = {"patient"};
  d.recipients = {"University \"Lab\" <A&B>"};
  d.transfers = {{"US", "scc"}};
  d.retention = "5 years after the study ends";
  d.automated_decisions = false;
  d.description = "Diabetes cohort study";
  d.declared_by = "alice";
  d.declared_at = UtcTime(2026, 3, 1);
  return d;
}

AuditIntegrityFacts FixedAudit() {
  AuditIntegrityFacts a;
  a.verified = true;
  a.entries = 1234;
  a.root = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  a.checkpoints = 3;
  a.denials = 7;
  return a;
}

EncryptionFacts FixedEncryption() {
  EncryptionFacts e;
  e.dataset = "patients";
  e.subjects = 300;
  e.data_keys = 300;
  e.vault_files = 2;
  e.vault_bytes = 81234;
  e.vault_verified = true;
  return e;
}

BudgetFacts FixedBudget() {
  BudgetFacts b;
  b.dataset = "patients";
  b.has_total = true;
  b.total = {1.0, 1e-6};
  b.spent = {0.3, 0};
  b.remaining = {0.7, 1e-6};
  b.charges = 3;
  return b;
}

RetentionFacts FixedRetention() {
  RetentionFacts r;
  r.dataset = "patients";
  r.rules = {{"", 365, "column:admitted_at"}, {"user.contact", 730, "ingest"}};
  r.subjects = 300;
  r.due = 152;
  r.held = 2;
  r.undated = 1;
  r.holds = 1;
  r.next_due = UtcTime(2027, 1, 15);
  return r;
}

RopaFacts FixedRopa() {
  RopaFacts f;
  f.header = FixedHeader();
  RopaActivity care;
  care.declaration = ResearchDeclaration();
  care.declaration.purpose = "care";
  care.declaration.basis = LegalBasis::kContract;
  care.declaration.special_basis = SpecialBasis::kHealthCare;
  care.declaration.recipients = {};
  care.declaration.transfers = {};
  care.declaration.retention = "";
  care.declaration.description = "";
  care.declaration.automated_decisions = true;
  care.categories = {"user.contact.email", "user.health.diagnosis", "user.name"};
  care.special_categories = {"user.health.diagnosis"};
  care.subjects = 300;
  RopaActivity research = care;
  research.declaration = ResearchDeclaration();
  f.activities = {care, research};
  RopaActivity attached;
  attached.declaration = ResearchDeclaration();
  attached.declaration.dataset = "claims";
  attached.declaration.purpose = "analytics.reporting";
  attached.declaration.basis = LegalBasis::kLegitimateInterests;
  attached.declaration.special_basis = SpecialBasis::kNone;
  attached.declaration.subject_types = {};
  attached.declaration.transfers = {};
  attached.attached = true;
  f.activities.push_back(attached);
  f.findings = {
      "claims: attached dataset: its columns were not classified (annotate them with veil catalog "
      "annotate)",
      "claims: the declaration for \"analytics.reporting\" names no data subject type"};
  RetentionFacts claims;
  claims.dataset = "claims";
  f.retention = {claims, FixedRetention()};
  EncryptionFacts claims_enc;
  claims_enc.dataset = "claims";
  claims_enc.attached = true;
  EncryptionFacts broken = FixedEncryption();
  broken.dataset = "visits";
  broken.vault_verified = false;
  broken.vault_error = "vault file 000001.vlt of dataset \"visits\" does not match the catalog's SHA-256";
  f.encryption = {claims_enc, FixedEncryption(), broken};
  BudgetFacts none;
  none.dataset = "claims";
  f.budgets = {none, FixedBudget()};
  f.audit = FixedAudit();
  f.gate = {1, 2, 1};
  return f;
}

DpiaFacts FixedDpia() {
  DpiaFacts f;
  f.header = FixedHeader();
  f.dataset = "patients";
  f.purpose = "research.cohort";
  f.kind = "vault";
  f.rows = 300;
  f.subjects = 300;
  f.sources = 1;
  f.columns = {
      {"patient_id", "string", true, true, {"user.identifier"}, "direct_identifier", Special::kNone, true},
      {"name", "string", false, true, {"user.name"}, "direct_identifier", Special::kNone, false},
      {"zip",
       "int64",
       false,
       true,
       {"user.contact.address.postal_code"},
       "quasi_identifier",
       Special::kNone,
       true},
      {"sex", "string", false, true, {"user.demographic.sex"}, "quasi_identifier", Special::kNone, true},
      {"diagnosis",
       "string",
       false,
       true,
       {"user.health.diagnosis"},
       "quasi_identifier",
       Special::kArt9,
       true},
      {"notes", "string", false, true, {"user.content"}, "free_text", Special::kNone, false},
      {"charges", "double", false, false, {}, "", Special::kNone, false},
  };
  f.categories = {"user.contact.address.postal_code",
                  "user.content",
                  "user.demographic.sex",
                  "user.health.diagnosis",
                  "user.identifier",
                  "user.name"};
  f.special_categories = {"user.health.diagnosis"};
  f.findings = {"1 column(s) have no data categories"};
  f.purpose_declared = true;
  f.declaration = ResearchDeclaration();
  f.consent = {true, "research.cohort", 300, 199, 3, 197};
  f.requests = {5, 2, 2, 1, 1, 1};
  f.retention = FixedRetention();
  f.objections = 2;
  f.restrictions = 1;
  f.risk.columns = {"zip", "sex", "diagnosis"};
  f.risk.assessed = true;
  f.risk.records = 300;
  f.risk.classes = 212;
  f.risk.threshold = 0.2;
  f.risk.highest = 1;
  f.risk.average = 212.0 / 300;
  f.risk.records_at_risk = 0.92;
  f.risk.sample_uniques = 0.5833333333333334;
  f.risk.smallest_class = 1;
  f.budget = FixedBudget();
  f.encryption = FixedEncryption();
  f.audit = FixedAudit();
  f.gate = {1, 2, 1};
  ModelFacts m;
  m.name = "readmission";
  m.version = 2;
  m.purpose = "research.cohort";
  m.kind = "logreg";
  m.privacy = "dp-sgd, epsilon 1, delta 1e-06";
  m.fairness_audited = true;
  m.fairness_at = "2026-11-30T10:00:00Z";
  m.fairness = {{"sex", "FAIL", 0.14, 0.35, 0.08, 2, 0}, {"age_band", "INCONCLUSIVE", 0, 1, 0, 1, 3}};
  ModelFacts unaudited;
  unaudited.name = "stay";
  unaudited.version = 1;
  unaudited.purpose = "care";
  unaudited.kind = "linreg";
  unaudited.privacy = "non-private";
  f.models = {m, unaudited};
  return f;
}

std::string GoldenPath(const std::string& name) {
  const char* root = std::getenv("VEIL_SOURCE_DIR");
  return absl::StrCat(root != nullptr && *root != '\0' ? root : ".", "/src/veil/gov/testdata/", name);
}

// Compares `actual` with the golden file, or rewrites it under VEIL_UPDATE_GOLDEN=1.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = GoldenPath(name);
  const char* update = std::getenv("VEIL_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  const std::string expected = base::testing::FileContents(path);
  ASSERT_FALSE(expected.empty()) << path
                                 << " is missing: run with VEIL_UPDATE_GOLDEN=1 (see the file comment)";
  EXPECT_EQ(actual, expected) << "the report differs from " << path
                              << "; if the change is intended, regenerate with VEIL_UPDATE_GOLDEN=1";
}

TEST(ReportGoldenTest, RopaText) { ExpectGolden("ropa.txt", RenderRopaText(FixedRopa())); }
TEST(ReportGoldenTest, RopaHtml) { ExpectGolden("ropa.html", RenderRopaHtml(FixedRopa())); }
TEST(ReportGoldenTest, DpiaText) { ExpectGolden("dpia.txt", RenderDpiaText(FixedDpia())); }
TEST(ReportGoldenTest, DpiaHtml) { ExpectGolden("dpia.html", RenderDpiaHtml(FixedDpia())); }

// Every string from the facts is escaped; nothing is loaded from elsewhere or runs; each section of the CNIL
// structure starts a printed page.
TEST(ReportRenderTest, DpiaHtmlIsSelfContainedEscapedAndPrintable) {
  const std::string html = RenderDpiaHtml(FixedDpia());
  EXPECT_THAT(html, Not(HasSubstr("<A&B>")));
  EXPECT_THAT(html, HasSubstr("University &quot;Lab&quot; &lt;A&amp;B&gt;"));
  EXPECT_THAT(html, HasSubstr("Clinique &lt;Saint-Éloi&gt; &amp; Partners"));
  for (const char* forbidden : {"<script", "<link", "<img", "<input", "<form",
                                "src=", "href=", "http:", "https:", "@import", "url("}) {
    EXPECT_THAT(html, Not(HasSubstr(forbidden))) << forbidden;
  }
  EXPECT_THAT(html, HasSubstr("@media print"));
  EXPECT_THAT(html, HasSubstr("section + section { break-before: page; }"))
      << "each section after the first (which follows the header on page 1) starts a printed page";
  EXPECT_THAT(html, HasSubstr("default-src 'none'; style-src 'unsafe-inline'"));
  size_t at = 0;
  for (const char* title : {"<h2>1. Context</h2>", "<h2>2. Fundamental principles</h2>", "<h2>3. Risks</h2>",
                            "<h2>4. Measures (measured technical measures)</h2>", "<h2>5. Validation</h2>"}) {
    const size_t next = html.find(title, at);
    ASSERT_NE(next, std::string::npos) << title << " missing or out of order";
    EXPECT_EQ(html.rfind("<section>", next), next - std::string("<section>\n").size()) << title;
    at = next;
  }
  for (const char* risk : {"3.1 Illegitimate access to data", "3.2 Unwanted modification of data",
                           "3.3 Disappearance of data"}) {
    const size_t pos = html.find(risk);
    ASSERT_NE(pos, std::string::npos) << risk;
    const size_t end = html.find("<h3>", pos + 1);
    const std::string block = html.substr(pos, end - pos);
    for (const char* field : {"Risk sources", "Main threats", "Main potential impacts", "Severity",
                              "Likelihood", "Negligible", "Maximum"}) {
      EXPECT_THAT(block, HasSubstr(field)) << risk;
    }
  }
  for (const char* field :
       {"Opinion of the data protection officer", "Views of the data subjects", "Signature", "Date"}) {
    EXPECT_THAT(html.substr(html.find("5. Validation")), HasSubstr(field));
  }
  // Model cards contribute figures and verdicts, never the attribute's group labels.
  EXPECT_THAT(html, HasSubstr("FAIL"));
  EXPECT_THAT(html, HasSubstr("0.35"));
}

TEST(ReportRenderTest, MeasuredFailuresAreShownAsAlerts) {
  DpiaFacts f = FixedDpia();
  f.audit = {};
  f.audit.error = "entry 17: the stored tree head does not match the recomputed one";
  f.encryption.vault_verified = false;
  f.encryption.vault_error = "vault file 000001.vlt does not match the catalog's SHA-256";
  f.risk = {};
  f.risk.not_assessed = "no column of the dataset is marked as a quasi-identifier";
  const std::string text = RenderDpiaText(f);
  EXPECT_THAT(text, HasSubstr("(!) Audit log integrity: FAILED when this report was generated: entry 17"));
  EXPECT_THAT(text, HasSubstr("FAILED: vault file 000001.vlt"));
  EXPECT_THAT(text, HasSubstr("Not assessed: no column of the dataset is marked as a quasi-identifier."));
  const std::string html = RenderDpiaHtml(f);
  EXPECT_THAT(html, HasSubstr("<p class=\"note alert\">Audit log integrity: FAILED"));
}

// A name taken from input (a CSV header names a column; a declaration names recipients) may hold control
// characters: the text and HTML show them escaped, so an ESC sequence cannot reach a terminal or a page.
TEST(ReportRenderTest, ControlCharactersInNamesAreEscaped) {
  DpiaFacts f = FixedDpia();
  ASSERT_FALSE(f.columns.empty());
  f.columns[0].name = "na\x1b]0;owned\x07me";
  f.columns.back().name = "tab\there\x7f";
  ASSERT_TRUE(f.declaration.has_value());
  f.declaration->recipients = {"line\nbreak\r"};
  for (const std::string& out : {RenderDpiaText(f), RenderDpiaHtml(f)}) {
    for (char c = 0; c < 0x20; ++c) {
      if (c == '\n') continue;  // the documents' own line breaks
      EXPECT_EQ(out.find(c), std::string::npos) << "control character " << int{c};
    }
    EXPECT_EQ(out.find('\x7f'), std::string::npos);
    EXPECT_THAT(out, HasSubstr("na\\x1b]0;owned\\x07me"));
    EXPECT_THAT(out, HasSubstr("tab\\there\\x7f"));
    EXPECT_THAT(out, HasSubstr("line\\nbreak\\r"));
  }
  // The JSON keeps the name as it is; its own escaping (\u001b) keeps it printable.
  const std::string json = DpiaToJson(f).dump();
  EXPECT_EQ(json.find('\x1b'), std::string::npos);
  EXPECT_THAT(json, HasSubstr("na\\u001b]0;owned\\u0007me"));
}

// The audit entry's result hash covers the facts, whatever the entry's own number.
TEST(ReportRenderTest, FactsHashIgnoresTheAuditSeqOnly) {
  DpiaFacts f = FixedDpia();
  const crypto::Sha256Digest h = FactsHash(DpiaToJson(f));
  f.header.audit_seq = 99;
  EXPECT_EQ(FactsHash(DpiaToJson(f)), h);
  f.consent.consented = 198;
  EXPECT_NE(FactsHash(DpiaToJson(f)), h);
}

TEST(ReportGateTest, OwnersAndAuditorsGenerateReports) {
  for (Operation op : {Operation::kReportRopa, Operation::kReportDpia}) {
    EXPECT_THAT(RolesAllowed(op), ElementsAre(Role::kOwner, Role::kAuditor));
    EXPECT_FALSE(NeedsPurpose(op)) << "a DPIA comes before the purpose is declared";
    EXPECT_FALSE(IsDpOperation(op));
  }
  EXPECT_STREQ(OperationName(Operation::kReportRopa), "report.ropa");
  EXPECT_STREQ(OperationName(Operation::kReportDpia), "report.dpia");
}

// --- Gathering facts from a real workspace ---

// Five rows of four patients. Quasi-identifiers zip and sex form two classes of two patients each: (75001, F)
// MRN-1 (two rows) and MRN-3, (75002, M) MRN-2 and MRN-4.
constexpr char kPatients[] =
    "mrn,name,age,zip,sex,diagnosis\n"
    "MRN-1,Alice Moreau,34,75001,F,asthma\n"
    "MRN-2,Bruno Keller,51,75002,M,diabetes\n"
    "MRN-1,Alice Moreau,35,75001,F,asthma\n"
    "MRN-3,Chloe Dubois,29,75001,F,migraine\n"
    "MRN-4,David Petit,51,75002,M,flu\n";

class ReportGatherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetNow(UtcTime(2026, 3, 1));
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    store::IngestRequest req;
    req.dataset = "patients";
    req.subject_column = "mrn";
    req.purposes = {"care"};
    req.source = {"", "patients.csv", std::string(64, '0'), 123, 0, {}};
    ASSERT_TRUE(owner_->Ingest(*table::ReadCsvFromString(kPatients), req).ok());
    Annotate("mrn", {"user.identifier"}, "direct_identifier");
    Annotate("name", {"user.name"}, "direct_identifier");
    Annotate("zip", {"user.contact.address.postal_code"}, "quasi_identifier");
    Annotate("sex", {"user.demographic.sex"}, "quasi_identifier");
    Annotate("diagnosis", {"user.health.diagnosis"}, "none");
    Declaration d;
    d.dataset = "patients";
    d.purpose = "research";
    d.basis = LegalBasis::kConsent;
    d.special_basis = SpecialBasis::kExplicitConsent;
    d.subject_types = {"patient"};
    d.recipients = {"University lab"};
    d.transfers = {{"US", "scc"}};
    d.retention = "5 years";
    ASSERT_TRUE(Catalog(*owner_).Declare(d).ok());
    ConsentRegistry consent(*owner_);
    for (const char* id : {"MRN-1", "MRN-2", "MRN-3"}) {
      ConsentInput in;
      in.subject_id = id;
      in.purpose = "research";
      in.at = UtcTime(2026, 2, 1);
      in.source = "web_form";
      ASSERT_TRUE(consent.Record(in).ok());
    }
    ASSERT_TRUE(consent.Restrict(RestrictionKind::kObjection, "MRN-3", "research", "", "phone").ok());
    ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 1e-6}).ok());
    RetentionRule rule;
    rule.dataset = "patients";
    rule.days = 365;
    ASSERT_TRUE(ParseRetentionTrigger("ingest", &rule).ok());
    ASSERT_TRUE(Retention(*owner_).Set(rule).ok());
    ASSERT_TRUE(owner_->Grant("ines", Role::kAuditor).ok());
    ASSERT_TRUE(owner_->Grant("alex", Role::kAnalyst).ok());
    // A model trained on the dataset, its card with a fairness audit (group labels "F" and "M").
    const nlohmann::ordered_json card = {{"purpose", "care"},
                                         {"kind", "logreg"},
                                         {"privacy", {{"mode", "dp-sgd"}, {"epsilon", 0.5}, {"delta", 1e-6}}},
                                         {"fairness",
                                          {{"at", "2026-02-20T00:00:00Z"},
                                           {"attributes",
                                            {{{"attribute", "sex"},
                                              {"groups", {{{"group", "F"}}, {{"group", "M"}}}},
                                              {"demographic_parity_difference", 0.05},
                                              {"disparate_impact_ratio", 0.9},
                                              {"equal_opportunity_difference", nullptr},
                                              {"verdict", "PASS"},
                                              {"verdict_line", "sex: PASS (selection 0.40 F vs 0.45 M)"},
                                              {"suppressed_groups", 1}}}}}}};
    ASSERT_TRUE(
        owner_->RegisterModel(Operation::kTrainNonPrivate, "risk", "patients", "care", card, "{}").ok());
  }

  // Ingests `csv` as `dataset` for the purpose care, its subjects in `subject_column`.
  void IngestCsv(const std::string& dataset, const std::string& subject_column, const std::string& csv) {
    store::IngestRequest req;
    req.dataset = dataset;
    req.subject_column = subject_column;
    req.purposes = {"care"};
    req.source = {"", dataset + ".csv", std::string(64, '0'), static_cast<int64_t>(csv.size()), 0, {}};
    auto table = table::ReadCsvFromString(csv);
    ASSERT_TRUE(table.ok()) << table.status();
    auto ingested = owner_->Ingest(*table, req);
    ASSERT_TRUE(ingested.ok()) << ingested.status();
  }

  void Annotate(const std::string& column, std::vector<std::string> categories, const std::string& role,
                const std::string& dataset = "patients") {
    AnnotateRequest a;
    a.categories = std::move(categories);
    a.role = role;
    auto r = Catalog(*owner_).Annotate(dataset, column, a);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  std::unique_ptr<Session> Open(const std::string& actor) {
    auto s = Session::Open(env_, dir_, actor, std::nullopt);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  base::testing::ScopedTempDir tmp_{"veil_report_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

// An auditor's DPIA: the facts are measured from the workspace, the report is audited with the facts' hash,
// and nothing in it is a value from the data.
TEST_F(ReportGatherTest, DpiaFactsAreMeasuredAndAudited) {
  owner_.reset();
  std::unique_ptr<Session> ines = Open("ines");
  ASSERT_NE(ines, nullptr);
  const uint64_t before = AuditEntries(*ines).size();
  env_.SetNow(UtcTime(2026, 3, 2));
  ReportOptions options{"Clinique Saint-Eloi, dpo@example.org", "J. Martin"};
  auto f = GatherDpiaFacts(*ines, "patients", "research", options);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->header.generated_by, "ines");
  EXPECT_EQ(f->header.controller, options.controller);
  EXPECT_EQ(f->header.generated_at, UtcTime(2026, 3, 2));
  EXPECT_EQ(f->rows, 5);
  EXPECT_EQ(f->subjects, 4);
  EXPECT_THAT(f->special_categories, ElementsAre("user.health.diagnosis"));
  ASSERT_EQ(f->columns.size(), 6u);
  EXPECT_TRUE(f->columns[0].subject_column);
  EXPECT_FALSE(f->columns[2].classified);  // age
  EXPECT_EQ(f->columns[5].special, Special::kArt9);
  EXPECT_TRUE(f->purpose_declared) << "declaring research made it a purpose of the dataset";
  ASSERT_TRUE(f->declaration.has_value());
  EXPECT_EQ(f->declaration->purpose, "research");

  // Consent: MRN-1, 2, 3 consented; MRN-3 objected; MRN-4 never consented.
  EXPECT_TRUE(f->consent.consent_basis);
  EXPECT_EQ(f->consent.subjects, 4);
  EXPECT_EQ(f->consent.consented, 3);
  EXPECT_EQ(f->consent.excluded, 1);
  EXPECT_EQ(f->consent.usable, 2);
  EXPECT_EQ(f->objections, 1);

  // Prosecutor risk over zip and sex (anon/risk.h), one record per patient and combination: MRN-1's two
  // rows count once, so n = 4 in J = 2 classes of f = 2: highest 1/min f = 0.5, average J/n = 0.5, every
  // record at risk (1/2 > 0.2), no sample unique. (Counted by rows: n = 5, classes of 3 and 2, average 0.4.)
  ASSERT_TRUE(f->risk.assessed) << f->risk.not_assessed;
  EXPECT_THAT(f->risk.columns, ElementsAre("zip", "sex"));
  EXPECT_EQ(f->risk.records, 4);
  EXPECT_EQ(f->risk.classes, 2);
  EXPECT_EQ(f->risk.smallest_class, 2);
  EXPECT_DOUBLE_EQ(f->risk.highest, 0.5);
  EXPECT_DOUBLE_EQ(f->risk.average, 0.5);
  EXPECT_DOUBLE_EQ(f->risk.records_at_risk, 1.0);
  EXPECT_DOUBLE_EQ(f->risk.sample_uniques, 0.0);

  // Retention: 365 days from ingest (2026-03-01): nothing due yet.
  ASSERT_EQ(f->retention.rules.size(), 1u);
  EXPECT_EQ(f->retention.rules[0].trigger, "ingest");
  EXPECT_EQ(f->retention.subjects, 4);
  EXPECT_EQ(f->retention.due, 0);
  ASSERT_TRUE(f->retention.next_due.has_value());
  EXPECT_EQ(*f->retention.next_due, UtcTime(2027, 3, 1));

  EXPECT_TRUE(f->budget.has_total);
  EXPECT_EQ(f->budget.total.epsilon, 1.0);
  EXPECT_EQ(f->budget.spent.epsilon, 0.0);
  EXPECT_EQ(f->budget.remaining.epsilon, 1.0);
  EXPECT_TRUE(f->encryption.vault_verified) << f->encryption.vault_error;
  EXPECT_EQ(f->encryption.data_keys, 4);
  EXPECT_EQ(f->encryption.subjects, 4);
  EXPECT_TRUE(f->audit.verified) << f->audit.error;
  EXPECT_EQ(f->audit.entries, before);
  EXPECT_EQ(f->gate.owners, 1);
  EXPECT_EQ(f->gate.analysts, 1);
  EXPECT_EQ(f->gate.auditors, 1);
  ASSERT_EQ(f->models.size(), 1u);
  EXPECT_EQ(f->models[0].name, "risk");
  EXPECT_EQ(f->models[0].privacy, "dp-sgd, epsilon 0.5, delta 1e-06");
  ASSERT_EQ(f->models[0].fairness.size(), 1u);
  EXPECT_EQ(f->models[0].fairness[0].verdict, "PASS");
  EXPECT_EQ(f->models[0].fairness[0].groups_compared, 2);
  EXPECT_EQ(f->models[0].fairness[0].suppressed_groups, 1);
  EXPECT_TRUE(std::isnan(f->models[0].fairness[0].equal_opportunity_difference));

  // One audit entry, the report's, with the facts' hash.
  const std::vector<audit::AuditEntry> entries = AuditEntries(*ines);
  ASSERT_EQ(entries.size(), before + 1);
  const audit::AuditEntry& e = entries.back();
  EXPECT_EQ(e.seq, f->header.audit_seq);
  EXPECT_EQ(e.action, "report.dpia");
  EXPECT_EQ(e.actor, "ines");
  EXPECT_EQ(e.dataset, "patients");
  EXPECT_EQ(e.purpose, "research");
  EXPECT_EQ(e.decision, audit::Decision::kAllowed);
  EXPECT_TRUE(e.subject_pseudonyms.empty());
  ASSERT_TRUE(e.result_hash.has_value());
  EXPECT_EQ(*e.result_hash, FactsHash(DpiaToJson(*f)));

  // No value from the data, no pseudonym: names, counts and figures only.
  const std::string pseudonym = ines->Pseudonym("MRN-1");
  for (const std::string& out : {DpiaToJson(*f).dump(), RenderDpiaText(*f), RenderDpiaHtml(*f)}) {
    for (const std::string& value :
         {std::string("MRN-"), std::string("Alice"), std::string("Moreau"), std::string("75001"),
          std::string("asthma"), std::string("\"F\""), std::string(" F vs"), pseudonym.substr(0, 16)}) {
      EXPECT_THAT(out, Not(HasSubstr(value)));
    }
  }
}

TEST_F(ReportGatherTest, RopaFactsCoverEveryDeclarationAndMeasuredSecurity) {
  auto f = GatherRopaFacts(*owner_, {});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->activities.size(), 1u);  // care has no declaration: a finding
  const RopaActivity& a = f->activities[0];
  EXPECT_EQ(a.declaration.purpose, "research");
  EXPECT_THAT(a.declaration.recipients, ElementsAre("University lab"));
  EXPECT_EQ(a.subjects, 4);
  EXPECT_THAT(a.special_categories, ElementsAre("user.health.diagnosis"));
  EXPECT_THAT(f->findings, ::testing::Contains(HasSubstr("purpose \"care\" has no processing declaration")));
  ASSERT_EQ(f->retention.size(), 1u);
  EXPECT_EQ(f->retention[0].rules.size(), 1u);
  ASSERT_EQ(f->encryption.size(), 1u);
  EXPECT_TRUE(f->encryption[0].vault_verified);
  EXPECT_EQ(f->encryption[0].data_keys, 4);
  ASSERT_EQ(f->budgets.size(), 1u);
  EXPECT_TRUE(f->audit.verified);
  const audit::AuditEntry e = AuditEntries(*owner_).back();
  EXPECT_EQ(e.action, "report.ropa");
  EXPECT_EQ(e.seq, f->header.audit_seq);
  EXPECT_EQ(*e.result_hash, FactsHash(RopaToJson(*f)));
  EXPECT_THAT(RenderRopaText(*f), HasSubstr("Controller (name and contact details): (to fill in)"));
}

// The prosecutor model's unit is the person: a patient with three visits alone in their zip is unique (risk
// 1), not a class of three. visits: V-1 three rows in zip 1, V-2 and V-3 in zip 2: n = 3 people in J = 2
// classes of sizes 1 and 2: highest 1, average 2/3, sample uniques 1/3, both classes below 5 (T = 0.2).
TEST_F(ReportGatherTest, ReidentificationRiskCountsPeopleNotRows) {
  IngestCsv("visits", "id", "id,zip\nV-1,1\nV-1,1\nV-1,1\nV-2,2\nV-3,2\n");
  Annotate("zip", {"user.contact.address.postal_code"}, "quasi_identifier", "visits");
  auto f = GatherDpiaFacts(*owner_, "visits", "care", {});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->risk.assessed) << f->risk.not_assessed;
  EXPECT_EQ(f->rows, 5);
  EXPECT_EQ(f->risk.records, 3);
  EXPECT_EQ(f->risk.classes, 2);
  EXPECT_EQ(f->risk.smallest_class, 1);
  EXPECT_DOUBLE_EQ(f->risk.highest, 1.0);
  EXPECT_DOUBLE_EQ(f->risk.average, 2.0 / 3);
  EXPECT_DOUBLE_EQ(f->risk.records_at_risk, 1.0);
  EXPECT_DOUBLE_EQ(f->risk.sample_uniques, 1.0 / 3);
}

// A vault file changed on disk is reported, not hidden and not fatal.
TEST_F(ReportGatherTest, TamperedVaultFileIsReportedAsAFact) {
  DamageVault(env_, dir_, "patients");
  auto f = GatherRopaFacts(*owner_, {});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->encryption.size(), 1u);
  EXPECT_FALSE(f->encryption[0].vault_verified);
  EXPECT_FALSE(f->encryption[0].vault_error.empty());
  EXPECT_THAT(RenderRopaText(*f), HasSubstr("FAILED"));
}

// A column rule reads its dates from the vault: when a vault file fails its check, what is due cannot be
// computed, and the reports say so (with the rules) instead of failing.
TEST_F(ReportGatherTest, RetentionThatCannotBeComputedIsReportedAsAFact) {
  IngestCsv("visits", "mrn", "mrn,visit\nMRN-1,2026-01-10\nMRN-2,2026-02-20\n");
  RetentionRule rule;
  rule.dataset = "visits";
  rule.days = 30;
  ASSERT_TRUE(ParseRetentionTrigger("column:visit", &rule).ok());
  auto set = Retention(*owner_).Set(rule);
  ASSERT_TRUE(set.ok()) << set.status();
  DamageVault(env_, dir_, "visits");
  auto status = Retention(*owner_).Status();  // the failure this test is about, for visits alone
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->datasets.size(), 2u);
  EXPECT_TRUE(status->datasets[0].error.ok()) << "patients is computed";
  EXPECT_EQ(status->datasets[1].error.code(), absl::StatusCode::kDataLoss);

  auto ropa = GatherRopaFacts(*owner_, {});
  ASSERT_TRUE(ropa.ok()) << ropa.status();
  ASSERT_EQ(ropa->retention.size(), 2u);
  const RetentionFacts& visits = ropa->retention[1];
  ASSERT_EQ(visits.dataset, "visits");
  ASSERT_EQ(visits.rules.size(), 1u);
  EXPECT_EQ(visits.rules[0].trigger, "column:visit");
  EXPECT_FALSE(visits.error.empty());
  EXPECT_EQ(visits.due, 0);
  EXPECT_THAT(RenderRopaText(*ropa), HasSubstr("could NOT be computed"));
  EXPECT_THAT(RenderRopaHtml(*ropa), HasSubstr("could NOT be computed"));
  EXPECT_EQ(RopaToJson(*ropa)["retention"][1]["error"], visits.error);

  auto dpia = GatherDpiaFacts(*owner_, "visits", "care", {});
  ASSERT_TRUE(dpia.ok()) << dpia.status();
  EXPECT_FALSE(dpia->retention.error.empty());
  EXPECT_THAT(RenderDpiaText(*dpia), HasSubstr("could NOT be computed"));
}

// The DPIA reads the dataset's vault once: the re-identification risk, the encryption check and a column
// rule's retention dates all come from that one read (each vault file is opened once), and still agree with
// what the catalog says.
TEST_F(ReportGatherTest, TheDpiaReadsTheVaultOnce) {
  IngestCsv("visits", "mrn",
            "mrn,zip,visit\nMRN-1,75001,2025-01-10\n"
            "MRN-2,75001,2026-02-20\nMRN-1,75001,2025-03-01\n");
  Annotate("zip", {"user.contact.address.postal_code"}, "quasi_identifier", "visits");
  RetentionRule rule;
  rule.dataset = "visits";
  rule.days = 365;
  ASSERT_TRUE(ParseRetentionTrigger("column:visit", &rule).ok());
  ASSERT_TRUE(Retention(*owner_).Set(rule).ok());
  auto files = env_.ListDir(dir_ + "/vault/visits");
  ASSERT_TRUE(files.ok() && !files->empty());

  env_.vault_file_reads = 0;
  auto f = GatherDpiaFacts(*owner_, "visits", "care", {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(env_.vault_file_reads, static_cast<int>(files->size())) << "each vault file read once";
  ASSERT_TRUE(f->risk.assessed) << f->risk.not_assessed;
  EXPECT_EQ(f->risk.records, 2) << "one record per person and zip";
  EXPECT_TRUE(f->encryption.vault_verified) << f->encryption.vault_error;
  EXPECT_EQ(f->encryption.data_keys, 2);
  EXPECT_TRUE(f->retention.error.empty()) << f->retention.error;
  EXPECT_EQ(f->retention.due, 1) << "MRN-1's newest visit, 2025-03-01, is over 365 days before 2026-03-01";
  ASSERT_TRUE(f->retention.next_due.has_value());
  EXPECT_EQ(*f->retention.next_due, UtcTime(2027, 2, 20));

  // A subject the catalog no longer lists is found from the same read, and named by no pseudonym.
  const std::string pseudonym = owner_->Pseudonym("MRN-2");
  auto st = owner_->workspace().metadata().Prepare(
      "DELETE FROM subject WHERE pseudonym = ?1 AND dataset_id = (SELECT id FROM dataset WHERE name = "
      "'visits')");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE(st->BindBlob(1, *store::PseudonymBytes(pseudonym)).ok());
  ASSERT_TRUE(st->Step().ok());
  auto broken = GatherDpiaFacts(*owner_, "visits", "care", {});
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_FALSE(broken->encryption.vault_verified);
  EXPECT_THAT(broken->encryption.vault_error, HasSubstr("whom the catalog does not list"));
  EXPECT_THAT(DpiaToJson(*broken).dump(), Not(HasSubstr(pseudonym.substr(0, 16))));
}

// The DPIA counts the subject requests that concern its dataset (counts only, no pseudonym): those naming
// it, and those for every dataset whose subject it holds or whose outcome names it.
TEST_F(ReportGatherTest, TheDpiaCountsSubjectRequests) {
  SubjectRequests dsr(*owner_);
  const auto open = [&](DsrKind kind, const std::string& subject, const std::string& dataset) {
    DsrOpenRequest r;
    r.kind = kind;
    r.subject_id = subject;
    r.dataset = dataset;
    auto out = dsr.Open(r);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->id : 0;
  };
  const int64_t access = open(DsrKind::kAccess, "MRN-1", "");    // held by patients
  const int64_t erasure = open(DsrKind::kErasure, "MRN-2", "");  // erased from patients below
  const int64_t rejected = open(DsrKind::kAccess, "MRN-4", "patients");
  open(DsrKind::kAccess, "MRN-9", "");  // held nowhere: not patients'
  ASSERT_TRUE(dsr.Verify(erasure).ok());
  ASSERT_TRUE(dsr.Run(erasure, {}).ok());
  ASSERT_TRUE(dsr.Reject(rejected, "identity-not-verified").ok());
  ASSERT_TRUE(dsr.Extend(access, "complexity").ok());
  env_.SetNow(UtcTime(2026, 6, 15));  // past access's extended deadline (2026-06-01)

  auto f = GatherDpiaFacts(*owner_, "patients", "research", {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->requests.opened, 3);
  EXPECT_EQ(f->requests.completed, 1) << "the erasure, which no longer holds MRN-2 but names patients";
  EXPECT_EQ(f->requests.rejected, 1);
  EXPECT_EQ(f->requests.open, 1);
  EXPECT_EQ(f->requests.overdue, 1);
  EXPECT_EQ(f->requests.extended, 1);
  const nlohmann::ordered_json j = DpiaToJson(*f)["principles"]["subject_requests"];
  EXPECT_EQ(j["opened"], 3);
  EXPECT_EQ(j["overdue"], 1);
  EXPECT_THAT(RenderDpiaText(*f), HasSubstr("3 concerning this dataset: 1 completed, 1 rejected, 1 open"));
  for (const char* id : {"MRN-1", "MRN-2", "MRN-4"}) {
    EXPECT_THAT(DpiaToJson(*f).dump(), Not(HasSubstr(owner_->Pseudonym(id).substr(0, 16)))) << id;
  }
}

// The store names a subject in its errors by a pseudonym prefix; a failed check goes into the report without
// it. The catalog here loses MRN-2, so the vault holds a record of a subject it does not list.
TEST_F(ReportGatherTest, AFailedCheckNamesNoPseudonym) {
  const std::string pseudonym = owner_->Pseudonym("MRN-2");
  auto bytes = store::PseudonymBytes(pseudonym);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto st = owner_->workspace().metadata().Prepare("DELETE FROM subject WHERE pseudonym = ?1");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE(st->BindBlob(1, *bytes).ok());
  ASSERT_TRUE(st->Step().ok());
  auto f = GatherRopaFacts(*owner_, {});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->encryption.size(), 1u);
  EXPECT_FALSE(f->encryption[0].vault_verified);
  EXPECT_THAT(f->encryption[0].vault_error, HasSubstr("[redacted]"));
  for (const std::string& out : {RopaToJson(*f).dump(), RenderRopaText(*f), RenderRopaHtml(*f)})
    EXPECT_THAT(out, Not(HasSubstr(pseudonym.substr(0, 16))));
}

TEST_F(ReportGatherTest, AnalystsAreRefusedAndTheRefusalIsAudited) {
  owner_.reset();  // one session per workspace at a time
  std::unique_ptr<Session> alex = Open("alex");
  ASSERT_NE(alex, nullptr);
  auto r = GatherDpiaFacts(*alex, "patients", "research", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("report.dpia needs the role owner or auditor"));
  EXPECT_EQ(GatherRopaFacts(*alex, {}).status().code(), absl::StatusCode::kPermissionDenied);
  alex.reset();
  owner_ = Open("alice");
  ASSERT_NE(owner_, nullptr);
  const std::vector<audit::AuditEntry> entries = AuditEntries(*owner_);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[entries.size() - 2].action, "report.dpia");
  EXPECT_EQ(entries[entries.size() - 2].decision, audit::Decision::kDenied);
  EXPECT_EQ(entries.back().action, "report.ropa");
  EXPECT_EQ(entries.back().decision, audit::Decision::kDenied);
}

TEST_F(ReportGatherTest, BadInputIsRefusedBeforeAnythingIsRecorded) {
  const size_t before = AuditEntries(*owner_).size();
  EXPECT_EQ(GatherDpiaFacts(*owner_, "patients", "Research!", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GatherRopaFacts(*owner_, {"line\nbreak", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GatherDpiaFacts(*owner_, "patients", "care", {"", std::string(300, 'x')}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AuditEntries(*owner_).size(), before);
  auto unknown = GatherDpiaFacts(*owner_, "nope", "care", {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

// Without quasi-identifiers marked, the report says so instead of a figure; an undeclared purpose is a fact.
TEST_F(ReportGatherTest, NoQuasiIdentifiersAndAnUndeclaredPurposeAreSaid) {
  Annotate("zip", {"user.contact.address.postal_code"}, "none");
  Annotate("sex", {"user.demographic.sex"}, "none");
  auto f = GatherDpiaFacts(*owner_, "patients", "marketing.advertising", {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->risk.assessed);
  EXPECT_THAT(f->risk.not_assessed, HasSubstr("no column of the dataset is marked as a quasi-identifier"));
  EXPECT_FALSE(f->purpose_declared);
  EXPECT_FALSE(f->declaration.has_value());
  EXPECT_FALSE(f->consent.consent_basis);
  EXPECT_EQ(f->consent.usable, 4) << "MRN-3 objected to research only";
  const std::string text = RenderDpiaText(*f);
  EXPECT_THAT(text, HasSubstr("Not assessed: no column of the dataset is marked as a quasi-identifier"));
  EXPECT_THAT(text, HasSubstr("the gate refuses operations for this purpose until it is declared"));
}

}  // namespace
}  // namespace report_test
}  // namespace veil::gov
