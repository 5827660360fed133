#include "veil/audit/audit_log.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "veil/audit/encoding.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"

namespace veil::audit {
namespace {

using internal::kCheckpointRecord;
using internal::kEntryRecord;

// Body of an entry record: type | entry | head. Returns the entry bytes and the stored head.
absl::Status SplitEntryBody(std::span<const uint8_t> body, std::span<const uint8_t>& entry, Hash& head,
                            const std::string& where) {
  if (body.size() < 1 + head.size() + 1 || body[0] != kEntryRecord) {
    return absl::DataLossError(absl::StrCat(where, ": not an entry record"));
  }
  entry = body.subspan(1, body.size() - 1 - head.size());
  std::memcpy(head.data(), body.data() + body.size() - head.size(), head.size());
  return absl::OkStatus();
}

std::string EntryWhere(const std::string& path, uint64_t seq, uint64_t offset) {
  return absl::StrCat(path, ": entry seq ", seq, " at byte ", offset);
}

absl::Time TruncateToNanos(absl::Time t) { return absl::FromUnixNanos(absl::ToUnixNanos(t)); }

}  // namespace

// One queued Append: the leader of a batch fills in status and seq and wakes the others.
struct AuditLog::Writer {
  std::vector<uint8_t> encoded;
  absl::Status status;
  uint64_t seq = 0;
  bool done = false;
  absl::CondVar cv;
};

AuditLog::AuditLog(base::Env& env, std::string dir, std::optional<crypto::Ed25519PrivateKey> signing_key,
                   const crypto::Ed25519PublicKey& public_key, const AuditLogOptions& options)
    : env_(env),
      dir_(std::move(dir)),
      signing_key_(std::move(signing_key)),
      public_key_(public_key),
      options_(options) {}

AuditLog::~AuditLog() = default;

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(base::Env& env, const std::string& dir,
                                                         crypto::Ed25519PrivateKey signing_key,
                                                         const AuditLogOptions& options) {
  const crypto::Ed25519PublicKey public_key = signing_key.public_key();
  return OpenImpl(env, dir, std::move(signing_key), public_key, options);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(base::Env& env, const std::string& dir,
                                                         const crypto::Ed25519PublicKey& public_key,
                                                         const AuditLogOptions& options) {
  return OpenImpl(env, dir, std::nullopt, public_key, options);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::OpenImpl(
    base::Env& env, const std::string& dir, std::optional<crypto::Ed25519PrivateKey> signing_key,
    const crypto::Ed25519PublicKey& public_key, const AuditLogOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("audit log: empty directory name");
  if (options.max_batch_entries == 0 || options.max_batch_bytes == 0) {
    return absl::InvalidArgumentError("audit log: batch limits must be positive");
  }
  std::unique_ptr<AuditLog> log(new AuditLog(env, dir, std::move(signing_key), public_key, options));
  VEIL_RETURN_IF_ERROR(log->Load());
  return log;
}

absl::Status AuditLog::Load() {
  absl::MutexLock cl(&checkpoint_mu_);
  absl::MutexLock lock(&mu_);
  const std::string path = log_path();
  if (!env_.FileExists(path)) {
    if (options_.read_only) return absl::NotFoundError(absl::StrCat("audit log: no log at ", path));
    VEIL_RETURN_IF_ERROR(env_.CreateDirs(dir_));
    internal::LogHeader header;
    VEIL_RETURN_IF_ERROR(env_.random().Fill(header.log_id));
    header.public_key = public_key_.bytes();
    const std::vector<uint8_t> bytes = internal::EncodeLogHeader(header);
    // Atomic creation: a crash leaves either no log or a complete header.
    VEIL_RETURN_IF_ERROR(env_.WriteFileAtomically(
        path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    recovery_.created = true;
  }

  // Replay audit.log.
  internal::LogHeader header;
  absl::Status header_status = absl::OkStatus();
  internal::ScanOptions scan;
  scan.start = internal::kLogHeaderSize;
  scan.record_name = "entry seq";
  Hash last_head{};
  absl::StatusOr<internal::ScanResult> result = internal::ScanRecords(
      env_, path, scan,
      [&](std::span<const uint8_t> prefix) -> absl::Status {
        VEIL_ASSIGN_OR_RETURN(header, internal::DecodeLogHeader(prefix, path));
        if (header.public_key != public_key_.bytes()) {
          return absl::DataLossError(absl::StrCat(
              path, ": the log was created for public key ", base::HexEncode(header.public_key),
              ", not for the key it is opened with (", base::HexEncode(public_key_.bytes()), ")"));
        }
        return absl::OkStatus();
      },
      [&](uint64_t index, uint64_t offset, std::span<const uint8_t> body) -> absl::Status {
        std::span<const uint8_t> entry;
        VEIL_RETURN_IF_ERROR(SplitEntryBody(body, entry, last_head, EntryWhere(path, index, offset)));
        // Full decoding is Verify's job; here the fixed prefix is enough to keep the sequence straight.
        if (entry.size() < kEntryTimeOffset + 8 || entry[0] != kAuditEntryVersion) {
          return absl::DataLossError(absl::StrCat(EntryWhere(path, index, offset), ": malformed entry"));
        }
        const uint64_t seq = internal::LoadU64(entry.data() + kEntrySeqOffset);
        if (seq != index) {
          return absl::DataLossError(
              absl::StrCat(EntryWhere(path, index, offset), ": records seq ", seq, " (out of sequence)"));
        }
        const absl::Time t =
            absl::FromUnixNanos(static_cast<int64_t>(internal::LoadU64(entry.data() + kEntryTimeOffset)));
        last_time_ = std::max(last_time_, t);
        const Hash leaf = LeafHash(entry);
        tree_.AppendLeafHash(leaf);
        range_.Append(leaf);
        return absl::OkStatus();
      });
  if (!result.ok()) return result.status();
  log_id_ = base::HexEncode(header.log_id);
  log_bytes_ = result->valid_end;
  recovery_.entries = tree_.size();

  VEIL_RETURN_IF_ERROR(LoadCheckpoints());
  if (checkpoint_max_size_ > tree_.size()) {
    return absl::DataLossError(absl::StrCat(path, ": a signed checkpoint covers ", checkpoint_max_size_,
                                            " entries but only ", tree_.size(),
                                            " are in the log: acknowledged entries are missing"));
  }

  if (result->valid_end < result->file_end) {
    recovery_.torn_tail_offset = result->valid_end;
    recovery_.torn_tail_bytes = result->file_end - result->valid_end;
    recovery_.torn_tail_reason = result->tail_reason;
    if (!options_.read_only) {
      VEIL_RETURN_IF_ERROR(internal::TruncateFileTo(env_, dir_, path, result->valid_end));
      recovery_.torn_tail_truncated = true;
    }
  }
  if (!options_.read_only) {
    VEIL_ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(path));
  }
  return absl::OkStatus();
}

absl::Status AuditLog::LoadCheckpoints() {
  const std::string path = checkpoint_path();
  if (!env_.FileExists(path)) {
    if (!options_.read_only) {
      VEIL_ASSIGN_OR_RETURN(checkpoint_file_, env_.NewAppendableFile(path));
      VEIL_RETURN_IF_ERROR(checkpoint_file_->Sync());
      VEIL_RETURN_IF_ERROR(env_.SyncDir(dir_));
    }
    return absl::OkStatus();
  }
  internal::ScanOptions scan;
  scan.record_name = "checkpoint #";
  std::optional<SignedCheckpoint> latest;
  absl::StatusOr<internal::ScanResult> result = internal::ScanRecords(
      env_, path, scan, nullptr,
      [&](uint64_t index, uint64_t offset, std::span<const uint8_t> body) -> absl::Status {
        if (body[0] != kCheckpointRecord) {
          return absl::DataLossError(
              absl::StrCat(path, ": checkpoint # ", index, " at byte ", offset, ": not a checkpoint record"));
        }
        absl::StatusOr<SignedCheckpoint> note = ParseCheckpoint(
            std::string_view(reinterpret_cast<const char*>(body.data() + 1), body.size() - 1));
        if (!note.ok()) {
          return absl::DataLossError(absl::StrCat(path, ": checkpoint # ", index, " at byte ", offset, ": ",
                                                  note.status().message()));
        }
        if (!latest.has_value() || note->checkpoint.size >= latest->checkpoint.size)
          latest = *std::move(note);
        return absl::OkStatus();
      });
  if (!result.ok()) return result.status();
  recovery_.checkpoints = result->records;
  checkpoint_bytes_ = result->valid_end;
  if (latest.has_value()) {
    const audit::Checkpoint& cp = latest->checkpoint;
    absl::Status st = VerifyCheckpoint(*latest, public_key_);
    if (cp.log_id != log_id_) st = absl::DataLossError("it belongs to another log");
    // Its root is Verify's business, so that verify can name the damaged range; Open only guards against
    // losing checkpointed entries.
    if (!st.ok()) {
      return absl::DataLossError(absl::StrCat(path, ": latest checkpoint (size ", cp.size,
                                              ") does not match the log: ", st.message()));
    }
    checkpoint_max_size_ = cp.size;
  }
  if (result->valid_end < result->file_end) {
    recovery_.checkpoint_torn_tail_bytes = result->file_end - result->valid_end;
    if (!options_.read_only) {
      VEIL_RETURN_IF_ERROR(internal::TruncateFileTo(env_, dir_, path, result->valid_end));
      recovery_.checkpoint_torn_tail_truncated = true;
    }
  }
  if (!options_.read_only) {
    VEIL_ASSIGN_OR_RETURN(checkpoint_file_, env_.NewAppendableFile(path));
  }
  return absl::OkStatus();
}

absl::Status AuditLog::RepairLocked() {
  if (file_ != nullptr) {
    (void)file_->Close();  // its state after a failed write or sync is unknown; it is replaced below
    file_.reset();
  }
  VEIL_RETURN_IF_ERROR(internal::TruncateFileTo(env_, dir_, log_path(), log_bytes_));
  VEIL_ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(log_path()));
  write_error_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> AuditLog::Append(AuditEntry entry) {
  if (options_.read_only) return absl::FailedPreconditionError("audit log: opened read-only");
  entry.seq = 0;
  entry.time = absl::UnixEpoch();
  Writer w;
  // Encoding (the expensive, validating part) runs in the caller's thread, in parallel with other appenders;
  // the leader only stamps seq and time into their fixed slots.
  VEIL_ASSIGN_OR_RETURN(w.encoded, EncodeAuditEntry(entry));

  absl::MutexLock lock(&mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.Wait(&mu_);
  if (w.done) {
    if (!w.status.ok()) return w.status;
    return w.seq;
  }

  // This thread leads the batch of everything queued so far.
  absl::Status status = absl::OkStatus();
  if (!write_error_.ok()) {
    status = RepairLocked();
    if (!status.ok()) {
      status = absl::Status(status.code(),
                            absl::StrCat("audit log: cannot recover from an earlier write failure (",
                                         write_error_.message(), "): ", status.message()));
    }
  }
  // Group commit under load: the threads of the previous batch are typically still on their way back into
  // Append. If that batch had several entries and fewer writers are queued now, give them a moment (far
  // less than one fdatasync) to join, so that batches stay large instead of alternating large and tiny.
  // A lone appender (previous batch of one) never waits.
  if (status.ok() && last_batch_size_ > 1 && writers_.size() < last_batch_size_) {
    mu_.AwaitWithTimeout(absl::Condition(&AuditLog::GroupFull, this), kGroupCommitWait);
  }
  std::vector<Writer*> batch;
  size_t batch_bytes = 0;
  for (Writer* x : writers_) {
    if (batch.size() == options_.max_batch_entries ||
        (!batch.empty() && batch_bytes + x->encoded.size() > options_.max_batch_bytes)) {
      break;
    }
    batch.push_back(x);
    batch_bytes += x->encoded.size();
  }
  const uint64_t first_seq = tree_.size();
  last_batch_size_ = batch.size();
  if (status.ok()) {
    // The clock may step back; the log's times never do.
    const absl::Time now = std::max(TruncateToNanos(env_.Now()), last_time_);
    internal::CompactRange range = range_;
    std::vector<Hash> leaves;
    leaves.reserve(batch.size());
    mu_.Unlock();
    // Only the leader touches the file and range_'s successor; readers keep using tree_ under mu_.
    std::vector<uint8_t> buf;
    buf.reserve(batch_bytes + batch.size() * (internal::kRecordHeaderSize + 1 + sizeof(Hash)));
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<uint8_t>& e = batch[i]->encoded;
      internal::StoreU64(e.data() + kEntrySeqOffset, first_seq + i);
      internal::StoreU64(e.data() + kEntryTimeOffset, static_cast<uint64_t>(absl::ToUnixNanos(now)));
      const Hash leaf = LeafHash(e);
      range.Append(leaf);
      internal::AppendEntryRecord(e, range.Root(), buf);
      leaves.push_back(leaf);
    }
    status = file_->Append(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
    if (status.ok()) status = file_->Sync();
    mu_.Lock();
    if (status.ok()) {
      for (const Hash& leaf : leaves) tree_.AppendLeafHash(leaf);
      range_ = std::move(range);
      log_bytes_ += buf.size();
      last_time_ = now;
    } else {
      write_error_ = status;
      status =
          absl::Status(status.code(), absl::StrCat("audit log: appending seqs ", first_seq, " to ",
                                                   first_seq + batch.size() - 1,
                                                   " failed, nothing was acknowledged: ", status.message()));
      // Best effort now; the next leader retries if this fails.
      (void)RepairLocked();
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Writer* x = writers_.front();
    writers_.pop_front();
    x->status = status;
    x->seq = first_seq + i;
    x->done = true;
    if (x != &w) x->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  if (!status.ok()) return status;
  return w.seq;
}

bool AuditLog::GroupFull(AuditLog* log) { return log->writers_.size() >= log->last_batch_size_; }

absl::StatusOr<std::string> AuditLog::Checkpoint() {
  if (options_.read_only) return absl::FailedPreconditionError("audit log: opened read-only");
  if (!signing_key_.has_value()) {
    return absl::FailedPreconditionError(
        "audit log: opened without the signing key; cannot sign checkpoints");
  }
  absl::MutexLock cl(&checkpoint_mu_);
  audit::Checkpoint cp;
  {
    absl::MutexLock lock(&mu_);
    cp.size = tree_.size();
    cp.root = tree_.Root();
  }
  cp.log_id = log_id_;
  cp.time = absl::FromUnixSeconds(absl::ToUnixSeconds(env_.Now()));
  VEIL_ASSIGN_OR_RETURN(std::string note, SignCheckpoint(cp, *signing_key_));
  const std::string path = checkpoint_path();
  if (checkpoint_error_) {
    if (checkpoint_file_ != nullptr) (void)checkpoint_file_->Close();
    checkpoint_file_.reset();
    VEIL_RETURN_IF_ERROR(internal::TruncateFileTo(env_, dir_, path, checkpoint_bytes_));
    VEIL_ASSIGN_OR_RETURN(checkpoint_file_, env_.NewAppendableFile(path));
    checkpoint_error_ = false;
  }
  std::vector<uint8_t> body;
  body.push_back(kCheckpointRecord);
  internal::PutBytes(body, note);
  std::vector<uint8_t> record;
  internal::AppendRecord(body, record);
  absl::Status st =
      checkpoint_file_->Append(std::string_view(reinterpret_cast<const char*>(record.data()), record.size()));
  if (st.ok()) st = checkpoint_file_->Sync();
  if (!st.ok()) {
    checkpoint_error_ = true;
    return st;
  }
  checkpoint_bytes_ += record.size();
  return note;
}

absl::StatusOr<std::vector<SignedCheckpoint>> AuditLog::ReadCheckpoints() const {
  uint64_t limit;
  {
    absl::MutexLock cl(&checkpoint_mu_);
    limit = checkpoint_bytes_;
  }
  std::vector<SignedCheckpoint> out;
  const std::string path = checkpoint_path();
  if (limit == 0) return out;
  internal::ScanOptions scan;
  scan.limit = limit;
  scan.allow_torn_tail = false;
  scan.require_limit = true;
  scan.record_name = "checkpoint #";
  absl::StatusOr<internal::ScanResult> result = internal::ScanRecords(
      env_, path, scan, nullptr,
      [&](uint64_t index, uint64_t offset, std::span<const uint8_t> body) -> absl::Status {
        const std::string where = absl::StrCat(path, ": checkpoint # ", index, " at byte ", offset);
        if (body[0] != kCheckpointRecord)
          return absl::DataLossError(absl::StrCat(where, ": not a checkpoint"));
        absl::StatusOr<SignedCheckpoint> note = ParseCheckpoint(
            std::string_view(reinterpret_cast<const char*>(body.data() + 1), body.size() - 1));
        if (!note.ok()) return absl::DataLossError(absl::StrCat(where, ": ", note.status().message()));
        if (note->checkpoint.log_id != log_id_) {
          return absl::DataLossError(absl::StrCat(where, ": belongs to log ", note->checkpoint.log_id));
        }
        absl::Status st = VerifyCheckpoint(*note, public_key_);
        if (!st.ok()) return absl::DataLossError(absl::StrCat(where, ": ", st.message()));
        out.push_back(*std::move(note));
        return absl::OkStatus();
      });
  if (!result.ok()) return result.status();
  return out;
}

absl::StatusOr<AuditVerifyReport> AuditLog::Verify(const std::optional<SignedCheckpoint>& witness) const {
  // A snapshot of what is acknowledged; appends that complete meanwhile are simply not covered.
  uint64_t n;
  uint64_t bytes;
  {
    absl::MutexLock lock(&mu_);
    n = tree_.size();
    bytes = log_bytes_;
  }
  AuditVerifyReport report;
  VEIL_ASSIGN_OR_RETURN(std::vector<SignedCheckpoint> checkpoints, ReadCheckpoints());
  // Checkpoint sizes to check, in log order: size -> index of the checkpoint in `checkpoints`.
  std::multimap<uint64_t, size_t> by_size;
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const audit::Checkpoint& cp = checkpoints[i].checkpoint;
    if (cp.size > n) {
      return absl::DataLossError(absl::StrCat("audit log: signed checkpoint #", i, " covers ", cp.size,
                                              " entries but the log has only ", n,
                                              ": acknowledged entries were removed"));
    }
    by_size.emplace(cp.size, i);
  }
  if (witness.has_value()) {
    const audit::Checkpoint& cp = witness->checkpoint;
    if (cp.log_id != log_id_) {
      return absl::DataLossError(
          absl::StrCat("witness checkpoint is for log ", cp.log_id, ", this log is ", log_id_));
    }
    absl::Status st = VerifyCheckpoint(*witness, public_key_);
    if (!st.ok()) return absl::DataLossError(absl::StrCat("witness checkpoint: ", st.message()));
    if (cp.size > n) {
      return absl::DataLossError(absl::StrCat("witness checkpoint covers ", cp.size,
                                              " entries but the log has only ", n,
                                              ": the log was truncated or forked"));
    }
  }

  const std::string path = log_path();
  uint64_t last_good_checkpoint = 0;  // largest checkpointed size verified so far
  internal::CompactRange range;
  std::optional<Hash> witness_root;
  auto check_size = [&](uint64_t size, const Hash& root) -> absl::Status {
    auto [begin, end] = by_size.equal_range(size);
    for (auto it = begin; it != end; ++it) {
      const audit::Checkpoint& cp = checkpoints[it->second].checkpoint;
      if (cp.root != root) {
        return absl::DataLossError(absl::StrCat("audit log: signed checkpoint #", it->second, " (size ",
                                                cp.size, ", signed ", FormatAuditTime(cp.time),
                                                ") does not match the log: an entry with seq in [",
                                                last_good_checkpoint, ", ", cp.size,
                                                ") was rewritten and the later tree heads recomputed (first "
                                                "bad entry in that range; the original "
                                                "is needed to name it exactly)"));
      }
      ++report.checkpoints;
      last_good_checkpoint = size;
    }
    if (witness.has_value() && witness->checkpoint.size == size) {
      if (witness->checkpoint.root != root) {
        return absl::DataLossError(absl::StrCat("audit log: the witness checkpoint of size ", size,
                                                " is not a prefix of this log: an entry with seq in [",
                                                last_good_checkpoint, ", ", size, ") was rewritten"));
      }
      witness_root = root;
    }
    return absl::OkStatus();
  };
  VEIL_RETURN_IF_ERROR(check_size(0, EmptyTreeHash()));

  internal::ScanOptions scan;
  scan.start = internal::kLogHeaderSize;
  scan.limit = bytes;
  scan.allow_torn_tail = false;
  scan.require_limit = true;
  scan.record_name = "entry seq";
  absl::StatusOr<internal::ScanResult> result = internal::ScanRecords(
      env_, path, scan,
      [&](std::span<const uint8_t> prefix) -> absl::Status {
        VEIL_ASSIGN_OR_RETURN(internal::LogHeader header, internal::DecodeLogHeader(prefix, path));
        if (header.public_key != public_key_.bytes() || base::HexEncode(header.log_id) != log_id_) {
          return absl::DataLossError(absl::StrCat(path, ": file header changed (log id or public key)"));
        }
        return absl::OkStatus();
      },
      [&](uint64_t index, uint64_t offset, std::span<const uint8_t> body) -> absl::Status {
        const std::string where = EntryWhere(path, index, offset);
        if (index >= n) return absl::DataLossError(absl::StrCat(where, ": more records than acknowledged"));
        std::span<const uint8_t> entry_bytes;
        Hash stored_head;
        VEIL_RETURN_IF_ERROR(SplitEntryBody(body, entry_bytes, stored_head, where));
        absl::StatusOr<AuditEntry> entry = DecodeAuditEntry(entry_bytes);
        if (!entry.ok()) {
          return absl::DataLossError(absl::StrCat(where, ": ", entry.status().message(),
                                                  " (entry starts at byte ",
                                                  offset + internal::kRecordHeaderSize + 1, ")"));
        }
        if (entry->seq != index) {
          return absl::DataLossError(absl::StrCat(where, ": records seq ", entry->seq, " (out of sequence)"));
        }
        const Hash leaf = LeafHash(entry_bytes);
        range.Append(leaf);
        const Hash head = range.Root();
        if (head != stored_head) {
          return absl::DataLossError(absl::StrCat(where,
                                                  ": the stored tree head does not match the recomputed one: "
                                                  "the entry (or its head) was modified"));
        }
        absl::StatusOr<Hash> loaded;
        {
          absl::MutexLock lock(&mu_);
          loaded = tree_.LeafHashAt(index);
        }
        if (!loaded.ok()) return loaded.status();
        if (*loaded != leaf) {
          return absl::DataLossError(absl::StrCat(
              where, ": differs from the entry loaded or appended by this process (modified while open)"));
        }
        return check_size(index + 1, head);
      });
  if (!result.ok()) return result.status();
  if (result->records != n) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", result->records, " entries on disk, ", n, " acknowledged"));
  }
  report.entries = n;
  report.root = range.Root();
  if (witness.has_value()) {
    // The formal check a witness would make: an RFC 6962 consistency proof from its head to ours.
    absl::StatusOr<std::vector<Hash>> proof;
    {
      absl::MutexLock lock(&mu_);
      proof = tree_.ConsistencyProof(witness->checkpoint.size, n);
    }
    if (!proof.ok()) return proof.status();
    absl::Status st =
        VerifyConsistency(witness->checkpoint.size, n, witness->checkpoint.root, report.root, *proof);
    if (!st.ok()) return absl::DataLossError(absl::StrCat("witness checkpoint: ", st.message()));
    report.witness_size = witness->checkpoint.size;
  }
  return report;
}

absl::StatusOr<std::vector<AuditEntry>> AuditLog::ReadEntries(uint64_t since_seq, uint64_t max_count) const {
  uint64_t n;
  uint64_t bytes;
  {
    absl::MutexLock lock(&mu_);
    n = tree_.size();
    bytes = log_bytes_;
  }
  std::vector<AuditEntry> out;
  if (since_seq >= n || max_count == 0) return out;
  const std::string path = log_path();
  internal::ScanOptions scan;
  scan.start = internal::kLogHeaderSize;
  scan.limit = bytes;
  scan.allow_torn_tail = false;
  scan.require_limit = true;
  scan.record_name = "entry seq";
  const absl::Status stop = absl::CancelledError("done");
  absl::StatusOr<internal::ScanResult> result = internal::ScanRecords(
      env_, path, scan, nullptr,
      [&](uint64_t index, uint64_t offset, std::span<const uint8_t> body) -> absl::Status {
        if (index < since_seq) return absl::OkStatus();
        if (index - since_seq >= max_count) return stop;
        const std::string where = EntryWhere(path, index, offset);
        std::span<const uint8_t> entry_bytes;
        Hash head;
        VEIL_RETURN_IF_ERROR(SplitEntryBody(body, entry_bytes, head, where));
        absl::StatusOr<AuditEntry> entry = DecodeAuditEntry(entry_bytes);
        if (!entry.ok()) return absl::DataLossError(absl::StrCat(where, ": ", entry.status().message()));
        out.push_back(*std::move(entry));
        return absl::OkStatus();
      });
  if (!result.ok() && result.status() != stop) return result.status();
  return out;
}

absl::StatusOr<LogInclusionProof> AuditLog::InclusionProof(uint64_t seq, uint64_t tree_size) const {
  absl::MutexLock lock(&mu_);
  LogInclusionProof p;
  VEIL_ASSIGN_OR_RETURN(p.path, tree_.InclusionProof(seq, tree_size));
  p.log_id = log_id_;
  p.index = seq;
  p.tree_size = tree_size;
  VEIL_ASSIGN_OR_RETURN(p.leaf_hash, tree_.LeafHashAt(seq));
  VEIL_ASSIGN_OR_RETURN(p.root, tree_.RootAt(tree_size));
  return p;
}

absl::StatusOr<LogConsistencyProof> AuditLog::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  absl::MutexLock lock(&mu_);
  LogConsistencyProof p;
  VEIL_ASSIGN_OR_RETURN(p.path, tree_.ConsistencyProof(old_size, new_size));
  p.log_id = log_id_;
  p.old_size = old_size;
  p.new_size = new_size;
  VEIL_ASSIGN_OR_RETURN(p.old_root, tree_.RootAt(old_size));
  VEIL_ASSIGN_OR_RETURN(p.new_root, tree_.RootAt(new_size));
  return p;
}

uint64_t AuditLog::size() const {
  absl::MutexLock lock(&mu_);
  return tree_.size();
}

Hash AuditLog::root() const {
  absl::MutexLock lock(&mu_);
  return tree_.Root();
}

absl::StatusOr<Hash> AuditLog::RootAt(uint64_t tree_size) const {
  absl::MutexLock lock(&mu_);
  return tree_.RootAt(tree_size);
}

}  // namespace veil::audit
