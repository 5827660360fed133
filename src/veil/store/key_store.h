// KeyStore: each data subject's data keys, wrapped by the workspace master key, kept in their own SQLite file
// (keys.db) apart from the bulk vault files. Destroying a subject's keys (crypto-shredding, GDPR Art. 17)
// makes every copy of their vault records unreadable, including copies taken before the erasure, while the
// other subjects' records still decrypt.
//
// - Subjects appear only as pseudonyms: HMAC-SHA-256 under a key derived from the master key (HKDF, info
//   "veil subject pseudonym v1"), written as 64 lower-case hex digits. keys.db holds no subject identifier in
//   the clear; it stores each pseudonym as its 32 raw bytes.
// - A data key is 32 random bytes, wrapped with AES-256-GCM under a key-encryption key derived from the
//   master key (HKDF, info "veil key wrapping v1"), with the dataset and pseudonym as associated data: a
//   wrapped key moved to another row does not unwrap.
// - The file runs with secure_delete, so a shredded key's bytes are overwritten, not left in a free page, and
//   every shredding call checkpoints the write-ahead log so that no copy is left in keys.db-wal either.
//
// The calls work on batches (the workspace ingests 100,000 subjects at a time): one transaction and
// prepared statements reused across the batch, rows visited in key order.
//
//   VEIL_ASSIGN_OR_RETURN(KeyStore ks, KeyStore::Open(workspace + "/keys.db", master_key));
//   std::vector<std::string> pseudonyms;
//   for (const std::string& id : subject_ids) pseudonyms.push_back(ks.Pseudonym(id));
//   VEIL_ASSIGN_OR_RETURN(std::vector<base::SecretBytes> keys,
//                         ks.GetOrCreateKeys("patients", pseudonyms, crypto::SecureRandom()));
//
// Error messages name a dataset and at most the first 16 hex digits of a pseudonym, never a subject id, a
// malformed pseudonym (which may be a subject id passed by mistake) or key material.
//
// Thread safety: not thread-safe; use one KeyStore per thread (each opens its own connection). Several
// connections, in one process or several, may use the same keys.db: writes are serialized by SQLite's lock
// (a call waits up to 5 s for it, then fails with Unavailable).
#ifndef VEIL_STORE_KEY_STORE_H_
#define VEIL_STORE_KEY_STORE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/hmac.h"
#include "veil/store/sqlite.h"

namespace veil::store {

class KeyStore {
 public:
  // Opens (creating if needed) the key store at `path` under `master_key` (32 bytes).
  // Errors: InvalidArgument if the master key is not 32 bytes; the errors of Database::Open and
  // ApplyMigrations (e.g. DataLoss for a file that is not a database, FailedPrecondition for a newer schema).
  static absl::StatusOr<KeyStore> Open(const std::string& path, const base::SecretBytes& master_key);

  KeyStore(KeyStore&&) = default;
  KeyStore& operator=(KeyStore&&) = default;

  // The subject's pseudonym, 64 lower-case hex digits: what the key store, the vault and the audit log use
  // instead of the subject id. Deterministic under one master key; cannot fail. Not thread-safe either (it
  // reuses one HMAC context).
  std::string Pseudonym(std::string_view subject_id) const;

  // The data keys of many subjects of `dataset`, in one transaction: for each pseudonym, its existing key,
  // or a new one (32 bytes from `rng`), wrapped and inserted. keys[i] belongs to pseudonyms[i]; a pseudonym
  // that appears twice gets the same key twice. Either every new key is stored or (on error) none is.
  // If any key is new, `rng` is called once, from the calling thread, for the randomness of all of them; a
  // second thread wraps them while this one inserts them, and has finished when the call returns.
  // Errors: InvalidArgument if a pseudonym is not 64 lower-case hex digits (naming its index, not its text);
  // DataLoss if an existing key does not unwrap (wrong master key, or a damaged or tampered row); rng's
  // error; ResourceExhausted if the second thread cannot start; Unavailable if another connection holds the
  // write lock for more than 5 s; other SQLite errors.
  absl::StatusOr<std::vector<base::SecretBytes>> GetOrCreateKeys(std::string_view dataset,
                                                                 std::span<const std::string> pseudonyms,
                                                                 base::RandomSource& rng);

  // Every key of `dataset`, by pseudonym (64 lower-case hex digits), read in one scan (one read snapshot).
  // An unknown dataset yields an empty map. Errors: DataLoss if a key does not unwrap or a row is malformed
  // (naming the dataset and the first 16 hex digits of the pseudonym); SQLite errors.
  absl::StatusOr<absl::flat_hash_map<std::string, base::SecretBytes>> LoadKeys(std::string_view dataset);
  // As LoadKeys, but only the keys of the subjects `wanted` accepts: the others are not unwrapped (a read
  // that leaves subjects out, e.g. for want of consent, never holds their keys in the clear).
  absl::StatusOr<absl::flat_hash_map<std::string, base::SecretBytes>> LoadKeys(
      std::string_view dataset, absl::FunctionRef<bool(std::string_view pseudonym)> wanted);

  // The data key of one subject of `dataset`, or nullopt if it has none: one indexed lookup, for readers
  // that need a few keys of a large dataset (a subject request). Errors: InvalidArgument if the pseudonym is
  // not 64 lower-case hex digits; DataLoss if the key does not unwrap (as LoadKeys); SQLite errors.
  absl::StatusOr<std::optional<base::SecretBytes>> LoadKey(std::string_view dataset,
                                                           std::string_view pseudonym);

  // Destroys the keys of these pseudonyms: in `dataset`, or in every dataset if it is nullopt. Returns how
  // many keys were destroyed (pseudonyms without a key are skipped; 0 if none had one). One transaction.
  // Durable when it returns OK: the deletion is committed, secure_delete has overwritten the freed bytes, and
  // the write-ahead log has been checkpointed and truncated, so no copy of a destroyed key remains in
  // keys.db or keys.db-wal.
  // Errors: InvalidArgument for a malformed pseudonym (naming its index; nothing is destroyed); Unavailable
  // if the deletion committed but the checkpoint could not complete because another connection kept reading:
  // the keys are gone from the database but old copies may remain in keys.db-wal until a later Shred or
  // ShredDataset succeeds (calling again with the same arguments destroys nothing more and retries the
  // checkpoint); other SQLite errors (then nothing is destroyed).
  absl::StatusOr<int64_t> Shred(std::span<const std::string> pseudonyms,
                                std::optional<std::string_view> dataset);

  // Destroys every key of `dataset` (dropping a dataset, cleaning up after a crashed ingest) and returns how
  // many. Durability and errors as Shred.
  absl::StatusOr<int64_t> ShredDataset(std::string_view dataset);

  // The datasets that have at least one key, in byte order of their names (for consistency sweeps). Costs a
  // few index seeks per dataset, not a scan of the keys. Errors: SQLite errors.
  absl::StatusOr<std::vector<std::string>> Datasets();

 private:
  KeyStore(Database db, base::SecretBytes wrapping_key, const base::SecretBytes& pseudonym_key)
      : db_(std::move(db)), wrapping_key_(std::move(wrapping_key)), pseudonym_mac_(pseudonym_key) {}

  // Folds the write-ahead log into keys.db and truncates it (the last step of every shredding call).
  absl::Status CheckpointWal();

  Database db_;
  base::SecretBytes wrapping_key_;
  // Keyed once and reused: a pseudonym then costs one HMAC, not also the setting up of an HMAC context.
  // Mutable because Pseudonym() is logically const; this is why even Pseudonym() is not thread-safe.
  mutable crypto::HmacSha256Hasher pseudonym_mac_;
};

}  // namespace veil::store

#endif  // VEIL_STORE_KEY_STORE_H_
