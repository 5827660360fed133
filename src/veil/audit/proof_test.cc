#include "veil/audit/proof.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::audit {
namespace {

using ::testing::HasSubstr;

struct Fixture {
  MerkleTree tree;
  Fixture() {
    for (int i = 0; i < 21; ++i)
      tree.AppendLeafHash(
          LeafHash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&i), sizeof(i))));
  }
  LogInclusionProof Inclusion(uint64_t index, uint64_t size) const {
    LogInclusionProof p;
    p.log_id = "0123456789abcdef0123456789abcdef";
    p.index = index;
    p.tree_size = size;
    p.leaf_hash = *tree.LeafHashAt(index);
    p.root = *tree.RootAt(size);
    p.path = *tree.InclusionProof(index, size);
    return p;
  }
  LogConsistencyProof Consistency(uint64_t a, uint64_t b) const {
    LogConsistencyProof p;
    p.log_id = "0123456789abcdef0123456789abcdef";
    p.old_size = a;
    p.new_size = b;
    p.old_root = *tree.RootAt(a);
    p.new_root = *tree.RootAt(b);
    p.path = *tree.ConsistencyProof(a, b);
    return p;
  }
};

TEST(ProofTest, InclusionRoundTripAndBrokenProofs) {
  Fixture f;
  for (uint64_t size = 1; size <= 21; ++size) {
    for (uint64_t i = 0; i < size; ++i) {
      const LogInclusionProof p = f.Inclusion(i, size);
      absl::StatusOr<LogInclusionProof> back = ParseInclusionProof(FormatInclusionProof(p));
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, p);
      EXPECT_TRUE(VerifyInclusionProof(p).ok());
      // Systematically broken: index off by one, wrong size, truncated path, flipped bit.
      LogInclusionProof bad = p;
      bad.index = (i + 1) % size;
      if (bad.index != i) {
        EXPECT_FALSE(VerifyInclusionProof(bad).ok()) << i << "/" << size;
      }
      // (A wrong tree size alone can lead to the same root when the path has the same shape; it is caught by
      // comparing with the checkpoint, see AgainstCheckpoint.)
      if (!p.path.empty()) {
        bad = p;
        bad.path.pop_back();
        EXPECT_FALSE(VerifyInclusionProof(bad).ok());
        bad = p;
        bad.path[0][3] ^= 0x10;
        EXPECT_FALSE(VerifyInclusionProof(bad).ok());
      }
      bad = p;
      bad.leaf_hash[0] ^= 1;
      EXPECT_FALSE(VerifyInclusionProof(bad).ok());
    }
  }
}

TEST(ProofTest, AgainstCheckpoint) {
  Fixture f;
  const LogInclusionProof p = f.Inclusion(5, 21);
  Checkpoint cp{p.log_id, 21, *f.tree.RootAt(21), absl::UnixEpoch()};
  EXPECT_TRUE(VerifyInclusionProofAgainst(p, cp).ok());
  Checkpoint other = cp;
  other.size = 20;
  EXPECT_EQ(VerifyInclusionProofAgainst(p, other).code(), absl::StatusCode::kDataLoss);
  other = cp;
  other.root[0] ^= 1;
  EXPECT_EQ(VerifyInclusionProofAgainst(p, other).code(), absl::StatusCode::kDataLoss);

  const LogConsistencyProof c = f.Consistency(7, 21);
  Checkpoint old_cp{c.log_id, 7, *f.tree.RootAt(7), absl::UnixEpoch()};
  EXPECT_TRUE(VerifyConsistencyProofAgainst(c, old_cp, cp).ok());
  old_cp.root[1] ^= 1;
  EXPECT_FALSE(VerifyConsistencyProofAgainst(c, old_cp, cp).ok());
}

TEST(ProofTest, ConsistencyRoundTripAndBrokenProofs) {
  Fixture f;
  for (uint64_t b = 1; b <= 21; ++b) {
    for (uint64_t a = 0; a <= b; ++a) {
      const LogConsistencyProof p = f.Consistency(a, b);
      absl::StatusOr<LogConsistencyProof> back = ParseConsistencyProof(FormatConsistencyProof(p));
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, p);
      EXPECT_TRUE(VerifyConsistencyProof(p).ok());
      if (!p.path.empty()) {
        LogConsistencyProof bad = p;
        bad.path.back()[0] ^= 0x80;
        EXPECT_FALSE(VerifyConsistencyProof(bad).ok()) << a << "->" << b;
        bad = p;
        bad.path.pop_back();
        EXPECT_FALSE(VerifyConsistencyProof(bad).ok());
      }
      if (a > 0 && a < b) {
        LogConsistencyProof bad = p;
        bad.old_size = a + 1 <= b ? a + 1 : a - 1;
        if (bad.old_size != a && bad.old_size < b) {
          EXPECT_FALSE(VerifyConsistencyProof(bad).ok()) << a << "->" << b;
        }
      }
    }
  }
}

TEST(ProofTest, StrictParse) {
  Fixture f;
  const std::string good = FormatInclusionProof(f.Inclusion(3, 10));
  auto err = [](const std::string& t) { return std::string(ParseInclusionProof(t).status().message()); };
  EXPECT_THAT(err(absl::StrReplaceAll(good, {{"index 3", "index 03"}})), HasSubstr("line 3"));
  EXPECT_THAT(err(absl::StrReplaceAll(good, {{"size 10", "sise 10"}})), HasSubstr("line 4"));
  EXPECT_THAT(err(good + "extra\n"), HasSubstr("unexpected text"));
  EXPECT_THAT(err(good.substr(0, good.size() - 1)), HasSubstr("not terminated"));
  EXPECT_THAT(err(absl::StrReplaceAll(good, {{"path 4", "path 5"}})), HasSubstr("missing path hash"));
  EXPECT_THAT(err(absl::StrReplaceAll(good, {{"path 4", "path 999"}})), HasSubstr("longer than"));
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(ParseInclusionProof(good.substr(0, n)).ok()) << n;
  std::string upper = good;
  const size_t leaf = upper.find("leaf ") + 5;
  for (size_t i = leaf; i < leaf + 64; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  if (upper != good) {
    EXPECT_THAT(err(upper), HasSubstr("lower-case"));
  }
}

}  // namespace
}  // namespace veil::audit
