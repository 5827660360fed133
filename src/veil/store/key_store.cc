#include "veil/store/key_store.h"

#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/hkdf.h"
#include "veil/crypto/hmac.h"
#include "veil/crypto/random.h"

namespace veil::store {
namespace {

constexpr size_t kDataKeySize = 32;

const Migration kKeyStoreSchema[] = {
    {"data keys",
     "CREATE TABLE data_key ("
     "  dataset TEXT NOT NULL,"
     "  subject TEXT NOT NULL,"  // the pseudonym, hex
     "  wrapped BLOB NOT NULL,"  // AES-256-GCM(kek, key; aad)
     "  PRIMARY KEY (dataset, subject)"
     ") WITHOUT ROWID;"},
};

// Binds a wrapped key to its row: moving it to another dataset or subject makes it fail to unwrap.
std::string WrapAad(std::string_view dataset, std::string_view pseudonym) {
  return absl::StrCat("veil data key v1\n", std::string(dataset), "\n", std::string(pseudonym));
}

absl::StatusOr<base::SecretBytes> Derive(const base::SecretBytes& master_key, const char* info) {
  return crypto::HkdfSha256(master_key.span(), {}, base::AsBytes(info), 32);
}

}  // namespace

absl::StatusOr<KeyStore> KeyStore::Open(const std::string& path, const base::SecretBytes& master_key) {
  if (master_key.size() != 32) return absl::InvalidArgumentError("the master key must be 32 bytes");
  VEIL_ASSIGN_OR_RETURN(Database db, Database::Open(path, {.secure_delete = true}));
  VEIL_RETURN_IF_ERROR(ApplyMigrations(db, kKeyStoreSchema));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes wrapping, Derive(master_key, "veil key wrapping v1"));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes pseudonym, Derive(master_key, "veil subject pseudonym v1"));
  return KeyStore(std::move(db), std::move(wrapping), std::move(pseudonym));
}

std::string KeyStore::Pseudonym(std::string_view subject_id) const {
  return base::HexEncode(crypto::HmacSha256(pseudonym_key_, subject_id));
}

absl::StatusOr<base::SecretBytes> KeyStore::Get(std::string_view dataset, std::string_view subject_id) {
  const std::string pseudonym = Pseudonym(subject_id);
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT wrapped FROM data_key WHERE dataset = ?1 AND subject = ?2"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(2, pseudonym));
  VEIL_ASSIGN_OR_RETURN(bool found, st.Step());
  // The message names the pseudonym, never the subject id.
  if (!found)
    return absl::NotFoundError(absl::StrCat("no data key in dataset \"", std::string(dataset),
                                            "\" for subject ", pseudonym.substr(0, 16), "…"));
  const std::vector<uint8_t> wrapped = st.ColumnBlob(0);
  absl::StatusOr<base::SecretBytes> key =
      crypto::OpenToSecret(wrapping_key_, wrapped, base::AsBytes(WrapAad(dataset, pseudonym)));
  if (!key.ok()) {
    return absl::DataLossError(absl::StrCat("the data key in dataset \"", std::string(dataset),
                                            "\" of subject ", pseudonym.substr(0, 16),
                                            "… does not unwrap: wrong master key or a damaged key store"));
  }
  return key;
}

absl::StatusOr<base::SecretBytes> KeyStore::GetOrCreate(std::string_view dataset, std::string_view subject_id,
                                                        base::RandomSource& rng) {
  absl::StatusOr<base::SecretBytes> existing = Get(dataset, subject_id);
  if (!absl::IsNotFound(existing.status())) return existing;
  const std::string pseudonym = Pseudonym(subject_id);
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes key, crypto::RandomKey(kDataKeySize, rng));
  VEIL_ASSIGN_OR_RETURN(
      std::vector<uint8_t> wrapped,
      crypto::Seal(wrapping_key_, key.span(), base::AsBytes(WrapAad(dataset, pseudonym)), rng));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("INSERT INTO data_key(dataset, subject, wrapped) VALUES (?1, ?2, ?3)"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(st.Bind(2, pseudonym));
  VEIL_RETURN_IF_ERROR(st.BindBlob(3, wrapped));
  VEIL_RETURN_IF_ERROR(st.Run());
  return key;
}

absl::StatusOr<int64_t> KeyStore::Shred(std::string_view subject_id,
                                        std::optional<std::string_view> dataset) {
  const std::string pseudonym = Pseudonym(subject_id);
  VEIL_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare(dataset.has_value() ? "DELETE FROM data_key WHERE subject = ?1 AND dataset = ?2"
                                      : "DELETE FROM data_key WHERE subject = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, pseudonym));
  if (dataset.has_value()) VEIL_RETURN_IF_ERROR(st.Bind(2, *dataset));
  VEIL_RETURN_IF_ERROR(st.Run());
  const int64_t shredded = db_.changes();
  // Fold the WAL into the main file so that the overwritten pages replace the old ones there too, and the
  // WAL's copies of the deleted key are reset.
  VEIL_RETURN_IF_ERROR(db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return shredded;
}

}  // namespace veil::store
