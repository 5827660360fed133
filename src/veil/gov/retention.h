// Retention (issue 11, item 3; GDPR Art. 5(1)(e), storage limitation, and Art. 17(1)(a)).
//
// Rules. A dataset (or one data category of it, as the data map annotates its columns: catalog.h) is kept
// for a number of days from a trigger:
//   ingest       when the subject's rows last arrived in the dataset (store: subject.ingested_ns);
//   column:NAME  the latest value of a date or timestamp column among the subject's rows (a visit date, the
//                end of a contract).
// "Last activity" is not a trigger of its own: the workspace records no activity of a subject (logins,
// purchases) beyond the data it holds; the last time it received rows about them is `ingest`, and an
// activity date kept in the data is `column:NAME` (e.g. column:last_visit).
//
// The unit of erasure. The vault seals each subject's rows in a dataset as one record under one data key, and
// erasure destroys that key (crypto-shredding, store::Workspace::Erase): no single column or row of a record
// can be shredded. So a subject's record in a dataset is due at the earliest time any rule that applies to
// it falls due (a category rule applies when the dataset holds a column of that category or below it), and
// under a column rule only once its newest date is past the period: a rule never erases data still within
// its period, and a record is never kept past the shortest period of what it holds. Split a dataset whose
// columns need different periods.
//
// Enforcement. Enforce erases every due record that no legal hold covers (a hold covers a dataset, or one
// subject in it; it suspends erasure by retention until released) through the same code path as `veil
// erase` (store::Workspace::EraseSubjects, the batch form of Workspace::Erase: records removed from the vault
// files, each rewritten once per dataset, and data keys destroyed; a dataset's erasures commit together). A
// run is one audit entry (action "retention.enforce"), written before the first erasure commits, with the
// counts and the SHA-256 of the erased pseudonyms' list, never a pseudonym; it is idempotent: an erased
// subject leaves the catalog, so a second run finds nothing due and says so (its entry counts zero). A run
// cut short (a crash, a full disk) is finished by the next one.
//
// The gate (gate.h): setting or removing a rule is "retention.set", placing or releasing a legal hold
// "retention.hold", enforcement "retention.enforce" (all owner, audited; a refusal is audited too); reading
// the status is "retention.read" (owner, auditor: it counts subjects by due date, facts derived from the
// data, never a record; not audited when allowed).
//
// Thread safety: as the Session (not thread-safe).
#ifndef VEIL_GOV_RETENTION_H_
#define VEIL_GOV_RETENTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/gov/session.h"
#include "veil/store/sqlite.h"
#include "veil/store/workspace.h"

namespace veil::gov {

enum class RetentionTrigger { kIngest, kColumn };

// The longest period a rule may set: 100 years.
inline constexpr int64_t kMaxRetentionDays = 36500;

struct RetentionRule {
  std::string dataset;
  std::string category;  // a data category of the taxonomy; "" = the whole dataset
  int64_t days = 0;      // 1 to kMaxRetentionDays
  RetentionTrigger trigger = RetentionTrigger::kIngest;
  std::string column;  // kColumn: a date or timestamp column of the dataset
  std::string set_by;
  absl::Time set_at;
};
// "ingest" or "column:NAME".
std::string RetentionTriggerText(const RetentionRule& rule);
// Parses "ingest" or "column:NAME" into rule->trigger and rule->column. Errors: InvalidArgument.
absl::Status ParseRetentionTrigger(std::string_view text, RetentionRule* rule);
nlohmann::ordered_json RetentionRuleToJson(const RetentionRule& r);

struct LegalHold {
  int64_t id = 0;
  std::string dataset;
  std::string pseudonym;  // "" = every subject of the dataset
  std::string reason;     // a short code (consent.h's ValidateToken), e.g. litigation-2026-04
  std::string placed_by;
  absl::Time placed_at;
};
nlohmann::ordered_json LegalHoldToJson(const LegalHold& h);

// What workspace.db holds, read without the gate (for callers that went through it, like veil dsr):
// the rules of `dataset` (every dataset if nullopt), in dataset and category order; the legal holds in force
// on `dataset` (every dataset if nullopt), in dataset order, oldest first. Each is one query. Errors:
// DataLoss for a damaged row; SQLite errors.
absl::StatusOr<std::vector<RetentionRule>> LoadRetentionRules(store::Database& db,
                                                              std::optional<std::string_view> dataset);
absl::StatusOr<std::vector<LegalHold>> LoadLegalHolds(store::Database& db,
                                                      std::optional<std::string_view> dataset);

// One dataset's retention at a time.
struct DatasetRetention {
  std::string dataset;
  std::vector<RetentionRule> rules;  // category order ("" first)
  std::vector<std::string> notes;    // in words: rules that apply to nothing now, subjects without a date
  std::vector<LegalHold> holds;      // in force
  int64_t subjects = 0;
  int64_t due = 0;      // due and not held: what enforcement erases
  int64_t held = 0;     // due but under a legal hold
  int64_t undated = 0;  // no date under any rule that applies (column rules whose column is null)
  std::optional<absl::Time> next_due;  // the earliest due time after now
  // Due dates after now (UTC day, subjects), earliest first, at most kUpcomingDays of them.
  static constexpr size_t kUpcomingDays = 12;
  std::vector<std::pair<absl::CivilDay, int64_t>> upcoming;
  std::vector<std::string> due_pseudonyms;  // sorted; what enforcement erases (never printed or audited)
  // Not OK: what is due could not be computed for this dataset (a column rule reads its dates from the
  // vault, and a vault file failed its check); the counts are then 0, and enforcement erases nothing here.
  // One dataset's failure never stops the others' status or enforcement.
  absl::Status error;
};

struct RetentionStatus {
  absl::Time now;
  std::vector<DatasetRetention> datasets;  // the datasets that have rules, name order
};

struct EnforceResult {
  RetentionStatus status;  // as computed before the run
  bool dry_run = false;
  int64_t erased_subjects = 0;  // subject records erased (a subject in two datasets counts twice)
  int64_t erased_rows = 0;
  int64_t keys_destroyed = 0;
  int64_t held = 0;
  std::optional<uint64_t> audit_seq;  // the run's entry (none for a dry run)
};

// The gated, audited retention operations of a session (see the file comment for the roles).
class Retention {
 public:
  explicit Retention(Session& session) : session_(session) {}

  // Sets (or replaces) the rule of (rule.dataset, rule.category). Errors: PermissionDenied (audited);
  // InvalidArgument for an unknown or attached dataset, a period outside 1 to kMaxRetentionDays days, a
  // category outside the taxonomy or that the dataset does not hold, a trigger column the dataset does not
  // have or that is not a date or timestamp. Nothing changes on error.
  absl::StatusOr<RetentionRule> Set(RetentionRule rule);
  // Removes the rule of (dataset, category). Errors: as Set; NotFound if there is none.
  absl::Status Remove(std::string_view dataset, std::string_view category);

  // Places a legal hold on a dataset or on one subject in it (by id, pseudonymised at once). Errors:
  // PermissionDenied (audited); InvalidArgument (unknown dataset, bad reason code); AlreadyExists if the
  // same hold is in force.
  absl::StatusOr<LegalHold> Hold(std::string_view dataset, std::optional<std::string_view> subject_id,
                                 std::string_view reason);
  // Releases the matching hold in force; returns how many were released. Errors: as Hold; NotFound.
  absl::StatusOr<int64_t> Release(std::string_view dataset, std::optional<std::string_view> subject_id);

  // What is due when, at the session's clock, per dataset: a dataset whose status cannot be computed (the
  // vault's DataLoss when a column rule reads it) says so in its DatasetRetention::error, with its rules and
  // holds, and the others are computed. Errors: PermissionDenied (audited); workspace.db's.
  absl::StatusOr<RetentionStatus> Status();
  // The same for one dataset (with or without rules: without, nothing is due and only its holds and
  // subjects are given). `read`: the dataset's rows as the caller already read them (Workspace::Read, every
  // record, or the error that read returned), from which a column rule takes its dates instead of reading
  // the vault again (the DPIA reads it once); nullptr reads them when a column rule needs them. Errors: as
  // Status; NotFound for an unknown dataset (`read`'s error, when a column rule needs the rows, is the
  // result's DatasetRetention::error).
  absl::StatusOr<DatasetRetention> StatusOf(std::string_view dataset,
                                            const absl::StatusOr<store::DatasetContents>* read = nullptr);
  // Erases what is due (dry_run: only computes it), in every dataset whose status could be computed (the
  // others are in the result with their error, and nothing of theirs is erased). Errors: PermissionDenied
  // (audited); the audit log's (nothing erased); an erasure's, after the run's entry, saying how far it got
  // (run it again to finish).
  absl::StatusOr<EnforceResult> Enforce(bool dry_run);

 private:
  absl::StatusOr<RetentionStatus> Compute(absl::Time now);

  Session& session_;
};

}  // namespace veil::gov

#endif  // VEIL_GOV_RETENTION_H_
