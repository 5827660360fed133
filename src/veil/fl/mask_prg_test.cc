#include "veil/fl/mask_prg.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "veil/crypto/testing/hex.h"

namespace veil::fl {
namespace {

std::vector<uint8_t> Hex(const char* h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(h + i, 2), nullptr, 16)));
  return out;
}

// NIST SP 800-38A F.5.5 CTR-AES256.Encrypt, block 1 and 2: keystream = plaintext XOR ciphertext.
TEST(MaskPrgTest, AesCtrKnownAnswer) {
  const auto key = Hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const auto iv = Hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const auto pt = Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  const auto ct = Hex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5");
  std::vector<uint8_t> ks(32);
  ASSERT_TRUE(internal::AesCtrKeystream(key, iv, ks).ok());
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(ks[i], pt[i] ^ ct[i]) << i;
}

TEST(MaskPrgTest, MaskIsKeystreamWithZeroCounterAsLittleEndianWords) {
  base::SecretBytes seed(32);
  for (size_t i = 0; i < 32; ++i) seed.data()[i] = static_cast<uint8_t>(i * 7 + 1);
  std::vector<uint8_t> ks(4 * 10000);
  const std::vector<uint8_t> zero_iv(16, 0);
  ASSERT_TRUE(internal::AesCtrKeystream(seed.span(), zero_iv, ks).ok());
  auto mask = ExpandMask(seed, 10000);  // crosses a 4096-word chunk boundary
  ASSERT_TRUE(mask.ok());
  for (size_t i = 0; i < 10000; ++i) {
    const uint32_t w = ks[4 * i] | ks[4 * i + 1] << 8 | ks[4 * i + 2] << 16 | uint32_t{ks[4 * i + 3]} << 24;
    ASSERT_EQ((*mask)[i], w) << i;
  }
}

TEST(MaskPrgTest, AddThenSubtractCancels) {
  base::SecretBytes seed(32);
  seed.data()[0] = 1;
  std::vector<uint32_t> v(5000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>(i * 2654435761u);
  const std::vector<uint32_t> orig = v;
  ASSERT_TRUE(AddMask(seed, v).ok());
  EXPECT_NE(v, orig);
  ASSERT_TRUE(AddMask(seed, v, /*subtract=*/true).ok());
  EXPECT_EQ(v, orig);
}

TEST(MaskPrgTest, DistinctSeedsGiveDistinctMasksAndBadSeedRejected) {
  base::SecretBytes a(32), b(32);
  b.data()[31] = 1;
  EXPECT_NE(*ExpandMask(a, 8), *ExpandMask(b, 8));
  base::SecretBytes short_seed(16);
  EXPECT_EQ(ExpandMask(short_seed, 8).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<uint32_t> x(3), y(4);
  EXPECT_EQ(AddVectors(x, y).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::fl
