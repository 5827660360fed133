// Session: an actor's use of a workspace, the path every request takes (DESIGN.md section 4): who and why,
// the gate, the work, the audit entry. The CLI (and later the REST server) call these methods; none of them
// reaches the vault, the catalog or the key store around the gate.
//
// Auditing. Every operation that reads personal data or changes the workspace appends one entry to the
// audit log: actor, action, dataset, purpose, decision and its reason, the SHA-256 of the operation's
// canonical parameters, the SHA-256 of its result, and the pseudonyms of the subjects it concerned (never a
// subject id, a file path of the user's or a value from the data). Denials are audited too, for every
// operation, and return PermissionDenied with the gate's reason. The entry of an allowed operation is written
// before the operation commits (mutations: through the workspace's before_commit hook) or before its result
// is released (reads), so an operation whose entry cannot be written does not happen. Reading the catalog or
// the audit log itself is gated but not audited when allowed (it involves no personal data).
//
// Privacy budget. Every differentially private operation (gate.h's IsDpOperation) goes through RunCharged,
// the one path that checks and debits the dataset's budget in the ledger (store/ledger.h); the budget is read
// with GetBudget / ListBudgets and set with SetBudget.
//
// Thread safety: not thread-safe (the workspace is not). Sessions in several threads or processes are
// serialized by the workspace's LOCK file (Open waits for it).
#ifndef VEIL_GOV_SESSION_H_
#define VEIL_GOV_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/audit/audit_log.h"
#include "veil/base/env.h"
#include "veil/base/secret_bytes.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/gate.h"
#include "veil/store/ledger.h"
#include "veil/store/model_registry.h"
#include "veil/store/workspace.h"
#include "veil/table/table.h"

namespace veil::gov {

// Actor names: 1 to 128 printable ASCII characters without spaces or quotes ("alice", "svc-etl@bank").
absl::Status ValidateActor(std::string_view actor);

struct RoleGrant {
  std::string actor;
  Role role;
  std::string granted_by;
  absl::Time granted_at;
};

struct ExportResult {
  store::DatasetInfo dataset;
  std::string csv;                // the released bytes; their SHA-256 is the audit entry's result hash
  int64_t rows = 0;               // rows released
  int64_t excluded_subjects = 0;  // subjects left out (consent, objection, restriction: consent.h)
};

// What a differentially private operation costs, declared before it runs. The cost must follow from the
// operation's parameters (and public facts such as the schema), never from the data.
struct ChargeRequest {
  double epsilon = 0;  // > 0
  double delta = 0;    // in [0, 1)
  // The column whose values the guarantee protects (the privacy unit). It must be the dataset's subject
  // column: only then is the guarantee one per person (CheckPrivacyUnit).
  std::string privacy_unit_column;
  // What is computed, for the ledger and `veil budget`, without personal data: e.g. "COUNT(*), AVG(age)
  // GROUP BY sex", or the parameters' hash. 1 to 256 bytes, no control characters.
  std::string description;
};

// What a charged operation's `run` returns: the value the caller will release and the SHA-256 of exactly the
// bytes it will release (the audit entry's result hash).
template <typename T>
struct ChargedResult {
  T value;
  crypto::Sha256Digest result_hash{};
};

// The receipt of a committed charge.
struct ChargeReceipt {
  int64_t charge_id = 0;   // the ledger's charge id
  uint64_t audit_seq = 0;  // the seq of the operation's audit entry
  store::EpsilonDelta cost;
  store::EpsilonDelta total;      // the dataset's budget
  store::EpsilonDelta spent;      // including this charge
  store::EpsilonDelta remaining;  // after this charge
};

// An audited (not charged) operation's value and the seq of its audit entry.
template <typename T>
struct Audited {
  T value;
  uint64_t audit_seq = 0;
};

// A charged operation's value, releasable, and its receipt.
template <typename T>
struct Charged {
  T value;
  ChargeReceipt receipt;
};

struct SubjectFilter;  // consent.h

class Session {
 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Creates a workspace at `dir` (store::Workspace::Create) whose first owner is `actor`, and starts its
  // audit log with an "init" entry. Errors: as Workspace::Create; InvalidArgument for a bad actor name.
  static absl::StatusOr<std::unique_ptr<Session>> Init(base::Env& env, const std::string& dir,
                                                       const std::string& actor,
                                                       const store::WorkspaceCreateOptions& options);
  // Opens the workspace at `dir` for `actor` (store::Workspace::Open) and its audit log, which must exist.
  // Errors: as Workspace::Open and AuditLog::Open; DataLoss if the audit log is missing.
  static absl::StatusOr<std::unique_ptr<Session>> Open(base::Env& env, const std::string& dir,
                                                       const std::string& actor,
                                                       const std::optional<base::SecretBytes>& passphrase);

  const std::string& actor() const { return actor_; }
  absl::StatusOr<std::vector<Role>> Roles();

  // The gated, audited operations. PermissionDenied (after auditing the denial) when the gate refuses.
  absl::StatusOr<store::IngestResult> Ingest(const table::Table& table, const store::IngestRequest& request);
  // The dataset's rows as CSV, for `purpose`.
  absl::StatusOr<ExportResult> Export(std::string_view dataset, std::string_view purpose);
  // Erasure of the subject with this id (from `dataset` or from all). The id is pseudonymised at once; it is
  // never stored, logged or audited.
  absl::StatusOr<store::EraseResult> Erase(std::string_view subject_id,
                                           std::optional<std::string_view> dataset);
  absl::Status Grant(std::string_view actor, Role role);
  // Errors: NotFound if the actor does not hold the role; InvalidArgument when removing the last owner.
  absl::Status Revoke(std::string_view actor, Role role);

  // Gated, not audited when allowed.
  absl::StatusOr<std::vector<store::DatasetInfo>> ListDatasets();
  absl::StatusOr<store::DatasetInfo> GetDataset(std::string_view name);
  absl::StatusOr<std::vector<RoleGrant>> ListGrants();
  // The audit log, for `veil audit log/verify/proof` (kAuditRead) and `veil audit checkpoint`
  // (kAuditCheckpoint).
  absl::StatusOr<audit::AuditLog*> AuditLogFor(Operation op);

  // The privacy budget of a dataset (budget.read: owner, analyst, auditor; not audited when allowed), and of
  // every dataset. Reservations a crash left are settled first (see RunCharged).
  // Errors: PermissionDenied (audited); NotFound for an unknown dataset.
  absl::StatusOr<store::DatasetBudget> GetBudget(std::string_view dataset);
  absl::StatusOr<std::vector<store::DatasetBudget>> ListBudgets();
  // Sets the dataset's total budget, raising or lowering it (budget.set: owner; audited, the entry written
  // before the change commits). Errors: PermissionDenied (audited); InvalidArgument for a bad total or one
  // below what is already spent; NotFound for an unknown dataset; the audit log's.
  absl::StatusOr<store::DatasetBudget> SetBudget(std::string_view dataset, const store::EpsilonDelta& total);

  // THE path of every differentially private operation (queries now; synthetic data and DP-SGD later): it
  // runs `run` on the dataset's rows only if the gate allows `op` and the dataset's budget covers `cost`,
  // and returns the value only once the charge is committed and its audit entry is durable.
  //
  //   1. Validate `op` (IsDpOperation) and `cost`.                     InvalidArgument; nothing recorded
  //   2. The gate: role, and `purpose` declared for the dataset.       PermissionDenied, audited
  //      The privacy unit must be the dataset's subject column.        InvalidArgument (CheckPrivacyUnit)
  //   3. Settle reservations that earlier failures or crashes left.
  //   4. Reserve the charge: one write transaction checks that it fits what remains and records it, so no
  //      other session, thread or process can spend the same remainder. Before any data is read.
  //                                                                    ResourceExhausted, audited as a
  //                                                                    denial whose reason gives the cost
  //                                                                    and what remains (or that no budget
  //                                                                    is set)
  //   5. Read and decrypt the dataset; `run` it.                       a read error: the reservation is
  //                                                                    released (no charge). A `run` error
  //                                                                    (the rows were read): an audit entry
  //                                                                    records the failure and the cost, the
  //                                                                    charge is settled, and the error is
  //                                                                    returned with the entry's number
  //   6. Append the audit entry: cost, params hash (the parameters, the cost, the description and a random
  //      charge id), result hash. Durable (fdatasync) on return.       its error; the reservation is
  //                                                                    released (no charge)
  //   7. Settle the charge: link it to the entry's seq (commit).       Aborted; the result is withheld, the
  //                                                                    charge stays reserved and is settled
  //                                                                    on the next call
  //   8. Return the value: the caller may release it now.
  //
  // Crash points. Before 4 commits: nothing happened. Between 4 and 6: a reservation without an audit entry;
  // the next session releases it (no charge; nothing was released). Between 6 and 7: a reservation whose
  // audit entry is durable; the next session finds the entry (by the params hash and the charge id) and
  // settles the charge, so the ledger matches the audit trail (a charge for a result never released: the safe
  // side). After 7: the charge and entry exist; if the process dies before printing, the result is lost and
  // the charge stands. So no result is ever released without its charge committed and its audit entry
  // durable, and an unsettled reservation always counts as spent. (As the audit log documents, an entry
  // whose Append failed may reappear after a crash; it then records an operation that released nothing.)
  //
  // A failure of `run` is charged because it saw the rows: a failure that is free and unaudited would be an
  // oracle on them, answered outside the budget. So validate everything against the schema before calling
  // RunCharged (those errors are free), and make `run` fail on no value. `run` must not call back into this
  // Session (FailedPrecondition). `params` are the operation's canonical parameters (no personal data).
  template <typename T>
  absl::StatusOr<Charged<T>> RunCharged(
      Operation op, std::string_view dataset, std::string_view purpose, const ChargeRequest& cost,
      const nlohmann::ordered_json& params,
      absl::FunctionRef<absl::StatusOr<ChargedResult<T>>(const store::DatasetContents&)> run) {
    std::optional<T> value;
    absl::StatusOr<ChargeReceipt> receipt =
        RunChargedErased(op, dataset, purpose, cost, params, /*external=*/false,
                         [&](const store::DatasetInfo&) -> absl::StatusOr<crypto::Sha256Digest> {
                           VEIL_ASSIGN_OR_RETURN(store::DatasetContents data, ReadRows(dataset));
                           rows_read_ = true;
                           absl::StatusOr<ChargedResult<T>> r = run(data);
                           if (!r.ok()) return r.status();
                           value.emplace(std::move(r->value));
                           return r->result_hash;
                         });
    if (!receipt.ok()) return receipt.status();
    return Charged<T>{*std::move(value), *std::move(receipt)};
  }

  // RunCharged for an attached dataset (store::DatasetInfo::external: the rows live in an external
  // database): the same steps, gate, budget reserved before anything is read, audit entry, settlement, and
  // the same crash points, except that step 5 does not read the vault: `run` gets the catalog entry and
  // reads (or pushes the query down to) the external database itself. Errors: those of RunCharged;
  // FailedPrecondition (nothing recorded) if the dataset is not attached, and RunCharged's for one that is.
  // One difference: the session cannot tell whether a failing `run` got as far as reading rows (a refused
  // connection reads none), so a `run` error releases the reservation (no charge, nothing audited), and
  // `run`'s errors must not depend on the rows' values.
  template <typename T>
  absl::StatusOr<Charged<T>> RunChargedExternal(
      Operation op, std::string_view dataset, std::string_view purpose, const ChargeRequest& cost,
      const nlohmann::ordered_json& params,
      absl::FunctionRef<absl::StatusOr<ChargedResult<T>>(const store::DatasetInfo&)> run) {
    std::optional<T> value;
    absl::StatusOr<ChargeReceipt> receipt =
        RunChargedErased(op, dataset, purpose, cost, params, /*external=*/true,
                         [&](const store::DatasetInfo& info) -> absl::StatusOr<crypto::Sha256Digest> {
                           absl::StatusOr<ChargedResult<T>> r = run(info);
                           if (!r.ok()) return r.status();
                           value.emplace(std::move(r->value));
                           return r->result_hash;
                         });
    if (!receipt.ok()) return receipt.status();
    return Charged<T>{*std::move(value), *std::move(receipt)};
  }

  // The path of a gated, audited, NOT differentially private operation on a dataset's records (non-private
  // training, exact metrics and fairness rates of a model): the gate (role, declared purpose; a denial is
  // audited), the rows read and decrypted, `run`, then the audit entry (params, result hash), durable before
  // the value is returned. Errors: PermissionDenied (audited); InvalidArgument if `op` is a DP operation
  // (those go through RunCharged); NotFound for an unknown dataset; FailedPrecondition for an attached one;
  // `run`'s error (nothing audited: nothing was released); the audit log's (the value is withheld).
  template <typename T>
  absl::StatusOr<Audited<T>> RunAudited(
      Operation op, std::string_view dataset, std::string_view purpose, const nlohmann::ordered_json& params,
      absl::FunctionRef<absl::StatusOr<ChargedResult<T>>(const store::DatasetContents&)> run) {
    std::optional<T> value;
    absl::StatusOr<uint64_t> seq =
        RunAuditedErased(op, dataset, purpose, params,
                         [&](const store::DatasetContents& data) -> absl::StatusOr<crypto::Sha256Digest> {
                           absl::StatusOr<ChargedResult<T>> r = run(data);
                           if (!r.ok()) return r.status();
                           value.emplace(std::move(r->value));
                           return r->result_hash;
                         });
    if (!seq.ok()) return seq.status();
    return Audited<T>{*std::move(value), *seq};
  }

  // The model registry (store/model_registry.h). Reading it (list, cards, loading a model to score or
  // export) is model.read: gated, not audited when allowed (the operation that uses the model audits itself).
  absl::StatusOr<std::vector<store::ModelVersionInfo>> ListModels();
  absl::StatusOr<std::vector<store::ModelVersionInfo>> ModelVersions(std::string_view name);
  absl::StatusOr<store::StoredModel> GetModel(const store::ModelRef& ref);
  // Registers a new version of a model that `trained_by` (train or train.nonprivate) produced and audited
  // (RunCharged / RunAudited): the gate is asked again for that operation on the model's dataset and purpose;
  // the registration itself is covered by the training's audit entry, whose params name the model.
  // Errors: PermissionDenied (audited); the registry's.
  absl::StatusOr<store::ModelVersionInfo> RegisterModel(Operation trained_by, std::string_view name,
                                                        std::string_view dataset, std::string_view purpose,
                                                        const nlohmann::ordered_json& card,
                                                        std::string_view payload);
  // Replaces a version's card after `op` (model.evaluate or model.fairness, already audited) added its
  // results. Errors: PermissionDenied (audited); the registry's.
  absl::StatusOr<store::ModelVersionInfo> UpdateModelCard(Operation op, std::string_view dataset,
                                                          std::string_view purpose, std::string_view name,
                                                          int64_t version,
                                                          const nlohmann::ordered_json& card);

  // The keyed pseudonym of a subject id (store::Workspace::Pseudonym): how audit entries name a subject, so
  // that the subject's access request finds every entry that concerns them.
  std::string Pseudonym(std::string_view subject_id) const { return workspace_->Pseudonym(subject_id); }

  // Settles every reservation left unsettled by a failure or a crash (see RunCharged): one whose audit entry
  // exists becomes a committed charge, the others are released. Errors: the ledger's and the audit log's.
  absl::Status SettleReservations();

  // The general path, for operations of later modules: decides, audits a denial (returning
  // PermissionDenied), and on success returns the decision; the caller then runs the operation and calls
  // Record before releasing or committing its result.
  // `non_private_model`: see GateRequest::non_private_model (model.export and decide of a model trained
  // without DP need the role owner).
  absl::StatusOr<GateDecision> Authorize(Operation op, std::string_view dataset, std::string_view purpose,
                                         const nlohmann::ordered_json& params,
                                         bool non_private_model = false);
  // Appends the entry of an allowed operation. Errors: the audit log's (the caller must then not release or
  // commit the result).
  //
  // An automated decision (decide) about a subject who objected to the purpose, whose processing is
  // restricted, or who has not consented where consent is the purpose's legal basis (consent.h) is refused
  // here: PermissionDenied, audited as a denial naming the subject's pseudonym, and the decision must not be
  // released.
  absl::Status Record(Operation op, std::string_view dataset, std::string_view purpose,
                      const GateDecision& decision, const nlohmann::ordered_json& params,
                      std::optional<crypto::Sha256Digest> result_hash, std::vector<std::string> pseudonyms);
  // Record, returning the entry's seq.
  absl::StatusOr<uint64_t> RecordEntry(Operation op, std::string_view dataset, std::string_view purpose,
                                       const GateDecision& decision, const nlohmann::ordered_json& params,
                                       std::optional<crypto::Sha256Digest> result_hash,
                                       std::vector<std::string> pseudonyms);

  store::Workspace& workspace() { return *workspace_; }

 private:
  Session(std::unique_ptr<store::Workspace> workspace, std::unique_ptr<audit::AuditLog> log,
          std::string actor);

  // The one implementation of both: `run` (step 5) reads the data itself; `external` says which kind of
  // dataset the caller expects.
  absl::StatusOr<ChargeReceipt> RunChargedErased(
      Operation op, std::string_view dataset, std::string_view purpose, const ChargeRequest& cost,
      const nlohmann::ordered_json& params, bool external,
      absl::FunctionRef<absl::StatusOr<crypto::Sha256Digest>(const store::DatasetInfo&)> run);
  absl::StatusOr<uint64_t> RunAuditedErased(
      Operation op, std::string_view dataset, std::string_view purpose, const nlohmann::ordered_json& params,
      absl::FunctionRef<absl::StatusOr<crypto::Sha256Digest>(const store::DatasetContents&)> run);
  // Appends `entry`; an error says the operation was not done.
  absl::StatusOr<uint64_t> AppendEntry(audit::AuditEntry entry);
  // Computes the subject filter (consent.h) of an allowed operation on `dataset` for `purpose`; ReadRows then
  // reads the dataset through it and notes how many subjects it left out, which ExclusionNote puts into the
  // operation's audit reason.
  absl::Status PrepareFilter(std::string_view dataset, std::string_view purpose);
  absl::StatusOr<store::DatasetContents> ReadRows(std::string_view dataset);
  std::string ExclusionNote() const;
  // Audits a refusal and returns it as `code` with "refused: <reason>".
  absl::Status AuditDenial(Operation op, std::string_view dataset, std::string_view purpose,
                           const std::string& reason, const nlohmann::ordered_json& params,
                           absl::StatusCode code);

  std::unique_ptr<store::Workspace> workspace_;
  std::unique_ptr<audit::AuditLog> log_;
  std::string actor_;
  bool charging_ = false;   // inside RunCharged
  bool rows_read_ = false;  // inside RunCharged: the vault was read and `run` handed the rows
  // The subject filter of the operation in progress (PrepareFilter), and what its read left out.
  std::unique_ptr<SubjectFilter> filter_;
  int64_t excluded_subjects_ = 0;
};

// OK if `privacy_unit_column` is the dataset's subject column, so that a DP guarantee for that unit protects
// each person; otherwise InvalidArgument saying which column it must be.
absl::Status CheckPrivacyUnit(const store::DatasetInfo& dataset, std::string_view privacy_unit_column);

// The canonical bytes of a parameter object (its compact JSON dump) and their SHA-256: what the audit entry's
// params_hash covers.
crypto::Sha256Digest ParamsHash(const nlohmann::ordered_json& params);

}  // namespace veil::gov

#endif  // VEIL_GOV_SESSION_H_
