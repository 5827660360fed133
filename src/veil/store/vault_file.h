// The encrypted vault: how a dataset's rows are stored on disk, one sealed record per data subject, so that
// destroying a subject's data key (KeyStore::Shred) makes all of their rows unreadable.
//
//   std::string plaintext;
//   EncodeSubjectRows(table, rows_of_subject, /*row_id_base=*/0, &plaintext);
//   VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, SealRecord(key, "patients", pseudonym,
//                                                                 base::AsBytes(plaintext), rng));
//   VEIL_ASSIGN_OR_RETURN(VaultFileWriter w, VaultFileWriter::Create(env, path, "patients"));
//   VEIL_RETURN_IF_ERROR(w.Add(pseudonym, sealed));  ...
//   VEIL_ASSIGN_OR_RETURN(VaultFileSummary summary, w.Finish());    // stored in the catalog
//
//   VEIL_RETURN_IF_ERROR(ReadVaultFile(env, path, "patients", &summary,
//       [&](std::string_view pseudonym, std::span<const uint8_t> sealed) -> absl::Status {
//         VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> plain, OpenRecord(key, "patients", pseudonym, sealed));
//         return DecodeSubjectRows(plain, schema, builders, &row_ids);
//       }));
//
// Three layers, each with its own format below: the record plaintext (one subject's rows), the sealed record
// (AES-256-GCM of the plaintext) and the vault file (a header and framed sealed records). Integers are
// little-endian. "varint" is an unsigned LEB128 integer of at most 10 bytes in its one shortest form (no
// superfluous 0x80 continuation bytes; the 10th byte, if any, is 0x01); "zvarint" is the varint of an int64
// zigzag-mapped ((v << 1) ^ (v >> 63)), so that small negative numbers stay short.
//
// ---- Record plaintext, format 1: one subject's rows of a table, column by column.
//
//   size            field
//   1               format = 0x01
//   varint          n: the number of rows; at most the number of bytes after it (each row id takes >= 1)
//   varint          the number of columns; must equal the schema's number of fields
//   n x varint      row ids: the first as a varint, each next one as the zvarint of its difference from the
//                   previous one (taken mod 2^64 and read as an int64), so that a subject's nearby row ids
//                   take a byte or two each
//   then for each column, in schema order:
//   1               type tag: 0x00 int64, 0x01 double, 0x02 bool, 0x03 string, 0x04 date, 0x05 timestamp;
//                   must be the schema field's type
//   1               nulls: 0x00 no null in this column; 0x01 a null bitmap follows (nullable fields only)
//   ceil(n / 8)     (if nulls = 0x01) bit i % 8 (least significant first) of byte i / 8 set = row i is null;
//                   at least one bit set, the padding bits after bit n - 1 clear
//   ...             the values of the non-null rows, in row order:
//                     int64      zvarint
//                     double     8 bytes: the IEEE 754 binary64 bit pattern (NaN payloads, -0.0 kept)
//                     bool       1 byte, 0x00 or 0x01
//                     string     varint byte length, then that many bytes of valid UTF-8
//                     date       zvarint of the days since 1970-01-01, within int32
//                     timestamp  zvarint of the microseconds since 1970-01-01T00:00:00Z
//
// The encoding is canonical: a given list of rows and row ids has exactly one encoding, and the decoder
// accepts nothing else (the fuzz target checks that decoding and re-encoding gives back the same bytes).
//
// ---- Sealed record: crypto::Seal of the plaintext under the subject's data key (32 bytes), that is
// nonce (12) || ciphertext || tag (16), with associated data
//
//   "veil vault record v1\n" || dataset || "\n" || pseudonym (64 lower-case hex digits)
//
// so a record moved to another subject or another dataset does not open. (The pseudonym has a fixed length
// and comes last, so the associated data splits back into one dataset and one pseudonym only.)
//
// ---- Vault file, format 1:
//
//   offset  size     field
//   0       8        magic "VEILVLT1"
//   8       1        format version = 0x01
//   9       varint   D: the byte length of the dataset name, 1 .. kMaxVaultDatasetNameBytes
//   ...     D        the dataset name, UTF-8
//   then one frame per record, in the order they were added:
//           1        tag 'R' (0x52)
//           32       the pseudonym's 32 bytes (its 64 hex digits decoded)
//           varint   L: the sealed record's length, kAes256GcmOverhead .. kMaxSealedRecordBytes
//           L        the sealed record
//   then the trailer, which ends the file:
//           1        tag 'E' (0x45)
//           8        the number of records, u64
//
// The trailer makes a file cut short anywhere, even between two frames, fail to parse without help from the
// catalog. The catalog also keeps each file's VaultFileSummary (size, SHA-256, record count), which catches
// every other change, and the AEAD catches any change to a record itself. A file does not check that its
// pseudonyms are distinct; the workspace writes one record per subject.
//
// Thread safety: the free functions are thread-safe (for distinct outputs). A VaultFileWriter is not: use
// one per thread.
#ifndef VEIL_STORE_VAULT_FILE_H_
#define VEIL_STORE_VAULT_FILE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/sha256.h"
#include "veil/table/column.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace veil::store {

inline constexpr std::string_view kVaultFileMagic = "VEILVLT1";
inline constexpr uint8_t kVaultFileVersion = 1;
inline constexpr uint8_t kVaultRecordFormat = 1;
// A subject's pseudonym: 64 lower-case hex digits (an HMAC-SHA-256, see KeyStore::Pseudonym).
inline constexpr size_t kVaultPseudonymHexSize = 64;
inline constexpr size_t kVaultPseudonymBytes = kVaultPseudonymHexSize / 2;
inline constexpr size_t kMaxVaultDatasetNameBytes = 1024;
// The largest sealed record a vault file holds (1 GiB), and so the largest plaintext SealRecord accepts.
inline constexpr size_t kMaxSealedRecordBytes = size_t{1} << 30;
inline constexpr size_t kMaxRecordPlaintextBytes = kMaxSealedRecordBytes - crypto::kAes256GcmOverhead;

// True if `pseudonym` is 64 lower-case hex digits, the only form the vault accepts.
bool IsVaultPseudonym(std::string_view pseudonym);

// ---- Record plaintext (format above).

// Appends to *out the encoding of rows `positions` (row indices into `table`, in the given order) of `table`;
// the i-th encoded row carries the dataset row id row_id_base + positions[i], so that an export can restore
// the original order. One pass per column over its typed storage; *out grows geometrically, so a caller that
// clears and reuses one string per record allocates only at first.
// Preconditions: 0 <= positions[i] < table.num_rows(). Cannot fail.
void EncodeSubjectRows(const table::Table& table, std::span<const int64_t> positions, uint64_t row_id_base,
                       std::string* out);

// Decodes a record plaintext made for a table with `schema`: appends each row's values to builders[c] (one
// builder per schema field, of the field's type) and each row id to *row_ids. Records of many subjects may be
// decoded into the same builders one after another.
// Errors: InvalidArgument if `builders` does not match `schema` (count or types: the caller's mistake).
// DataLoss("vault record: <what> at byte N") for anything malformed: truncation, another format, a column
// count or type tag other than the schema's, an invalid null marker or bitmap, a null in a non-nullable
// field, a bool other than 0 or 1, a date outside int32, a string that is not UTF-8, a varint that is too
// long or not in its shortest form, a row count larger than the bytes could hold, trailing bytes. Never
// crashes, and allocates no more than the input's size, on any input. On error the builders and *row_ids
// hold an unspecified partial state (the caller discards them).
absl::Status DecodeSubjectRows(std::span<const uint8_t> plaintext, const table::Schema& schema,
                               std::span<table::ColumnBuilder> builders, std::vector<uint64_t>* row_ids);

// ---- Sealed record (format above).

// Seals `plaintext` under `data_key` with a fresh random nonce from `rng`, bound to `dataset` and
// `pseudonym`. Errors: InvalidArgument if the pseudonym is not 64 lower-case hex digits, the plaintext is
// longer than kMaxRecordPlaintextBytes, or the key is not 32 bytes; rng's error.
absl::StatusOr<std::vector<uint8_t>> SealRecord(const base::SecretBytes& data_key, std::string_view dataset,
                                                std::string_view pseudonym,
                                                std::span<const uint8_t> plaintext, base::RandomSource& rng);

// Verifies and decrypts a sealed record. Errors: DataLoss naming the dataset and the pseudonym's first 16 hex
// digits (and nothing else) when it does not open: a wrong key (e.g. not this subject's), a record moved
// from another subject or dataset, or changed bytes. InvalidArgument for a malformed pseudonym (not echoed)
// or a key that is not 32 bytes.
absl::StatusOr<std::vector<uint8_t>> OpenRecord(const base::SecretBytes& data_key, std::string_view dataset,
                                                std::string_view pseudonym, std::span<const uint8_t> sealed);

// ---- Vault files (format above).

// What the catalog stores about a vault file to check it when it is read back.
struct VaultFileSummary {
  int64_t records = 0;            // number of records
  int64_t bytes = 0;              // file size
  crypto::Sha256Digest sha256{};  // SHA-256 of the whole file

  friend bool operator==(const VaultFileSummary&, const VaultFileSummary&) = default;
};

// Writes one vault file front to back. Frames are gathered in a 1 MiB buffer and handed to the file a buffer
// at a time (a record larger than the buffer goes straight through), and the SHA-256 is computed over the
// bytes as they are written.
//
// A write error (e.g. a full disk) is sticky: every later Add or Finish returns it. The file is then
// incomplete and the caller deletes it; so does a caller that abandons a writer without Finish (the
// destructor closes the file, which then lacks its trailer and does not parse). Move-only; not thread-safe.
class VaultFileWriter {
 public:
  // Creates (truncating) the file at `path` through env.NewWritableFile, for records of `dataset`.
  // Errors: InvalidArgument if the dataset name is empty, longer than kMaxVaultDatasetNameBytes or not valid
  // UTF-8; the Env's error if the file cannot be created.
  static absl::StatusOr<VaultFileWriter> Create(base::Env& env, const std::string& path,
                                                std::string_view dataset);

  VaultFileWriter(VaultFileWriter&&) noexcept = default;
  VaultFileWriter& operator=(VaultFileWriter&&) noexcept = default;
  VaultFileWriter(const VaultFileWriter&) = delete;
  VaultFileWriter& operator=(const VaultFileWriter&) = delete;
  ~VaultFileWriter() = default;

  // Appends one record: `sealed` (as SealRecord made it) of the subject `pseudonym`.
  // Errors: InvalidArgument (nothing is written; the writer stays usable) if the pseudonym is not 64
  // lower-case hex digits or `sealed` is shorter than kAes256GcmOverhead or longer than
  // kMaxSealedRecordBytes; FailedPrecondition after Finish; a write error (sticky, see above).
  absl::Status Add(std::string_view pseudonym, std::span<const uint8_t> sealed);

  // Writes the trailer and what is buffered, syncs the file to stable storage (WritableFile::Sync) and closes
  // it. Returns the summary the catalog stores. The file's directory entry is durable only once the caller
  // has called Env::SyncDir on its directory. Errors: FailedPrecondition if called twice; a write, sync or
  // close error.
  absl::StatusOr<VaultFileSummary> Finish();

  // Records added so far.
  int64_t records() const { return records_; }

 private:
  VaultFileWriter(std::unique_ptr<base::WritableFile> file, std::string path);

  // Hashes and appends `data` to the file; records the first error in status_.
  absl::Status Write(std::string_view data);
  absl::Status FlushBuffer();

  std::unique_ptr<base::WritableFile> file_;
  std::string path_;
  std::string buffer_;
  crypto::Sha256Hasher hasher_;
  int64_t records_ = 0;
  int64_t bytes_ = 0;  // bytes handed to the file so far
  absl::Status status_;
  bool finished_ = false;
};

// Called for each record of a vault file: the pseudonym (64 lower-case hex digits) and the sealed bytes, both
// valid only during the call.
using VaultRecordVisitor =
    absl::FunctionRef<absl::Status(std::string_view pseudonym, std::span<const uint8_t> sealed)>;

// Parses a whole vault file held in memory; `source` names it in errors (e.g. its path).
// If `expected` is non-null, first checks the size and SHA-256 of `bytes` and then, while parsing, the record
// count against it. Then checks the whole structure (magic, version, a header naming `dataset`, every frame,
// the trailer and its count) before calling `visit` for any record, so that visit sees records only of a
// well-formed file. Then calls visit for every record in order, and stops at its first error, which is
// returned as is.
// Errors: DataLoss("vault file <source>: does not match the catalog (...)") for a mismatch with `expected`;
// DataLoss("vault file <source>: <what> at byte N") for malformed bytes, including a header that names
// another dataset. Never crashes and allocates nothing in proportion to the input.
absl::Status ParseVaultFile(std::span<const uint8_t> bytes, std::string_view source, std::string_view dataset,
                            const VaultFileSummary* expected, VaultRecordVisitor visit);

// Reads the file at `path` through `env` (Env::ReadWholeFile: the POSIX Env maps it) and calls ParseVaultFile
// with source = path.
// With `expected`, a file of the wrong size is refused before it is read. Errors: as ParseVaultFile; a
// missing file is DataLoss("vault file <path> is missing") when `expected` is non-null (the catalog says it
// exists), NotFound otherwise; other Env errors as they are.
absl::Status ReadVaultFile(base::Env& env, const std::string& path, std::string_view dataset,
                           const VaultFileSummary* expected, VaultRecordVisitor visit);

namespace internal {

// As EncodeSubjectRows, but with each row's id given (row_ids.size() == positions.size()): the inverse of
// DecodeSubjectRows for any row ids, for the fuzz target's canonical-encoding check and for tests.
void EncodeSubjectRowsWithIds(const table::Table& table, std::span<const int64_t> positions,
                              std::span<const uint64_t> row_ids, std::string* out);

}  // namespace internal
}  // namespace veil::store

#endif  // VEIL_STORE_VAULT_FILE_H_
