// AuditLog: Veil's append-only, tamper-evident audit trail (DESIGN.md section 4, step 5; issue 3, item 5).
//
// Every entry is a leaf of an RFC 6962 Merkle tree (merkle.h; RFC 9162 section 2.1). The log signs tree heads
// with Ed25519 as C2SP checkpoints (checkpoint.h) that an outside witness can keep, and serves inclusion and
// consistency proofs (proof.h).
//
// Files in the log directory:
//
//   audit.log        header, then one record per entry, in seq order
//   checkpoints.log  one record per signed checkpoint, in signing order
//
// audit.log header (64 bytes): "VEILALOG" | u32 format version (1) | 16-byte log id | 32-byte Ed25519
// public key | u32 masked CRC-32C of the preceding 60 bytes. Integers are big-endian.
//
// Record framing (both files; after LevelDB's log format, with the length protected separately):
//
//   u32 body length | u32 masked CRC-32C of the 4 length bytes | u32 masked CRC-32C of the body | body
//
// An entry record's body is 0x01 | the entry's canonical encoding (audit_entry.h; the Merkle leaf is exactly
// these bytes) | the 32-byte tree head of the log after this entry. A checkpoint record's body is 0x02 | the
// signed note text.
//
// Durability and crash recovery
//   Append returns only after the entry's record has been written and fdatasync'ed; concurrent appenders are
//   group-committed (one leader writes and syncs the queued records of everyone as one batch, as in LevelDB's
//   write path). A crash can therefore only leave the final, never-acknowledged batch incomplete. Open
//   recognises such a torn tail — an incomplete record header, a record whose declared length runs past the
//   end of the file, or a run of zero bytes to the end of the file (a filesystem that extended the file but
//   never wrote the data) — and truncates it away (crash-safely, by copying the valid prefix and renaming),
//   reporting what it dropped in recovery(). Anything else — a checksum mismatch in a complete record, a bad
//   header, a record out of sequence — is DataLoss naming the seq and byte offset, and nothing is dropped. A
//   truncation that would remove entries covered by a stored signed checkpoint is DataLoss too.
//
// Write failures
//   If the write or the sync of a batch fails, every Append in that batch fails (the caller must fail the
//   operation: no audit entry, no operation) and the log rewrites its file back to the last acknowledged
//   record before accepting more; if that rewrite fails too (e.g. the disk is still full), later Appends
//   retry it first and fail until it succeeds. Acknowledged entries are never affected. After a crash in the
//   middle of such a failure, entries of failed Appends that happen to be complete on disk may reappear; an
//   acknowledged entry never disappears.
//
// Threat model (what the design detects; see also Verify)
//   - Accidental damage (bit flips, torn writes): record checksums; Open/Verify name the first bad record.
//   - An attacker who edits the files but lacks the signing key:
//       * editing an entry (even fixing up its checksum) changes its leaf hash, so the tree head stored in
//         that record no longer matches: Verify names that entry;
//       * rewriting the entry AND recomputing every later stored head and checksum (a "consistent rewrite")
//         makes the file self-consistent, but the signed checkpoints covering it no longer verify, so Verify
//         fails naming the range of seqs between the last matching checkpoint and the first failing one;
//       * deleting or truncating entries covered by a checkpoint, forging or altering a checkpoint, or
//         replacing the file by another log: detected (size/roots/signature/log id mismatch);
//       * an outside witness's checkpoint (Verify(witness)) additionally catches rewriting the history of
//         entries before the witness's size even if the attacker also deleted checkpoints.log.
//     Such an attacker CAN, undetectably without a witness: truncate or rewrite entries appended after the
//     last checkpoint (so checkpoint often and hand checkpoints to a witness), delete checkpoints.log
//     together with a consistent rewrite, or delete the whole log. They can also read the log: entries hold
//     no personal data, only pseudonyms and hashes.
//   - An attacker with the signing key can forge a consistent history; only a witness that kept an earlier
//     checkpoint detects a rewrite of what that checkpoint covers.
//
// Thread safety: all methods are thread-safe. Append and Checkpoint may be called concurrently from any
// number of threads; readers (proofs, Verify, ReadEntries) see a consistent snapshot of acknowledged entries.
// Only one AuditLog may have a directory open for writing at a time (not enforced across processes).
#ifndef VEIL_AUDIT_AUDIT_LOG_H_
#define VEIL_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "veil/audit/audit_entry.h"
#include "veil/audit/checkpoint.h"
#include "veil/audit/log_format.h"
#include "veil/audit/merkle.h"
#include "veil/audit/proof.h"
#include "veil/base/env.h"
#include "veil/crypto/ed25519.h"

namespace veil::audit {

struct AuditLogOptions {
  // Never modify any file: no creation, no tail truncation; Append and Checkpoint fail with
  // FailedPrecondition. A torn tail is left in place and only reported. Default: false.
  bool read_only = false;
  // Upper bounds of one group-commit batch. Defaults: 4096 entries, 4 MiB.
  size_t max_batch_entries = 4096;
  size_t max_batch_bytes = 4 << 20;
};

// What Open found and did.
struct AuditLogRecovery {
  bool created = false;  // the log did not exist and was created
  uint64_t entries = 0;  // entries loaded
  uint64_t checkpoints = 0;
  // A torn tail of audit.log (bytes after the last complete record, never acknowledged): where it started,
  // how long it was, why it was judged torn, and whether it was truncated away (false in read-only mode).
  uint64_t torn_tail_offset = 0;
  uint64_t torn_tail_bytes = 0;
  std::string torn_tail_reason;
  bool torn_tail_truncated = false;
  // The same for checkpoints.log.
  uint64_t checkpoint_torn_tail_bytes = 0;
  bool checkpoint_torn_tail_truncated = false;
};

struct AuditVerifyReport {
  uint64_t entries = 0;       // entries re-read and re-hashed
  Hash root{};                // the recomputed tree head
  uint64_t checkpoints = 0;   // stored signed checkpoints verified
  uint64_t witness_size = 0;  // size of the witness checkpoint shown to be a prefix (0 if none given)
};

class AuditLog {
 public:
  static constexpr char kLogFileName[] = "audit.log";
  static constexpr char kCheckpointFileName[] = "checkpoints.log";

  // Opens the log in `dir` (creating the directory and an empty log with a fresh random log id unless
  // read_only), replays it into memory (about 70 bytes per entry) and recovers from a crash as described
  // above. Open checks framing, checksums and the sequence, and that the latest stored checkpoint is signed
  // by the key and covers no more entries than the log holds; it does not check tree heads or checkpoint
  // roots (that is Verify, which can then name the first bad entry). With a private key the log can sign
  // checkpoints; with only a public key it cannot. Errors: DataLoss for corruption (naming seq and byte
  // offset), for a log created under another public key, or for a torn tail that would drop checkpointed
  // entries; NotFound if read_only and there is no log; the Env's errors otherwise.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(base::Env& env, const std::string& dir,
                                                        crypto::Ed25519PrivateKey signing_key,
                                                        const AuditLogOptions& options = {});
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(base::Env& env, const std::string& dir,
                                                        const crypto::Ed25519PublicKey& public_key,
                                                        const AuditLogOptions& options = {});

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  // Appends `entry` and returns its seq once it is durable. The log assigns entry.seq (the next leaf index)
  // and entry.time (Env::Now(), never earlier than the previous entry's time, nanosecond precision); the
  // caller's values of those two fields are ignored.
  // Errors: InvalidArgument if the entry cannot be encoded (see EncodeAuditEntry); FailedPrecondition if the
  // log is read-only; the Env's error (e.g. ResourceExhausted for a full disk) if the write or sync failed,
  // in which case the entry is not acknowledged and the log stays consistent (see "Write failures").
  absl::StatusOr<uint64_t> Append(AuditEntry entry);

  // Signs the current tree head (all acknowledged entries), appends it durably to checkpoints.log and returns
  // the note text (checkpoint.h).
  // Errors: FailedPrecondition without a signing key or when read-only; the Env's errors.
  absl::StatusOr<std::string> Checkpoint();

  // Re-reads every record and checkpoint from disk and checks, in log order:
  //   - each record's framing and checksums, the strict entry encoding, seq = position;
  //   - the tree head stored in each record against the recomputed RFC 6962 head (names the first entry whose
  //     head differs: that entry, or its head, was modified);
  //   - each entry against the one this process loaded or appended (catches edits while open);
  //   - each stored checkpoint: syntax, log id, Ed25519 signature, and its root against the recomputed head
  //   of
  //     its size (a mismatch names the seq range since the last matching checkpoint);
  //   - if `witness` is given (a checkpoint kept outside, whose syntax the caller parsed): its signature, log
  //     id, that its size does not exceed the log's, that its root is the recomputed head of its size, and an
  //     RFC 6962 consistency proof from it to the current head.
  // Returns the report, or DataLoss naming the first bad entry (seq) or checkpoint. Cost: one sequential read
  // and about popcount(n) + 2 SHA-256 per entry.
  absl::StatusOr<AuditVerifyReport> Verify(
      const std::optional<SignedCheckpoint>& witness = std::nullopt) const;

  // Entries with seq in [since_seq, since_seq + max_count), read from disk, in seq order. Checks framing and
  // the strict encoding (DataLoss on failure) but not the tree: use Verify for integrity.
  absl::StatusOr<std::vector<AuditEntry>> ReadEntries(uint64_t since_seq,
                                                      uint64_t max_count = UINT64_MAX) const;

  // The proof that entry `seq` is in the tree of the first `tree_size` entries.
  // Errors: OutOfRange unless seq < tree_size <= size().
  absl::StatusOr<LogInclusionProof> InclusionProof(uint64_t seq, uint64_t tree_size) const;
  // The proof that the tree of size old_size is a prefix of the tree of size new_size.
  // Errors: OutOfRange unless old_size <= new_size <= size().
  absl::StatusOr<LogConsistencyProof> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

  // The stored checkpoints, parsed and signature-checked, in the order they were signed.
  // Errors: DataLoss for a corrupt or forged one.
  absl::StatusOr<std::vector<SignedCheckpoint>> ReadCheckpoints() const;

  uint64_t size() const;                                  // acknowledged entries
  Hash root() const;                                      // tree head of all acknowledged entries
  absl::StatusOr<Hash> RootAt(uint64_t tree_size) const;  // OutOfRange if tree_size > size()
  const std::string& log_id() const { return log_id_; }   // 32 hex digits
  const crypto::Ed25519PublicKey& public_key() const { return public_key_; }
  const AuditLogRecovery& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Writer;

  AuditLog(base::Env& env, std::string dir, std::optional<crypto::Ed25519PrivateKey> signing_key,
           const crypto::Ed25519PublicKey& public_key, const AuditLogOptions& options);
  static absl::StatusOr<std::unique_ptr<AuditLog>> OpenImpl(
      base::Env& env, const std::string& dir, std::optional<crypto::Ed25519PrivateKey> signing_key,
      const crypto::Ed25519PublicKey& public_key, const AuditLogOptions& options);
  absl::Status Load();
  absl::Status LoadCheckpoints();
  // Brings audit.log back to its acknowledged prefix after a failed write, and reopens it for appending.
  absl::Status RepairLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether as many writers are queued as the previous batch held (the group-commit wait condition).
  static bool GroupFull(AuditLog* log) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // How long a leader waits for the previous batch's writers to come back (see Append).
  static constexpr absl::Duration kGroupCommitWait = absl::Microseconds(100);

  std::string log_path() const { return dir_ + "/" + kLogFileName; }
  std::string checkpoint_path() const { return dir_ + "/" + kCheckpointFileName; }

  base::Env& env_;
  const std::string dir_;
  const std::optional<crypto::Ed25519PrivateKey> signing_key_;
  const crypto::Ed25519PublicKey public_key_;
  const AuditLogOptions options_;
  std::string log_id_;
  AuditLogRecovery recovery_;

  mutable absl::Mutex mu_;
  MerkleTree tree_ ABSL_GUARDED_BY(mu_);               // acknowledged entries
  internal::CompactRange range_ ABSL_GUARDED_BY(mu_);  // the same leaves, for incremental heads
  uint64_t log_bytes_ ABSL_GUARDED_BY(mu_) = 0;        // end of the last acknowledged record
  absl::Time last_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::unique_ptr<base::WritableFile> file_ ABSL_GUARDED_BY(mu_);
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);     // set after a failed batch until repaired
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);  // group-commit queue; front() is the leader
  size_t last_batch_size_ ABSL_GUARDED_BY(mu_) = 0;

  // Serialises Checkpoint(); ordered before mu_.
  mutable absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::unique_ptr<base::WritableFile> checkpoint_file_ ABSL_GUARDED_BY(checkpoint_mu_);
  uint64_t checkpoint_bytes_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  bool checkpoint_error_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  uint64_t checkpoint_max_size_ = 0;  // largest checkpointed size found by Open
};

}  // namespace veil::audit

#endif  // VEIL_AUDIT_AUDIT_LOG_H_
