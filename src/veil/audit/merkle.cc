#include "veil/audit/merkle.h"

#include <bit>
#include <string>

#include "absl/strings/str_cat.h"
#include "veil/crypto/constant_time.h"

namespace veil::audit {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// The largest power of two strictly less than n (n >= 2): the split point k of RFC 6962.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

bool Equal(const Hash& a, const Hash& b) { return crypto::ConstantTimeEquals(a, b); }

}  // namespace

Hash LeafHash(std::span<const uint8_t> entry) { return crypto::Sha256Concat({{&kLeafPrefix, 1}, entry}); }

Hash NodeHash(const Hash& left, const Hash& right) {
  return crypto::Sha256Concat({{&kNodePrefix, 1}, left, right});
}

Hash EmptyTreeHash() { return crypto::Sha256(std::string_view()); }

void MerkleTree::AppendLeafHash(const Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  // Complete every subtree that this leaf closes: while the level has an even count, its last two nodes form
  // a new complete node one level up.
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    if (k + 1 == levels_.size()) levels_.emplace_back();
    const std::vector<Hash>& level = levels_[k];
    levels_[k + 1].push_back(NodeHash(level[level.size() - 2], level[level.size() - 1]));
  }
}

absl::StatusOr<Hash> MerkleTree::LeafHashAt(uint64_t index) const {
  if (index >= size()) {
    return absl::OutOfRangeError(absl::StrCat("no leaf ", index, " in a tree of ", size(), " leaves"));
  }
  return levels_[0][index];
}

Hash MerkleTree::SubtreeHash(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    // A complete, aligned subtree: stored.
    return levels_[std::countr_zero(n)][begin / n];
  }
  const uint64_t k = SplitPoint(n);
  return NodeHash(SubtreeHash(begin, begin + k), SubtreeHash(begin + k, end));
}

absl::StatusOr<Hash> MerkleTree::RootAt(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " exceeds the log's ", size(), " entries"));
  }
  if (tree_size == 0) return EmptyTreeHash();
  return SubtreeHash(0, tree_size);
}

void MerkleTree::Path(uint64_t index, uint64_t begin, uint64_t end, std::vector<Hash>& out) const {
  const uint64_t n = end - begin;
  if (n == 1) return;
  const uint64_t k = SplitPoint(n);
  if (index < begin + k) {
    Path(index, begin, begin + k, out);
    out.push_back(SubtreeHash(begin + k, end));
  } else {
    Path(index, begin + k, end, out);
    out.push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<Hash>> MerkleTree::InclusionProof(uint64_t index, uint64_t tree_size) const {
  if (tree_size > size() || index >= tree_size) {
    return absl::OutOfRangeError(absl::StrCat("no entry ", index, " in a tree of size ", tree_size,
                                              " (log has ", size(), " entries)"));
  }
  std::vector<Hash> proof;
  Path(index, 0, tree_size, proof);
  return proof;
}

void MerkleTree::SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                          std::vector<Hash>& out) const {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(SubtreeHash(begin, end));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(m, begin, begin + k, whole, out);
    out.push_back(SubtreeHash(begin + k, end));
  } else {
    SubProof(m - k, begin + k, end, false, out);
    out.push_back(SubtreeHash(begin, begin + k));
  }
}

absl::StatusOr<std::vector<Hash>> MerkleTree::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  if (old_size > new_size || new_size > size()) {
    return absl::OutOfRangeError(absl::StrCat("no consistency proof from size ", old_size, " to ", new_size,
                                              " (log has ", size(), " entries)"));
  }
  std::vector<Hash> proof;
  if (old_size != 0 && old_size != new_size) SubProof(old_size, 0, new_size, true, proof);
  return proof;
}

absl::StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t tree_size, const Hash& leaf_hash,
                                            std::span<const Hash> proof) {
  if (index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", index, " is not in a tree of size ", tree_size));
  }
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::DataLossError("inclusion proof is longer than the tree is deep");
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      // Skip the levels where this node is a left child with no right sibling (the tree's ragged right edge).
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("inclusion proof is shorter than the tree is deep");
  return r;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t tree_size, const Hash& leaf_hash,
                             std::span<const Hash> proof, const Hash& root) {
  absl::StatusOr<Hash> computed = RootFromInclusionProof(index, tree_size, leaf_hash, proof);
  if (!computed.ok()) return computed.status();
  if (!Equal(*computed, root)) {
    return absl::DataLossError(absl::StrCat("inclusion proof for entry ", index,
                                            " does not lead to the tree head of size ", tree_size));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, std::span<const Hash> proof) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat("old size ", old_size, " exceeds new size ", new_size));
  }
  if (old_size == new_size) {
    if (!proof.empty()) return absl::DataLossError("a proof between equal sizes must be empty");
    if (!Equal(old_root, new_root)) return absl::DataLossError("tree heads of equal size differ");
    return absl::OkStatus();
  }
  if (old_size == 0) {
    // Every tree extends the empty tree.
    if (!proof.empty()) return absl::DataLossError("a proof from the empty tree must be empty");
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::DataLossError("consistency proof is empty");

  // When the old tree is a complete subtree, its root is the first node of the path and the proof omits it.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return absl::DataLossError("consistency proof is longer than the tree is deep");
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("consistency proof is shorter than the tree is deep");
  if (!Equal(fr, old_root)) {
    return absl::DataLossError(
        absl::StrCat("consistency proof does not reproduce the tree head of size ", old_size));
  }
  if (!Equal(sr, new_root)) {
    return absl::DataLossError(
        absl::StrCat("consistency proof does not reproduce the tree head of size ", new_size));
  }
  return absl::OkStatus();
}

}  // namespace veil::audit
