// Internal: the audit log's file formats (record framing, file header, scanning with torn-tail detection) and
// an incremental RFC 6962 tree head over a compact range. See audit_log.h for the format description.
//
// Not part of the module's contract: use only from src/veil/audit/ (and its tests and benchmark).
#ifndef VEIL_AUDIT_LOG_FORMAT_H_
#define VEIL_AUDIT_LOG_FORMAT_H_

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/audit/merkle.h"
#include "veil/base/env.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/sha256.h"

namespace veil::audit::internal {

// --- File header of audit.log ---
inline constexpr char kLogMagic[8] = {'V', 'E', 'I', 'L', 'A', 'L', 'O', 'G'};
inline constexpr uint32_t kLogFormatVersion = 1;
inline constexpr size_t kLogIdSize = 16;
inline constexpr size_t kLogHeaderSize = 64;  // magic 8, version 4, log id 16, public key 32, crc 4

struct LogHeader {
  std::array<uint8_t, kLogIdSize> log_id{};
  std::array<uint8_t, crypto::kEd25519PublicKeySize> public_key{};
};

std::vector<uint8_t> EncodeLogHeader(const LogHeader& header);
// Errors: DataLoss naming what is wrong (short, bad magic, unknown version, checksum).
absl::StatusOr<LogHeader> DecodeLogHeader(std::span<const uint8_t> bytes, const std::string& path);

// --- Records ---
// A record is: u32 body length | u32 masked CRC-32C of the 4 length bytes | u32 masked CRC-32C of the body |
// body. Body of an entry record: 0x01 | canonical entry | 32-byte tree head after the entry. Body of a
// checkpoint record (checkpoints.log): 0x02 | signed note text.
inline constexpr size_t kRecordHeaderSize = 12;
inline constexpr uint8_t kEntryRecord = 0x01;
inline constexpr uint8_t kCheckpointRecord = 0x02;
inline constexpr uint32_t kMaxRecordBody = (1u << 20) + 64;

// Appends the framed record for `body` to `out`.
void AppendRecord(std::span<const uint8_t> body, std::vector<uint8_t>& out);
// Appends a framed entry record: body = 0x01 | entry | head.
void AppendEntryRecord(std::span<const uint8_t> entry, const Hash& head, std::vector<uint8_t>& out);

// Result of scanning a file of records.
struct ScanResult {
  uint64_t records = 0;
  uint64_t valid_end = 0;  // offset just past the last good record
  uint64_t file_end = 0;   // offset where reading stopped (EOF or the limit)
  // Non-empty if [valid_end, file_end) is a torn tail: an incomplete final record or zero-filled bytes.
  std::string tail_reason;
};

struct ScanOptions {
  uint64_t start = 0;                  // offset of the first record
  uint64_t limit = UINT64_MAX;         // bytes at or past `limit` are ignored
  bool allow_torn_tail = true;         // if false, a torn tail is DataLoss too
  bool require_limit = false;          // if true, a file that ends before `limit` is DataLoss
  const char* record_name = "record";  // "entry seq" / "checkpoint #", used in error messages
};

// Reads `path` and calls `fn(index, offset, body)` for each good record in order; a non-OK return stops the
// scan and is returned. Corruption (a bad header checksum that is not a zero-filled tail, an impossible
// length, a bad body checksum) is DataLoss("<path>: <record_name> <index> at byte <offset>: ...").
// `prefix_fn`, if set, receives the first `start` bytes before any record is read.
using RecordFn = std::function<absl::Status(uint64_t index, uint64_t offset, std::span<const uint8_t> body)>;
absl::StatusOr<ScanResult> ScanRecords(base::Env& env, const std::string& path, const ScanOptions& options,
                                       const std::function<absl::Status(std::span<const uint8_t>)>& prefix_fn,
                                       const RecordFn& fn);

// Replaces `path` by its first `length` bytes, crash-safely: copy to a temporary file, sync, rename over
// `path`, sync the directory `dir`. (Env has no truncate; this also gives a fresh file after an fsync error,
// whose page-cache state cannot be trusted.)
absl::Status TruncateFileTo(base::Env& env, const std::string& dir, const std::string& path, uint64_t length);

// --- Incremental tree head ---
// The RFC 6962 tree head of a growing list of leaves, from the roots of its maximal complete subtrees (a
// "compact range"): O(log n) memory, amortised O(1) hashes per append and popcount(n) - 1 hashes per root.
// Copyable value.
class CompactRange {
 public:
  void Append(const Hash& leaf_hash);
  Hash Root() const;
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;  // complete-subtree roots, largest (leftmost) first
};

}  // namespace veil::audit::internal

#endif  // VEIL_AUDIT_LOG_FORMAT_H_
