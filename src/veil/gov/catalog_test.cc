#include "veil/gov/catalog.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace {

TaxonomyEntry Entry(TaxonomyKind kind, std::string key, std::string description, Special special) {
  TaxonomyEntry e;
  e.kind = kind;
  e.key = std::move(key);
  e.description = std::move(description);
  e.special = special;
  return e;
}

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::kPatients;

store::ColumnAnnotation Classified(const std::string& column, std::vector<std::string> categories,
                                   const std::string& role, double confidence) {
  store::ColumnAnnotation a;
  a.column = column;
  a.categories = std::move(categories);
  a.role = role;
  a.confidence = confidence;
  a.evidence = "header '" + column + "'";
  a.set_by = "alice";
  return a;
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    ASSERT_TRUE(owner_->Grant("alex", Role::kAnalyst).ok());
    Ingest(store::IngestMode::kCreate);
  }

  void Ingest(store::IngestMode mode) {
    store::IngestRequest req;
    req.dataset = "patients";
    req.subject_column = "mrn";
    req.purposes = {"care", "research"};
    req.mode = mode;
    req.source = {"", "patients.csv", std::string(64, '0'), 123, 0, {}};
    req.annotations = {Classified("mrn", {"user.identifier.account"}, "direct_identifier", 0.6),
                       Classified("name", {"user.name"}, "direct_identifier", 1.0),
                       Classified("age", {"user.demographic.age"}, "quasi_identifier", 1.0),
                       Classified("diagnosis", {}, "none", 0.0)};
    auto r = owner_->Ingest(*table::ReadCsvFromString(kPatients), req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  std::unique_ptr<Session> As(const std::string& actor) {
    owner_.reset();
    auto s = Session::Open(env_, dir_, actor, std::nullopt);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::vector<audit::AuditEntry> Entries(Session& s) { return testing::AuditEntries(s); }

  base::testing::ScopedTempDir tmp_{"veil_catalog_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

TEST_F(CatalogTest, TheIngestsClassificationIsTheFirstDraft) {
  auto map = Catalog(*owner_).Map();
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->datasets.size(), 1u);
  const MappedDataset& m = map->datasets[0];
  ASSERT_EQ(m.columns.size(), 4u);
  EXPECT_EQ(m.columns[0].name, "mrn");
  EXPECT_TRUE(m.columns[0].subject_column);
  EXPECT_EQ(m.columns[0].annotation->categories, std::vector<std::string>{"user.identifier.account"});
  EXPECT_FALSE(m.columns[0].annotation->confirmed);
  EXPECT_EQ(m.columns[0].annotation->source, "classifier");
  EXPECT_THAT(m.categories, ElementsAre("user.demographic.age", "user.identifier.account", "user.name"));
  EXPECT_TRUE(m.special.empty());
  EXPECT_THAT(m.findings,
              Contains(HasSubstr("4 column(s) were classified automatically and are not confirmed")));
  EXPECT_THAT(m.findings, Contains(HasSubstr("purpose \"care\" has no processing declaration")));
}

TEST_F(CatalogTest, AnnotateConfirmsOrCorrectsAndIsAudited) {
  Catalog catalog(*owner_);
  AnnotateRequest health;
  health.categories = std::vector<std::string>{"user.health.diagnosis"};
  health.role = "quasi_identifier";
  auto a = catalog.Annotate("patients", "diagnosis", health);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->source, "user");
  EXPECT_TRUE(a->confirmed);
  EXPECT_EQ(a->set_by, "alice");
  AnnotateRequest confirm;
  confirm.confirm = true;
  ASSERT_TRUE(catalog.Annotate("patients", "mrn", confirm).ok());

  auto map = catalog.Map("patients");
  ASSERT_TRUE(map.ok());
  const MappedDataset& m = map->datasets[0];
  EXPECT_THAT(m.special, ElementsAre("user.health.diagnosis"));
  EXPECT_EQ(m.columns[3].special, Special::kArt9);
  EXPECT_EQ(m.columns[0].annotation->source, "classifier") << "confirming keeps the classifier's categories";
  EXPECT_TRUE(m.columns[0].annotation->confirmed);
  EXPECT_THAT(m.findings, Contains(HasSubstr("2 column(s) were classified automatically")));

  // Bad requests: nothing changes, nothing is audited.
  const size_t entries = Entries(*owner_).size();
  AnnotateRequest unknown;
  unknown.categories = std::vector<std::string>{"user.astrology"};
  EXPECT_EQ(catalog.Annotate("patients", "name", unknown).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog.Annotate("patients", "nope", confirm).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog.Annotate("patients", "name", AnnotateRequest{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  AnnotateRequest bad_role;
  bad_role.role = "boss";
  EXPECT_EQ(catalog.Annotate("patients", "name", bad_role).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<audit::AuditEntry> log = Entries(*owner_);
  ASSERT_EQ(log.size(), entries);
  EXPECT_EQ(log[log.size() - 2].action, "catalog.annotate");
  EXPECT_EQ(log.back().dataset, "patients");

  // An analyst reads the map but may not change it; the refusal is audited.
  std::unique_ptr<Session> alex = As("alex");
  ASSERT_TRUE(Catalog(*alex).Map().ok());
  EXPECT_EQ(Catalog(*alex).Annotate("patients", "name", confirm).status().code(),
            absl::StatusCode::kPermissionDenied);
  alex.reset();
  EXPECT_EQ(Entries(*As("alice")).back().decision, audit::Decision::kDenied);
}

TEST_F(CatalogTest, DeclarationsGovernPurposesAndSpecialCategories) {
  Catalog catalog(*owner_);
  AnnotateRequest health;
  health.categories = std::vector<std::string>{"user.health.diagnosis"};
  ASSERT_TRUE(catalog.Annotate("patients", "diagnosis", health).ok());

  Declaration research;
  research.dataset = "patients";
  research.purpose = "research";
  research.basis = LegalBasis::kConsent;
  research.subject_types = {"patient"};
  research.recipients = {"University hospital"};
  research.transfers = {{"US", "scc"}};
  research.retention = "5 years after the study";
  auto d = catalog.Declare(research);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->declared_by, "alice");

  // A declaration of a narrower purpose governs it; the broader one governs the rest.
  Declaration cohort = research;
  cohort.purpose = "research.cohort";
  cohort.basis = LegalBasis::kPublicTask;
  cohort.special_basis = SpecialBasis::kResearch;
  ASSERT_TRUE(catalog.Declare(cohort).ok());
  EXPECT_EQ((*DeclarationFor(owner_->workspace(), "patients", "research.cohort.wave2"))->purpose,
            "research.cohort");
  EXPECT_EQ((*DeclarationFor(owner_->workspace(), "patients", "research.other"))->basis,
            LegalBasis::kConsent);
  EXPECT_FALSE(DeclarationFor(owner_->workspace(), "patients", "care")->has_value());
  EXPECT_TRUE(NeedsConsent(**DeclarationFor(owner_->workspace(), "patients", "research")));
  EXPECT_FALSE(NeedsConsent(**DeclarationFor(owner_->workspace(), "patients", "research.cohort")));

  // Declaring a purpose makes it one the gate accepts.
  Declaration ads = research;
  ads.purpose = "marketing.advertising";
  ads.basis = LegalBasis::kLegitimateInterests;
  ASSERT_TRUE(catalog.Declare(ads).ok());
  EXPECT_THAT(owner_->workspace().GetDataset("patients")->purposes, Contains("marketing.advertising"));

  auto map = catalog.Map();
  ASSERT_TRUE(map.ok());
  const std::vector<std::string>& findings = map->datasets[0].findings;
  EXPECT_THAT(findings, Contains(HasSubstr("the declaration for \"research\" names no Art. 9(2) condition")));
  EXPECT_THAT(findings, Not(Contains(HasSubstr("the declaration for \"research.cohort\" names no Art. 9"))));
  EXPECT_THAT(findings, Contains(HasSubstr("purpose \"care\" has no processing declaration")));
  EXPECT_THAT(map->datasets[0].subject_types, ElementsAre("patient"));

  // Bad declarations.
  Declaration bad = research;
  bad.purpose = "astrology";
  EXPECT_EQ(catalog.Declare(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = research;
  bad.subject_types = {"martian"};
  EXPECT_EQ(catalog.Declare(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = research;
  bad.recipients = {"a\nb"};
  EXPECT_EQ(catalog.Declare(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = research;
  bad.dataset = "nope";
  EXPECT_EQ(catalog.Declare(bad).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(catalog.Undeclare("patients", "marketing.advertising").ok());
  EXPECT_EQ(catalog.Undeclare("patients", "marketing.advertising").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadDeclarations(owner_->workspace(), "patients")->size(), 2u);
}

TEST_F(CatalogTest, TheTaxonomyIsExtendedPerWorkspace) {
  Catalog catalog(*owner_);
  const TaxonomyEntry allergy =
      Entry(TaxonomyKind::kCategory, "user.health.allergy", "Allergies", Special::kNone);
  ASSERT_TRUE(catalog.AddTaxonomyKey(allergy).ok());
  EXPECT_EQ(catalog.AddTaxonomyKey(allergy).status().code(), absl::StatusCode::kAlreadyExists);
  // It survives a reopen and can be used at once.
  owner_ = As("alice");
  auto t = LoadTaxonomy(owner_->workspace());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_NE(t->Find(TaxonomyKind::kCategory, "user.health.allergy"), nullptr);
  EXPECT_EQ(t->SpecialOf("user.health.allergy"), Special::kArt9);
  AnnotateRequest r;
  r.categories = std::vector<std::string>{"user.health.allergy"};
  ASSERT_TRUE(Catalog(*owner_).Annotate("patients", "diagnosis", r).ok());
  EXPECT_THAT(Catalog(*owner_).Map()->datasets[0].special, ElementsAre("user.health.allergy"));
  EXPECT_EQ(Entries(*owner_)[Entries(*owner_).size() - 2].action, "taxonomy.add");
}

// A replace keeps what a person said about a column that is still there and drops what is gone.
TEST_F(CatalogTest, AReplaceKeepsAPersonsAnnotations) {
  AnnotateRequest health;
  health.categories = std::vector<std::string>{"user.health.diagnosis"};
  ASSERT_TRUE(Catalog(*owner_).Annotate("patients", "diagnosis", health).ok());
  Ingest(store::IngestMode::kReplace);
  auto annotations = owner_->workspace().Annotations("patients");
  ASSERT_TRUE(annotations.ok());
  ASSERT_EQ(annotations->size(), 4u);
  EXPECT_EQ((*annotations)[1].column, "diagnosis");
  EXPECT_EQ((*annotations)[1].categories, std::vector<std::string>{"user.health.diagnosis"});
  EXPECT_EQ((*annotations)[1].source, "user");
}

TEST_F(CatalogTest, TheGraphShowsTheFlows) {
  Catalog catalog(*owner_);
  AnnotateRequest health;
  health.categories = std::vector<std::string>{"user.health.diagnosis"};
  ASSERT_TRUE(catalog.Annotate("patients", "diagnosis", health).ok());
  Declaration d;
  d.dataset = "patients";
  d.purpose = "research";
  d.basis = LegalBasis::kConsent;
  d.special_basis = SpecialBasis::kExplicitConsent;
  d.subject_types = {"patient"};
  d.recipients = {"Lab \"Quote\" Inc"};
  d.transfers = {{"US", "scc"}};
  d.automated_decisions = true;
  ASSERT_TRUE(catalog.Declare(d).ok());
  const std::string dot = DataMapToDot(*catalog.Map());
  EXPECT_THAT(dot, HasSubstr("digraph veil_data_map {"));
  EXPECT_THAT(dot, HasSubstr("\"subject:patient\" -> \"dataset:patients\" [label=\"about\"]"));
  EXPECT_THAT(dot, HasSubstr("\"dataset:patients\" -> \"category:user.health.diagnosis\""));
  EXPECT_THAT(dot, HasSubstr("user.health.diagnosis\n(special category)"));
  EXPECT_THAT(dot, HasSubstr("consent (Art. 6(1)(a))\nexplicit_consent (Art. 9(2)(a))\nautomated decisions"));
  EXPECT_THAT(dot, HasSubstr("\"recipient:Lab \\\"Quote\\\" Inc\""));
  EXPECT_THAT(dot, HasSubstr("[label=\"transfer (scc)\"]"));
  EXPECT_THAT(dot, HasSubstr("\"purpose:care\" [label=\"care\", shape=box, style=\"rounded,dashed\"]"));
}

TEST(LegalBasisTest, NamesAndArticles) {
  for (LegalBasis b :
       {LegalBasis::kConsent, LegalBasis::kContract, LegalBasis::kLegalObligation,
        LegalBasis::kVitalInterests, LegalBasis::kPublicTask, LegalBasis::kLegitimateInterests}) {
    EXPECT_EQ(ParseLegalBasis(LegalBasisName(b)), b);
  }
  EXPECT_STREQ(LegalBasisArticle(LegalBasis::kLegitimateInterests), "Art. 6(1)(f)");
  EXPECT_STREQ(SpecialBasisArticle(SpecialBasis::kHealthCare), "Art. 9(2)(h)");
  EXPECT_TRUE(IsArticle10Basis(SpecialBasis::kAuthorisedByLaw));
  EXPECT_EQ(ParseLegalBasis("whim"), std::nullopt);
  EXPECT_EQ(ParseTransfer("US:scc")->to, "US");
  EXPECT_EQ(ParseTransfer("US").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTransfer("US:handshake").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::gov
