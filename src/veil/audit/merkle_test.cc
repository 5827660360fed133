#include "veil/audit/merkle.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace veil::audit {
namespace {

Hash H(const std::string& hex) {
  std::string bytes = absl::HexStringToBytes(hex);
  Hash h{};
  EXPECT_EQ(bytes.size(), h.size()) << hex;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

std::vector<uint8_t> Bytes(const std::string& hex) {
  std::string b = absl::HexStringToBytes(hex);
  return std::vector<uint8_t>(b.begin(), b.end());
}

// Certificate Transparency's reference vectors (as used by transparency-dev/merkle's proof tests and the
// original CT C++ merkle_tree_test): eight leaves and the tree head of each prefix.
const std::vector<std::string> kLeaves = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
const std::vector<std::string> kRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct ProofVector {
  uint64_t a;  // leaf index (inclusion) or old size (consistency)
  uint64_t size;
  std::vector<std::string> proof;
};

const std::vector<ProofVector> kInclusion = {
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

const std::vector<ProofVector> kConsistency = {
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<Hash> Hashes(const std::vector<std::string>& hex) {
  std::vector<Hash> out;
  for (const std::string& h : hex) out.push_back(H(h));
  return out;
}

MerkleTree ReferenceTree() {
  MerkleTree tree;
  for (const std::string& leaf : kLeaves) tree.AppendLeafHash(LeafHash(Bytes(leaf)));
  return tree;
}

// The definition of MTH, recursively and without any stored nodes, to check the incremental tree against.
Hash NaiveRoot(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return NodeHash(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

TEST(MerkleTest, EmptyTreeIsHashOfEmptyString) {
  EXPECT_EQ(EmptyTreeHash(), H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_EQ(MerkleTree().Root(), EmptyTreeHash());
}

TEST(MerkleTest, KnownAnswerRoots) {
  MerkleTree tree = ReferenceTree();
  for (size_t n = 1; n <= kRoots.size(); ++n) {
    EXPECT_EQ(*tree.RootAt(n), H(kRoots[n - 1])) << "tree size " << n;
  }
  EXPECT_EQ(tree.RootAt(9).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(MerkleTest, KnownAnswerInclusionProofs) {
  MerkleTree tree = ReferenceTree();
  for (const ProofVector& v : kInclusion) {
    EXPECT_EQ(*tree.InclusionProof(v.a, v.size), Hashes(v.proof)) << v.a << "@" << v.size;
    EXPECT_TRUE(
        VerifyInclusion(v.a, v.size, LeafHash(Bytes(kLeaves[v.a])), Hashes(v.proof), H(kRoots[v.size - 1]))
            .ok());
  }
}

TEST(MerkleTest, KnownAnswerConsistencyProofs) {
  MerkleTree tree = ReferenceTree();
  for (const ProofVector& v : kConsistency) {
    EXPECT_EQ(*tree.ConsistencyProof(v.a, v.size), Hashes(v.proof)) << v.a << "->" << v.size;
    EXPECT_TRUE(
        VerifyConsistency(v.a, v.size, H(kRoots[v.a - 1]), H(kRoots[v.size - 1]), Hashes(v.proof)).ok());
  }
}

// Every way of breaking a valid inclusion proof must be rejected.
TEST(MerkleTest, BrokenInclusionProofsAreRejected) {
  MerkleTree tree = ReferenceTree();
  for (const ProofVector& v : kInclusion) {
    const Hash leaf = LeafHash(Bytes(kLeaves[v.a]));
    const Hash root = H(kRoots[v.size - 1]);
    const std::vector<Hash> proof = Hashes(v.proof);
    SCOPED_TRACE(::testing::Message() << "entry " << v.a << " of " << v.size);
    EXPECT_FALSE(VerifyInclusion(v.a + 1, v.size, leaf, proof, root).ok()) << "index + 1";
    if (v.a > 0) {
      EXPECT_FALSE(VerifyInclusion(v.a - 1, v.size, leaf, proof, root).ok()) << "index - 1";
    }
    EXPECT_FALSE(VerifyInclusion(v.a ^ 2, v.size, leaf, proof, root).ok()) << "index ^ 2";
    EXPECT_FALSE(VerifyInclusion(v.a, v.size * 2, leaf, proof, root).ok()) << "size * 2";
    EXPECT_FALSE(VerifyInclusion(v.a, v.size / 2, leaf, proof, root).ok()) << "size / 2";
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, LeafHash(Bytes("ff")), proof, root).ok()) << "wrong leaf";
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, proof, EmptyTreeHash()).ok()) << "wrong root";
    for (size_t i = 0; i < proof.size(); ++i) {
      for (int bit : {0, 3, 255}) {
        std::vector<Hash> bad = proof;
        bad[i][bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
        EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, bad, root).ok())
            << "flipped bit " << bit << " of " << i;
      }
    }
    std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, truncated, root).ok()) << "truncated";
    std::vector<Hash> extended = proof;
    extended.push_back(root);
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, extended, root).ok()) << "trailing root";
    std::vector<Hash> prefixed = proof;
    prefixed.insert(prefixed.begin(), root);
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, prefixed, root).ok()) << "preceding root";
  }
  EXPECT_EQ(VerifyInclusion(8, 8, Hash{}, {}, Hash{}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(MerkleTest, BrokenConsistencyProofsAreRejected) {
  for (const ProofVector& v : kConsistency) {
    const Hash r1 = H(kRoots[v.a - 1]);
    const Hash r2 = H(kRoots[v.size - 1]);
    const std::vector<Hash> proof = Hashes(v.proof);
    SCOPED_TRACE(::testing::Message() << v.a << " -> " << v.size);
    EXPECT_FALSE(VerifyConsistency(v.a - 1, v.size, r1, r2, proof).ok()) << "size1 - 1";
    EXPECT_FALSE(VerifyConsistency(v.a + 1, v.size, r1, r2, proof).ok()) << "size1 + 1";
    EXPECT_FALSE(VerifyConsistency(v.a, v.size * 2, r1, r2, proof).ok()) << "size2 * 2";
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r2, r1, proof).ok()) << "swapped roots";
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, {}).ok()) << "empty proof";
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> bad = proof;
      bad[i][0] ^= 16;
      EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, bad).ok()) << "flipped bit in " << i;
    }
    std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, truncated).ok()) << "truncated";
    std::vector<Hash> extended = proof;
    extended.push_back(r2);
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, extended).ok()) << "trailing root";
  }
  const Hash r = EmptyTreeHash();
  EXPECT_TRUE(VerifyConsistency(0, 5, r, H(kRoots[4]), {}).ok()) << "anything extends the empty tree";
  EXPECT_TRUE(VerifyConsistency(3, 3, H(kRoots[2]), H(kRoots[2]), {}).ok());
  EXPECT_FALSE(VerifyConsistency(3, 3, H(kRoots[2]), H(kRoots[3]), {}).ok());
  EXPECT_EQ(VerifyConsistency(4, 3, r, r, {}).code(), absl::StatusCode::kInvalidArgument);
}

// Every proof the tree produces, for every size up to 70 (several ragged right edges), verifies and agrees
// with the definition of MTH.
TEST(MerkleTest, AllProofsOfSmallTreesVerify) {
  MerkleTree tree;
  std::vector<Hash> leaves;
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(LeafHash(std::vector<uint8_t>{static_cast<uint8_t>(i), 7}));
    tree.AppendLeafHash(leaves.back());
  }
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Hash root = NaiveRoot(leaves, 0, n);
    ASSERT_EQ(*tree.RootAt(n), root) << n;
    for (uint64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], *tree.InclusionProof(i, n), root).ok()) << i << "@" << n;
    }
    for (uint64_t m = 0; m <= n; ++m) {
      const Hash old_root = m == 0 ? EmptyTreeHash() : NaiveRoot(leaves, 0, m);
      ASSERT_TRUE(VerifyConsistency(m, n, old_root, root, *tree.ConsistencyProof(m, n)).ok())
          << m << "->" << n;
    }
  }
}

}  // namespace
}  // namespace veil::audit
