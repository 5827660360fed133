#include "veil/gov/dsr.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "veil/audit/audit_entry.h"
#include "veil/base/hex.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/catalog.h"
#include "veil/gov/consent.h"
#include "veil/gov/retention.h"
#include "veil/store/sqlite.h"
#include "veil/table/csv_writer.h"

namespace veil::gov {
namespace {

using Json = nlohmann::ordered_json;

using base::Rfc3339;

using base::TruncatedToNanos;

constexpr DsrKind kKinds[] = {DsrKind::kAccess,  DsrKind::kPortability, DsrKind::kRectification,
                              DsrKind::kErasure, DsrKind::kRestriction, DsrKind::kObjection};
constexpr DsrState kStates[] = {DsrState::kReceived, DsrState::kIdentityVerified, DsrState::kInProgress,
                                DsrState::kCompleted, DsrState::kRejected};

// Whether a request is extended is its extension reason, not a state. Workspaces written before stored
// "extended" as the state of an extended request (and of its extend step), which continued from where it
// was: read as that state, `before` (the request's verification, or the previous step's state).
constexpr char kLegacyExtended[] = "extended";

std::optional<DsrState> ParseState(std::string_view name, DsrState before) {
  if (name == kLegacyExtended) return before;
  for (DsrState s : kStates) {
    if (name == DsrStateName(s)) return s;
  }
  return std::nullopt;
}

// What is wrong with stored request #id, named so an operator can find and repair the row.
absl::Status Damaged(int64_t id, const std::string& what) {
  return absl::DataLossError(absl::StrCat("workspace.db: subject request #", id, ": ", what));
}

constexpr char kColumns[] =
    "id, kind, pseudonym, dataset, purpose, note, state, verified, received_ns, due_ns, extension_reason, "
    "rejection_reason, outcome, opened_by, closed_ns";

absl::StatusOr<DsrRequest> RowToRequest(store::Statement& st) {
  DsrRequest r;
  r.id = st.ColumnInt64(0);
  const std::string kind_name = st.ColumnText(1);
  const std::optional<DsrKind> kind = ParseDsrKind(kind_name);
  if (!kind) return Damaged(r.id, absl::StrCat("unknown kind \"", kind_name, "\""));
  const std::string state_name = st.ColumnText(6);
  const bool verified = st.ColumnInt64(7) != 0;
  const std::optional<DsrState> state =
      ParseState(state_name, verified ? DsrState::kIdentityVerified : DsrState::kReceived);
  if (!state) return Damaged(r.id, absl::StrCat("unknown state \"", state_name, "\""));
  const std::vector<uint8_t> raw = st.ColumnBlob(2);
  if (raw.size() != 32) return Damaged(r.id, absl::StrCat("pseudonym is ", raw.size(), " bytes, not 32"));
  r.kind = *kind;
  r.pseudonym = base::HexEncode(raw);
  r.dataset = st.ColumnText(3);
  r.purpose = st.ColumnText(4);
  r.note = st.ColumnText(5);
  r.state = *state;
  r.verified = verified;
  r.received = absl::FromUnixNanos(st.ColumnInt64(8));
  r.due = absl::FromUnixNanos(st.ColumnInt64(9));
  if (!st.IsNull(10)) r.extension_reason = st.ColumnText(10);
  if (!st.IsNull(11)) r.rejection_reason = st.ColumnText(11);
  r.outcome = Json::parse(st.ColumnText(12), nullptr, /*allow_exceptions=*/false);
  if (!r.outcome.is_object()) return Damaged(r.id, "outcome is not a JSON object");
  r.opened_by = st.ColumnText(13);
  if (!st.IsNull(14)) r.closed = absl::FromUnixNanos(st.ColumnInt64(14));
  return r;
}

absl::Status LoadSteps(store::Database& db, DsrRequest& r) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("SELECT seq, step, state, at_ns, actor, detail, audit_seq FROM dsr_step "
                                   "WHERE request_id = ?1 ORDER BY seq"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, r.id));
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DsrStep s;
    s.seq = st.ColumnInt64(0);
    s.step = st.ColumnText(1);
    const std::string state_name = st.ColumnText(2);
    const std::optional<DsrState> state =
        ParseState(state_name, r.steps.empty() ? DsrState::kReceived : r.steps.back().state);
    if (!state) return Damaged(r.id, absl::StrCat("step ", s.seq, ": unknown state \"", state_name, "\""));
    s.state = *state;
    s.at = absl::FromUnixNanos(st.ColumnInt64(3));
    s.actor = st.ColumnText(4);
    s.detail = st.ColumnText(5);
    if (!st.IsNull(6)) s.audit_seq = static_cast<uint64_t>(st.ColumnInt64(6));
    r.steps.push_back(std::move(s));
  }
  return absl::OkStatus();
}

absl::StatusOr<DsrRequest> Load(store::Database& db, int64_t id) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare(absl::StrCat("SELECT ", kColumns, " FROM dsr_request WHERE id = ?1")));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no subject request #", id));
  VEIL_ASSIGN_OR_RETURN(DsrRequest r, RowToRequest(st));
  VEIL_RETURN_IF_ERROR(LoadSteps(db, r));
  return r;
}

// Writes the request's mutable fields and appends one step, in the caller's transaction.
absl::Status Save(store::Database& db, const DsrRequest& r, const DsrStep& step) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("UPDATE dsr_request SET state = ?2, verified = ?3, due_ns = ?4, extension_reason = ?5, "
                 "rejection_reason = ?6, outcome = ?7, closed_ns = ?8 WHERE id = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, r.id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, DsrStateName(r.state)));
  VEIL_RETURN_IF_ERROR(st.Bind(3, int64_t{r.verified ? 1 : 0}));
  VEIL_RETURN_IF_ERROR(st.Bind(4, absl::ToUnixNanos(r.due)));
  VEIL_RETURN_IF_ERROR(r.extension_reason ? st.Bind(5, *r.extension_reason) : st.BindNull(5));
  VEIL_RETURN_IF_ERROR(r.rejection_reason ? st.Bind(6, *r.rejection_reason) : st.BindNull(6));
  VEIL_RETURN_IF_ERROR(st.Bind(7, r.outcome.dump()));
  VEIL_RETURN_IF_ERROR(r.closed ? st.Bind(8, absl::ToUnixNanos(*r.closed)) : st.BindNull(8));
  VEIL_RETURN_IF_ERROR(st.Run());
  VEIL_ASSIGN_OR_RETURN(store::Statement ins,
                        db.Prepare("INSERT INTO dsr_step(request_id, seq, step, state, at_ns, actor, detail, "
                                   "audit_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  VEIL_RETURN_IF_ERROR(ins.Bind(1, r.id));
  VEIL_RETURN_IF_ERROR(ins.Bind(2, step.seq));
  VEIL_RETURN_IF_ERROR(ins.Bind(3, step.step));
  VEIL_RETURN_IF_ERROR(ins.Bind(4, DsrStateName(step.state)));
  VEIL_RETURN_IF_ERROR(ins.Bind(5, absl::ToUnixNanos(step.at)));
  VEIL_RETURN_IF_ERROR(ins.Bind(6, step.actor));
  VEIL_RETURN_IF_ERROR(ins.Bind(7, step.detail));
  VEIL_RETURN_IF_ERROR(step.audit_seq ? ins.Bind(8, static_cast<int64_t>(*step.audit_seq)) : ins.BindNull(8));
  return ins.Run();
}

// Records a two-phase run's progress (what it has done so far) while the request stays in_progress, so that
// a run stopped later, and run again, still accounts for it.
absl::Status SaveOutcome(store::Database& db, const DsrRequest& r) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st, db.Prepare("UPDATE dsr_request SET outcome = ?2 WHERE id = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, r.id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, r.outcome.dump()));
  return st.Run();
}

// One step of a request, committed with its audit entry: the one way a request's state changes. `r` is the
// request as the step leaves it (state, reason, due time, outcome already set); the step's audit entry (`op`,
// the gate's `decision` with the request, the step and `detail` appended to its reason, `params`, the
// subject's pseudonym) is written in `txn`, the request and the step are saved in it, and it commits. So the
// state never changes without its entry, and the entry is written before the change commits (a failed
// commit leaves an entry for a step that did not happen, never a step without its entry). On success the
// step is appended to r.steps; returns the entry's number.
absl::StatusOr<uint64_t> CommitStep(Session& session, store::Transaction txn, DsrRequest& r,
                                    std::string_view step, absl::Time at, std::string detail, Operation op,
                                    GateDecision decision, const Json& params,
                                    std::optional<crypto::Sha256Digest> result_hash) {
  store::Database& db = session.workspace().metadata();
  decision.reason += absl::StrCat("; subject request #", r.id, " (", DsrKindName(r.kind), ") ",
                                  std::string(step), ": ", detail);
  DsrStep s;
  s.seq = static_cast<int64_t>(r.steps.size()) + 1;
  s.step = std::string(step);
  s.state = r.state;
  s.at = at;
  s.actor = session.actor();
  s.detail = std::move(detail);
  VEIL_ASSIGN_OR_RETURN(s.audit_seq,
                        session.RecordEntry(op, r.dataset, "", decision, params, result_hash, {r.pseudonym}));
  VEIL_RETURN_IF_ERROR(Save(db, r, s));
  VEIL_RETURN_IF_ERROR(txn.Commit());
  const uint64_t seq = *s.audit_seq;
  r.steps.push_back(std::move(s));
  return seq;
}

// The restriction (or objection) in force that already does what the request asks: same subject, kind,
// purpose and dataset (recorded by an earlier, stopped run of the request, or before it). Lifting one lifts
// every match, so a second would add nothing.
absl::StatusOr<std::optional<SubjectRestriction>> RestrictionInForce(store::Workspace& ws,
                                                                     const DsrRequest& r,
                                                                     RestrictionKind kind) {
  VEIL_ASSIGN_OR_RETURN(const std::vector<SubjectRestriction> all, Restrictions(ws, r.pseudonym));
  for (const SubjectRestriction& x : all) {
    if (x.kind == kind && x.purpose == r.purpose && x.dataset == r.dataset && !x.lifted.has_value()) return x;
  }
  return std::nullopt;
}

Json Params(const DsrRequest& r, std::string_view step) {
  return {{"dsr",
           {{"id", r.id},
            {"step", step},
            {"kind", DsrKindName(r.kind)},
            {"subject", r.pseudonym},
            {"dataset", r.dataset},
            {"purpose", r.purpose}}}};
}

// A cell as JSON: numbers and booleans as such, other types in their text form, null as null.
Json CellJson(const table::Table& t, int64_t row, int col) {
  if (t.IsNull(row, col)) return nullptr;
  const table::Column& c = t.column(col);
  switch (c.type()) {
    case table::DataType::kInt64:
      return c.GetInt64(row);
    case table::DataType::kDouble:
      if (std::isfinite(c.GetDouble(row))) return c.GetDouble(row);
      return t.FormatValue(row, col);
    case table::DataType::kBool:
      return c.GetBool(row);
    default:
      return t.FormatValue(row, col);
  }
}

Json RowsJson(const table::Table& t) {
  Json rows = Json::array();
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    Json row = Json::object();
    for (int c = 0; c < t.num_columns(); ++c) row[t.schema().field(c).name] = CellJson(t, r, c);
    rows.push_back(std::move(row));
  }
  return rows;
}

// A vault dataset in scope that holds the subject, and the subject's rows there.
struct Holding {
  std::string dataset;
  int64_t rows = 0;
};

// The vault datasets in scope that hold the subject, name order.
absl::StatusOr<std::vector<Holding>> DatasetsHolding(store::Database& db, const DsrRequest& r) {
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("SELECT d.name, s.rows FROM subject s JOIN dataset d ON d.id = s.dataset_id "
                 "WHERE s.pseudonym = ?1 AND (?2 = '' OR d.name = ?2) ORDER BY d.name"));
  VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(r.pseudonym));
  VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
  VEIL_RETURN_IF_ERROR(st.Bind(2, r.dataset));
  std::vector<Holding> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), st.ColumnInt64(1)});
  }
  return out;
}

// Attached datasets in scope: their rows live in an external database, which a request must reach there.
absl::StatusOr<std::vector<std::string>> AttachedInScope(store::Workspace& ws, const DsrRequest& r) {
  VEIL_ASSIGN_OR_RETURN(std::vector<store::DatasetInfo> all, ws.ListDatasets());
  std::vector<std::string> out;
  for (const store::DatasetInfo& d : all) {
    if (d.external.has_value() && (r.dataset.empty() || r.dataset == d.name)) out.push_back(d.name);
  }
  return out;
}

// The legal holds in force that cover the subject, in every dataset (on a dataset, or on this subject in
// it): one query, whatever the number of datasets.
absl::StatusOr<std::vector<LegalHold>> HoldsCovering(store::Database& db, std::string_view pseudonym) {
  VEIL_ASSIGN_OR_RETURN(std::vector<LegalHold> holds, LoadLegalHolds(db, std::nullopt));
  std::erase_if(holds, [&](const LegalHold& h) { return !h.pseudonym.empty() && h.pseudonym != pseudonym; });
  return holds;
}

// Those of `holds` in `dataset`, as retention.h writes them (LegalHoldToJson).
Json HoldsIn(const std::vector<LegalHold>& holds, std::string_view dataset) {
  Json out = Json::array();
  for (const LegalHold& h : holds) {
    if (h.dataset == dataset) out.push_back(LegalHoldToJson(h));
  }
  return out;
}

}  // namespace

const char* DsrKindName(DsrKind kind) {
  switch (kind) {
    case DsrKind::kAccess:
      return "access";
    case DsrKind::kPortability:
      return "portability";
    case DsrKind::kRectification:
      return "rectification";
    case DsrKind::kErasure:
      return "erasure";
    case DsrKind::kRestriction:
      return "restriction";
    case DsrKind::kObjection:
      return "objection";
  }
  return "?";
}

std::optional<DsrKind> ParseDsrKind(std::string_view name) {
  for (DsrKind k : kKinds) {
    if (name == DsrKindName(k)) return k;
  }
  return std::nullopt;
}

const char* DsrKindArticle(DsrKind kind) {
  switch (kind) {
    case DsrKind::kAccess:
      return "Art. 15";
    case DsrKind::kPortability:
      return "Art. 20";
    case DsrKind::kRectification:
      return "Art. 16";
    case DsrKind::kErasure:
      return "Art. 17";
    case DsrKind::kRestriction:
      return "Art. 18";
    case DsrKind::kObjection:
      return "Art. 21";
  }
  return "?";
}

const char* DsrStateName(DsrState state) {
  switch (state) {
    case DsrState::kReceived:
      return "received";
    case DsrState::kIdentityVerified:
      return "identity_verified";
    case DsrState::kInProgress:
      return "in_progress";
    case DsrState::kCompleted:
      return "completed";
    case DsrState::kRejected:
      return "rejected";
  }
  return "?";
}

absl::Time AddCalendarMonths(absl::Time t, int months) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);
  const absl::Duration fraction = t - absl::FromCivil(cs, utc);
  const absl::CivilMonth target = absl::CivilMonth(cs) + months;
  const int last_day = (absl::CivilDay(target + 1) - 1).day();
  const absl::CivilSecond out(target.year(), target.month(), std::min(cs.day(), last_day), cs.hour(),
                              cs.minute(), cs.second());
  return absl::FromCivil(out, utc) + fraction;
}

std::string DsrStateText(const DsrRequest& r) {
  return r.extended() ? absl::StrCat(DsrStateName(r.state), ", extended") : DsrStateName(r.state);
}

Json DsrRequestToJson(const DsrRequest& r, absl::Time now) {
  Json steps = Json::array();
  for (const DsrStep& s : r.steps) {
    steps.push_back({{"seq", s.seq},
                     {"step", s.step},
                     {"state", DsrStateName(s.state)},
                     {"at", Rfc3339(s.at)},
                     {"actor", s.actor},
                     {"detail", s.detail},
                     {"audit_seq", s.audit_seq ? Json(*s.audit_seq) : Json(nullptr)}});
  }
  return {{"id", r.id},
          {"kind", DsrKindName(r.kind)},
          {"article", DsrKindArticle(r.kind)},
          {"subject", r.pseudonym},
          {"dataset", r.dataset.empty() ? Json(nullptr) : Json(r.dataset)},
          {"purpose", r.purpose.empty() ? Json(nullptr) : Json(r.purpose)},
          {"note", r.note},
          {"state", DsrStateName(r.state)},
          {"identity_verified", r.verified},
          {"received", Rfc3339(r.received)},
          {"due", Rfc3339(r.due)},
          {"overdue", r.overdue(now)},
          {"extended", r.extended()},
          {"extension_reason", r.extension_reason ? Json(*r.extension_reason) : Json(nullptr)},
          {"rejection_reason", r.rejection_reason ? Json(*r.rejection_reason) : Json(nullptr)},
          {"outcome", r.outcome},
          {"opened_by", r.opened_by},
          {"closed", r.closed ? Json(Rfc3339(*r.closed)) : Json(nullptr)},
          {"steps", steps}};
}

namespace {

// The state machine in one place: the states each step may be taken from. "complete" is the step that closes
// a two-phase run (erasure, restriction, objection) after its changes; the others are the commands'. A closed
// request (completed, rejected) takes no step. Reject is allowed from every open state, in_progress too: a
// run that can never finish (a dataset that cannot be erased, a restriction that cannot be recorded) must
// still be answered, and Art. 12(4) has the controller inform the subject of the reasons for not acting;
// what the stopped run did stays in the request's outcome. Besides its state, a step may need the identity
// verified (run) or not yet (verify), and a deadline is extended at most once (extend; an extension is not a
// state: the request stays where it was, with the longer deadline).
struct StepFrom {
  std::string_view step;
  std::initializer_list<DsrState> from;
};
const StepFrom kStepFrom[] = {
    {"verify", {DsrState::kReceived}},
    {"run", {DsrState::kIdentityVerified, DsrState::kInProgress}},
    {"complete", {DsrState::kInProgress}},
    {"reject", {DsrState::kReceived, DsrState::kIdentityVerified, DsrState::kInProgress}},
    {"extend", {DsrState::kReceived, DsrState::kIdentityVerified, DsrState::kInProgress}},
};

}  // namespace

absl::Status CheckDsrStep(const DsrRequest& r, std::string_view step) {
  const StepFrom* rule = nullptr;
  for (const StepFrom& x : kStepFrom) {
    if (x.step == step) rule = &x;
  }
  if (rule == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("unknown step \"", std::string(step), "\""));
  const auto refuse = [&](std::string_view allowed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subject request #", r.id, " is ", DsrStateName(r.state), r.verified ? " (identity verified)" : "",
        ": cannot ", std::string(step), " it; ", std::string(allowed)));
  };
  if (r.finished()) return refuse("it is closed");
  if (step == "verify" && r.verified) return refuse("the identity is already verified; next: run");
  if (step == "run" && !r.verified) return refuse("verify the requester's identity first (veil dsr verify)");
  if (std::find(rule->from.begin(), rule->from.end(), r.state) == rule->from.end()) {
    std::vector<std::string> names;
    for (DsrState s : rule->from) names.push_back(DsrStateName(s));
    return refuse(absl::StrCat(std::string(step), " is taken from ", absl::StrJoin(names, ", ")));
  }
  if (step == "extend" && r.extended())
    return refuse("the deadline was already extended once, by the two months Art. 12(3) allows");
  return absl::OkStatus();
}

namespace {

// Whether a request's outcome names `dataset` (access, portability: "datasets"; erasure: "to_erase",
// "erased", "kept").
bool OutcomeNames(const Json& outcome, std::string_view dataset) {
  for (const char* key : {"datasets", "to_erase", "erased", "kept"}) {
    if (!outcome.contains(key) || !outcome[key].is_array()) continue;
    for (const Json& x : outcome[key]) {
      const Json& name = x.is_object() && x.contains("dataset") ? x["dataset"] : x;
      if (name.is_string() && name.get<std::string>() == dataset) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<DsrCounts> CountSubjectRequests(store::Workspace& ws, std::string_view dataset,
                                               absl::Time now) {
  store::Database& db = ws.metadata();
  // Whether the dataset holds the subject now: one indexed lookup per request made for every dataset
  // (requests are few; the dataset may hold a million subjects).
  VEIL_ASSIGN_OR_RETURN(store::Statement holds,
                        db.Prepare("SELECT 1 FROM subject s JOIN dataset d ON d.id = s.dataset_id "
                                   "WHERE d.name = ?1 AND s.pseudonym = ?2"));
  VEIL_RETURN_IF_ERROR(holds.Bind(1, dataset));
  const auto held = [&holds](const std::string& pseudonym) -> absl::StatusOr<bool> {
    VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(pseudonym));
    VEIL_RETURN_IF_ERROR(holds.Reset());
    VEIL_RETURN_IF_ERROR(holds.BindBlob(2, raw));
    return holds.Step();
  };
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare(absl::StrCat("SELECT ", kColumns, " FROM dsr_request ORDER BY id")));
  DsrCounts c;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(const DsrRequest r, RowToRequest(st));
    bool concerns = r.dataset == dataset;
    if (r.dataset.empty()) {
      VEIL_ASSIGN_OR_RETURN(concerns, held(r.pseudonym));
      concerns = concerns || OutcomeNames(r.outcome, dataset);
    }
    if (!concerns) continue;
    ++c.opened;
    c.open += !r.finished();
    c.completed += r.state == DsrState::kCompleted;
    c.rejected += r.state == DsrState::kRejected;
    c.overdue += r.overdue(now);
    c.extended += r.extended();
  }
  return c;
}

absl::StatusOr<DsrRequest> SubjectRequests::Open(const DsrOpenRequest& request) {
  if (request.subject_id.empty()) return absl::InvalidArgumentError("the subject id is empty");
  if (request.subject_id.size() > 1024)
    return absl::InvalidArgumentError("the subject id is over 1024 bytes");
  if (!request.note.empty()) VEIL_RETURN_IF_ERROR(ValidateToken("the note", request.note));
  if (!request.purpose.empty()) {
    if (request.kind != DsrKind::kObjection)
      return absl::InvalidArgumentError(
          absl::StrCat("a purpose is given only for an objection, not for ", DsrKindName(request.kind)));
    VEIL_RETURN_IF_ERROR(store::ValidatePurpose(request.purpose));
  }
  store::Workspace& ws = session_.workspace();
  DsrRequest r;
  r.kind = request.kind;
  r.pseudonym = session_.Pseudonym(request.subject_id);
  r.dataset = request.dataset;
  r.purpose = request.purpose;
  r.note = request.note;
  r.received = TruncatedToNanos(ws.env().Now());
  r.due = AddCalendarMonths(r.received, kDsrMonths);
  r.opened_by = session_.actor();
  const Json params = Params(r, "open");
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kDsrOpen, r.dataset, "", params));
  if (!r.dataset.empty()) VEIL_RETURN_IF_ERROR(ws.GetDataset(r.dataset).status());
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  {
    VEIL_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT INTO dsr_request(kind, pseudonym, dataset, purpose, note, state, verified, "
                   "received_ns, due_ns, outcome, opened_by) VALUES (?1, ?2, ?3, ?4, ?5, 'received', 0, ?6, "
                   "?7, '{}', ?8)"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, DsrKindName(r.kind)));
    VEIL_ASSIGN_OR_RETURN(const std::vector<uint8_t> raw, store::PseudonymBytes(r.pseudonym));
    VEIL_RETURN_IF_ERROR(st.BindBlob(2, raw));
    VEIL_RETURN_IF_ERROR(st.Bind(3, r.dataset));
    VEIL_RETURN_IF_ERROR(st.Bind(4, r.purpose));
    VEIL_RETURN_IF_ERROR(st.Bind(5, r.note));
    VEIL_RETURN_IF_ERROR(st.Bind(6, absl::ToUnixNanos(r.received)));
    VEIL_RETURN_IF_ERROR(st.Bind(7, absl::ToUnixNanos(r.due)));
    VEIL_RETURN_IF_ERROR(st.Bind(8, r.opened_by));
    VEIL_RETURN_IF_ERROR(st.Run());
    r.id = db.last_insert_rowid();
  }
  const std::string detail = absl::StrCat(DsrKindName(r.kind), " request (", DsrKindArticle(r.kind),
                                          ") received; due ", Rfc3339(r.due));
  VEIL_RETURN_IF_ERROR(CommitStep(session_, std::move(txn), r, "open", r.received, detail,
                                  Operation::kDsrOpen, std::move(decision), Params(r, "open"), std::nullopt)
                           .status());
  return r;
}

absl::StatusOr<DsrRequest> SubjectRequests::Get(int64_t id) {
  VEIL_RETURN_IF_ERROR(session_.Authorize(Operation::kDsrRead, "", "", {{"dsr", {{"id", id}}}}).status());
  return Load(session_.workspace().metadata(), id);
}

absl::StatusOr<std::vector<DsrRequest>> SubjectRequests::List(bool overdue_only) {
  VEIL_RETURN_IF_ERROR(
      session_.Authorize(Operation::kDsrRead, "", "", {{"dsr", {{"list", true}, {"overdue", overdue_only}}}})
          .status());
  store::Workspace& ws = session_.workspace();
  const absl::Time now = ws.env().Now();
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare(absl::StrCat("SELECT ", kColumns, " FROM dsr_request ORDER BY id")));
  std::vector<DsrRequest> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VEIL_ASSIGN_OR_RETURN(DsrRequest r, RowToRequest(st));
    if (overdue_only && !r.overdue(now)) continue;
    VEIL_RETURN_IF_ERROR(LoadSteps(db, r));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<DsrRequest> SubjectRequests::Verify(int64_t id) { return Step(id, "verify", ""); }

absl::StatusOr<DsrRequest> SubjectRequests::Reject(int64_t id, std::string_view reason) {
  VEIL_RETURN_IF_ERROR(ValidateToken("the reason", reason));
  return Step(id, "reject", reason);
}

absl::StatusOr<DsrRequest> SubjectRequests::Extend(int64_t id, std::string_view reason) {
  VEIL_RETURN_IF_ERROR(ValidateToken("the reason", reason));
  return Step(id, "extend", reason);
}

absl::StatusOr<DsrRequest> SubjectRequests::Step(int64_t id, std::string_view step,
                                                 std::string_view reason_code) {
  const std::string reason(reason_code);
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  const Json gate_params = {{"dsr", {{"id", id}, {"step", step}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session_.Authorize(Operation::kDsrUpdate, "", "", gate_params));
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_ASSIGN_OR_RETURN(DsrRequest r, Load(db, id));
  VEIL_RETURN_IF_ERROR(CheckDsrStep(r, step));
  const absl::Time now = TruncatedToNanos(ws.env().Now());
  std::string detail;
  if (step == "verify") {
    r.verified = true;
    r.state = DsrState::kIdentityVerified;
    detail = "the requester's identity was verified";
  } else if (step == "reject") {
    // A run that had started and cannot finish: what it did stays in the outcome, and the detail says so.
    detail =
        r.state == DsrState::kInProgress
            ? absl::StrCat("rejected after a run had started (what it did is kept in the outcome): ", reason)
            : absl::StrCat("rejected: ", reason);
    r.state = DsrState::kRejected;
    r.rejection_reason = reason;
    r.closed = now;
  } else {  // extend: the request stays in its state, with the longer deadline
    r.extension_reason = reason;
    r.due = AddCalendarMonths(r.received, kDsrMonths + kDsrExtensionMonths);
    detail = absl::StrCat("deadline extended by ", kDsrExtensionMonths, " months (Art. 12(3)) to ",
                          Rfc3339(r.due), ": ", reason);
  }
  Json params = Params(r, step);
  if (!reason.empty()) params["dsr"]["reason"] = reason;
  VEIL_RETURN_IF_ERROR(CommitStep(session_, std::move(txn), r, step, now, std::move(detail),
                                  Operation::kDsrUpdate, std::move(decision), params, std::nullopt)
                           .status());
  return r;
}

absl::StatusOr<DsrRunResult> SubjectRequests::Run(int64_t id, const DsrRunOptions& options) {
  store::Workspace& ws = session_.workspace();
  store::Database& db = ws.metadata();
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session_.Authorize(Operation::kDsrRun, "", "",
                                                                  {{"dsr", {{"id", id}, {"step", "run"}}}}));
  VEIL_ASSIGN_OR_RETURN(DsrRequest r, Load(db, id));
  VEIL_RETURN_IF_ERROR(CheckDsrStep(r, "run"));
  if (options.check) VEIL_RETURN_IF_ERROR(options.check(r));
  const bool needs_id = r.kind == DsrKind::kRestriction || r.kind == DsrKind::kObjection;
  if (needs_id) {
    if (!options.subject_id.has_value())
      return absl::InvalidArgumentError(absl::StrCat("running a ", DsrKindName(r.kind),
                                                     " request needs the subject's id again (--subject): it "
                                                     "is not stored"));
    if (session_.Pseudonym(*options.subject_id) != r.pseudonym)
      return absl::InvalidArgumentError(
          absl::StrCat("the subject id given is not the subject of request #", r.id));
  }
  if (r.kind == DsrKind::kRectification && !options.rectified) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request #", r.id,
        " (rectification): Veil does not rewrite sealed records in place; correct the subject's rows at the "
        "source, re-ingest them (veil ingest --mode replace), then run the request again with --rectified "
        "to record that it was done"));
  }
  const absl::Time now = TruncatedToNanos(ws.env().Now());
  DsrRunResult result;
  Json outcome = Json::object();
  std::string detail;
  std::optional<crypto::Sha256Digest> result_hash;
  VEIL_ASSIGN_OR_RETURN(const std::vector<Holding> holding, DatasetsHolding(db, r));
  std::vector<std::string> holding_names;
  for (const Holding& h : holding) holding_names.push_back(h.dataset);
  VEIL_ASSIGN_OR_RETURN(const std::vector<std::string> attached, AttachedInScope(ws, r));
  const auto keep = [&](std::string_view p) { return p == r.pseudonym; };

  // Erasure: what is erased and what a legal hold keeps, planned before the entry; whether by one erasure
  // across every dataset.
  std::vector<Holding> to_erase;
  bool everywhere = false;
  // Restriction, objection: the one already in force, if any.
  std::optional<SubjectRestriction> in_force;
  // The legal holds covering the subject anywhere: access lists them, erasure keeps what they cover.
  VEIL_ASSIGN_OR_RETURN(const std::vector<LegalHold> holds, HoldsCovering(db, r.pseudonym));
  if (r.kind == DsrKind::kAccess || r.kind == DsrKind::kPortability) {
    std::vector<RetentionRule> rules;
    if (r.kind == DsrKind::kAccess) {
      VEIL_ASSIGN_OR_RETURN(rules, LoadRetentionRules(db, std::nullopt));
    }
    Json datasets = Json::array();
    int64_t rows = 0;
    for (const std::string& name : holding_names) {
      VEIL_ASSIGN_OR_RETURN(store::DatasetContents data, ws.Read(name, keep));
      VEIL_ASSIGN_OR_RETURN(std::string csv, table::WriteCsvToString(data.table));
      result.csv.emplace_back(name, std::move(csv));
      rows += data.table.num_rows();
      Json d = {
          {"dataset", name}, {"subject_column", data.info.subject_column}, {"rows", RowsJson(data.table)}};
      if (r.kind == DsrKind::kAccess) {
        Json sources = Json::array();
        for (const store::DatasetSource& s : data.info.sources)
          sources.push_back({{"file_name", s.file_name}, {"ingested_at", Rfc3339(s.ingested_at)}});
        VEIL_ASSIGN_OR_RETURN(const std::vector<Declaration> decls, LoadDeclarations(ws, name));
        Json declarations = Json::array();
        for (const Declaration& x : decls) declarations.push_back(DeclarationToJson(x));
        Json retention = Json::array();
        for (const RetentionRule& x : rules) {
          if (x.dataset == name) retention.push_back(RetentionRuleToJson(x));
        }
        d["purposes"] = data.info.purposes;
        d["processing"] = std::move(declarations);
        d["retention_rules"] = std::move(retention);
        d["legal_holds"] = HoldsIn(holds, name);
        d["sources"] = std::move(sources);
      }
      datasets.push_back(std::move(d));
    }
    Json doc = {{"request",
                 {{"id", r.id},
                  {"kind", DsrKindName(r.kind)},
                  {"article", DsrKindArticle(r.kind)},
                  {"received", Rfc3339(r.received)},
                  {"generated_at", Rfc3339(now)}}},
                {"subject", {{"pseudonym", r.pseudonym}}},
                {"datasets", std::move(datasets)}};
    Json notes = Json::array();
    if (r.kind == DsrKind::kAccess) {
      VEIL_ASSIGN_OR_RETURN(const std::vector<ConsentRecord> history, ConsentHistory(ws, r.pseudonym));
      VEIL_ASSIGN_OR_RETURN(const std::vector<SubjectRestriction> restrictions,
                            Restrictions(ws, r.pseudonym));
      Json consent = Json::array();
      for (const ConsentRecord& c : history) consent.push_back(ConsentRecordToJson(c));
      Json restricted = Json::array();
      for (const SubjectRestriction& x : restrictions) restricted.push_back(SubjectRestrictionToJson(x));
      // The automated decisions about them (Art. 15(1)(h), 22): the audit log's decide entries.
      VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, session_.AuditLogFor(Operation::kAuditRead));
      VEIL_ASSIGN_OR_RETURN(const std::vector<audit::AuditEntry> entries, log->ReadEntries(0));
      Json decisions = Json::array();
      for (const audit::AuditEntry& e : entries) {
        if (e.action != OperationName(Operation::kDecide) || e.decision != audit::Decision::kAllowed)
          continue;
        if (std::find(e.subject_pseudonyms.begin(), e.subject_pseudonyms.end(), r.pseudonym) ==
            e.subject_pseudonyms.end())
          continue;
        decisions.push_back(audit::AuditEntryToJson(e));
      }
      doc["consent"] = std::move(consent);
      doc["restrictions"] = std::move(restricted);
      doc["automated_decisions"] = std::move(decisions);
      notes.push_back(
          "automated_decisions are the audit log's entries of each decision about the subject (model, "
          "dataset, "
          "purpose, time, and in reason the logic's inputs that were unknown); the decision itself, its "
          "score "
          "and explanation (the top contributions) were returned when it was made, and the entry's "
          "result_hash is the SHA-256 of that record, by which a kept copy is checked");
    } else {
      notes.push_back(
          "the rows held about the subject, as ingested; the workspace does not record which columns the "
          "subject provided and which were derived: check before sending");
    }
    for (const std::string& a : attached)
      notes.push_back(absl::StrCat(
          "dataset \"", a, "\" is attached: its rows live in an external database and are not included"));
    doc["notes"] = std::move(notes);
    result.document = doc.dump(2);
    result_hash = crypto::Sha256(result.document);
    outcome = {
        {"datasets", holding_names}, {"rows", rows}, {"document_sha256", base::HexEncode(*result_hash)}};
    detail = absl::StrCat(DsrKindName(r.kind), ": ", rows, " row(s) from ", holding.size(),
                          " dataset(s) released to the owner");
  } else if (r.kind == DsrKind::kErasure) {
    Json kept = Json::array();
    std::vector<std::string> to_erase_names;
    for (const Holding& h : holding) {
      Json held_by = HoldsIn(holds, h.dataset);
      if (held_by.empty()) {
        to_erase.push_back(h);
        to_erase_names.push_back(h.dataset);
        continue;
      }
      kept.push_back({{"dataset", h.dataset},
                      {"exception", "Art. 17(3)(e): legal claims (legal hold)"},
                      {"holds", std::move(held_by)}});
    }
    // What an earlier run of this request erased before it stopped (it no longer holds the subject, so it is
    // not planned again), carried into this run's account.
    Json erased = Json::array();
    int64_t rows = 0, keys = 0;
    if (r.state == DsrState::kInProgress) {
      if (r.outcome.contains("erased") && r.outcome["erased"].is_array()) erased = r.outcome["erased"];
      if (r.outcome.contains("rows_removed") && r.outcome["rows_removed"].is_number_integer())
        rows = r.outcome["rows_removed"].get<int64_t>();
      if (r.outcome.contains("keys_destroyed") && r.outcome["keys_destroyed"].is_number_integer())
        keys = r.outcome["keys_destroyed"].get<int64_t>();
    }
    // A request for every dataset is erased as `veil erase` erases: by one erasure across all datasets,
    // which also destroys the subject's data keys in datasets that no longer list them. That would destroy
    // the keys of a held dataset too, so as soon as a hold covers the subject anywhere (or the request names
    // one dataset), each dataset to erase is erased on its own and only its keys are destroyed.
    everywhere = r.dataset.empty() && holds.empty();
    outcome = {{"to_erase", to_erase_names},
               {"kept", kept},
               {"attached_not_erased", attached},
               {"keys_destroyed_in", everywhere ? "every dataset" : "the datasets erased"},
               {"erased", erased},
               {"rows_removed", rows},
               {"keys_destroyed", keys}};
    detail =
        absl::StrCat("erasure started: ", to_erase.size(), " dataset(s) to erase by crypto-shredding",
                     everywhere ? " (the subject's keys destroyed in every dataset)" : "", ", ", kept.size(),
                     " kept under a legal hold (Art. 17(3)(e))",
                     attached.empty() ? "" : absl::StrCat(", ", attached.size(), " attached not erased"));
  } else if (r.kind == DsrKind::kRestriction || r.kind == DsrKind::kObjection) {
    const RestrictionKind kind =
        r.kind == DsrKind::kRestriction ? RestrictionKind::kRestriction : RestrictionKind::kObjection;
    VEIL_ASSIGN_OR_RETURN(in_force, RestrictionInForce(ws, r, kind));
    outcome = {{"kind", RestrictionKindName(kind)},
               {"purpose", r.purpose.empty() ? Json(nullptr) : Json(r.purpose)},
               {"dataset", r.dataset.empty() ? Json(nullptr) : Json(r.dataset)}};
    if (in_force.has_value()) {
      outcome["restriction_id"] = in_force->id;
      detail = absl::StrCat(RestrictionKindName(kind), " #", in_force->id,
                            " already in force: nothing to add; the gate leaves the subject out");
    } else {
      detail = absl::StrCat(RestrictionKindName(kind), " to record: the gate will leave the subject out");
    }
  } else {  // rectification, confirmed
    outcome = {{"applied", "re-ingest"}, {"confirmed_by", session_.actor()}};
    detail =
        "rectification: the owner confirmed the corrected rows were re-ingested (Veil does not rewrite "
        "sealed "
        "records in place)";
  }

  // Moves the request to `state` with one step and the step's own audit entry (dsr.run, the step named in
  // its parameters and reason). `run_seq`: the entry of the run that a step "complete" finishes, named in
  // its reason.
  const auto advance = [&](std::string_view name, DsrState state, const std::string& step_detail,
                           const Json& step_outcome,
                           std::optional<uint64_t> run_seq) -> absl::StatusOr<uint64_t> {
    VEIL_RETURN_IF_ERROR(CheckDsrStep(r, name));
    VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
    Json params = Params(r, name);
    params["dsr"]["outcome"] = step_outcome;
    DsrRequest next = r;
    next.state = state;
    next.outcome = step_outcome;
    if (state == DsrState::kCompleted) next.closed = now;
    VEIL_ASSIGN_OR_RETURN(
        const uint64_t seq,
        CommitStep(session_, std::move(txn), next, name, now,
                   absl::StrCat(step_detail, run_seq.has_value()
                                                 ? absl::StrCat(" (the run of audit entry #", *run_seq, ")")
                                                 : std::string()),
                   Operation::kDsrRun, decision, params, result_hash));
    r = std::move(next);
    return seq;
  };

  if (r.kind == DsrKind::kAccess || r.kind == DsrKind::kPortability || r.kind == DsrKind::kRectification) {
    // Nothing outside workspace.db changes: the entry and the completion commit together, and the document
    // is released after. A run that fails leaves the request as it was (it may be run again or rejected).
    VEIL_ASSIGN_OR_RETURN(result.audit_seq, advance("run", DsrState::kCompleted, detail, outcome, {}));
    result.request = std::move(r);
    return result;
  }

  // Erasure, restriction, objection change what lies outside the request's row (the vault, the key store,
  // the restriction table), each in its own commit: the run's entry moves the request to in_progress
  // before the first change, and a completion step follows the last. A run stopped in between stays
  // in_progress; running it again redoes only what is not done.
  VEIL_ASSIGN_OR_RETURN(result.audit_seq, advance("run", DsrState::kInProgress, detail, outcome, {}));
  const uint64_t seq = result.audit_seq;
  if (r.kind == DsrKind::kErasure) {
    // One erasure across every dataset, or one per dataset to erase; what each erased is saved as it
    // commits.
    const auto erase = [&](std::optional<std::string_view> dataset) -> absl::Status {
      absl::StatusOr<store::EraseResult> e =
          ws.EraseSubjects(std::vector<std::string>{r.pseudonym}, dataset,
                           [](const store::EraseResult&) { return absl::OkStatus(); });
      if (!e.ok()) {
        return absl::Status(
            e.status().code(),
            absl::StrCat("subject request #", r.id, ": erasure stopped",
                         dataset.has_value() ? absl::StrCat(" at dataset \"", std::string(*dataset), "\"")
                                             : std::string(),
                         " (audit entry #", seq, "); run it again to finish: ", e.status().message()));
      }
      for (const std::string& name : e->datasets) {
        int64_t rows = 0;  // the subject's rows there, as planned (the result counts them all together)
        for (const Holding& h : to_erase) {
          if (h.dataset == name) rows = h.rows;
        }
        outcome["erased"].push_back({{"dataset", name}, {"rows", rows}});
      }
      outcome["rows_removed"] = outcome["rows_removed"].get<int64_t>() + e->rows_removed;
      outcome["keys_destroyed"] = outcome["keys_destroyed"].get<int64_t>() + e->keys_destroyed;
      r.outcome = outcome;
      return SaveOutcome(db, r);
    };
    if (everywhere) {
      VEIL_RETURN_IF_ERROR(erase(std::nullopt));
    } else {
      for (const Holding& h : to_erase) VEIL_RETURN_IF_ERROR(erase(h.dataset));
    }
    detail = absl::StrCat("erasure done: ", outcome["rows_removed"].get<int64_t>(), " row(s) removed, ",
                          outcome["keys_destroyed"].get<int64_t>(), " data key(s) destroyed");
  } else if (in_force.has_value()) {  // restriction, objection: already in force, not added twice
    detail = absl::StrCat(RestrictionKindName(in_force->kind), " #", in_force->id,
                          " in force: the gate leaves the subject out");
  } else {  // restriction, objection
    const RestrictionKind kind =
        r.kind == DsrKind::kRestriction ? RestrictionKind::kRestriction : RestrictionKind::kObjection;
    VEIL_ASSIGN_OR_RETURN(SubjectRestriction x,
                          ConsentRegistry(session_).Restrict(kind, *options.subject_id, r.purpose, r.dataset,
                                                             absl::StrCat("dsr-", r.id)));
    outcome["restriction_id"] = x.id;
    detail =
        absl::StrCat(RestrictionKindName(kind), " #", x.id, " recorded: the gate leaves the subject out");
  }
  VEIL_RETURN_IF_ERROR(advance("complete", DsrState::kCompleted, detail, outcome, seq).status());
  result.request = std::move(r);
  return result;
}

}  // namespace veil::gov
