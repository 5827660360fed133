#include "veil/base/secret_bytes.h"

#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace veil::base {
namespace {

TEST(SecretBytesTest, HoldsContent) {
  SecretBytes s = SecretBytes::FromString("key material");
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(s.data()), s.size()), "key material");
}

TEST(SecretBytesTest, NeverPrintsContent) {
  SecretBytes s = SecretBytes::FromString("hunter2-secret");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[secret: 14 bytes]");
  EXPECT_EQ(os.str().find("hunter2"), std::string::npos);
}

TEST(SecretBytesTest, MoveTransfersAndEmptiesSource) {
  SecretBytes a = SecretBytes::FromString("abc");
  const uint8_t* p = a.data();
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is part of the contract.
  EXPECT_EQ(a.data(), nullptr);
  SecretBytes c(5);
  c = std::move(b);
  EXPECT_EQ(c.size(), 3u);
}

TEST(SecretBytesTest, CloneIsDeepAndEqual) {
  SecretBytes a = SecretBytes::FromString("abc");
  SecretBytes b = a.Clone();
  EXPECT_NE(a.data(), b.data());
  EXPECT_TRUE(a == b);
  b.data()[0] ^= 1;
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == SecretBytes::FromString("abcd"));
}

TEST(SecretBytesTest, ResetEmpties) {
  SecretBytes a(32);
  for (uint8_t b : a.span()) EXPECT_EQ(b, 0);
  a.Reset();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.data(), nullptr);
}

static_assert(!std::is_convertible_v<const SecretBytes&, absl::AlphaNum>, "StrCat(secret) must not compile");
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);

}  // namespace
}  // namespace veil::base
