#include "veil/he/serialize.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/sha256.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/evaluator.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace serialize_test {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;
using testing::MaxError;
using Complex = std::complex<double>;

constexpr double kFresh = 1e-6;  // fresh-encryption slot error bound at N = 8192, scale 2^40 (keys.h)

CkksParameters Params() {
  return CkksParametersBuilder()
      .SetPolyDegree(8192)
      .SetCiphertextPrimeBits({60, 40, 40})
      .SetSpecialPrimeBits({60})
      .Build()
      .value();
}

// Recomputes the trailing SHA-256 after an edit, to reach the body checks behind the checksum.
void Reseal(std::vector<uint8_t>& bytes) {
  const crypto::Sha256Digest d = crypto::Sha256(std::span<const uint8_t>(bytes.data(), bytes.size() - 32));
  std::copy(d.begin(), d.end(), bytes.end() - 32);
}

class SerializeTest : public ::testing::Test {
 protected:
  SerializeTest()
      : ctx_(CkksContext::Create(Params()).value()),
        rng_(73),
        sk_(GenerateSecretKey(ctx_, rng_).value()),
        pk_(GeneratePublicKey(ctx_, sk_, rng_).value()) {}

  std::vector<Complex> Values(uint64_t seed) {
    return testing::RandomSlots(ctx_.slot_count(), seed, /*real_only=*/true);
  }
  std::vector<Complex> Dec(const Ciphertext& ct) {
    return ctx_.Decode(Decrypt(ctx_, sk_, ct, KeyOwnerOnly()).value()).value();
  }

  CkksContext ctx_;
  DeterministicRandom rng_;
  SecretKey sk_;
  PublicKey pk_;
};

TEST_F(SerializeTest, ParametersRoundTripAndId) {
  const std::vector<uint8_t> bytes = SerializeParameters(ctx_.params());
  const CkksParameters back = ParseParameters(bytes).value();
  EXPECT_EQ(back.ciphertext_primes(), ctx_.params().ciphertext_primes());
  EXPECT_EQ(back.special_primes(), ctx_.params().special_primes());
  EXPECT_EQ(ParametersId(back), ParametersId(ctx_.params()));
  const CkksParameters other = CkksParametersBuilder()
                                   .SetPolyDegree(8192)
                                   .SetCiphertextPrimeBits({60, 40})
                                   .SetSpecialPrimeBits({60})
                                   .Build()
                                   .value();
  EXPECT_NE(ParametersId(other), ParametersId(ctx_.params()));
  // An edited prime with a resealed checksum no longer matches the ID.
  std::vector<uint8_t> edited = bytes;
  edited[50 + 5] ^= 1;
  Reseal(edited);
  EXPECT_EQ(ParseParameters(edited).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SerializeTest, CiphertextsRoundTripWithSizes) {
  const auto x = Values(1);
  const Plaintext pt = ctx_.Encode(x, 0x1p40, 2).value();
  const Ciphertext ct = Encrypt(ctx_, pk_, pt, rng_).value();
  const std::vector<uint8_t> bytes = SerializeCiphertext(ctx_, ct).value();
  // 2 parts x 8192 values x (60 + 40 + 40) bits, plus 50 header + 10 body fields + 32 checksum.
  EXPECT_EQ(bytes.size(), 2 * 8192 * 140 / 8 + 50 + 10 + 32);
  const Ciphertext back = ParseCiphertext(ctx_, bytes).value();
  EXPECT_EQ(back.level, 2);
  EXPECT_EQ(back.scale, 0x1p40);
  EXPECT_EQ(back.parts[0].data, ct.parts[0].data);
  EXPECT_EQ(back.parts[1].data, ct.parts[1].data);
  // Seeded secret-key encryption: half the size, decrypts within the fresh bound.
  const SeededCiphertext seeded = EncryptSymmetric(ctx_, sk_, pt, rng_).value();
  const std::vector<uint8_t> seeded_bytes = SerializeSeededCiphertext(ctx_, seeded).value();
  EXPECT_EQ(seeded_bytes.size(), 8192 * 140 / 8 + 50 + 9 + 32 + 32);
  const Ciphertext seeded_back = ParseCiphertext(ctx_, seeded_bytes).value();
  EXPECT_EQ(seeded_back.parts[1].data, seeded.ciphertext.parts[1].data);
  EXPECT_LT(MaxError(Dec(seeded_back), x), kFresh);
  // A product (3 parts) at level 1 round-trips too.
  const Ciphertext product = Rescale(ctx_, Multiply(ctx_, ct, ct).value()).value();
  const Ciphertext product_back = ParseCiphertext(ctx_, SerializeCiphertext(ctx_, product).value()).value();
  EXPECT_EQ(product_back.parts.size(), 3u);
  EXPECT_EQ(product_back.parts[2].data, product.parts[2].data);
  // Plaintexts.
  const Plaintext pt_back = ParsePlaintext(ctx_, SerializePlaintext(ctx_, pt)).value();
  EXPECT_EQ(pt_back.poly.data, pt.poly.data);
}

TEST_F(SerializeTest, TruncatedAlteredOrForeignInputsAreRejected) {
  const Ciphertext ct = Encrypt(ctx_, pk_, ctx_.Encode(Values(2), 0x1p40, 1).value(), rng_).value();
  const std::vector<uint8_t> bytes = SerializeCiphertext(ctx_, ct).value();
  // Every truncation length class and a trailing byte.
  for (size_t cut : {size_t{0}, size_t{10}, size_t{81}, size_t{82}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(ParseCiphertext(ctx_, std::span(bytes).first(cut)).status().code(), absl::StatusCode::kDataLoss)
        << cut;
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(ParseCiphertext(ctx_, longer).status().code(), absl::StatusCode::kDataLoss);
  // One flipped bit anywhere after the magic/version/kind fields: checksum mismatch.
  for (size_t pos : {size_t{12}, size_t{50}, size_t{60}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> altered = bytes;
    altered[pos] ^= 0x10;
    auto r = ParseCiphertext(ctx_, altered);
    EXPECT_FALSE(r.ok()) << pos;
    if (pos >= 50) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << pos;
    }
  }
  std::vector<uint8_t> magic = bytes;
  magic[0] = 'X';
  EXPECT_THAT(std::string(ParseCiphertext(ctx_, magic).status().message()), HasSubstr("magic"));
  std::vector<uint8_t> version = bytes;
  version[6] = 2;
  EXPECT_THAT(std::string(ParseCiphertext(ctx_, version).status().message()), HasSubstr("version 2"));
  // A value equal to its prime (the first 60-bit value set to q_0), resealed: caught by the range check.
  std::vector<uint8_t> big = bytes;
  const uint64_t q0 = ctx_.modulus(0).value();
  for (int b = 0; b < 8; ++b)
    big[60 + b] = static_cast<uint8_t>(q0 >> (8 * b)) | (b == 7 ? big[67] & 0xf0 : 0);
  Reseal(big);
  auto too_big = ParseCiphertext(ctx_, big);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_big.status().message()), HasSubstr("not below its prime"));
  // Level above the parameters' maximum, resealed.
  std::vector<uint8_t> level = bytes;
  level[50] = 7;
  Reseal(level);
  EXPECT_EQ(ParseCiphertext(ctx_, level).status().code(), absl::StatusCode::kInvalidArgument);
  // Another parameter set.
  const CkksContext other = CkksContext::Create(CkksParametersBuilder()
                                                    .SetPolyDegree(8192)
                                                    .SetCiphertextPrimeBits({60, 40})
                                                    .SetSpecialPrimeBits({60})
                                                    .Build()
                                                    .value())
                                .value();
  EXPECT_EQ(ParseCiphertext(other, bytes).status().code(), absl::StatusCode::kFailedPrecondition);
  // Another kind.
  EXPECT_EQ(ParsePlaintext(ctx_, bytes).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SerializeTest, KeysRoundTripAndWork) {
  const RelinKeys rk = GenerateRelinKeys(ctx_, sk_, rng_).value();
  const std::vector<int64_t> steps = {1, -1, 4};
  const GaloisKeys gk = GenerateGaloisKeys(ctx_, sk_, rng_, steps).value();
  const std::vector<uint8_t> pk_bytes = SerializePublicKey(ctx_, pk_);
  const std::vector<uint8_t> rk_bytes = SerializeRelinKeys(ctx_, rk);
  const std::vector<uint8_t> gk_bytes = SerializeGaloisKeys(ctx_, gk);
  // Seeded keys: b only (4 primes x 200 bits / 8 per value for the key-switching keys, 3 digits).
  EXPECT_EQ(pk_bytes.size(), 8192 * 140 / 8 + 32 + 82);
  EXPECT_EQ(rk_bytes.size(), 3 * 8192 * 200 / 8 + 1 + 32 + 82);
  const PublicKey pk = ParsePublicKey(ctx_, pk_bytes).value();
  const RelinKeys rk2 = ParseRelinKeys(ctx_, rk_bytes).value();
  const GaloisKeys gk2 = ParseGaloisKeys(ctx_, gk_bytes).value();
  EXPECT_EQ(gk2.keys.size(), 4u);  // 1, -1, 4 and conjugation; 3 = 4 - 1
  const base::SecretBytes sk_bytes = SerializeSecretKey(ctx_, sk_).value();
  EXPECT_EQ(sk_bytes.size(), 8192 + 82u);
  const SecretKey sk2 = ParseSecretKey(ctx_, sk_bytes.span()).value();
  EXPECT_TRUE(sk2.ntt_limbs() == sk_.ntt_limbs());
  const auto x = Values(3);
  const Ciphertext ct = Encrypt(ctx_, pk, ctx_.Encode(x, 0x1p40, 2).value(), rng_).value();
  std::vector<Complex> x2(x.size()), rot(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x2[i] = x[i] * x[i];
    rot[i] = x[(i + 3) % x.size()];
  }
  EXPECT_LT(MaxError(Dec(MultiplyRelinRescale(ctx_, rk2, ct, ct).value()), x2), 4 * kFresh);
  EXPECT_LT(MaxError(Dec(Rotate(ctx_, gk2, ct, 3).value()), rot), 3 * kFresh);
  // A secret key with a non-ternary byte, resealed, is refused.
  std::vector<uint8_t> bad(sk_bytes.data(), sk_bytes.data() + sk_bytes.size());
  bad[50] = 3;
  Reseal(bad);
  EXPECT_EQ(ParseSecretKey(ctx_, bad).status().code(), absl::StatusCode::kInvalidArgument);
  // Galois elements out of order, resealed.
  std::vector<uint8_t> swapped = gk_bytes;
  swapped[52] = 4;  // the first element becomes even
  Reseal(swapped);
  EXPECT_EQ(ParseGaloisKeys(ctx_, swapped).status().code(), absl::StatusCode::kInvalidArgument);
}

// Decrypt floods by default: at scale 2^40 it refuses and says what to do; at scale 2^55 (level 0, 60-bit
// q_0) the added noise has the standard deviation FloodingSlotStddev states (checked within 15%).
TEST_F(SerializeTest, NoiseFloodingIsTheDefault) {
  const auto x = Values(4);
  const Ciphertext ct = Encrypt(ctx_, pk_, ctx_.Encode(x, 0x1p40, 1).value(), rng_).value();
  auto refused = Decrypt(ctx_, sk_, ct);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("KeyOwnerOnly"));
  const Ciphertext wide = Encrypt(ctx_, pk_, ctx_.Encode(x, 0x1p55, 0).value(), rng_).value();
  DecryptOptions options;
  DeterministicRandom flood_rng(5);
  options.rng = &flood_rng;
  const auto flooded = ctx_.Decode(Decrypt(ctx_, sk_, wide, options).value()).value();
  const double predicted = FloodingSlotStddev(ctx_, options, 0x1p55);
  EXPECT_NEAR(std::log2(predicted), -11.5, 0.01);
  double sum_sq = 0;
  for (size_t i = 0; i < x.size(); ++i) sum_sq += std::pow(flooded[i].real() - x[i].real(), 2);
  const double measured = std::sqrt(sum_sq / static_cast<double>(x.size()));
  EXPECT_NEAR(measured / predicted, 1.0, 0.15);
  // Without flooding the error is the fresh one, 2^15 times smaller at this scale.
  const auto plain = ctx_.Decode(Decrypt(ctx_, sk_, wide, KeyOwnerOnly()).value()).value();
  EXPECT_LT(MaxError(plain, x), kFresh);
  options.statistical_security_bits = 200;
  EXPECT_EQ(Decrypt(ctx_, sk_, wide, options).status().code(), absl::StatusCode::kInvalidArgument);
}

// The fuzz target's seeds (fuzz/corpus/he_serialize, written by a script from the format description, not by
// this library) parse with the fuzz target's parameters: an independent check of the format.
TEST(SerializeFormatTest, FuzzSeedsParse) {
  const CkksContext ctx = CkksContext::Create(CkksParametersBuilder()
                                                  .SetPolyDegree(4096)
                                                  .SetCiphertextPrimes({1073692673})
                                                  .SetSpecialPrimes({1073668097})
                                                  .Build()
                                                  .value())
                              .value();
  auto read = [](const char* name) {
    std::ifstream in(std::string("fuzz/corpus/he_serialize/") + name, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(bytes.empty()) << name;
    return bytes.empty() ? bytes : std::vector<uint8_t>(bytes.begin() + 1, bytes.end());
  };
  const std::vector<uint8_t> params = read("params");
  EXPECT_TRUE(ParseParameters(params).ok());
  EXPECT_EQ(SerializeParameters(ctx.params()), params);
  EXPECT_TRUE(ParseCiphertext(ctx, read("ciphertext")).ok());
  EXPECT_EQ(ParseCiphertext(ctx, read("seeded_ciphertext")).value().parts.size(), 2u);
  EXPECT_TRUE(ParsePlaintext(ctx, read("plaintext")).ok());
  EXPECT_TRUE(ParsePublicKey(ctx, read("public_key")).ok());
  EXPECT_TRUE(ParseRelinKeys(ctx, read("relin_keys")).ok());
  EXPECT_EQ(ParseGaloisKeys(ctx, read("galois_keys")).value().keys.count(5), 1u);
  EXPECT_TRUE(ParseSecretKey(ctx, read("secret_key")).ok());
}

}  // namespace
}  // namespace serialize_test
}  // namespace veil::he
