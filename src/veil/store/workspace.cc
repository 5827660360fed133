#include "veil/store/workspace.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/rfc3339.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/hkdf.h"
#include "veil/crypto/random.h"
#include "veil/store/vault_file.h"

namespace veil::store {
namespace {

// workspace.db. Pseudonyms are stored as their 32 raw bytes.
const Migration kMetadataSchema[] = {
    {"settings, catalog, grants, pending clean-ups",
     "CREATE TABLE setting ("
     "  name TEXT PRIMARY KEY,"
     "  value BLOB NOT NULL"
     ") WITHOUT ROWID;"
     "CREATE TABLE dataset ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"
     "  subject_column TEXT NOT NULL,"
     "  schema TEXT NOT NULL,"  // JSON: [{"name", "type", "nullable"}]
     "  rows INTEGER NOT NULL,"
     "  subjects INTEGER NOT NULL,"
     "  next_row_id INTEGER NOT NULL,"  // row ids of the next append start here
     "  created_ns INTEGER NOT NULL,"
     "  updated_ns INTEGER NOT NULL"
     ");"
     "CREATE TABLE dataset_purpose ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  purpose TEXT NOT NULL,"
     "  PRIMARY KEY (dataset_id, purpose)"
     ") WITHOUT ROWID;"
     "CREATE TABLE dataset_source ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  seq INTEGER NOT NULL,"
     "  mode TEXT NOT NULL,"
     "  file_name TEXT NOT NULL,"
     "  sha256 TEXT NOT NULL,"
     "  bytes INTEGER NOT NULL,"
     "  rows INTEGER NOT NULL,"
     "  ingested_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (dataset_id, seq)"
     ") WITHOUT ROWID;"
     "CREATE TABLE vault_file ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  file TEXT NOT NULL,"
     "  records INTEGER NOT NULL,"
     "  bytes INTEGER NOT NULL,"
     "  sha256 BLOB NOT NULL,"
     "  PRIMARY KEY (dataset_id, file)"
     ") WITHOUT ROWID;"
     "CREATE TABLE subject ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  pseudonym BLOB NOT NULL,"
     "  rows INTEGER NOT NULL,"
     "  PRIMARY KEY (dataset_id, pseudonym)"
     ") WITHOUT ROWID;"
     "CREATE INDEX subject_by_pseudonym ON subject(pseudonym);"
     "CREATE TABLE role_grant ("
     "  actor TEXT NOT NULL,"
     "  role TEXT NOT NULL,"
     "  granted_by TEXT NOT NULL,"
     "  granted_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (actor, role)"
     ") WITHOUT ROWID;"
     // Work a crash may leave half-done, recorded before it starts (see Workspace::Recover):
     //   sweep_keys  dataset: destroy the dataset's keys of subjects the catalog does not list
     //   shred       dataset ('' = all), pseudonym: destroy that subject's keys
     "CREATE TABLE pending ("
     "  id INTEGER PRIMARY KEY,"
     "  action TEXT NOT NULL,"
     "  dataset TEXT NOT NULL,"
     "  pseudonym BLOB"
     ");"},
    // The privacy-budget ledger (ledger.h). A charge whose audit_seq is NULL is a reservation: its operation
    // is in flight (or was cut short by a crash) and it counts as spent until gov::Session settles it.
    {"privacy budgets and the ledger of charges",
     "CREATE TABLE privacy_budget ("
     "  dataset_id INTEGER PRIMARY KEY REFERENCES dataset(id) ON DELETE CASCADE,"
     "  epsilon REAL NOT NULL,"
     "  delta REAL NOT NULL,"
     "  set_by TEXT NOT NULL,"
     "  set_ns INTEGER NOT NULL"
     ");"
     "CREATE TABLE privacy_charge ("
     "  id INTEGER PRIMARY KEY,"
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  charged_ns INTEGER NOT NULL,"
     "  actor TEXT NOT NULL,"
     "  operation TEXT NOT NULL,"
     "  epsilon REAL NOT NULL,"
     "  delta REAL NOT NULL,"
     "  description TEXT NOT NULL,"
     "  params_hash BLOB NOT NULL,"    // 32 bytes: the params hash of the operation's audit entry
     "  audit_from INTEGER NOT NULL,"  // the audit log's size at reservation: the entry's seq is >= this
     "  audit_seq INTEGER"             // the audit entry's seq; NULL while reserved
     ");"
     "CREATE INDEX privacy_charge_by_dataset ON privacy_charge(dataset_id, id);"
     "CREATE INDEX privacy_charge_reserved ON privacy_charge(id) WHERE audit_seq IS NULL;"},
    // Attached datasets (`veil attach`): the rows stay in an external database; the catalog keeps where
    // (the connection string without its password) and how its columns are typed there.
    {"attached external datasets",
     "ALTER TABLE dataset ADD COLUMN kind TEXT NOT NULL DEFAULT 'vault';"
     "CREATE TABLE external_source ("
     "  dataset_id INTEGER PRIMARY KEY REFERENCES dataset(id) ON DELETE CASCADE,"
     "  engine TEXT NOT NULL,"
     "  conninfo TEXT NOT NULL,"  // never a password
     "  location TEXT NOT NULL,"
     "  schema_name TEXT NOT NULL,"
     "  table_name TEXT NOT NULL,"
     "  columns TEXT NOT NULL,"  // JSON: [{"name", "source_type", "type_oid"}], one per schema field
     "  server_version INTEGER NOT NULL,"
     "  attached_by TEXT NOT NULL,"
     "  attached_ns INTEGER NOT NULL"
     ");"},
    // The model registry (model_registry.h): each version of a trained model, its card (JSON, no personal
    // data) and the model itself sealed under a key derived from the master key. `dataset` is a name, not a
    // reference: a model stays registered (and its audited decisions traceable) if its dataset is replaced.
    {"model registry",
     "CREATE TABLE model ("
     "  name TEXT NOT NULL,"
     "  version INTEGER NOT NULL,"
     "  created_ns INTEGER NOT NULL,"
     "  created_by TEXT NOT NULL,"
     "  dataset TEXT NOT NULL,"
     "  card TEXT NOT NULL,"
     "  sealed BLOB NOT NULL,"
     "  PRIMARY KEY (name, version)"
     ") WITHOUT ROWID;"},
    // The data map (veil::gov's catalog.h): what each column holds (taxonomy keys, from the PII classifier at
    // ingest or set by a person), each dataset's processing declarations (purpose, Art. 6 basis, Art. 9
    // condition, recipients, transfers, retention, automated decisions), and the workspace's additions to
    // the built-in taxonomy. Lists are JSON arrays of strings (transfers: of {"to", "safeguard"} objects).
    {"data map: column annotations, processing declarations, taxonomy additions",
     "CREATE TABLE column_annotation ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  column_name TEXT NOT NULL,"
     "  categories TEXT NOT NULL,"  // JSON array of category keys; [] = no personal data
     "  role TEXT NOT NULL,"        // direct_identifier | quasi_identifier | free_text | none
     "  source TEXT NOT NULL,"      // classifier | user
     "  confidence REAL NOT NULL,"
     "  evidence TEXT NOT NULL,"
     "  confirmed INTEGER NOT NULL,"
     "  set_by TEXT NOT NULL,"
     "  set_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (dataset_id, column_name)"
     ") WITHOUT ROWID;"
     "CREATE TABLE processing_declaration ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  purpose TEXT NOT NULL,"
     "  legal_basis TEXT NOT NULL,"
     "  special_basis TEXT NOT NULL,"  // '' when none
     "  subject_types TEXT NOT NULL,"
     "  recipients TEXT NOT NULL,"
     "  transfers TEXT NOT NULL,"
     "  retention TEXT NOT NULL,"
     "  automated_decisions INTEGER NOT NULL,"
     "  description TEXT NOT NULL,"
     "  declared_by TEXT NOT NULL,"
     "  declared_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (dataset_id, purpose)"
     ") WITHOUT ROWID;"
     "CREATE TABLE taxonomy_key ("
     "  kind TEXT NOT NULL,"
     "  key TEXT NOT NULL,"
     "  description TEXT NOT NULL,"
     "  special TEXT NOT NULL,"
     "  added_by TEXT NOT NULL,"
     "  added_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (kind, key)"
     ") WITHOUT ROWID;"},
    // Consent, objection and restriction (veil::gov's consent.h). consent_event is the versioned history of
    // each (subject, purpose): every grant and withdrawal, never updated or deleted (erasure of the subject
    // keeps it, under the pseudonym, as the proof of consent, Art. 7(1)); consent_state is the latest of
    // them per (purpose, subject), what the gate reads, keyed by purpose so that one purpose's subjects are
    // one range scan. subject_restriction holds objections (Art. 21) and restrictions of processing
    // (Art. 18), in force while lifted_ns is NULL.
    {"consent, objection and restriction of processing",
     "CREATE TABLE consent_event ("
     "  id INTEGER PRIMARY KEY,"
     "  pseudonym BLOB NOT NULL,"
     "  purpose TEXT NOT NULL,"
     "  version INTEGER NOT NULL,"  // 1, 2, ... per (pseudonym, purpose), in the order recorded
     "  state TEXT NOT NULL,"       // granted | withdrawn
     "  at_ns INTEGER NOT NULL,"    // when the subject granted or withdrew it
     "  source TEXT NOT NULL,"
     "  notice_version TEXT NOT NULL,"
     "  expires_ns INTEGER,"  // a grant's end; NULL: until withdrawn
     "  recorded_by TEXT NOT NULL,"
     "  recorded_ns INTEGER NOT NULL,"
     "  UNIQUE (pseudonym, purpose, version)"
     ");"
     "CREATE TABLE consent_state ("
     "  purpose TEXT NOT NULL,"
     "  pseudonym BLOB NOT NULL,"
     "  version INTEGER NOT NULL,"
     "  granted INTEGER NOT NULL,"
     "  at_ns INTEGER NOT NULL,"
     "  expires_ns INTEGER,"
     "  PRIMARY KEY (purpose, pseudonym)"
     ") WITHOUT ROWID;"
     "CREATE INDEX consent_state_by_subject ON consent_state(pseudonym);"
     "CREATE TABLE subject_restriction ("
     "  id INTEGER PRIMARY KEY,"
     "  pseudonym BLOB NOT NULL,"
     "  kind TEXT NOT NULL,"     // objection | restriction
     "  purpose TEXT NOT NULL,"  // '' = every purpose
     "  dataset TEXT NOT NULL,"  // '' = every dataset
     "  reason TEXT NOT NULL,"
     "  since_ns INTEGER NOT NULL,"
     "  recorded_by TEXT NOT NULL,"
     "  lifted_ns INTEGER,"
     "  lifted_by TEXT"
     ");"
     "CREATE INDEX subject_restriction_by_subject ON subject_restriction(pseudonym);"},
    // Retention (veil::gov's retention.h). subject.ingested_ns is when the subject's rows last arrived (the
    // `ingest` trigger); subjects of older workspaces get their dataset's latest ingest, which never makes
    // anything due earlier than it is. retention_rule: per dataset and data category ('' = the whole
    // dataset) a period in days from a trigger (`ingest`, or `column` with a date or timestamp column).
    // legal_hold: erasure by retention suspended for a dataset (pseudonym NULL) or one subject, in force
    // while released_ns is NULL.
    {"retention rules, legal holds, subjects' ingest times",
     "ALTER TABLE subject ADD COLUMN ingested_ns INTEGER;"
     "UPDATE subject SET ingested_ns = (SELECT MAX(s.ingested_ns) FROM dataset_source s WHERE "
     "s.dataset_id = subject.dataset_id);"
     "CREATE TABLE retention_rule ("
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  category TEXT NOT NULL,"  // '' = every column of the dataset
     "  days INTEGER NOT NULL,"
     "  trigger TEXT NOT NULL,"      // ingest | column
     "  column_name TEXT NOT NULL,"  // the date column of a `column` trigger, else ''
     "  set_by TEXT NOT NULL,"
     "  set_ns INTEGER NOT NULL,"
     "  PRIMARY KEY (dataset_id, category)"
     ") WITHOUT ROWID;"
     "CREATE TABLE legal_hold ("
     "  id INTEGER PRIMARY KEY,"
     "  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,"
     "  pseudonym BLOB,"  // NULL = every subject of the dataset
     "  reason TEXT NOT NULL,"
     "  placed_by TEXT NOT NULL,"
     "  placed_ns INTEGER NOT NULL,"
     "  released_ns INTEGER,"
     "  released_by TEXT"
     ");"},
    // Subject requests (veil::gov's dsr.h; GDPR Art. 12(3), 15-21): one row per request, resumable, with
    // its state, the Art. 12(3) deadline and the outcome of its run (JSON, counts and dataset names, never
    // personal data); dsr_step is each step taken on it, with the audit entry that records the step. The
    // subject is its pseudonym only. A request is kept after the subject's erasure: it is the record that
    // the request was answered (Art. 5(2)).
    {"subject requests",
     "CREATE TABLE dsr_request ("
     "  id INTEGER PRIMARY KEY,"
     "  kind TEXT NOT NULL,"  // access | portability | rectification | erasure | restriction | objection
     "  pseudonym BLOB NOT NULL,"
     "  dataset TEXT NOT NULL,"  // '' = every dataset
     "  purpose TEXT NOT NULL,"  // an objection's purpose; '' = every purpose
     "  note TEXT NOT NULL,"
     "  state TEXT NOT NULL,"  // received | identity_verified | in_progress | completed | rejected | extended
     "  verified INTEGER NOT NULL,"
     "  received_ns INTEGER NOT NULL,"
     "  due_ns INTEGER NOT NULL,"
     "  extension_reason TEXT,"  // NULL until extended (once, Art. 12(3))
     "  rejection_reason TEXT,"
     "  outcome TEXT NOT NULL,"  // JSON object; {} until run
     "  opened_by TEXT NOT NULL,"
     "  closed_ns INTEGER"
     ");"
     "CREATE TABLE dsr_step ("
     "  request_id INTEGER NOT NULL REFERENCES dsr_request(id),"
     "  seq INTEGER NOT NULL,"
     "  step TEXT NOT NULL,"   // open | verify | run | reject | extend
     "  state TEXT NOT NULL,"  // the state after the step
     "  at_ns INTEGER NOT NULL,"
     "  actor TEXT NOT NULL,"
     "  detail TEXT NOT NULL,"
     "  audit_seq INTEGER,"
     "  PRIMARY KEY (request_id, seq)"
     ") WITHOUT ROWID;"},
    // A counter of the changes to consent_state, kept by triggers whatever writes it: a reader stores a
    // packed row (below) only if the counter did not move while it scanned (veil::gov's consent.cc).
    {"change counter of consent_state",
     "CREATE TABLE consent_state_changes (n INTEGER NOT NULL);"
     "INSERT INTO consent_state_changes VALUES (0);"
     "CREATE TRIGGER consent_state_inserted AFTER INSERT ON consent_state "
     "BEGIN UPDATE consent_state_changes SET n = n + 1; END;"
     "CREATE TRIGGER consent_state_updated AFTER UPDATE ON consent_state "
     "BEGIN UPDATE consent_state_changes SET n = n + 1; END;"
     "CREATE TRIGGER consent_state_deleted AFTER DELETE ON consent_state "
     "BEGIN UPDATE consent_state_changes SET n = n + 1; END;"},
    // Each purpose key's consent states packed into one row, what the gate reads instead of scanning
    // consent_state (veil::gov's consent.cc: the layout, and who writes it). The triggers delete a key's row
    // whenever one of its states changes, whoever changes it, in the same transaction.
    {"packed consent states",
     "CREATE TABLE consent_packed ("
     "  purpose TEXT PRIMARY KEY,"
     "  subjects BLOB NOT NULL,"  // sorted raw pseudonyms, 32 bytes each
     "  until BLOB NOT NULL"      // per subject, until when its state counts as consent (8 bytes)
     ");"
     "CREATE TRIGGER consent_packed_inserted AFTER INSERT ON consent_state "
     "BEGIN DELETE FROM consent_packed WHERE purpose = NEW.purpose; END;"
     "CREATE TRIGGER consent_packed_updated AFTER UPDATE ON consent_state "
     "BEGIN DELETE FROM consent_packed WHERE purpose IN (OLD.purpose, NEW.purpose); END;"
     "CREATE TRIGGER consent_packed_deleted AFTER DELETE ON consent_state "
     "BEGIN DELETE FROM consent_packed WHERE purpose = OLD.purpose; END;"},
};

constexpr char kSigningKeyInfo[] = "veil audit signing key v1";
constexpr char kVaultFileSuffix[] = ".vlt";

std::string Join(const std::string& dir, std::string_view name) {
  return absl::StrCat(dir, "/", std::string(name));
}

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

int64_t ToNanos(absl::Time t) { return absl::ToUnixNanos(t); }
absl::Time FromNanos(int64_t ns) { return absl::FromUnixNanos(ns); }

std::string SchemaToJson(const table::Schema& schema) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::array();
  for (const table::Field& f : schema.fields()) {
    fields.push_back(
        {{"name", f.name}, {"type", std::string(table::DataTypeName(f.type))}, {"nullable", f.nullable}});
  }
  return fields.dump();
}

absl::StatusOr<table::Schema> SchemaFromJson(const std::string& text, std::string_view dataset) {
  const auto damaged = [&] {
    return absl::DataLossError(
        absl::StrCat("workspace.db: the schema of dataset \"", std::string(dataset), "\" is damaged"));
  };
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return damaged();
  std::vector<table::Field> fields;
  for (const nlohmann::json& f : doc) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("type") ||
        !f["type"].is_string() || !f.contains("nullable") || !f["nullable"].is_boolean())
      return damaged();
    const std::optional<table::DataType> type = table::ParseDataType(f["type"].get<std::string>());
    if (!type) return damaged();
    fields.push_back({f["name"].get<std::string>(), *type, f["nullable"].get<bool>()});
  }
  absl::StatusOr<table::Schema> schema = table::Schema::Make(std::move(fields));
  if (!schema.ok()) return damaged();
  return schema;
}

// The text form of row `row`'s subject id.
std::string SubjectId(const table::Column& column, int64_t row) {
  if (column.type() == table::DataType::kString) return std::string(column.GetString(row));
  return column.FormatValue(row);
}

// Rows grouped by subject, in order of first appearance: group g holds rows order[offsets[g]..offsets[g+1]).
struct SubjectGroups {
  std::vector<std::string> ids;
  std::vector<int64_t> offsets;
  std::vector<int64_t> order;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  std::span<const int64_t> rows(int64_t g) const {
    return std::span<const int64_t>(order).subspan(offsets[g], offsets[g + 1] - offsets[g]);
  }
};

SubjectGroups GroupBySubject(const table::Column& column) {
  const int64_t n = column.size();
  std::vector<int32_t> group_of_row(n);
  SubjectGroups groups;
  if (column.type() == table::DataType::kString) {
    // Dictionary codes identify distinct strings already.
    std::vector<int32_t> group_of_code(column.dictionary().size(), -1);
    for (int64_t r = 0; r < n; ++r) {
      int32_t& g = group_of_code[column.GetStringCode(r)];
      if (g < 0) {
        g = static_cast<int32_t>(groups.ids.size());
        groups.ids.emplace_back(column.GetString(r));
      }
      group_of_row[r] = g;
    }
  } else {
    absl::flat_hash_map<std::string, int32_t> group_of_id;
    for (int64_t r = 0; r < n; ++r) {
      auto [it, added] = group_of_id.try_emplace(SubjectId(column, r), 0);
      if (added) {
        it->second = static_cast<int32_t>(groups.ids.size());
        groups.ids.push_back(it->first);
      }
      group_of_row[r] = it->second;
    }
  }
  // Counting sort of the rows by group, stable, so each subject's rows keep their file order.
  groups.offsets.assign(groups.ids.size() + 1, 0);
  for (int32_t g : group_of_row) ++groups.offsets[g + 1];
  std::partial_sum(groups.offsets.begin(), groups.offsets.end(), groups.offsets.begin());
  groups.order.resize(n);
  std::vector<int64_t> next(groups.offsets.begin(), groups.offsets.end() - 1);
  for (int64_t r = 0; r < n; ++r) groups.order[next[group_of_row[r]]++] = r;
  return groups;
}

// A catalog row of vault_file.
struct VaultFileRow {
  std::string file;
  VaultFileSummary summary;
};

absl::StatusOr<std::vector<VaultFileRow>> LoadVaultFiles(Database& db, int64_t dataset_id) {
  VEIL_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT file, records, bytes, sha256 FROM vault_file "
                                                 "WHERE dataset_id = ?1 ORDER BY file"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
  std::vector<VaultFileRow> files;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    VaultFileRow f;
    f.file = st.ColumnText(0);
    f.summary.records = st.ColumnInt64(1);
    f.summary.bytes = st.ColumnInt64(2);
    const std::vector<uint8_t> sha = st.ColumnBlob(3);
    if (sha.size() != f.summary.sha256.size())
      return absl::DataLossError(
          absl::StrCat("workspace.db: the hash of vault file ", f.file, " is damaged"));
    std::copy(sha.begin(), sha.end(), f.summary.sha256.begin());
    files.push_back(std::move(f));
  }
  return files;
}

absl::Status InsertVaultFile(Database& db, int64_t dataset_id, const std::string& file,
                             const VaultFileSummary& summary) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("INSERT INTO vault_file(dataset_id, file, records, bytes, sha256) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, file));
  VEIL_RETURN_IF_ERROR(st.Bind(3, summary.records));
  VEIL_RETURN_IF_ERROR(st.Bind(4, summary.bytes));
  VEIL_RETURN_IF_ERROR(st.BindBlob(5, summary.sha256));
  return st.Run();
}

absl::Status AddPending(Database& db, std::string_view action, std::string_view dataset,
                        std::optional<std::span<const uint8_t>> pseudonym) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("INSERT INTO pending(action, dataset, pseudonym) VALUES (?1, ?2, ?3)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, action));
  VEIL_RETURN_IF_ERROR(st.Bind(2, dataset));
  if (pseudonym.has_value()) {
    VEIL_RETURN_IF_ERROR(st.BindBlob(3, *pseudonym));
  } else {
    VEIL_RETURN_IF_ERROR(st.BindNull(3));
  }
  return st.Run();
}

// A fresh vault file name: unique, and sortable by creation.
absl::StatusOr<std::string> NewVaultFileName(base::Env& env) {
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> suffix, crypto::RandomBytes(8, env.random()));
  return absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%E6S", env.Now(), absl::UTCTimeZone()), "-",
                      base::HexEncode(suffix), kVaultFileSuffix);
}

absl::StatusOr<base::SecretBytes> SigningKeyWrap(const base::SecretBytes& master_key) {
  return crypto::HkdfSha256(master_key.span(), {}, base::AsBytes(kSigningKeyInfo), 32);
}

// Keys for other uses (Workspace::DeriveKey) hang off their own HKDF branch, so none of them can equal the
// signing key's wrap, the key store's keys or the pseudonym key.
absl::StatusOr<base::SecretBytes> AppKeyRoot(const base::SecretBytes& master_key) {
  return crypto::HkdfSha256(master_key.span(), {}, base::AsBytes(std::string_view("veil app keys v1")), 32);
}

std::string SigningKeyAad(std::string_view workspace_id) {
  return absl::StrCat(kSigningKeyInfo, "\n", std::string(workspace_id));
}

absl::StatusOr<std::string> GetSetting(Database& db, std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT value FROM setting WHERE name = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row)
    return absl::DataLossError(
        absl::StrCat("workspace.db is damaged: setting \"", std::string(name), "\" is missing"));
  const std::vector<uint8_t> value = st.ColumnBlob(0);
  return std::string(value.begin(), value.end());
}

absl::Status PutSetting(Database& db, std::string_view name, std::span<const uint8_t> value) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("INSERT OR REPLACE INTO setting(name, value) VALUES (?1, ?2)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  VEIL_RETURN_IF_ERROR(st.BindBlob(2, value));
  return st.Run();
}

bool SameColumns(const table::Schema& a, const table::Schema& b) {
  if (a.num_fields() != b.num_fields()) return false;
  for (int i = 0; i < a.num_fields(); ++i) {
    if (a.field(i).name != b.field(i).name || a.field(i).type != b.field(i).type) return false;
  }
  return true;
}

// Inserts or replaces a column annotation. kOnlyClassifier: an existing person's annotation is kept;
// kOnlyNew: an existing annotation of any kind is kept.
enum class AnnotationWrite { kReplace, kOnlyClassifier, kOnlyNew };

absl::Status WriteAnnotation(Database& db, int64_t dataset_id, const ColumnAnnotation& a,
                             AnnotationWrite how) {
  std::string sql =
      "INSERT INTO column_annotation(dataset_id, column_name, categories, role, source, confidence, "
      "evidence, "
      "confirmed, set_by, set_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(dataset_id, "
      "column_name) DO ";
  if (how == AnnotationWrite::kOnlyNew) {
    sql += "NOTHING";
  } else {
    sql +=
        "UPDATE SET categories = excluded.categories, role = excluded.role, source = excluded.source, "
        "confidence = excluded.confidence, evidence = excluded.evidence, confirmed = excluded.confirmed, "
        "set_by = excluded.set_by, set_ns = excluded.set_ns";
    if (how == AnnotationWrite::kOnlyClassifier) sql += " WHERE column_annotation.source = 'classifier'";
  }
  VEIL_ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
  VEIL_RETURN_IF_ERROR(st.Bind(2, a.column));
  VEIL_RETURN_IF_ERROR(st.Bind(3, nlohmann::json(a.categories).dump()));
  VEIL_RETURN_IF_ERROR(st.Bind(4, a.role));
  VEIL_RETURN_IF_ERROR(st.Bind(5, a.source));
  VEIL_RETURN_IF_ERROR(st.Bind(6, a.confidence));
  VEIL_RETURN_IF_ERROR(st.Bind(7, a.evidence));
  VEIL_RETURN_IF_ERROR(st.Bind(8, int64_t{a.confirmed ? 1 : 0}));
  VEIL_RETURN_IF_ERROR(st.Bind(9, a.set_by));
  VEIL_RETURN_IF_ERROR(st.Bind(10, absl::ToUnixNanos(a.set_at)));
  return st.Run();
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> PseudonymBytes(std::string_view pseudonym) {
  std::vector<uint8_t> bytes(32);
  if (pseudonym.size() != 64 || !base::HexDecode(pseudonym, bytes))
    return absl::InvalidArgumentError("a subject pseudonym is 64 hex digits");
  return bytes;
}

nlohmann::ordered_json DatasetInfoToJson(const DatasetInfo& info) {
  nlohmann::ordered_json columns = nlohmann::ordered_json::array();
  for (const table::Field& f : info.schema.fields()) {
    columns.push_back(
        {{"name", f.name}, {"type", std::string(table::DataTypeName(f.type))}, {"nullable", f.nullable}});
  }
  nlohmann::ordered_json sources = nlohmann::ordered_json::array();
  for (const DatasetSource& s : info.sources) {
    sources.push_back({{"mode", s.mode},
                       {"file_name", s.file_name},
                       {"sha256", s.sha256},
                       {"bytes", s.bytes},
                       {"rows", s.rows},
                       {"ingested_at", base::Rfc3339(s.ingested_at)}});
  }
  return {
      {"name", info.name},
      {"subject_column", info.subject_column},
      {"rows", info.rows},
      {"subjects", info.subjects},
      {"purposes", info.purposes},
      {"columns", columns},
      {"sources", sources},
      {"created_at", base::Rfc3339(info.created_at)},
      {"updated_at", base::Rfc3339(info.updated_at)},
      {"vault_files", info.vault_files},
      {"vault_bytes", info.vault_bytes},
      {"kind", info.kind},
      {"external", info.external.has_value()
                       ? nlohmann::ordered_json{{"engine", info.external->engine},
                                                {"conninfo", info.external->conninfo},
                                                {"location", info.external->location},
                                                {"schema", info.external->schema_name},
                                                {"table", info.external->table_name},
                                                {"server_version", info.external->server_version},
                                                {"attached_by", info.external->attached_by},
                                                {"attached_at", base::Rfc3339(info.external->attached_at)}}
                       : nlohmann::ordered_json(nullptr)}};
}

const char* IngestModeName(IngestMode mode) {
  switch (mode) {
    case IngestMode::kCreate:
      return "create";
    case IngestMode::kReplace:
      return "replace";
    case IngestMode::kAppend:
      return "append";
  }
  return "?";
}

absl::Status ValidateDatasetName(std::string_view name) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid dataset name \"", std::string(name.substr(0, 80)), "\": ", std::string(why)));
  };
  if (name.empty() || name.size() > 64) return bad("it must have 1 to 64 characters");
  if (!absl::ascii_isalnum(name[0])) return bad("it must start with a letter or a digit");
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
      return bad("use only letters, digits, '_', '.' and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidatePurpose(std::string_view purpose) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid purpose \"", std::string(purpose.substr(0, 80)), "\": ", std::string(why)));
  };
  if (purpose.empty() || purpose.size() > 128) return bad("it must have 1 to 128 characters");
  if (!absl::ascii_islower(purpose[0])) return bad("it must start with a lower-case letter");
  for (char c : purpose) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '.' && c != '-')
      return bad("use only lower-case letters, digits, '_', '.' and '-' (e.g. \"research.cohort\")");
  }
  return absl::OkStatus();
}

Workspace::Workspace(base::Env& env, std::string dir, std::unique_ptr<base::FileLock> lock, Database db,
                     KeyStore keys, crypto::Ed25519PrivateKey signing_key, std::string id,
                     base::SecretBytes app_key_root)
    : env_(env),
      dir_(std::move(dir)),
      lock_(std::move(lock)),
      db_(std::move(db)),
      keys_(std::move(keys)),
      signing_key_(std::move(signing_key)),
      id_(std::move(id)),
      app_key_root_(std::move(app_key_root)) {}

absl::StatusOr<base::SecretBytes> Workspace::DeriveKey(std::string_view label) const {
  return crypto::HkdfSha256(app_key_root_, {},
                            base::AsBytes(absl::StrCat("veil app key v1: ", std::string(label))), 32);
}

Workspace::~Workspace() = default;

int Workspace::SchemaVersion() { return static_cast<int>(std::size(kMetadataSchema)); }

absl::StatusOr<std::unique_ptr<Workspace>> Workspace::Create(
    base::Env& env, const std::string& dir, const WorkspaceCreateOptions& options,
    absl::FunctionRef<absl::Status(Workspace&)> initialize) {
  if (dir.empty()) return absl::InvalidArgumentError("the workspace directory is empty");
  if (env.FileExists(dir)) {
    absl::StatusOr<std::vector<std::string>> entries = env.ListDir(dir);
    if (!entries.ok()) return absl::AlreadyExistsError(absl::StrCat(dir, " exists and is not a directory"));
    if (std::find(entries->begin(), entries->end(), "master-key.json") != entries->end())
      return absl::AlreadyExistsError(absl::StrCat(dir, " is already a Veil workspace"));
    if (!entries->empty())
      return absl::AlreadyExistsError(
          absl::StrCat(dir, " exists and is not empty; choose a new directory for the workspace"));
  }
  // Build the workspace beside its final place and rename it there once complete.
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> tag, crypto::RandomBytes(6, env.random()));
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const std::string staging = absl::StrCat(trimmed, ".init-", base::HexEncode(tag));
  absl::Status status = [&]() -> absl::Status {
    VEIL_RETURN_IF_ERROR(env.CreateDirs(Join(staging, "keys")));
    VEIL_RETURN_IF_ERROR(env.CreateDirs(Join(staging, kVaultDir)));
    VEIL_RETURN_IF_ERROR(env.CreateDirs(Join(staging, "audit")));
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::FileLock> lock, env.LockFile(Join(staging, kLockFile)));
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes master, CreateMasterKey(env, staging, options.master_key));
    VEIL_ASSIGN_OR_RETURN(Database db, Database::Open(Join(staging, kMetadataFile)));
    VEIL_RETURN_IF_ERROR(ApplyMigrations(db, kMetadataSchema));
    VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> id_bytes, crypto::RandomBytes(16, env.random()));
    const std::string id = base::HexEncode(id_bytes);
    VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey signing,
                          crypto::Ed25519PrivateKey::Generate(env.random()));
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes seed, signing.ExportSeed());
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes wrap, SigningKeyWrap(master));
    VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed,
                          crypto::Seal(wrap, seed.span(), base::AsBytes(SigningKeyAad(id)), env.random()));
    VEIL_RETURN_IF_ERROR(PutSetting(db, "workspace_id", base::AsBytes(id)));
    VEIL_RETURN_IF_ERROR(PutSetting(db, "audit_signing_key", sealed));
    VEIL_RETURN_IF_ERROR(
        PutSetting(db, "audit_public_key", base::AsBytes(base::HexEncode(signing.public_key().bytes()))));
    const std::string created = absl::StrCat(ToNanos(env.Now()));
    VEIL_RETURN_IF_ERROR(PutSetting(db, "created_ns", base::AsBytes(created)));
    VEIL_ASSIGN_OR_RETURN(KeyStore keys, KeyStore::Open(Join(staging, kKeyStoreFile), master));
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes app_key_root, AppKeyRoot(master));
    std::unique_ptr<Workspace> ws(new Workspace(env, staging, std::move(lock), std::move(db), std::move(keys),
                                                std::move(signing), id, std::move(app_key_root)));
    return initialize(*ws);
  }();
  if (status.ok()) status = env.RenameFile(staging, dir);
  if (!status.ok()) {
    env.DeleteRecursively(staging).IgnoreError();
    return status;
  }
  VEIL_RETURN_IF_ERROR(env.SyncDir(Parent(trimmed)));
  return Open(env, dir, options.master_key.passphrase);
}

absl::StatusOr<std::unique_ptr<Workspace>> Workspace::Open(base::Env& env, const std::string& dir,
                                                           const std::optional<base::SecretBytes>& passphrase,
                                                           absl::Duration lock_timeout) {
  if (!env.FileExists(Join(dir, "master-key.json"))) {
    return absl::NotFoundError(
        absl::StrCat(dir, " is not a Veil workspace (no master-key.json); create one with `veil init`"));
  }
  const absl::Time deadline = absl::Now() + lock_timeout;
  std::unique_ptr<base::FileLock> lock;
  while (true) {
    absl::StatusOr<std::unique_ptr<base::FileLock>> l = env.LockFile(Join(dir, kLockFile));
    if (l.ok()) {
      lock = *std::move(l);
      break;
    }
    if (!absl::IsUnavailable(l.status()) || absl::Now() >= deadline) {
      if (absl::IsUnavailable(l.status()))
        return absl::UnavailableError(
            absl::StrCat("workspace ", dir, " is in use by another veil process; try again when it ends"));
      return l.status();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes master, LoadMasterKey(env, dir, passphrase));
  return OpenLocked(env, dir, std::move(lock), std::move(master));
}

absl::StatusOr<std::unique_ptr<Workspace>> Workspace::OpenLocked(base::Env& env, const std::string& dir,
                                                                 std::unique_ptr<base::FileLock> lock,
                                                                 base::SecretBytes master_key) {
  for (const char* required : {kMetadataFile, kKeyStoreFile, kVaultDir}) {
    if (!env.FileExists(Join(dir, required)))
      return absl::DataLossError(absl::StrCat("workspace ", dir, " is damaged: ", required, " is missing"));
  }
  absl::StatusOr<Database> db = Database::Open(Join(dir, kMetadataFile), {.create = false});
  if (!db.ok()) return db.status();
  VEIL_RETURN_IF_ERROR(ApplyMigrations(*db, kMetadataSchema));
  VEIL_ASSIGN_OR_RETURN(std::string id, GetSetting(*db, "workspace_id"));
  VEIL_ASSIGN_OR_RETURN(std::string sealed, GetSetting(*db, "audit_signing_key"));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes wrap, SigningKeyWrap(master_key));
  absl::StatusOr<base::SecretBytes> seed =
      crypto::OpenToSecret(wrap, base::AsBytes(sealed), base::AsBytes(SigningKeyAad(id)));
  if (!seed.ok()) {
    return absl::DataLossError(absl::StrCat(
        "workspace ", dir,
        ": the audit signing key does not unseal (the master key is not this workspace's, or workspace.db "
        "was altered)"));
  }
  VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey signing, crypto::Ed25519PrivateKey::FromSeed(*seed));
  VEIL_ASSIGN_OR_RETURN(KeyStore keys, KeyStore::Open(Join(dir, kKeyStoreFile), master_key));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes app_key_root, AppKeyRoot(master_key));
  std::unique_ptr<Workspace> ws(new Workspace(env, dir, std::move(lock), *std::move(db), std::move(keys),
                                              std::move(signing), std::move(id), std::move(app_key_root)));
  VEIL_RETURN_IF_ERROR(ws->Recover());
  return ws;
}

std::string Workspace::VaultPath(std::string_view dataset, std::string_view file) const {
  return absl::StrCat(dir_, "/", kVaultDir, "/", std::string(dataset), "/", std::string(file));
}

absl::Status Workspace::Recover() {
  // 1. Pending key destruction, in the order it was recorded.
  struct Pending {
    int64_t id;
    std::string action, dataset;
    std::vector<uint8_t> pseudonym;
  };
  std::vector<Pending> pending;
  {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT id, action, dataset, pseudonym FROM pending ORDER BY id"));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      pending.push_back({st.ColumnInt64(0), st.ColumnText(1), st.ColumnText(2),
                         st.IsNull(3) ? std::vector<uint8_t>{} : st.ColumnBlob(3)});
    }
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (p.action == "shred") {
      // Consecutive shreds in the same scope (an erasure of several subjects) in one call: one checkpoint.
      size_t end = i + 1;
      while (end < pending.size() && pending[end].action == "shred" && pending[end].dataset == p.dataset)
        ++end;
      std::vector<std::string> pseudonyms;
      for (size_t j = i; j < end; ++j) pseudonyms.push_back(base::HexEncode(pending[j].pseudonym));
      std::optional<std::string_view> dataset;
      if (!p.dataset.empty()) dataset = p.dataset;
      VEIL_RETURN_IF_ERROR(keys_.Shred(pseudonyms, dataset).status());
      VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
      VEIL_ASSIGN_OR_RETURN(Statement del, db_.Prepare("DELETE FROM pending WHERE id = ?1"));
      for (size_t j = i; j < end; ++j) {
        VEIL_RETURN_IF_ERROR(del.Reset());
        VEIL_RETURN_IF_ERROR(del.Bind(1, pending[j].id));
        VEIL_RETURN_IF_ERROR(del.Run());
      }
      VEIL_RETURN_IF_ERROR(txn.Commit());
      i = end - 1;
      continue;
    }
    if (p.action == "sweep_keys") {
      // Keys created by an ingest that did not commit: keep only those of subjects the catalog lists.
      absl::StatusOr<int64_t> id = DatasetId(p.dataset);
      if (absl::IsNotFound(id.status())) {
        VEIL_RETURN_IF_ERROR(keys_.ShredDataset(p.dataset).status());
      } else {
        VEIL_RETURN_IF_ERROR(id.status());
        absl::flat_hash_set<std::string> listed;
        VEIL_ASSIGN_OR_RETURN(Statement st,
                              db_.Prepare("SELECT pseudonym FROM subject WHERE dataset_id = ?1"));
        VEIL_RETURN_IF_ERROR(st.Bind(1, *id));
        while (true) {
          VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          listed.insert(base::HexEncode(st.ColumnBlob(0)));
        }
        VEIL_ASSIGN_OR_RETURN(auto keys, keys_.LoadKeys(p.dataset));
        std::vector<std::string> orphans;
        for (const auto& [pseudonym, key] : keys) {
          if (!listed.contains(pseudonym)) orphans.push_back(pseudonym);
        }
        if (!orphans.empty()) VEIL_RETURN_IF_ERROR(keys_.Shred(orphans, p.dataset).status());
      }
    } else {
      return absl::DataLossError(absl::StrCat("workspace.db: unknown pending action \"", p.action, "\""));
    }
    VEIL_ASSIGN_OR_RETURN(Statement del, db_.Prepare("DELETE FROM pending WHERE id = ?1"));
    VEIL_RETURN_IF_ERROR(del.Bind(1, p.id));
    VEIL_RETURN_IF_ERROR(del.Run());
  }

  // 2. Vault files the catalog does not reference: written by an operation that did not commit, or replaced
  // by one that did.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> referenced;
  {
    VEIL_ASSIGN_OR_RETURN(
        Statement st,
        db_.Prepare("SELECT d.name, f.file FROM vault_file f JOIN dataset d ON d.id = f.dataset_id"));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      referenced[st.ColumnText(0)].insert(st.ColumnText(1));
    }
  }
  const std::string vault = Join(dir_, kVaultDir);
  VEIL_ASSIGN_OR_RETURN(std::vector<std::string> dataset_dirs, env_.ListDir(vault));
  for (const std::string& name : dataset_dirs) {
    auto it = referenced.find(name);
    if (it == referenced.end()) {
      VEIL_RETURN_IF_ERROR(env_.DeleteRecursively(Join(vault, name)));
      continue;
    }
    VEIL_ASSIGN_OR_RETURN(std::vector<std::string> files, env_.ListDir(Join(vault, name)));
    for (const std::string& file : files) {
      if (!it->second.contains(file)) VEIL_RETURN_IF_ERROR(env_.DeleteRecursively(VaultPath(name, file)));
    }
  }
  return env_.SyncDir(vault);
}

absl::StatusOr<int64_t> Workspace::DatasetId(std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(Statement st, db_.Prepare("SELECT id FROM dataset WHERE name = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, name));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no dataset named \"", std::string(name), "\""));
  return st.ColumnInt64(0);
}

absl::StatusOr<DatasetInfo> Workspace::GetDataset(std::string_view name) {
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(name));
  DatasetInfo info;
  {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT name, subject_column, schema, rows, subjects, "
                                      "created_ns, updated_ns, kind FROM dataset WHERE id = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, id));
    VEIL_RETURN_IF_ERROR(st.Step().status());
    info.name = st.ColumnText(0);
    info.subject_column = st.ColumnText(1);
    VEIL_ASSIGN_OR_RETURN(info.schema, SchemaFromJson(st.ColumnText(2), info.name));
    info.rows = st.ColumnInt64(3);
    info.subjects = st.ColumnInt64(4);
    info.created_at = FromNanos(st.ColumnInt64(5));
    info.updated_at = FromNanos(st.ColumnInt64(6));
    info.kind = st.ColumnText(7);
  }
  if (info.kind != "vault") {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT engine, conninfo, location, schema_name, table_name, columns, "
                                      "server_version, attached_by, attached_ns FROM external_source "
                                      "WHERE dataset_id = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, id));
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    const auto damaged = [&] {
      return absl::DataLossError(absl::StrCat("workspace.db: the external source of dataset \"", info.name,
                                              "\" is missing or damaged"));
    };
    if (!row) return damaged();
    ExternalSource& x = info.external.emplace();
    x.engine = st.ColumnText(0);
    x.conninfo = st.ColumnText(1);
    x.location = st.ColumnText(2);
    x.schema_name = st.ColumnText(3);
    x.table_name = st.ColumnText(4);
    const nlohmann::json cols = nlohmann::json::parse(st.ColumnText(5), nullptr, /*allow_exceptions=*/false);
    if (!cols.is_array() || cols.size() != static_cast<size_t>(info.schema.num_fields())) return damaged();
    for (const nlohmann::json& c : cols) {
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("source_type") ||
          !c["source_type"].is_string() || !c.contains("type_oid") || !c["type_oid"].is_number_unsigned())
        return damaged();
      x.columns.push_back(
          {c["name"].get<std::string>(), c["source_type"].get<std::string>(), c["type_oid"].get<uint32_t>()});
    }
    x.server_version = static_cast<int>(st.ColumnInt64(6));
    x.attached_by = st.ColumnText(7);
    x.attached_at = FromNanos(st.ColumnInt64(8));
  }
  {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT purpose FROM dataset_purpose WHERE dataset_id = ?1 "
                                      "ORDER BY purpose"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, id));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      info.purposes.push_back(st.ColumnText(0));
    }
  }
  {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT mode, file_name, sha256, bytes, rows, ingested_ns FROM "
                                      "dataset_source WHERE dataset_id = ?1 ORDER BY seq"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, id));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      info.sources.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt64(3),
                              st.ColumnInt64(4), FromNanos(st.ColumnInt64(5))});
    }
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<VaultFileRow> files, LoadVaultFiles(db_, id));
  info.vault_files = static_cast<int64_t>(files.size());
  for (const VaultFileRow& f : files) info.vault_bytes += f.summary.bytes;
  return info;
}

absl::StatusOr<std::vector<ColumnAnnotation>> Workspace::Annotations(std::string_view dataset) {
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(dataset));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT column_name, categories, role, source, confidence, evidence, "
                                    "confirmed, set_by, set_ns FROM column_annotation WHERE dataset_id = ?1 "
                                    "ORDER BY column_name"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, id));
  std::vector<ColumnAnnotation> out;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ColumnAnnotation a;
    a.column = st.ColumnText(0);
    const nlohmann::json cats = nlohmann::json::parse(st.ColumnText(1), nullptr, /*allow_exceptions=*/false);
    const auto damaged = [&] {
      return absl::DataLossError(absl::StrCat("workspace.db: the annotation of column \"", a.column,
                                              "\" of dataset \"", std::string(dataset), "\" is damaged"));
    };
    if (!cats.is_array()) return damaged();
    for (const nlohmann::json& c : cats) {
      if (!c.is_string()) return damaged();
      a.categories.push_back(c.get<std::string>());
    }
    a.role = st.ColumnText(2);
    a.source = st.ColumnText(3);
    a.confidence = st.ColumnDouble(4);
    a.evidence = st.ColumnText(5);
    a.confirmed = st.ColumnInt64(6) != 0;
    a.set_by = st.ColumnText(7);
    a.set_at = FromNanos(st.ColumnInt64(8));
    out.push_back(std::move(a));
  }
  return out;
}

absl::Status Workspace::PutAnnotation(std::string_view dataset, const ColumnAnnotation& annotation) {
  VEIL_ASSIGN_OR_RETURN(const DatasetInfo info, GetDataset(dataset));
  if (!info.schema.FindField(annotation.column)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset \"", info.name, "\" has no column \"", annotation.column, "\""));
  }
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(dataset));
  return WriteAnnotation(db_, id, annotation, AnnotationWrite::kReplace);
}

absl::StatusOr<std::vector<DatasetInfo>> Workspace::ListDatasets() {
  std::vector<std::string> names;
  {
    VEIL_ASSIGN_OR_RETURN(Statement st, db_.Prepare("SELECT name FROM dataset ORDER BY name"));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      names.push_back(st.ColumnText(0));
    }
  }
  std::vector<DatasetInfo> out;
  for (const std::string& name : names) {
    VEIL_ASSIGN_OR_RETURN(DatasetInfo info, GetDataset(name));
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<IngestResult> Workspace::Ingest(const table::Table& table, const IngestRequest& request,
                                               BeforeCommit<IngestResult> before_commit) {
  const std::string& name = request.dataset;
  VEIL_RETURN_IF_ERROR(ValidateDatasetName(name));
  for (const std::string& p : request.purposes) VEIL_RETURN_IF_ERROR(ValidatePurpose(p));
  const std::optional<int> subject_index = table.schema().FindField(request.subject_column);
  if (!subject_index) {
    return absl::InvalidArgumentError(absl::StrCat("the table has no column \"", request.subject_column,
                                                   "\" to identify data subjects (--subject-column)"));
  }
  const table::Column& subject_column = table.column(*subject_index);
  if (subject_column.null_count() > 0) {
    int64_t row = 0;
    while (!subject_column.IsNull(row)) ++row;
    return absl::InvalidArgumentError(absl::StrCat(
        "data row ", row + 1, " has no value in the subject column \"", request.subject_column,
        "\": every row must belong to a data subject (rows without one: ", subject_column.null_count(), ")"));
  }

  for (const ColumnAnnotation& a : request.annotations) {
    if (!table.schema().FindField(a.column)) {
      return absl::InvalidArgumentError(
          absl::StrCat("an annotation names column \"", a.column, "\", which the table does not have"));
    }
  }

  // The dataset as it is now.
  std::optional<DatasetInfo> existing;
  int64_t dataset_id = -1, next_row_id = 0;
  if (absl::StatusOr<DatasetInfo> info = GetDataset(name); info.ok()) {
    existing = *std::move(info);
    VEIL_ASSIGN_OR_RETURN(dataset_id, DatasetId(name));
    VEIL_ASSIGN_OR_RETURN(Statement st, db_.Prepare("SELECT next_row_id FROM dataset WHERE id = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
    VEIL_RETURN_IF_ERROR(st.Step().status());
    next_row_id = st.ColumnInt64(0);
  } else if (!absl::IsNotFound(info.status())) {
    return info.status();
  }
  switch (request.mode) {
    case IngestMode::kCreate:
      if (existing) {
        return absl::AlreadyExistsError(absl::StrCat("dataset \"", name,
                                                     "\" already exists; use --replace to replace it or "
                                                     "--append to add rows"));
      }
      break;
    case IngestMode::kReplace:
    case IngestMode::kAppend:
      if (!existing)
        return absl::NotFoundError(
            absl::StrCat("no dataset named \"", name, "\" to ", IngestModeName(request.mode)));
      if (existing->kind != "vault") {
        return absl::FailedPreconditionError(absl::StrCat("dataset \"", name, "\" is attached from ",
                                                          existing->external->location, "; cannot ",
                                                          IngestModeName(request.mode), " rows into it"));
      }
      break;
  }
  const bool append = request.mode == IngestMode::kAppend;
  if (append) {
    if (!SameColumns(existing->schema, table.schema())) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot append to \"", name, "\": the file's columns (", table.schema().ToString(),
                       ") differ from the dataset's (", existing->schema.ToString(), ")"));
    }
    if (existing->subject_column != request.subject_column) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot append to \"", name, "\": its subject column is \"", existing->subject_column, "\""));
    }
  } else {
    next_row_id = 0;
  }

  // Subjects of the file and of the dataset so far (append and replace).
  const SubjectGroups groups = GroupBySubject(subject_column);
  std::vector<std::string> pseudonyms(groups.size());
  for (int64_t g = 0; g < groups.size(); ++g) pseudonyms[g] = keys_.Pseudonym(groups.ids[g]);
  absl::flat_hash_map<std::string, int64_t> old_rows;  // pseudonym -> rows, before this ingest
  if (existing) {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT pseudonym, rows FROM subject WHERE dataset_id = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      old_rows[base::HexEncode(st.ColumnBlob(0))] = st.ColumnInt64(1);
    }
  }

  // Until the catalog commits, the new keys and vault file are provisional: record that first, so that a
  // crash (or an error below) leads to them being removed.
  {
    VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
    VEIL_RETURN_IF_ERROR(AddPending(db_, "sweep_keys", name, std::nullopt));
    VEIL_RETURN_IF_ERROR(txn.Commit());
  }
  IngestResult result;
  absl::Status status = [&]() -> absl::Status {
    VEIL_ASSIGN_OR_RETURN(std::vector<base::SecretBytes> keys,
                          keys_.GetOrCreateKeys(name, pseudonyms, env_.random()));
    const std::string dataset_dir = Join(Join(dir_, kVaultDir), name);
    VEIL_RETURN_IF_ERROR(env_.CreateDirs(dataset_dir));
    VEIL_ASSIGN_OR_RETURN(const std::string file, NewVaultFileName(env_));
    VEIL_ASSIGN_OR_RETURN(VaultFileWriter writer, VaultFileWriter::Create(env_, VaultPath(name, file), name));
    std::string plaintext;
    for (int64_t g = 0; g < groups.size(); ++g) {
      plaintext.clear();
      EncodeSubjectRows(table, groups.rows(g), static_cast<uint64_t>(next_row_id), &plaintext);
      VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, SealRecord(keys[g], name, pseudonyms[g],
                                                                    base::AsBytes(plaintext), env_.random()));
      VEIL_RETURN_IF_ERROR(writer.Add(pseudonyms[g], sealed));
    }
    VEIL_ASSIGN_OR_RETURN(const VaultFileSummary summary, writer.Finish());
    VEIL_RETURN_IF_ERROR(env_.SyncDir(dataset_dir));

    // The dataset after this ingest.
    const absl::Time now = env_.Now();
    DatasetInfo& info = result.dataset;
    info.name = name;
    info.subject_column = request.subject_column;
    info.schema = table.schema();
    info.created_at = existing ? existing->created_at : now;
    info.updated_at = now;
    absl::flat_hash_set<std::string> purposes;
    if (existing && (append || request.purposes.empty()))
      purposes.insert(existing->purposes.begin(), existing->purposes.end());
    purposes.insert(request.purposes.begin(), request.purposes.end());
    info.purposes.assign(purposes.begin(), purposes.end());
    std::sort(info.purposes.begin(), info.purposes.end());
    if (append) info.sources = existing->sources;
    DatasetSource source = request.source;
    source.mode = IngestModeName(request.mode);
    source.rows = table.num_rows();
    source.ingested_at = now;
    info.sources.push_back(source);
    result.rows_added = table.num_rows();
    result.subjects_in_file = groups.size();
    absl::flat_hash_set<std::string> in_file(pseudonyms.begin(), pseudonyms.end());
    for (const std::string& p : pseudonyms) result.new_subjects += old_rows.contains(p) ? 0 : 1;
    std::vector<std::string> removed;
    if (!append) {
      for (const auto& [p, rows] : old_rows) {
        if (!in_file.contains(p)) removed.push_back(p);
      }
    }
    result.removed_subjects = static_cast<int64_t>(removed.size());
    info.rows = (append ? existing->rows : 0) + table.num_rows();
    info.subjects = append ? existing->subjects + result.new_subjects : groups.size();
    std::vector<VaultFileRow> old_files;
    if (existing) {
      VEIL_ASSIGN_OR_RETURN(old_files, LoadVaultFiles(db_, dataset_id));
    }
    info.vault_files = (append ? static_cast<int64_t>(old_files.size()) : 0) + 1;
    info.vault_bytes = summary.bytes;
    if (append) {
      for (const VaultFileRow& f : old_files) info.vault_bytes += f.summary.bytes;
    }

    VEIL_RETURN_IF_ERROR(before_commit(result));

    // The commit point.
    VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
    const std::string schema_json = SchemaToJson(info.schema);
    const int64_t next = next_row_id + table.num_rows();
    {
      VEIL_ASSIGN_OR_RETURN(
          Statement st,
          db_.Prepare(
              "INSERT INTO dataset(name, subject_column, schema, rows, subjects, next_row_id, created_ns, "
              "updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(name) DO UPDATE SET "
              "subject_column = excluded.subject_column, schema = excluded.schema, rows = excluded.rows, "
              "subjects = excluded.subjects, next_row_id = excluded.next_row_id, "
              "updated_ns = excluded.updated_ns"));
      VEIL_RETURN_IF_ERROR(st.Bind(1, name));
      VEIL_RETURN_IF_ERROR(st.Bind(2, info.subject_column));
      VEIL_RETURN_IF_ERROR(st.Bind(3, schema_json));
      VEIL_RETURN_IF_ERROR(st.Bind(4, info.rows));
      VEIL_RETURN_IF_ERROR(st.Bind(5, info.subjects));
      VEIL_RETURN_IF_ERROR(st.Bind(6, next));
      VEIL_RETURN_IF_ERROR(st.Bind(7, ToNanos(now)));
      VEIL_RETURN_IF_ERROR(st.Run());
      if (!existing) dataset_id = db_.last_insert_rowid();
    }
    if (existing && !append) {
      for (const char* sql :
           {"DELETE FROM vault_file WHERE dataset_id = ?1", "DELETE FROM subject WHERE dataset_id = ?1",
            "DELETE FROM dataset_source WHERE dataset_id = ?1"}) {
        VEIL_ASSIGN_OR_RETURN(Statement del, db_.Prepare(sql));
        VEIL_RETURN_IF_ERROR(del.Bind(1, dataset_id));
        VEIL_RETURN_IF_ERROR(del.Run());
      }
    }
    {
      VEIL_ASSIGN_OR_RETURN(Statement del, db_.Prepare("DELETE FROM dataset_purpose WHERE dataset_id = ?1"));
      VEIL_RETURN_IF_ERROR(del.Bind(1, dataset_id));
      VEIL_RETURN_IF_ERROR(del.Run());
      VEIL_ASSIGN_OR_RETURN(Statement st,
                            db_.Prepare("INSERT INTO dataset_purpose(dataset_id, purpose) VALUES (?1, ?2)"));
      for (const std::string& p : info.purposes) {
        VEIL_RETURN_IF_ERROR(st.Reset());
        VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
        VEIL_RETURN_IF_ERROR(st.Bind(2, p));
        VEIL_RETURN_IF_ERROR(st.Run());
      }
    }
    {
      VEIL_ASSIGN_OR_RETURN(
          Statement st, db_.Prepare("INSERT INTO dataset_source(dataset_id, seq, mode, file_name, sha256, "
                                    "bytes, rows, ingested_ns) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 "
                                    "FROM dataset_source WHERE dataset_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7)"));
      VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
      VEIL_RETURN_IF_ERROR(st.Bind(2, source.mode));
      VEIL_RETURN_IF_ERROR(st.Bind(3, source.file_name));
      VEIL_RETURN_IF_ERROR(st.Bind(4, source.sha256));
      VEIL_RETURN_IF_ERROR(st.Bind(5, source.bytes));
      VEIL_RETURN_IF_ERROR(st.Bind(6, source.rows));
      VEIL_RETURN_IF_ERROR(st.Bind(7, ToNanos(source.ingested_at)));
      VEIL_RETURN_IF_ERROR(st.Run());
    }
    VEIL_RETURN_IF_ERROR(InsertVaultFile(db_, dataset_id, file, summary));
    {
      VEIL_ASSIGN_OR_RETURN(
          Statement st, db_.Prepare("INSERT INTO subject(dataset_id, pseudonym, rows, ingested_ns) VALUES "
                                    "(?1, ?2, ?3, ?4) ON CONFLICT(dataset_id, pseudonym) DO "
                                    "UPDATE SET rows = rows + excluded.rows, "
                                    "ingested_ns = excluded.ingested_ns"));
      // In pseudonym order: random keys inserted in key order fill B-tree pages one after the other instead
      // of touching a random page each (about 3x faster for 100,000 subjects).
      std::vector<int64_t> by_pseudonym(groups.size());
      std::iota(by_pseudonym.begin(), by_pseudonym.end(), 0);
      std::sort(by_pseudonym.begin(), by_pseudonym.end(),
                [&](int64_t a, int64_t b) { return pseudonyms[a] < pseudonyms[b]; });
      std::vector<uint8_t> raw(32);
      for (const int64_t g : by_pseudonym) {
        base::HexDecode(pseudonyms[g], raw);
        VEIL_RETURN_IF_ERROR(st.Reset());
        VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
        VEIL_RETURN_IF_ERROR(st.BindBlob(2, raw));
        VEIL_RETURN_IF_ERROR(st.Bind(3, static_cast<int64_t>(groups.rows(g).size())));
        VEIL_RETURN_IF_ERROR(st.Bind(4, ToNanos(source.ingested_at)));
        VEIL_RETURN_IF_ERROR(st.Run());
      }
    }
    // The data map's column annotations (after a replace, those of columns that are gone go).
    if (existing && !append) {
      VEIL_ASSIGN_OR_RETURN(Statement st,
                            db_.Prepare("SELECT column_name FROM column_annotation WHERE dataset_id = ?1"));
      VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
      std::vector<std::string> gone;
      while (true) {
        VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        if (!info.schema.FindField(st.ColumnText(0))) gone.push_back(st.ColumnText(0));
      }
      for (const std::string& column : gone) {
        VEIL_ASSIGN_OR_RETURN(Statement del,
                              db_.Prepare("DELETE FROM column_annotation WHERE dataset_id = ?1 "
                                          "AND column_name = ?2"));
        VEIL_RETURN_IF_ERROR(del.Bind(1, dataset_id));
        VEIL_RETURN_IF_ERROR(del.Bind(2, column));
        VEIL_RETURN_IF_ERROR(del.Run());
      }
    }
    for (const ColumnAnnotation& a : request.annotations) {
      VEIL_RETURN_IF_ERROR(WriteAnnotation(db_, dataset_id, a,
                                           !existing ? AnnotationWrite::kReplace
                                           : append  ? AnnotationWrite::kOnlyNew
                                                     : AnnotationWrite::kOnlyClassifier));
    }
    // The keys created above are now those of listed subjects: no sweep is needed.
    {
      VEIL_ASSIGN_OR_RETURN(Statement st,
                            db_.Prepare("DELETE FROM pending WHERE action = 'sweep_keys' AND dataset = ?1"));
      VEIL_RETURN_IF_ERROR(st.Bind(1, name));
      VEIL_RETURN_IF_ERROR(st.Run());
    }
    // Subjects a replace dropped lose their keys (after the commit, by Recover).
    for (const std::string& p : removed) {
      VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, PseudonymBytes(p));
      VEIL_RETURN_IF_ERROR(AddPending(db_, "shred", name, raw));
    }
    VEIL_RETURN_IF_ERROR(txn.Commit());
    return absl::OkStatus();
  }();
  // Committed or not, finish up: on success this destroys the keys of dropped subjects, deletes replaced
  // vault files and keeps every key the catalog now lists; on failure it removes the provisional file and
  // keys.
  absl::Status cleanup = Recover();
  VEIL_RETURN_IF_ERROR(status);
  VEIL_RETURN_IF_ERROR(cleanup);
  return result;
}

absl::StatusOr<DatasetInfo> Workspace::Attach(const AttachRequest& request,
                                              BeforeCommit<DatasetInfo> before_commit) {
  const std::string& name = request.dataset;
  VEIL_RETURN_IF_ERROR(ValidateDatasetName(name));
  if (request.purposes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset \"", name, "\": declare at least one purpose (--purpose)"));
  }
  for (const std::string& p : request.purposes) VEIL_RETURN_IF_ERROR(ValidatePurpose(p));
  if (!request.schema.FindField(request.subject_column)) {
    return absl::InvalidArgumentError(absl::StrCat("the table has no column \"", request.subject_column,
                                                   "\" that Veil reads, to identify data subjects "
                                                   "(--subject-column)"));
  }
  const ExternalSource& src = request.source;
  if (src.columns.size() != static_cast<size_t>(request.schema.num_fields())) {
    return absl::InvalidArgumentError(absl::StrCat("dataset \"", name, "\": ", src.columns.size(),
                                                   " external columns for ", request.schema.num_fields(),
                                                   " schema fields"));
  }
  for (size_t i = 0; i < src.columns.size(); ++i) {
    const std::string& field = request.schema.field(static_cast<int>(i)).name;
    if (src.columns[i].name != field) {
      return absl::InvalidArgumentError(absl::StrCat("dataset \"", name, "\": external column ", i, " is \"",
                                                     src.columns[i].name, "\", the schema's is \"", field,
                                                     "\""));
    }
  }
  if (src.schema_name.empty() || src.table_name.empty()) {
    return absl::InvalidArgumentError("an attached table needs its schema and table name");
  }
  // The workspace never stores a secret: the caller strips the password (table::PgConninfoWithoutPassword).
  std::string lower = absl::AsciiStrToLower(src.conninfo);
  const size_t scheme = lower.find("://");
  const size_t at = lower.find('@');
  if (lower.find("password") != std::string::npos ||
      (scheme != std::string::npos && at != std::string::npos &&
       lower.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos)) {
    return absl::InvalidArgumentError("the connection string to store still holds a password");
  }
  {
    absl::StatusOr<int64_t> id = DatasetId(name);
    if (id.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("dataset \"", name, "\" already exists; choose another name"));
    }
    if (!absl::IsNotFound(id.status())) return id.status();
  }
  const absl::Time now = env_.Now();
  DatasetInfo info;
  info.name = name;
  info.subject_column = request.subject_column;
  info.schema = request.schema;
  info.purposes = request.purposes;
  std::sort(info.purposes.begin(), info.purposes.end());
  info.purposes.erase(std::unique(info.purposes.begin(), info.purposes.end()), info.purposes.end());
  info.kind = src.engine;
  info.external = src;
  // Nanosecond precision, as stored (the hook sees what GetDataset will return).
  info.created_at = info.updated_at = info.external->attached_at = FromNanos(ToNanos(now));

  VEIL_RETURN_IF_ERROR(before_commit(info));

  VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  int64_t dataset_id = 0;
  {
    VEIL_ASSIGN_OR_RETURN(
        Statement st,
        db_.Prepare(
            "INSERT INTO dataset(name, subject_column, schema, rows, subjects, next_row_id, created_ns, "
            "updated_ns, kind) VALUES (?1, ?2, ?3, 0, 0, 0, ?4, ?4, ?5)"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, name));
    VEIL_RETURN_IF_ERROR(st.Bind(2, info.subject_column));
    VEIL_RETURN_IF_ERROR(st.Bind(3, SchemaToJson(info.schema)));
    VEIL_RETURN_IF_ERROR(st.Bind(4, ToNanos(now)));
    VEIL_RETURN_IF_ERROR(st.Bind(5, info.kind));
    VEIL_RETURN_IF_ERROR(st.Run());
    dataset_id = db_.last_insert_rowid();
  }
  for (const std::string& p : info.purposes) {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("INSERT INTO dataset_purpose(dataset_id, purpose) VALUES (?1, ?2)"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
    VEIL_RETURN_IF_ERROR(st.Bind(2, p));
    VEIL_RETURN_IF_ERROR(st.Run());
  }
  {
    nlohmann::ordered_json cols = nlohmann::ordered_json::array();
    for (const ExternalColumn& c : src.columns) {
      cols.push_back({{"name", c.name}, {"source_type", c.source_type}, {"type_oid", c.type_oid}});
    }
    VEIL_ASSIGN_OR_RETURN(
        Statement st,
        db_.Prepare("INSERT INTO external_source(dataset_id, engine, conninfo, location, schema_name, "
                    "table_name, columns, server_version, attached_by, attached_ns) VALUES (?1, ?2, ?3, ?4, "
                    "?5, ?6, ?7, ?8, ?9, ?10)"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, dataset_id));
    VEIL_RETURN_IF_ERROR(st.Bind(2, src.engine));
    VEIL_RETURN_IF_ERROR(st.Bind(3, src.conninfo));
    VEIL_RETURN_IF_ERROR(st.Bind(4, src.location));
    VEIL_RETURN_IF_ERROR(st.Bind(5, src.schema_name));
    VEIL_RETURN_IF_ERROR(st.Bind(6, src.table_name));
    VEIL_RETURN_IF_ERROR(st.Bind(7, cols.dump()));
    VEIL_RETURN_IF_ERROR(st.Bind(8, static_cast<int64_t>(src.server_version)));
    VEIL_RETURN_IF_ERROR(st.Bind(9, src.attached_by));
    VEIL_RETURN_IF_ERROR(st.Bind(10, ToNanos(now)));
    VEIL_RETURN_IF_ERROR(st.Run());
  }
  VEIL_RETURN_IF_ERROR(txn.Commit());
  return info;
}

namespace {

absl::Status NotInVault(const DatasetInfo& info, std::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      "dataset \"", info.name, "\" is attached from ", info.external ? info.external->location : info.kind,
      "; its rows are not in the vault, so ", std::string(what)));
}

// The data keys of the subjects a read keeps: looked up one at a time while few have been (a subject request
// reads one subject of each dataset, and unwrapping every key of a 100,000-subject dataset was most of its
// cost), and all loaded in one scan once more than kLookups have been (a query reads most subjects, where a
// statement per key would cost more than the scan). Only kept subjects' keys are unwrapped and held, so a
// record whose key is held needs no call to `keep`: the predicate runs once per subject in the scan and
// again only for the records of subjects left out.
class ReadKeys {
 public:
  // What FindKept found for a record.
  struct Lookup {
    const base::SecretBytes* key = nullptr;  // lives as long as this object
    bool left_out = false;                   // `keep` said no: key is nullptr
  };

  ReadKeys(KeyStore& store, std::string_view dataset, SubjectPredicate keep)
      : store_(store), dataset_(dataset), keep_(keep) {}

  // The key of a kept subject; key nullptr and left_out false if a kept subject has no key.
  absl::StatusOr<Lookup> FindKept(std::string_view pseudonym) {
    if (const base::SecretBytes* key = Held(pseudonym)) return Lookup{key, false};
    if (!keep_(pseudonym)) return Lookup{nullptr, true};
    if (all_loaded_) return Lookup{};
    if (++lookups_ > kLookups) {
      VEIL_ASSIGN_OR_RETURN(keys_, store_.LoadKeys(dataset_, keep_));
      all_loaded_ = true;
      return Lookup{Held(pseudonym), false};
    }
    VEIL_ASSIGN_OR_RETURN(std::optional<base::SecretBytes> key, store_.LoadKey(dataset_, pseudonym));
    if (!key.has_value()) return Lookup{};
    return Lookup{&keys_.emplace(std::string(pseudonym), *std::move(key)).first->second, false};
  }

 private:
  const base::SecretBytes* Held(std::string_view pseudonym) const {
    auto it = keys_.find(absl::string_view(pseudonym.data(), pseudonym.size()));
    return it == keys_.end() ? nullptr : &it->second;
  }

  static constexpr int kLookups = 64;
  KeyStore& store_;
  const std::string dataset_;
  const SubjectPredicate keep_;
  absl::flat_hash_map<std::string, base::SecretBytes> keys_;
  int lookups_ = 0;
  bool all_loaded_ = false;
};

}  // namespace

absl::StatusOr<DatasetContents> Workspace::Read(std::string_view dataset) {
  return Read(dataset, [](std::string_view) { return true; });
}

absl::StatusOr<DatasetContents> Workspace::Read(std::string_view dataset, SubjectPredicate keep) {
  return ReadVault(dataset, keep, /*check_each_subject=*/false);
}

absl::StatusOr<DatasetContents> Workspace::ReadVerified(std::string_view dataset) {
  return ReadVault(
      dataset, [](std::string_view) { return true; }, /*check_each_subject=*/true);
}

absl::Status Workspace::VerifyVault(std::string_view dataset) {
  return ReadVault(
             dataset, [](std::string_view) { return false; }, /*check_each_subject=*/true)
      .status();
}

absl::StatusOr<DatasetContents> Workspace::ReadVault(std::string_view dataset, SubjectPredicate keep,
                                                     bool check_each_subject) {
  VEIL_ASSIGN_OR_RETURN(DatasetInfo info, GetDataset(dataset));
  if (info.kind != "vault") return NotInVault(info, "they cannot be read from it");
  VEIL_ASSIGN_OR_RETURN(const int64_t id, DatasetId(dataset));
  VEIL_ASSIGN_OR_RETURN(std::vector<VaultFileRow> files, LoadVaultFiles(db_, id));
  ReadKeys keys(keys_, dataset, keep);
  std::vector<table::ColumnBuilder> builders;
  for (const table::Field& f : info.schema.fields()) {
    builders.emplace_back(f.type);
    builders.back().Reserve(info.rows);
  }
  std::vector<uint64_t> row_ids;
  row_ids.reserve(info.rows);
  const std::string name(dataset);
  // Subjects left out, and (below) their rows as the catalog counts them; with check_each_subject, the
  // subjects read too.
  std::vector<std::string> excluded, read;
  for (const VaultFileRow& f : files) {
    VEIL_RETURN_IF_ERROR(
        ReadVaultFile(env_, VaultPath(name, f.file), name, &f.summary,
                      [&](std::string_view pseudonym, std::span<const uint8_t> sealed) -> absl::Status {
                        VEIL_ASSIGN_OR_RETURN(const ReadKeys::Lookup found, keys.FindKept(pseudonym));
                        if (found.left_out) {
                          excluded.emplace_back(pseudonym);
                          return absl::OkStatus();
                        }
                        if (found.key == nullptr) {
                          return absl::DataLossError(absl::StrCat(
                              "vault file ", f.file, " of dataset \"", name, "\" holds a record of subject ",
                              std::string(pseudonym.substr(0, 16)),
                              "… that has no data key (the vault or the key store was altered)"));
                        }
                        if (check_each_subject) read.emplace_back(pseudonym);
                        VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext,
                                              OpenRecord(*found.key, name, pseudonym, sealed));
                        return DecodeSubjectRows(plaintext, info.schema, builders, &row_ids);
                      }));
  }
  // A subject appended in several files has a record in each: count each subject's rows once.
  for (std::vector<std::string>* v : {&excluded, &read}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  int64_t excluded_rows = 0;
  // With nobody left out the rows read must be the catalog's count exactly (the check after this block).
  if (!check_each_subject && !excluded.empty()) {
    // A read's left-out rows are the catalog's count less the rows read: every vault file was checked whole
    // against its SHA-256 in the catalog and every record read opened under its subject's key, so these are
    // the files the workspace wrote. (Looking each left-out subject up in the catalog cost a consent-filtered
    // query leaving out 10,000 of 100,000 subjects 10% on top of the read; VerifyVault does it.)
    excluded_rows = info.rows - static_cast<int64_t>(row_ids.size());
    if (excluded_rows < static_cast<int64_t>(excluded.size())) {  // each subject listed has a row at least
      return absl::DataLossError(absl::StrCat("dataset \"", name, "\": the vault holds ", row_ids.size(),
                                              " rows of the subjects read, but the catalog says ", info.rows,
                                              " for all ", info.subjects, " subjects"));
    }
  } else if (check_each_subject) {
    // One pass over the catalog's subjects: each listed subject has a record (read or left out), each subject
    // with a record is listed, and the rows of those left out are the catalog's count of them.
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT pseudonym, rows FROM subject WHERE dataset_id = ?1"));
    VEIL_RETURN_IF_ERROR(st.Bind(1, id));
    std::vector<bool> excluded_listed(excluded.size(), false), read_listed(read.size(), false);
    const auto find = [](const std::vector<std::string>& v, const std::string& p) -> std::optional<size_t> {
      const auto it = std::lower_bound(v.begin(), v.end(), p);
      if (it == v.end() || *it != p) return std::nullopt;
      return static_cast<size_t>(it - v.begin());
    };
    int64_t without_record = 0;
    while (true) {
      VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const std::string p = base::HexEncode(st.ColumnBlobView(0));
      if (const std::optional<size_t> i = find(excluded, p)) {
        excluded_listed[*i] = true;
        excluded_rows += st.ColumnInt64(1);
      } else if (const std::optional<size_t> j = find(read, p)) {
        read_listed[*j] = true;
      } else {
        ++without_record;
      }
    }
    for (const auto& [subjects, listed] :
         {std::pair(&excluded, &excluded_listed), std::pair(&read, &read_listed)}) {
      for (size_t i = 0; i < subjects->size(); ++i) {
        if (!(*listed)[i]) {
          return absl::DataLossError(
              absl::StrCat("dataset \"", name, "\": the vault holds a record of subject ",
                           (*subjects)[i].substr(0, 16), "… whom the catalog does not list"));
        }
      }
    }
    if (without_record > 0) {
      return absl::DataLossError(absl::StrCat("dataset \"", name, "\": the catalog lists ", without_record,
                                              " subject(s) without a record in the vault"));
    }
  }
  if (static_cast<int64_t>(row_ids.size()) + excluded_rows != info.rows) {
    return absl::DataLossError(absl::StrCat("dataset \"", name, "\": the vault holds ",
                                            static_cast<int64_t>(row_ids.size()) + excluded_rows,
                                            " rows but the catalog says ", info.rows));
  }
  std::vector<table::Column> columns;
  for (table::ColumnBuilder& b : builders) {
    VEIL_ASSIGN_OR_RETURN(table::Column c, b.Finish());
    columns.push_back(std::move(c));
  }
  VEIL_ASSIGN_OR_RETURN(table::Table unordered, table::Table::Make(info.schema, std::move(columns)));
  // Back to ingest order.
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> order, internal::IngestOrder(row_ids, name));
  VEIL_ASSIGN_OR_RETURN(table::Table ordered, unordered.Take(order));
  return DatasetContents{std::move(info), std::move(ordered), static_cast<int64_t>(excluded.size()),
                         excluded_rows};
}

absl::StatusOr<EraseResult> Workspace::Erase(std::string_view pseudonym,
                                             std::optional<std::string_view> dataset,
                                             BeforeCommit<EraseResult> before_commit) {
  const std::vector<std::string> one = {std::string(pseudonym)};
  return EraseSubjects(one, dataset, before_commit);
}

absl::StatusOr<EraseResult> Workspace::EraseSubjects(std::span<const std::string> pseudonyms,
                                                     std::optional<std::string_view> dataset,
                                                     BeforeCommit<EraseResult> before_commit) {
  std::vector<std::string> subjects(pseudonyms.begin(), pseudonyms.end());
  std::sort(subjects.begin(), subjects.end());
  subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
  std::vector<std::vector<uint8_t>> raws;
  for (const std::string& p : subjects) {
    VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, PseudonymBytes(p));
    raws.push_back(std::move(raw));
  }
  const absl::flat_hash_set<std::string> erased(subjects.begin(), subjects.end());
  const auto is_erased = [&](std::string_view p) {
    return erased.contains(absl::string_view(p.data(), p.size()));
  };
  if (dataset.has_value()) {
    VEIL_ASSIGN_OR_RETURN(const DatasetInfo info, GetDataset(*dataset));
    if (info.kind != "vault") return NotInVault(info, "erase the subject in that database");
  }

  // The datasets that hold the subjects, their rows and which of the subjects each holds.
  struct Affected {
    int64_t id = 0;
    std::string name;
    int64_t rows = 0;
    std::vector<const std::vector<uint8_t>*> members;  // of `raws`
    std::vector<VaultFileRow> old_files, new_files;
  };
  std::map<std::string, Affected> by_name;  // dataset name order
  {
    VEIL_ASSIGN_OR_RETURN(Statement st,
                          db_.Prepare("SELECT d.id, d.name, s.rows FROM subject s JOIN dataset d ON "
                                      "d.id = s.dataset_id WHERE s.pseudonym = ?1"));
    for (const std::vector<uint8_t>& raw : raws) {
      VEIL_RETURN_IF_ERROR(st.Reset());
      VEIL_RETURN_IF_ERROR(st.BindBlob(1, raw));
      while (true) {
        VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        std::string name = st.ColumnText(1);
        if (dataset.has_value() && name != *dataset) continue;
        Affected& a = by_name[name];
        a.id = st.ColumnInt64(0);
        a.name = std::move(name);
        a.rows += st.ColumnInt64(2);
        a.members.push_back(&raw);
      }
    }
  }
  std::vector<Affected> affected;
  for (auto& [name, a] : by_name) affected.push_back(std::move(a));
  EraseResult result;
  for (const Affected& a : affected) {
    result.datasets.push_back(a.name);
    result.rows_removed += a.rows;
  }

  absl::Status status = [&]() -> absl::Status {
    // Rewrite each vault file that holds a subject's record without it. Records are copied sealed, as they
    // are: nothing is decrypted.
    for (Affected& a : affected) {
      VEIL_ASSIGN_OR_RETURN(a.old_files, LoadVaultFiles(db_, a.id));
      for (const VaultFileRow& f : a.old_files) {
        // One read and one hash check per file: the bytes are parsed again from memory to copy the records.
        const std::string path = VaultPath(a.name, f.file);
        absl::StatusOr<std::unique_ptr<base::FileContents>> bytes = env_.ReadWholeFile(path);
        if (absl::IsNotFound(bytes.status()))
          return absl::DataLossError(absl::StrCat("vault file ", path, " is missing"));
        VEIL_RETURN_IF_ERROR(bytes.status());
        bool holds = false;
        VEIL_RETURN_IF_ERROR(ParseVaultFile((*bytes)->bytes(), path, a.name, &f.summary,
                                            [&](std::string_view p, std::span<const uint8_t>) {
                                              holds |= is_erased(p);
                                              return absl::OkStatus();
                                            }));
        if (!holds) {
          a.new_files.push_back(f);
          continue;
        }
        VEIL_ASSIGN_OR_RETURN(std::string file, NewVaultFileName(env_));
        VEIL_ASSIGN_OR_RETURN(VaultFileWriter writer,
                              VaultFileWriter::Create(env_, VaultPath(a.name, file), a.name));
        VEIL_RETURN_IF_ERROR(ParseVaultFile((*bytes)->bytes(), path, a.name, /*expected=*/nullptr,
                                            [&](std::string_view p, std::span<const uint8_t> sealed) {
                                              return is_erased(p) ? absl::OkStatus() : writer.Add(p, sealed);
                                            }));
        VEIL_ASSIGN_OR_RETURN(VaultFileSummary summary, writer.Finish());
        a.new_files.push_back({std::move(file), summary});
      }
      VEIL_RETURN_IF_ERROR(env_.SyncDir(Join(Join(dir_, kVaultDir), a.name)));
    }

    VEIL_RETURN_IF_ERROR(before_commit(result));

    // The commit point: the subjects leave the catalog, and the destruction of their keys is recorded so
    // that it completes even after a crash.
    VEIL_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
    const int64_t now = ToNanos(env_.Now());
    for (const Affected& a : affected) {
      {
        VEIL_ASSIGN_OR_RETURN(Statement st, db_.Prepare("DELETE FROM vault_file WHERE dataset_id = ?1"));
        VEIL_RETURN_IF_ERROR(st.Bind(1, a.id));
        VEIL_RETURN_IF_ERROR(st.Run());
      }
      {
        VEIL_ASSIGN_OR_RETURN(Statement st,
                              db_.Prepare("DELETE FROM subject WHERE dataset_id = ?1 AND pseudonym = ?2"));
        for (const std::vector<uint8_t>* raw : a.members) {
          VEIL_RETURN_IF_ERROR(st.Reset());
          VEIL_RETURN_IF_ERROR(st.Bind(1, a.id));
          VEIL_RETURN_IF_ERROR(st.BindBlob(2, *raw));
          VEIL_RETURN_IF_ERROR(st.Run());
        }
      }
      for (const VaultFileRow& f : a.new_files)
        VEIL_RETURN_IF_ERROR(InsertVaultFile(db_, a.id, f.file, f.summary));
      VEIL_ASSIGN_OR_RETURN(Statement st,
                            db_.Prepare("UPDATE dataset SET rows = rows - ?2, subjects = subjects - ?4, "
                                        "updated_ns = ?3 WHERE id = ?1"));
      VEIL_RETURN_IF_ERROR(st.Bind(1, a.id));
      VEIL_RETURN_IF_ERROR(st.Bind(2, a.rows));
      VEIL_RETURN_IF_ERROR(st.Bind(3, now));
      VEIL_RETURN_IF_ERROR(st.Bind(4, static_cast<int64_t>(a.members.size())));
      VEIL_RETURN_IF_ERROR(st.Run());
    }
    // Keys are destroyed wherever they are, even in datasets that no longer list the subject.
    for (const std::vector<uint8_t>& raw : raws)
      VEIL_RETURN_IF_ERROR(AddPending(db_, "shred", dataset.value_or(""), raw));
    return txn.Commit();
  }();
  if (!status.ok()) {
    Recover().IgnoreError();  // removes the rewritten files that were not committed
    return status;
  }
  // Destroy the keys now, counting them; Recover then finds the pending shreds done, clears them, and deletes
  // the vault files the erasure replaced.
  VEIL_ASSIGN_OR_RETURN(result.keys_destroyed, keys_.Shred(subjects, dataset));
  VEIL_RETURN_IF_ERROR(Recover());
  return result;
}

namespace internal {

// The positions of `row_ids` in increasing id order, or DataLoss if an id appears twice. Row ids are dense
// (an append numbers its rows from the dataset's next id; only erased or left-out subjects leave gaps), so
// placing each position at its id is a linear pass where a sort of a million ids by an indirect comparison
// was a sizeable share of a query's read; sparse ids (more than 4 slots per row) are sorted instead.
absl::StatusOr<std::vector<int64_t>> IngestOrder(const std::vector<uint64_t>& row_ids,
                                                 std::string_view dataset) {
  const auto twice = [&](uint64_t id) {
    return absl::DataLossError(
        absl::StrCat("dataset \"", std::string(dataset), "\": row id ", id, " appears twice in the vault"));
  };
  std::vector<int64_t> order;
  order.reserve(row_ids.size());
  if (row_ids.empty()) return order;
  const uint64_t max_id = *std::max_element(row_ids.begin(), row_ids.end());
  if (max_id < 4 * static_cast<uint64_t>(row_ids.size()) + 1024) {
    std::vector<int64_t> slot(max_id + 1, -1);
    for (size_t i = 0; i < row_ids.size(); ++i) {
      if (slot[row_ids[i]] >= 0) return twice(row_ids[i]);
      slot[row_ids[i]] = static_cast<int64_t>(i);
    }
    for (const int64_t i : slot) {
      if (i >= 0) order.push_back(i);
    }
    return order;
  }
  order.resize(row_ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row_ids[a] < row_ids[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (row_ids[order[i]] == row_ids[order[i - 1]]) return twice(row_ids[order[i]]);
  }
  return order;
}

}  // namespace internal

}  // namespace veil::store
