// AuditEntry: one record of the audit trail (DESIGN.md section 4, step 5), its canonical binary encoding (the
// bytes that become the RFC 6962 Merkle leaf) and its renderings for `veil audit log` (text and JSON).
//
// An entry never contains personal data. Data subjects appear only as pseudonyms that the caller computed as
// keyed HMACs of the subject id (the log never sees a raw subject id), so erasing a subject never requires
// rewriting the log: once the pseudonymisation key is destroyed the pseudonyms are unlinkable.
//
// Canonical encoding, version 1 (all integers big-endian; "str" = u32 byte length followed by that many bytes
// of UTF-8; the Merkle leaf is exactly these bytes, so the encoding is part of the log's on-disk contract):
//
//   offset  size  field
//   0       1     version = 0x01
//   1       8     seq, u64: the entry's 0-based position in the log (= its Merkle leaf index)
//   9       8     time, i64: nanoseconds since the Unix epoch (UTC)
//   17      1     decision: 0x01 allowed, 0x02 denied
//   18      ...   actor, action, dataset, purpose, reason, cost: six str
//           4     u32 number of subject pseudonyms, then that many str
//           32    SHA-256 of the operation's parameters
//           1     0x00: no result hash, 0x01: a 32-byte SHA-256 of the result follows
//
// Decoding is strict: exactly one encoding decodes to a given entry, so that re-encoding a decoded entry
// gives back the same leaf bytes. Anything else (another version, an unknown decision or flag byte, a length
// that runs past the end, invalid UTF-8, a field over its limit, trailing bytes) is an error naming the byte
// offset.
#ifndef VEIL_AUDIT_AUDIT_ENTRY_H_
#define VEIL_AUDIT_AUDIT_ENTRY_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/crypto/sha256.h"

namespace veil::audit {

// Whether the gate let the operation through.
enum class Decision : uint8_t { kAllowed = 1, kDenied = 2 };

// "allowed" / "denied".
const char* DecisionName(Decision d);

// Limits enforced by Encode and Decode, so that a corrupted length can never make a reader allocate
// gigabytes.
inline constexpr size_t kMaxEntryFieldBytes = 4096;       // each text field and each pseudonym
inline constexpr size_t kMaxEntrySubjects = 100000;       // pseudonyms per entry
inline constexpr size_t kMaxEncodedEntryBytes = 1 << 20;  // a whole encoded entry (1 MiB)
inline constexpr uint8_t kAuditEntryVersion = 1;
// Fixed offsets of the fields the log stamps when it appends an entry (see AuditLog::Append).
inline constexpr size_t kEntrySeqOffset = 1;
inline constexpr size_t kEntryTimeOffset = 9;

struct AuditEntry {
  // Assigned by the log on append (AuditLog::Append overwrites both).
  uint64_t seq = 0;
  absl::Time time = absl::UnixEpoch();

  std::string actor;    // who (CLI --actor, REST bearer identity)
  std::string action;   // what, e.g. "query", "ingest", "erase", "grant"
  std::string dataset;  // on which dataset ("" if none)
  std::string purpose;  // the declared purpose ("" if none)
  Decision decision = Decision::kAllowed;
  std::string reason;  // why the gate decided so (always worth filling for a denial)
  std::string cost;    // privacy cost debited, e.g. "rho=0.005" ("" if none)
  // Keyed HMAC pseudonyms of the data subjects concerned, computed by the caller. Opaque to the log.
  std::vector<std::string> subject_pseudonyms;
  crypto::Sha256Digest params_hash{};               // SHA-256 of the canonical parameters of the operation
  std::optional<crypto::Sha256Digest> result_hash;  // SHA-256 of the result, if there is one

  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Returns the canonical encoding of `entry` (format above).
// Errors: InvalidArgument if a text field or pseudonym is not valid UTF-8 or is longer than
// kMaxEntryFieldBytes, if there are more than kMaxEntrySubjects pseudonyms, if the time is outside the range
// of an i64 of nanoseconds (years 1678 to 2262), or if the encoding would exceed kMaxEncodedEntryBytes.
absl::StatusOr<std::vector<uint8_t>> EncodeAuditEntry(const AuditEntry& entry);

// Decodes the canonical encoding. Never crashes or over-allocates on any input.
// Errors: DataLoss("audit entry: ... at byte N") if the bytes end early (truncation);
// InvalidArgument("audit entry: ... at byte N") for any other malformation (unknown version, decision or
// flag, invalid UTF-8, a field over its limit, trailing bytes).
absl::StatusOr<AuditEntry> DecodeAuditEntry(std::span<const uint8_t> bytes);

// The `veil audit log --json` object of one entry:
//   {"seq": 7, "time": "2026-01-01T00:00:00Z", "actor": "...", "action": "...", "dataset": "...",
//    "purpose": "...", "decision": "allowed"|"denied", "reason": "...", "cost": "...",
//    "subject_pseudonyms": ["..."], "params_hash": "<hex>", "result_hash": "<hex>"|null}
// The time is RFC 3339 in UTC with sub-second digits only when non-zero.
nlohmann::ordered_json AuditEntryToJson(const AuditEntry& entry);

// One line for `veil audit log`, e.g. (on one line)
//   #7 2026-01-01T00:00:00Z "alice" "query" dataset="adult" purpose="research" ALLOWED "role analyst"
//   cost="rho=0.005" subjects=3 params=1f2e3d4c5b6a7988 result=-
// Text fields are quoted and escaped (quotes, backslashes, control characters as \n, \t, \xNN) so that a
// field can never break the line or forge another entry's line. Hashes are abbreviated to 16 hex digits;
// cost= appears only when non-empty.
std::string AuditEntryToText(const AuditEntry& entry);

// RFC 3339 UTC rendering used by the functions above.
std::string FormatAuditTime(absl::Time t);

}  // namespace veil::audit

#endif  // VEIL_AUDIT_AUDIT_ENTRY_H_
