// Subject requests (issue 11, item 4; GDPR Art. 12(3), 15 to 18, 20, 21): a data subject asks what is held
// about them, for a portable copy, to have it corrected or erased, to restrict its processing or to object.
//
// A request is a resumable state machine kept in workspace.db (table dsr_request, one row per request, and
// dsr_step, one row per step taken):
//
//   open ──> received ──verify──> identity_verified ──run──> completed
//               │                      │          │
//               │                      │          └──run──> in_progress ──complete──> completed
//               │                      │                    (erasure, restriction, objection: see below)
//               ├──reject──> rejected <┴──────────────────────┘   (from every open state, with a reason code)
//
//   extend (any open state, once, with a reason): the request is then "extended" (Art. 12(3)): its deadline
//   moves from one month to three months after receipt, and it stays in its state (received,
//   identity_verified or in_progress), continuing from where it was. Extended is shown with the state
//   ("identity_verified, extended") but is not one: the extension reason is the one record of it.
//
// A state changes only together with its audit entry (one transaction), so a run that fails before its
// entry is written (refused, bad input, the audit log or the plan's reads failing) leaves the request as
// it was: it may be run again, or rejected. Access, portability and rectification change nothing outside
// the request's row: their entry and the completion commit together (the document is released after).
// Erasure, restriction and objection change the vault, the key store or the restriction table, each in its
// own commit: their run's entry moves the request to in_progress (step "run") before the first change, and
// a step "complete", with an audit entry of its own naming the run's, closes it after the last. A run stopped
// in between stays in_progress and is run again to finish, which redoes nothing already done: a restriction
// or objection already in force (same kind, purpose, dataset) is not added twice; a dataset already erased no
// longer holds the subject, and what earlier runs of the request erased is kept in its outcome (saved after
// each erasure) and counted in the end. A run that can never finish is rejected instead (Art. 12(4): the
// reason is recorded, for the subject to be told): the request closes with what the stopped run did kept in
// its outcome. CheckDsrStep's table (dsr.cc) is the one place that says which state each step is taken from.
//
// A step that the state does not allow is refused (FailedPrecondition) saying the state and what is allowed.
//
// The deadline (Art. 12(3)): one month from receipt, extendable once by two further months. A month is a
// calendar month in UTC; when the day does not exist in the target month the period ends on its last day
// (31 January + 1 month = 28 or 29 February), as Regulation 1182/71 Art. 3(2)(c) counts periods. A request
// is overdue when it is neither completed nor rejected at its due time. The clock is the session's Env (tests
// freeze it).
//
// The subject is given by their id and pseudonymised at once (Workspace::Pseudonym): the request stores and
// audits the pseudonym only, never the id. Notes and reasons are short codes (consent.h's ValidateToken), not
// free text, so that no personal data slips into them.
//
// What `run` does, by kind:
//   access         (Art. 15) one JSON document: the subject's rows in each vault dataset in scope
//   (decrypted),
//                  each dataset's purposes, processing declarations (legal basis, recipients, transfers,
//                  retention in words), retention rules and legal holds, the subject's consent history and
//                  restrictions, and the automated decisions made about them (the audit log's "decide"
//                  entries naming their pseudonym); the rows also as CSV, one per dataset.
//   portability    (Art. 20) the subject's rows per dataset as JSON and CSV. The workspace does not know
//   which
//                  columns the subject provided and which were derived: the owner checks before sending.
//   rectification  (Art. 16) not applied by Veil: the vault seals each subject's rows as one record, with no
//                  safe in-place update. Correct the source and re-ingest it (veil ingest --mode replace),
//                  then run the request with `rectified` set, which records that it was done that way.
//   erasure        (Art. 17) crypto-shredding through store::Workspace::EraseSubjects. With no legal hold
//                  covering the subject anywhere, a request for every dataset is one erasure across all
//                  datasets, as `veil erase` does, which destroys the subject's data keys wherever they are
//                  (also in a dataset that no longer lists them). Otherwise (or for a request naming one
//                  dataset) each dataset is erased on its own, with its keys; a dataset under a legal hold
//                  (on it, or on this subject in it: retention.h) is kept, with its keys, recorded as the
//                  Art. 17(3)(e) exception (legal claims) with the hold's reason. Attached datasets are
//                  listed as not erased (their rows live in the external database).
//   restriction    (Art. 18) and objection (Art. 21): ConsentRegistry::Restrict (consent.h), after which the
//                  gate leaves the subject out. These need the subject id again at run (it is not stored); it
//                  must match the request's pseudonym.
//
// Auditing and the gate: every step is one audit entry naming the subject's pseudonym (dsr.open, dsr.update
// for verify, reject and extend, dsr.run for each run), written in the transaction that changes the state,
// before it commits and before any change or release it announces; the step "complete" of a two-phase run
// is a dsr.run entry of its own, whose reason names its run's entry. A run of restriction or objection also
// leaves the restriction's own entry. All are owner operations; reading (status, list) is dsr.read, gated,
// not audited when allowed (pseudonyms only).
//
// Thread safety: as the Session (not thread-safe).
#ifndef VEIL_GOV_DSR_H_
#define VEIL_GOV_DSR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/gov/session.h"

namespace veil::gov {

enum class DsrKind { kAccess, kPortability, kRectification, kErasure, kRestriction, kObjection };
// "access", "portability", "rectification", "erasure", "restriction", "objection".
const char* DsrKindName(DsrKind kind);
std::optional<DsrKind> ParseDsrKind(std::string_view name);
// The GDPR article a kind serves, e.g. "Art. 15".
const char* DsrKindArticle(DsrKind kind);

// Where a request is. Extended (Art. 12(3)) is not a state of its own but a fact about the deadline, which
// any open request may carry: DsrRequest::extended(), shown with the state by DsrStateText.
enum class DsrState { kReceived, kIdentityVerified, kInProgress, kCompleted, kRejected };
// "received", "identity_verified", "in_progress", "completed", "rejected".
const char* DsrStateName(DsrState state);

// Art. 12(3): the answer is due one month after receipt, or three once extended.
inline constexpr int kDsrMonths = 1;
inline constexpr int kDsrExtensionMonths = 2;
// `t` plus `months` calendar months in UTC, the day clamped to the target month's last day.
absl::Time AddCalendarMonths(absl::Time t, int months);

struct DsrStep {
  int64_t seq = 0;                       // 1, 2, ... per request
  std::string step;                      // open | verify | run | complete | reject | extend
  DsrState state = DsrState::kReceived;  // after the step
  absl::Time at;
  std::string actor;
  std::string detail;  // in words, no personal data
  std::optional<uint64_t> audit_seq;
};

struct DsrRequest {
  int64_t id = 0;
  DsrKind kind = DsrKind::kAccess;
  std::string pseudonym;  // 64 hex digits
  std::string dataset;    // "" = every dataset
  std::string purpose;    // objection: the purpose objected to; "" = every purpose
  std::string note;       // a short code, e.g. a ticket number; may be empty
  DsrState state = DsrState::kReceived;
  bool verified = false;
  absl::Time received;
  absl::Time due;
  std::optional<std::string> extension_reason;  // set once extended: the one record that it was
  std::optional<std::string> rejection_reason;
  nlohmann::ordered_json outcome = nlohmann::ordered_json::object();  // what the run did (counts, names)
  std::string opened_by;
  std::optional<absl::Time> closed;
  std::vector<DsrStep> steps;

  bool finished() const { return state == DsrState::kCompleted || state == DsrState::kRejected; }
  bool extended() const { return extension_reason.has_value(); }
  bool overdue(absl::Time now) const { return !finished() && now > due; }
};
// The state in words, with the extension: "identity_verified, extended".
std::string DsrStateText(const DsrRequest& r);
// The request as `veil dsr status --json` prints it, with "overdue" at `now`.
nlohmann::ordered_json DsrRequestToJson(const DsrRequest& r, absl::Time now);

// OK if `step` (verify, run, reject, extend) may be taken on `r` now; else FailedPrecondition saying the
// request's state and what it allows.
absl::Status CheckDsrStep(const DsrRequest& r, std::string_view step);

struct DsrOpenRequest {
  DsrKind kind = DsrKind::kAccess;
  std::string subject_id;  // pseudonymised at once
  std::string dataset;     // "" = every dataset
  std::string purpose;     // objection only
  std::string note;
};

struct DsrRunOptions {
  // Restriction and objection: the subject's id again (it is not stored); must match the request.
  std::optional<std::string> subject_id;
  // Rectification: the owner confirms the corrected rows were re-ingested.
  bool rectified = false;
  // The caller's own check of the request (e.g. that it has somewhere to write what the kind releases),
  // called once the run has loaded it and found the step allowed, before anything is recorded or released;
  // an error stops the run there. None: no check.
  std::function<absl::Status(const DsrRequest&)> check;
};

// What a run released: for access and portability, personal data for the owner to send to the subject.
struct DsrRunResult {
  DsrRequest request;    // after the run
  std::string document;  // access, portability: the JSON document; else ""
  // access, portability: (dataset, CSV of the subject's rows), in dataset name order.
  std::vector<std::pair<std::string, std::string>> csv;
  uint64_t audit_seq = 0;
};

// How many subject requests concern a dataset, for reports (counts only: no pseudonym leaves). A request
// concerns the dataset when it names it, or, made for every dataset, when the dataset holds the subject now
// or the request's outcome names it (a dataset it was answered from, erased or kept under a legal hold).
struct DsrCounts {
  int64_t opened = 0;  // every request concerning the dataset
  int64_t open = 0;    // neither completed nor rejected
  int64_t completed = 0;
  int64_t rejected = 0;
  int64_t overdue = 0;   // open and past their due time at `now`
  int64_t extended = 0;  // extended (Art. 12(3)), open or not
};
// Read without the gate, for callers that went through it (report.h's DPIA, report.dpia). Errors: DataLoss
// for a damaged request; SQLite errors.
absl::StatusOr<DsrCounts> CountSubjectRequests(store::Workspace& ws, std::string_view dataset,
                                               absl::Time now);

class SubjectRequests {
 public:
  explicit SubjectRequests(Session& session) : session_(session) {}

  // Records a new request (dsr.open), received now. Errors: InvalidArgument (empty subject, bad note,
  // a purpose for a kind other than objection, a bad purpose, an unknown dataset); PermissionDenied
  // (audited). Nothing is recorded on error.
  absl::StatusOr<DsrRequest> Open(const DsrOpenRequest& request);
  // The steps (dsr.update). Errors: NotFound (no such request); FailedPrecondition (the state does not
  // allow it); InvalidArgument (bad reason code); PermissionDenied (audited).
  absl::StatusOr<DsrRequest> Verify(int64_t id);
  absl::StatusOr<DsrRequest> Reject(int64_t id, std::string_view reason);
  absl::StatusOr<DsrRequest> Extend(int64_t id, std::string_view reason);
  // Carries the request out (dsr.run; see the file comment). Errors: as the steps; InvalidArgument for a
  // missing or mismatched subject id (restriction, objection); FailedPrecondition for a rectification not
  // confirmed; the vault's, the audit log's. A run that fails before its entry leaves the request as it was;
  // one that stops after it (erasure, restriction, objection) leaves it in_progress, and running it again
  // finishes it.
  absl::StatusOr<DsrRunResult> Run(int64_t id, const DsrRunOptions& options);

  // dsr.read. Errors: NotFound; PermissionDenied (audited).
  absl::StatusOr<DsrRequest> Get(int64_t id);
  // Every request, oldest first (only the overdue ones at the session's clock if `overdue_only`).
  absl::StatusOr<std::vector<DsrRequest>> List(bool overdue_only);

 private:
  // Applies a step: checks it, writes the audit entry (with `detail` in its reason) and the new state in one
  // transaction.
  absl::StatusOr<DsrRequest> Step(int64_t id, std::string_view step, std::string_view reason_code);

  Session& session_;
};

}  // namespace veil::gov

#endif  // VEIL_GOV_DSR_H_
