#include "veil/store/key_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/base/absl_compat.h"
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
constexpr size_t kPseudonymBytes = 32;
constexpr size_t kPseudonymHexDigits = 2 * kPseudonymBytes;

using RawPseudonym = std::array<uint8_t, kPseudonymBytes>;

// This Abseil's absl::string_view is its own type, which absl::StrCat needs.
using base::ToAbsl;

// The pseudonym is stored as its 32 raw bytes rather than 64 hex digits: half the key bytes in the primary
// key, so smaller pages and faster batch inserts. BLOBs compare with memcmp, so the order of rows in the
// table is the byte order of the raw pseudonyms (which the batch calls sort by). Only this file writes the
// table, always 32 bytes; LoadKeys checks the length when it reads (a CHECK constraint would cost a tenth of
// the insert time).
const Migration kKeyStoreSchema[] = {
    {"data keys",
     "CREATE TABLE data_key ("
     "  dataset TEXT NOT NULL,"
     "  subject BLOB NOT NULL,"  // the pseudonym, 32 bytes
     "  wrapped BLOB NOT NULL,"  // AES-256-GCM(kek, key; aad): nonce || ciphertext || tag, 60 bytes
     "  PRIMARY KEY (dataset, subject)"
     ") WITHOUT ROWID;"},
};

// Binds a wrapped key to its row: moving it to another dataset or subject makes it fail to unwrap. The
// pseudonym is last and of fixed length, so no two (dataset, pseudonym) pairs give the same text.
// Reused across a batch: Set() rewrites only the pseudonym at the end.
class WrapAad {
 public:
  explicit WrapAad(std::string_view dataset)
      : text_(absl::StrCat("veil data key v1\n", ToAbsl(dataset), "\n",
                           std::string(kPseudonymHexDigits, '0'))) {}

  // Precondition: pseudonym_hex has 64 characters.
  std::span<const uint8_t> Set(std::string_view pseudonym_hex) {
    text_.replace(text_.size() - kPseudonymHexDigits, kPseudonymHexDigits, pseudonym_hex);
    return base::AsBytes(text_);
  }

 private:
  std::string text_;
};

// Unwraps the data key of (dataset, pseudonym). A failed authentication becomes a DataLoss that names the
// dataset and 16 hex digits of the pseudonym, nothing else.
absl::StatusOr<base::SecretBytes> Unwrap(const base::SecretBytes& kek, std::span<const uint8_t> wrapped,
                                         std::string_view dataset, std::string_view pseudonym_hex,
                                         WrapAad& aad) {
  absl::StatusOr<base::SecretBytes> key = crypto::OpenToSecret(kek, wrapped, aad.Set(pseudonym_hex));
  if (absl::IsDataLoss(key.status())) {
    return absl::DataLossError(absl::StrCat("the data key in dataset \"", ToAbsl(dataset), "\" of subject ",
                                            ToAbsl(pseudonym_hex.substr(0, 16)),
                                            "… does not unwrap: wrong master key or a damaged key store"));
  }
  return key;
}

absl::StatusOr<base::SecretBytes> Derive(const base::SecretBytes& master_key, const char* info) {
  return crypto::HkdfSha256(master_key.span(), {}, base::AsBytes(info), 32);
}

// Hex digit values, and -1 for everything else, upper case included: one spelling per pseudonym, since the
// hex text is part of the AAD.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> v{};
  v.fill(-1);
  for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<int8_t>(c - 'a' + 10);
  return v;
}();

// Decodes 64 lower-case hex digits. The error names the index only: a malformed "pseudonym" may be a subject
// id passed by mistake, which must not reach a log.
absl::Status ParsePseudonym(std::string_view hex, size_t index, RawPseudonym& out) {
  int bad = hex.size() == kPseudonymHexDigits ? 0 : -1;
  if (bad == 0) {
    const auto* digits = reinterpret_cast<const uint8_t*>(hex.data());
    for (size_t i = 0; i < kPseudonymBytes; ++i) {
      const int hi = kHexValue[digits[2 * i]];
      const int lo = kHexValue[digits[2 * i + 1]];
      bad |= hi | lo;  // negative if either is -1
      out[i] = static_cast<uint8_t>((hi << 4) | lo);
    }
  }
  if (bad >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("pseudonym ", index, " of the batch is not 64 lower-case hex digits"));
}

// The pseudonyms decoded, and the order that visits them by raw bytes (the table's key order): sorted
// B-tree accesses touch each page once per batch instead of once per key, and repeats become neighbours.
struct SortedBatch {
  std::vector<RawPseudonym> raw;
  std::vector<uint32_t> order;

  const RawPseudonym& sorted(size_t k) const { return raw[order[k]]; }
  // Whether the k-th pseudonym in sorted order repeats the one before it.
  bool IsRepeat(size_t k) const { return k > 0 && sorted(k) == sorted(k - 1); }
};

absl::StatusOr<SortedBatch> ParseBatch(std::span<const std::string> pseudonyms) {
  if (pseudonyms.size() > UINT32_MAX) return absl::InvalidArgumentError("too many pseudonyms in one batch");
  SortedBatch batch;
  batch.raw.resize(pseudonyms.size());
  // Sorted by the first 8 bytes read big-endian (the same order as memcmp), the rest only on a tie.
  std::vector<std::pair<uint64_t, uint32_t>> by_prefix(pseudonyms.size());
  for (size_t i = 0; i < pseudonyms.size(); ++i) {
    VEIL_RETURN_IF_ERROR(ParsePseudonym(pseudonyms[i], i, batch.raw[i]));
    uint64_t prefix = 0;
    for (int b = 0; b < 8; ++b) prefix = (prefix << 8) | batch.raw[i][b];
    by_prefix[i] = {prefix, static_cast<uint32_t>(i)};
  }
  std::sort(by_prefix.begin(), by_prefix.end(), [&raw = batch.raw](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return std::memcmp(raw[a.second].data(), raw[b.second].data(), kPseudonymBytes) < 0;
  });
  batch.order.resize(pseudonyms.size());
  for (size_t k = 0; k < by_prefix.size(); ++k) batch.order[k] = by_prefix[k].second;
  return batch;
}

constexpr size_t kNonceSize = crypto::kAes256GcmNonceSize;
constexpr size_t kRandomPerKey = kDataKeySize + kNonceSize;
constexpr size_t kWrappedSize = kNonceSize + kDataKeySize + crypto::kAes256GcmTagSize;

// Makes the new keys of a batch and wraps them, in order, on a thread of its own, while the caller's thread
// inserts the ones already made: wrapping (AES-GCM) and inserting (the B-tree) cost about the same per key,
// so overlapping them takes nearly half off creating keys when a second core is free.
//
// The randomness of every new key (the key and the wrapping's nonce) is drawn by the caller's thread in one
// call before the helper starts, so `rng` is never used from another thread, and one large draw costs far
// less than two small ones per key. The wrapping is Seal's format (nonce || ciphertext || tag) with a random
// nonce, as Seal makes it; SealWithNonce only lets the nonce come from that draw.
class KeyMaker {
 public:
  // `keys[missing[k]]` receives the k-th new key. Everything passed must outlive the KeyMaker.
  KeyMaker(const base::SecretBytes& kek, std::string_view dataset, std::span<const std::string> pseudonyms,
           std::span<const uint32_t> missing, std::vector<base::SecretBytes>& keys)
      : kek_(kek), dataset_(dataset), pseudonyms_(pseudonyms), missing_(missing), keys_(keys) {}

  KeyMaker(const KeyMaker&) = delete;
  KeyMaker& operator=(const KeyMaker&) = delete;
  // Stops the helper if it is still running and waits for it (std::jthread).
  ~KeyMaker() = default;

  // Draws the randomness and starts the helper. Errors: rng's; ResourceExhausted if no thread can start.
  absl::Status Start(base::RandomSource& rng) {
    random_ = base::SecretBytes(missing_.size() * kRandomPerKey);
    VEIL_RETURN_IF_ERROR(rng.Fill(random_.span()));
    wrapped_.resize(missing_.size());
    try {
      thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
    } catch (const std::system_error& e) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot start a thread to wrap keys: ", e.what()));
    }
    return absl::OkStatus();
  }

  // The wrapping of the k-th new key, waiting until it is made; or the error that stopped the helper.
  absl::StatusOr<std::span<const uint8_t>> Wrapped(size_t k) {
    size_t done = done_.load(std::memory_order_acquire);
    while (done <= k) {
      done_.wait(done, std::memory_order_acquire);
      done = done_.load(std::memory_order_acquire);
    }
    if (done == kFailed) return status_;
    return std::span<const uint8_t>(wrapped_[k]);
  }

 private:
  static constexpr size_t kFailed = SIZE_MAX;
  // Keys made between two wake-ups of the caller: a wake-up is a system call when the caller waits.
  static constexpr size_t kPublishEvery = 64;

  void Run(std::stop_token stop) {
    WrapAad aad(dataset_);
    const size_t n = missing_.size();
    for (size_t k = 0; k < n; ++k) {
      if (k % kPublishEvery == 0 && stop.stop_requested()) return;  // the caller has given up
      const uint32_t i = missing_[k];
      const uint8_t* random = random_.data() + k * kRandomPerKey;
      base::SecretBytes key(std::span<const uint8_t>(random, kDataKeySize));
      const std::span<const uint8_t> nonce(random + kDataKeySize, kNonceSize);
      absl::StatusOr<std::vector<uint8_t>> sealed =
          crypto::SealWithNonce(kek_, nonce, key.span(), aad.Set(pseudonyms_[i]));
      if (!sealed.ok()) return Fail(sealed.status());
      if (sealed->size() != kWrappedSize - kNonceSize) return Fail(absl::InternalError("bad sealed size"));
      std::memcpy(wrapped_[k].data(), nonce.data(), kNonceSize);
      std::memcpy(wrapped_[k].data() + kNonceSize, sealed->data(), sealed->size());
      keys_[i] = std::move(key);
      if ((k + 1) % kPublishEvery == 0 || k + 1 == n) {
        done_.store(k + 1, std::memory_order_release);
        done_.notify_one();
      }
    }
  }

  void Fail(absl::Status status) {
    status_ = std::move(status);
    done_.store(kFailed, std::memory_order_release);  // publishes status_
    done_.notify_one();
  }

  const base::SecretBytes& kek_;
  const std::string_view dataset_;
  const std::span<const std::string> pseudonyms_;
  const std::span<const uint32_t> missing_;
  std::vector<base::SecretBytes>& keys_;
  base::SecretBytes random_;  // kRandomPerKey bytes per new key: the key, then the nonce
  std::vector<std::array<uint8_t, kWrappedSize>> wrapped_;
  absl::Status status_;          // written by the helper before it publishes kFailed
  std::atomic<size_t> done_{0};  // keys made so far, or kFailed
  std::jthread thread_;          // last: destroyed (stopped and joined) before what it uses
};

// The names of the datasets with keys, in byte order: a skip scan, one index seek per dataset (min() over a
// range of the primary key's leading column), in one statement and so one read snapshot.
constexpr std::string_view kDatasetsSql =
    "WITH RECURSIVE ds(name) AS ("
    "  SELECT min(dataset) FROM data_key"
    "  UNION ALL"
    "  SELECT (SELECT min(dataset) FROM data_key WHERE dataset > ds.name) FROM ds WHERE ds.name IS NOT NULL"
    ") SELECT name FROM ds WHERE name IS NOT NULL";

absl::StatusOr<std::vector<std::string>> ListDatasets(Database& db) {
  VEIL_ASSIGN_OR_RETURN(Statement st, db.Prepare(kDatasetsSql));
  std::vector<std::string> names;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return names;
    names.push_back(st.ColumnText(0));
  }
}

}  // namespace

absl::StatusOr<KeyStore> KeyStore::Open(const std::string& path, const base::SecretBytes& master_key) {
  if (master_key.size() != 32) return absl::InvalidArgumentError("the master key must be 32 bytes");
  // A batch of 100,000 new keys writes about 12 MiB of pages; with SQLite's default 2 MiB cache they would
  // be spilled to the WAL and read back in the middle of the transaction.
  VEIL_ASSIGN_OR_RETURN(Database db, Database::Open(path, {.secure_delete = true, .cache_kib = 32768}));
  VEIL_RETURN_IF_ERROR(ApplyMigrations(db, kKeyStoreSchema));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes wrapping, Derive(master_key, "veil key wrapping v1"));
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes pseudonym, Derive(master_key, "veil subject pseudonym v1"));
  return KeyStore(std::move(db), std::move(wrapping), pseudonym);
}

std::string KeyStore::Pseudonym(std::string_view subject_id) const {
  pseudonym_mac_.Update(base::AsBytes(subject_id));
  return base::HexEncode(pseudonym_mac_.Final());
}

absl::StatusOr<std::vector<base::SecretBytes>> KeyStore::GetOrCreateKeys(
    std::string_view dataset, std::span<const std::string> pseudonyms, base::RandomSource& rng) {
  VEIL_ASSIGN_OR_RETURN(SortedBatch batch, ParseBatch(pseudonyms));
  std::vector<base::SecretBytes> keys(pseudonyms.size());
  WrapAad aad(dataset);

  VEIL_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db_));
  // Two passes in key order: look every pseudonym up, then create the missing keys, whose randomness can
  // then be drawn at once.
  std::vector<uint32_t> missing;
  {
    // A dataset without keys yet (the usual ingest) needs no lookups: one probe tells.
    VEIL_ASSIGN_OR_RETURN(Statement probe, db_.Prepare("SELECT 1 FROM data_key WHERE dataset = ?1 LIMIT 1"));
    VEIL_RETURN_IF_ERROR(probe.Bind(1, dataset));
    VEIL_ASSIGN_OR_RETURN(const bool dataset_has_keys, probe.Step());
    VEIL_RETURN_IF_ERROR(probe.Reset());  // no read cursor left open while the batch writes
    VEIL_ASSIGN_OR_RETURN(Statement select,
                          db_.Prepare("SELECT wrapped FROM data_key WHERE dataset = ?1 AND subject = ?2"));
    VEIL_RETURN_IF_ERROR(select.Bind(1, dataset));  // bindings survive Reset: the dataset is bound once
    for (size_t k = 0; k < batch.order.size(); ++k) {
      if (batch.IsRepeat(k)) continue;
      const uint32_t i = batch.order[k];
      if (!dataset_has_keys) {
        missing.push_back(i);
        continue;
      }
      VEIL_RETURN_IF_ERROR(select.BindBlob(2, batch.raw[i]));
      VEIL_ASSIGN_OR_RETURN(bool found, select.Step());
      if (found) {
        VEIL_ASSIGN_OR_RETURN(keys[i],
                              Unwrap(wrapping_key_, select.ColumnBlob(0), dataset, pseudonyms[i], aad));
      } else {
        missing.push_back(i);
      }
      VEIL_RETURN_IF_ERROR(select.Reset());
    }
  }
  if (!missing.empty()) {
    VEIL_ASSIGN_OR_RETURN(Statement insert,
                          db_.Prepare("INSERT INTO data_key(dataset, subject, wrapped) VALUES (?1, ?2, ?3)"));
    VEIL_RETURN_IF_ERROR(insert.Bind(1, dataset));
    KeyMaker maker(wrapping_key_, dataset, pseudonyms, missing, keys);
    VEIL_RETURN_IF_ERROR(maker.Start(rng));
    for (size_t k = 0; k < missing.size(); ++k) {
      VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> wrapped, maker.Wrapped(k));
      VEIL_RETURN_IF_ERROR(insert.BindBlob(2, batch.raw[missing[k]]));
      VEIL_RETURN_IF_ERROR(insert.BindBlob(3, wrapped));
      VEIL_RETURN_IF_ERROR(insert.Run());
      VEIL_RETURN_IF_ERROR(insert.Reset());
    }
  }  // the helper is done and joined: every new key is in `keys`
  VEIL_RETURN_IF_ERROR(tx.Commit());
  // A repeated pseudonym gets a copy of the key of its first occurrence, which sorts just before it.
  for (size_t k = 1; k < batch.order.size(); ++k) {
    if (batch.IsRepeat(k)) keys[batch.order[k]] = keys[batch.order[k - 1]].Clone();
  }
  return keys;
}

absl::StatusOr<absl::flat_hash_map<std::string, base::SecretBytes>> KeyStore::LoadKeys(
    std::string_view dataset) {
  return LoadKeys(dataset, [](std::string_view) { return true; });
}

absl::StatusOr<absl::flat_hash_map<std::string, base::SecretBytes>> KeyStore::LoadKeys(
    std::string_view dataset, absl::FunctionRef<bool(std::string_view pseudonym)> wanted) {
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT subject, wrapped FROM data_key WHERE dataset = ?1"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  WrapAad aad(dataset);
  absl::flat_hash_map<std::string, base::SecretBytes> keys;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return keys;
    const std::span<const uint8_t> subject = st.ColumnBlobView(0);
    // Only this file writes rows, always with 32 bytes: another length means keys.db was edited behind its
    // back.
    if (subject.size() != kPseudonymBytes) {
      return absl::DataLossError(absl::StrCat("a data key row in dataset \"", ToAbsl(dataset),
                                              "\" has a malformed pseudonym: a damaged key store"));
    }
    std::string pseudonym = base::HexEncode(subject);
    if (!wanted(pseudonym)) continue;
    VEIL_ASSIGN_OR_RETURN(base::SecretBytes key,
                          Unwrap(wrapping_key_, st.ColumnBlobView(1), dataset, pseudonym, aad));
    keys.emplace(std::move(pseudonym), std::move(key));
  }
}

absl::StatusOr<std::optional<base::SecretBytes>> KeyStore::LoadKey(std::string_view dataset,
                                                                   std::string_view pseudonym) {
  RawPseudonym raw;
  VEIL_RETURN_IF_ERROR(ParsePseudonym(pseudonym, 0, raw));
  VEIL_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT wrapped FROM data_key WHERE dataset = ?1 AND subject = ?2"));
  VEIL_RETURN_IF_ERROR(st.Bind(1, dataset));
  VEIL_RETURN_IF_ERROR(st.BindBlob(2, raw));
  VEIL_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::nullopt;
  WrapAad aad(dataset);
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes key,
                        Unwrap(wrapping_key_, st.ColumnBlob(0), dataset, pseudonym, aad));
  return key;
}

absl::StatusOr<int64_t> KeyStore::Shred(std::span<const std::string> pseudonyms,
                                        std::optional<std::string_view> dataset) {
  VEIL_ASSIGN_OR_RETURN(SortedBatch batch, ParseBatch(pseudonyms));
  int64_t shredded = 0;
  {
    VEIL_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db_));
    std::vector<std::string> datasets;
    if (dataset.has_value()) {
      datasets.emplace_back(*dataset);
    } else {
      // One keyed delete per dataset and pseudonym: the primary key leads with the dataset, so a delete by
      // pseudonym alone would scan the whole table for each pseudonym.
      VEIL_ASSIGN_OR_RETURN(datasets, ListDatasets(db_));
    }
    VEIL_ASSIGN_OR_RETURN(Statement del,
                          db_.Prepare("DELETE FROM data_key WHERE dataset = ?1 AND subject = ?2"));
    for (const std::string& name : datasets) {
      VEIL_RETURN_IF_ERROR(del.Bind(1, name));
      for (size_t k = 0; k < batch.order.size(); ++k) {
        if (batch.IsRepeat(k)) continue;
        VEIL_RETURN_IF_ERROR(del.BindBlob(2, batch.sorted(k)));
        VEIL_RETURN_IF_ERROR(del.Run());
        shredded += db_.changes();
        VEIL_RETURN_IF_ERROR(del.Reset());
      }
    }
    VEIL_RETURN_IF_ERROR(tx.Commit());
  }
  VEIL_RETURN_IF_ERROR(CheckpointWal());
  return shredded;
}

absl::StatusOr<int64_t> KeyStore::ShredDataset(std::string_view dataset) {
  int64_t shredded = 0;
  {
    VEIL_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db_));
    VEIL_ASSIGN_OR_RETURN(Statement del, db_.Prepare("DELETE FROM data_key WHERE dataset = ?1"));
    VEIL_RETURN_IF_ERROR(del.Bind(1, dataset));
    VEIL_RETURN_IF_ERROR(del.Run());
    shredded = db_.changes();
    VEIL_RETURN_IF_ERROR(tx.Commit());
  }
  VEIL_RETURN_IF_ERROR(CheckpointWal());
  return shredded;
}

absl::StatusOr<std::vector<std::string>> KeyStore::Datasets() { return ListDatasets(db_); }

absl::Status KeyStore::CheckpointWal() {
  // secure_delete zeroes the freed bytes in the new versions of the pages, but those go to the WAL first,
  // and the WAL also keeps older frames holding the key. Copying the WAL into keys.db replaces the pages
  // there, and TRUNCATE then empties the WAL file. It waits (busy timeout) for readers of older snapshots,
  // and reports busy = 1 if they are still there.
  VEIL_ASSIGN_OR_RETURN(Statement st, db_.Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  VEIL_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("PRAGMA wal_checkpoint returned no row");
  if (st.ColumnInt64(0) != 0) {
    return absl::UnavailableError(
        "the keys are deleted, but another connection to the key store kept reading, so the write-ahead log "
        "could not be checkpointed and may still hold copies of them: shred again to finish");
  }
  return absl::OkStatus();
}

}  // namespace veil::store
