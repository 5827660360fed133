#include "veil/crypto/constant_time.h"

#include <vector>

#include "gtest/gtest.h"

namespace veil::crypto {
namespace {

TEST(ConstantTimeEqualsTest, EqualContent) {
  const std::vector<uint8_t> a = {1, 2, 3, 4};
  const std::vector<uint8_t> b = {1, 2, 3, 4};
  EXPECT_TRUE(ConstantTimeEquals(a, b));
}

TEST(ConstantTimeEqualsTest, EveryDifferingPositionIsDetected) {
  const std::vector<uint8_t> a(32, 0x5a);
  for (size_t i = 0; i < a.size(); ++i) {
    for (uint8_t bit = 1; bit != 0; bit <<= 1) {
      std::vector<uint8_t> b = a;
      b[i] ^= bit;
      EXPECT_FALSE(ConstantTimeEquals(a, b)) << "byte " << i << " bit " << int{bit};
    }
  }
}

TEST(ConstantTimeEqualsTest, LengthMismatchIsNotEqual) {
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> prefix = {1, 2};
  EXPECT_FALSE(ConstantTimeEquals(a, prefix));
  EXPECT_FALSE(ConstantTimeEquals(prefix, a));
  EXPECT_FALSE(ConstantTimeEquals(a, {}));
}

TEST(ConstantTimeEqualsTest, EmptyEqualsEmpty) { EXPECT_TRUE(ConstantTimeEquals({}, {})); }

}  // namespace
}  // namespace veil::crypto
