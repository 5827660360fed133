#include "veil/gov/session.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/gov/consent.h"
#include "veil/store/sqlite.h"
#include "veil/table/csv_writer.h"

namespace veil::gov {
namespace {

// A copy of the workspace's signing key for the audit log (the key type is move-only by design).
absl::StatusOr<crypto::Ed25519PrivateKey> SigningKeyCopy(const store::Workspace& ws) {
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes seed, ws.signing_key().ExportSeed());
  return crypto::Ed25519PrivateKey::FromSeed(seed);
}

absl::StatusOr<std::vector<Role>> LoadRoles(store::Database& db, std::string_view actor) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st, db.Prepare("SELECT role FROM role_grant WHERE actor = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, actor));
  std::vector<Role> roles;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const std::optional<Role> role = ParseRole(st.ColumnText(0));
    if (!role) return absl::DataLossError("workspace.db: a role grant names an unknown role");
    roles.push_back(*role);
  }
  std::sort(roles.begin(), roles.end());
  return roles;
}

absl::Status InsertGrant(store::Database& db, std::string_view actor, Role role, std::string_view by,
                         absl::Time at) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("INSERT INTO role_grant(actor, role, granted_by, granted_ns) VALUES "
                                   "(?1, ?2, ?3, ?4)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, actor));
  VEIL_RETURN_IF_ERROR(st.Bind(2, RoleName(role)));
  VEIL_RETURN_IF_ERROR(st.Bind(3, by));
  VEIL_RETURN_IF_ERROR(st.Bind(4, absl::ToUnixNanos(at)));
  return st.Run();
}

audit::AuditEntry MakeEntry(std::string_view actor, Operation op, std::string_view dataset,
                            std::string_view purpose, const GateDecision& decision,
                            const nlohmann::ordered_json& params) {
  audit::AuditEntry e;
  e.actor = actor;
  e.action = OperationName(op);
  e.dataset = dataset;
  e.purpose = purpose;
  e.decision = decision.allowed ? audit::Decision::kAllowed : audit::Decision::kDenied;
  e.reason = decision.reason;
  e.params_hash = ParamsHash(params);
  return e;
}

crypto::Sha256Digest JsonHash(const nlohmann::ordered_json& doc) { return crypto::Sha256(doc.dump()); }

}  // namespace

crypto::Sha256Digest ParamsHash(const nlohmann::ordered_json& params) { return JsonHash(params); }

absl::Status CheckPrivacyUnit(const store::DatasetInfo& dataset, std::string_view privacy_unit_column) {
  if (privacy_unit_column == dataset.subject_column) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the privacy unit must be dataset \"", dataset.name, "\"'s subject column \"",
                   dataset.subject_column, "\", not \"", std::string(privacy_unit_column.substr(0, 128)),
                   "\": a guarantee per value of another column is not a guarantee per person"));
}

absl::Status ValidateActor(std::string_view actor) {
  if (actor.empty() || actor.size() > 128) {
    return absl::InvalidArgumentError("an actor name (--actor or VEIL_ACTOR) must have 1 to 128 characters");
  }
  for (char c : actor) {
    if (c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\') {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid actor name \"", std::string(actor.substr(0, 80)),
          "\": use printable ASCII without spaces, quotes or backslashes (e.g. alice, svc-etl@bank)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Session>> Session::Init(base::Env& env, const std::string& dir,
                                                       const std::string& actor,
                                                       const store::WorkspaceCreateOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateActor(actor));
  const auto initialize = [&](store::Workspace& ws) -> absl::Status {
    VEIL_RETURN_IF_ERROR(InsertGrant(ws.metadata(), actor, Role::kOwner, actor, env.Now()));
    VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, SigningKeyCopy(ws));
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log,
                          audit::AuditLog::Open(env, ws.audit_dir(), std::move(key)));
    const nlohmann::ordered_json params = {
        {"workspace_id", ws.id()},
        {"master_key", options.master_key.passphrase.has_value() ? "passphrase" : "key file"}};
    audit::AuditEntry entry =
        MakeEntry(actor, Operation::kInit, "", "",
                  {true, "the actor who creates a workspace becomes its owner"}, params);
    return log->Append(std::move(entry)).status();
  };
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<store::Workspace> ws,
                        store::Workspace::Create(env, dir, options, initialize));
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, SigningKeyCopy(*ws));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log,
                        audit::AuditLog::Open(env, ws->audit_dir(), std::move(key)));
  return std::unique_ptr<Session>(new Session(std::move(ws), std::move(log), actor));
}

absl::StatusOr<std::unique_ptr<Session>> Session::Open(base::Env& env, const std::string& dir,
                                                       const std::string& actor,
                                                       const std::optional<base::SecretBytes>& passphrase) {
  VEIL_RETURN_IF_ERROR(ValidateActor(actor));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<store::Workspace> ws, store::Workspace::Open(env, dir, passphrase));
  // AuditLog::Open would create a missing log; a workspace's log exists from init on, so its absence means
  // someone removed it.
  if (!env.FileExists(absl::StrCat(ws->audit_dir(), "/", audit::AuditLog::kLogFileName))) {
    return absl::DataLossError(absl::StrCat("workspace ", dir,
                                            ": the audit log (audit/audit.log) is missing; it was deleted "
                                            "or moved, and Veil will not start a new one silently"));
  }
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, SigningKeyCopy(*ws));
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log,
                        audit::AuditLog::Open(env, ws->audit_dir(), std::move(key)));
  return std::unique_ptr<Session>(new Session(std::move(ws), std::move(log), actor));
}

Session::Session(std::unique_ptr<store::Workspace> workspace, std::unique_ptr<audit::AuditLog> log,
                 std::string actor)
    : workspace_(std::move(workspace)), log_(std::move(log)), actor_(std::move(actor)) {}

Session::~Session() = default;

absl::StatusOr<std::vector<Role>> Session::Roles() { return LoadRoles(workspace_->metadata(), actor_); }

// --- Consent, objection and restriction where the rows are read ---

absl::Status Session::PrepareFilter(std::string_view dataset, std::string_view purpose) {
  excluded_subjects_ = 0;
  VEIL_ASSIGN_OR_RETURN(SubjectFilter f,
                        ComputeSubjectFilter(*workspace_, dataset, purpose, workspace_->env().Now()));
  filter_ = std::make_unique<SubjectFilter>(std::move(f));
  return absl::OkStatus();
}

absl::StatusOr<store::DatasetContents> Session::ReadRows(std::string_view dataset) {
  if (filter_ == nullptr || filter_->passes_all()) return workspace_->Read(dataset);
  const SubjectFilter& f = *filter_;
  VEIL_ASSIGN_OR_RETURN(store::DatasetContents data,
                        workspace_->Read(dataset, [&f](std::string_view p) { return f.Keep(p); }));
  excluded_subjects_ = data.excluded_subjects;
  return data;
}

std::string Session::ExclusionNote() const {
  if (filter_ == nullptr || filter_->passes_all()) return "";
  std::string note;
  if (filter_->opt_in) {
    absl::StrAppend(&note, "; consent is the legal basis of \"", filter_->governing_purpose, "\"");
  }
  absl::StrAppend(&note, "; ", excluded_subjects_, " subject(s) left out (",
                  filter_->opt_in ? "without consent, objected or restricted" : "objected or restricted",
                  ")");
  return note;
}

absl::StatusOr<GateDecision> Session::Authorize(Operation op, std::string_view dataset,
                                                std::string_view purpose,
                                                const nlohmann::ordered_json& params,
                                                bool non_private_model) {
  GateRequest request;
  request.actor = actor_;
  request.non_private_model = non_private_model;
  VEIL_ASSIGN_OR_RETURN(request.roles, Roles());
  request.op = op;
  request.dataset = dataset;
  request.purpose = purpose;
  if (NeedsPurpose(op) && !dataset.empty()) {
    // Only an actor whose role allows the operation learns whether the dataset exists.
    if (RoleFor(op, request.roles).has_value()) {
      VEIL_ASSIGN_OR_RETURN(store::DatasetInfo info, workspace_->GetDataset(dataset));
      request.dataset_purposes = info.purposes;
    }
  }
  GateDecision decision = Decide(request);
  if (decision.allowed) return decision;
  return AuditDenial(op, dataset, purpose, decision.reason, params, absl::StatusCode::kPermissionDenied);
}

absl::Status Session::AuditDenial(Operation op, std::string_view dataset, std::string_view purpose,
                                  const std::string& reason, const nlohmann::ordered_json& params,
                                  absl::StatusCode code) {
  absl::StatusOr<uint64_t> seq =
      log_->Append(MakeEntry(actor_, op, dataset, purpose, GateDecision{false, reason}, params));
  if (!seq.ok()) {
    return absl::Status(
        code, absl::StrCat("refused: ", reason, " (and the audit log could not record the refusal: ",
                           seq.status().message(), ")"));
  }
  return absl::Status(code, absl::StrCat("refused: ", reason));
}

absl::StatusOr<uint64_t> Session::AppendEntry(audit::AuditEntry entry) {
  absl::StatusOr<uint64_t> seq = log_->Append(std::move(entry));
  if (!seq.ok()) {
    return absl::Status(seq.status().code(),
                        absl::StrCat("the audit log could not record the operation, so it was not done: ",
                                     seq.status().message()));
  }
  return seq;
}

absl::Status Session::Record(Operation op, std::string_view dataset, std::string_view purpose,
                             const GateDecision& decision, const nlohmann::ordered_json& params,
                             std::optional<crypto::Sha256Digest> result_hash,
                             std::vector<std::string> pseudonyms) {
  return RecordEntry(op, dataset, purpose, decision, params, result_hash, std::move(pseudonyms)).status();
}

absl::StatusOr<uint64_t> Session::RecordEntry(Operation op, std::string_view dataset,
                                              std::string_view purpose, const GateDecision& decision,
                                              const nlohmann::ordered_json& params,
                                              std::optional<crypto::Sha256Digest> result_hash,
                                              std::vector<std::string> pseudonyms) {
  if (op == Operation::kDecide) {
    // No automated decision about a subject who objected, is restricted or did not consent (Art. 18, 21, 22).
    for (const std::string& p : pseudonyms) {
      VEIL_ASSIGN_OR_RETURN(const std::string why,
                            SubjectExclusion(*workspace_, p, dataset, purpose, workspace_->env().Now()));
      if (why.empty()) continue;
      audit::AuditEntry denial = MakeEntry(
          actor_, op, dataset, purpose,
          GateDecision{false, absl::StrCat("decision about subject ", p.substr(0, 16), "…: ", why)}, params);
      denial.subject_pseudonyms = {p};
      absl::StatusOr<uint64_t> seq = log_->Append(std::move(denial));
      return absl::PermissionDeniedError(absl::StrCat(
          "refused: no automated decision about subject ", p.substr(0, 16), "…: ", why,
          seq.ok() ? std::string()
                   : absl::StrCat(
                         " (and the audit log could not record the refusal: ", seq.status().message(), ")")));
    }
  }
  audit::AuditEntry entry = MakeEntry(actor_, op, dataset, purpose, decision, params);
  entry.result_hash = result_hash;
  entry.subject_pseudonyms = std::move(pseudonyms);
  return AppendEntry(std::move(entry));
}

absl::StatusOr<store::IngestResult> Session::Ingest(const table::Table& table,
                                                    const store::IngestRequest& request) {
  const nlohmann::ordered_json params = {{"dataset", request.dataset},
                                         {"mode", store::IngestModeName(request.mode)},
                                         {"subject_column", request.subject_column},
                                         {"purposes", request.purposes},
                                         {"source",
                                          {{"file_name", request.source.file_name},
                                           {"sha256", request.source.sha256},
                                           {"bytes", request.source.bytes}}}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kIngest, request.dataset, "", params));
  return workspace_->Ingest(table, request, [&](const store::IngestResult& result) {
    return Record(Operation::kIngest, request.dataset, "", decision, params,
                  JsonHash(store::DatasetInfoToJson(result.dataset)), {});
  });
}

absl::StatusOr<ExportResult> Session::Export(std::string_view dataset, std::string_view purpose) {
  const nlohmann::ordered_json params = {{"dataset", dataset}, {"purpose", purpose}, {"format", "csv"}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kExport, dataset, purpose, params));
  VEIL_RETURN_IF_ERROR(PrepareFilter(dataset, purpose));
  VEIL_ASSIGN_OR_RETURN(store::DatasetContents contents, ReadRows(dataset));
  decision.reason += ExclusionNote();
  ExportResult result;
  VEIL_ASSIGN_OR_RETURN(result.csv, table::WriteCsvToString(contents.table));
  result.rows = contents.table.num_rows();
  result.excluded_subjects = contents.excluded_subjects;
  result.dataset = std::move(contents.info);
  VEIL_RETURN_IF_ERROR(
      Record(Operation::kExport, dataset, purpose, decision, params, crypto::Sha256(result.csv), {}));
  return result;
}

absl::StatusOr<store::EraseResult> Session::Erase(std::string_view subject_id,
                                                  std::optional<std::string_view> dataset) {
  const std::string pseudonym = workspace_->Pseudonym(subject_id);
  const std::string dataset_name(dataset.value_or(""));
  const nlohmann::ordered_json params = {
      {"subject", pseudonym},
      {"dataset",
       dataset.has_value() ? nlohmann::ordered_json(dataset_name) : nlohmann::ordered_json(nullptr)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kErase, dataset_name, "", params));
  return workspace_->Erase(pseudonym, dataset, [&](const store::EraseResult& result) {
    const nlohmann::ordered_json doc = {{"datasets", result.datasets}, {"rows_removed", result.rows_removed}};
    return Record(Operation::kErase, dataset_name, "", decision, params, JsonHash(doc), {pseudonym});
  });
}

absl::Status Session::Grant(std::string_view actor, Role role) {
  VEIL_RETURN_IF_ERROR(ValidateActor(actor));
  const nlohmann::ordered_json params = {{"actor", actor}, {"role", RoleName(role)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kGrant, "", "", params));
  store::Database& db = workspace_->metadata();
  VEIL_ASSIGN_OR_RETURN(std::vector<Role> held, LoadRoles(db, actor));
  if (std::find(held.begin(), held.end(), role) != held.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("actor \"", std::string(actor), "\" already has the role ", RoleName(role)));
  }
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  VEIL_RETURN_IF_ERROR(InsertGrant(db, actor, role, actor_, workspace_->env().Now()));
  VEIL_RETURN_IF_ERROR(Record(Operation::kGrant, "", "", decision, params, std::nullopt, {}));
  return txn.Commit();
}

absl::Status Session::Revoke(std::string_view actor, Role role) {
  VEIL_RETURN_IF_ERROR(ValidateActor(actor));
  const nlohmann::ordered_json params = {{"actor", actor}, {"role", RoleName(role)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kRevoke, "", "", params));
  store::Database& db = workspace_->metadata();
  VEIL_ASSIGN_OR_RETURN(store::Transaction txn, store::Transaction::Begin(db));
  if (role == Role::kOwner) {
    VEIL_ASSIGN_OR_RETURN(store::Statement count,
                          db.Prepare("SELECT COUNT(*) FROM role_grant WHERE role = 'owner' AND actor != ?1"));
    VEIL_RETURN_IF_ERROR(count.Bind(1, actor));
    VEIL_RETURN_IF_ERROR(count.Step().status());
    if (count.ColumnInt64(0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "actor \"", std::string(actor), "\" is the last owner; grant the role to someone else first"));
    }
  }
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        db.Prepare("DELETE FROM role_grant WHERE actor = ?1 AND role = ?2"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, actor));
  VEIL_RETURN_IF_ERROR(st.Bind(2, RoleName(role)));
  VEIL_RETURN_IF_ERROR(st.Run());
  if (db.changes() == 0) {
    return absl::NotFoundError(
        absl::StrCat("actor \"", std::string(actor), "\" does not have the role ", RoleName(role)));
  }
  VEIL_RETURN_IF_ERROR(Record(Operation::kRevoke, "", "", decision, params, std::nullopt, {}));
  return txn.Commit();
}

absl::StatusOr<std::vector<store::DatasetInfo>> Session::ListDatasets() {
  VEIL_RETURN_IF_ERROR(
      Authorize(Operation::kListDatasets, "", "", nlohmann::ordered_json::object()).status());
  return workspace_->ListDatasets();
}

absl::StatusOr<store::DatasetInfo> Session::GetDataset(std::string_view name) {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kListDatasets, name, "", {{"dataset", name}}).status());
  return workspace_->GetDataset(name);
}

absl::StatusOr<std::vector<RoleGrant>> Session::ListGrants() {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kListGrants, "", "", nlohmann::ordered_json::object()).status());
  VEIL_ASSIGN_OR_RETURN(
      store::Statement st,
      workspace_->metadata().Prepare(
          "SELECT actor, role, granted_by, granted_ns FROM role_grant ORDER BY actor, role"));
  std::vector<RoleGrant> grants;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const std::optional<Role> role = ParseRole(st.ColumnText(1));
    if (!role) return absl::DataLossError("workspace.db: a role grant names an unknown role");
    grants.push_back({st.ColumnText(0), *role, st.ColumnText(2), absl::FromUnixNanos(st.ColumnInt64(3))});
  }
  return grants;
}

absl::StatusOr<audit::AuditLog*> Session::AuditLogFor(Operation op) {
  if (op != Operation::kAuditRead && op != Operation::kAuditCheckpoint)
    return absl::InvalidArgumentError("AuditLogFor takes an audit operation");
  VEIL_RETURN_IF_ERROR(Authorize(op, "", "", nlohmann::ordered_json::object()).status());
  return log_.get();
}

// --- The privacy budget ---

absl::StatusOr<store::DatasetBudget> Session::GetBudget(std::string_view dataset) {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kBudgetRead, dataset, "", {{"dataset", dataset}}).status());
  VEIL_RETURN_IF_ERROR(SettleReservations());
  return workspace_->ledger().Get(dataset);
}

absl::StatusOr<std::vector<store::DatasetBudget>> Session::ListBudgets() {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kBudgetRead, "", "", nlohmann::ordered_json::object()).status());
  VEIL_RETURN_IF_ERROR(SettleReservations());
  return workspace_->ledger().List();
}

absl::StatusOr<store::DatasetBudget> Session::SetBudget(std::string_view dataset,
                                                        const store::EpsilonDelta& total) {
  VEIL_RETURN_IF_ERROR(store::ValidateBudgetTotal(total));
  const nlohmann::ordered_json params = {
      {"dataset", dataset}, {"epsilon", total.epsilon}, {"delta", total.delta}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(Operation::kBudgetSet, dataset, "", params));
  VEIL_RETURN_IF_ERROR(SettleReservations());
  return workspace_->ledger().SetTotal(
      dataset, total, actor_, workspace_->env().Now(), [&](const store::DatasetBudget& budget) {
        const nlohmann::ordered_json doc = {
            {"dataset", budget.dataset},
            {"total", {{"epsilon", total.epsilon}, {"delta", total.delta}}},
            {"spent", {{"epsilon", budget.spent.epsilon}, {"delta", budget.spent.delta}}}};
        return Record(Operation::kBudgetSet, dataset, "", decision, params, JsonHash(doc), {});
      });
}

absl::Status Session::SettleReservations() {
  store::Ledger& ledger = workspace_->ledger();
  VEIL_ASSIGN_OR_RETURN(std::vector<store::LedgerCharge> reserved, ledger.Reservations());
  for (const store::LedgerCharge& r : reserved) {
    // The operation's entry, if it became durable, is at or after audit_from: in practice within the few
    // entries of the batch that was being written when the operation stopped.
    std::optional<uint64_t> seq;
    constexpr uint64_t kChunk = 256;
    for (uint64_t from = r.audit_from; !seq.has_value() && from < log_->size(); from += kChunk) {
      VEIL_ASSIGN_OR_RETURN(std::vector<audit::AuditEntry> entries, log_->ReadEntries(from, kChunk));
      for (const audit::AuditEntry& e : entries) {
        if (e.decision == audit::Decision::kAllowed && e.params_hash == r.params_hash &&
            e.action == r.operation && e.dataset == r.dataset && e.actor == r.actor) {
          seq = e.seq;
          break;
        }
      }
      if (entries.empty()) break;
    }
    VEIL_RETURN_IF_ERROR(seq.has_value() ? ledger.Settle(r.id, *seq) : ledger.Release(r.id));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChargeReceipt> Session::RunChargedErased(
    Operation op, std::string_view dataset, std::string_view purpose, const ChargeRequest& cost,
    const nlohmann::ordered_json& params, bool external,
    absl::FunctionRef<absl::StatusOr<crypto::Sha256Digest>(const store::DatasetInfo&)> run) {
  // 1. What is asked must make sense before anything is recorded.
  if (charging_) {
    return absl::FailedPreconditionError(
        "a charged operation cannot start another one on the same session (RunCharged is not re-entrant)");
  }
  if (!IsDpOperation(op)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", OperationName(op), "\" is not a differentially private operation"));
  }
  const store::EpsilonDelta amount{cost.epsilon, cost.delta};
  VEIL_RETURN_IF_ERROR(store::ValidateCost(amount));
  VEIL_RETURN_IF_ERROR(store::ValidateChargeDescription(cost.description));
  charging_ = true;
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&charging_};

  // The audited parameters. The random charge id makes this operation's params hash unique, so that a
  // reservation left by a crash is matched to its own audit entry and no other (SettleReservations).
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> nonce, crypto::RandomBytes(16, workspace_->env().random()));
  const nlohmann::ordered_json audited = {{"dataset", dataset},
                                          {"purpose", purpose},
                                          {"cost", {{"epsilon", cost.epsilon}, {"delta", cost.delta}}},
                                          {"description", cost.description},
                                          {"privacy_unit_column", cost.privacy_unit_column},
                                          {"charge", base::HexEncode(nonce)},
                                          {"request", params}};

  // 2. The gate.
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(op, dataset, purpose, audited));
  VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, workspace_->GetDataset(dataset));
  VEIL_RETURN_IF_ERROR(CheckPrivacyUnit(info, cost.privacy_unit_column));
  if (info.external.has_value() != external) {
    return absl::FailedPreconditionError(
        external ? absl::StrCat("dataset \"", info.name, "\" is in the vault, not attached")
                 : absl::StrCat("dataset \"", info.name, "\" is attached from ", info.external->location,
                                "; its rows are not in the vault"));
  }
  // Whose rows the run may use (consent, objection, restriction), decided before anything is reserved.
  VEIL_RETURN_IF_ERROR(PrepareFilter(dataset, purpose));
  if (external && !filter_->passes_all()) {
    // The rows stay in the external database, where Veil cannot leave anyone's out.
    return AuditDenial(
        op, dataset, purpose,
        absl::StrCat("dataset \"", info.name, "\" is attached: its rows are read in ",
                     info.external->location, ", where Veil cannot leave out the subjects ",
                     filter_->opt_in
                         ? absl::StrCat("who have not consented to \"", filter_->governing_purpose, "\" or ")
                         : std::string(),
                     "who objected or are restricted; ingest it into the vault to use it for \"",
                     std::string(purpose), "\""),
        audited, absl::StatusCode::kFailedPrecondition);
  }

  // 3, 4. The budget, before any data is touched.
  VEIL_RETURN_IF_ERROR(SettleReservations());
  store::Ledger& ledger = workspace_->ledger();
  store::ChargeReservation request;
  request.dataset = dataset;
  request.actor = actor_;
  request.operation = OperationName(op);
  request.cost = amount;
  request.description = cost.description;
  request.params_hash = ParamsHash(audited);
  request.audit_from = log_->size();
  request.time = workspace_->env().Now();
  absl::StatusOr<store::Reservation> reservation = ledger.Reserve(request);
  if (absl::IsResourceExhausted(reservation.status())) {
    return AuditDenial(op, dataset, purpose, std::string(reservation.status().message()), audited,
                       absl::StatusCode::kResourceExhausted);
  }
  VEIL_RETURN_IF_ERROR(reservation.status());
  const int64_t charge_id = reservation->charge.id;

  // 5, 6. Run, and audit. A run that failed after the rows were read is audited and charged; any other
  // failure releases the charge (if even that fails, it stays reserved, counted as spent, until
  // SettleReservations releases it).
  rows_read_ = false;
  absl::StatusOr<crypto::Sha256Digest> ran = run(info);
  if (!ran.ok() && rows_read_) {
    audit::AuditEntry entry = MakeEntry(actor_, op, dataset, purpose, decision, audited);
    entry.reason = absl::StrCat(decision.reason, ExclusionNote(), "; the run failed after reading the data (",
                                absl::StatusCodeToString(ran.status().code()),
                                "), so the reserved privacy charge is kept; nothing was released");
    entry.cost = store::FormatEpsilonDelta(amount);
    absl::StatusOr<uint64_t> failed_seq = AppendEntry(std::move(entry));
    if (!failed_seq.ok()) {
      // The reservation stays (counted as spent) until SettleReservations.
      return absl::Status(ran.status().code(), absl::StrCat(ran.status().message(),
                                                            " (the privacy charge stays "
                                                            "reserved: ",
                                                            failed_seq.status().message(), ")"));
    }
    ledger.Settle(charge_id, *failed_seq).IgnoreError();  // if not, settled by the next command
    return absl::Status(
        ran.status().code(),
        absl::StrCat(ran.status().message(), " (the ", OperationName(op),
                     " read the data, so its privacy charge is kept; audit entry #", *failed_seq, ")"));
  }
  absl::StatusOr<uint64_t> seq = [&]() -> absl::StatusOr<uint64_t> {
    VEIL_ASSIGN_OR_RETURN(crypto::Sha256Digest result_hash, std::move(ran));
    audit::AuditEntry entry = MakeEntry(actor_, op, dataset, purpose, decision, audited);
    entry.reason =
        absl::StrCat(decision.reason, ExclusionNote(), "; within the privacy budget (remaining after: ",
                     store::FormatEpsilonDelta(reservation->remaining), ")");
    entry.cost = store::FormatEpsilonDelta(amount);
    entry.result_hash = result_hash;
    return AppendEntry(std::move(entry));
  }();
  if (!seq.ok()) {
    ledger.Release(charge_id).IgnoreError();
    return seq.status();
  }

  // 7. The commit point of the charge.
  if (absl::Status settled = ledger.Settle(charge_id, *seq); !settled.ok()) {
    return absl::AbortedError(absl::StrCat(
        "the ", OperationName(op), " was audited (entry #", *seq,
        ") but its privacy charge could not be committed, so its result is withheld; the charge stays "
        "reserved and is settled by the next command: ",
        settled.message()));
  }
  ChargeReceipt receipt;
  receipt.charge_id = charge_id;
  receipt.audit_seq = *seq;
  receipt.cost = amount;
  receipt.total = reservation->total;
  receipt.spent = reservation->spent;
  receipt.remaining = reservation->remaining;
  return receipt;
}

// --- Audited operations and the model registry ---

absl::StatusOr<uint64_t> Session::RunAuditedErased(
    Operation op, std::string_view dataset, std::string_view purpose, const nlohmann::ordered_json& params,
    absl::FunctionRef<absl::StatusOr<crypto::Sha256Digest>(const store::DatasetContents&)> run) {
  if (IsDpOperation(op)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", OperationName(op), "\" is differentially private: it must be charged (RunCharged)"));
  }
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, Authorize(op, dataset, purpose, params));
  VEIL_RETURN_IF_ERROR(PrepareFilter(dataset, purpose));
  VEIL_ASSIGN_OR_RETURN(store::DatasetContents data, ReadRows(dataset));
  VEIL_ASSIGN_OR_RETURN(crypto::Sha256Digest result_hash, run(data));
  decision.reason += ExclusionNote();
  audit::AuditEntry entry = MakeEntry(actor_, op, dataset, purpose, decision, params);
  entry.result_hash = result_hash;
  return AppendEntry(std::move(entry));
}

absl::StatusOr<std::vector<store::ModelVersionInfo>> Session::ListModels() {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kModelRead, "", "", nlohmann::ordered_json::object()).status());
  return store::ModelRegistry(*workspace_).List();
}

absl::StatusOr<std::vector<store::ModelVersionInfo>> Session::ModelVersions(std::string_view name) {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kModelRead, "", "", {{"model", name}}).status());
  return store::ModelRegistry(*workspace_).Versions(name);
}

absl::StatusOr<store::StoredModel> Session::GetModel(const store::ModelRef& ref) {
  VEIL_RETURN_IF_ERROR(Authorize(Operation::kModelRead, "", "", {{"model", ref.name}}).status());
  return store::ModelRegistry(*workspace_).Get(ref);
}

absl::StatusOr<store::ModelVersionInfo> Session::RegisterModel(Operation trained_by, std::string_view name,
                                                               std::string_view dataset,
                                                               std::string_view purpose,
                                                               const nlohmann::ordered_json& card,
                                                               std::string_view payload) {
  if (trained_by != Operation::kTrain && trained_by != Operation::kTrainNonPrivate)
    return absl::InvalidArgumentError("RegisterModel takes a training operation");
  VEIL_RETURN_IF_ERROR(
      Authorize(trained_by, dataset, purpose, {{"model", name}, {"dataset", dataset}}).status());
  return store::ModelRegistry(*workspace_)
      .Put(name, dataset, actor_, card, payload,
           [](const store::ModelVersionInfo&) { return absl::OkStatus(); });
}

absl::StatusOr<store::ModelVersionInfo> Session::UpdateModelCard(Operation op, std::string_view dataset,
                                                                 std::string_view purpose,
                                                                 std::string_view name, int64_t version,
                                                                 const nlohmann::ordered_json& card) {
  if (op != Operation::kModelEvaluate && op != Operation::kModelFairness)
    return absl::InvalidArgumentError("UpdateModelCard takes model.evaluate or model.fairness");
  VEIL_RETURN_IF_ERROR(
      Authorize(op, dataset, purpose, {{"model", name}, {"version", version}, {"dataset", dataset}})
          .status());
  return store::ModelRegistry(*workspace_)
      .UpdateCard(name, version, card, [](const store::ModelVersionInfo&) { return absl::OkStatus(); });
}

}  // namespace veil::gov
