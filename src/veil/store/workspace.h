// Workspace: the directory where Veil keeps an organisation's personal data encrypted at rest, with its
// catalog, key store and audit log (DESIGN.md sections 2 and 4; docs/workspace.md is the user's guide and
// docs/formats.md the on-disk formats).
//
//   <dir>/
//     LOCK              held (flock) by the one process that has the workspace open
//     master-key.json   how the master key is kept (key file or Argon2id passphrase), its check value
//     master.key        the 256-bit master key, mode 0600 (key-file workspaces only)
//     workspace.db      SQLite metadata: settings, catalog (datasets, purposes, sources, vault files,
//                       subjects as pseudonyms), role grants, pending clean-ups, privacy budgets and the
//                       ledger of charges (ledger.h); WAL, foreign keys, versioned migrations
//     keys/keys.db      the key store: each subject's data key per dataset, wrapped by the master key
//     vault/<dataset>/  vault files: each subject's rows sealed under that subject's data key
//     audit/            the Merkle audit log (opened by veil::gov, which owns auditing)
//
// This class is the storage half of the workspace. It knows nothing of actors, roles or purposes: the gate
// and the audit trail live in veil::gov, which calls the mutating operations here with a `before_commit`
// hook (where it appends the audit entry), so that an operation whose audit entry cannot be written never
// commits.
//
// Atomicity. Each mutating operation prepares everything it needs (new vault files written and synced, new
// data keys committed) and then commits with one SQLite transaction on workspace.db; that commit is the
// point at which the operation happens. Work left behind by a crash before or after that point (vault files
// the catalog does not reference, data keys of a failed ingest, keys of erased subjects not yet destroyed)
// is recorded before it is created and finished or undone by the next Open, so a failed operation leaves no
// partial dataset and an erasure always completes.
//
// Thread safety: not thread-safe; one Workspace per process (the LOCK file enforces that across processes).
#ifndef VEIL_STORE_WORKSPACE_H_
#define VEIL_STORE_WORKSPACE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/base/env.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/sha256.h"
#include "veil/store/key_store.h"
#include "veil/store/ledger.h"
#include "veil/store/master_key.h"
#include "veil/store/sqlite.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace veil::store {

struct WorkspaceCreateOptions {
  // How the master key is kept: a key file (default) or a passphrase (Argon2id).
  MasterKeyOptions master_key;
};

// One file ingested into a dataset.
struct DatasetSource {
  std::string mode;       // "create", "replace" or "append"
  std::string file_name;  // base name of the source file (no directories)
  std::string sha256;     // hex SHA-256 of the source file's bytes
  int64_t bytes = 0;
  int64_t rows = 0;
  absl::Time ingested_at;
};

// How one column of an external table is stored there (what a push-down needs beyond the Veil type).
struct ExternalColumn {
  std::string name;
  std::string source_type;  // the database's type name, e.g. "character varying(20)", "numeric"
  uint32_t type_oid = 0;    // PostgreSQL's type OID
};

// Where an attached dataset's rows live (`veil attach`): a table of an external database, read or queried
// there at query time, never copied into the vault.
struct ExternalSource {
  std::string engine = "postgresql";
  // The connection string WITHOUT its password (table::RedactPgConninfo; the caller redacts: the workspace
  // never sees the secret). At query time the password comes from PGPASSWORD, ~/.pgpass or a connection
  // string given then (docs/workspace.md).
  std::string conninfo;
  std::string location;     // "PostgreSQL host=... port=... dbname=...", for display
  std::string schema_name;  // the table's schema ("public"), never empty
  std::string table_name;
  std::vector<ExternalColumn> columns;  // one per DatasetInfo::schema field, in order
  int server_version = 0;               // PostgreSQL's number (150020) at attach time
  std::string attached_by;
  absl::Time attached_at;
};

// A dataset's catalog entry.
struct DatasetInfo {
  std::string name;
  std::string subject_column;
  table::Schema schema;
  int64_t rows = 0;
  int64_t subjects = 0;
  std::vector<std::string> purposes;   // sorted
  std::vector<DatasetSource> sources;  // oldest first (after a replace: from the replacing file on)
  absl::Time created_at;
  absl::Time updated_at;
  int64_t vault_files = 0;
  int64_t vault_bytes = 0;
  // "vault" (ingested, encrypted in the workspace) or "postgresql" (attached: `external` says where; rows
  // and subjects are then 0, as the workspace does not count them, and there are no sources or vault files).
  std::string kind = "vault";
  std::optional<ExternalSource> external;
};

// The catalog entry as JSON (`veil datasets --json`, audit result hashes): name, subject_column, rows,
// subjects, purposes, columns [{name, type, nullable}], sources [{mode, file_name, sha256, bytes, rows,
// ingested_at}], created_at, updated_at, vault_files, vault_bytes, kind, and for an attached dataset
// external {engine, conninfo (without password), location, schema, table, server_version, attached_by,
// attached_at}. Times are RFC 3339 UTC.
nlohmann::ordered_json DatasetInfoToJson(const DatasetInfo& info);

// What one column of a dataset holds, for the data map (veil::gov's catalog.h): data categories as taxonomy
// keys, and the column's role for re-identification. Set by the PII classifier at ingest (source
// "classifier", with its confidence and evidence, unconfirmed) or by a person (`veil catalog annotate`:
// source "user", confirmed). Never holds a value from the data.
struct ColumnAnnotation {
  std::string column;
  std::vector<std::string> categories;  // taxonomy keys ("user.contact.email"); empty: no personal data
  std::string role = "none";            // "direct_identifier", "quasi_identifier", "free_text" or "none"
  std::string source = "classifier";    // "classifier" or "user"
  double confidence = 0;                // in [0, 1]; 1 for a person's annotation
  std::string evidence;                 // the classifier's explanation in words, or the person's note
  bool confirmed = false;               // a person confirmed (or set) it
  std::string set_by;                   // the actor (the ingesting actor for the classifier's)
  absl::Time set_at;
};

enum class IngestMode { kCreate, kReplace, kAppend };

// "create", "replace", "append".
const char* IngestModeName(IngestMode mode);

struct IngestRequest {
  std::string dataset;         // see ValidateDatasetName
  std::string subject_column;  // the column that identifies the data subject (privacy unit)
  // Purposes declared for the dataset (see ValidatePurpose). kCreate: the declared list. kReplace: replaces
  // the list if non-empty. kAppend: added to the list.
  std::vector<std::string> purposes;
  IngestMode mode = IngestMode::kCreate;
  DatasetSource source;  // what the catalog records of the file (mode, rows and time are filled in)
  // The classifier's annotations of the file's columns (each names a column of the table), committed with
  // the ingest. kCreate: stored. kReplace: replace the classifier's annotations; a person's annotation of a
  // column that is still there is kept, and annotations of columns that are gone are dropped. kAppend: added
  // only for columns that have none.
  std::vector<ColumnAnnotation> annotations;
};

// What an ingest did, handed to the before_commit hook and returned.
struct IngestResult {
  DatasetInfo dataset;     // the catalog entry as committed
  int64_t rows_added = 0;  // rows of this ingest
  int64_t subjects_in_file = 0;
  int64_t new_subjects = 0;      // subjects the dataset did not have before
  int64_t removed_subjects = 0;  // kReplace: subjects of the old version absent from the new one
};

struct EraseResult {
  std::vector<std::string> datasets;  // datasets that held the subject, sorted
  int64_t rows_removed = 0;
  int64_t keys_destroyed = 0;
};

// What `veil attach` records: an external table as a dataset (see ExternalSource).
struct AttachRequest {
  std::string dataset;                // see ValidateDatasetName; must not exist
  std::string subject_column;         // a column of `schema`
  std::vector<std::string> purposes;  // at least one (see ValidatePurpose)
  table::Schema schema;               // the columns Veil reads, as table::PgConnection::ReadTable reads them
  ExternalSource source;              // columns: one per schema field, same names and order
};

// What a read returns: the dataset's rows in ingest order, with their catalog entry.
struct DatasetContents {
  DatasetInfo info;
  table::Table table;
  // A filtered read (Read with `keep`): the subjects whose records were left out, and their rows.
  int64_t excluded_subjects = 0;
  int64_t excluded_rows = 0;
};

// Whether a read returns the records of the subject with this pseudonym (64 hex digits).
using SubjectPredicate = absl::FunctionRef<bool(std::string_view pseudonym)>;

// Called after an operation is fully prepared and before it commits; an error abandons the operation.
template <typename T>
using BeforeCommit = absl::FunctionRef<absl::Status(const T&)>;

// Dataset names: 1 to 64 characters from [A-Za-z0-9_.-], starting with a letter or digit. They name a
// directory under vault/. Errors: InvalidArgument saying what is wrong.
absl::Status ValidateDatasetName(std::string_view name);
// Purposes: 1 to 128 characters from [a-z0-9_.-], starting with a letter (dotted keys such as
// "research.cohort" or "train_ai_system"). Errors: InvalidArgument.
absl::Status ValidatePurpose(std::string_view purpose);

// The 32 raw bytes of a pseudonym given as 64 hex digits (how workspace.db and keys.db store it).
// Errors: InvalidArgument if it is not 64 hex digits.
absl::StatusOr<std::vector<uint8_t>> PseudonymBytes(std::string_view pseudonym);

class Workspace {
 public:
  // Creates a workspace at `dir`, which must not exist or be an empty directory. The workspace is built in a
  // sibling staging directory and renamed into place, so a failed or interrupted init leaves no workspace.
  // `initialize` runs on the staging workspace before the rename (veil::gov uses it to grant the owner role
  // and start the audit log); its error abandons the init. Then the workspace is reopened at `dir`.
  // Errors: AlreadyExists if `dir` is a workspace or a non-empty directory; the Env's and SQLite's errors.
  static absl::StatusOr<std::unique_ptr<Workspace>> Create(
      base::Env& env, const std::string& dir, const WorkspaceCreateOptions& options,
      absl::FunctionRef<absl::Status(Workspace&)> initialize);

  // Opens an existing workspace: takes the lock (waiting up to `lock_timeout` for another veil process),
  // loads and checks the master key, opens the metadata (applying pending migrations) and the key store, and
  // finishes any clean-up a crash left pending.
  // Errors: NotFound if `dir` is not a workspace; DataLoss for a wrong passphrase, a missing or foreign key
  // file, or damaged metadata; InvalidArgument if a passphrase is required and absent or vice versa;
  // Unavailable if another process holds the workspace past the timeout.
  static absl::StatusOr<std::unique_ptr<Workspace>> Open(base::Env& env, const std::string& dir,
                                                         const std::optional<base::SecretBytes>& passphrase,
                                                         absl::Duration lock_timeout = absl::Seconds(10));

  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace();

  // Stores `table` encrypted in the vault as dataset request.dataset (see IngestRequest for the modes).
  // Every row must have a subject id (a non-null value in the subject column; its text form is the id).
  // Each subject's rows become one record sealed under the subject's data key for this dataset.
  // Errors: InvalidArgument (bad name or purpose, unknown subject column, a row without subject id, a schema
  // that differs from the dataset's on append); AlreadyExists (kCreate of an existing dataset); NotFound
  // (kReplace/kAppend of a missing one); the hook's error; I/O errors. On any error nothing is committed.
  absl::StatusOr<IngestResult> Ingest(const table::Table& table, const IngestRequest& request,
                                      BeforeCommit<IngestResult> before_commit);

  // Records an external table as dataset request.dataset (kind "postgresql"): the catalog entry, its
  // purposes and where the rows are; nothing is read or copied. The hook runs before the commit.
  // Errors: InvalidArgument (bad name or purpose, no purpose, a subject column not in the schema, columns
  // that do not match the schema, a conninfo holding a password=... or user:password@); AlreadyExists (the
  // name is taken, by any kind of dataset); the hook's error. On any error nothing is committed.
  absl::StatusOr<DatasetInfo> Attach(const AttachRequest& request, BeforeCommit<DatasetInfo> before_commit);

  // The dataset's rows, decrypted, in ingest order, checked against the catalog (vault file hashes, record
  // and row counts). Errors: NotFound; FailedPrecondition for an attached dataset (its rows are not in the
  // vault); DataLoss for a tampered, missing or undecryptable vault file.
  absl::StatusOr<DatasetContents> Read(std::string_view dataset);
  // The same, with only the records of subjects for whom `keep` is true: the others are neither decrypted
  // nor returned (veil::gov leaves out subjects without consent, or who objected or are restricted). Every
  // vault file is still checked whole against the catalog's hash; the rows left out are the dataset's row
  // count less the rows read, which the file hashes vouch for (VerifyVault checks them subject by subject).
  absl::StatusOr<DatasetContents> Read(std::string_view dataset, SubjectPredicate keep);

  // Checks the dataset's vault against the catalog without decrypting a record: every file whole (hash,
  // size, record count), every subject with a record listed in the catalog and every subject listed with a
  // record, and the rows the catalog counts per subject adding up to the dataset's. The check a report states
  // as "vault verified". Errors: as Read.
  absl::Status VerifyVault(std::string_view dataset);
  // Read (every record) with VerifyVault's subject-by-subject check: one pass over the vault for a reader
  // that needs both the rows and the check (the DPIA). Errors: as Read and VerifyVault.
  absl::StatusOr<DatasetContents> ReadVerified(std::string_view dataset);

  // Erasure by crypto-shredding (GDPR Art. 17): removes the subject's records from `dataset` (or from every
  // dataset) and destroys their data keys, so that no copy of the vault files, including one taken before
  // the erasure, can be decrypted for this subject. The subject is given by pseudonym (see Pseudonym). A
  // subject with no records is not an error (the result is empty). The hook runs before anything changes.
  // Errors: NotFound for an unknown dataset; FailedPrecondition for an attached dataset (its rows live in the
  // external database: erase the subject there); DataLoss for a tampered vault file; I/O errors.
  absl::StatusOr<EraseResult> Erase(std::string_view pseudonym, std::optional<std::string_view> dataset,
                                    BeforeCommit<EraseResult> before_commit);
  // Erase for several subjects at once (retention's enforcement, veil::gov's retention.h): each affected
  // vault file is rewritten once, and one transaction commits them all. Duplicates count once. Errors: as
  // Erase; InvalidArgument for a malformed pseudonym (nothing erased).
  absl::StatusOr<EraseResult> EraseSubjects(std::span<const std::string> pseudonyms,
                                            std::optional<std::string_view> dataset,
                                            BeforeCommit<EraseResult> before_commit);

  // The dataset's column annotations, in column name order. Errors: NotFound; DataLoss for a damaged row.
  absl::StatusOr<std::vector<ColumnAnnotation>> Annotations(std::string_view dataset);
  // Stores (inserts or replaces) one column's annotation, in the caller's transaction if one is open.
  // Errors: NotFound for an unknown dataset; InvalidArgument for a column the dataset does not have.
  absl::Status PutAnnotation(std::string_view dataset, const ColumnAnnotation& annotation);

  absl::StatusOr<std::vector<DatasetInfo>> ListDatasets();
  // Errors: NotFound naming the dataset.
  absl::StatusOr<DatasetInfo> GetDataset(std::string_view name);

  // The keyed pseudonym of a subject id (64 hex digits), the only form in which subjects appear in the
  // catalog, the key store, the vault framing and the audit log.
  std::string Pseudonym(std::string_view subject_id) const { return keys_.Pseudonym(subject_id); }

  // The workspace's audit signing key (unsealed with the master key) and where its audit log lives.
  const crypto::Ed25519PrivateKey& signing_key() const { return signing_key_; }
  std::string audit_dir() const { return dir_ + "/audit"; }

  // A 32-byte key for one use, derived from the master key (HKDF-SHA-256, info "veil app key v1: " + label),
  // e.g. DeriveKey("pii token v1") for keyed tokens. The same label gives the same key in every session of
  // this workspace and a different key in any other workspace; distinct labels give independent keys.
  // The master key itself never leaves the workspace. Errors: Internal on an unexpected OpenSSL failure.
  absl::StatusOr<base::SecretBytes> DeriveKey(std::string_view label) const;

  const std::string& dir() const { return dir_; }
  const std::string& id() const { return id_; }  // random, 32 hex digits, fixed at init
  base::Env& env() { return env_; }
  // For veil::gov (role grants live in workspace.db) and for tests.
  Database& metadata() { return db_; }
  KeyStore& key_store() { return keys_; }
  // The privacy-budget ledger, on workspace.db (for veil::gov, whose Session is its only writer).
  Ledger& ledger() { return ledger_; }

  // The version of workspace.db's schema this program writes (PRAGMA user_version); older workspaces are
  // migrated when opened (docs/workspace.md lists what each version added).
  static int SchemaVersion();

  static constexpr char kMetadataFile[] = "workspace.db";
  static constexpr char kKeyStoreFile[] = "keys/keys.db";
  static constexpr char kVaultDir[] = "vault";
  static constexpr char kLockFile[] = "LOCK";

 private:
  Workspace(base::Env& env, std::string dir, std::unique_ptr<base::FileLock> lock, Database db, KeyStore keys,
            crypto::Ed25519PrivateKey signing_key, std::string id, base::SecretBytes app_key_root);

  static absl::StatusOr<std::unique_ptr<Workspace>> OpenLocked(base::Env& env, const std::string& dir,
                                                               std::unique_ptr<base::FileLock> lock,
                                                               base::SecretBytes master_key);
  // Finishes or undoes what a crash left pending (see "Atomicity" above).
  absl::Status Recover();
  absl::StatusOr<int64_t> DatasetId(std::string_view name);
  // Read, ReadVerified and VerifyVault: `check_each_subject` matches every subject with a record (read or
  // left out) with the catalog's list, both ways, however many there are.
  absl::StatusOr<DatasetContents> ReadVault(std::string_view dataset, SubjectPredicate keep,
                                            bool check_each_subject);
  std::string VaultPath(std::string_view dataset, std::string_view file) const;

  base::Env& env_;
  std::string dir_;
  std::unique_ptr<base::FileLock> lock_;
  Database db_;
  Ledger ledger_{db_};
  KeyStore keys_;
  crypto::Ed25519PrivateKey signing_key_;
  std::string id_;
  base::SecretBytes app_key_root_;  // HKDF(master key, info "veil app keys v1"): the root of DeriveKey
};

namespace internal {
// For Workspace::Read and its tests: the positions of `row_ids` in increasing id order (the rows' ingest
// order), or DataLoss naming the dataset and the id if an id appears twice.
absl::StatusOr<std::vector<int64_t>> IngestOrder(const std::vector<uint64_t>& row_ids,
                                                 std::string_view dataset);
}  // namespace internal

}  // namespace veil::store

#endif  // VEIL_STORE_WORKSPACE_H_
