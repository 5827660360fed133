// The Merkle hash tree of Certificate Transparency (RFC 6962 section 2.1, restated in RFC 9162 section 2.1),
// over SHA-256: tree heads, inclusion proofs and consistency proofs, and their verification.
//
//   leaf hash  = SHA-256(0x00 || entry)
//   node hash  = SHA-256(0x01 || left || right)
//   empty tree = SHA-256("")
//
// The audit log (audit_log.h) appends one leaf per entry; an outside witness that kept an old signed tree
// head can check with a consistency proof that the log only grew, and anyone can check with an inclusion
// proof that an entry is in the tree a head commits to.
#ifndef VEIL_AUDIT_MERKLE_H_
#define VEIL_AUDIT_MERKLE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/crypto/sha256.h"

namespace veil::audit {

using Hash = crypto::Sha256Digest;

Hash LeafHash(std::span<const uint8_t> entry);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyTreeHash();

// An append-only Merkle tree over leaf hashes, keeping every complete subtree's hash so that the root of any
// earlier size, and any proof, costs O(log n) hashes.
//
// Memory: about 64 bytes per leaf. Not thread-safe (it reuses one hasher); guard it externally.
class MerkleTree {
 public:
  MerkleTree() = default;

  // Appends a leaf given its leaf hash (LeafHash(entry)).
  void AppendLeafHash(const Hash& leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

  // The tree head (MTH) of the first `tree_size` leaves. Errors: OutOfRange if tree_size > size().
  absl::StatusOr<Hash> RootAt(uint64_t tree_size) const;
  Hash Root() const { return *RootAt(size()); }

  // The leaf hash of leaf `index`. Errors: OutOfRange unless index < size().
  absl::StatusOr<Hash> LeafHashAt(uint64_t index) const;

  // The audit path for leaf `index` in the tree of the first `tree_size` leaves (RFC 6962 PATH).
  // Errors: OutOfRange unless index < tree_size <= size().
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t tree_size) const;

  // The proof that the tree of size `old_size` is a prefix of the tree of size `new_size` (RFC 6962 PROOF).
  // Errors: OutOfRange unless old_size <= new_size <= size().
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

 private:
  // MTH of leaves [begin, end), 0 <= begin < end <= size().
  Hash SubtreeHash(uint64_t begin, uint64_t end) const;
  void Path(uint64_t index, uint64_t begin, uint64_t end, std::vector<Hash>& out) const;
  void SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole, std::vector<Hash>& out) const;

  // levels_[k][i] is the hash of the complete subtree over leaves [i * 2^k, (i + 1) * 2^k).
  std::vector<std::vector<Hash>> levels_;
};

// Recomputes the root from an inclusion proof (RFC 9162 section 2.1.3.2).
// Errors: DataLoss if the proof does not fit the index and size (too long, too short); InvalidArgument if
// index >= tree_size.
absl::StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t tree_size, const Hash& leaf_hash,
                                            std::span<const Hash> proof);

// OK if `proof` shows that leaf_hash is leaf `index` of the tree of size `tree_size` with head `root`;
// DataLoss (naming what did not match) otherwise.
absl::Status VerifyInclusion(uint64_t index, uint64_t tree_size, const Hash& leaf_hash,
                             std::span<const Hash> proof, const Hash& root);

// OK if `proof` shows that the tree (old_size, old_root) is a prefix of (new_size, new_root)
// (RFC 9162 section 2.1.4.2); DataLoss otherwise, InvalidArgument if old_size > new_size.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, std::span<const Hash> proof);

}  // namespace veil::audit

#endif  // VEIL_AUDIT_MERKLE_H_
