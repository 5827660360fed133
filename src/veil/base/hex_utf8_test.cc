#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "veil/base/hex.h"
#include "veil/base/utf8.h"

namespace veil::base {
namespace {

TEST(HexTest, RoundTrip) {
  const std::vector<uint8_t> bytes = {0x00, 0x01, 0xab, 0xff, 0x7f};
  EXPECT_EQ(HexEncode(bytes), "0001abff7f");
  std::vector<uint8_t> out(5);
  ASSERT_TRUE(HexDecode("0001abff7f", out));
  EXPECT_EQ(out, bytes);
  ASSERT_TRUE(HexDecode("0001ABFF7F", out)) << "upper case decodes too";
  EXPECT_EQ(out, bytes);
  EXPECT_EQ(HexEncode({}), "");
}

TEST(HexTest, RejectsWrongLengthAndNonHex) {
  std::vector<uint8_t> out(2);
  EXPECT_FALSE(HexDecode("abc", out));
  EXPECT_FALSE(HexDecode("abcdef", out));
  EXPECT_FALSE(HexDecode("abcg", out));
  EXPECT_FALSE(HexDecode("ab c", out));
  EXPECT_FALSE(HexDecode("+1ab", out));
}

// Every byte value in either digit position: the 22 hex digits decode to their value, the 234 others make
// the decode fail wherever they stand.
TEST(HexTest, EveryByteValueInEitherPosition) {
  const std::string digits = "0123456789abcdefABCDEF";
  std::vector<uint8_t> out(2);
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const size_t at = digits.find(ch);
    const bool is_digit = c != 0 && at != std::string::npos;
    const int value = is_digit ? static_cast<int>(at < 16 ? at : at - 6) : -1;
    for (int pos = 0; pos < 4; ++pos) {
      std::string hex = "7a7a";
      hex[pos] = ch;
      ASSERT_EQ(HexDecode(hex, out), is_digit) << "byte " << c << " at " << pos;
      if (!is_digit) continue;
      const int expected = pos % 2 == 0 ? (value << 4 | 0xa) : (0x70 | value);
      EXPECT_EQ(out[pos / 2], expected) << "byte " << c << " at " << pos;
      EXPECT_EQ(out[1 - pos / 2], 0x7a);
    }
  }
}

// Unicode 15 table 3-7: the well-formed byte sequences.
TEST(Utf8Test, FindsTheFirstIllFormedByte) {
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_EQ(FindInvalidUtf8("ab\xC0\xAF"), 2u);         // overlong
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);       // overlong 3-byte
  EXPECT_EQ(FindInvalidUtf8("\xED\xA0\x80"), 0u);       // surrogate
  EXPECT_EQ(FindInvalidUtf8("x\xF4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("x\xE2\x80"), 1u);          // truncated
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0u);               // lone continuation byte
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0u);
  // The eight-bytes-at-a-time ASCII path hands over to the byte path at any alignment.
  for (size_t prefix = 0; prefix < 20; ++prefix) {
    const std::string s = std::string(prefix, 'a') + "\xC3\xA9" + "\xC3";
    EXPECT_EQ(FindInvalidUtf8(s), prefix + 2) << prefix;
  }
}

TEST(Utf8Test, FindsTheFirstInvalidByte) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii text, long enough for the fast path"), 47u);
  EXPECT_EQ(FindInvalidUtf8("Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x98\x80"), 16u);
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);               // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("ab\xE0\x80\xAF"), 2u);         // overlong 3-byte form
  EXPECT_EQ(FindInvalidUtf8("\xED\xA0\x80"), 0u);           // a UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);       // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ab\xE2\x82"), 2u);             // truncated
  EXPECT_EQ(FindInvalidUtf8("0123456789abcdef\xFF"), 16u);  // after two ASCII words
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\x80"), 2u);           // stray continuation byte
  // Every length of the short-ASCII fast path (up to 16 bytes), with a non-ASCII byte at each position.
  for (size_t n = 1; n <= 17; ++n) {
    EXPECT_EQ(FindInvalidUtf8(std::string(n, 'a')), n);
    for (size_t at = 0; at < n; ++at) {
      std::string text(n, 'a');
      text[at] = '\xFF';
      EXPECT_EQ(FindInvalidUtf8(text), at) << "length " << n << ", byte " << at;
    }
  }
}

}  // namespace
}  // namespace veil::base
