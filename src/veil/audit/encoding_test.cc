#include "veil/audit/encoding.h"

#include <string>

#include "gtest/gtest.h"
#include "veil/base/bytes.h"

namespace veil::audit::internal {
namespace {

using base::AsBytes;

TEST(Crc32cTest, KnownAnswers) {
  // The CRC-32C check value, and RFC 3720 appendix B.4 vectors.
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(AsBytes(std::string(32, '\0'))), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(AsBytes(std::string(32, '\xFF'))), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(AsBytes(inc)), 0x46DD794Eu);
  // Incremental computation agrees with one-shot, across the 8-byte stride.
  const std::string s = "The quick brown fox jumps over the lazy dog";
  for (size_t k = 0; k <= s.size(); ++k) {
    EXPECT_EQ(Crc32c(AsBytes(s.substr(k)), Crc32c(AsBytes(s.substr(0, k)))), Crc32c(AsBytes(s)));
  }
}

TEST(Base64Test, RoundTripAndStrictness) {
  for (size_t n = 0; n < 10; ++n) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(i * 37 + 1));
    const std::string e = Base64Encode(v);
    EXPECT_EQ(Base64DecodeStrict(e), v);
  }
  EXPECT_EQ(Base64Encode(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(AsBytes("fo")), "Zm8=");
  EXPECT_FALSE(Base64DecodeStrict("Zm9=").has_value());  // non-zero discarded bits
  EXPECT_FALSE(Base64DecodeStrict("Zm8").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm=8").has_value());
  EXPECT_FALSE(Base64DecodeStrict("Zm 8").has_value());
}

TEST(DecimalTest, Canonical) {
  EXPECT_EQ(ParseDecimalU64("0"), 0u);
  EXPECT_EQ(ParseDecimalU64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseDecimalU64("18446744073709551616").has_value());
  EXPECT_FALSE(ParseDecimalU64("01").has_value());
  EXPECT_FALSE(ParseDecimalU64("+1").has_value());
  EXPECT_FALSE(ParseDecimalU64("").has_value());
}

}  // namespace
}  // namespace veil::audit::internal
