// The gate: the one place that decides whether an actor may perform an
// operation (DESIGN.md section 4, step 2). It is a pure function of the
// request, so every decision can be tested on its own and explained: a denial
// always says why.
//
// Roles (granted by an owner with `veil grant ACTOR ROLE`):
//   owner    everything: ingest or attach, export personal data, erase, grant
//   and revoke roles, read the audit
//            log, restore pseudonymized text to its original values
//   analyst  population-level use of datasets through privacy-preserving
//   techniques (DP queries; training and
//            synthetic data), within each dataset's privacy budget; sees the
//            catalog and the budgets; de-identifies text and tables with the
//            workspace's keys; never raw records, never re-identifies
//   auditor  reads the catalog, the budgets and the audit log, verifies it,
//   asks for proofs and checkpoints,
//            reads the model registry's cards, generates the reports (report.h:
//            ROPA, DPIA); never data
//
// Models (issue 9; docs/ml.md "Who may do what"). DP training (train) is for
// owners and analysts, charged. A non-private model is derived from the records
// without any bound on what it reveals about one of them, so training one
// (train.nonprivate), and computing exact metrics or per-group rates on a
// dataset's records (model.evaluate, model.fairness), are owner operations with
// a declared purpose, like an export. Scoring (decide) and exporting a
// registered model are for owners and analysts.
//
// Owners set each dataset's privacy budget; differentially private operations
// (IsDpOperation) run only through gov::Session::RunCharged, which adds the
// budget check to the gate's decision.
//
// Purposes (purpose limitation, GDPR Art. 5(1)(b)). An operation on a dataset's
// personal data declares a purpose, which must be one of the dataset's declared
// purposes or a narrower one below it in the dotted hierarchy: a dataset
// declared for "research" may be used for "research.cohort", not the reverse.
//
// Later checks (consent, restriction, retention) plug in here, not in the
// commands.
#ifndef VEIL_GOV_GATE_H_
#define VEIL_GOV_GATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::gov {

enum class Role { kOwner, kAnalyst, kAuditor };

// "owner", "analyst", "auditor".
const char* RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// What an actor asks to do. The name of each is the audit entry's action.
enum class Operation {
  kInit,             // "init": create the workspace (its creator becomes owner)
  kIngest,           // "ingest": store a table in the vault, declaring its purposes
  kListDatasets,     // "datasets": read the catalog (no personal data)
  kExport,           // "export": decrypt a dataset's personal data out of the vault
  kErase,            // "erase": erasure of a data subject (GDPR Art. 17)
  kGrant,            // "grant": give an actor a role
  kRevoke,           // "revoke": take a role away
  kListGrants,       // "grants": who holds which role
  kAuditRead,        // "audit.read": read, verify and prove the audit log
  kAuditCheckpoint,  // "audit.checkpoint": sign the current tree head
  kBudgetSet,        // "budget.set": set a dataset's total privacy budget
  kBudgetRead,       // "budget.read": a dataset's budget, spent, remaining and
                     // charges (no personal data)
  kQuery,            // "query": a differentially private query, charged to the dataset's
                     // budget
  kAttach,           // "attach": register an external table (PostgreSQL) as a dataset,
                     // declaring its purposes
  kPiiRedact,        // "pii.redact": de-identify text or a table with the workspace's
                     // keys (token, FF1, pseudonyms with a sealed mapping)
  kPiiRestore,       // "pii.restore": put original values back from a sealed
                     // pseudonym mapping (re-identification)
  kDicomDeid,        // "dicom.deid": de-identify DICOM files with keys derived from
                     // the workspace (UID mapping, date shifts)
  kSynth,            // "synth": differentially private synthetic data from a dataset,
                     // charged to its budget
  kTrain,            // "train": DP-SGD training on a dataset, charged to its budget (the
                     // model is registered)
  kTrainNonPrivate,  // "train.nonprivate": training without DP on a dataset: the
                     // model may memorise records, so it is treated like an
                     // export of personal data (owner, declared purpose)
  kModelRead,        // "model.read": the model registry: list, cards, and loading a
                     // model to score
  kModelExport,      // "model.export": a registered model's parameters written out
                     // (HE scoring format)
  kModelEvaluate,    // "model.evaluate": exact metrics of a model on a dataset's
                     // records (not DP)
  kModelFairness,    // "model.fairness": exact per-group rates of a model on a
                     // dataset's records (not DP)
  kDecide,           // "decide": automated decisions on records the caller supplies, each
                     // audited under the subject's pseudonym (GDPR Art. 22)
  // Governance (issue 11; catalog.h, consent.h, retention.h, dsr.h, report.h).
  kCatalogAnnotate,  // "catalog.annotate": set or confirm the data categories of
                     // a column
  kCatalogDeclare,   // "catalog.declare": record a processing declaration
                     // (purpose, legal basis, ...)
  kTaxonomyAdd,      // "taxonomy.add": extend the taxonomy of categories, uses or
                     // subject types
  kConsentGrant,     // "consent.grant": record a subject's consent to a purpose
  kConsentWithdraw,  // "consent.withdraw": record its withdrawal (Art. 7(3))
  kConsentImport,    // "consent.import": record consents and withdrawals from a
                     // file
  kConsentRead,      // "consent.read": a subject's consent history, restrictions;
                     // summaries
  kObjection,        // "objection": record a subject's objection to processing (Art.
                     // 21)
  kObjectionLift,    // "objection.lift": lift it
  kRestriction,      // "restriction": restrict the processing of a subject's data
                     // (Art. 18)
  kRestrictionLift,  // "restriction.lift": lift it
  // Retention (retention.h; Art. 5(1)(e), 17(1)(a), 17(3)(e)).
  kRetentionSet,      // "retention.set": set or remove a retention rule of a dataset
                      // or category
  kRetentionHold,     // "retention.hold": place or release a legal hold (suspends
                      // erasure by retention)
  kRetentionEnforce,  // "retention.enforce": erase what is due by
                      // crypto-shredding
  kRetentionRead,     // "retention.read": the rules, holds and how many subjects
                      // are due when (counts)
  // Subject requests (dsr.h; Art. 12, 15-21): personal data of one subject, so
  // owner only.
  kDsrOpen,    // "dsr.open": record a subject's request (its Art. 12(3) deadline
               // starts)
  kDsrUpdate,  // "dsr.update": verify the requester's identity, reject (with
               // reason) or extend a request
  kDsrRun,     // "dsr.run": carry a request out: release a subject's data (access,
               // portability), erase, restrict, record an objection
  kDsrRead,    // "dsr.read": a request's state, steps and deadline; the list of
               // requests (pseudonyms only)
  // Reports (report.h): facts about the processing, no personal data; for
  // owners and auditors (the DPO).
  kReportRopa,  // "report.ropa": the record of processing activities (Art.
                // 30(1))
  kReportDpia,  // "report.dpia": a data protection impact assessment of a
                // dataset and purpose (Art. 35(7))
};

const char* OperationName(Operation op);

struct GateRequest {
  std::string actor;
  std::vector<Role> roles;  // the actor's roles
  Operation op = Operation::kListDatasets;
  std::string dataset;                        // "" if the operation is not on one dataset
  std::string purpose;                        // "" if none was declared
  std::vector<std::string> dataset_purposes;  // the dataset's declared purposes
  // The operation (model.export, decide) uses a model trained WITHOUT
  // differential privacy (its card's privacy mode is not "dp-sgd"). Such a
  // model's parameters and pipeline are exact statistics of the data (category
  // lists holding personal values, exact means), so only the role owner may
  // export it or run it.
  bool non_private_model = false;
};

struct GateDecision {
  bool allowed = false;
  std::string reason;  // e.g. "role owner; purpose \"research\" declared for the
                       // dataset"
};

// Which roles may perform `op`, and whether it needs a declared purpose.
std::vector<Role> RolesAllowed(Operation op);
bool NeedsPurpose(Operation op);
// Whether `op` is differentially private: it runs through Session::RunCharged
// and is charged to the dataset's privacy budget (today: query, synth and
// train).
bool IsDpOperation(Operation op);
// The first of `roles`, in RolesAllowed(op) order, that may perform `op`;
// nullopt if none may.
std::optional<Role> RoleFor(Operation op, const std::vector<Role>& roles);

// True if `purpose` is `declared` or below it in the dotted hierarchy
// ("research.cohort" under "research").
bool PurposeCovers(std::string_view declared, std::string_view purpose);

// The decision for `request`. Pure and thread-safe.
GateDecision Decide(const GateRequest& request);

}  // namespace veil::gov

#endif  // VEIL_GOV_GATE_H_
