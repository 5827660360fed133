#include "veil/gov/report.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "veil/anon/risk.h"
#include "veil/audit/audit_log.h"
#include "veil/base/hex.h"
#include "veil/base/html.h"
#include "veil/base/status_macros.h"
#include "veil/base/text_format.h"
#include "veil/base/utf8.h"
#include "veil/gov/consent.h"
#include "veil/store/model_registry.h"
#include "veil/table/table.h"

namespace veil::gov {
namespace {

using Json = nlohmann::ordered_json;
using base::DisplayWidth;
using base::FormatBytes;
using base::HtmlEscape;
using base::WithThousands;

// ---------------------------------------------------------------------------------------------------------
// Gathering
// ---------------------------------------------------------------------------------------------------------

// A name or contact line the person generating the report typed: valid UTF-8, no control characters.
absl::Status ValidateOptions(const ReportOptions& o) {
  VEIL_RETURN_IF_ERROR(ValidateText("the controller", o.controller, 256, true));
  return ValidateText("the DPO", o.dpo, 256, true);
}

// A failed check's message, fit for a report that is printed and passed around: the store names a subject
// in its messages by a pseudonym prefix (16 hex digits, "3f2a…"), which a report must not hold. Every run of
// 16 or more hex digits goes; file and dataset names, counts and the kind of failure stay.
std::string MessageWithoutPseudonyms(const absl::Status& status) {
  constexpr size_t kPseudonymPrefix = 16;
  const std::string_view message(status.message().data(), status.message().size());
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t end = i;
    while (end < message.size() && absl::ascii_isxdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end == i) {
      out += message[i++];
      continue;
    }
    out += end - i >= kPseudonymPrefix ? std::string_view("[redacted]") : message.substr(i, end - i);
    i = end;
  }
  return out;
}

Json OptionsJson(const ReportOptions& o) { return {{"controller", o.controller}, {"dpo", o.dpo}}; }

ReportHeader MakeHeader(Session& s, const ReportOptions& o) {
  ReportHeader h;
  h.workspace_id = s.workspace().id();
  // Whole seconds: the report shows the time to the second, and the JSON is then the same as the text.
  h.generated_at = absl::FromUnixSeconds(absl::ToUnixSeconds(s.workspace().env().Now()));
  h.generated_by = s.actor();
  h.controller = o.controller;
  h.dpo = o.dpo;
  return h;
}

// The audit log verified now, and the refusals it records (read in chunks: a log may hold millions).
absl::StatusOr<AuditIntegrityFacts> MeasureAudit(Session& s) {
  VEIL_ASSIGN_OR_RETURN(audit::AuditLog * log, s.AuditLogFor(Operation::kAuditRead));
  AuditIntegrityFacts f;
  absl::StatusOr<audit::AuditVerifyReport> r = log->Verify();
  if (!r.ok()) {
    f.error = MessageWithoutPseudonyms(r.status());
    return f;
  }
  f.verified = true;
  f.entries = r->entries;
  f.root = base::HexEncode(r->root);
  f.checkpoints = r->checkpoints;
  constexpr uint64_t kChunk = 10000;
  for (uint64_t seq = 0; seq < f.entries; seq += kChunk) {
    VEIL_ASSIGN_OR_RETURN(std::vector<audit::AuditEntry> entries, log->ReadEntries(seq, kChunk));
    for (const audit::AuditEntry& e : entries) f.denials += e.decision == audit::Decision::kDenied;
    if (entries.empty()) break;
  }
  return f;
}

absl::StatusOr<GateFacts> MeasureGate(Session& s) {
  VEIL_ASSIGN_OR_RETURN(std::vector<RoleGrant> grants, s.ListGrants());
  GateFacts g;
  for (const RoleGrant& r : grants) {
    g.owners += r.role == Role::kOwner;
    g.analysts += r.role == Role::kAnalyst;
    g.auditors += r.role == Role::kAuditor;
  }
  return g;
}

// What the catalog says of a dataset's encryption at rest, before anything is measured.
EncryptionFacts CatalogEncryptionFacts(const store::DatasetInfo& info) {
  EncryptionFacts f;
  f.dataset = info.name;
  f.attached = info.external.has_value();
  f.subjects = info.subjects;
  f.vault_files = info.vault_files;
  f.vault_bytes = info.vault_bytes;
  return f;
}

// Encryption at rest of one dataset, measured: its data keys unwrapped and counted, every vault file
// re-hashed against the catalog and every subject with a record listed in it (Workspace::VerifyVault).
EncryptionFacts MeasureEncryption(store::Workspace& ws, const store::DatasetInfo& info) {
  EncryptionFacts f = CatalogEncryptionFacts(info);
  if (f.attached) return f;
  absl::StatusOr<absl::flat_hash_map<std::string, base::SecretBytes>> keys =
      ws.key_store().LoadKeys(info.name);
  if (!keys.ok()) {
    f.vault_error = absl::StrCat("the data keys did not unwrap under the master key: ",
                                 MessageWithoutPseudonyms(keys.status()));
    return f;
  }
  f.data_keys = static_cast<int64_t>(keys->size());
  const absl::Status verified = ws.VerifyVault(info.name);
  if (!verified.ok()) {
    f.vault_error = MessageWithoutPseudonyms(verified);
    return f;
  }
  f.vault_verified = true;
  return f;
}

// Encryption at rest of the DPIA's dataset, from the one read of its vault (`data`: Workspace::ReadVerified):
// every vault file checked whole against the catalog's SHA-256, every record opened (authenticated) under its
// subject's data key, unwrapped under the master key, and every subject matched with the catalog both ways,
// so the data keys unwrapped are the catalog's subjects.
EncryptionFacts EncryptionFromRead(const store::DatasetInfo& info,
                                   const absl::StatusOr<store::DatasetContents>& data) {
  EncryptionFacts f = CatalogEncryptionFacts(info);
  if (f.attached) return f;
  if (!data.ok()) {
    f.vault_error = MessageWithoutPseudonyms(data.status());
    return f;
  }
  f.data_keys = info.subjects;
  f.vault_verified = true;
  return f;
}

BudgetFacts ToBudgetFacts(const store::DatasetBudget& b) {
  BudgetFacts f;
  f.dataset = b.dataset;
  f.has_total = b.total.has_value();
  if (b.total) f.total = b.total->amount;
  f.spent = b.spent;
  f.remaining = b.remaining;
  f.charges = static_cast<int64_t>(b.charges.size());
  return f;
}

RetentionFacts ToRetentionFacts(const DatasetRetention& d) {
  RetentionFacts f;
  f.dataset = d.dataset;
  for (const RetentionRule& r : d.rules) f.rules.push_back({r.category, r.days, RetentionTriggerText(r)});
  f.subjects = d.subjects;
  f.due = d.due;
  f.held = d.held;
  f.undated = d.undated;
  f.holds = static_cast<int64_t>(d.holds.size());
  f.next_due = d.next_due;
  if (!d.error.ok()) f.error = MessageWithoutPseudonyms(d.error);
  return f;
}

// Retention of every dataset (datasets without rules get facts without rules). A dataset whose status
// cannot be computed (a column rule reads its dates from a vault file that fails its check) is a fact of its
// own: its rules and why (RetentionFacts::error); the others are computed. Errors: PermissionDenied
// (audited); workspace.db's.
absl::StatusOr<std::vector<RetentionFacts>> MeasureRetention(Session& s, const DataMap& map) {
  VEIL_ASSIGN_OR_RETURN(const RetentionStatus status, Retention(s).Status());
  std::vector<RetentionFacts> out;
  for (const MappedDataset& m : map.datasets) {
    RetentionFacts f;
    f.dataset = m.info.name;
    f.subjects = m.info.subjects;
    for (const DatasetRetention& d : status.datasets) {
      if (d.dataset == m.info.name) f = ToRetentionFacts(d);
    }
    out.push_back(std::move(f));
  }
  return out;
}

// The retention of one dataset (the DPIA's), from the rows already read if a column rule needs them; what
// cannot be computed is a fact (RetentionFacts::error). Errors: PermissionDenied (audited); workspace.db's.
absl::StatusOr<RetentionFacts> MeasureDatasetRetention(Session& s, const store::DatasetInfo& info,
                                                       const absl::StatusOr<store::DatasetContents>* data) {
  VEIL_ASSIGN_OR_RETURN(const DatasetRetention d, Retention(s).StatusOf(info.name, data));
  return ToRetentionFacts(d);
}

double Number(const nlohmann::ordered_json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nan("");
  return j[key].get<double>();
}
std::string Text(const nlohmann::ordered_json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

// The model's card, without group labels (values of a protected attribute).
ModelFacts ToModelFacts(const store::ModelVersionInfo& m) {
  ModelFacts f;
  f.name = m.name;
  f.version = m.version;
  const Json& c = m.card;
  f.purpose = Text(c, "purpose");
  f.kind = Text(c, "kind");
  const Json privacy = c.is_object() && c.contains("privacy") ? c["privacy"] : Json();
  const std::string mode = Text(privacy, "mode");
  f.privacy = mode == "dp-sgd"
                  ? absl::StrCat("dp-sgd, epsilon ", store::FormatDouble(Number(privacy, "epsilon")),
                                 ", delta ", store::FormatDouble(Number(privacy, "delta")))
                  : (mode.empty() ? std::string("unknown") : mode);
  const Json fairness = c.is_object() && c.contains("fairness") ? c["fairness"] : Json();
  if (fairness.is_object()) {
    f.fairness_audited = true;
    f.fairness_at = Text(fairness, "at");
    if (fairness.contains("attributes") && fairness["attributes"].is_array()) {
      for (const Json& a : fairness["attributes"]) {
        ModelFacts::Attribute x;
        x.attribute = Text(a, "attribute");
        x.verdict = Text(a, "verdict");
        x.demographic_parity_difference = Number(a, "demographic_parity_difference");
        x.disparate_impact_ratio = Number(a, "disparate_impact_ratio");
        x.equal_opportunity_difference = Number(a, "equal_opportunity_difference");
        if (a.is_object() && a.contains("groups") && a["groups"].is_array())
          x.groups_compared = static_cast<int64_t>(a["groups"].size());
        const double suppressed = Number(a, "suppressed_groups");
        if (!std::isnan(suppressed)) x.suppressed_groups = static_cast<int64_t>(suppressed);
        f.fairness.push_back(std::move(x));
      }
    }
  }
  return f;
}

// The pseudonyms (hex) of a dataset's subjects.
absl::StatusOr<std::vector<std::string>> SubjectPseudonyms(store::Workspace& ws, std::string_view dataset) {
  VEIL_ASSIGN_OR_RETURN(store::Statement st,
                        ws.metadata().Prepare("SELECT s.pseudonym FROM subject s JOIN dataset d ON "
                                              "d.id = s.dataset_id WHERE d.name = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  std::vector<std::string> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(base::HexEncode(st.ColumnBlob(0)));
  }
  return out;
}

// `subjects`: the dataset's pseudonyms (SubjectPseudonyms).
absl::StatusOr<ConsentCoverage> MeasureConsent(store::Workspace& ws, const store::DatasetInfo& info,
                                               std::string_view purpose, absl::Time now,
                                               const std::vector<std::string>& subjects) {
  ConsentCoverage c;
  VEIL_ASSIGN_OR_RETURN(SubjectFilter filter, ComputeSubjectFilter(ws, info.name, purpose, now));
  c.consent_basis = filter.opt_in;
  c.governing_purpose = filter.governing_purpose;
  c.subjects = static_cast<int64_t>(subjects.size());
  for (const std::string& p : subjects) {
    if (filter.opt_in && filter.Consented(p)) ++c.consented;
    if (filter.Excluded(p)) ++c.excluded;
    if (filter.Keep(p)) ++c.usable;
  }
  return c;
}

// The rows of `table` with one row per person and combination of quasi-identifier values. The prosecutor
// model's unit is the person (risk 1 / f_j assumes one record per individual): counted by rows, a patient
// with three visits alone in their class would look like a class of three (risk 1/3 instead of 1). A subject
// whose values changed between rows (a new zip) stands once in each class they fall in.
absl::StatusOr<table::Table> OneRecordPerPerson(const table::Table& table, const std::string& subject_column,
                                                const std::vector<std::string>& quasi_identifiers) {
  std::vector<const table::Column*> columns = {table.FindColumn(subject_column)};
  for (const std::string& q : quasi_identifiers) columns.push_back(table.FindColumn(q));
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no column \"", i == 0 ? subject_column : quasi_identifiers[i - 1], "\" in the dataset"));
    }
  }
  absl::flat_hash_set<std::string> seen;
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    std::string key;  // each value length-prefixed, null apart from the text "NULL"
    for (const table::Column* c : columns) {
      const std::string v = c->IsNull(row) ? std::string() : c->FormatValue(row);
      absl::StrAppend(&key, c->IsNull(row) ? "n" : "v", v.size(), ":", v);
    }
    if (seen.insert(std::move(key)).second) rows.push_back(row);
  }
  return table.Take(rows);
}

// From the DPIA's one read of the vault (`data`).
QuasiIdentifierRisk MeasureRisk(const MappedDataset& m, const absl::StatusOr<store::DatasetContents>& data) {
  QuasiIdentifierRisk r;
  for (const MappedColumn& c : m.columns) {
    if (c.annotation.has_value() && c.annotation->role == "quasi_identifier") r.columns.push_back(c.name);
  }
  if (m.info.external.has_value()) {
    r.not_assessed = "an attached dataset: its rows live in an external database, not in the vault";
    return r;
  }
  if (r.columns.empty()) {
    r.not_assessed = absl::StrCat(
        "no column of the dataset is marked as a quasi-identifier in the data map (veil catalog annotate ",
        m.info.name, " COLUMN --role quasi_identifier)");
    return r;
  }
  // Every record held: what an intruder who got the data at rest would see. Only the figures leave here.
  if (!data.ok()) {
    r.not_assessed = absl::StrCat("the vault could not be read: ", MessageWithoutPseudonyms(data.status()));
    return r;
  }
  absl::StatusOr<table::Table> people = OneRecordPerPerson(data->table, m.info.subject_column, r.columns);
  absl::StatusOr<anon::RiskReport> risk =
      people.ok() ? anon::AssessRisk(*people, r.columns) : absl::StatusOr<anon::RiskReport>(people.status());
  if (!risk.ok()) {
    r.not_assessed = MessageWithoutPseudonyms(risk.status());
    return r;
  }
  r.assessed = true;
  r.records = risk->records;
  r.classes = risk->classes;
  r.threshold = risk->threshold;
  r.highest = risk->prosecutor.highest;
  r.average = risk->prosecutor.average;
  r.records_at_risk = risk->prosecutor.records_at_risk;
  r.sample_uniques = risk->prosecutor.sample_uniques;
  r.smallest_class = risk->prosecutor.smallest_class;
  return r;
}

}  // namespace

crypto::Sha256Digest FactsHash(nlohmann::ordered_json doc) {
  if (doc.contains("header") && doc["header"].is_object()) doc["header"]["audit_seq"] = 0;
  return crypto::Sha256(doc.dump());
}

absl::StatusOr<RopaFacts> GatherRopaFacts(Session& session, const ReportOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateOptions(options));
  const Json params = {{"report", "ropa"}, {"options", OptionsJson(options)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision, session.Authorize(Operation::kReportRopa, "", "", params));
  store::Workspace& ws = session.workspace();
  RopaFacts f;
  f.header = MakeHeader(session, options);
  VEIL_ASSIGN_OR_RETURN(DataMap map, Catalog(session).Map());
  for (const MappedDataset& m : map.datasets) {
    for (const Declaration& d : m.declarations) {
      RopaActivity a;
      a.declaration = d;
      a.categories = m.categories;
      a.special_categories = m.special;
      a.subjects = m.info.subjects;
      a.attached = m.info.external.has_value();
      f.activities.push_back(std::move(a));
    }
    for (const std::string& finding : m.findings)
      f.findings.push_back(absl::StrCat(m.info.name, ": ", finding));
    f.encryption.push_back(MeasureEncryption(ws, m.info));
  }
  VEIL_ASSIGN_OR_RETURN(f.retention, MeasureRetention(session, map));
  VEIL_ASSIGN_OR_RETURN(std::vector<store::DatasetBudget> budgets, session.ListBudgets());
  for (const store::DatasetBudget& b : budgets) f.budgets.push_back(ToBudgetFacts(b));
  VEIL_ASSIGN_OR_RETURN(f.gate, MeasureGate(session));
  VEIL_ASSIGN_OR_RETURN(f.audit, MeasureAudit(session));
  VEIL_ASSIGN_OR_RETURN(f.header.audit_seq, session.RecordEntry(Operation::kReportRopa, "", "", decision,
                                                                params, FactsHash(RopaToJson(f)), {}));
  return f;
}

absl::StatusOr<DpiaFacts> GatherDpiaFacts(Session& session, std::string_view dataset,
                                          std::string_view purpose, const ReportOptions& options) {
  VEIL_RETURN_IF_ERROR(ValidateOptions(options));
  VEIL_RETURN_IF_ERROR(store::ValidatePurpose(purpose));
  VEIL_RETURN_IF_ERROR(ValidateTaxonomyKey(purpose));
  const Json params = {
      {"report", "dpia"}, {"dataset", dataset}, {"purpose", purpose}, {"options", OptionsJson(options)}};
  VEIL_ASSIGN_OR_RETURN(GateDecision decision,
                        session.Authorize(Operation::kReportDpia, dataset, purpose, params));
  store::Workspace& ws = session.workspace();
  DpiaFacts f;
  f.header = MakeHeader(session, options);
  f.dataset = std::string(dataset);
  f.purpose = std::string(purpose);
  VEIL_ASSIGN_OR_RETURN(DataMap map, Catalog(session).Map(dataset));  // NotFound for an unknown dataset
  const MappedDataset& m = map.datasets.front();
  f.kind = m.info.kind;
  f.rows = m.info.rows;
  f.subjects = m.info.subjects;
  f.sources = static_cast<int64_t>(m.info.sources.size());
  for (const MappedColumn& c : m.columns) {
    DpiaColumn col;
    col.name = c.name;
    col.type = c.type;
    col.subject_column = c.subject_column;
    col.special = c.special;
    if (c.annotation.has_value()) {
      col.classified = true;
      col.categories = c.annotation->categories;
      col.role = c.annotation->role;
      col.confirmed = c.annotation->confirmed;
    }
    f.columns.push_back(std::move(col));
  }
  f.categories = m.categories;
  f.special_categories = m.special;
  f.findings = m.findings;
  f.purpose_declared = std::any_of(m.info.purposes.begin(), m.info.purposes.end(),
                                   [&](const std::string& p) { return PurposeCovers(p, purpose); });
  VEIL_ASSIGN_OR_RETURN(f.declaration, DeclarationFor(ws, dataset, purpose));
  const absl::Time now = ws.env().Now();
  // The vault read once (every record held, decrypted and checked against the catalog): the encryption
  // facts, the re-identification risk and a column rule's retention dates all come from this read.
  const bool attached = m.info.external.has_value();
  const absl::StatusOr<store::DatasetContents> data =
      attached ? absl::StatusOr<store::DatasetContents>(
                     absl::FailedPreconditionError("an attached dataset is not in the vault"))
               : ws.ReadVerified(dataset);
  if (!attached) {
    VEIL_ASSIGN_OR_RETURN(const std::vector<std::string> subjects, SubjectPseudonyms(ws, dataset));
    VEIL_ASSIGN_OR_RETURN(f.consent, MeasureConsent(ws, m.info, purpose, now, subjects));
  }
  VEIL_ASSIGN_OR_RETURN(f.retention, MeasureDatasetRetention(session, m.info, attached ? nullptr : &data));
  VEIL_ASSIGN_OR_RETURN(RestrictionCounts counts, CountRestrictions(ws));
  f.objections = counts.objections;
  f.restrictions = counts.restrictions;
  VEIL_ASSIGN_OR_RETURN(f.requests, CountSubjectRequests(ws, dataset, now));
  f.risk = MeasureRisk(m, data);
  VEIL_ASSIGN_OR_RETURN(store::DatasetBudget budget, session.GetBudget(dataset));
  f.budget = ToBudgetFacts(budget);
  f.encryption = EncryptionFromRead(m.info, data);
  VEIL_ASSIGN_OR_RETURN(f.gate, MeasureGate(session));
  VEIL_ASSIGN_OR_RETURN(std::vector<store::ModelVersionInfo> models, session.ListModels());
  for (const store::ModelVersionInfo& model : models) {
    if (model.dataset == dataset) f.models.push_back(ToModelFacts(model));
  }
  VEIL_ASSIGN_OR_RETURN(f.audit, MeasureAudit(session));
  VEIL_ASSIGN_OR_RETURN(f.header.audit_seq,
                        session.RecordEntry(Operation::kReportDpia, dataset, purpose, decision, params,
                                            FactsHash(DpiaToJson(f)), {}));
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------------------

namespace {

std::string Utc(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

Json NumberJson(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json HeaderJson(const ReportHeader& h) {
  return {{"workspace_id", h.workspace_id},
          {"generated_at", Utc(h.generated_at)},
          {"generated_by", h.generated_by},
          {"controller", h.controller},
          {"dpo", h.dpo},
          {"audit_seq", h.audit_seq}};
}

Json PairJson(const store::EpsilonDelta& v) { return {{"epsilon", v.epsilon}, {"delta", v.delta}}; }

Json AuditJson(const AuditIntegrityFacts& a) {
  return {{"verified", a.verified},       {"error", a.error},    {"entries", a.entries}, {"root", a.root},
          {"checkpoints", a.checkpoints}, {"denials", a.denials}};
}

Json GateJson(const GateFacts& g) {
  return {{"owners", g.owners}, {"analysts", g.analysts}, {"auditors", g.auditors}};
}

Json EncryptionJson(const EncryptionFacts& e) {
  return {{"dataset", e.dataset},
          {"attached", e.attached},
          {"subjects", e.subjects},
          {"data_keys", e.data_keys},
          {"vault_files", e.vault_files},
          {"vault_bytes", e.vault_bytes},
          {"vault_verified", e.vault_verified},
          {"vault_error", e.vault_error}};
}

Json BudgetJson(const BudgetFacts& b) {
  return {{"dataset", b.dataset},
          {"total", b.has_total ? PairJson(b.total) : Json(nullptr)},
          {"spent", PairJson(b.spent)},
          {"remaining", PairJson(b.remaining)},
          {"charges", b.charges}};
}

Json RetentionJson(const RetentionFacts& r) {
  Json rules = Json::array();
  for (const RetentionRuleFacts& x : r.rules)
    rules.push_back({{"category", x.category}, {"days", x.days}, {"trigger", x.trigger}});
  return {{"dataset", r.dataset},
          {"rules", rules},
          {"subjects", r.subjects},
          {"due", r.due},
          {"held", r.held},
          {"undated", r.undated},
          {"holds", r.holds},
          {"next_due", r.next_due ? Json(Utc(*r.next_due)) : Json(nullptr)},
          {"error", r.error.empty() ? Json(nullptr) : Json(r.error)}};
}

}  // namespace

nlohmann::ordered_json RopaToJson(const RopaFacts& f) {
  Json activities = Json::array();
  for (const RopaActivity& a : f.activities) {
    Json d = DeclarationToJson(a.declaration);
    d.erase("declared_by");
    Json item = {{"dataset", a.declaration.dataset}};
    for (auto it = d.begin(); it != d.end(); ++it) item[it.key()] = it.value();
    item["categories"] = a.categories;
    item["special_categories"] = a.special_categories;
    item["subjects"] = a.attached ? Json(nullptr) : Json(a.subjects);
    activities.push_back(std::move(item));
  }
  Json retention = Json::array(), encryption = Json::array(), budgets = Json::array();
  for (const RetentionFacts& r : f.retention) retention.push_back(RetentionJson(r));
  for (const EncryptionFacts& e : f.encryption) encryption.push_back(EncryptionJson(e));
  for (const BudgetFacts& b : f.budgets) budgets.push_back(BudgetJson(b));
  return {{"report", "ropa"},
          {"header", HeaderJson(f.header)},
          {"activities", activities},
          {"findings", f.findings},
          {"retention", retention},
          {"security",
           {{"encryption", encryption},
            {"audit_log", AuditJson(f.audit)},
            {"gate", GateJson(f.gate)},
            {"privacy_budgets", budgets}}}};
}

nlohmann::ordered_json DpiaToJson(const DpiaFacts& f) {
  Json columns = Json::array();
  for (const DpiaColumn& c : f.columns) {
    columns.push_back(
        {{"name", c.name},
         {"type", c.type},
         {"subject_column", c.subject_column},
         {"classified", c.classified},
         {"categories", c.categories},
         {"role", c.role},
         {"special", c.special == Special::kNone ? Json(nullptr) : Json(SpecialName(c.special))},
         {"confirmed", c.confirmed}});
  }
  Json models = Json::array();
  for (const ModelFacts& m : f.models) {
    Json attrs = Json::array();
    for (const ModelFacts::Attribute& a : m.fairness) {
      attrs.push_back({{"attribute", a.attribute},
                       {"verdict", a.verdict},
                       {"demographic_parity_difference", NumberJson(a.demographic_parity_difference)},
                       {"disparate_impact_ratio", NumberJson(a.disparate_impact_ratio)},
                       {"equal_opportunity_difference", NumberJson(a.equal_opportunity_difference)},
                       {"groups_compared", a.groups_compared},
                       {"suppressed_groups", a.suppressed_groups}});
    }
    models.push_back({{"name", m.name},
                      {"version", m.version},
                      {"purpose", m.purpose},
                      {"kind", m.kind},
                      {"privacy", m.privacy},
                      {"fairness_audited", m.fairness_audited},
                      {"fairness_at", m.fairness_at},
                      {"fairness", attrs}});
  }
  Json declaration = Json(nullptr);
  if (f.declaration.has_value()) {
    declaration = DeclarationToJson(*f.declaration);
    declaration.erase("declared_by");
  }
  const QuasiIdentifierRisk& r = f.risk;
  const ConsentCoverage& c = f.consent;
  return {{"report", "dpia"},
          {"header", HeaderJson(f.header)},
          {"dataset", f.dataset},
          {"purpose", f.purpose},
          {"context",
           {{"kind", f.kind},
            {"rows", f.rows},
            {"subjects", f.subjects},
            {"sources", f.sources},
            {"columns", columns},
            {"categories", f.categories},
            {"special_categories", f.special_categories},
            {"findings", f.findings}}},
          {"principles",
           {{"purpose_declared", f.purpose_declared},
            {"declaration", declaration},
            {"consent",
             {{"consent_basis", c.consent_basis},
              {"governing_purpose", c.governing_purpose},
              {"subjects", c.subjects},
              {"consented", c.consented},
              {"excluded", c.excluded},
              {"usable", c.usable}}},
            {"retention", RetentionJson(f.retention)},
            {"objections_in_force", f.objections},
            {"restrictions_in_force", f.restrictions},
            {"subject_requests",
             {{"opened", f.requests.opened},
              {"open", f.requests.open},
              {"completed", f.requests.completed},
              {"rejected", f.requests.rejected},
              {"overdue", f.requests.overdue},
              {"extended", f.requests.extended}}}}},
          {"risks",
           {{"reidentification",
             {{"columns", r.columns},
              {"assessed", r.assessed},
              {"not_assessed", r.not_assessed},
              {"model", "prosecutor"},
              {"records", r.records},
              {"classes", r.classes},
              {"threshold", r.threshold},
              {"highest", r.highest},
              {"average", r.average},
              {"records_at_risk", r.records_at_risk},
              {"sample_uniques", r.sample_uniques},
              {"smallest_class", r.smallest_class}}}}},
          {"measures",
           {{"encryption", EncryptionJson(f.encryption)},
            {"audit_log", AuditJson(f.audit)},
            {"gate", GateJson(f.gate)},
            {"privacy_budget", BudgetJson(f.budget)},
            {"models", models}}}};
}

// ---------------------------------------------------------------------------------------------------------
// Rendering: facts -> a small document (sections of paragraphs, fields, tables and boxes for a person to
// fill in) -> text or HTML. The content is decided once, in the builders; the two formats only lay it out.
// ---------------------------------------------------------------------------------------------------------

namespace {

struct Block {
  enum class Kind {
    kHeading,    // a subsection title
    kParagraph,  // text
    kNote,       // text set apart: a warning or a measured failure (`alert`)
    kFields,     // label: value lines
    kTable,      // header and rows
    kFillIn,     // labelled empty boxes for a person (label, lines of height)
    kChoice,     // a label and options to tick
  };
  Kind kind = Kind::kParagraph;
  std::string text;
  bool alert = false;
  std::vector<std::pair<std::string, std::string>> fields;  // kFields; kFillIn: (label, hint)
  std::vector<std::string> header;                          // kTable; kChoice: the options
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // kTable: right-aligned columns
};

struct Section {
  std::string title;
  std::vector<Block> blocks;
};

struct Doc {
  std::string title;
  std::string subtitle;
  std::vector<std::pair<std::string, std::string>> header;
  std::vector<Section> sections;
};

// The document with every control character of its text escaped (base::EscapeControlCharacters): names the
// report shows come from input (a CSV header names a column, a declaration its recipients), and an ESC or
// another C0 character in one must neither reach a terminal (where it could move the cursor, recolour or
// retitle it) nor break the layout of the printed text or HTML. Both renderers start here; the JSON escapes
// them itself (\u001b).
Doc Printable(Doc doc) {
  const auto fix = [](std::string& s) { s = base::EscapeControlCharacters(s); };
  fix(doc.title);
  fix(doc.subtitle);
  for (auto& [k, v] : doc.header) fix(k), fix(v);
  for (Section& section : doc.sections) {
    fix(section.title);
    for (Block& b : section.blocks) {
      fix(b.text);
      for (auto& [k, v] : b.fields) fix(k), fix(v);
      for (std::string& h : b.header) fix(h);
      for (std::vector<std::string>& row : b.rows) {
        for (std::string& cell : row) fix(cell);
      }
    }
  }
  return doc;
}

Block Make(Block::Kind kind, std::string text = "") {
  Block b;
  b.kind = kind;
  b.text = std::move(text);
  return b;
}
Block Heading(std::string text) { return Make(Block::Kind::kHeading, std::move(text)); }
Block Para(std::string text) { return Make(Block::Kind::kParagraph, std::move(text)); }
Block Note(std::string text, bool alert) {
  Block b = Make(Block::Kind::kNote, std::move(text));
  b.alert = alert;
  return b;
}
Block Fields(std::vector<std::pair<std::string, std::string>> fields) {
  Block b = Make(Block::Kind::kFields);
  b.fields = std::move(fields);
  return b;
}
Block Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows,
            std::vector<bool> numeric = {}) {
  Block b = Make(Block::Kind::kTable);
  b.header = std::move(header);
  b.rows = std::move(rows);
  b.numeric = std::move(numeric);
  return b;
}
Block FillIn(std::vector<std::pair<std::string, std::string>> boxes) {
  Block b = Make(Block::Kind::kFillIn);
  b.fields = std::move(boxes);
  return b;
}
Block Choice(std::string label, std::vector<std::string> options) {
  Block b = Make(Block::Kind::kChoice, std::move(label));
  b.header = std::move(options);
  return b;
}
Section MakeSection(std::string title) {
  Section s;
  s.title = std::move(title);
  return s;
}

// The CNIL's scale for severity and likelihood.
const std::vector<std::string> kScale = {"Negligible", "Limited", "Significant", "Maximum"};

constexpr char kToFill[] = "(to fill in)";

std::string OrNone(const std::vector<std::string>& v, std::string_view none = "none") {
  return v.empty() ? std::string(none) : absl::StrJoin(v, ", ");
}

std::string Share(int64_t part, int64_t whole) {
  if (whole <= 0) return absl::StrCat(WithThousands(part), " of ", WithThousands(whole));
  return absl::StrFormat("%s of %s (%.1f%%)", WithThousands(part), WithThousands(whole),
                         100.0 * part / whole);
}

std::string Figure(double v) { return std::isfinite(v) ? absl::StrFormat("%.4g", v) : std::string("n/a"); }
std::string Percent(double fraction) { return absl::StrFormat("%.2f%%", 100.0 * fraction); }

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string Basis(const Declaration& d) {
  return absl::StrCat(LegalBasisName(d.basis), " (", LegalBasisArticle(d.basis), ")");
}
std::string SpecialCondition(const Declaration& d) {
  return d.special_basis == SpecialBasis::kNone ? std::string("none")
                                                : absl::StrCat(SpecialBasisName(d.special_basis), " (",
                                                               SpecialBasisArticle(d.special_basis), ")");
}

const char* SafeguardArticle(std::string_view s) {
  if (s == "adequacy") return "adequacy decision, Art. 45";
  if (s == "scc") return "standard contractual clauses, Art. 46(2)(c)";
  if (s == "bcr") return "binding corporate rules, Art. 47";
  if (s == "derogation") return "derogation, Art. 49";
  return "other safeguard";
}

std::string Transfers(const std::vector<Transfer>& transfers) {
  if (transfers.empty()) return "none declared";
  std::vector<std::string> out;
  for (const Transfer& t : transfers)
    out.push_back(absl::StrCat(t.to, " (", t.safeguard, ": ", SafeguardArticle(t.safeguard), ")"));
  return absl::StrJoin(out, "; ");
}

std::string RuleText(const RetentionRuleFacts& r) {
  return absl::StrCat(WithThousands(r.days), " days from ", r.trigger,
                      r.category.empty() ? " (whole dataset)" : absl::StrCat(" (category ", r.category, ")"));
}

std::string RetentionStatusText(const RetentionFacts& r) {
  if (r.rules.empty()) return "no retention rule: nothing is erased by retention (veil retention set)";
  if (!r.error.empty())
    return absl::StrCat("could NOT be computed when this report was generated: ", r.error);
  std::string s = absl::StrCat(WithThousands(r.due), " of ", WithThousands(r.subjects), " subjects due now");
  if (r.held > 0) absl::StrAppend(&s, ", ", WithThousands(r.held), " more due but under a legal hold");
  if (r.undated > 0) absl::StrAppend(&s, ", ", WithThousands(r.undated), " without a date under the rules");
  if (r.holds > 0) absl::StrAppend(&s, "; ", WithThousands(r.holds), " legal hold(s) in force");
  if (r.next_due) absl::StrAppend(&s, "; next due ", Day(*r.next_due));
  return s;
}

std::string RequestsText(const DsrCounts& r) {
  if (r.opened == 0) return "none concerning this dataset (veil dsr)";
  return absl::StrCat(WithThousands(r.opened), " concerning this dataset: ", WithThousands(r.completed),
                      " completed, ", WithThousands(r.rejected), " rejected, ", WithThousands(r.open),
                      " open (", WithThousands(r.overdue), " overdue); ", WithThousands(r.extended),
                      " extended by two months (Art. 12(3))");
}

std::string PairText(const store::EpsilonDelta& v) {
  return absl::StrCat("epsilon ", store::FormatDouble(v.epsilon), ", delta ", store::FormatDouble(v.delta));
}

Block AuditBlock(const AuditIntegrityFacts& a) {
  if (!a.verified) {
    return Note(absl::StrCat("Audit log integrity: FAILED when this report was generated: ", a.error,
                             ". The log no longer proves what was done; investigate before relying on it "
                             "(veil audit verify)."),
                true);
  }
  return Note(absl::StrCat("Audit log integrity: verified when this report was generated: ",
                           WithThousands(a.entries), " entries re-hashed into the Merkle tree head ",
                           a.root.substr(0, 16), "…, ", a.checkpoints, " signed checkpoint(s) verified; ",
                           WithThousands(a.denials), " recorded refusal(s) of the gate."),
              false);
}

std::string GateText(const GateFacts& g) {
  return absl::StrCat(
      "Every use of the data goes through the gate (role, declared purpose, consent, objections and "
      "restrictions) and is audited, refusals included. Roles held: ",
      WithThousands(g.owners), " owner(s), ", WithThousands(g.analysts), " analyst(s), ",
      WithThousands(g.auditors), " auditor(s).");
}

std::vector<std::string> EncryptionRow(const EncryptionFacts& e) {
  if (e.attached)
    return {e.dataset, "-", "-", "-", "-", "not in the vault: rows in an external database (veil attach)"};
  return {e.dataset,
          WithThousands(e.subjects),
          WithThousands(e.data_keys),
          WithThousands(e.vault_files),
          FormatBytes(static_cast<uint64_t>(e.vault_bytes)),
          e.vault_verified ? std::string("yes") : absl::StrCat("FAILED: ", e.vault_error)};
}

const char* kEncryptionDesign =
    "Encryption at rest: each subject's rows are sealed with AES-256-GCM under that subject's own data key; "
    "data keys are wrapped by a key derived from the workspace master key and kept apart from the vault "
    "(keys.db, secure_delete); erasure destroys the subject's keys (crypto-shredding). Subjects appear in "
    "the "
    "catalog and the audit log only as keyed pseudonyms (HMAC-SHA-256). Measured now:";

const std::vector<std::string> kEncryptionHeader = {"dataset",     "subjects", "data keys (unwrapped)",
                                                    "vault files", "size",     "vault files verified"};

std::string ControllerText(const std::string& v) { return v.empty() ? std::string(kToFill) : v; }

std::vector<std::pair<std::string, std::string>> HeaderFields(const ReportHeader& h) {
  return {{"Controller (name and contact details)", ControllerText(h.controller)},
          {"Data protection officer", ControllerText(h.dpo)},
          {"Workspace", h.workspace_id},
          {"Generated",
           absl::StrCat(Utc(h.generated_at), " by ", h.generated_by, " (audit entry #", h.audit_seq, ")")}};
}

const char* kNoPersonalData =
    "Built from the workspace's data map and from facts measured when it was generated. It holds no personal "
    "data: names of datasets, columns, categories and purposes, counts and figures only.";

Doc BuildRopa(const RopaFacts& f) {
  Doc doc;
  doc.title = "Record of processing activities";
  doc.subtitle = "GDPR Article 30(1)";
  doc.header = HeaderFields(f.header);

  Section acts = MakeSection("1. Processing activities");
  acts.blocks.push_back(Para(kNoPersonalData));
  if (f.activities.empty()) {
    acts.blocks.push_back(Note(
        "No processing declaration yet: declare each dataset's purposes with veil catalog declare.", true));
  }
  for (size_t i = 0; i < f.activities.size(); ++i) {
    const RopaActivity& a = f.activities[i];
    const Declaration& d = a.declaration;
    acts.blocks.push_back(Heading(absl::StrCat("1.", i + 1, " ", d.purpose, " on dataset ", d.dataset)));
    std::string purpose = d.purpose;
    if (!d.description.empty()) absl::StrAppend(&purpose, ": ", d.description);
    std::string special = OrNone(a.special_categories);
    acts.blocks.push_back(Fields({
        {"Purpose (b)", purpose},
        {"Legal basis (Art. 6(1))", Basis(d)},
        {"Condition for special categories (Art. 9(2) / 10)", SpecialCondition(d)},
        {"Categories of data subjects (c)", OrNone(d.subject_types, "none declared")},
        {"Subjects held",
         a.attached ? std::string("not counted (attached dataset)") : WithThousands(a.subjects)},
        {"Categories of personal data (c)", OrNone(a.categories)},
        {"Special categories (Art. 9, 10)", special},
        {"Recipients (d)", OrNone(d.recipients, "none declared")},
        {"Transfers to third countries and safeguards (e)", Transfers(d.transfers)},
        {"Envisaged time limit for erasure (f)",
         d.retention.empty() ? std::string("not declared") : d.retention},
        {"Automated decisions (Art. 22)", d.automated_decisions ? "yes" : "no"},
        {"Declared", Day(d.declared_at)},
    }));
  }
  doc.sections.push_back(std::move(acts));

  Section ret = MakeSection("2. Retention (Art. 30(1)(f), Art. 5(1)(e))");
  std::vector<std::vector<std::string>> rows;
  for (const RetentionFacts& r : f.retention) {
    std::vector<std::string> rules;
    for (const RetentionRuleFacts& x : r.rules) rules.push_back(RuleText(x));
    rows.push_back({r.dataset, OrNone(rules), RetentionStatusText(r)});
  }
  if (rows.empty()) {
    ret.blocks.push_back(Para("No dataset."));
  } else {
    ret.blocks.push_back(
        Para("The rules veil retention enforce applies (crypto-shredding), and what is due now:"));
    ret.blocks.push_back(Table({"dataset", "rules", "status now"}, std::move(rows)));
  }
  doc.sections.push_back(std::move(ret));

  Section sec = MakeSection("3. Technical and organisational security measures (Art. 30(1)(g), Art. 32)");
  sec.blocks.push_back(Para(kEncryptionDesign));
  rows.clear();
  for (const EncryptionFacts& e : f.encryption) rows.push_back(EncryptionRow(e));
  sec.blocks.push_back(Table(kEncryptionHeader, std::move(rows), {false, true, true, true, true, false}));
  for (const EncryptionFacts& e : f.encryption) {
    if (!e.attached && !e.vault_verified)
      sec.blocks.push_back(Note(absl::StrCat("Dataset ", e.dataset, ": ", e.vault_error), true));
  }
  sec.blocks.push_back(AuditBlock(f.audit));
  sec.blocks.push_back(Para(GateText(f.gate)));
  rows.clear();
  for (const BudgetFacts& b : f.budgets) {
    rows.push_back({b.dataset, b.has_total ? PairText(b.total) : "none set (DP operations refused)",
                    PairText(b.spent), PairText(b.remaining), WithThousands(b.charges)});
  }
  if (!rows.empty()) {
    sec.blocks.push_back(
        Para("Differential privacy: population-level answers, synthetic data and models are charged to each "
             "dataset's privacy budget (basic composition):"));
    sec.blocks.push_back(Table({"dataset", "budget", "spent", "remaining", "charges"}, std::move(rows),
                               {false, false, false, false, true}));
  }
  sec.blocks.push_back(FillIn(
      {{"Organisational measures", "policies, training, access reviews, incident handling, backups"}}));
  doc.sections.push_back(std::move(sec));

  Section find = MakeSection("4. Findings of the data map");
  if (f.findings.empty()) {
    find.blocks.push_back(
        Para("None: every declared purpose has a declaration and every column is confirmed."));
  } else {
    find.blocks.push_back(
        Para("What is missing or inconsistent, to complete before relying on this record:"));
    std::vector<std::vector<std::string>> items;
    for (const std::string& x : f.findings) items.push_back({x});
    find.blocks.push_back(Table({"finding"}, std::move(items)));
  }
  doc.sections.push_back(std::move(find));

  Section sign = MakeSection("5. Signature");
  sign.blocks.push_back(FillIn({{"Name and role", ""}, {"Date", ""}, {"Signature", ""}}));
  doc.sections.push_back(std::move(sign));
  return doc;
}

// Appends to `out` the blocks of one risk of section 3: its measured facts and the fields to assess it.
void RiskBlocks(const std::string& number, const std::string& title, const std::string& facts,
                std::vector<Block>& out) {
  out.push_back(Heading(absl::StrCat(number, " ", title)));
  out.push_back(Para(facts));
  out.push_back(FillIn({{"Risk sources", "who or what could cause it, internal or external, human or not"},
                        {"Main threats", "how it could happen, on which supporting assets"},
                        {"Main potential impacts on the data subjects", ""}}));
  out.push_back(Choice("Severity", kScale));
  out.push_back(FillIn({{"Justification of the severity", ""}}));
  out.push_back(Choice("Likelihood", kScale));
  out.push_back(FillIn({{"Justification of the likelihood", ""}}));
}

Doc BuildDpia(const DpiaFacts& f) {
  Doc doc;
  doc.title = "Data protection impact assessment";
  doc.subtitle = absl::StrCat("Dataset ", f.dataset, ", purpose ", f.purpose,
                              " (GDPR Article 35(7), in the structure of the CNIL's PIA method)");
  doc.header = HeaderFields(f.header);
  const bool attached = f.kind != "vault";
  const std::optional<Declaration>& d = f.declaration;

  // 1. Context
  Section ctx = MakeSection("1. Context");
  ctx.blocks.push_back(Para(kNoPersonalData));
  ctx.blocks.push_back(Heading("1.1 Overview of the processing"));
  ctx.blocks.push_back(Fields({
      {"Processing", absl::StrCat("dataset ", f.dataset, " used for ", f.purpose)},
      {"Description", d && !d->description.empty() ? d->description : std::string(kToFill)},
      {"Governing declaration",
       d ? absl::StrCat("\"", d->purpose, "\"") : std::string("none: declare it with veil catalog declare")},
      {"Declared for the gate",
       f.purpose_declared ? "yes" : "no: the gate refuses operations for this purpose until it is declared"},
      {"Data subjects", d ? OrNone(d->subject_types, "none declared") : std::string("none declared")},
      {"Recipients", d ? OrNone(d->recipients, "none declared") : std::string("none declared")},
      {"Automated decisions (Art. 22)", d ? (d->automated_decisions ? "yes" : "no") : "not declared"},
      {"Models trained on the dataset",
       f.models.empty() ? std::string("none") : WithThousands(static_cast<int64_t>(f.models.size()))},
  }));
  ctx.blocks.push_back(Heading("1.2 Data"));
  std::vector<std::vector<std::string>> rows;
  for (const DpiaColumn& c : f.columns) {
    std::string special = c.special == Special::kArt9    ? "Art. 9"
                          : c.special == Special::kArt10 ? "Art. 10"
                                                         : "";
    rows.push_back({c.name + (c.subject_column ? " (subject id)" : ""), c.type,
                    !c.classified          ? std::string("(not classified)")
                    : c.categories.empty() ? std::string("(no personal data)")
                                           : absl::StrJoin(c.categories, ", "),
                    c.classified ? c.role : "", special, c.classified ? (c.confirmed ? "yes" : "no") : "no"});
  }
  ctx.blocks.push_back(
      Table({"column", "type", "categories", "role", "special", "confirmed"}, std::move(rows)));
  ctx.blocks.push_back(Fields({
      {"Categories of personal data", OrNone(f.categories)},
      {"Special categories (Art. 9) and criminal data (Art. 10)", OrNone(f.special_categories)},
  }));
  if (!f.special_categories.empty()) {
    ctx.blocks.push_back(Note(
        "The dataset holds special categories of personal data: a DPIA is required where they are processed "
        "on "
        "a large scale (Art. 35(3)(b)), and processing needs an Art. 9(2) condition besides the legal basis.",
        true));
  }
  ctx.blocks.push_back(Heading("1.3 Processes and supporting assets"));
  ctx.blocks.push_back(Para(
      attached
          ? absl::StrCat("The rows live in an external database (", f.kind,
                         ", attached with veil attach); Veil reads or queries them there through the gate.")
          : absl::StrCat(WithThousands(f.rows), " rows of ", WithThousands(f.subjects), " subjects, from ",
                         WithThousands(f.sources), " ingested file(s), held in the workspace: the vault (",
                         WithThousands(f.encryption.vault_files), " encrypted file(s), ",
                         FormatBytes(static_cast<uint64_t>(f.encryption.vault_bytes)),
                         "), its catalog (workspace.db), the key store (keys.db) and the audit log.")));
  ctx.blocks.push_back(FillIn({{"Data life cycle and supporting assets outside Veil",
                                "collection, the systems and people that feed and use the data, backups"}}));
  if (!f.findings.empty()) {
    ctx.blocks.push_back(Heading("Findings of the data map"));
    std::vector<std::vector<std::string>> items;
    for (const std::string& x : f.findings) items.push_back({x});
    ctx.blocks.push_back(Table({"finding"}, std::move(items)));
  }
  doc.sections.push_back(std::move(ctx));

  // 2. Fundamental principles
  Section fp = MakeSection("2. Fundamental principles");
  fp.blocks.push_back(Heading("2.1 Proportionality and necessity"));
  int64_t personal = 0, confirmed = 0;
  std::vector<std::string> direct, free_text;
  for (const DpiaColumn& c : f.columns) {
    personal += c.classified && !c.categories.empty();
    confirmed += c.confirmed;
    if (c.role == "direct_identifier") direct.push_back(c.name);
    if (c.role == "free_text") free_text.push_back(c.name);
  }
  std::vector<std::string> rules;
  for (const RetentionRuleFacts& x : f.retention.rules) rules.push_back(RuleText(x));
  fp.blocks.push_back(Fields({
      {"Purposes (Art. 5(1)(b))",
       absl::StrCat(f.purpose, f.purpose_declared ? ", declared for the dataset" : ", not declared yet")},
      {"Legal basis (Art. 6(1))", d ? Basis(*d) : std::string("none declared")},
      {"Condition for special categories", d ? SpecialCondition(*d) : std::string("none declared")},
      {"Data minimisation (Art. 5(1)(c))",
       absl::StrCat(WithThousands(personal), " of ", WithThousands(static_cast<int64_t>(f.columns.size())),
                    " columns hold personal data; direct identifiers: ", OrNone(direct),
                    "; free text: ", OrNone(free_text))},
      {"Accuracy (Art. 5(1)(d))",
       absl::StrCat(
           WithThousands(confirmed), " of ", WithThousands(static_cast<int64_t>(f.columns.size())),
           " column annotations confirmed by a person; rectification by veil dsr (--kind rectification)")},
      {"Storage limitation (Art. 5(1)(e))",
       absl::StrCat("declared: ", d && !d->retention.empty() ? d->retention : std::string("not declared"),
                    "; rules: ", OrNone(rules), "; ", RetentionStatusText(f.retention))},
  }));
  fp.blocks.push_back(
      FillIn({{"Why the data are adequate, relevant and limited to what the purpose needs", ""}}));
  fp.blocks.push_back(Heading("2.2 Rights of the data subjects"));
  const ConsentCoverage& c = f.consent;
  std::string consent;
  if (attached) {
    consent = "not measured: the subjects of an attached dataset are not in the catalog";
  } else if (c.consent_basis) {
    consent =
        absl::StrCat("the basis is consent (declaration \"", c.governing_purpose,
                     "\"): ", Share(c.consented, c.subjects), " subjects hold a current, unexpired consent; ",
                     Share(c.usable, c.subjects), " may be used for the purpose now");
  } else {
    consent = absl::StrCat("the basis is not consent; ", Share(c.usable, c.subjects),
                           " subjects may be used for the purpose now");
  }
  fp.blocks.push_back(Fields({
      {"Information (Art. 12-14)", "the notice version is recorded with each consent (veil consent)"},
      {"Consent (Art. 7)", consent},
      {"Subject requests (Art. 12, 15-21)", RequestsText(f.requests)},
      {"Access and portability (Art. 15, 20)",
       "veil dsr open --kind access | portability; the Art. 12(3) deadline is tracked"},
      {"Rectification and erasure (Art. 16, 17)",
       "veil dsr --kind rectification | erasure; erasure by crypto-shredding, legal holds recorded"},
      {"Restriction and objection (Art. 18, 21)",
       absl::StrCat(WithThousands(f.objections), " objection(s) and ", WithThousands(f.restrictions),
                    " restriction(s) in force in the workspace; ", WithThousands(c.excluded),
                    " subject(s) of this dataset left out of the purpose by them")},
      {"Processors and recipients (Art. 28)", d ? OrNone(d->recipients, "none declared") : "none declared"},
      {"Transfers outside the EU (Chapter V)", d ? Transfers(d->transfers) : "none declared"},
  }));
  fp.blocks.push_back(
      FillIn({{"How the subjects are informed, and the processors' contracts (Art. 28)", ""}}));
  doc.sections.push_back(std::move(fp));

  // 3. Risks
  Section risks = MakeSection("3. Risks");
  risks.blocks.push_back(Para(
      "The measured facts below inform the assessment; the assessment itself is for a person to make and "
      "sign. Severity and likelihood on the CNIL's scale: negligible, limited, significant, maximum."));
  risks.blocks.push_back(Heading("Re-identification risk of the quasi-identifiers (measured)"));
  const QuasiIdentifierRisk& r = f.risk;
  if (!r.assessed) {
    risks.blocks.push_back(Note(absl::StrCat("Not assessed: ", r.not_assessed, "."), !r.columns.empty()));
  } else {
    risks.blocks.push_back(Para(absl::StrCat(
        "Prosecutor model (the attacker knows the person is in the dataset; El Emam 2013) over the ",
        WithThousands(r.records),
        " records held, one per person and combination of quasi-identifier values (a "
        "person's repeated rows count once), quasi-identifiers ",
        absl::StrJoin(r.columns, ", "), ":")));
    risks.blocks.push_back(
        Table({"equivalence classes", "smallest class", "highest risk", "average risk",
               absl::StrCat("records at risk (> ", Figure(r.threshold), ")"), "sample uniques"},
              {{WithThousands(r.classes), WithThousands(r.smallest_class), Figure(r.highest),
                Figure(r.average), Percent(r.records_at_risk), Percent(r.sample_uniques)}},
              {true, true, true, true, true, true}));
  }
  const EncryptionFacts& e = f.encryption;
  const std::string enc =
      attached
          ? std::string("the rows are in an external database: its own access control and encryption apply")
          : absl::StrCat("encryption at rest with per-subject keys (", WithThousands(e.data_keys),
                         " data keys for ", WithThousands(e.subjects), " subjects), vault ",
                         e.vault_verified ? "verified" : "NOT verified");
  RiskBlocks("3.1", "Illegitimate access to data",
             absl::StrCat("Measures in place: the gate (", WithThousands(f.gate.owners), " owner(s), ",
                          WithThousands(f.gate.analysts), " analyst(s), ", WithThousands(f.gate.auditors),
                          " auditor(s)); ", enc,
                          "; differentially private access for analysts; the "
                          "re-identification risk above."),
             risks.blocks);
  RiskBlocks("3.2", "Unwanted modification of data",
             absl::StrCat("Measures in place: authenticated encryption (AES-256-GCM) of every "
                          "record, vault file hashes in the catalog, the audit log's Merkle tree "
                          "and signed checkpoints (",
                          f.audit.verified ? "verified" : "verification FAILED", ")."),
             risks.blocks);
  RiskBlocks("3.3", "Disappearance of data",
             absl::StrCat("Measures in place: crash-safe commits (each operation one SQLite "
                          "transaction, recovered on open); erasure only by an owner or by the "
                          "retention rules, audited; legal holds (",
                          WithThousands(f.retention.holds), " in force). Backups are outside Veil."),
             risks.blocks);
  doc.sections.push_back(std::move(risks));

  // 4. Measures
  Section ms = MakeSection("4. Measures (measured technical measures)");
  ms.blocks.push_back(Para(kEncryptionDesign));
  ms.blocks.push_back(Table(kEncryptionHeader, {EncryptionRow(e)}, {false, true, true, true, true, false}));
  if (!attached && !e.vault_verified) ms.blocks.push_back(Note(e.vault_error, true));
  ms.blocks.push_back(AuditBlock(f.audit));
  ms.blocks.push_back(Para(GateText(f.gate)));
  const BudgetFacts& b = f.budget;
  ms.blocks.push_back(Fields({
      {"Privacy budget (differential privacy)",
       b.has_total ? absl::StrCat("total ", PairText(b.total), "; spent ", PairText(b.spent), "; left ",
                                  PairText(b.remaining), " (", WithThousands(b.charges), " charge(s))")
                   : absl::StrCat("no budget set: differentially private operations are refused (",
                                  WithThousands(b.charges), " charge(s))")},
      {"Retention enforcement", rules.empty() ? std::string("no rule") : absl::StrJoin(rules, "; ")},
  }));
  ms.blocks.push_back(Heading("Models in use and their fairness"));
  if (f.models.empty()) {
    ms.blocks.push_back(Para("No model in the registry was trained on this dataset."));
  } else {
    rows.clear();
    for (const ModelFacts& m : f.models) {
      const std::string name = absl::StrCat(m.name, "@", m.version);
      if (!m.fairness_audited || m.fairness.empty()) {
        rows.push_back({name, m.purpose, m.privacy, "not audited (veil fairness)", "", "", "", ""});
        continue;
      }
      for (const ModelFacts::Attribute& a : m.fairness) {
        rows.push_back({name, m.purpose, m.privacy, a.attribute, a.verdict, Figure(a.disparate_impact_ratio),
                        Figure(a.demographic_parity_difference), Figure(a.equal_opportunity_difference)});
      }
    }
    ms.blocks.push_back(Table({"model", "purpose", "privacy", "attribute", "verdict", "disparate impact",
                               "parity difference", "equal opportunity difference"},
                              std::move(rows), {false, false, false, false, false, true, true, true}));
  }
  ms.blocks.push_back(FillIn({{"Organisational measures and planned measures",
                               "policies, training, access reviews, incident handling, backups"}}));
  doc.sections.push_back(std::move(ms));

  // 5. Validation
  Section val = MakeSection("5. Validation");
  val.blocks.push_back(
      FillIn({{"Action plan", "measures to add, who, by when"},
              {"Opinion of the data protection officer", ""},
              {"Views of the data subjects or their representatives", "or why they were not sought"}}));
  val.blocks.push_back(Choice("Decision", {"Approved", "Approved with the action plan", "Not approved"}));
  val.blocks.push_back(FillIn({{"Name and role", ""}, {"Date", ""}, {"Signature", ""}}));
  doc.sections.push_back(std::move(val));
  return doc;
}

// --- Text ---

constexpr size_t kWidth = 100;

// Appends `text` wrapped at kWidth columns: the first line starts with `first` (or `indent`), the others
// with `indent`.
void Wrap(std::string* out, std::string_view text, std::string_view indent, std::string_view first = "") {
  std::string line(first.empty() ? indent : first);
  size_t width = DisplayWidth(line);
  bool empty = true;  // no word on this line yet
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(pos, end - pos);
    if (!empty && width + 1 + DisplayWidth(word) > kWidth) {
      absl::StrAppend(out, line, "\n");
      line = std::string(indent);
      width = DisplayWidth(line);
      empty = true;
    }
    if (!empty) {
      line += ' ';
      ++width;
    }
    line += word;
    width += DisplayWidth(word);
    empty = false;
    pos = end + 1;
  }
  absl::StrAppend(out, line, "\n");
}

std::string RenderText(const Doc& unescaped) {
  const Doc doc = Printable(unescaped);
  std::string out;
  absl::StrAppend(&out, doc.title, "\n", std::string(DisplayWidth(doc.title), '='), "\n");
  Wrap(&out, doc.subtitle, "");
  out += "\n";
  for (const auto& [k, v] : doc.header) Wrap(&out, v, "    ", absl::StrCat(k, ": "));
  for (const Section& s : doc.sections) {
    absl::StrAppend(&out, "\n", s.title, "\n", std::string(DisplayWidth(s.title), '-'), "\n");
    for (const Block& b : s.blocks) {
      switch (b.kind) {
        case Block::Kind::kHeading:
          absl::StrAppend(&out, "\n", b.text, "\n");
          break;
        case Block::Kind::kParagraph:
          out += "\n";
          Wrap(&out, b.text, "");
          break;
        case Block::Kind::kNote:
          out += "\n";
          Wrap(&out, b.text, "    ", b.alert ? "(!) " : "    ");
          break;
        case Block::Kind::kFields:
          out += "\n";
          for (const auto& [k, v] : b.fields) Wrap(&out, v, "      ", absl::StrCat("  ", k, ": "));
          break;
        case Block::Kind::kTable: {
          out += "\n";
          std::vector<size_t> w(b.header.size());
          for (size_t i = 0; i < b.header.size(); ++i) w[i] = DisplayWidth(b.header[i]);
          for (const auto& row : b.rows) {
            for (size_t i = 0; i < row.size() && i < w.size(); ++i)
              w[i] = std::max(w[i], DisplayWidth(row[i]));
          }
          const auto line = [&](const std::vector<std::string>& cells) {
            std::string l = "  ";
            for (size_t i = 0; i < cells.size() && i < w.size(); ++i) {
              const std::string pad(w[i] - DisplayWidth(cells[i]), ' ');
              const bool right = i < b.numeric.size() && b.numeric[i];
              if (i > 0) l += "  ";
              l += right ? pad + cells[i] : (i + 1 == cells.size() ? cells[i] : cells[i] + pad);
            }
            while (!l.empty() && l.back() == ' ') l.pop_back();
            absl::StrAppend(&out, l, "\n");
          };
          line(b.header);
          std::vector<std::string> rule;
          for (size_t x : w) rule.push_back(std::string(x, '-'));
          line(rule);
          for (const auto& row : b.rows) line(row);
          break;
        }
        case Block::Kind::kFillIn:
          out += "\n";
          for (const auto& [label, hint] : b.fields) {
            Wrap(&out, absl::StrCat(label, hint.empty() ? "" : absl::StrCat(" (", hint, ")"), ":"), "    ",
                 "  ");
            absl::StrAppend(&out, "  ", std::string(kWidth - 2, '_'), "\n\n");
          }
          break;
        case Block::Kind::kChoice: {
          std::vector<std::string> options;
          for (const std::string& o : b.header) options.push_back("[ ] " + o);
          absl::StrAppend(&out, "  ", b.text, ":  ", absl::StrJoin(options, "   "), "\n");
          break;
        }
      }
    }
  }
  return out;
}

// --- HTML ---

constexpr char kCss[] = R"(
:root { color-scheme: light; }
body { font: 10.5pt/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1b1b1b; max-width: 60em;
       margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 20pt; margin: 0 0 .1em; }
.subtitle { font-size: 12pt; color: #444; margin: 0 0 1em; }
h2 { font-size: 14pt; border-bottom: 2px solid #1b1b1b; padding-bottom: .15em; margin-top: 1.6em; }
h3 { font-size: 11.5pt; margin: 1.2em 0 .4em; }
p { margin: .5em 0; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 .8em; }
th, td { border: 1px solid #999; padding: .25em .45em; text-align: left; vertical-align: top; }
th, td, dd, .note { overflow-wrap: anywhere; }
th { background: #eee; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.fields { display: grid; grid-template-columns: 16em 1fr; gap: .2em 1em; margin: .5em 0 .8em; }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; }
header dl.fields { border: 1px solid #999; padding: .6em; }
.note { border-left: 4px solid #5a7; background: #f1f8f3; padding: .4em .7em; margin: .6em 0; }
.note.alert { border-color: #b3261e; background: #fbeceb; }
.fill { margin: .6em 0 1em; break-inside: avoid; }
.fill .label { font-weight: 600; }
.fill .hint { color: #555; font-weight: normal; }
.fill .box { border: 1px solid #555; min-height: 5.5em; margin-top: .25em; }
.choice { margin: .5em 0; break-inside: avoid; }
.choice .label { font-weight: 600; margin-right: 1em; }
.choice .option { display: inline-block; margin-right: 1.6em; }
.choice .option::before { content: ""; display: inline-block; width: .9em; height: .9em;
                          border: 1px solid #1b1b1b; margin-right: .35em; vertical-align: -.1em; }
footer { margin-top: 2em; color: #555; font-size: 9pt; }
@page { size: A4; margin: 16mm 15mm 18mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  section + section { break-before: page; }
  h2, h3 { break-after: avoid; }
  table, dl.fields, .note { break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .note, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
)";

std::string RenderHtml(const Doc& unescaped) {
  const Doc doc = Printable(unescaped);
  // The policy forbids every script and resource, so that a name the escaping missed still could not run.
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">\n";
  absl::StrAppend(&h, "<title>", HtmlEscape(doc.title), ": ", HtmlEscape(doc.subtitle), "</title>\n");
  absl::StrAppend(&h, "<style>", kCss, "</style>\n</head>\n<body>\n<header>\n<h1>", HtmlEscape(doc.title),
                  "</h1>\n<p class=\"subtitle\">", HtmlEscape(doc.subtitle), "</p>\n");
  const auto fields = [&](const std::vector<std::pair<std::string, std::string>>& kv) {
    h += "<dl class=\"fields\">\n";
    for (const auto& [k, v] : kv)
      absl::StrAppend(&h, "<dt>", HtmlEscape(k), "</dt><dd>", HtmlEscape(v), "</dd>\n");
    h += "</dl>\n";
  };
  fields(doc.header);
  h += "</header>\n";
  for (const Section& s : doc.sections) {
    absl::StrAppend(&h, "<section>\n<h2>", HtmlEscape(s.title), "</h2>\n");
    for (const Block& b : s.blocks) {
      switch (b.kind) {
        case Block::Kind::kHeading:
          absl::StrAppend(&h, "<h3>", HtmlEscape(b.text), "</h3>\n");
          break;
        case Block::Kind::kParagraph:
          absl::StrAppend(&h, "<p>", HtmlEscape(b.text), "</p>\n");
          break;
        case Block::Kind::kNote:
          absl::StrAppend(&h, "<p class=\"note", b.alert ? " alert" : "", "\">", HtmlEscape(b.text),
                          "</p>\n");
          break;
        case Block::Kind::kFields:
          fields(b.fields);
          break;
        case Block::Kind::kTable: {
          h += "<table>\n<thead><tr>";
          for (const std::string& c : b.header) absl::StrAppend(&h, "<th>", HtmlEscape(c), "</th>");
          h += "</tr></thead>\n<tbody>\n";
          for (const auto& row : b.rows) {
            h += "<tr>";
            for (size_t i = 0; i < row.size(); ++i) {
              const bool num = i < b.numeric.size() && b.numeric[i];
              absl::StrAppend(&h, num ? "<td class=\"num\">" : "<td>", HtmlEscape(row[i]), "</td>");
            }
            h += "</tr>\n";
          }
          h += "</tbody>\n</table>\n";
          break;
        }
        case Block::Kind::kFillIn:
          for (const auto& [label, hint] : b.fields) {
            absl::StrAppend(&h, "<div class=\"fill\"><div class=\"label\">", HtmlEscape(label));
            if (!hint.empty()) absl::StrAppend(&h, " <span class=\"hint\">(", HtmlEscape(hint), ")</span>");
            h += "</div><div class=\"box\"></div></div>\n";
          }
          break;
        case Block::Kind::kChoice:
          absl::StrAppend(&h, "<div class=\"choice\"><span class=\"label\">", HtmlEscape(b.text), "</span>");
          for (const std::string& o : b.header)
            absl::StrAppend(&h, "<span class=\"option\">", HtmlEscape(o), "</span>");
          h += "</div>\n";
          break;
      }
    }
    h += "</section>\n";
  }
  absl::StrAppend(&h, "<footer>Generated by Veil from the workspace's facts. ", HtmlEscape(kNoPersonalData),
                  "</footer>\n</body>\n</html>\n");
  return h;
}

}  // namespace

std::string RenderRopaText(const RopaFacts& facts) { return RenderText(BuildRopa(facts)); }
std::string RenderDpiaText(const DpiaFacts& facts) { return RenderText(BuildDpia(facts)); }
std::string RenderRopaHtml(const RopaFacts& facts) { return RenderHtml(BuildRopa(facts)); }
std::string RenderDpiaHtml(const DpiaFacts& facts) { return RenderHtml(BuildDpia(facts)); }

}  // namespace veil::gov
