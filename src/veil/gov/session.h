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
// Thread safety: not thread-safe (the workspace is not).
#ifndef VEIL_GOV_SESSION_H_
#define VEIL_GOV_SESSION_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/audit/audit_log.h"
#include "veil/base/env.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/sha256.h"
#include "veil/gov/gate.h"
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
  std::string csv;  // the released bytes; their SHA-256 is the audit entry's result hash
};

class Session {
 public:
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

  // The general path, for operations of later modules: decides, audits a denial (returning
  // PermissionDenied), and on success returns the decision; the caller then runs the operation and calls
  // Record before releasing or committing its result.
  absl::StatusOr<GateDecision> Authorize(Operation op, std::string_view dataset, std::string_view purpose,
                                         const nlohmann::ordered_json& params);
  // Appends the entry of an allowed operation. Errors: the audit log's (the caller must then not release or
  // commit the result).
  absl::Status Record(Operation op, std::string_view dataset, std::string_view purpose,
                      const GateDecision& decision, const nlohmann::ordered_json& params,
                      std::optional<crypto::Sha256Digest> result_hash, std::vector<std::string> pseudonyms);

  store::Workspace& workspace() { return *workspace_; }

 private:
  Session(std::unique_ptr<store::Workspace> workspace, std::unique_ptr<audit::AuditLog> log,
          std::string actor)
      : workspace_(std::move(workspace)), log_(std::move(log)), actor_(std::move(actor)) {}

  std::unique_ptr<store::Workspace> workspace_;
  std::unique_ptr<audit::AuditLog> log_;
  std::string actor_;
};

// The canonical bytes of a parameter object (its compact JSON dump) and their SHA-256: what the audit entry's
// params_hash covers.
crypto::Sha256Digest ParamsHash(const nlohmann::ordered_json& params);

}  // namespace veil::gov

#endif  // VEIL_GOV_SESSION_H_
