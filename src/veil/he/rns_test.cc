#include "veil/he/rns.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using testing::Bn;
using testing::BnCrt;
using testing::BnCtx;
using testing::BnProduct;
using testing::NewBn;
using testing::TestRng;

TEST(RnsBaseTest, RejectsBadPrimes) {
  EXPECT_EQ(RnsBase::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RnsBase::Create({3, 9}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RnsBase::Create({3, 5, 3}).status().code(), absl::StatusCode::kInvalidArgument);
  auto a = RnsBase::Create({3, 5}).value();
  EXPECT_EQ(BaseConverter::Create(a, RnsBase::Create({7, 5}).value()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Hand-checked: Q = 3 * 5 * 7 = 105, q_hat = 35, 21, 15 with inverses 2, 1, 1. For x = 52 (residues 1, 2, 3),
// y = 2, 2, 3 and sum y_i q_hat_i = 70 + 42 + 45 = 157 = 52 + 1 * 105: FastConvert gives 157 mod 11 = 3 and
// 157 mod 13 = 1. 52 < Q/2, so the exact centered conversion gives 52 mod 11 = 8, 52 mod 13 = 0; for
// x = 53 = -52 mod 105 it gives -52 mod 11 = 3 and -52 mod 13 = 0.
TEST(BaseConverterTest, HandChecked) {
  auto conv =
      BaseConverter::Create(RnsBase::Create({3, 5, 7}).value(), RnsBase::Create({11, 13}).value()).value();
  std::vector<uint64_t> in = {52 % 3, 53 % 3, 52 % 5, 53 % 5, 52 % 7, 53 % 7};  // n = 2: x = 52, 53
  std::vector<uint64_t> out(4);
  ASSERT_TRUE(conv.FastConvert(in, 2, out).ok());
  EXPECT_EQ(out[0], 3u);  // x = 52 mod 11
  EXPECT_EQ(out[2], 1u);  // x = 52 mod 13
  ASSERT_TRUE(conv.ExactConvertCentered(in, 2, out).ok());
  EXPECT_EQ(out, (std::vector<uint64_t>{8, 3, 0, 0}));
  std::vector<uint64_t> wrong(3);
  EXPECT_EQ(conv.FastConvert(in, 2, wrong).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conv.ExactConvertCentered(in, 3, out).code(), absl::StatusCode::kInvalidArgument);
}

// Random residues checked against OpenSSL BIGNUM: FastConvert equals sum_i y_i * q_hat_i mod p_j computed
// with big integers, and that sum is x + u * Q with 0 <= u < k; ExactConvertCentered equals the centered CRT
// value mod p_j. Bases of 1 to 12 primes (more than 7 exercises the chunked accumulation), including values
// next to 0 and to Q (small positive and negative numbers, as noise is).
TEST(BaseConverterTest, MatchesBigIntegerCrt) {
  TestRng rng(20);
  const size_t n = 64;
  const std::vector<std::vector<int>> from_bits = {{60},
                                                   {40, 40},
                                                   {60, 40, 40},
                                                   {50, 50, 50, 50, 50, 50, 50, 50},
                                                   {36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36}};
  for (const auto& bits : from_bits) {
    std::vector<int> all = bits;
    all.insert(all.end(), {61, 60, 45});
    const auto primes = GenerateNttPrimes(8192, all).value();
    const std::vector<uint64_t> q(primes.begin(), primes.begin() + bits.size());
    const std::vector<uint64_t> p(primes.begin() + bits.size(), primes.end());
    auto conv = BaseConverter::Create(RnsBase::Create(q).value(), RnsBase::Create(p).value()).value();
    const size_t k = q.size();
    BnCtx ctx(BN_CTX_new());
    Bn big_q = BnProduct(q);

    std::vector<uint64_t> in(k * n);
    for (size_t c = 0; c < n; ++c) {
      for (size_t i = 0; i < k; ++i) {
        uint64_t r = rng.Below(q[i]);
        if (c < 4) r = c;                         // x = 0, 1, 2, 3
        if (c >= 4 && c < 8) r = q[i] - (c - 3);  // x = -1, -2, -3, -4 mod Q
        in[i * n + c] = r;
      }
    }
    std::vector<uint64_t> fast(p.size() * n), exact(p.size() * n);
    ASSERT_TRUE(conv.FastConvert(in, n, fast).ok());
    ASSERT_TRUE(conv.ExactConvertCentered(in, n, exact).ok());
    for (size_t c = 0; c < n; ++c) {
      std::vector<uint64_t> residues(k);
      for (size_t i = 0; i < k; ++i) residues[i] = in[i * n + c];
      Bn x = BnCrt(residues, q);
      // sum_i y_i * q_hat_i with big integers.
      Bn sum = NewBn(0), q_hat = NewBn(), rem = NewBn(), qi = NewBn(), inv = NewBn(), y = NewBn();
      for (size_t i = 0; i < k; ++i) {
        BN_set_word(qi.get(), q[i]);
        BN_div(q_hat.get(), nullptr, big_q.get(), qi.get(), ctx.get());
        BN_mod(rem.get(), q_hat.get(), qi.get(), ctx.get());
        BN_mod_inverse(inv.get(), rem.get(), qi.get(), ctx.get());
        BN_set_word(y.get(), residues[i]);
        BN_mod_mul(y.get(), y.get(), inv.get(), qi.get(), ctx.get());
        BN_mul(y.get(), y.get(), q_hat.get(), ctx.get());
        BN_add(sum.get(), sum.get(), y.get());
      }
      Bn u = NewBn(), diff = NewBn();
      BN_sub(diff.get(), sum.get(), x.get());
      BN_div(u.get(), rem.get(), diff.get(), big_q.get(), ctx.get());
      ASSERT_TRUE(BN_is_zero(rem.get()));
      ASSERT_LT(BN_get_word(u.get()), k);
      // Centered x.
      Bn centered = NewBn(), twice = NewBn();
      BN_lshift1(twice.get(), x.get());
      BN_copy(centered.get(), x.get());
      if (BN_cmp(twice.get(), big_q.get()) >= 0) BN_sub(centered.get(), x.get(), big_q.get());
      for (size_t j = 0; j < p.size(); ++j) {
        Bn pj = NewBn(p[j]), r = NewBn();
        EXPECT_EQ(fast[j * n + c], BN_mod_word(sum.get(), p[j])) << "k=" << k << " c=" << c << " j=" << j;
        BN_nnmod(r.get(), centered.get(), pj.get(), ctx.get());
        EXPECT_EQ(exact[j * n + c], BN_get_word(r.get())) << "k=" << k << " c=" << c << " j=" << j;
      }
      if (c < 8) {  // small values: the centered conversion returns them exactly, e.g. -1 -> p_j - 1
        const int64_t small = c < 4 ? static_cast<int64_t>(c) : -static_cast<int64_t>(c - 3);
        for (size_t j = 0; j < p.size(); ++j) {
          EXPECT_EQ(exact[j * n + c], small >= 0 ? static_cast<uint64_t>(small) : p[j] - (-small));
        }
      }
    }
  }
}

}  // namespace
}  // namespace veil::he
