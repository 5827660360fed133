#include "veil/gov/consent.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/catalog.h"
#include "veil/gov/test_util.h"
#include "veil/store/sqlite.h"
#include "veil/store/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace consent_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::veil::gov::testing::AuditEntries;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::ExportedSubjectIds;
using ::veil::gov::testing::kPatients;

const absl::Time kT0 = ::veil::gov::testing::UtcTime(2026, 3, 1);

class ConsentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetNow(kT0);
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    store::IngestRequest req;
    req.dataset = "patients";
    req.subject_column = "mrn";
    req.purposes = {"care", "research"};
    req.source = {"", "patients.csv", std::string(64, '0'), 123, 0, {}};
    ASSERT_TRUE(owner_->Ingest(*table::ReadCsvFromString(kPatients), req).ok());
    Declare("research", LegalBasis::kConsent);
    Declare("care", LegalBasis::kContract);
  }

  void Declare(const std::string& purpose, LegalBasis basis) {
    Declaration d;
    d.dataset = "patients";
    d.purpose = purpose;
    d.basis = basis;
    d.subject_types = {"patient"};
    ASSERT_TRUE(Catalog(*owner_).Declare(d).ok());
  }

  ConsentInput Input(const std::string& subject, const std::string& purpose, ConsentState state,
                     absl::Duration after = absl::ZeroDuration()) {
    ConsentInput in;
    in.subject_id = subject;
    in.purpose = purpose;
    in.state = state;
    in.at = env_.Now() + after;
    in.source = "web_form";
    in.notice_version = "notice-v3";
    return in;
  }

  void Grant(const std::string& subject, const std::string& purpose) {
    auto r = ConsentRegistry(*owner_).Record(Input(subject, purpose, ConsentState::kGranted));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void Withdraw(const std::string& subject, const std::string& purpose) {
    auto r = ConsentRegistry(*owner_).Record(Input(subject, purpose, ConsentState::kWithdrawn));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // The subject ids (mrn) of the rows an export for `purpose` releases.
  std::vector<std::string> Exported(const std::string& purpose) {
    return ExportedSubjectIds(*owner_, "patients", purpose);
  }
  std::vector<audit::AuditEntry> Entries() { return AuditEntries(*owner_); }
  // Which of the three patients the gate counts as consenting to `purpose`.
  std::vector<std::string> Consented(const std::string& purpose) {
    auto f = ComputeSubjectFilter(owner_->workspace(), "patients", purpose, env_.Now());
    EXPECT_TRUE(f.ok()) << f.status();
    std::vector<std::string> ids;
    for (const char* id : {"MRN-1001", "MRN-1002", "MRN-1003"}) {
      if (f.ok() && f->Consented(owner_->Pseudonym(id))) ids.push_back(id);
    }
    return ids;
  }
  // The purpose keys with a packed row in consent_packed.
  std::vector<std::string> PackedKeys() {
    std::vector<std::string> keys;
    auto st = owner_->workspace().metadata().Prepare("SELECT purpose FROM consent_packed ORDER BY purpose");
    while (st.ok() && *st->Step()) keys.push_back(st->ColumnText(0));
    return keys;
  }

  base::testing::ScopedTempDir tmp_{"veil_consent_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

// Where consent is the purpose's basis, only consenting subjects' rows are read; elsewhere everyone's.
TEST_F(ConsentTest, TheGateUsesOnlyConsentingSubjectsWhereConsentIsTheBasis) {
  EXPECT_TRUE(Exported("research").empty()) << "nobody has consented yet";
  Grant("MRN-1001", "research");
  Grant("MRN-1002", "research");
  Withdraw("MRN-1002", "research");
  EXPECT_EQ(Exported("research"), (std::vector<std::string>{"MRN-1001", "MRN-1001"}));
  EXPECT_EQ(Exported("care").size(), 4u) << "a contract basis needs no consent";
  const std::vector<audit::AuditEntry> log = Entries();
  const audit::AuditEntry& care = log.back();
  const audit::AuditEntry& research = log[log.size() - 2];
  EXPECT_EQ(research.action, "export");
  EXPECT_THAT(research.reason,
              HasSubstr("consent is the legal basis of \"research\"; 2 subject(s) left out"));
  EXPECT_THAT(care.reason, Not(HasSubstr("left out")));
}

// The most specific key with a record decides; broader consent covers narrower purposes.
TEST_F(ConsentTest, TheMostSpecificRecordDecides) {
  Grant("MRN-1001", "research");
  Grant("MRN-1003", "research");
  Withdraw("MRN-1003", "research.cohort");
  Grant("MRN-1002", "research.cohort");
  EXPECT_EQ(Exported("research.cohort"), (std::vector<std::string>{"MRN-1001", "MRN-1002", "MRN-1001"}));
  EXPECT_EQ(Exported("research.genetics"), (std::vector<std::string>{"MRN-1001", "MRN-1001", "MRN-1003"}));
  // A declaration for the narrower purpose with another basis governs it instead.
  Declare("research.cohort", LegalBasis::kPublicTask);
  EXPECT_EQ(Exported("research.cohort").size(), 4u);
}

TEST_F(ConsentTest, ConsentExpiresOnTheFrozenClock) {
  ConsentInput in = Input("MRN-1001", "research", ConsentState::kGranted);
  in.expires = kT0 + absl::Hours(24);
  ASSERT_TRUE(ConsentRegistry(*owner_).Record(in).ok());
  EXPECT_EQ(Exported("research").size(), 2u);
  env_.AdvanceClock(absl::Hours(25));
  EXPECT_TRUE(Exported("research").empty()) << "expired";
  auto summary = ConsentRegistry(*owner_).Summary();
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->size(), 1u);
  EXPECT_EQ((*summary)[0].expired, 1);
  EXPECT_EQ((*summary)[0].granted, 0);
  in.expires = in.at - absl::Hours(1);
  EXPECT_EQ(ConsentRegistry(*owner_).Record(in).status().code(), absl::StatusCode::kInvalidArgument);
}

// The gate's consenting subjects are never stale: a change to consent_state by any connection (the triggers
// drop the packed row and count the change), a clock that passed a grant's expiry or went back before it.
TEST_F(ConsentTest, TheConsentSetIsNeverStale) {
  ConsentInput in = Input("MRN-1001", "research", ConsentState::kGranted);
  in.expires = kT0 + absl::Hours(24);
  ASSERT_TRUE(ConsentRegistry(*owner_).Record(in).ok());
  EXPECT_EQ(Exported("research").size(), 2u);
  // Another connection withdraws MRN-1001's consent behind the Session's back, as an edit with the sqlite3
  // shell would.
  {
    auto db = store::Database::Open(dir_ + "/workspace.db", {.create = false});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(db->Exec("UPDATE consent_state SET granted = 0").ok());
    EXPECT_TRUE(Exported("research").empty()) << "withdrawn by another connection";
    ASSERT_TRUE(db->Exec("UPDATE consent_state SET granted = 1").ok());
  }
  EXPECT_EQ(Exported("research").size(), 2u);
  EXPECT_EQ(Exported("research.cohort").size(), 2u) << "a broader grant covers it";
  env_.AdvanceClock(absl::Hours(25));
  EXPECT_TRUE(Exported("research").empty()) << "the grant expired, with no write at all";
  env_.SetNow(kT0 + absl::Hours(1));
  EXPECT_EQ(Exported("research").size(), 2u) << "the clock went back before the grant's expiry";
  // The counter is in the database, one row, counting every change.
  auto db = store::Database::Open(dir_ + "/workspace.db", {.create = false});
  ASSERT_TRUE(db.ok());
  auto st = db->Prepare("SELECT n FROM consent_state_changes");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt64(0), 3) << "one grant, two updates";
}

// Inside a transaction the consent set is computed from the transaction's view and no packed row is stored:
// the transaction may yet be rolled back.
TEST_F(ConsentTest, NoPackedStatesAreStoredFromInsideATransaction) {
  Grant("MRN-1001", "research");
  const std::string p = owner_->Pseudonym("MRN-1001");
  store::Database& db = owner_->workspace().metadata();
  ASSERT_TRUE(db.Exec("BEGIN").ok());
  ASSERT_TRUE(db.Exec("UPDATE consent_state SET granted = 0").ok());
  EXPECT_TRUE(Consented("research").empty()) << "the transaction's own view";
  EXPECT_TRUE(PackedKeys().empty()) << "nothing stored inside the transaction";
  ASSERT_TRUE(db.Exec("ROLLBACK").ok());
  EXPECT_EQ(Consented("research"), std::vector<std::string>{"MRN-1001"});
  EXPECT_EQ(PackedKeys(), std::vector<std::string>{"research"});
}

// Each key's states are packed into consent_packed the first time the gate scans them, read from there
// afterwards (with expiry compared at each read), and dropped by the triggers when any of them changes.
TEST_F(ConsentTest, TheGateReadsPackedStatesThatEveryChangeDrops) {
  Grant("MRN-1001", "research");
  Grant("MRN-1003", "research");
  Withdraw("MRN-1003", "research.cohort");
  Grant("MRN-1002", "research.cohort");
  store::Database& db = owner_->workspace().metadata();
  EXPECT_TRUE(PackedKeys().empty());
  const std::vector<std::string> cohort = {"MRN-1001", "MRN-1002"};
  EXPECT_EQ(Consented("research.cohort"), cohort) << "scanned";
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research", "research.cohort"}));
  EXPECT_EQ(Consented("research.cohort"), cohort) << "read packed";
  EXPECT_EQ(Consented("research.genetics"), (std::vector<std::string>{"MRN-1001", "MRN-1003"}));
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research", "research.cohort"}))
      << "a key without records is not packed";
  // The gate reads the packed row: emptying it behind the triggers' back leaves "research" to decide.
  ASSERT_TRUE(db.Exec("UPDATE consent_packed SET subjects = x'', until = x'' "
                      "WHERE purpose = 'research.cohort'")
                  .ok());
  EXPECT_EQ(Consented("research.cohort"), (std::vector<std::string>{"MRN-1001", "MRN-1003"}));
  // Any change to the key's states drops its row; the next read scans and packs them again.
  Grant("MRN-1003", "research.cohort");
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research"}));
  EXPECT_EQ(Consented("research.cohort"), (std::vector<std::string>{"MRN-1001", "MRN-1002", "MRN-1003"}));
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research", "research.cohort"}));
  ASSERT_TRUE(db.Exec("DELETE FROM consent_state WHERE purpose = 'research'").ok());
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research.cohort"}));
  EXPECT_EQ(Consented("research.genetics"), std::vector<std::string>{});
  // A state moved to another key drops the rows of both keys.
  Grant("MRN-1001", "research.other");
  EXPECT_EQ(Consented("research.other"), (std::vector<std::string>{"MRN-1001"}));
  EXPECT_EQ(PackedKeys(), (std::vector<std::string>{"research.cohort", "research.other"}));
  ASSERT_TRUE(db.Exec("UPDATE consent_state SET purpose = 'research.other' "
                      "WHERE purpose = 'research.cohort' AND granted = 1 AND pseudonym != (SELECT pseudonym "
                      "FROM consent_state WHERE purpose = 'research.other')")
                  .ok());
  EXPECT_TRUE(PackedKeys().empty());
  EXPECT_EQ(Consented("research.other"), (std::vector<std::string>{"MRN-1001", "MRN-1002", "MRN-1003"}));
}

// The packed layout on disk: per subject, until when its state counts as consent, 8 bytes little-endian
// (INT64_MIN for a withdrawal, INT64_MAX for a grant without expiry).
TEST_F(ConsentTest, PackedStatesKeepTheirLayout) {
  ConsentInput in = Input("MRN-1001", "research", ConsentState::kGranted);
  in.expires = absl::FromUnixSeconds(0x0102030405);
  in.at = in.expires.value() - absl::Hours(1);
  ASSERT_TRUE(ConsentRegistry(*owner_).Record(in).ok());
  Grant("MRN-1002", "research");
  Withdraw("MRN-1003", "research");
  ASSERT_EQ(Consented("research").size(), 2u);
  std::map<std::string, std::string> until;  // subject -> hex of its 8 bytes
  store::Database& db = owner_->workspace().metadata();
  auto st = db.Prepare("SELECT hex(subjects), hex(until) FROM consent_packed WHERE purpose = 'research'");
  ASSERT_TRUE(st.ok() && *st->Step());
  const std::string subjects = st->ColumnText(0), untils = st->ColumnText(1);
  ASSERT_EQ(subjects.size(), 3u * 64);
  ASSERT_EQ(untils.size(), 3u * 16);
  for (size_t i = 0; i < 3; ++i) until[subjects.substr(i * 64, 64)] = untils.substr(i * 16, 16);
  const auto hex = [&](const char* id) { return absl::AsciiStrToUpper(owner_->Pseudonym(id)); };
  // The grant's expiry in nanoseconds, its lowest byte first.
  const uint64_t ns = static_cast<uint64_t>(absl::ToUnixNanos(*in.expires));
  std::string le;
  for (int b = 0; b < 8; ++b) absl::StrAppend(&le, absl::StrFormat("%02X", (ns >> (8 * b)) & 0xff));
  EXPECT_EQ(until[hex("MRN-1001")], le);
  EXPECT_EQ(until[hex("MRN-1002")], "FFFFFFFFFFFFFF7F");
  EXPECT_EQ(until[hex("MRN-1003")], "0000000000000080");
}

TEST_F(ConsentTest, DamagedPackedStatesAreDataLoss) {
  Grant("MRN-1001", "research");
  Grant("MRN-1002", "research");
  ASSERT_EQ(Consented("research").size(), 2u);
  store::Database& db = owner_->workspace().metadata();
  const auto status = [&] {
    return ComputeSubjectFilter(owner_->workspace(), "patients", "research", env_.Now()).status();
  };
  ASSERT_TRUE(db.Exec("UPDATE consent_packed SET until = substr(until, 1, 8)").ok());
  EXPECT_EQ(status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status().message(), HasSubstr("packed consent states of purpose \"research\""));
  ASSERT_TRUE(db.Exec("UPDATE consent_packed SET subjects = substr(subjects, 1, 40)").ok());
  EXPECT_EQ(status().code(), absl::StatusCode::kDataLoss) << "a partial subject";
  // Out of order: the two subjects swapped, their until values kept.
  Grant("MRN-1003", "research");
  ASSERT_EQ(Consented("research").size(), 3u);
  ASSERT_TRUE(db.Exec("UPDATE consent_packed SET subjects = substr(subjects, 33, 32) || "
                      "substr(subjects, 1, 32) || substr(subjects, 65)")
                  .ok());
  EXPECT_EQ(status().code(), absl::StatusCode::kDataLoss);
}

// Schema v10: a v9 workspace gets consent_packed when opened, and the gate fills it.
TEST_F(ConsentTest, MigratesFromSchema9) {
  Grant("MRN-1001", "research");
  owner_.reset();
  {
    auto db = store::Database::Open(dir_ + "/workspace.db", {.create = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(absl::StrCat(store::testing::kDropAfterV9, "PRAGMA user_version = 9;")).ok());
  }
  auto s = Session::Open(env_, dir_, "alice", std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status();
  owner_ = *std::move(s);
  EXPECT_EQ(*owner_->workspace().metadata().UserVersion(), store::Workspace::SchemaVersion());
  EXPECT_EQ(Exported("research").size(), 2u);
  EXPECT_EQ(PackedKeys(), std::vector<std::string>{"research"});
  Withdraw("MRN-1001", "research");
  EXPECT_TRUE(PackedKeys().empty()) << "the migration created the triggers too";
}

TEST_F(ConsentTest, ObjectionsAndRestrictionsAlwaysExclude) {
  Grant("MRN-1001", "research");
  Grant("MRN-1002", "research");
  ConsentRegistry reg(*owner_);
  ASSERT_TRUE(reg.Restrict(RestrictionKind::kObjection, "MRN-1001", "research", "", "art21").ok());
  EXPECT_EQ(Exported("research"), (std::vector<std::string>{"MRN-1002"}));
  EXPECT_EQ(Exported("care").size(), 4u) << "the objection is to research only";
  ASSERT_TRUE(
      reg.Restrict(RestrictionKind::kRestriction, "MRN-1003", "", "patients", "accuracy_contested").ok());
  EXPECT_EQ(Exported("care"), (std::vector<std::string>{"MRN-1001", "MRN-1002", "MRN-1001"}));
  EXPECT_THAT(Entries().back().reason, HasSubstr("1 subject(s) left out (objected or restricted)"));
  // Lifted: back in.
  ASSERT_TRUE(reg.Lift(RestrictionKind::kObjection, "MRN-1001", "research", "").ok());
  EXPECT_EQ(reg.Lift(RestrictionKind::kObjection, "MRN-1001", "research", "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Exported("research").size(), 3u);
  EXPECT_EQ(reg.Restrict(RestrictionKind::kRestriction, "MRN-1", "research", "", "x").status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a restriction covers every purpose";
  EXPECT_EQ(reg.Restrict(RestrictionKind::kObjection, "MRN-1", "", "", "free text!").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto counts = CountRestrictions(owner_->workspace());
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->objections, 0);
  EXPECT_EQ(counts->restrictions, 1);
}

// DP queries (RunCharged) and audited reads (RunAudited) read through the same filter.
TEST_F(ConsentTest, ChargedAndAuditedRunsSeeOnlyTheKeptRows) {
  Grant("MRN-1003", "research");
  ASSERT_TRUE(owner_->SetBudget("patients", {1.0, 1e-6}).ok());
  auto charged = owner_->RunCharged<int64_t>(
      Operation::kQuery, "patients", "research", {0.1, 0, "mrn", "COUNT(*)"}, {{"q", 1}},
      [](const store::DatasetContents& d) -> absl::StatusOr<ChargedResult<int64_t>> {
        EXPECT_EQ(d.excluded_subjects, 2);
        EXPECT_EQ(d.excluded_rows, 3);
        return ChargedResult<int64_t>{d.table.num_rows(), {}};
      });
  ASSERT_TRUE(charged.ok()) << charged.status();
  EXPECT_EQ(charged->value, 1);
  EXPECT_THAT(Entries().back().reason, HasSubstr("2 subject(s) left out"));
  EXPECT_THAT(Entries().back().reason, HasSubstr("within the privacy budget"));
  auto audited = owner_->RunAudited<int64_t>(
      Operation::kModelEvaluate, "patients", "research", {{"m", 1}},
      [](const store::DatasetContents& d) -> absl::StatusOr<ChargedResult<int64_t>> {
        return ChargedResult<int64_t>{d.table.num_rows(), {}};
      });
  ASSERT_TRUE(audited.ok()) << audited.status();
  EXPECT_EQ(audited->value, 1);
}

// An automated decision about a subject who objected or did not consent is refused and audited.
TEST_F(ConsentTest, NoAutomatedDecisionAboutAnExcludedSubject) {
  Grant("MRN-1001", "research");
  const std::string p1 = owner_->Pseudonym("MRN-1001"), p2 = owner_->Pseudonym("MRN-1002");
  auto decision = owner_->Authorize(Operation::kDecide, "patients", "research", {{"model", "m"}});
  ASSERT_TRUE(decision.ok());
  EXPECT_TRUE(
      owner_->Record(Operation::kDecide, "patients", "research", *decision, {{"row", 1}}, {}, {p1}).ok());
  absl::Status refused =
      owner_->Record(Operation::kDecide, "patients", "research", *decision, {{"row", 2}}, {}, {p2});
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("has not consented"));
  const audit::AuditEntry last = Entries().back();
  EXPECT_EQ(last.decision, audit::Decision::kDenied);
  EXPECT_EQ(last.subject_pseudonyms, std::vector<std::string>{p2});
  ASSERT_TRUE(
      ConsentRegistry(*owner_).Restrict(RestrictionKind::kObjection, "MRN-1001", "", "", "art21").ok());
  EXPECT_THAT(
      owner_->Record(Operation::kDecide, "patients", "care", *decision, {{"row", 3}}, {}, {p1}).message(),
      HasSubstr("objected"));
}

// Versions count up per (subject, purpose); an older record joins the history without changing the state.
TEST_F(ConsentTest, HistoryIsVersionedAndAudited) {
  ConsentRegistry reg(*owner_);
  Grant("MRN-1001", "research");
  env_.AdvanceClock(absl::Hours(1));
  Withdraw("MRN-1001", "research");
  ConsentInput late = Input("MRN-1001", "research", ConsentState::kGranted, -absl::Hours(5));
  auto r = reg.Record(late);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, 3);
  EXPECT_FALSE(r->current) << "older than the withdrawal";
  auto view = reg.Show("MRN-1001");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->history.size(), 3u);
  EXPECT_TRUE(view->history[1].current);
  EXPECT_EQ(view->history[1].state, ConsentState::kWithdrawn);
  EXPECT_TRUE(Exported("research").empty());

  // Withdraw everything at once: as easy as granting.
  Grant("MRN-1002", "research");
  Grant("MRN-1002", "marketing.direct");
  auto all = reg.WithdrawAll("MRN-1002", "phone", env_.Now());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);
  EXPECT_TRUE(Exported("research").empty());

  // Every change is audited under the pseudonym; no subject id is in the log.
  int grants = 0, withdrawals = 0;
  for (const audit::AuditEntry& e : Entries()) {
    if (e.action == "consent.grant") ++grants;
    if (e.action == "consent.withdraw") ++withdrawals;
    if (e.action == "consent.grant" || e.action == "consent.withdraw") {
      EXPECT_EQ(e.subject_pseudonyms.size(), 1u);
    }
  }
  EXPECT_EQ(grants, 4);
  EXPECT_EQ(withdrawals, 2);
  const std::string log = base::testing::FileContents(dir_ + "/audit/audit.log");
  EXPECT_EQ(log.find("MRN-100"), std::string::npos);
}

// An import writes its records in pseudonym order (for SQLite's sake); each subject's records still take
// their versions and current state in the file's order.
TEST_F(ConsentTest, ImportKeepsEachSubjectsRecordsInFileOrder) {
  std::vector<ConsentInput> records;
  for (const absl::Duration after : {absl::Hours(1), absl::Hours(2), -absl::Hours(3)}) {
    for (int s = 0; s < 40; ++s) {
      records.push_back(Input(absl::StrCat("S-", s), "research",
                              after == absl::Hours(2) ? ConsentState::kWithdrawn : ConsentState::kGranted,
                              after));
    }
  }
  auto imported = ConsentRegistry(*owner_).Import(records, std::string(64, 'c'));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->subjects, 40);
  EXPECT_EQ(imported->state_changes, 80) << "the grant and the later withdrawal; not the older grant";
  for (int s = 0; s < 40; ++s) {
    auto view = ConsentRegistry(*owner_).Show(absl::StrCat("S-", s));
    ASSERT_TRUE(view.ok()) << view.status();
    ASSERT_EQ(view->history.size(), 3u);
    EXPECT_EQ(view->history[0].at, kT0 + absl::Hours(1)) << s;
    EXPECT_EQ(view->history[1].state, ConsentState::kWithdrawn) << s;
    EXPECT_TRUE(view->history[1].current) << s;
    EXPECT_EQ(view->history[2].at, kT0 - absl::Hours(3)) << s;
    EXPECT_EQ(view->history[2].version, 3) << s;
  }
}

TEST_F(ConsentTest, ImportParsesCsvAndJsonAndNamesBadRecords) {
  const std::string csv =
      "subject,purpose,state,time,source,notice_version,expires\n"
      "MRN-1001,research,granted,2026-02-01T10:00:00Z,crm,v3,2027-02-01\n"
      "MRN-1002,research,granted,2026-02-01,,v3,\n"
      "MRN-1002,research,withdrawn,2026-02-10T08:00:00Z,crm,v3,\n"
      "007,research,granted,2026-02-01,crm,v3,\n";
  auto parsed = ParseConsentFile(csv, "c.csv", "import");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 4u);
  EXPECT_EQ((*parsed)[1].source, "import");
  EXPECT_EQ((*parsed)[3].subject_id, "007") << "ids are text";
  EXPECT_TRUE((*parsed)[0].expires.has_value());
  auto imported = ConsentRegistry(*owner_).Import(*parsed, std::string(64, 'a'));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->records, 4);
  EXPECT_EQ(imported->subjects, 3);
  EXPECT_EQ(imported->audit_seqs.size(), 1u);
  EXPECT_EQ(Exported("research"), (std::vector<std::string>{"MRN-1001", "MRN-1001"}));
  const audit::AuditEntry last = Entries().back();
  EXPECT_EQ(last.action, "export");
  bool found = false;
  for (const audit::AuditEntry& e : Entries()) {
    if (e.action != "consent.import") continue;
    found = true;
    EXPECT_EQ(e.subject_pseudonyms.size(), 3u);
  }
  EXPECT_TRUE(found);

  const std::string json =
      R"([{"subject": "MRN-1003", "purpose": "research", "state": "granted", "time": "2026-02-01"}])";
  auto j = ParseConsentFile(json, "c.json", "import");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)[0].subject_id, "MRN-1003");

  auto bad = ParseConsentFile("subject,purpose,state,time\nMRN-1,research,maybe,2026-01-01\n", "c.csv", "x");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("c.csv: record 1, field \"state\""));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("MRN-1")));
  EXPECT_EQ(ParseConsentFile("subject,purpose,state\nA,research,granted\n", "c.csv", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConsentFile("[1]", "c.json", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseConsentFile("{\"x\": 1}", "c.json", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad_time = ParseConsentFile(
      R"([{"subject":"A","purpose":"research","state":"granted","time":"soon"}])", "c.json", "x");
  EXPECT_THAT(bad_time.status().message(), HasSubstr("record 1, field \"time\""));
}

// Only owners record consent; owners and auditors read it; analysts neither.
TEST_F(ConsentTest, RolesAreEnforced) {
  ASSERT_TRUE(owner_->Grant("alex", Role::kAnalyst).ok());
  ASSERT_TRUE(owner_->Grant("ines", Role::kAuditor).ok());
  owner_.reset();
  auto alex = Session::Open(env_, dir_, "alex", std::nullopt);
  ASSERT_TRUE(alex.ok());
  EXPECT_EQ(
      ConsentRegistry(**alex).Record(Input("MRN-1001", "research", ConsentState::kGranted)).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ConsentRegistry(**alex).Summary().status().code(), absl::StatusCode::kPermissionDenied);
  alex->reset();
  auto ines = Session::Open(env_, dir_, "ines", std::nullopt);
  ASSERT_TRUE(ines.ok());
  EXPECT_TRUE(ConsentRegistry(**ines).Show("MRN-1001").ok());
  EXPECT_EQ(
      ConsentRegistry(**ines).Record(Input("MRN-1001", "research", ConsentState::kWithdrawn)).status().code(),
      absl::StatusCode::kPermissionDenied);
}

// --- SortedPseudonymSet ---

SortedPseudonymSet::Pseudonym RandomPseudonym(std::mt19937_64& rng) {
  SortedPseudonymSet::Pseudonym p;
  for (uint8_t& b : p) b = static_cast<uint8_t>(rng());
  return p;
}

// Against a hash set: members found, non-members (random, and a member's neighbours) not, at sizes that give
// the directory 1 to 2^16 buckets.
TEST(SortedPseudonymSetTest, AgreesWithAHashSet) {
  std::mt19937_64 rng(11);
  for (size_t n : {0, 1, 2, 3, 5, 1000, 70000, 140000}) {
    SubjectFilter::PseudonymSet members;
    while (members.size() < n) members.insert(RandomPseudonym(rng));
    std::vector<SortedPseudonymSet::Pseudonym> sorted(members.begin(), members.end());
    std::sort(sorted.begin(), sorted.end());
    auto set = SortedPseudonymSet::FromSorted(sorted);
    ASSERT_TRUE(set.ok()) << set.status();
    EXPECT_EQ(set->size(), n);
    for (const auto& p : sorted) ASSERT_TRUE(set->contains(p)) << n;
    for (int i = 0; i < 2000; ++i) {
      auto p = RandomPseudonym(rng);
      ASSERT_EQ(set->contains(p), members.contains(p)) << n;
    }
    for (auto p : sorted) {
      p[31] ^= 1;
      ASSERT_EQ(set->contains(p), members.contains(p)) << n;
    }
  }
}

// Pseudonyms sharing their leading bytes fall into one bucket, which is searched whole.
TEST(SortedPseudonymSetTest, FindsPseudonymsInACrowdedBucket) {
  std::mt19937_64 rng(12);
  std::vector<SortedPseudonymSet::Pseudonym> sorted;
  for (int i = 0; i < 3000; ++i) {
    auto p = RandomPseudonym(rng);
    p[0] = i < 2000 ? 0x00 : 0xff;
    p[1] = i < 2000 ? 0x00 : 0xff;
    sorted.push_back(p);
  }
  std::sort(sorted.begin(), sorted.end());
  auto set = SortedPseudonymSet::FromSorted(sorted);
  ASSERT_TRUE(set.ok());
  for (const auto& p : sorted) ASSERT_TRUE(set->contains(p));
  auto absent = sorted[1000];
  absent[31] ^= 0x80;
  EXPECT_FALSE(set->contains(absent));
  absent[0] = 0x7f;
  EXPECT_FALSE(set->contains(absent));
}

TEST(SortedPseudonymSetTest, RejectsUnsortedOrRepeatedPseudonyms) {
  std::mt19937_64 rng(13);
  auto a = RandomPseudonym(rng), b = RandomPseudonym(rng);
  if (b < a) std::swap(a, b);
  EXPECT_TRUE(SortedPseudonymSet::FromSorted({a, b}).ok());
  EXPECT_EQ(SortedPseudonymSet::FromSorted({b, a}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SortedPseudonymSet::FromSorted({a, a}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SortedPseudonymSet().contains(a));
}

}  // namespace
}  // namespace consent_test
}  // namespace veil::gov
