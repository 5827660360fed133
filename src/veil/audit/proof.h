// Serialisable Merkle proofs of the audit log (RFC 6962 section 2.1.1 and 2.1.2; verification as in
// RFC 9162 sections 2.1.3.2 and 2.1.4.2), so that `veil audit proof` can print one and anyone can check it
// later against a checkpoint they trust.
//
// Text format of an inclusion proof (every line ends in '\n'; hashes are 64 lower-case hex digits):
//
//   veil audit inclusion proof v1
//   log <log id, 32 hex digits>
//   index <seq of the entry>
//   size <tree size>
//   leaf <RFC 6962 leaf hash of the entry's canonical encoding>
//   root <tree head of `size` that the path leads to>
//   path <number of hashes>
//   <hash>                 (one line per path element, leaf to root)
//
// and of a consistency proof:
//
//   veil audit consistency proof v1
//   log <log id>
//   old <old size>
//   new <new size>
//   old-root <hash>
//   new-root <hash>
//   path <number of hashes>
//   <hash>...
//
// A proof says only "this path connects these hashes". It proves something once its root(s) are matched
// against a signed checkpoint the verifier trusts: use the Verify*Against functions for that.
//
// Parsing is strict and names the line and byte offset of the first problem (InvalidArgument).
// Thread safety: pure functions.
#ifndef VEIL_AUDIT_PROOF_H_
#define VEIL_AUDIT_PROOF_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/audit/checkpoint.h"
#include "veil/audit/merkle.h"

namespace veil::audit {

// At most this many hashes in a path (a tree of 2^64 leaves needs at most 2 * 64).
inline constexpr size_t kMaxProofHashes = 128;

struct LogInclusionProof {
  std::string log_id;
  uint64_t index = 0;
  uint64_t tree_size = 0;
  Hash leaf_hash{};
  Hash root{};
  std::vector<Hash> path;

  friend bool operator==(const LogInclusionProof&, const LogInclusionProof&) = default;
};

struct LogConsistencyProof {
  std::string log_id;
  uint64_t old_size = 0;
  uint64_t new_size = 0;
  Hash old_root{};
  Hash new_root{};
  std::vector<Hash> path;

  friend bool operator==(const LogConsistencyProof&, const LogConsistencyProof&) = default;
};

std::string FormatInclusionProof(const LogInclusionProof& proof);
std::string FormatConsistencyProof(const LogConsistencyProof& proof);
// Errors: InvalidArgument("proof: line L (byte B): ...").
absl::StatusOr<LogInclusionProof> ParseInclusionProof(std::string_view text);
absl::StatusOr<LogConsistencyProof> ParseConsistencyProof(std::string_view text);

// OK if the path leads from leaf_hash at index to root. DataLoss (or InvalidArgument for an index outside the
// tree) otherwise.
absl::Status VerifyInclusionProof(const LogInclusionProof& proof);
// As above, and the proof's log id, tree size and root equal those of `trusted` (a checkpoint whose signature
// the caller has verified). To check a given entry, also compare proof.leaf_hash with LeafHash(its encoding).
absl::Status VerifyInclusionProofAgainst(const LogInclusionProof& proof, const Checkpoint& trusted);

// OK if the path shows that (old_size, old_root) is a prefix of (new_size, new_root). DataLoss otherwise.
absl::Status VerifyConsistencyProof(const LogConsistencyProof& proof);
// As above, and the proof's ends equal the two trusted checkpoints (same log, sizes and roots).
absl::Status VerifyConsistencyProofAgainst(const LogConsistencyProof& proof, const Checkpoint& trusted_old,
                                           const Checkpoint& trusted_new);

}  // namespace veil::audit

#endif  // VEIL_AUDIT_PROOF_H_
