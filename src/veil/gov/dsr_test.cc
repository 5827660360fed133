#include "veil/gov/dsr.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/catalog.h"
#include "veil/gov/consent.h"
#include "veil/gov/retention.h"
#include "veil/gov/test_util.h"
#include "veil/store/sqlite.h"
#include "veil/store/test_util.h"
#include "veil/store/vault_file.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace dsr_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::veil::gov::testing::AuditEntries;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::kPatients;
using ::veil::gov::testing::UtcTime;

const absl::Time kT0 = UtcTime(2026, 3, 1, 9);

DsrRunOptions Rectified() {
  DsrRunOptions o;
  o.rectified = true;
  return o;
}

DsrRunOptions WithSubject(const std::string& id) {
  DsrRunOptions o;
  o.subject_id = id;
  return o;
}

TEST(DsrDeadlineTest, CalendarMonthsClampToTheMonthsLastDay) {
  EXPECT_EQ(AddCalendarMonths(UtcTime(2026, 3, 1, 9), 1), UtcTime(2026, 4, 1, 9));
  EXPECT_EQ(AddCalendarMonths(UtcTime(2026, 1, 31, 12), 1), UtcTime(2026, 2, 28, 12)) << "no 31 February";
  EXPECT_EQ(AddCalendarMonths(UtcTime(2028, 1, 31), 1), UtcTime(2028, 2, 29)) << "leap year";
  EXPECT_EQ(AddCalendarMonths(UtcTime(2026, 11, 30), 3), UtcTime(2027, 2, 28)) << "across the year";
  EXPECT_EQ(AddCalendarMonths(UtcTime(2026, 5, 31) + absl::Milliseconds(250), 1),
            UtcTime(2026, 6, 30) + absl::Milliseconds(250));
}

class DsrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetNow(kT0);
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    Ingest("patients");
    Declaration d;
    d.dataset = "patients";
    d.purpose = "research";
    d.basis = LegalBasis::kConsent;
    d.subject_types = {"patient"};
    d.recipients = {"University hospital"};
    d.retention = "5 years after the study";
    ASSERT_TRUE(Catalog(*owner_).Declare(d).ok());
  }

  void Ingest(const std::string& name) {
    store::IngestRequest req;
    req.dataset = name;
    req.subject_column = "mrn";
    req.purposes = {"care", "research"};
    req.source = {"", "patients.csv", std::string(64, '0'), 123, 0, {}};
    ASSERT_TRUE(owner_->Ingest(*table::ReadCsvFromString(kPatients), req).ok());
  }

  // While on, the catalog refuses every erasure's commit (an injected SQLite error), as a failing disk would.
  void RefuseErasures(bool on) {
    store::Database& db = owner_->workspace().metadata();
    ASSERT_TRUE(db.Exec(on ? "CREATE TEMP TRIGGER fail_erasure BEFORE DELETE ON main.subject "
                             "BEGIN SELECT RAISE(ABORT, 'injected'); END"
                           : "DROP TRIGGER fail_erasure")
                    .ok());
  }

  DsrRequest Open(DsrKind kind, const std::string& subject = "MRN-1001", const std::string& dataset = "") {
    DsrOpenRequest r;
    r.kind = kind;
    r.subject_id = subject;
    r.dataset = dataset;
    r.note = "ticket-42";
    auto out = SubjectRequests(*owner_).Open(r);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : DsrRequest{};
  }

  int64_t CountRequests() {
    auto st = owner_->workspace().metadata().Prepare("SELECT COUNT(*) FROM dsr_request");
    EXPECT_TRUE(st.ok());
    EXPECT_TRUE(*st->Step());
    return st->ColumnInt64(0);
  }

  std::vector<audit::AuditEntry> Entries(std::string_view action) {
    std::vector<audit::AuditEntry> out;
    for (audit::AuditEntry& e : AuditEntries(*owner_)) {
      if (e.action == action) out.push_back(std::move(e));
    }
    return out;
  }

  base::testing::ScopedTempDir tmp_{"veil_dsr_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

// received -> identity_verified -> extended -> completed, each step recorded and audited; illegal steps
// refused with the state and what it allows.
TEST_F(DsrTest, StateMachineAndDeadline) {
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kRectification);
  EXPECT_EQ(r.state, DsrState::kReceived);
  EXPECT_EQ(r.received, kT0);
  EXPECT_EQ(r.due, UtcTime(2026, 4, 1, 9)) << "Art. 12(3): one month from receipt";
  EXPECT_EQ(r.pseudonym, owner_->Pseudonym("MRN-1001"));

  auto run = dsr.Run(r.id, {});
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(run.status().message(),
              HasSubstr("is received: cannot run it; verify the requester's identity"));

  env_.AdvanceClock(absl::Hours(24));
  auto v = dsr.Verify(r.id);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->state, DsrState::kIdentityVerified);
  EXPECT_THAT(dsr.Verify(r.id).status().message(), HasSubstr("the identity is already verified"));

  // Not overdue on the due instant; overdue just after it.
  env_.SetNow(UtcTime(2026, 4, 1, 9));
  EXPECT_TRUE(dsr.List(/*overdue_only=*/true)->empty());
  env_.AdvanceClock(absl::Seconds(1));
  ASSERT_EQ(dsr.List(true)->size(), 1u);
  EXPECT_TRUE(dsr.Get(r.id)->overdue(env_.Now()));

  auto e = dsr.Extend(r.id, "complexity");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->state, DsrState::kIdentityVerified)
      << "extended is not a state: the request stays where it was";
  EXPECT_TRUE(e->extended());
  EXPECT_EQ(DsrStateText(*e), "identity_verified, extended");
  EXPECT_EQ(DsrRequestToJson(*e, env_.Now())["extended"], true);
  EXPECT_EQ(e->due, UtcTime(2026, 6, 1, 9)) << "three months from receipt";
  EXPECT_EQ(e->extension_reason, "complexity");
  EXPECT_TRUE(dsr.List(true)->empty());
  EXPECT_THAT(dsr.Extend(r.id, "again").status().message(), HasSubstr("already extended once"));

  // Rectification is not applied by Veil: run refuses until the owner confirms the re-ingest.
  auto refused = dsr.Run(r.id, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("re-ingest them (veil ingest --mode replace)"));
  auto done = dsr.Run(r.id, Rectified());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->request.state, DsrState::kCompleted);
  EXPECT_EQ(done->request.outcome["applied"], "re-ingest");
  EXPECT_THAT(dsr.Reject(r.id, "late").status().message(),
              HasSubstr("is completed (identity verified): cannot reject it; it is closed"));

  // Resumed from the database, the request has every step with its audit entry.
  const DsrRequest back = *dsr.Get(r.id);
  ASSERT_EQ(back.steps.size(), 4u);
  EXPECT_EQ(back.steps[0].step, "open");
  EXPECT_EQ(back.steps[1].step, "verify");
  EXPECT_EQ(back.steps[2].step, "extend");
  EXPECT_EQ(back.steps[3].step, "run");
  for (const DsrStep& s : back.steps) EXPECT_TRUE(s.audit_seq.has_value()) << s.step;
  EXPECT_EQ(Entries("dsr.open").size(), 1u);
  EXPECT_EQ(Entries("dsr.update").size(), 2u);
  const auto runs = Entries("dsr.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].subject_pseudonyms, std::vector<std::string>{r.pseudonym});
  for (const char* action : {"dsr.open", "dsr.update", "dsr.run"}) {
    for (const audit::AuditEntry& x : Entries(action)) {
      EXPECT_THAT(x.reason, Not(HasSubstr("MRN-1001")));
      EXPECT_THAT(x.reason, HasSubstr("subject request #1"));
    }
  }
}

TEST_F(DsrTest, RejectCloses) {
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kAccess);
  EXPECT_EQ(dsr.Reject(r.id, "bad reason").status().code(), absl::StatusCode::kInvalidArgument)
      << "a reason is a code, not free text";
  auto x = dsr.Reject(r.id, "identity-not-verified");
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->state, DsrState::kRejected);
  EXPECT_EQ(x->closed, kT0);
  env_.AdvanceClock(absl::Hours(24 * 60));
  EXPECT_TRUE(dsr.List(true)->empty()) << "a closed request is never overdue";
  EXPECT_THAT(dsr.Verify(r.id).status().message(), HasSubstr("is rejected: cannot verify it; it is closed"));
  EXPECT_EQ(dsr.Get(99).status().code(), absl::StatusCode::kNotFound);
}

// A damaged row is a DataLoss that names the request and what is wrong with it (never the subject), so an
// operator can find the row; a sound request next to it still loads.
TEST_F(DsrTest, ADamagedRequestIsNamed) {
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kAccess);
  const DsrRequest sound = Open(DsrKind::kAccess, "MRN-1002");
  store::Database& db = owner_->workspace().metadata();
  const auto expect_damage = [&](const std::string& sql, const std::string& what) {
    ASSERT_TRUE(db.Exec(sql).ok()) << sql;
    auto got = dsr.Get(r.id);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << sql;
    EXPECT_EQ(got.status().message(), absl::StrCat("workspace.db: subject request #", r.id, ": ", what));
    EXPECT_THAT(got.status().message(), Not(HasSubstr(r.pseudonym)));
  };
  expect_damage("UPDATE dsr_request SET state = 'x' WHERE id = 1", "unknown state \"x\"");
  expect_damage("UPDATE dsr_request SET state = 'received', kind = 'forget' WHERE id = 1",
                "unknown kind \"forget\"");
  expect_damage("UPDATE dsr_request SET kind = 'access', pseudonym = zeroblob(20) WHERE id = 1",
                "pseudonym is 20 bytes, not 32");
  expect_damage(
      absl::StrCat("UPDATE dsr_request SET pseudonym = x'", r.pseudonym, "', outcome = '[]' WHERE id = 1"),
      "outcome is not a JSON object");
  expect_damage(
      "UPDATE dsr_request SET outcome = '{}' WHERE id = 1; "
      "UPDATE dsr_step SET state = 'lost' WHERE request_id = 1",
      absl::StrCat("step ", r.steps.at(0).seq, ": unknown state \"lost\""));
  auto ok = dsr.Get(sound.id);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->pseudonym, owner_->Pseudonym("MRN-1002"));
}

// Access: the rows (decrypted), declarations with recipients, consent, and a decision about the subject.
TEST_F(DsrTest, AccessHasEverythingHeldAboutTheSubject) {
  ConsentInput c;
  c.subject_id = "MRN-1001";
  c.purpose = "research";
  c.at = kT0;
  c.source = "web_form";
  c.notice_version = "notice-v3";
  ASSERT_TRUE(ConsentRegistry(*owner_).Record(c).ok());
  const std::string p1 = owner_->Pseudonym("MRN-1001");
  const std::string p2 = owner_->Pseudonym("MRN-1002");
  auto decision = owner_->Authorize(Operation::kDecide, "patients", "research", {{"model", "m"}});
  ASSERT_TRUE(decision.ok());
  ASSERT_TRUE(
      owner_->Record(Operation::kDecide, "patients", "research", *decision, {{"row", 1}}, {}, {p1}).ok());
  ASSERT_TRUE(owner_->Record(Operation::kDecide, "care", "", *decision, {{"row", 2}}, {}, {p2}).ok());

  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kAccess);
  ASSERT_TRUE(dsr.Verify(r.id).ok());
  auto run = dsr.Run(r.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  const auto doc = nlohmann::json::parse(run->document);
  EXPECT_EQ(doc["subject"]["pseudonym"], p1);
  ASSERT_EQ(doc["datasets"].size(), 1u);
  const auto& d = doc["datasets"][0];
  EXPECT_EQ(d["dataset"], "patients");
  ASSERT_EQ(d["rows"].size(), 2u) << "MRN-1001's two rows, nobody else's";
  EXPECT_EQ(d["rows"][0]["name"], "Alice Moreau");
  EXPECT_EQ(d["rows"][0]["age"], 34);
  EXPECT_EQ(d["rows"][1]["age"], 35);
  EXPECT_EQ(d["purposes"], nlohmann::json({"care", "research"}));
  ASSERT_EQ(d["processing"].size(), 1u);
  EXPECT_EQ(d["processing"][0]["recipients"], nlohmann::json({"University hospital"}));
  EXPECT_EQ(d["processing"][0]["retention"], "5 years after the study");
  ASSERT_EQ(doc["consent"].size(), 1u);
  EXPECT_EQ(doc["consent"][0]["state"], "granted");
  ASSERT_EQ(doc["automated_decisions"].size(), 1u) << "only the decision about this subject";
  EXPECT_EQ(doc["automated_decisions"][0]["dataset"], "patients");
  EXPECT_THAT(run->document, Not(HasSubstr("Bruno")));
  ASSERT_EQ(run->csv.size(), 1u);
  EXPECT_EQ(run->csv[0].second,
            "mrn,name,age,diagnosis\nMRN-1001,Alice Moreau,34,asthma\n"
            "MRN-1001,Alice Moreau,35,asthma\n");
  // The run's entry names the pseudonym, hashes the document, and holds no personal data in its text.
  const auto runs = Entries("dsr.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].seq, run->audit_seq);
  EXPECT_EQ(runs[0].result_hash, crypto::Sha256(run->document));
  EXPECT_THAT(runs[0].reason, Not(HasSubstr("Alice")));
  EXPECT_THAT(runs[0].reason, HasSubstr("2 row(s) from 1 dataset(s)"));
  EXPECT_EQ(run->request.outcome["rows"], 2);
}

// Erasure erases where it may and keeps what a legal hold covers, recording the Art. 17(3)(e) exception.
TEST_F(DsrTest, ErasureHonoursLegalHolds) {
  Ingest("billing");
  ASSERT_TRUE(Retention(*owner_).Hold("billing", std::string("MRN-1001"), "litigation-2026-04").ok());
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kErasure);
  ASSERT_TRUE(dsr.Verify(r.id).ok());
  auto run = dsr.Run(r.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  const auto& o = run->request.outcome;
  ASSERT_EQ(o["erased"].size(), 1u);
  EXPECT_EQ(o["erased"][0]["dataset"], "patients");
  EXPECT_EQ(o["erased"][0]["rows"], 2);
  EXPECT_EQ(o["keys_destroyed"], 1);
  ASSERT_EQ(o["kept"].size(), 1u);
  EXPECT_EQ(o["kept"][0]["dataset"], "billing");
  EXPECT_EQ(o["kept"][0]["exception"], "Art. 17(3)(e): legal claims (legal hold)");
  EXPECT_EQ(o["kept"][0]["holds"][0]["reason"], "litigation-2026-04");
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 2);
  EXPECT_EQ(owner_->GetDataset("billing")->subjects, 3);
  EXPECT_THAT(owner_->Export("patients", "care")->csv, Not(HasSubstr("MRN-1001")));
  EXPECT_THAT(owner_->Export("billing", "care")->csv, HasSubstr("MRN-1001"));
  EXPECT_EQ(o["keys_destroyed_in"], "the datasets erased") << "a held dataset keeps its keys";
  const std::string p1 = owner_->Pseudonym("MRN-1001");
  EXPECT_FALSE(owner_->workspace().key_store().LoadKeys("patients")->contains(p1));
  EXPECT_TRUE(owner_->workspace().key_store().LoadKeys("billing")->contains(p1));
  // The request (pseudonym only) outlives the erasure: the record that it was answered.
  const DsrRequest back = *dsr.Get(r.id);
  EXPECT_EQ(back.state, DsrState::kCompleted);
  // Every step is its own audit entry, the completion too (issue 11, item 6).
  ASSERT_EQ(back.steps.size(), 4u);
  EXPECT_EQ(back.steps[2].step, "run");
  EXPECT_EQ(back.steps[3].step, "complete");
  const auto runs = Entries("dsr.run");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(back.steps[2].audit_seq, runs[0].seq);
  EXPECT_EQ(back.steps[3].audit_seq, runs[1].seq);
  EXPECT_EQ(run->audit_seq, runs[0].seq) << "the run's entry, announced before the erasure";
  EXPECT_THAT(runs[1].reason, HasSubstr("complete: erasure done: 2 row(s) removed, 1 data key(s) destroyed"));
  EXPECT_EQ(runs[1].subject_pseudonyms, std::vector<std::string>{p1});
}

// With no legal hold anywhere, an erasure request is erased as `veil erase` erases: by one erasure across
// every dataset, which destroys the subject's data keys wherever they are, also in a dataset that no longer
// lists them (here a key planted in the key store for a dataset the catalog does not have; an erasure per
// dataset would leave it). A copy of the vault taken before the erasure then opens for no key left.
TEST_F(DsrTest, ErasureWithoutHoldsDestroysTheSubjectsKeysEverywhere) {
  Ingest("billing");
  store::Workspace& ws = owner_->workspace();
  const std::string p1 = owner_->Pseudonym("MRN-1001");
  ASSERT_TRUE(
      ws.key_store().GetOrCreateKeys("archive", std::vector<std::string>{p1}, crypto::SecureRandom()).ok());
  const std::string copy = tmp_.File("vault-before");
  std::filesystem::copy(dir_ + "/vault", copy, std::filesystem::copy_options::recursive);

  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kErasure);
  ASSERT_TRUE(dsr.Verify(r.id).ok());
  auto run = dsr.Run(r.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  const auto& o = run->request.outcome;
  EXPECT_EQ(o["keys_destroyed_in"], "every dataset");
  ASSERT_EQ(o["erased"].size(), 2u) << o.dump();
  EXPECT_EQ(o["erased"][0]["dataset"], "billing");
  EXPECT_EQ(o["erased"][1]["dataset"], "patients");
  EXPECT_EQ(o["rows_removed"], 4);
  EXPECT_EQ(o["keys_destroyed"], 3) << "billing, patients, and the key the catalog does not list";
  for (const char* name : {"patients", "billing", "archive"}) {
    auto keys = ws.key_store().LoadKeys(name);
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_FALSE(keys->contains(p1)) << name;
  }

  // The copy taken before: the subject's records open with no key left; everyone else's still open.
  for (const char* name : {"patients", "billing"}) {
    auto keys = ws.key_store().LoadKeys(name);
    ASSERT_TRUE(keys.ok()) << keys.status();
    int refused = 0, opened = 0;
    auto files = env_.ListDir(absl::StrCat(copy, "/", name));
    ASSERT_TRUE(files.ok()) << files.status();
    for (const std::string& file : *files) {
      ASSERT_TRUE(
          store::ReadVaultFile(
              env_, absl::StrCat(copy, "/", name, "/", file), name, nullptr,
              [&](std::string_view pseudonym, std::span<const uint8_t> sealed) {
                if (pseudonym != p1) {
                  EXPECT_TRUE(
                      store::OpenRecord(keys->at(std::string(pseudonym)), name, pseudonym, sealed).ok());
                  ++opened;
                  return absl::OkStatus();
                }
                for (const auto& [other, key] : *keys)
                  EXPECT_FALSE(store::OpenRecord(key, name, pseudonym, sealed).ok());
                ++refused;
                return absl::OkStatus();
              })
              .ok());
    }
    EXPECT_EQ(refused, 1) << name << ": MRN-1001's one record";
    EXPECT_EQ(opened, 2) << name << ": the two other subjects";
  }
  EXPECT_THAT(owner_->Export("patients", "care")->csv, Not(HasSubstr("MRN-1001")));
  EXPECT_THAT(owner_->Export("billing", "care")->csv, Not(HasSubstr("MRN-1001")));
}

// A run that fails before its audit entry is written (here: the audit log cannot be written, as on a full
// disk) changes nothing: the request keeps its state and may be run again or rejected.
TEST_F(DsrTest, ARunStoppedBeforeItsEntryChangesNothing) {
  SubjectRequests dsr(*owner_);
  const DsrRequest erasure = Open(DsrKind::kErasure);
  const DsrRequest access = Open(DsrKind::kAccess, "MRN-1002");
  for (int64_t id : {erasure.id, access.id}) ASSERT_TRUE(dsr.Verify(id).ok());
  env_.fail_audit_writes = true;
  for (int64_t id : {erasure.id, access.id}) {
    // The audit write's own error, not a refusal for another reason.
    const absl::Status failed = dsr.Run(id, {}).status();
    EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
    EXPECT_THAT(failed.message(), HasSubstr("injected: disk full"));
  }
  env_.fail_audit_writes = false;
  for (int64_t id : {erasure.id, access.id}) {
    const DsrRequest back = *dsr.Get(id);
    EXPECT_EQ(back.state, DsrState::kIdentityVerified) << "no entry, no change of state";
    EXPECT_EQ(back.steps.size(), 2u) << "open, verify";
    EXPECT_TRUE(back.outcome.empty());
  }
  EXPECT_TRUE(Entries("dsr.run").empty());
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 3) << "no entry, no erasure";
  auto rejected = dsr.Reject(access.id, "manifestly-unfounded");
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->state, DsrState::kRejected);
  auto run = dsr.Run(erasure.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->request.state, DsrState::kCompleted);
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 2);
}

// A run that stops after its entry, once the erasure may have begun (here: the catalog refuses the
// erasure's commit), stays in_progress: its deadline can still be extended, and running it again finishes it.
TEST_F(DsrTest, ARunStoppedAfterItsEntryIsResumed) {
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kErasure);
  ASSERT_TRUE(dsr.Verify(r.id).ok());
  RefuseErasures(true);
  auto stopped = dsr.Run(r.id, {});
  RefuseErasures(false);
  EXPECT_FALSE(stopped.ok());
  EXPECT_THAT(stopped.status().message(), HasSubstr("run it again to finish"));
  const DsrRequest back = *dsr.Get(r.id);
  EXPECT_EQ(back.state, DsrState::kInProgress);
  ASSERT_EQ(back.steps.size(), 3u);
  EXPECT_EQ(back.steps[2].step, "run");
  EXPECT_EQ(back.steps[2].state, DsrState::kInProgress);
  EXPECT_EQ(back.steps[2].audit_seq, Entries("dsr.run").at(0).seq) << "in_progress with its entry";
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 3) << "the erasure did not commit";
  auto extended = dsr.Extend(r.id, "disk-full");
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->state, DsrState::kInProgress) << "a run that has started stays in_progress";
  EXPECT_EQ(extended->due, UtcTime(2026, 6, 1, 9));
  auto run = dsr.Run(r.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->request.state, DsrState::kCompleted);
  EXPECT_EQ(run->request.outcome["rows_removed"], 2);
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 2);
  std::vector<std::string> steps;
  for (const DsrStep& s : run->request.steps) steps.push_back(s.step);
  EXPECT_EQ(steps, (std::vector<std::string>{"open", "verify", "run", "extend", "run", "complete"}));
  const auto entries = Entries("dsr.run");
  ASSERT_EQ(entries.size(), 3u) << "each run, the stopped one too, and the completion have their entry";
  EXPECT_EQ(run->request.steps[4].audit_seq, entries[1].seq);
  EXPECT_EQ(run->request.steps[5].audit_seq, entries[2].seq) << "complete: an entry of its own";
  EXPECT_THAT(entries[2].reason, HasSubstr("subject request #1 (erasure) complete: erasure done"));
  EXPECT_THAT(entries[2].reason, HasSubstr(absl::StrCat("(the run of audit entry #", entries[1].seq, ")")));
}

// A run that stops after its entry and can never finish (here: the catalog keeps refusing the erasure) is
// rejected with its reason (Art. 12(4)): the request closes, the rejection is its own audited step, and what
// the stopped run had planned and done stays in the outcome. A closed request then takes no run.
TEST_F(DsrTest, ARunThatCannotFinishIsRejected) {
  SubjectRequests dsr(*owner_);
  const DsrRequest r = Open(DsrKind::kErasure);
  ASSERT_TRUE(dsr.Verify(r.id).ok());
  RefuseErasures(true);
  for (int i = 0; i < 2; ++i) {
    const absl::Status stopped = dsr.Run(r.id, {}).status();
    EXPECT_THAT(stopped.message(), HasSubstr("injected")) << "stopped by the erasure, not for another reason";
  }
  RefuseErasures(false);
  ASSERT_EQ(dsr.Get(r.id)->state, DsrState::kInProgress);
  const size_t updates = Entries("dsr.update").size();

  EXPECT_EQ(dsr.Reject(r.id, "not a code").status().code(), absl::StatusCode::kInvalidArgument);
  env_.AdvanceClock(absl::Hours(1));
  auto rejected = dsr.Reject(r.id, "erasure-impossible");
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  EXPECT_EQ(rejected->state, DsrState::kRejected);
  EXPECT_EQ(rejected->rejection_reason, "erasure-impossible");
  EXPECT_EQ(rejected->closed, kT0 + absl::Hours(1));
  EXPECT_EQ(rejected->outcome["to_erase"], nlohmann::ordered_json({"patients"}))
      << "the stopped run's plan is kept";
  ASSERT_FALSE(rejected->steps.empty());
  const DsrStep& last = rejected->steps.back();
  EXPECT_EQ(last.step, "reject");
  EXPECT_EQ(last.state, DsrState::kRejected);
  EXPECT_THAT(last.detail, HasSubstr("rejected after a run had started"));
  EXPECT_THAT(last.detail, HasSubstr("erasure-impossible"));
  const auto entries = Entries("dsr.update");
  ASSERT_EQ(entries.size(), updates + 1) << "the rejection is audited";
  EXPECT_EQ(last.audit_seq, entries.back().seq);
  EXPECT_THAT(entries.back().reason, HasSubstr("erasure-impossible"));
  EXPECT_EQ(entries.back().subject_pseudonyms, std::vector<std::string>{r.pseudonym});

  EXPECT_THAT(dsr.Run(r.id, {}).status().message(),
              HasSubstr("is rejected (identity verified): cannot run it"));
  EXPECT_EQ(dsr.Get(r.id)->state, DsrState::kRejected);
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 3) << "nothing was erased";
}

// A run that stops after its changes but before its completion (here: the completion step cannot be
// written) and is run again redoes nothing: the objection is not added twice, and the erasure's account keeps
// what the stopped run erased.
TEST_F(DsrTest, RunningAgainRedoesNothingDone) {
  store::Database& db = owner_->workspace().metadata();
  const auto fail_completion = [&] {
    ASSERT_TRUE(db.Exec("CREATE TEMP TRIGGER fail_completion BEFORE INSERT ON main.dsr_step "
                        "WHEN NEW.step = 'complete' BEGIN SELECT RAISE(ABORT, 'injected'); END")
                    .ok());
  };
  SubjectRequests dsr(*owner_);
  DsrOpenRequest o;
  o.kind = DsrKind::kObjection;
  o.subject_id = "MRN-1002";
  o.purpose = "research";
  const DsrRequest objection = *dsr.Open(o);
  const DsrRequest erasure = Open(DsrKind::kErasure);
  for (int64_t id : {objection.id, erasure.id}) ASSERT_TRUE(dsr.Verify(id).ok());

  fail_completion();
  // Each run stops at the injected completion failure, not for another reason.
  EXPECT_THAT(dsr.Run(objection.id, WithSubject("MRN-1002")).status().message(), HasSubstr("injected"));
  EXPECT_THAT(dsr.Run(erasure.id, {}).status().message(), HasSubstr("injected"));
  ASSERT_TRUE(db.Exec("DROP TRIGGER fail_completion").ok());
  EXPECT_EQ(dsr.Get(objection.id)->state, DsrState::kInProgress);
  EXPECT_EQ(dsr.Get(erasure.id)->state, DsrState::kInProgress);
  const std::string p2 = owner_->Pseudonym("MRN-1002");
  ASSERT_EQ(Restrictions(owner_->workspace(), p2)->size(), 1u) << "recorded before the run stopped";
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 2) << "MRN-1001 erased before the run stopped";

  auto again = dsr.Run(objection.id, WithSubject("MRN-1002"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->request.state, DsrState::kCompleted);
  const auto restrictions = Restrictions(owner_->workspace(), p2);
  ASSERT_EQ(restrictions->size(), 1u) << "not added twice";
  EXPECT_EQ(again->request.outcome["restriction_id"], (*restrictions)[0].id);
  EXPECT_EQ(Entries("objection").size(), 1u);

  auto finished = dsr.Run(erasure.id, {});
  ASSERT_TRUE(finished.ok()) << finished.status();
  const auto& out = finished->request.outcome;
  EXPECT_TRUE(out["to_erase"].empty()) << "nothing left to erase";
  ASSERT_EQ(out["erased"].size(), 1u) << out.dump();
  EXPECT_EQ(out["erased"][0]["dataset"], "patients");
  EXPECT_EQ(out["rows_removed"], 2) << "what the stopped run erased";
  EXPECT_EQ(out["keys_destroyed"], 1);
  EXPECT_EQ(owner_->GetDataset("patients")->subjects, 2);
  std::vector<std::string> steps;
  for (const DsrStep& s : finished->request.steps) steps.push_back(s.step);
  EXPECT_EQ(steps, (std::vector<std::string>{"open", "verify", "run", "run", "complete"}));
}

TEST_F(DsrTest, RestrictionAndObjectionGoThroughConsent) {
  SubjectRequests dsr(*owner_);
  DsrOpenRequest o;
  o.kind = DsrKind::kObjection;
  o.subject_id = "MRN-1002";
  o.purpose = "research";
  auto r = dsr.Open(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(dsr.Verify(r->id).ok());
  EXPECT_THAT(dsr.Run(r->id, {}).status().message(), HasSubstr("needs the subject's id again"));
  EXPECT_THAT(dsr.Run(r->id, WithSubject("MRN-1001")).status().message(),
              HasSubstr("is not the subject of request #1"));
  auto run = dsr.Run(r->id, WithSubject("MRN-1002"));
  ASSERT_TRUE(run.ok()) << run.status();
  auto x = Restrictions(owner_->workspace(), owner_->Pseudonym("MRN-1002"));
  ASSERT_EQ(x->size(), 1u);
  EXPECT_EQ((*x)[0].kind, RestrictionKind::kObjection);
  EXPECT_EQ((*x)[0].purpose, "research");
  EXPECT_EQ((*x)[0].reason, "dsr-1");
  auto e = SubjectExclusion(owner_->workspace(), owner_->Pseudonym("MRN-1002"), "patients", "research",
                            env_.Now());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(*e, Not(::testing::IsEmpty())) << "the gate now leaves the subject out";
}

TEST_F(DsrTest, BadInputChangesNothing) {
  SubjectRequests dsr(*owner_);
  DsrOpenRequest r;
  r.kind = DsrKind::kAccess;
  r.subject_id = "MRN-1001";
  r.note = "call Alice back";
  EXPECT_EQ(dsr.Open(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.note = "";
  r.purpose = "research";
  EXPECT_THAT(dsr.Open(r).status().message(), HasSubstr("only for an objection"));
  r.purpose = "";
  r.dataset = "nope";
  EXPECT_EQ(dsr.Open(r).status().code(), absl::StatusCode::kNotFound);
  r.dataset = "";
  r.subject_id = "";
  EXPECT_EQ(dsr.Open(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CountRequests(), 0);
  EXPECT_TRUE(Entries("dsr.open").empty());
}

TEST_F(DsrTest, OwnerOnly) {
  ASSERT_TRUE(owner_->Grant("ines", Role::kAuditor).ok());
  const DsrRequest r = Open(DsrKind::kAccess);
  owner_.reset();
  auto ines = Session::Open(env_, dir_, "ines", std::nullopt);
  ASSERT_TRUE(ines.ok());
  SubjectRequests dsr(**ines);
  EXPECT_EQ(dsr.Get(r.id).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dsr.Verify(r.id).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dsr.Run(r.id, {}).status().code(), absl::StatusCode::kPermissionDenied);
  DsrOpenRequest o;
  o.subject_id = "MRN-1002";
  EXPECT_EQ(dsr.Open(o).status().code(), absl::StatusCode::kPermissionDenied);
  ines->reset();
  auto s = Session::Open(env_, dir_, "alice", std::nullopt);
  ASSERT_TRUE(s.ok());
  owner_ = *std::move(s);
  EXPECT_EQ(SubjectRequests(*owner_).Get(r.id)->state, DsrState::kReceived);
  EXPECT_EQ(CountRequests(), 1);
  const auto denied = Entries("dsr.run");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].decision, audit::Decision::kDenied);
}

// Extended used to be stored as a state (of the request and of its extend step). Such a request reads as the
// state it continued from, with its extension, and continues from there.
TEST_F(DsrTest, AStoredExtendedStateReadsAsWhereTheRequestWas) {
  SubjectRequests dsr(*owner_);
  const DsrRequest unverified = Open(DsrKind::kAccess);
  const DsrRequest verified = Open(DsrKind::kAccess, "MRN-1002");
  ASSERT_TRUE(dsr.Verify(verified.id).ok());
  for (int64_t id : {unverified.id, verified.id}) ASSERT_TRUE(dsr.Extend(id, "complexity").ok());
  store::Database& db = owner_->workspace().metadata();
  ASSERT_TRUE(db.Exec("UPDATE dsr_request SET state = 'extended'; "
                      "UPDATE dsr_step SET state = 'extended' WHERE step = 'extend'")
                  .ok());
  const DsrRequest a = *dsr.Get(unverified.id);
  EXPECT_EQ(a.state, DsrState::kReceived);
  EXPECT_TRUE(a.extended());
  EXPECT_EQ(a.steps.back().state, DsrState::kReceived);
  const DsrRequest b = *dsr.Get(verified.id);
  EXPECT_EQ(b.state, DsrState::kIdentityVerified);
  EXPECT_EQ(DsrStateText(b), "identity_verified, extended");
  EXPECT_EQ(b.steps.back().state, DsrState::kIdentityVerified) << "the state of the step before";
  EXPECT_THAT(dsr.Run(unverified.id, {}).status().message(), HasSubstr("verify the requester's identity"));
  auto run = dsr.Run(verified.id, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->request.state, DsrState::kCompleted);
}

// Schema v8: a v7 workspace gets the request tables when opened.
TEST_F(DsrTest, MigratesFromSchema7) {
  owner_.reset();
  {
    auto db = store::Database::Open(dir_ + "/workspace.db", {.create = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        db->Exec(absl::StrCat(store::testing::kDropAfterV8,
                              "DROP TABLE dsr_step; DROP TABLE dsr_request; PRAGMA user_version = 7;"))
            .ok());
  }
  auto s = Session::Open(env_, dir_, "alice", std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status();
  owner_ = *std::move(s);
  EXPECT_EQ(*owner_->workspace().metadata().UserVersion(), store::Workspace::SchemaVersion());
  EXPECT_EQ(store::Workspace::SchemaVersion(), 10);
  EXPECT_EQ(Open(DsrKind::kAccess).id, 1);
}

}  // namespace
}  // namespace dsr_test
}  // namespace veil::gov
