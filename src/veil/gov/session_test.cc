#include "veil/gov/session.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/hex.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::veil::gov::testing::AuditFaultEnv;

using ::veil::gov::testing::kPatients;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
  }

  // Another actor's session (the owner's is closed first: one process at a time).
  std::unique_ptr<Session> As(const std::string& actor) {
    owner_.reset();
    auto s = Session::Open(env_, dir_, actor, std::nullopt);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  void IngestPatients(Session& s) {
    store::IngestRequest req;
    req.dataset = "patients";
    req.subject_column = "mrn";
    req.purposes = {"care", "research"};
    req.source = {"", "patients.csv", std::string(64, '0'), 123, 0, {}};
    auto r = s.Ingest(*table::ReadCsvFromString(kPatients), req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  std::vector<audit::AuditEntry> Entries(Session& s) { return testing::AuditEntries(s); }

  std::string AuditBytes() { return base::testing::FileContents(dir_ + "/audit/audit.log"); }

  base::testing::ScopedTempDir tmp_{"veil_session_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

// A run that fails after it was handed the rows keeps its charge (settled) and is audited with the cost and
// no result, whatever the operation; a failure to read the vault (before any row reached the run) is free.
TEST_F(SessionTest, ARunThatFailsOnTheDataKeepsItsCharge) {
  IngestPatients(*owner_);
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 1e-5}).ok());
  for (Operation op : {Operation::kTrain, Operation::kQuery}) {
    SCOPED_TRACE(OperationName(op));
    const double spent = owner_->GetBudget("patients")->spent.epsilon;
    absl::Status kept =
        owner_
            ->RunCharged<int>(op, "patients", "research", {0.25, 0, "mrn", "failing run"}, {{"x", 1}},
                              [](const store::DatasetContents&) -> absl::StatusOr<ChargedResult<int>> {
                                return absl::InvalidArgumentError("training data is empty");
                              })
            .status();
    EXPECT_EQ(kept.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(kept.message(), HasSubstr("privacy charge is kept"));
    const std::vector<audit::AuditEntry> entries = Entries(*owner_);
    EXPECT_EQ(entries.back().action, OperationName(op));
    EXPECT_EQ(entries.back().decision, audit::Decision::kAllowed);
    EXPECT_EQ(entries.back().cost, "epsilon=0.25 delta=0");
    EXPECT_FALSE(entries.back().result_hash.has_value());
    EXPECT_THAT(entries.back().reason, HasSubstr("failed after reading the data"));
    auto budget = owner_->GetBudget("patients");
    EXPECT_EQ(budget->spent.epsilon, spent + 0.25);
    ASSERT_FALSE(budget->charges.empty());
    EXPECT_EQ(budget->charges.back().audit_seq, entries.back().seq) << "settled with the failure's entry";
  }
}

TEST_F(SessionTest, InitMakesTheCreatorOwnerAndStartsTheLog) {
  EXPECT_THAT(*owner_->Roles(), ElementsAre(Role::kOwner));
  const auto entries = Entries(*owner_);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].action, "init");
  EXPECT_EQ(entries[0].actor, "alice");
  EXPECT_EQ(entries[0].decision, audit::Decision::kAllowed);
}

TEST_F(SessionTest, BadActorNames) {
  owner_.reset();
  for (const char* bad : {"", "has space", "quote\"d", "tab\t"})
    EXPECT_EQ(Session::Open(env_, dir_, bad, std::nullopt).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
}

TEST_F(SessionTest, IngestAndExportAreAuditedWithoutPersonalData) {
  IngestPatients(*owner_);
  absl::StatusOr<ExportResult> out = owner_->Export("patients", "research");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->csv, kPatients);
  const auto entries = Entries(*owner_);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].action, "ingest");
  EXPECT_EQ(entries[1].dataset, "patients");
  EXPECT_TRUE(entries[1].result_hash.has_value());
  EXPECT_EQ(entries[2].action, "export");
  EXPECT_EQ(entries[2].purpose, "research");
  EXPECT_EQ(entries[2].reason, "role owner; purpose \"research\" declared");
  EXPECT_EQ(entries[2].result_hash, crypto::Sha256(out->csv)) << "the hash of exactly what was released";
  const nlohmann::ordered_json params = {{"dataset", "patients"}, {"purpose", "research"}, {"format", "csv"}};
  EXPECT_EQ(entries[2].params_hash, ParamsHash(params));
  const std::string log = AuditBytes();
  for (const char* pii : {"MRN-1001", "Alice Moreau", "asthma", "patients.csv"})
    EXPECT_EQ(log.find(pii), std::string::npos) << pii;
}

TEST_F(SessionTest, ExportNeedsADeclaredPurposeAndDenialsAreAudited) {
  IngestPatients(*owner_);
  absl::Status s = owner_->Export("patients", "marketing").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("purpose \"marketing\" is not declared for dataset \"patients\""));
  s = owner_->Export("patients", "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(owner_->Export("patients", "research.cohort").ok()) << "narrower than a declared purpose";
  const auto entries = Entries(*owner_);
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[2].decision, audit::Decision::kDenied);
  EXPECT_EQ(entries[2].purpose, "marketing");
  EXPECT_THAT(entries[2].reason, HasSubstr("not declared"));
  EXPECT_FALSE(entries[2].result_hash.has_value());
  EXPECT_EQ(entries[3].decision, audit::Decision::kDenied);
  EXPECT_EQ(entries[4].decision, audit::Decision::kAllowed);
  EXPECT_EQ(owner_->Export("nope", "care").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SessionTest, RolesDecideWhoDoesWhat) {
  IngestPatients(*owner_);
  ASSERT_TRUE(owner_->Grant("bob", Role::kAnalyst).ok());
  ASSERT_TRUE(owner_->Grant("carol", Role::kAuditor).ok());
  EXPECT_EQ(owner_->Grant("bob", Role::kAnalyst).code(), absl::StatusCode::kAlreadyExists);

  auto bob = As("bob");
  EXPECT_EQ((*bob->ListDatasets()).size(), 1u) << "analysts see the catalog";
  absl::Status s = bob->Export("patients", "research").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("export needs the role owner; actor \"bob\" has the role analyst"));
  EXPECT_EQ(bob->Erase("MRN-1001", std::nullopt).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(bob->Grant("bob", Role::kOwner).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(bob->AuditLogFor(Operation::kAuditRead).status().code(), absl::StatusCode::kPermissionDenied);
  bob.reset();

  auto mallory = As("mallory");
  s = mallory->ListDatasets().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("has no role in this workspace"));
  EXPECT_EQ(mallory->Export("nope", "x").status().code(), absl::StatusCode::kPermissionDenied)
      << "a refused actor does not learn whether a dataset exists";
  mallory.reset();

  auto carol = As("carol");
  const auto entries = Entries(*carol);
  // init, ingest, grant, grant, then bob's four denials and mallory's two.
  ASSERT_EQ(entries.size(), 10u);
  std::vector<std::string> denied_actors;
  for (const auto& e : entries)
    if (e.decision == audit::Decision::kDenied) denied_actors.push_back(absl::StrCat(e.actor, ":", e.action));
  EXPECT_THAT(denied_actors, ElementsAre("bob:export", "bob:erase", "bob:grant", "bob:audit.read",
                                         "mallory:datasets", "mallory:export"));
  EXPECT_EQ(carol->Export("patients", "care").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(SessionTest, RevokeKeepsAnOwner) {
  EXPECT_EQ(owner_->Revoke("alice", Role::kOwner).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(owner_->Revoke("bob", Role::kAnalyst).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(owner_->Grant("dana", Role::kOwner).ok());
  ASSERT_TRUE(owner_->Revoke("alice", Role::kOwner).ok());
  EXPECT_TRUE(owner_->Roles()->empty());
  auto grants = owner_->ListGrants();
  EXPECT_EQ(grants.status().code(), absl::StatusCode::kPermissionDenied) << "alice is no longer an owner";
  auto dana = As("dana");
  grants = dana->ListGrants();
  ASSERT_TRUE(grants.ok());
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].actor, "dana");
  EXPECT_EQ((*grants)[0].granted_by, "alice");
}

TEST_F(SessionTest, EraseAuditsThePseudonymNeverTheId) {
  IngestPatients(*owner_);
  auto r = owner_->Erase("MRN-1001", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_removed, 2);
  auto out = owner_->Export("patients", "care");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->csv.find("MRN-1001"), std::string::npos);
  EXPECT_EQ(out->csv.find("Alice"), std::string::npos);
  const auto entries = Entries(*owner_);
  const audit::AuditEntry& erase = entries[2];
  EXPECT_EQ(erase.action, "erase");
  EXPECT_THAT(erase.subject_pseudonyms, ElementsAre(owner_->workspace().Pseudonym("MRN-1001")));
  EXPECT_EQ(AuditBytes().find("MRN-1001"), std::string::npos);
}

TEST_F(SessionTest, NoAuditEntryNoOperation) {
  IngestPatients(*owner_);
  env_.fail_audit_writes = true;
  store::IngestRequest req;
  req.dataset = "second";
  req.subject_column = "mrn";
  absl::Status s = owner_->Ingest(*table::ReadCsvFromString(kPatients), req).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("audit log could not record"));
  EXPECT_FALSE(owner_->Export("patients", "care").ok()) << "no entry, no release";
  EXPECT_FALSE(owner_->Erase("MRN-1002", std::nullopt).ok());
  env_.fail_audit_writes = false;
  EXPECT_EQ(owner_->GetDataset("second").status().code(), absl::StatusCode::kNotFound);
  auto out = owner_->Export("patients", "care");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->csv.find("MRN-1002"), std::string::npos) << "the failed erasure did not happen";
}

TEST_F(SessionTest, AMissingAuditLogIsDataLoss) {
  owner_.reset();
  ASSERT_TRUE(env_.DeleteFile(dir_ + "/audit/audit.log").ok());
  absl::Status s = Session::Open(env_, dir_, "alice", std::nullopt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("audit log"));
}

}  // namespace
}  // namespace veil::gov
