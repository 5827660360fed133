#include "veil/gov/consent.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "veil/base/hex.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/catalog.h"
#include "veil/gov/taxonomy.h"
#include "veil/store/sqlite.h"
#include "veil/table/csv_reader.h"
#include "veil/table/types.h"

namespace veil::gov {
namespace {

using base::Rfc3339;

using base::TruncatedToNanos;

// The purpose and every key above it, most specific first: "research.cohort", "research".
std::vector<std::string> CoveringKeys(std::string_view purpose) {
  std::vector<std::string> keys;
  for (std::string_view k = purpose; !k.empty(); k = ParentKey(k)) keys.emplace_back(k);
  return keys;
}

std::optional<absl::Time> OptionalTime(const store::Statement& st, int col) {
  if (st.IsNull(col)) return std::nullopt;
  return absl::FromUnixNanos(st.ColumnInt64(col));
}

absl::Status ValidateInput(const ConsentInput& in) {
  VEIL_RETURN_IF_ERROR(store::ValidatePurpose(in.purpose));
  VEIL_RETURN_IF_ERROR(ValidateTaxonomyKey(in.purpose));
  VEIL_RETURN_IF_ERROR(ValidateToken("the source", in.source));
  if (!in.notice_version.empty())
    VEIL_RETURN_IF_ERROR(ValidateToken("the notice version", in.notice_version));
  if (in.expires.has_value()) {
    if (in.state == ConsentState::kWithdrawn) return absl::InvalidArgumentError("a withdrawal has no expiry");
    if (*in.expires <= in.at)
      return absl::InvalidArgumentError("a consent's expiry must be after the time it was given");
  }
  return absl::OkStatus();
}

// Stores one record (in the caller's transaction) and moves the current state if the record is not older.
class ConsentWriter {
 public:
  static absl::StatusOr<ConsentWriter> Prepare(store::Database& db) {
    ConsentWriter w;
    VEIL_ASSIGN_OR_RETURN(
        store::Statement next_version,
        db.Prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM consent_event WHERE pseudonym = "
                   "?1 AND purpose = ?2"));
    VEIL_ASSIGN_OR_RETURN(
        store::Statement insert_event,
        db.Prepare(
            "INSERT INTO consent_event(pseudonym, purpose, version, state, at_ns, source, notice_version, "
            "expires_ns, recorded_by, recorded_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    VEIL_ASSIGN_OR_RETURN(
        store::Statement current,
        db.Prepare("SELECT at_ns FROM consent_state WHERE purpose = ?1 AND pseudonym = ?2"));
    VEIL_ASSIGN_OR_RETURN(
        store::Statement put_state,
        db.Prepare("INSERT OR REPLACE INTO consent_state(purpose, pseudonym, version, granted, "
                   "at_ns, expires_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    w.next_version_.emplace(std::move(next_version));
    w.insert_event_.emplace(std::move(insert_event));
    w.current_.emplace(std::move(current));
    w.put_state_.emplace(std::move(put_state));
    return w;
  }

  absl::StatusOr<ConsentRecord> Write(const ConsentInput& in, std::string_view actor, absl::Time now) {
    VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(in.pseudonym));
    ConsentRecord r;
    r.pseudonym = in.pseudonym;
    r.purpose = in.purpose;
    r.state = in.state;
    r.at = TruncatedToNanos(in.at);
    r.source = in.source;
    r.notice_version = in.notice_version;
    if (in.expires) r.expires = TruncatedToNanos(*in.expires);
    r.recorded_by = actor;
    r.recorded_at = TruncatedToNanos(now);
    VEIL_RETURN_IF_ERROR(next_version_->Reset());
    VEIL_RETURN_IF_ERROR(next_version_->BindBlob(1, raw));
    VEIL_RETURN_IF_ERROR(next_version_->Bind(2, r.purpose));
    VEIL_RETURN_IF_ERROR(next_version_->Step().status());
    r.version = next_version_->ColumnInt64(0);
    const int64_t at_ns = absl::ToUnixNanos(r.at);
    store::Statement& ins = *insert_event_;
    VEIL_RETURN_IF_ERROR(ins.Reset());
    VEIL_RETURN_IF_ERROR(ins.BindBlob(1, raw));
    VEIL_RETURN_IF_ERROR(ins.Bind(2, r.purpose));
    VEIL_RETURN_IF_ERROR(ins.Bind(3, r.version));
    VEIL_RETURN_IF_ERROR(ins.Bind(4, ConsentStateName(r.state)));
    VEIL_RETURN_IF_ERROR(ins.Bind(5, at_ns));
    VEIL_RETURN_IF_ERROR(ins.Bind(6, r.source));
    VEIL_RETURN_IF_ERROR(ins.Bind(7, r.notice_version));
    VEIL_RETURN_IF_ERROR(r.expires ? ins.Bind(8, absl::ToUnixNanos(*r.expires)) : ins.BindNull(8));
    VEIL_RETURN_IF_ERROR(ins.Bind(9, r.recorded_by));
    VEIL_RETURN_IF_ERROR(ins.Bind(10, absl::ToUnixNanos(r.recorded_at)));
    VEIL_RETURN_IF_ERROR(ins.Run());
    VEIL_RETURN_IF_ERROR(current_->Reset());
    VEIL_RETURN_IF_ERROR(current_->Bind(1, r.purpose));
    VEIL_RETURN_IF_ERROR(current_->BindBlob(2, raw));
    VEIL_ASSIGN_OR_RETURN(const bool has_state, current_->Step());
    r.current = !has_state || at_ns >= current_->ColumnInt64(0);
    if (r.current) {
      store::Statement& put = *put_state_;
      VEIL_RETURN_IF_ERROR(put.Reset());
      VEIL_RETURN_IF_ERROR(put.Bind(1, r.purpose));
      VEIL_RETURN_IF_ERROR(put.BindBlob(2, raw));
      VEIL_RETURN_IF_ERROR(put.Bind(3, r.version));
      VEIL_RETURN_IF_ERROR(put.Bind(4, int64_t{r.state == ConsentState::kGranted ? 1 : 0}));
      VEIL_RETURN_IF_ERROR(put.Bind(5, at_ns));
      VEIL_RETURN_IF_ERROR(r.expires ? put.Bind(6, absl::ToUnixNanos(*r.expires)) : put.BindNull(6));
      VEIL_RETURN_IF_ERROR(put.Run());
    }
    return r;
  }

 private:
  ConsentWriter() = default;
  // All prepared by Prepare.
  std::optional<store::Statement> next_version_, insert_event_, current_, put_state_;
};

nlohmann::ordered_json CanonicalRecord(const ConsentRecord& r) {
  return {
      {"subject", r.pseudonym},
      {"purpose", r.purpose},
      {"version", r.version},
      {"state", ConsentStateName(r.state)},
      {"at", Rfc3339(r.at)},
      {"source", r.source},
      {"notice_version", r.notice_version},
      {"expires", r.expires ? nlohmann::ordered_json(Rfc3339(*r.expires)) : nlohmann::ordered_json(nullptr)}};
}

}  // namespace

const char* ConsentStateName(ConsentState s) { return s == ConsentState::kGranted ? "granted" : "withdrawn"; }

const char* RestrictionKindName(RestrictionKind k) {
  return k == RestrictionKind::kObjection ? "objection" : "restriction";
}

absl::Status ValidateToken(std::string_view what, std::string_view token) {
  if (token.empty() || token.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " must have 1 to 64 characters"));
  }
  for (char c : token) {
    if (!absl::ascii_isalnum(c) && std::string_view("_.:/@+-").find(c) == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what),
                       " is a short code of letters, digits and _.:/@+- (e.g. web_form, notice-v3), not free "
                       "text"));
    }
  }
  return absl::OkStatus();
}

nlohmann::ordered_json ConsentRecordToJson(const ConsentRecord& r) {
  nlohmann::ordered_json j = CanonicalRecord(r);
  j["recorded_by"] = r.recorded_by;
  j["recorded_at"] = Rfc3339(r.recorded_at);
  j["current"] = r.current;
  return j;
}

nlohmann::ordered_json SubjectRestrictionToJson(const SubjectRestriction& r) {
  return {
      {"id", r.id},
      {"subject", r.pseudonym},
      {"kind", RestrictionKindName(r.kind)},
      {"purpose", r.purpose.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.purpose)},
      {"dataset", r.dataset.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.dataset)},
      {"reason", r.reason},
      {"since", Rfc3339(r.since)},
      {"recorded_by", r.recorded_by},
      {"lifted", r.lifted ? nlohmann::ordered_json(Rfc3339(*r.lifted)) : nlohmann::ordered_json(nullptr)},
      {"lifted_by", r.lifted ? nlohmann::ordered_json(r.lifted_by) : nlohmann::ordered_json(nullptr)}};
}

// --- The gate's view ---

absl::StatusOr<SortedPseudonymSet> SortedPseudonymSet::FromSorted(std::vector<Pseudonym> sorted) {
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (!(sorted[i - 1] < sorted[i]))
      return absl::InvalidArgumentError("pseudonyms are not strictly increasing");
  }
  if (sorted.size() > std::numeric_limits<uint32_t>::max())
    return absl::InvalidArgumentError("too many pseudonyms for one set");
  SortedPseudonymSet set;
  // About one pseudonym per bucket, at most 2^16 buckets (256 KiB of directory).
  const int bits = std::clamp(static_cast<int>(std::bit_width(sorted.size())) - 1, 0, 16);
  set.shift_ = 16 - bits;
  set.bucket_end_.assign(size_t{1} << bits, 0);
  for (const Pseudonym& p : sorted) ++set.bucket_end_[set.Bucket(p)];
  uint32_t end = 0;
  for (uint32_t& e : set.bucket_end_) e = end += e;
  set.items_ = std::move(sorted);
  return set;
}

bool SortedPseudonymSet::contains(const Pseudonym& p) const {
  if (items_.empty()) return false;
  const size_t b = Bucket(p);
  const auto first = items_.begin() + (b == 0 ? 0 : bucket_end_[b - 1]);
  const auto last = items_.begin() + bucket_end_[b];
  const auto it = std::lower_bound(first, last, p);
  return it != last && *it == p;
}

namespace {

// A pseudonym column's 32 bytes; another length means the table was edited behind the workspace's back.
absl::StatusOr<SubjectFilter::Pseudonym> RawPseudonym(std::span<const uint8_t> blob, const char* table) {
  SubjectFilter::Pseudonym raw;
  if (blob.size() != raw.size()) {
    return absl::DataLossError(
        absl::StrCat("workspace.db: a row of ", table, " has a malformed pseudonym (a damaged database)"));
  }
  std::copy(blob.begin(), blob.end(), raw.begin());
  return raw;
}

absl::StatusOr<int64_t> ConsentStateChanges(store::Database& db) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st, db.Prepare("SELECT n FROM consent_state_changes"));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::DataLossError("workspace.db: consent_state_changes is empty (a damaged database)");
  return st.ColumnInt64(0);
}

// --- The consenting subjects of a purpose ---
//
// consent_state holds each (purpose key, subject)'s current state. For an operation's purpose P, the most
// specific of P's covering keys with a record for a subject decides; the consenting subjects are those whose
// deciding record is a grant not yet expired. Reading 90,000 rows of consent_state costs about 7% of a DP
// query over 1,000,000 rows, so each key's states are also kept packed in consent_packed: one row per key,
// its subjects sorted (32 bytes each) and, in the same order, until when each record counts as consent (8
// bytes each, little-endian: INT64_MIN for a withdrawal, INT64_MAX for a grant without expiry). A packed row
// does not depend on the clock (expiry is compared when it is read), and triggers on consent_state delete a
// key's packed row whenever any of its states changes, in the same transaction. A reader that finds no
// packed row scans consent_state and stores the row, outside any transaction and only if consent_state has
// not changed since it read it (consent_state_changes, read before the scan, is the same in the INSERT
// itself), so a row never stands for states other than the current ones. Keys without records, and keys of
// more than kMaxPackedSubjects subjects, are not packed.

constexpr int64_t kWithdrawnUntil = std::numeric_limits<int64_t>::min();
constexpr int64_t kNoExpiryUntil = std::numeric_limits<int64_t>::max();
constexpr size_t kPseudonymBytes = sizeof(SubjectFilter::Pseudonym);
// A bound on one row's size (160 MB at this many subjects; SQLite's limit on a value is 1 GB).
constexpr size_t kMaxPackedSubjects = 4'000'000;

// One consent key's states in subject order, as bytes in the packed layout: read in place from a packed row
// (`row` keeps the statement, and so the bytes, alive; it is neither stepped nor reset again) or built by
// scanning consent_state (`owned_*`; the spans follow the vectors' buffers when the struct is moved, and the
// statement makes it move-only).
struct KeyStates {
  std::span<const uint8_t> subjects;  // kPseudonymBytes each
  std::span<const uint8_t> until;     // 8 bytes each
  std::optional<store::Statement> row;
  std::vector<uint8_t> owned_subjects, owned_until;

  size_t size() const { return subjects.size() / kPseudonymBytes; }
  const uint8_t* subject(size_t i) const { return subjects.data() + i * kPseudonymBytes; }
  int64_t until_ns(size_t i) const {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = (v << 8) | until[i * 8 + b];
    return static_cast<int64_t>(v);
  }
};

void AppendUntil(std::vector<uint8_t>& out, int64_t until_ns) {
  const auto v = static_cast<uint64_t>(until_ns);
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<uint8_t>(v >> (8 * b)));
}

// Whole records, subjects strictly increasing: the merge below relies on both. `what` names the source.
absl::Status CheckKeyStates(const KeyStates& k, const std::string& key, const char* what) {
  bool ok = k.subjects.size() % kPseudonymBytes == 0 && k.until.size() == k.size() * 8;
  for (size_t i = 1; ok && i < k.size(); ++i)
    ok = std::memcmp(k.subject(i - 1), k.subject(i), kPseudonymBytes) < 0;
  if (ok) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("workspace.db: ", what, " of purpose \"", key, "\" are malformed (a damaged database)"));
}

// The key's packed row, or nullopt if it has none.
absl::StatusOr<std::optional<KeyStates>> ReadPackedKey(store::Database& db, const std::string& key) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("SELECT subjects, until FROM consent_packed WHERE purpose = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, key));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::nullopt;
  KeyStates k;
  k.subjects = st.ColumnBlobView(0);
  k.until = st.ColumnBlobView(1);
  k.row.emplace(std::move(st));
  VEIL_RETURN_IF_ERROR(CheckKeyStates(k, key, "the packed consent states"));
  return k;
}

// The key's states read from consent_state, in the packed layout.
absl::StatusOr<KeyStates> ScanKey(store::Database& db, const std::string& key) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("SELECT pseudonym, granted, expires_ns FROM consent_state WHERE purpose = ?1 "
                 "ORDER BY pseudonym"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, key));
  KeyStates k;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(const SubjectFilter::Pseudonym p,
                          RawPseudonym(st.ColumnBlobView(0), "consent_state"));
    k.owned_subjects.insert(k.owned_subjects.end(), p.begin(), p.end());
    AppendUntil(k.owned_until, st.ColumnInt64(1) == 0 ? kWithdrawnUntil
                               : st.IsNull(2)         ? kNoExpiryUntil
                                                      : st.ColumnInt64(2));
  }
  k.subjects = k.owned_subjects;
  k.until = k.owned_until;
  VEIL_RETURN_IF_ERROR(
      CheckKeyStates(k, key, "the consent states"));  // a pseudonym stored as text sorts first
  return k;
}

// Stores a scanned key's packed row if consent_state is still as it was when `changes` was read. The row
// only saves later readers a scan: this reader has its states already, so it does not wait for another
// connection's write lock, and a row that cannot be stored (locked, disk full, read-only) is left to the
// next reader.
void StorePackedKey(store::Database& db, const std::string& key, const KeyStates& k, int64_t changes) {
  const int wait_ms = db.busy_timeout_ms();
  db.set_busy_timeout_ms(0);
  const absl::Status stored = [&]() -> absl::Status {
    VEIL_ASSIGN_OR_RETURN(store::Statement st,
                          db.Prepare("INSERT OR REPLACE INTO consent_packed (purpose, subjects, until) "
                                     "SELECT ?1, ?2, ?3 WHERE (SELECT n FROM consent_state_changes) = ?4"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, key));
    VEIL_RETURN_IF_ERROR(st.BindBlob(2, k.subjects));
    VEIL_RETURN_IF_ERROR(st.BindBlob(3, k.until));
    VEIL_RETURN_IF_ERROR(st.Bind(4, changes));
    return st.Run();
  }();
  db.set_busy_timeout_ms(wait_ms);
  (void)stored;  // see above: not storing it costs the next reader a scan, nothing else
}

// The subjects with a current grant for `purpose` at `now_ns`.
absl::StatusOr<SortedPseudonymSet> LoadConsented(store::Database& db, std::string_view purpose,
                                                 int64_t now_ns) {
  const std::vector<std::string> keys = CoveringKeys(purpose);  // most specific first
  std::vector<KeyStates> states;
  states.reserve(keys.size());
  for (const std::string& key : keys) {
    VEIL_ASSIGN_OR_RETURN(std::optional<KeyStates> packed, ReadPackedKey(db, key));
    if (packed.has_value()) {
      states.push_back(std::move(*packed));
      continue;
    }
    // Inside a transaction the states read may yet be rolled back: nothing is stored then. The counter is
    // read before the scan (see StorePackedKey); an empty key costs one probe to scan and is not stored.
    const bool store = !db.InTransaction();
    int64_t changes = 0;
    if (store) {
      VEIL_ASSIGN_OR_RETURN(changes, ConsentStateChanges(db));
    }
    VEIL_ASSIGN_OR_RETURN(KeyStates scanned, ScanKey(db, key));
    if (store && scanned.size() > 0 && scanned.size() <= kMaxPackedSubjects)
      StorePackedKey(db, key, scanned, changes);
    states.push_back(std::move(scanned));
  }
  // Merge the keys' sorted subjects; for each subject the first key (the most specific) holding it decides.
  std::vector<SubjectFilter::Pseudonym> consented;
  std::vector<size_t> pos(states.size(), 0);
  while (true) {
    int best = -1;
    for (size_t i = 0; i < states.size(); ++i) {
      if (pos[i] == states[i].size()) continue;
      if (best < 0 ||
          std::memcmp(states[i].subject(pos[i]), states[best].subject(pos[best]), kPseudonymBytes) < 0)
        best = static_cast<int>(i);
    }
    if (best < 0) break;
    const uint8_t* subject = states[best].subject(pos[best]);
    const int64_t until_ns = states[best].until_ns(pos[best]);
    if (until_ns == kNoExpiryUntil || until_ns > now_ns) {
      consented.emplace_back();
      std::memcpy(consented.back().data(), subject, kPseudonymBytes);
    }
    for (size_t i = best + 1; i < states.size(); ++i) {
      if (pos[i] < states[i].size() && std::memcmp(states[i].subject(pos[i]), subject, kPseudonymBytes) == 0)
        ++pos[i];
    }
    ++pos[best];
  }
  // Sorted by construction from sorted keys (CheckKeyStates); FromSorted checks it once more.
  return SortedPseudonymSet::FromSorted(std::move(consented));
}

}  // namespace

absl::StatusOr<SubjectFilter> ComputeSubjectFilter(store::Workspace& ws, std::string_view dataset,
                                                   std::string_view purpose, absl::Time now) {
  SubjectFilter f;
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(std::optional<Declaration> decl, DeclarationFor(ws, dataset, purpose));
  const int64_t now_ns = absl::ToUnixNanos(now);
  if (decl.has_value() && NeedsConsent(*decl)) {
    f.opt_in = true;
    f.governing_purpose = decl->purpose;
    VEIL_ASSIGN_OR_RETURN(f.consented, LoadConsented(db, purpose, now_ns));
  }
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("SELECT pseudonym, kind, purpose, dataset FROM subject_restriction WHERE "
                                   "lifted_ns IS NULL"));
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const std::string kind = st.ColumnText(1), scope = st.ColumnText(2), where = st.ColumnText(3);
    if (!where.empty() && where != dataset) continue;
    if (kind == "objection" && !scope.empty() && !KeyCovers(scope, purpose)) continue;
    VEIL_ASSIGN_OR_RETURN(const SubjectFilter::Pseudonym p,
                          RawPseudonym(st.ColumnBlobView(0), "subject_restriction"));
    f.excluded.insert(p);
  }
  return f;
}

absl::StatusOr<std::string> SubjectExclusion(store::Workspace& ws, std::string_view pseudonym,
                                             std::string_view dataset, std::string_view purpose,
                                             absl::Time now) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  store::Database& db = ws.metadata();
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("SELECT kind, purpose, dataset FROM subject_restriction WHERE pseudonym = ?1 "
                   "AND lifted_ns IS NULL ORDER BY id"));
    VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const std::string kind = st.ColumnText(0), scope = st.ColumnText(1), where = st.ColumnText(2);
      if (!where.empty() && where != dataset) continue;
      if (kind == "restriction")
        return std::string("the processing of the subject's data is restricted (Art. 18)");
      if (scope.empty() || KeyCovers(scope, purpose))
        return absl::StrCat("the subject objected to ",
                            scope.empty() ? "the processing" : "\"" + scope + "\"", " (Art. 21)");
    }
  }
  VEIL_ASSIGN_OR_RETURN(std::optional<Declaration> decl, DeclarationFor(ws, dataset, purpose));
  if (!decl.has_value() || !NeedsConsent(*decl)) return std::string();
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("SELECT granted, expires_ns FROM consent_state WHERE purpose = ?1 AND "
                                   "pseudonym = ?2"));
  for (const std::string& key : CoveringKeys(purpose)) {
    VEIL_RETURN_IF_ERROR(st.Reset());
    VEIL_RETURN_IF_ERROR(st.Bind(1, key));
    VEIL_RETURN_IF_ERROR(st.BindBlob(2, raw));
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) continue;
    if (st.ColumnInt64(0) == 0) return absl::StrCat("the subject withdrew consent to \"", key, "\"");
    if (!st.IsNull(1) && st.ColumnInt64(1) <= absl::ToUnixNanos(now))
      return absl::StrCat("the subject's consent to \"", key, "\" expired");
    return std::string();
  }
  return absl::StrCat("consent is the legal basis of \"", decl->purpose,
                      "\" and the subject has not consented");
}

absl::StatusOr<std::vector<ConsentRecord>> ConsentHistory(store::Workspace& ws, std::string_view pseudonym) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare(
          "SELECT e.purpose, e.version, e.state, e.at_ns, e.source, e.notice_version, e.expires_ns, "
          "e.recorded_by, e.recorded_ns, s.version FROM consent_event e LEFT JOIN consent_state s ON "
          "s.purpose = e.purpose AND s.pseudonym = e.pseudonym WHERE e.pseudonym = ?1 ORDER BY e.purpose, "
          "e.version"));
  VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
  std::vector<ConsentRecord> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ConsentRecord r;
    r.pseudonym = pseudonym;
    r.purpose = st.ColumnText(0);
    r.version = st.ColumnInt64(1);
    const std::string state = st.ColumnText(2);
    if (state != "granted" && state != "withdrawn")
      return absl::DataLossError("workspace.db: a consent record is damaged");
    r.state = state == "granted" ? ConsentState::kGranted : ConsentState::kWithdrawn;
    r.at = absl::FromUnixNanos(st.ColumnInt64(3));
    r.source = st.ColumnText(4);
    r.notice_version = st.ColumnText(5);
    r.expires = OptionalTime(st, 6);
    r.recorded_by = st.ColumnText(7);
    r.recorded_at = absl::FromUnixNanos(st.ColumnInt64(8));
    r.current = !st.IsNull(9) && st.ColumnInt64(9) == r.version;
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<SubjectRestriction>> Restrictions(store::Workspace& ws,
                                                             std::string_view pseudonym) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare("SELECT id, kind, purpose, dataset, reason, since_ns, recorded_by, "
                            "lifted_ns, lifted_by FROM subject_restriction WHERE pseudonym = ?1 "
                            "ORDER BY id"));
  VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
  std::vector<SubjectRestriction> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    SubjectRestriction r;
    r.id = st.ColumnInt64(0);
    r.pseudonym = pseudonym;
    r.kind = st.ColumnText(1) == "objection" ? RestrictionKind::kObjection : RestrictionKind::kRestriction;
    r.purpose = st.ColumnText(2);
    r.dataset = st.ColumnText(3);
    r.reason = st.ColumnText(4);
    r.since = absl::FromUnixNanos(st.ColumnInt64(5));
    r.recorded_by = st.ColumnText(6);
    r.lifted = OptionalTime(st, 7);
    if (!st.IsNull(8)) r.lifted_by = st.ColumnText(8);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<ConsentSummary>> SummarizeConsent(store::Workspace& ws, absl::Time now) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare(
          "SELECT purpose, SUM(granted = 1 AND (expires_ns IS NULL OR expires_ns > ?1)), "
          "SUM(granted = 1 AND expires_ns IS NOT NULL AND expires_ns <= ?1), SUM(granted = 0) "
          "FROM consent_state GROUP BY purpose ORDER BY purpose"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, absl::ToUnixNanos(now)));
  std::vector<ConsentSummary> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), st.ColumnInt64(1), st.ColumnInt64(2), st.ColumnInt64(3)});
  }
  return out;
}

absl::StatusOr<RestrictionCounts> CountRestrictions(store::Workspace& ws) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      ws.metadata().Prepare("SELECT SUM(kind = 'objection'), SUM(kind = 'restriction') FROM "
                            "subject_restriction WHERE lifted_ns IS NULL"));
  VEIL_RETURN_IF_ERROR(st.Step().status());
  return RestrictionCounts{st.IsNull(0) ? 0 : st.ColumnInt64(0), st.IsNull(1) ? 0 : st.ColumnInt64(1)};
}

// --- Reading a file of records ---

absl::StatusOr<absl::Time> ParseInstant(std::string_view text) {
  const std::optional<table::Timestamp> ts = table::ParseTimestamp(text);
  if (ts.has_value()) return absl::FromUnixMicros(ts->micros);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return t;
  return absl::InvalidArgumentError("not a time (RFC 3339, e.g. 2026-03-01T09:30:00Z, or YYYY-MM-DD)");
}

namespace {

struct FieldGetter {
  // The value of a field, or "" if absent or null.
  std::function<std::string(std::string_view)> get;
};

absl::StatusOr<ConsentInput> ToInput(const FieldGetter& f, std::string_view name, int64_t row,
                                     std::string_view default_source) {
  const auto bad = [&](std::string_view field, const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(name), ": record ", row, ", field \"", std::string(field), "\": ", why));
  };
  ConsentInput in;
  in.subject_id = f.get("subject");
  if (in.subject_id.empty()) return bad("subject", "missing");
  in.purpose = f.get("purpose");
  if (absl::Status s = store::ValidatePurpose(in.purpose); !s.ok())
    return bad("purpose", std::string(s.message()));
  const std::string state = f.get("state");
  if (state == "granted") {
    in.state = ConsentState::kGranted;
  } else if (state == "withdrawn") {
    in.state = ConsentState::kWithdrawn;
  } else {
    return bad("state", "must be granted or withdrawn");
  }
  const std::string time = f.get("time");
  if (time.empty()) return bad("time", "missing");
  absl::StatusOr<absl::Time> at = ParseInstant(time);
  if (!at.ok()) return bad("time", std::string(at.status().message()));
  in.at = *at;
  in.source = f.get("source");
  if (in.source.empty()) in.source = default_source;
  in.notice_version = f.get("notice_version");
  const std::string expires = f.get("expires");
  if (!expires.empty()) {
    absl::StatusOr<absl::Time> e = ParseInstant(expires);
    if (!e.ok()) return bad("expires", std::string(e.status().message()));
    in.expires = *e;
  }
  if (absl::Status s = ValidateInput(in); !s.ok()) return bad("record", std::string(s.message()));
  return in;
}

}  // namespace

absl::StatusOr<std::vector<ConsentInput>> ParseConsentFile(std::string_view text, std::string_view name,
                                                           std::string_view default_source) {
  std::vector<ConsentInput> out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '[' || text[first] == '{')) {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded())
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": not valid JSON"));
    if (doc.is_object() && doc.contains("records")) doc = doc["records"];
    if (!doc.is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(name), ": expected an array of records (or {\"records\": [...]})"));
    }
    int64_t row = 0;
    for (const nlohmann::json& r : doc) {
      ++row;
      if (!r.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(name), ": record ", row, " is not an object"));
      }
      FieldGetter f{[&](std::string_view key) -> std::string {
        auto it = r.find(std::string(key));
        if (it == r.end() || it->is_null()) return "";
        if (it->is_string()) return it->get<std::string>();
        if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
        return "\x01";  // neither text nor an integer: fails the field's check
      }};
      VEIL_ASSIGN_OR_RETURN(ConsentInput in, ToInput(f, name, row, default_source));
      out.push_back(std::move(in));
    }
    return out;
  }
  // CSV: every column is read as text (a subject id "007" stays "007").
  table::CsvReadOptions options;
  options.null_tokens = {""};
  options.num_threads = 1;
  options.column_types = {{"subject", table::DataType::kString}};
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(text, options, std::string(name));
  if (!t.ok()) return t.status();
  for (const char* required : {"subject", "purpose", "state", "time"}) {
    if (!t->schema().FindField(required)) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": no column \"", required,
                                                     "\" (the header needs subject, purpose, state, time; "
                                                     "optionally source, notice_version, expires)"));
    }
  }
  for (int64_t row = 0; row < t->num_rows(); ++row) {
    FieldGetter f{[&](std::string_view key) -> std::string {
      const std::optional<int> col = t->schema().FindField(key);
      if (!col || t->IsNull(row, *col)) return "";
      const table::Column& c = t->column(*col);
      return c.type() == table::DataType::kString ? std::string(c.GetString(row)) : c.FormatValue(row);
    }};
    VEIL_ASSIGN_OR_RETURN(ConsentInput in, ToInput(f, name, row + 1, default_source));
    out.push_back(std::move(in));
  }
  return out;
}

// --- The gated operations ---

absl::StatusOr<ConsentRecord> ConsentRegistry::Record(ConsentInput input) {
  if (!input.subject_id.empty()) input.pseudonym = session_.Pseudonym(input.subject_id);
  input.subject_id.clear();
  VEIL_RETURN_IF_ERROR(ValidateInput(input));
  const Operation op =
      input.state == ConsentState::kGranted ? Operation::kConsentGrant : Operation::kConsentWithdraw;
  nlohmann::ordered_json params = {
      {"subject", input.pseudonym},
      {"purpose", input.purpose},
      {"at", Rfc3339(TruncatedToNanos(input.at))},
      {"source", input.source},
      {"notice_version", input.notice_version},
      {"expires", input.expires ? nlohmann::ordered_json(Rfc3339(TruncatedToNanos(*input.expires)))
                                : nlohmann::ordered_json(nullptr)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(op, "", input.purpose, params));
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(ConsentWriter writer, ConsentWriter::Prepare(db));
  VEIL_ASSIGN_OR_RETURN(ConsentRecord r, writer.Write(input, session_.actor(), ws.env().Now()));
  VEIL_RETURN_IF_ERROR(session_.Record(op, "", input.purpose, decision, params,
                                       crypto::Sha256(CanonicalRecord(r).dump()), {r.pseudonym}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return r;
}

absl::StatusOr<std::vector<ConsentRecord>> ConsentRegistry::WithdrawAll(std::string_view subject_id,
                                                                        std::string_view source,
                                                                        absl::Time at) {
  VEIL_RETURN_IF_ERROR(ValidateToken("the source", source));
  const std::string pseudonym = session_.Pseudonym(subject_id);
  const nlohmann::ordered_json params = {
      {"subject", pseudonym}, {"purpose", "*"}, {"at", Rfc3339(TruncatedToNanos(at))}, {"source", source}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kConsentWithdraw, "", "", params));
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  std::vector<std::string> granted;
  {
    VEIL_ASSIGN_OR_RETURN(store::Statement st,
                          db.Prepare("SELECT purpose FROM consent_state WHERE pseudonym = ?1 AND granted = 1 "
                                     "ORDER BY purpose"));
    VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      granted.push_back(st.ColumnText(0));
    }
  }
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(ConsentWriter writer, ConsentWriter::Prepare(db));
  std::vector<ConsentRecord> out;
  nlohmann::ordered_json result = nlohmann::ordered_json::array();
  for (const std::string& purpose : granted) {
    ConsentInput in;
    in.pseudonym = pseudonym;
    in.purpose = purpose;
    in.state = ConsentState::kWithdrawn;
    in.at = at;
    in.source = source;
    VEIL_ASSIGN_OR_RETURN(ConsentRecord r, writer.Write(in, session_.actor(), ws.env().Now()));
    result.push_back(CanonicalRecord(r));
    out.push_back(std::move(r));
  }
  VEIL_RETURN_IF_ERROR(session_.Record(Operation::kConsentWithdraw, "", "", decision, params,
                                       crypto::Sha256(result.dump()), {pseudonym}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return out;
}

absl::StatusOr<ImportResult> ConsentRegistry::Import(std::vector<ConsentInput> records,
                                                     std::string_view file_sha256) {
  for (ConsentInput& in : records) {
    if (!in.subject_id.empty()) in.pseudonym = session_.Pseudonym(in.subject_id);
    in.subject_id.clear();
    VEIL_RETURN_IF_ERROR(ValidateInput(in));
  }
  const nlohmann::ordered_json params = {{"file_sha256", file_sha256}, {"records", records.size()}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(Operation::kConsentImport, "", "", params));
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  ImportResult result;
  result.records = static_cast<int64_t>(records.size());
  absl::flat_hash_set<std::string> subjects;
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(ConsentWriter writer, ConsentWriter::Prepare(db));
  const absl::Time now = ws.env().Now();
  // Written in pseudonym order: the tables and their indexes are keyed by pseudonym, and inserts in file
  // (random) order cost SQLite a page read and a page write each once they outgrow its cache (90,000
  // records: 7 s). The sort is stable, so a subject's records keep the file's order, which decides their
  // versions and current state. The audit entries still follow the file's order.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return records[a].pseudonym < records[b].pseudonym; });
  std::vector<ConsentRecord> written(records.size());
  for (size_t i : order) {
    VEIL_ASSIGN_OR_RETURN(written[i], writer.Write(records[i], session_.actor(), now));
  }
  for (size_t begin = 0; begin < records.size(); begin += kImportChunk) {
    const size_t end = std::min(records.size(), begin + kImportChunk);
    nlohmann::ordered_json chunk = nlohmann::ordered_json::array();
    std::vector<std::string> pseudonyms;
    for (size_t i = begin; i < end; ++i) {
      const ConsentRecord& r = written[i];
      result.state_changes += r.current ? 1 : 0;
      subjects.insert(r.pseudonym);
      pseudonyms.push_back(r.pseudonym);
      chunk.push_back(CanonicalRecord(r));
    }
    std::sort(pseudonyms.begin(), pseudonyms.end());
    pseudonyms.erase(std::unique(pseudonyms.begin(), pseudonyms.end()), pseudonyms.end());
    nlohmann::ordered_json chunk_params = params;
    chunk_params["first_record"] = begin + 1;
    chunk_params["last_record"] = end;
    chunk_params["records_sha256"] = base::HexEncode(crypto::Sha256(chunk.dump()));
    VEIL_ASSIGN_OR_RETURN(const uint64_t seq,
                          session_.RecordEntry(Operation::kConsentImport, "", "", decision, chunk_params,
                                               crypto::Sha256(chunk.dump()), std::move(pseudonyms)));
    result.audit_seqs.push_back(seq);
  }
  VEIL_RETURN_IF_ERROR(txn.Commit());
  result.subjects = static_cast<int64_t>(subjects.size());
  return result;
}

absl::StatusOr<SubjectRestriction> ConsentRegistry::Restrict(RestrictionKind kind,
                                                             std::string_view subject_id,
                                                             std::string_view purpose,
                                                             std::string_view dataset,
                                                             std::string_view reason) {
  if (kind == RestrictionKind::kRestriction && !purpose.empty())
    return absl::InvalidArgumentError(
        "a restriction of processing covers every purpose; it takes no --purpose");
  if (!purpose.empty()) VEIL_RETURN_IF_ERROR(store::ValidatePurpose(purpose));
  if (!dataset.empty()) VEIL_RETURN_IF_ERROR(store::ValidateDatasetName(dataset));
  VEIL_RETURN_IF_ERROR(ValidateToken("the reason", reason));
  SubjectRestriction r;
  r.pseudonym = session_.Pseudonym(subject_id);
  r.kind = kind;
  r.purpose = purpose;
  r.dataset = dataset;
  r.reason = reason;
  const Operation op = kind == RestrictionKind::kObjection ? Operation::kObjection : Operation::kRestriction;
  const nlohmann::ordered_json params = {
      {"subject", r.pseudonym}, {"purpose", r.purpose}, {"dataset", r.dataset}, {"reason", r.reason}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(op, dataset, purpose, params));
  store::Workspace& ws = session_.workspace();
  if (!dataset.empty()) VEIL_RETURN_IF_ERROR(ws.GetDataset(dataset).status());
  r.since = TruncatedToNanos(ws.env().Now());
  r.recorded_by = session_.actor();
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(r.pseudonym));
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("INSERT INTO subject_restriction(pseudonym, kind, purpose, dataset, reason, "
                 "since_ns, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
  VEIL_RETURN_IF_ERROR(st.Bind(2, RestrictionKindName(kind)));
  VEIL_RETURN_IF_ERROR(st.Bind(3, r.purpose));
  VEIL_RETURN_IF_ERROR(st.Bind(4, r.dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(5, r.reason));
  VEIL_RETURN_IF_ERROR(st.Bind(6, absl::ToUnixNanos(r.since)));
  VEIL_RETURN_IF_ERROR(st.Bind(7, r.recorded_by));
  VEIL_RETURN_IF_ERROR(st.Run());
  r.id = db.last_insert_rowid();
  VEIL_RETURN_IF_ERROR(session_.Record(op, dataset, purpose, decision, params,
                                       crypto::Sha256(SubjectRestrictionToJson(r).dump()), {r.pseudonym}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return r;
}

absl::StatusOr<int64_t> ConsentRegistry::Lift(RestrictionKind kind, std::string_view subject_id,
                                              std::string_view purpose, std::string_view dataset) {
  const std::string pseudonym = session_.Pseudonym(subject_id);
  const Operation op =
      kind == RestrictionKind::kObjection ? Operation::kObjectionLift : Operation::kRestrictionLift;
  const nlohmann::ordered_json params = {{"subject", pseudonym}, {"purpose", purpose}, {"dataset", dataset}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(op, dataset, purpose, params));
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("UPDATE subject_restriction SET lifted_ns = ?5, lifted_by = ?6 WHERE pseudonym = "
                 "?1 AND kind = ?2 AND purpose = ?3 AND dataset = ?4 AND lifted_ns IS NULL"));
  VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
  VEIL_RETURN_IF_ERROR(st.Bind(2, RestrictionKindName(kind)));
  VEIL_RETURN_IF_ERROR(st.Bind(3, purpose));
  VEIL_RETURN_IF_ERROR(st.Bind(4, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(5, absl::ToUnixNanos(ws.env().Now())));
  VEIL_RETURN_IF_ERROR(st.Bind(6, session_.actor()));
  VEIL_RETURN_IF_ERROR(st.Run());
  const int64_t lifted = db.changes();
  if (lifted == 0) {
    return absl::NotFoundError(
        absl::StrCat("the subject has no ", RestrictionKindName(kind), " in force",
                     purpose.empty() ? std::string() : " for \"" + std::string(purpose) + "\"",
                     dataset.empty() ? std::string() : " on \"" + std::string(dataset) + "\""));
  }
  VEIL_RETURN_IF_ERROR(session_.Record(op, dataset, purpose, decision, params, std::nullopt, {pseudonym}));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return lifted;
}

absl::StatusOr<ConsentRegistry::SubjectView> ConsentRegistry::Show(std::string_view subject_id) {
  SubjectView v;
  v.pseudonym = session_.Pseudonym(subject_id);
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kConsentRead, "", "", {{"subject", v.pseudonym}}).status());
  VEIL_ASSIGN_OR_RETURN(v.history, ConsentHistory(session_.workspace(), v.pseudonym));
  VEIL_ASSIGN_OR_RETURN(v.restrictions, Restrictions(session_.workspace(), v.pseudonym));
  return v;
}

absl::StatusOr<std::vector<ConsentSummary>> ConsentRegistry::Summary() {
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kConsentRead, "", "", nlohmann::ordered_json::object()).status());
  return SummarizeConsent(session_.workspace(), session_.workspace().env().Now());
}

}  // namespace veil::gov
