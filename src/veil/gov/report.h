// Reports generated from facts (issue 11, item 5): the record of processing activities of GDPR Art. 30(1)
// (`veil report ropa`) and the data protection impact assessment of Art. 35(7) in the structure of the CNIL's
// PIA method (`veil dpia`): 1 context, 2 fundamental principles, 3 risks, 4 measures, 5 validation.
//
// Two halves, kept apart so that tests can render fixed facts against golden files:
//
//   - Gathering (GatherRopaFacts, GatherDpiaFacts) reads the workspace through a Session into plain structs:
//     the data map (catalog.h), the retention rules and what is due (retention.h), consent coverage
//     (consent.h), the privacy-budget ledger, the model registry's cards, and facts measured now: every vault
//     file re-hashed against the catalog, the data keys of each dataset unwrapped and counted, the audit log
//     verified (Merkle tree heads and signed checkpoints), and for the DPIA the prosecutor re-identification
//     risk (anon/risk.h) of the columns the data map marks as quasi-identifiers, one record per person.
//   - Rendering (RenderRopa*, RenderDpia*) turns facts into text, self-contained HTML (print CSS: one section
//     per printed page group, no script, every string escaped) or JSON. Pure functions of the facts.
//
// The gate. Generating a report is the operation report.ropa or report.dpia (gate.h: owner or auditor),
// decided first (a refusal is audited) and audited when allowed: the entry, written before the facts are
// returned, names the dataset and purpose (DPIA) and carries as result hash the SHA-256 of the facts' JSON
// without the entry's own number (FactsHash); the facts then record that number (ReportHeader::audit_seq),
// so a printed report points at the entry that vouches for it. The reads the gatherer composes are gated too
// (datasets, retention.read, budget.read, model.read, audit.read, grants: all open to owners and
// auditors), so a report never shows its reader more than the reader could see piece by piece.
//
// No personal data. Reports hold names of datasets, columns, categories, purposes, recipients and models,
// counts and figures: never a value from the data, a subject id or a pseudonym (a failed check's message
// loses the pseudonym prefix the store names subjects by). The re-identification risk
// reads the quasi-identifier columns of every record held (the data at rest is what an intruder would get)
// and releases only the figures. Model cards contribute their fairness figures and verdicts, not the group
// labels (values of a protected attribute).
//
// Thread safety: gathering as the Session (not thread-safe); rendering is pure and thread-safe.
#ifndef VEIL_GOV_REPORT_H_
#define VEIL_GOV_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/crypto/sha256.h"
#include "veil/gov/catalog.h"
#include "veil/gov/dsr.h"
#include "veil/gov/retention.h"
#include "veil/gov/session.h"
#include "veil/store/ledger.h"

namespace veil::gov {

// What the person generating a report adds that the workspace does not hold (Art. 30(1)(a)).
struct ReportOptions {
  std::string controller;  // name and contact details of the controller ("" : a field to fill in)
  std::string dpo;         // of the data protection officer, where there is one ("" : a field to fill in)
};

// Who generated a report, when, and the audit entry that vouches for it.
struct ReportHeader {
  std::string workspace_id;
  absl::Time generated_at;
  std::string generated_by;  // the actor
  std::string controller;    // ReportOptions
  std::string dpo;
  uint64_t audit_seq = 0;  // the report's own audit entry
};

// The audit log, verified when the report was gathered (audit::AuditLog::Verify).
struct AuditIntegrityFacts {
  bool verified = false;
  std::string error;  // why verification failed (when !verified)
  uint64_t entries = 0;
  std::string root;  // the recomputed tree head, hex
  uint64_t checkpoints = 0;
  int64_t denials = 0;  // entries that record a refusal of the gate
};

// Who may act: the number of actors holding each role.
struct GateFacts {
  int64_t owners = 0;
  int64_t analysts = 0;
  int64_t auditors = 0;
};

// One dataset's encryption at rest, measured.
struct EncryptionFacts {
  std::string dataset;
  bool attached = false;  // rows in an external database (veil attach): not encrypted by Veil
  int64_t subjects = 0;   // subjects in the catalog
  int64_t data_keys = 0;  // data keys in keys.db for the dataset, each unwrapped under the master key now
  int64_t vault_files = 0;
  int64_t vault_bytes = 0;
  bool vault_verified = false;  // every vault file re-hashed against the catalog now, record counts checked
  std::string vault_error;      // why not (when !vault_verified and not attached)
};

// One dataset's privacy budget (store/ledger.h; basic composition).
struct BudgetFacts {
  std::string dataset;
  bool has_total = false;  // without a total, differentially private operations are refused
  store::EpsilonDelta total;
  store::EpsilonDelta spent;
  store::EpsilonDelta remaining;
  int64_t charges = 0;
};

// One retention rule, as a report shows it.
struct RetentionRuleFacts {
  std::string category;  // "" = the whole dataset
  int64_t days = 0;
  std::string trigger;  // "ingest" or "column:NAME"
};

// One dataset's retention now (retention.h).
struct RetentionFacts {
  std::string dataset;
  std::vector<RetentionRuleFacts> rules;  // empty: no rule, nothing is erased by retention
  int64_t subjects = 0;
  int64_t due = 0;      // due and not held
  int64_t held = 0;     // due but under a legal hold
  int64_t undated = 0;  // no date under any rule that applies
  int64_t holds = 0;    // legal holds in force
  std::optional<absl::Time> next_due;
  // Non-empty: what is due could not be computed (e.g. a column rule's dates are read from a vault file that
  // fails its check); the counts above are then 0. A fact, like a failed vault check, not an error.
  std::string error;
};

// --- Record of processing activities (Art. 30(1)) ---

// One processing activity: a dataset used for a purpose, as declared.
struct RopaActivity {
  Declaration declaration;
  std::vector<std::string> categories;          // categories of personal data the dataset holds
  std::vector<std::string> special_categories;  // of them, Art. 9 and 10
  int64_t subjects = 0;                         // 0 for an attached dataset (not counted)
  bool attached = false;
};

struct RopaFacts {
  ReportHeader header;
  std::vector<RopaActivity> activities;  // dataset, then purpose order
  // Declared purposes without a declaration, and other findings of the data map, as "dataset: finding".
  std::vector<std::string> findings;
  // Art. 30(1)(f) and (g): retention and the measured security measures, per dataset (name order).
  std::vector<RetentionFacts> retention;
  std::vector<EncryptionFacts> encryption;
  std::vector<BudgetFacts> budgets;
  AuditIntegrityFacts audit;
  GateFacts gate;
};

// --- DPIA (Art. 35(7), CNIL PIA structure) ---

// A column of the dataset, as the data map describes it (no values).
struct DpiaColumn {
  std::string name;
  std::string type;
  bool subject_column = false;
  bool classified = false;  // has an annotation
  std::vector<std::string> categories;
  std::string role;  // "direct_identifier", "quasi_identifier", "free_text", "none"
  Special special = Special::kNone;
  bool confirmed = false;
};

// The prosecutor re-identification risk of the quasi-identifier columns (anon/risk.h, El Emam 2013), over
// every row held with one record per person and combination of quasi-identifier values: the model's unit is
// the person, so a subject's repeated rows (visits, stays) do not make their class look larger.
struct QuasiIdentifierRisk {
  std::vector<std::string> columns;  // the columns the data map marks quasi_identifier
  bool assessed = false;
  std::string not_assessed;  // why not, in words (no column marked, an attached dataset)
  int64_t records = 0;       // n: distinct (subject, quasi-identifier values) among the rows
  int64_t classes = 0;
  double threshold = 0;  // a record is at risk when 1 / (its class size) exceeds it
  double highest = 0;
  double average = 0;
  double records_at_risk = 0;  // fraction
  double sample_uniques = 0;   // fraction
  int64_t smallest_class = 0;
};

// Consent coverage of the purpose on the dataset (consent.h), now.
struct ConsentCoverage {
  bool consent_basis = false;     // the governing declaration rests on consent (Art. 6(1)(a) or 9(2)(a))
  std::string governing_purpose;  // the declaration's purpose
  int64_t subjects = 0;           // subjects in the dataset
  int64_t consented = 0;          // with a current, unexpired consent (consent basis only)
  int64_t excluded = 0;           // objected to the purpose or restricted (Art. 21, 18)
  int64_t usable = 0;             // whose rows the gate lets the purpose use
};

// A model trained on the dataset (the model registry's card), and its fairness audit.
struct ModelFacts {
  struct Attribute {
    std::string attribute;
    std::string verdict;  // PASS, WARN, FAIL, INCONCLUSIVE
    double demographic_parity_difference = 0;
    double disparate_impact_ratio = 0;
    double equal_opportunity_difference = 0;
    int64_t groups_compared = 0;
    int64_t suppressed_groups = 0;  // groups below the card's minimum size, not shown
  };
  std::string name;
  int64_t version = 0;
  std::string purpose;
  std::string kind;
  std::string privacy;  // "dp-sgd epsilon=..., delta=..." or "non-private"
  bool fairness_audited = false;
  std::string fairness_at;
  std::vector<Attribute> fairness;
};

struct DpiaFacts {
  ReportHeader header;
  std::string dataset;
  std::string purpose;
  // 1. Context.
  std::string kind;  // "vault" or "postgresql"
  int64_t rows = 0;
  int64_t subjects = 0;
  int64_t sources = 0;  // files ingested
  std::vector<DpiaColumn> columns;
  std::vector<std::string> categories;
  std::vector<std::string> special_categories;
  std::vector<std::string> findings;  // of the data map, for this dataset
  // 2. Fundamental principles.
  bool purpose_declared = false;           // among the dataset's purposes: the gate accepts it
  std::optional<Declaration> declaration;  // the one that governs the purpose
  ConsentCoverage consent;
  RetentionFacts retention;
  int64_t objections = 0;    // in force, workspace-wide
  int64_t restrictions = 0;  // in force, workspace-wide
  DsrCounts requests;        // subject requests concerning the dataset (dsr.h): counts only
  // 3 and 4. Risks and measures.
  QuasiIdentifierRisk risk;
  BudgetFacts budget;
  EncryptionFacts encryption;
  AuditIntegrityFacts audit;
  GateFacts gate;
  std::vector<ModelFacts> models;  // trained on the dataset, name order
};

// Gathers the facts (see the file comment). Errors: PermissionDenied (audited); the audit log's (nothing is
// returned); DataLoss from damaged metadata. A vault file or an audit log that fails its check is a fact, not
// an error: the facts say so (EncryptionFacts::vault_verified, AuditIntegrityFacts::verified).
absl::StatusOr<RopaFacts> GatherRopaFacts(Session& session, const ReportOptions& options);
// Errors: as GatherRopaFacts; NotFound for an unknown dataset; InvalidArgument for a purpose that is not a
// valid key (the purpose need not be declared yet: a DPIA comes before the processing).
absl::StatusOr<DpiaFacts> GatherDpiaFacts(Session& session, std::string_view dataset,
                                          std::string_view purpose, const ReportOptions& options);

// JSON (the `--json` documents): every field of the facts. Times RFC 3339 UTC.
nlohmann::ordered_json RopaToJson(const RopaFacts& facts);
nlohmann::ordered_json DpiaToJson(const DpiaFacts& facts);
// The SHA-256 of the JSON's compact dump with header.audit_seq set to 0: the audit entry's result hash.
crypto::Sha256Digest FactsHash(nlohmann::ordered_json doc);

// Plain text for a terminal.
std::string RenderRopaText(const RopaFacts& facts);
std::string RenderDpiaText(const DpiaFacts& facts);
// One self-contained HTML document (inline CSS with print rules; no script, no external resource).
std::string RenderRopaHtml(const RopaFacts& facts);
std::string RenderDpiaHtml(const DpiaFacts& facts);

}  // namespace veil::gov

#endif  // VEIL_GOV_REPORT_H_
