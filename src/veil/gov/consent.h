// Consent, objection and restriction of processing (issue 11, item 2; GDPR Art. 6(1)(a), 7, 18, 21).
//
// Consent records. Each (subject, purpose) has a versioned history of grants and withdrawals: when the
// subject acted, through which source ("web_form", "paper", "crm"), under which version of the privacy
// notice, and for a time-bound permission, when it expires. Records are recorded one at a time (`veil consent
// grant` / `withdraw`, the same command shape and role: withdrawing is as easy as granting, Art. 7(3)) or
// imported in bulk from a CSV or JSON file. The current state of a (subject, purpose) is its latest record by
// the time the subject acted (ties: the later recorded); a record older than the current state joins the
// history without changing the state.
//
// Which consent counts for a purpose. A record for purpose Q speaks for every purpose at or below Q in the
// dotted hierarchy; for an operation's purpose P, the most specific key at or above P that has a record for
// the subject decides: granted and unexpired means consented; withdrawn, expired or no record at all means
// not consented. ("research" granted and "research.cohort" withdrawn: consented for "research.genetics", not
// for "research.cohort".)
//
// Objection (Art. 21) and restriction (Art. 18). An objection names a purpose (and everything below it) or
// every purpose, and a dataset or every dataset; a restriction names a dataset or every dataset and stops
// every use of the subject's data there (storage aside) until lifted.
//
// The gate. ComputeSubjectFilter computes, for an operation on a dataset for a purpose, whose rows it may
// use: where the purpose's declaration (catalog.h) has consent as its legal basis (or explicit consent as its
// Art. 9 condition), only subjects who consented; and never subjects who objected to the purpose or are
// restricted. gov::Session applies it where the rows are read, so every operation gets it. It reads each
// purpose key's consent states from one packed row that the triggers drop on any change (consent.cc).
//
// Nothing here holds a subject id: subjects are the workspace's keyed pseudonyms, computed at once from the
// id a command was given. Sources, notice versions and reasons are short tokens ([A-Za-z0-9_.:/@+-], at most
// 64 bytes), not free text, so that no personal data slips into them. Every change is audited, naming the
// subject's pseudonym.
//
// Thread safety: as the Session (not thread-safe).
#ifndef VEIL_GOV_CONSENT_H_
#define VEIL_GOV_CONSENT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/base/hex.h"
#include "veil/gov/session.h"
#include "veil/store/workspace.h"

namespace veil::gov {

enum class ConsentState { kGranted, kWithdrawn };
const char* ConsentStateName(ConsentState s);  // "granted", "withdrawn"

// Tokens for sources, notice versions and reasons: 1 to 64 bytes of [A-Za-z0-9_.:/@+-].
absl::Status ValidateToken(std::string_view what, std::string_view token);

// One consent record as given (by command or import). Exactly one of subject_id and pseudonym is set: a
// command gets the id and pseudonymises it at once.
struct ConsentInput {
  std::string subject_id;
  std::string pseudonym;
  std::string purpose;
  ConsentState state = ConsentState::kGranted;
  absl::Time at;  // when the subject granted or withdrew
  std::string source;
  std::string notice_version;
  std::optional<absl::Time> expires;  // a grant's end (must be after `at`); never for a withdrawal
};

// A record as stored.
struct ConsentRecord {
  std::string pseudonym;
  std::string purpose;
  int64_t version = 0;  // 1, 2, ... per (subject, purpose)
  ConsentState state = ConsentState::kGranted;
  absl::Time at;
  std::string source;
  std::string notice_version;
  std::optional<absl::Time> expires;
  std::string recorded_by;
  absl::Time recorded_at;
  bool current = false;  // this record is the (subject, purpose)'s current state
};
nlohmann::ordered_json ConsentRecordToJson(const ConsentRecord& r);

enum class RestrictionKind { kObjection, kRestriction };
const char* RestrictionKindName(RestrictionKind k);  // "objection", "restriction"

struct SubjectRestriction {
  int64_t id = 0;
  std::string pseudonym;
  RestrictionKind kind = RestrictionKind::kObjection;
  std::string purpose;  // "" = every purpose (objections; a restriction is always "")
  std::string dataset;  // "" = every dataset
  std::string reason;
  absl::Time since;
  std::string recorded_by;
  std::optional<absl::Time> lifted;
  std::string lifted_by;
};
nlohmann::ordered_json SubjectRestrictionToJson(const SubjectRestriction& r);

// A set of raw pseudonyms (32 bytes) kept sorted, with a directory on their leading 16 bits: a lookup reads
// one directory entry and searches the few pseudonyms of its bucket (pseudonyms are keyed hashes, so buckets
// are even; a skewed set only costs a longer binary search). Built from a sorted list in one pass, with no
// hashing, which is what the consent gate needs: it builds the set for each operation.
class SortedPseudonymSet {
 public:
  using Pseudonym = std::array<uint8_t, 32>;

  SortedPseudonymSet() = default;
  // Precondition: `sorted` is strictly increasing (memcmp order); checked (InvalidArgument otherwise).
  static absl::StatusOr<SortedPseudonymSet> FromSorted(std::vector<Pseudonym> sorted);

  bool contains(const Pseudonym& p) const;
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  size_t Bucket(const Pseudonym& p) const { return ((size_t{p[0]} << 8) | p[1]) >> shift_; }

  std::vector<Pseudonym> items_;
  int shift_ = 16;                    // bucket = leading 16 bits >> shift_
  std::vector<uint32_t> bucket_end_;  // items_ of bucket b are [bucket_end_[b-1], bucket_end_[b])
};

// Whose rows an operation may use. The sets hold raw pseudonyms (32 bytes, inline): a query asks Keep once
// per record it reads, and hex strings cost a heap string per subject and a pointer chase per lookup.
struct SubjectFilter {
  using Pseudonym = SortedPseudonymSet::Pseudonym;
  using PseudonymSet = absl::flat_hash_set<Pseudonym>;

  // The purpose's basis is consent: only subjects in `consented` are used.
  bool opt_in = false;
  std::string governing_purpose;  // the declaration's purpose when opt_in
  SortedPseudonymSet consented;   // with a current grant
  PseudonymSet excluded;          // objected or restricted; wins over consent

  // True when the filter leaves nobody out.
  bool passes_all() const { return !opt_in && excluded.empty(); }
  // By the pseudonym's 64 hex digits. A malformed pseudonym is in neither set, and not kept.
  bool Consented(std::string_view pseudonym) const {
    Pseudonym raw;
    return base::HexDecode(pseudonym, raw) && consented.contains(raw);
  }
  bool Excluded(std::string_view pseudonym) const {
    Pseudonym raw;
    return base::HexDecode(pseudonym, raw) && excluded.contains(raw);
  }
  bool Keep(std::string_view pseudonym) const {
    Pseudonym raw;
    if (!base::HexDecode(pseudonym, raw)) return false;
    if (opt_in && !consented.contains(raw)) return false;
    return excluded.empty() || !excluded.contains(raw);
  }
};

// The filter for an operation on `dataset` for `purpose` at time `now` (no gate: the Session calls it after
// its gate allowed the operation). Errors: the database's; DataLoss for damaged records.
absl::StatusOr<SubjectFilter> ComputeSubjectFilter(store::Workspace& ws, std::string_view dataset,
                                                   std::string_view purpose, absl::Time now);

// Whether the subject (pseudonym) is left out of `purpose` on `dataset` at `now`, and why ("" if not): for
// one subject, e.g. an automated decision about them. Errors: the database's.
absl::StatusOr<std::string> SubjectExclusion(store::Workspace& ws, std::string_view pseudonym,
                                             std::string_view dataset, std::string_view purpose,
                                             absl::Time now);

// The consent records and restrictions of one subject (no gate; for the reports and subject requests).
absl::StatusOr<std::vector<ConsentRecord>> ConsentHistory(store::Workspace& ws, std::string_view pseudonym);
absl::StatusOr<std::vector<SubjectRestriction>> Restrictions(store::Workspace& ws,
                                                             std::string_view pseudonym);

// Per purpose: subjects with a current grant (unexpired), expired grants, withdrawals.
struct ConsentSummary {
  std::string purpose;
  int64_t granted = 0;
  int64_t expired = 0;
  int64_t withdrawn = 0;
};
absl::StatusOr<std::vector<ConsentSummary>> SummarizeConsent(store::Workspace& ws, absl::Time now);
// Restrictions and objections in force, by kind.
struct RestrictionCounts {
  int64_t objections = 0;
  int64_t restrictions = 0;
};
absl::StatusOr<RestrictionCounts> CountRestrictions(store::Workspace& ws);

// An instant as commands and files give it: RFC 3339 ("2026-03-01T09:30:00Z", "...+02:00") or a date
// ("2026-03-01", midnight UTC). Errors: InvalidArgument.
absl::StatusOr<absl::Time> ParseInstant(std::string_view text);

// Reads consent records from a file: CSV with a header naming the columns subject, purpose, state (granted or
// withdrawn), time, and optionally source, notice_version, expires (times RFC 3339 or YYYY-MM-DD, UTC); or
// JSON, an array of objects with the same keys (or {"records": [...]}). `default_source` fills an empty
// source. Errors: InvalidArgument naming the file, the record (1-based data row) and the field; never a
// subject id.
absl::StatusOr<std::vector<ConsentInput>> ParseConsentFile(std::string_view text, std::string_view name,
                                                           std::string_view default_source);

// What an import did.
struct ImportResult {
  int64_t records = 0;        // in the file
  int64_t subjects = 0;       // distinct subjects
  int64_t state_changes = 0;  // records that became the current state
  std::vector<uint64_t> audit_seqs;
};

// The gated, audited consent operations: owner to record, owner and auditor to read.
class ConsentRegistry {
 public:
  explicit ConsentRegistry(Session& session) : session_(session) {}

  // Records one grant or withdrawal (consent.grant / consent.withdraw; audited under the subject's pseudonym
  // before it commits). Errors: PermissionDenied (audited); InvalidArgument (bad purpose, token, time,
  // expiry).
  absl::StatusOr<ConsentRecord> Record(ConsentInput input);
  // Withdraws every purpose the subject has a current grant for, in one change (consent.withdraw).
  absl::StatusOr<std::vector<ConsentRecord>> WithdrawAll(std::string_view subject_id, std::string_view source,
                                                         absl::Time at);
  // Imports records in one transaction (consent.import): one audit entry per kImportChunk records, naming
  // their subjects; all or nothing. `file_sha256` (hex) identifies the file in the entries.
  static constexpr size_t kImportChunk = 1000;
  absl::StatusOr<ImportResult> Import(std::vector<ConsentInput> records, std::string_view file_sha256);

  // An objection or restriction (objection / restriction; audited).
  absl::StatusOr<SubjectRestriction> Restrict(RestrictionKind kind, std::string_view subject_id,
                                              std::string_view purpose, std::string_view dataset,
                                              std::string_view reason);
  // Lifts the subject's matching objections or restrictions in force (objection.lift / restriction.lift).
  // Errors: NotFound if none matches.
  absl::StatusOr<int64_t> Lift(RestrictionKind kind, std::string_view subject_id, std::string_view purpose,
                               std::string_view dataset);

  // One subject's history and restrictions (consent.read: owner, auditor; not audited, as reading the
  // catalog: pseudonyms only).
  struct SubjectView {
    std::string pseudonym;
    std::vector<ConsentRecord> history;  // purpose, then version order
    std::vector<SubjectRestriction> restrictions;
  };
  absl::StatusOr<SubjectView> Show(std::string_view subject_id);
  absl::StatusOr<std::vector<ConsentSummary>> Summary();

 private:
  Session& session_;
};

}  // namespace veil::gov

#endif  // VEIL_GOV_CONSENT_H_
