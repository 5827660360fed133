#include "veil/gov/retention.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/gov/catalog.h"
#include "veil/gov/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::gov {
namespace retention_test {
namespace {

using ::testing::HasSubstr;
using ::veil::gov::testing::AuditEntries;
using ::veil::gov::testing::AuditFaultEnv;
using ::veil::gov::testing::DamageVault;
using ::veil::gov::testing::ExportedSubjectIds;
using ::veil::gov::testing::UtcTime;

const absl::Time kT0 = UtcTime(2026, 3, 1);

// Three subjects; MRN-1 has two visits (the newest 2026-02-01), MRN-3 none recorded.
constexpr char kVisits[] =
    "mrn,name,visit,diagnosis\n"
    "MRN-1,Alice Moreau,2026-01-10,asthma\n"
    "MRN-2,Bruno Keller,2026-02-20,diabetes\n"
    "MRN-1,Alice Moreau,2026-02-01,asthma\n"
    "MRN-3,Chloe Dubois,,migraine\n";

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.SetNow(kT0);
    auto s = Session::Init(env_, dir_, "alice", {});
    ASSERT_TRUE(s.ok()) << s.status();
    owner_ = *std::move(s);
    Ingest(kVisits, store::IngestMode::kCreate);
    AnnotateRequest name;
    name.categories = std::vector<std::string>{"user.name"};
    ASSERT_TRUE(Catalog(*owner_).Annotate("visits", "name", name).ok());
  }

  void Ingest(const char* csv, store::IngestMode mode) {
    store::IngestRequest req;
    req.dataset = "visits";
    req.subject_column = "mrn";
    req.purposes = {"care"};
    req.mode = mode;
    req.source = {"", "visits.csv", std::string(64, '0'), 123, 0, {}};
    auto r = owner_->Ingest(*table::ReadCsvFromString(csv), req);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  RetentionRule Rule(int64_t days, const std::string& trigger, const std::string& category = "") {
    RetentionRule r;
    r.dataset = "visits";
    r.category = category;
    r.days = days;
    EXPECT_TRUE(ParseRetentionTrigger(trigger, &r).ok()) << trigger;
    return r;
  }

  void Set(int64_t days, const std::string& trigger, const std::string& category = "") {
    auto r = Retention(*owner_).Set(Rule(days, trigger, category));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  DatasetRetention StatusNow() {
    auto s = Retention(*owner_).Status();
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok() || s->datasets.size() != 1) {
      ADD_FAILURE() << "expected one dataset with rules";
      return {};
    }
    return s->datasets[0];
  }

  EnforceResult Enforce(bool dry_run = false) {
    auto r = Retention(*owner_).Enforce(dry_run);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : EnforceResult{};
  }

  // The subject ids left in the dataset, in row order.
  std::vector<std::string> Remaining() { return ExportedSubjectIds(*owner_, "visits", "care"); }
  std::vector<audit::AuditEntry> Entries() { return AuditEntries(*owner_); }

  base::testing::ScopedTempDir tmp_{"veil_retention_test"};
  const std::string dir_ = tmp_.File("ws");
  AuditFaultEnv env_{crypto::SecureRandom()};
  std::unique_ptr<Session> owner_;
};

// The ingest trigger counts from when each subject's rows last arrived; enforcement erases what is due, once.
TEST_F(RetentionTest, IngestTriggerOnTheFrozenClockAndIdempotentEnforcement) {
  env_.AdvanceClock(absl::Hours(24 * 20));
  Ingest("mrn,name,visit,diagnosis\nMRN-2,Bruno Keller,2026-03-21,flu\n", store::IngestMode::kAppend);
  Set(30, "ingest");
  DatasetRetention s = StatusNow();
  EXPECT_EQ(s.subjects, 3);
  EXPECT_EQ(s.due, 0);
  ASSERT_TRUE(s.next_due.has_value());
  EXPECT_EQ(*s.next_due, kT0 + absl::Hours(24 * 30));
  ASSERT_EQ(s.upcoming.size(), 2u);
  EXPECT_EQ(s.upcoming[0], std::make_pair(absl::CivilDay(2026, 3, 31), int64_t{2}));
  EXPECT_EQ(s.upcoming[1], std::make_pair(absl::CivilDay(2026, 4, 20), int64_t{1}));

  env_.SetNow(kT0 + absl::Hours(24 * 30) - absl::Seconds(1));
  EnforceResult early = Enforce();
  EXPECT_EQ(early.erased_subjects, 0) << "one second before the period ends";
  env_.AdvanceClock(absl::Seconds(1));
  EnforceResult dry = Enforce(/*dry_run=*/true);
  EXPECT_EQ(dry.status.datasets[0].due, 2);
  EXPECT_FALSE(dry.audit_seq.has_value());
  EXPECT_EQ(Remaining().size(), 5u) << "a dry run erases nothing";
  const size_t entries_before = Entries().size();
  EnforceResult run = Enforce();
  EXPECT_EQ(run.erased_subjects, 2);
  EXPECT_EQ(run.erased_rows, 3);
  EXPECT_GE(run.keys_destroyed, 2);
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"MRN-2", "MRN-2"})) << "MRN-2's rows arrived later";
  // Crypto-shredding: the erased subjects' data keys are gone from the key store, MRN-2's is there.
  auto keys = owner_->workspace().key_store().LoadKeys("visits");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->begin()->first, owner_->Pseudonym("MRN-2"));
  EnforceResult again = Enforce();
  EXPECT_EQ(again.erased_subjects, 0) << "idempotent";
  EXPECT_EQ(again.status.datasets[0].due, 0);

  // One entry per run (retention.enforce, with counts), never a pseudonym; the export between them is the
  // other.
  const std::vector<audit::AuditEntry> log = Entries();
  ASSERT_EQ(log.size(), entries_before + 3);
  const audit::AuditEntry& first = log[entries_before];
  EXPECT_EQ(first.action, "retention.enforce");
  EXPECT_EQ(first.actor, "alice");
  EXPECT_THAT(first.reason, HasSubstr("retention enforcement: 2 subject record(s) due, erased by "
                                      "crypto-shredding"));
  EXPECT_TRUE(first.subject_pseudonyms.empty());
  EXPECT_TRUE(first.result_hash.has_value());
  EXPECT_EQ(first.time, kT0 + absl::Hours(24 * 30));
  const audit::AuditEntry& second = log.back();
  EXPECT_EQ(second.action, "retention.enforce");
  EXPECT_THAT(second.reason, HasSubstr("0 subject record(s) due, nothing to erase"));
  EXPECT_TRUE(second.subject_pseudonyms.empty());

  env_.AdvanceClock(absl::Hours(24 * 20));
  EXPECT_EQ(Enforce().erased_subjects, 1);
  EXPECT_TRUE(Remaining().empty());
}

// A column trigger starts from the subject's newest date; a subject without one is never due under it.
// Legal holds keep what is due until released.
TEST_F(RetentionTest, ColumnTriggerAndLegalHolds) {
  Set(100, "column:visit");
  env_.SetNow(UtcTime(2026, 5, 15));  // MRN-1: 2026-02-01 + 100 days = 2026-05-12; MRN-2: 2026-05-31
  DatasetRetention s = StatusNow();
  EXPECT_EQ(s.due, 1);
  EXPECT_EQ(s.undated, 1) << "MRN-3 has no visit date";
  ASSERT_TRUE(s.next_due.has_value());
  EXPECT_EQ(*s.next_due, UtcTime(2026, 5, 31));
  EXPECT_THAT(s.notes.back(), HasSubstr("1 subject(s) have no date"));

  Retention retention(*owner_);
  auto hold = retention.Hold("visits", "MRN-1", "litigation-2026-04");
  ASSERT_TRUE(hold.ok()) << hold.status();
  EXPECT_EQ(hold->pseudonym, owner_->Pseudonym("MRN-1"));
  EXPECT_EQ(retention.Hold("visits", "MRN-1", "again").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(retention.Hold("visits", std::nullopt, "free text!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EnforceResult held = Enforce();
  EXPECT_EQ(held.erased_subjects, 0);
  EXPECT_EQ(held.held, 1);
  EXPECT_THAT(Entries().back().reason, HasSubstr("1 kept under legal holds"));
  EXPECT_EQ(Entries()[Entries().size() - 2].subject_pseudonyms,
            std::vector<std::string>{owner_->Pseudonym("MRN-1")})
      << "the hold's entry names its subject";

  // A hold on the whole dataset keeps everyone.
  ASSERT_TRUE(retention.Hold("visits", std::nullopt, "audit-2026").ok());
  auto released = retention.Release("visits", "MRN-1");
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, 1);
  EXPECT_EQ(retention.Release("visits", "MRN-1").status().code(), absl::StatusCode::kNotFound);
  env_.SetNow(UtcTime(2026, 6, 1));
  EXPECT_EQ(Enforce().held, 2);
  ASSERT_TRUE(retention.Release("visits", std::nullopt).ok());
  EnforceResult run = Enforce();
  EXPECT_EQ(run.erased_subjects, 2);
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"MRN-3"}));
}

// A category rule applies to a dataset that holds the category; the shortest period due first wins.
TEST_F(RetentionTest, CategoryRulesAndTheShortestPeriod) {
  Set(365, "ingest");
  Set(10, "ingest", "user.name");
  Set(5, "ingest", "user");  // covers user.name by inheritance
  auto rules = StatusNow().rules;
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].category, "");
  EXPECT_EQ(rules[2].category, "user.name");
  env_.AdvanceClock(absl::Hours(24 * 5));
  EXPECT_EQ(StatusNow().due, 3);
  ASSERT_TRUE(Retention(*owner_).Remove("visits", "user").ok());
  EXPECT_EQ(StatusNow().due, 0);
  EXPECT_EQ(*StatusNow().next_due, kT0 + absl::Hours(24 * 10));
  EXPECT_EQ(Retention(*owner_).Remove("visits", "user").code(), absl::StatusCode::kNotFound);
  // Re-annotating the column away leaves the category rule applying to nothing: said, not silently kept.
  AnnotateRequest none;
  none.categories = std::vector<std::string>{};
  ASSERT_TRUE(Catalog(*owner_).Annotate("visits", "name", none).ok());
  DatasetRetention s = StatusNow();
  EXPECT_EQ(*s.next_due, kT0 + absl::Hours(24 * 365));
  EXPECT_THAT(s.notes[0], HasSubstr("the rule for user.name applies to nothing"));
}

// A rule's column that a replace ingest removed or retyped makes nothing due, and the status says so.
TEST_F(RetentionTest, AColumnRuleOutlivedByItsColumnIsNoted) {
  Set(1, "column:visit");
  env_.AdvanceClock(absl::Hours(24 * 365));
  EXPECT_EQ(StatusNow().due, 2);
  Ingest("mrn,name,diagnosis\nMRN-1,Alice Moreau,asthma\nMRN-2,Bruno Keller,flu\n",
         store::IngestMode::kReplace);
  DatasetRetention s = StatusNow();
  EXPECT_EQ(s.due, 0);
  EXPECT_EQ(s.undated, 2);
  ASSERT_FALSE(s.notes.empty());
  EXPECT_THAT(s.notes[0], HasSubstr("the rule's column \"visit\" is no longer in the dataset"));
  Ingest("mrn,name,visit\nMRN-1,Alice Moreau,soon\n", store::IngestMode::kReplace);
  EXPECT_THAT(StatusNow().notes[0], HasSubstr("is no longer a date or timestamp"));
  EXPECT_EQ(Enforce().erased_subjects, 0);
}

// Bad input is refused with the reason, and nothing changes.
// One dataset whose vault fails its check (its column rule cannot read the dates) does not hide or stop the
// others: the status reports it with its error and rules, the other dataset is computed and enforced.
TEST_F(RetentionTest, ADatasetThatCannotBeComputedFailsAlone) {
  store::IngestRequest req;
  req.dataset = "archive";
  req.subject_column = "mrn";
  req.purposes = {"care"};
  req.source = {"", "archive.csv", std::string(64, '1'), 77, 0, {}};
  ASSERT_TRUE(
      owner_->Ingest(*table::ReadCsvFromString("mrn,closed\nA-1,2020-01-01\nA-2,2020-06-01\n"), req).ok());
  RetentionRule archive;
  archive.dataset = "archive";
  archive.days = 30;
  ASSERT_TRUE(ParseRetentionTrigger("column:closed", &archive).ok());
  ASSERT_TRUE(Retention(*owner_).Set(archive).ok());
  Set(30, "column:visit");  // visits: MRN-1 and MRN-2 due at 2026-04-01
  DamageVault(env_, dir_, "visits");

  env_.SetNow(UtcTime(2026, 4, 2));
  auto status = Retention(*owner_).Status();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->datasets.size(), 2u);
  const DatasetRetention& a = status->datasets[0];
  const DatasetRetention& v = status->datasets[1];
  ASSERT_EQ(a.dataset, "archive");
  EXPECT_TRUE(a.error.ok()) << a.error;
  EXPECT_EQ(a.due, 2);
  ASSERT_EQ(v.dataset, "visits");
  EXPECT_EQ(v.error.code(), absl::StatusCode::kDataLoss) << v.error;
  ASSERT_EQ(v.rules.size(), 1u) << "its rules are still shown";
  EXPECT_EQ(v.due, 0);

  auto run = Retention(*owner_).Enforce(false);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->erased_subjects, 2) << "archive's two subjects";
  EXPECT_EQ(owner_->GetDataset("archive")->subjects, 0);
  EXPECT_EQ(owner_->GetDataset("visits")->subjects, 3) << "nothing erased where the status failed";
  EXPECT_THAT(Entries().back().reason, HasSubstr("1 dataset(s) whose status could not be computed"));
}

TEST_F(RetentionTest, BadInputChangesNothing) {
  const size_t entries = Entries().size();
  Retention retention(*owner_);
  RetentionRule r = Rule(30, "ingest");
  r.dataset = "nosuch";
  EXPECT_EQ(retention.Set(r).status().code(), absl::StatusCode::kNotFound);
  for (int64_t days : {int64_t{0}, int64_t{-3}, kMaxRetentionDays + 1}) {
    auto s = retention.Set(Rule(days, "ingest"));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << days;
    EXPECT_THAT(s.status().message(), HasSubstr("must be 1 to 36500 days"));
  }
  auto column = retention.Set(Rule(30, "column:nosuch"));
  EXPECT_THAT(column.status().message(), HasSubstr("has no column \"nosuch\""));
  auto text = retention.Set(Rule(30, "column:name"));
  EXPECT_THAT(text.status().message(), HasSubstr("is string, not a date or timestamp"));
  auto category = retention.Set(Rule(30, "ingest", "user.health"));
  EXPECT_THAT(category.status().message(), HasSubstr("holds no column of category user.health"));
  auto unknown = retention.Set(Rule(30, "ingest", "user.astrology"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("not a data category of the taxonomy"));
  RetentionRule activity;
  const absl::Status trigger = ParseRetentionTrigger("last_activity", &activity);
  EXPECT_EQ(trigger.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trigger.message(), HasSubstr("for last activity, the column that records it"));
  EXPECT_EQ(retention.Hold("nosuch", std::nullopt, "x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Entries().size(), entries) << "nothing recorded";
  auto status = retention.Status();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->datasets.empty());
}

// Owners set and enforce; auditors read the status; analysts do neither (refusals audited).
TEST_F(RetentionTest, RolesAreEnforced) {
  Set(30, "ingest");
  ASSERT_TRUE(owner_->Grant("alex", Role::kAnalyst).ok());
  ASSERT_TRUE(owner_->Grant("ines", Role::kAuditor).ok());
  owner_.reset();
  {
    auto alex = Session::Open(env_, dir_, "alex", std::nullopt);
    ASSERT_TRUE(alex.ok());
    Retention r(**alex);
    EXPECT_EQ(r.Set(Rule(5, "ingest")).status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(r.Status().status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(r.Enforce(false).status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(r.Hold("visits", std::nullopt, "x").status().code(), absl::StatusCode::kPermissionDenied);
  }
  auto ines = Session::Open(env_, dir_, "ines", std::nullopt);
  ASSERT_TRUE(ines.ok());
  Retention r(**ines);
  auto status = r.Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->datasets[0].subjects, 3);
  EXPECT_EQ(r.Enforce(true).status().code(), absl::StatusCode::kPermissionDenied);
  auto log = (*ines)->AuditLogFor(Operation::kAuditRead);
  ASSERT_TRUE(log.ok());
  auto entries = (*log)->ReadEntries(0);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> refused;
  for (const audit::AuditEntry& e : *entries) {
    if (e.decision == audit::Decision::kDenied) refused.push_back(e.action);
  }
  // The retention operations of the gate, each refusal under its own name.
  EXPECT_EQ(refused, (std::vector<std::string>{"retention.set", "retention.read", "retention.enforce",
                                               "retention.hold", "retention.enforce"}));
}

}  // namespace
}  // namespace retention_test
}  // namespace veil::gov
