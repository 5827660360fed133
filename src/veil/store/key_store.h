// KeyStore: each data subject's data keys, wrapped by the workspace master key, kept in their own SQLite file
// (keys.db) apart from the bulk vault files. Destroying a subject's keys (crypto-shredding, GDPR Art. 17)
// makes every copy of their vault records unreadable, including copies taken before the erasure, while the
// other subjects' records still decrypt.
//
// - Subjects appear only as pseudonyms: HMAC-SHA-256 under a key derived from the master key (HKDF, info
//   "veil subject pseudonym v1"), so keys.db holds no subject identifier in the clear.
// - A data key is 32 random bytes, wrapped with AES-256-GCM under a key-encryption key derived from the
// master
//   key (HKDF, info "veil key wrapping v1"), with the dataset and pseudonym as associated data: a wrapped key
//   moved to another row does not unwrap.
// - The file runs with secure_delete, so a shredded key's bytes are overwritten, not left in a free page.
//
// Errors: DataLoss if a wrapped key does not unwrap (a wrong master key, or a tampered row); NotFound for a
// subject with no key (never ingested, or shredded). Not thread-safe: one KeyStore per thread.
#ifndef VEIL_STORE_KEY_STORE_H_
#define VEIL_STORE_KEY_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/store/sqlite.h"

namespace veil::store {

class KeyStore {
 public:
  // Opens (creating if needed) the key store at `path` under `master_key` (32 bytes).
  static absl::StatusOr<KeyStore> Open(const std::string& path, const base::SecretBytes& master_key);

  // The subject's pseudonym: what the key store, the vault and the audit log use instead of the subject id.
  std::string Pseudonym(std::string_view subject_id) const;

  // The subject's data key for `dataset`, created (from `rng`) if it does not exist yet.
  absl::StatusOr<base::SecretBytes> GetOrCreate(std::string_view dataset, std::string_view subject_id,
                                                base::RandomSource& rng);
  // The subject's existing data key for `dataset`. NotFound if there is none.
  absl::StatusOr<base::SecretBytes> Get(std::string_view dataset, std::string_view subject_id);

  // Destroys the subject's data keys: in `dataset`, or in every dataset if it is nullopt. Returns how many
  // were destroyed. Durable when it returns (the deletion is committed, the freed space overwritten).
  absl::StatusOr<int64_t> Shred(std::string_view subject_id, std::optional<std::string_view> dataset);

 private:
  KeyStore(Database db, base::SecretBytes wrapping_key, base::SecretBytes pseudonym_key)
      : db_(std::move(db)),
        wrapping_key_(std::move(wrapping_key)),
        pseudonym_key_(std::move(pseudonym_key)) {}

  Database db_;
  base::SecretBytes wrapping_key_;
  base::SecretBytes pseudonym_key_;
};

}  // namespace veil::store

#endif  // VEIL_STORE_KEY_STORE_H_
