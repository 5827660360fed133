#include "veil/crypto/sha256.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "veil/base/bytes.h"
#include "veil/crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using ::veil::crypto::testing::ToHex;

// FIPS 180-2, Appendix B (SHA-256 examples).
constexpr char kAbcDigest[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kTwoBlockMessage[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 448 bits
constexpr char kTwoBlockDigest[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionADigest[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
// SHA-256 of the empty string (FIPS 180-4 padding of a zero-length message).
constexpr char kEmptyDigest[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Sha256Test, Fips180Abc) { EXPECT_EQ(ToHex(Sha256("abc")), kAbcDigest); }

// The low-level fast path gives FIPS 180 digests too, whatever the split of the message into parts.
TEST(Sha256Test, ConcatMatchesKnownAnswersForEverySplit) {
  const std::string msg = kTwoBlockMessage;
  EXPECT_EQ(ToHex(Sha256Concat({base::AsBytes("abc")})), kAbcDigest);
  EXPECT_EQ(ToHex(Sha256Concat({base::AsBytes("a"), base::AsBytes(""), base::AsBytes("bc")})), kAbcDigest);
  for (size_t i = 0; i <= msg.size(); ++i) {
    const std::string_view m(msg);
    ASSERT_EQ(ToHex(Sha256Concat({base::AsBytes(m.substr(0, i)), base::AsBytes(m.substr(i))})),
              kTwoBlockDigest)
        << i;
  }
}

TEST(Sha256Test, Fips180TwoBlockMessage) { EXPECT_EQ(ToHex(Sha256(kTwoBlockMessage)), kTwoBlockDigest); }

TEST(Sha256Test, Fips180OneMillionA) {
  const std::string million(1000000, 'a');
  EXPECT_EQ(ToHex(Sha256(million)), kMillionADigest);
}

TEST(Sha256Test, EmptyMessage) {
  EXPECT_EQ(ToHex(Sha256("")), kEmptyDigest);
  EXPECT_EQ(ToHex(Sha256(std::span<const uint8_t>())), kEmptyDigest);
}

TEST(Sha256Test, SpanAndStringOverloadsAgree) {
  const std::vector<uint8_t> bytes = {'a', 'b', 'c'};
  EXPECT_EQ(Sha256(bytes), Sha256("abc"));
}

TEST(Sha256HasherTest, OneMillionAInUnevenPieces) {
  Sha256Hasher hasher;
  const std::string chunk(997, 'a');  // a prime, so pieces straddle the 64-byte block boundaries
  size_t remaining = 1000000;
  while (remaining > 0) {
    const size_t n = std::min(remaining, chunk.size());
    hasher.Update(std::string_view(chunk.data(), n));
    remaining -= n;
  }
  EXPECT_EQ(ToHex(hasher.Final()), kMillionADigest);
}

TEST(Sha256HasherTest, EverySplitOfTwoBlockMessage) {
  const std::string_view msg = kTwoBlockMessage;
  for (size_t split = 0; split <= msg.size(); ++split) {
    Sha256Hasher hasher;
    hasher.Update(msg.substr(0, split));
    hasher.Update(msg.substr(split));
    EXPECT_EQ(ToHex(hasher.Final()), kTwoBlockDigest) << "split at " << split;
  }
}

TEST(Sha256HasherTest, FinalResetsForReuse) {
  Sha256Hasher hasher;
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(ToHex(hasher.Final()), kAbcDigest);
  EXPECT_EQ(ToHex(hasher.Final()), kEmptyDigest);
  hasher.Update("abc");
  EXPECT_EQ(ToHex(hasher.Final()), kAbcDigest);
}

TEST(Sha256HasherTest, MoveKeepsState) {
  Sha256Hasher a;
  a.Update("ab");
  Sha256Hasher b = std::move(a);
  b.Update("c");
  EXPECT_EQ(ToHex(b.Final()), kAbcDigest);
  Sha256Hasher c;
  c = std::move(b);
  c.Update("abc");
  EXPECT_EQ(ToHex(c.Final()), kAbcDigest);
}

}  // namespace
}  // namespace veil::crypto
