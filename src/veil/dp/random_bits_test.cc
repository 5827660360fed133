#include "veil/dp/random_bits.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/stat_test_util.h"

namespace veil::dp {
namespace {

using crypto::testing::DeterministicRandom;

// A RandomSource whose bytes are given by a function of their position in the stream; counts Fill calls.
class ScriptedRandom final : public base::RandomSource {
 public:
  explicit ScriptedRandom(std::function<uint8_t(uint64_t)> byte) : byte_(std::move(byte)) {}
  absl::Status Fill(std::span<uint8_t> out) override {
    ++fills;
    last_size = out.size();
    for (uint8_t& b : out) b = byte_(pos_++);
    return absl::OkStatus();
  }
  int fills = 0;
  size_t last_size = 0;

 private:
  std::function<uint8_t(uint64_t)> byte_;
  uint64_t pos_ = 0;
};

// A RandomSource that fails (after `good_fills` successful fills of zeros).
class FailAfterRandom final : public base::RandomSource {
 public:
  explicit FailAfterRandom(int good_fills = 0) : good_fills_(good_fills) {}
  absl::Status Fill(std::span<uint8_t> out) override {
    ++fills;
    if (fills > good_fills_) return absl::UnavailableError("entropy source unavailable");
    for (uint8_t& b : out) b = 0;
    return absl::OkStatus();
  }
  int fills = 0;

 private:
  int good_fills_;
};

// Little-endian 64-bit word made of bytes 8i .. 8i+7 of a counting stream (byte at position p is p mod 256).
uint64_t CountingWord(uint64_t i) {
  uint64_t w = 0;
  for (int b = 7; b >= 0; --b) w = (w << 8) | ((8 * i + b) & 0xFF);
  return w;
}

TEST(RandomBitsTest, DrawsWholeBlocksAndHandsOutWordsInOrder) {
  ScriptedRandom source([](uint64_t p) { return static_cast<uint8_t>(p); });
  RandomBits bits(source);
  EXPECT_EQ(source.fills, 0);  // nothing drawn before the first request
  constexpr size_t kWordsPerBlock = RandomBits::kBlockBytes / 8;
  for (uint64_t i = 0; i < kWordsPerBlock; ++i) {
    absl::StatusOr<uint64_t> w = bits.Next64();
    ASSERT_TRUE(w.ok());
    ASSERT_EQ(*w, CountingWord(i)) << i;
  }
  EXPECT_EQ(source.fills, 1);
  EXPECT_EQ(source.last_size, RandomBits::kBlockBytes);
  ASSERT_TRUE(bits.Next64().ok());
  EXPECT_EQ(source.fills, 2);
}

TEST(RandomBitsTest, SmallRequestsShareAWord) {
  // Bits(k) takes the low bits of the current word first; a word serves 64 / k requests.
  ScriptedRandom source([](uint64_t p) { return static_cast<uint8_t>(p * 7 + 1); });
  RandomBits bits(source);
  for (uint64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(bits.Bits(8), static_cast<uint8_t>(i * 7 + 1)) << i;  // one byte per request, in stream order
  }
  // 3 x 20 bits use 60 bits of a word; the next 20-bit request starts a fresh word (the 4 left are dropped).
  uint64_t w2 = 0;  // the third word: stream bytes 16..23
  for (int b = 7; b >= 0; --b) w2 = (w2 << 8) | static_cast<uint8_t>((16 + b) * 7 + 1);
  EXPECT_EQ(bits.Bits(20), w2 & 0xFFFFF);
  EXPECT_EQ(bits.Bits(20), (w2 >> 20) & 0xFFFFF);
  EXPECT_EQ(bits.Bits(20), (w2 >> 40) & 0xFFFFF);
  EXPECT_EQ(bits.Bits(20), static_cast<uint64_t>(static_cast<uint8_t>(24 * 7 + 1)) |
                               (static_cast<uint64_t>(static_cast<uint8_t>(25 * 7 + 1)) << 8) |
                               (static_cast<uint64_t>(static_cast<uint8_t>(26 * 7 + 1) & 0xF) << 16));
  EXPECT_TRUE(bits.ok());
}

TEST(RandomBitsTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  DeterministicRandom a(7), b(7), c(8);
  RandomBits ba(a), bb(b), bc(c);
  int differ = 0;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t x = *ba.Next64();
    EXPECT_EQ(x, *bb.Next64());
    differ += x != *bc.Next64();
  }
  EXPECT_EQ(differ, 2000);
}

TEST(RandomBitsTest, MovedFromObjectDoesNotRepeatBits) {
  ScriptedRandom source([](uint64_t p) { return static_cast<uint8_t>(p); });
  RandomBits a(source);
  ASSERT_EQ(*a.Next64(), CountingWord(0));
  RandomBits b(std::move(a));
  EXPECT_EQ(*b.Next64(), CountingWord(1));  // the new owner continues the stream
  EXPECT_EQ(source.fills, 1);
  // The moved-from object refills from the source instead of handing out b's bits again.
  ASSERT_TRUE(a.Next64().ok());  // NOLINT(bugprone-use-after-move): the behaviour under test
  EXPECT_EQ(source.fills, 2);
}

TEST(RandomBitsTest, UniformRejectsZeroBound) {
  DeterministicRandom rng(1);
  RandomBits bits(rng);
  EXPECT_EQ(bits.Uniform(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*bits.Uniform(1), 0u);
}

TEST(RandomBitsTest, UniformSmallBoundChiSquare) {
  // 100,000 draws in [0, 10): 10 bins of expected 10,000; df = 9, critical value at 1e-4: 33.7199.
  DeterministicRandom rng(11);
  RandomBits bits(rng);
  constexpr int kN = 100'000;
  std::vector<int64_t> counts(10, 0);
  for (int i = 0; i < kN; ++i) {
    absl::StatusOr<uint64_t> u = bits.Uniform(10);
    ASSERT_TRUE(u.ok());
    ASSERT_LT(*u, 10u);
    ++counts[*u];
  }
  double chi2 = 0;
  for (int64_t c : counts) chi2 += (c - 10'000.0) * (c - 10'000.0) / 10'000.0;
  EXPECT_LT(chi2, 33.7199);
}

TEST(RandomBitsTest, UniformLargeBoundHasNoModuloBias) {
  // bound = 3 * 2^62: 2^64 mod bound = 2^62, so a quarter of the words must be rejected. Taking x mod bound
  // without rejection would put half of the mass in the first third. Thirds of [0, bound) must be equally
  // likely: 3 bins of expected 20,000; df = 2, critical value at 1e-4: 18.4207.
  DeterministicRandom rng(12);
  RandomBits bits(rng);
  const uint64_t bound = uint64_t{3} << 62;
  std::vector<int64_t> thirds(3, 0);
  for (int i = 0; i < 60'000; ++i) {
    absl::StatusOr<uint64_t> u = bits.Uniform(bound);
    ASSERT_TRUE(u.ok());
    ASSERT_LT(*u, bound);
    ++thirds[*u >> 62];
  }
  double chi2 = 0;
  for (int64_t c : thirds) chi2 += (c - 20'000.0) * (c - 20'000.0) / 20'000.0;
  EXPECT_LT(chi2, 18.4207) << thirds[0] << " " << thirds[1] << " " << thirds[2];
}

TEST(RandomBitsTest, BernoulliRejectsBadArguments) {
  DeterministicRandom rng(1);
  RandomBits bits(rng);
  EXPECT_EQ(bits.Bernoulli(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bits.Bernoulli(3, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RandomBitsTest, BernoulliCertainOutcomes) {
  DeterministicRandom rng(2);
  RandomBits bits(rng);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(*bits.Bernoulli(0, 5));
    EXPECT_TRUE(*bits.Bernoulli(5, 5));
    EXPECT_TRUE(*bits.Bernoulli(UINT64_MAX, UINT64_MAX));
    EXPECT_FALSE(*bits.Bernoulli(0, UINT64_MAX));
  }
}

TEST(RandomBitsTest, BernoulliComparesDigitsExactly) {
  // Known answers: 1/2 = 0.80 00 ... in base-256 digits, so a first digit 0x7F decides true and 0x80 false.
  {
    ScriptedRandom source([](uint64_t) { return 0x7F; });
    RandomBits bits(source);
    EXPECT_TRUE(*bits.Bernoulli(1, 2));
  }
  {
    ScriptedRandom source([](uint64_t) { return 0x80; });
    RandomBits bits(source);
    EXPECT_FALSE(*bits.Bernoulli(1, 2));
  }
  // 1/3 = 0.55 55 55 ... : digits equal to 0x55 leave the outcome open; the first other digit decides.
  {
    ScriptedRandom source([](uint64_t p) { return p < 5 ? 0x55 : 0x56; });
    RandomBits bits(source);
    EXPECT_FALSE(*bits.Bernoulli(1, 3));
  }
  {
    ScriptedRandom source([](uint64_t p) { return p < 5 ? 0x55 : 0x54; });
    RandomBits bits(source);
    EXPECT_TRUE(*bits.Bernoulli(1, 3));
  }
  // A stream that matches 1/3 forever reaches the 16-digit cap: Internal, never an endless loop (a real
  // source does this with probability 2^-128).
  {
    ScriptedRandom source([](uint64_t) { return 0x55; });
    RandomBits bits(source);
    absl::StatusOr<bool> b = bits.Bernoulli(1, 3);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInternal);
    EXPECT_FALSE(bits.ok());
    EXPECT_EQ(bits.Next64().status().code(), absl::StatusCode::kInternal);  // failed for good
  }
}

TEST(RandomBitsTest, BernoulliFrequencies) {
  // For each p, 200,000 trials: the count is Binomial(n, p); |count - n p| <= 5 sqrt(n p (1 - p)) fails for
  // a correct sampler with probability < 6e-7, while an error of 1% in p (e.g. 2^-8 resolution) shows up at
  // these n for p >= 0.1.
  DeterministicRandom rng(3);
  RandomBits bits(rng);
  const std::vector<std::pair<uint64_t, uint64_t>> cases = {{1, 3},
                                                            {2, 7},
                                                            {1, 1000},
                                                            {999, 1000},
                                                            {(uint64_t{1} << 63) / 3, uint64_t{1} << 63},
                                                            {UINT64_MAX / 5, UINT64_MAX}};
  constexpr int kN = 200'000;
  for (const auto& [num, den] : cases) {
    int64_t count = 0;
    for (int i = 0; i < kN; ++i) {
      absl::StatusOr<bool> b = bits.Bernoulli(num, den);
      ASSERT_TRUE(b.ok());
      count += *b;
    }
    const double p = static_cast<double>(num) / static_cast<double>(den);
    EXPECT_NEAR(count, kN * p, 5 * std::sqrt(kN * p * (1 - p))) << num << "/" << den;
  }
}

TEST(RandomBitsTest, FailingSourcePropagatesItsErrorAndStaysFailed) {
  FailAfterRandom source;
  RandomBits bits(source);
  absl::StatusOr<uint64_t> w = bits.Next64();
  EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(w.status().message(), "entropy source unavailable");
  EXPECT_EQ(bits.Uniform(10).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(bits.Bernoulli(1, 3).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(bits.ok());
  EXPECT_EQ(source.fills, 1);  // a failed source is not asked again
}

TEST(RandomBitsTest, SourceFailingLaterFailsAtTheBlockBoundary) {
  FailAfterRandom source(/*good_fills=*/1);
  RandomBits bits(source);
  for (size_t i = 0; i < RandomBits::kBlockBytes / 8; ++i) ASSERT_TRUE(bits.Next64().ok()) << i;
  EXPECT_EQ(bits.Next64().status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace veil::dp
