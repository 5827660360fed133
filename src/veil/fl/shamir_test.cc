#include "veil/fl/shamir.h"

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;
using internal::FieldInv;
using internal::FieldMul;

std::vector<uint8_t> Secret(size_t n, uint8_t start) {
  std::vector<uint8_t> s(n);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<uint8_t>(start + 37 * i);
  return s;
}

std::vector<uint32_t> Xs(uint32_t n) {
  std::vector<uint32_t> xs(n);
  std::iota(xs.begin(), xs.end(), 1u);
  return xs;
}

uint64_t Limb(const ShamirShare& s, size_t k) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | s.y.data()[8 * k + i];
  return v;
}

std::vector<ShamirShare> Pick(const std::vector<ShamirShare>& all, const std::vector<size_t>& idx) {
  std::vector<ShamirShare> out;
  for (size_t i : idx) out.push_back({all[i].x, all[i].y.Clone()});
  return out;
}

TEST(FieldTest, Arithmetic) {
  EXPECT_EQ(FieldMul(kShamirPrime - 1, kShamirPrime - 1), 1u);  // (-1)^2
  EXPECT_EQ(FieldMul(uint64_t{1} << 60, 2), 0u + 1);            // 2^61 = 1 mod p
  for (uint64_t a : {uint64_t{1}, uint64_t{2}, uint64_t{12345678901}, kShamirPrime - 2}) {
    EXPECT_EQ(FieldMul(a, FieldInv(a)), 1u) << a;
  }
  EXPECT_EQ(internal::FieldSub(3, 5), kShamirPrime - 2);
}

TEST(ShamirTest, AnyThresholdSubsetReconstructs) {
  DeterministicRandom rng(1);
  for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{32}, size_t{33}}) {
    const std::vector<uint8_t> secret = Secret(len, static_cast<uint8_t>(len));
    auto shares = ShamirSplit(secret, 3, Xs(6), rng);
    ASSERT_TRUE(shares.ok()) << shares.status();
    ASSERT_EQ(shares->size(), 6u);
    EXPECT_EQ((*shares)[0].y.size(), ShamirShareBytes(len));
    for (const std::vector<size_t>& idx : std::vector<std::vector<size_t>>{
             {0, 1, 2}, {5, 3, 1}, {2, 4, 5}, {0, 1, 2, 3, 4, 5}, {4, 0, 3, 1}}) {
      auto got = ShamirReconstruct(Pick(*shares, idx), 3, len);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(std::vector<uint8_t>(got->span().begin(), got->span().end()), secret);
    }
  }
}

TEST(ShamirTest, LargeCohortNonConsecutiveXs) {
  DeterministicRandom rng(2);
  const std::vector<uint8_t> secret = Secret(32, 200);
  std::vector<uint32_t> xs;
  for (uint32_t i = 0; i < 300; ++i) xs.push_back(1000 + 7 * i);
  auto shares = ShamirSplit(secret, 151, xs, rng);
  ASSERT_TRUE(shares.ok());
  std::vector<size_t> idx;
  for (size_t i = 299; i >= 100; --i) idx.push_back(i);  // 200 shares, 49 of them checked
  auto got = ShamirReconstruct(Pick(*shares, idx), 151, 32);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::vector<uint8_t>(got->span().begin(), got->span().end()), secret);
}

TEST(ShamirTest, ThresholdOneIsReplication) {
  DeterministicRandom rng(3);
  const std::vector<uint8_t> secret = Secret(32, 9);
  auto shares = ShamirSplit(secret, 1, Xs(3), rng);
  ASSERT_TRUE(shares.ok());
  for (size_t k = 0; k < ShamirLimbs(32); ++k) {
    EXPECT_EQ(Limb((*shares)[0], k), Limb((*shares)[2], k));
  }
}

// Fewer than t shares are consistent with EVERY secret: for any candidate secret s', the polynomial through
// (0, s') and the t - 1 shares has degree < t, i.e. it is a valid sharing of s' that produced exactly those
// shares. We check it constructively for several candidates: adding (0, s') to the t - 1 shares and
// reconstructing gives s' back, and the t - 1 shares pass the consistency check against it.
TEST(ShamirTest, FewerThanThresholdSharesAreConsistentWithAnySecret) {
  DeterministicRandom rng(4);
  const uint32_t t = 4;
  auto shares = ShamirSplit(Secret(32, 1), t, Xs(8), rng);
  ASSERT_TRUE(shares.ok());
  const std::vector<size_t> idx = {6, 2, 4};  // t - 1 shares
  for (uint8_t candidate : {0, 1, 77, 255}) {
    const std::vector<uint8_t> other = Secret(32, candidate);
    const size_t limbs = ShamirLimbs(32);
    std::vector<uint64_t> xs = {0};
    for (size_t i : idx) xs.push_back((*shares)[i].x);
    for (size_t k = 0; k < limbs; ++k) {
      uint64_t s0 = 0;
      for (size_t i = std::min<size_t>(32, 7 * k + 7); i-- > 7 * k;) s0 = (s0 << 8) | other[i];
      std::vector<uint64_t> ys = {s0};
      for (size_t i : idx) ys.push_back(Limb((*shares)[i], k));
      // The degree-(t-1) polynomial through these t points passes through each given share, and its value
      // at a fresh point extends the sharing of the candidate secret.
      for (size_t j = 1; j < xs.size(); ++j) {
        EXPECT_EQ(internal::Interpolate(xs, ys, xs[j]), ys[j]);
      }
      EXPECT_EQ(internal::Interpolate(xs, ys, 0), s0);
    }
    // Build a full t-share set for the candidate from the t - 1 real shares plus one synthesized share.
    ShamirShare extra{100, base::SecretBytes(limbs * 8)};
    for (size_t k = 0; k < limbs; ++k) {
      uint64_t s0 = 0;
      for (size_t i = std::min<size_t>(32, 7 * k + 7); i-- > 7 * k;) s0 = (s0 << 8) | other[i];
      std::vector<uint64_t> ys = {s0};
      for (size_t i : idx) ys.push_back(Limb((*shares)[i], k));
      const uint64_t v = internal::Interpolate(xs, ys, 100);
      for (int b = 0; b < 8; ++b) extra.y.data()[8 * k + b] = static_cast<uint8_t>(v >> (8 * b));
    }
    std::vector<ShamirShare> set = Pick(*shares, idx);
    set.push_back(std::move(extra));
    auto got = ShamirReconstruct(set, t, 32);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(std::vector<uint8_t>(got->span().begin(), got->span().end()), other);
  }
}

TEST(ShamirTest, FewerThanThresholdIsRefused) {
  DeterministicRandom rng(5);
  auto shares = ShamirSplit(Secret(32, 1), 3, Xs(5), rng);
  ASSERT_TRUE(shares.ok());
  auto got = ShamirReconstruct(Pick(*shares, {0, 1}), 3, 32);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ShamirTest, DuplicateAndInconsistentSharesDetected) {
  DeterministicRandom rng(6);
  auto shares = ShamirSplit(Secret(32, 1), 3, Xs(5), rng);
  ASSERT_TRUE(shares.ok());
  {
    auto set = Pick(*shares, {0, 1, 1, 2});
    auto got = ShamirReconstruct(set, 3, 32);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find("duplicate"), std::string::npos);
  }
  {
    auto set = Pick(*shares, {0, 1, 2, 3});
    set[3].y.data()[9] ^= 1;  // limb 1 of the checked share
    auto got = ShamirReconstruct(set, 3, 32);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(got.status().message().find("inconsistent share at x = 4"), std::string::npos);
  }
  {
    auto set = Pick(*shares, {0, 1, 2, 3});
    set[0].y.data()[0] ^= 1;  // one of the interpolation shares: the extra share no longer fits
    EXPECT_EQ(ShamirReconstruct(set, 3, 32).status().code(), absl::StatusCode::kDataLoss);
  }
  {
    auto set = Pick(*shares, {0, 1, 2});
    for (int b = 0; b < 8; ++b) set[1].y.data()[b] = 0xff;  // not a field element
    EXPECT_EQ(ShamirReconstruct(set, 3, 32).status().code(), absl::StatusCode::kDataLoss);
  }
  {
    auto set = Pick(*shares, {0, 1, 2});
    set[2].x = 0;
    EXPECT_EQ(ShamirReconstruct(set, 3, 32).status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    auto set = Pick(*shares, {0, 1, 2});
    EXPECT_EQ(ShamirReconstruct(set, 3, 14).status().code(), absl::StatusCode::kInvalidArgument);  // 2 limbs
  }
}

TEST(ShamirTest, ExactlyThresholdWithWrongShareFailsRangeCheckOrDiffers) {
  // With exactly t shares nothing is redundant; a corrupted share gives a different (usually out-of-range)
  // result, never silently the right secret.
  DeterministicRandom rng(7);
  const std::vector<uint8_t> secret = Secret(32, 3);
  auto shares = ShamirSplit(secret, 3, Xs(5), rng);
  ASSERT_TRUE(shares.ok());
  auto set = Pick(*shares, {0, 2, 4});
  set[1].y.data()[3] ^= 0x40;
  auto got = ShamirReconstruct(set, 3, 32);
  if (got.ok()) {
    EXPECT_NE(std::vector<uint8_t>(got->span().begin(), got->span().end()), secret);
  } else {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(ShamirTest, SplitRejectsBadArguments) {
  DeterministicRandom rng(8);
  const std::vector<uint8_t> secret = Secret(32, 1);
  EXPECT_EQ(ShamirSplit({}, 1, Xs(2), rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShamirSplit(secret, 0, Xs(2), rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ShamirSplit(secret, 3, Xs(2), rng).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint32_t> zero = {0, 1, 2};
  EXPECT_EQ(ShamirSplit(secret, 2, zero, rng).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<uint32_t> dup = {1, 2, 2};
  EXPECT_EQ(ShamirSplit(secret, 2, dup, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShamirTest, DeterministicUnderTestDrbg) {
  DeterministicRandom a(9), b(9);
  auto sa = ShamirSplit(Secret(32, 1), 3, Xs(4), a);
  auto sb = ShamirSplit(Secret(32, 1), 3, Xs(4), b);
  ASSERT_TRUE(sa.ok() && sb.ok());
  for (size_t i = 0; i < 4; ++i) EXPECT_TRUE((*sa)[i].y == (*sb)[i].y);
}

}  // namespace
}  // namespace veil::fl
