#include "veil/audit/checkpoint.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/audit/audit_test_util.h"

namespace veil::audit {
namespace {

using ::testing::HasSubstr;

Checkpoint Sample() {
  Checkpoint cp;
  cp.log_id = "0123456789abcdef0123456789abcdef";
  cp.size = 1234;
  for (size_t i = 0; i < cp.root.size(); ++i) cp.root[i] = static_cast<uint8_t>(i);
  cp.time = absl::FromUnixSeconds(1767225600);
  return cp;
}

TEST(CheckpointTest, FormatSignParseVerify) {
  const crypto::Ed25519PrivateKey key = testing::TestKey();
  const std::string note = *SignCheckpoint(Sample(), key);
  EXPECT_THAT(note, ::testing::StartsWith("veil.audit/0123456789abcdef0123456789abcdef\n1234\n"
                                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
                                          "time 2026-01-01T00:00:00Z\n\n\xE2\x80\x94 veil.audit/"));
  absl::StatusOr<SignedCheckpoint> cp = ParseAndVerifyCheckpoint(note, key.public_key());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->checkpoint, Sample());
  EXPECT_EQ(cp->signatures.size(), 1u);
  EXPECT_EQ(cp->signatures[0].key_id, NoteKeyId(CheckpointOrigin(Sample().log_id), key.public_key()));
  // Wrong key.
  EXPECT_EQ(ParseAndVerifyCheckpoint(note, testing::TestKey(2).public_key()).status().code(),
            absl::StatusCode::kDataLoss);
  // A cosignature by another key is tolerated.
  const std::string other = *SignCheckpoint(Sample(), testing::TestKey(3));
  const std::string cosigned = note + other.substr(FormatCheckpointBody(Sample())->size() + 1);
  EXPECT_TRUE(ParseAndVerifyCheckpoint(cosigned, key.public_key()).ok());
}

TEST(CheckpointTest, EveryBodyByteFlipFailsParseOrSignature) {
  const crypto::Ed25519PrivateKey key = testing::TestKey();
  const std::string note = *SignCheckpoint(Sample(), key);
  for (size_t i = 0; i < note.size(); ++i) {
    std::string bad = note;
    bad[i] ^= 0x01;
    EXPECT_FALSE(ParseAndVerifyCheckpoint(bad, key.public_key()).ok()) << i;
  }
  for (size_t n = 0; n < note.size(); ++n) {
    EXPECT_FALSE(ParseAndVerifyCheckpoint(note.substr(0, n), key.public_key()).ok()) << n;
  }
}

TEST(CheckpointTest, StrictParseNamesLineAndByte) {
  const std::string note = *SignCheckpoint(Sample(), testing::TestKey());
  auto err = [](const std::string& text) { return std::string(ParseCheckpoint(text).status().message()); };
  EXPECT_THAT(err(absl::StrReplaceAll(note, {{"\n1234\n", "\n01234\n"}})), HasSubstr("line 2 (byte 44)"));
  EXPECT_THAT(err(absl::StrReplaceAll(note, {{"time ", "tyme "}})), HasSubstr("line 4"));
  EXPECT_THAT(err(absl::StrReplaceAll(note, {{"=\n", "\n"}})), HasSubstr("line 3"));
  EXPECT_THAT(err(absl::StrReplaceAll(note, {{"veil.audit/0123", "veil.audit/0A23"}})), HasSubstr("line 1"));
  EXPECT_THAT(err(absl::StrReplaceAll(note, {{"\n", "\r\n"}})), HasSubstr("control character"));
  EXPECT_THAT(err(note.substr(0, FormatCheckpointBody(Sample())->size() + 1)),
              HasSubstr("no signature line"));
  EXPECT_THAT(err("veil.audit/0123456789abcdef0123456789abcdef\n1\n"), HasSubstr("line 3"));
}

}  // namespace
}  // namespace veil::audit
