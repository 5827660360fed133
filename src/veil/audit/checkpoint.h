// Signed checkpoints (signed tree heads) of the audit log, as text notes an outside witness can keep.
//
// The format is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) carried in a C2SP signed note
// (https://c2sp.org/signed-note) with an Ed25519 signature (RFC 8032), so that generic note tooling can read
// it:
//
//   veil.audit/0123456789abcdef0123456789abcdef      origin: "veil.audit/" + the log id (32 hex digits)
//   1234                                             tree size, decimal
//   Q0vBy2mmhI/7UEV0o1VPI1VMt4ESpLlO9JGOWfGgpQo=     RFC 6962 tree head of that size, base64
//   time 2026-01-01T00:00:00Z                        when it was signed (extension line, UTC, seconds)
//                                                    blank line ending the signed body
//   — veil.audit/0123... AbCd...                     signature line(s)
//
// A signature line is U+2014 EM DASH, a space, the key name (Veil uses the origin), a space and base64 of
// key ID (4 bytes) || Ed25519 signature (64 bytes) over the body: every byte up to and including the newline
// of the last body line. The key ID is the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key), as
// signed-note defines for Ed25519. Other signature lines (e.g. a witness's cosignature) are accepted and
// ignored by verification.
//
// Parsing is strict (exactly the four body lines above, canonical decimal and base64, no stray bytes or
// carriage returns, at most kMaxCheckpointBytes) and names the line and byte offset of the first problem.
//
// Thread safety: pure functions; safe from any thread.
#ifndef VEIL_AUDIT_CHECKPOINT_H_
#define VEIL_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "veil/audit/merkle.h"
#include "veil/crypto/ed25519.h"

namespace veil::audit {

inline constexpr size_t kMaxCheckpointBytes = 16 * 1024;
inline constexpr size_t kLogIdHexSize = 32;

// The signed content of a checkpoint.
struct Checkpoint {
  std::string log_id;  // 32 lower-case hex digits, fixed when the log is created
  uint64_t size = 0;   // number of entries covered
  Hash root{};         // RFC 6962 tree head of the first `size` entries
  absl::Time time;     // signing time, whole seconds UTC

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// One signature line of a note.
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::vector<uint8_t> signature;  // the bytes after the key ID
};

// A parsed checkpoint note. `body` is the signed text.
struct SignedCheckpoint {
  Checkpoint checkpoint;
  std::string body;
  std::vector<NoteSignature> signatures;
};

// "veil.audit/" + log_id: the checkpoint origin and the signing key's name.
std::string CheckpointOrigin(std::string_view log_id);

// The signed-note key ID of `public_key` under the key name `name`.
uint32_t NoteKeyId(std::string_view name, const crypto::Ed25519PublicKey& public_key);

// The body text of `checkpoint` (the bytes that are signed). The time is truncated to whole seconds.
// Errors: InvalidArgument if log_id is not 32 lower-case hex digits.
absl::StatusOr<std::string> FormatCheckpointBody(const Checkpoint& checkpoint);

// The complete signed note: body, blank line, one signature line by `key`.
// Errors: InvalidArgument as FormatCheckpointBody; Internal if signing fails.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const crypto::Ed25519PrivateKey& key);

// Parses a note's syntax; does NOT check any signature (see VerifyCheckpoint).
// Errors: InvalidArgument("checkpoint: line L (byte B): ...") for any deviation from the format.
absl::StatusOr<SignedCheckpoint> ParseCheckpoint(std::string_view text);

// Checks that `note` carries a valid signature by `public_key` under the name CheckpointOrigin(log id).
// Errors: DataLoss if there is no such signature line or the signature does not verify.
absl::Status VerifyCheckpoint(const SignedCheckpoint& note, const crypto::Ed25519PublicKey& public_key);

// ParseCheckpoint followed by VerifyCheckpoint.
absl::StatusOr<SignedCheckpoint> ParseAndVerifyCheckpoint(std::string_view text,
                                                          const crypto::Ed25519PublicKey& public_key);

}  // namespace veil::audit

#endif  // VEIL_AUDIT_CHECKPOINT_H_
