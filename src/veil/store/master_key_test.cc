#include "veil/store/master_key.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "veil/base/test_env.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/crypto/testing/hex.h"

namespace veil::store {
namespace {

using crypto::testing::FromHex;
using crypto::testing::ToHex;

// RFC 9106 section 5.3: Argon2id, version 0x13, 32 KiB, 3 passes, 4 lanes, with secret and associated data.
TEST(Argon2idTest, Rfc9106KnownAnswer) {
  const std::vector<uint8_t> password(32, 0x01), salt(16, 0x02), secret(8, 0x03), ad(12, 0x04);
  auto tag = Argon2id(password, salt, {.memory_kib = 32, .iterations = 3, .parallelism = 4}, 32, secret, ad);
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_EQ(ToHex(tag->span()), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

TEST(Argon2idTest, RejectsParametersOutsideArgon2Limits) {
  const std::vector<uint8_t> password(8, 1);
  EXPECT_EQ(Argon2id(password, std::vector<uint8_t>(4, 2), {}, 32).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "salt shorter than 8 bytes";
  EXPECT_EQ(Argon2id(password, std::vector<uint8_t>(16, 2),
                     {.memory_kib = 8, .iterations = 1, .parallelism = 4}, 32)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument)
      << "memory below 8 KiB per lane";
}

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDirs("/ws").ok()); }

  static MasterKeyOptions WithPassphrase(const char* p) {
    MasterKeyOptions o;
    o.passphrase = base::SecretBytes::FromString(p);
    o.argon2 = {.memory_kib = 256, .iterations = 2, .parallelism = 1};  // cheap for tests
    return o;
  }

  crypto::testing::DeterministicRandom rng_{7};
  base::testing::TestEnv env_{rng_};
};

TEST_F(MasterKeyTest, KeyFileRoundTrip) {
  auto created = CreateMasterKey(env_, "/ws", {});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->size(), kMasterKeySize);
  auto loaded = LoadMasterKey(env_, "/ws", std::nullopt);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(*loaded == *created);
  const std::string config = *env_.ReadFileToString("/ws/master-key.json");
  EXPECT_EQ(config.find(ToHex(created->span())), std::string::npos) << "the config never holds the key";
  EXPECT_EQ(CreateMasterKey(env_, "/ws", {}).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(MasterKeyTest, MissingDamagedOrForeignKeyFileIsDataLoss) {
  ASSERT_TRUE(CreateMasterKey(env_, "/ws", {}).ok());
  const std::string good = *env_.ReadFileToString("/ws/master.key");

  ASSERT_TRUE(env_.DeleteFile("/ws/master.key").ok());
  absl::Status missing = LoadMasterKey(env_, "/ws", std::nullopt).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(missing.message().find("master.key"), std::string_view::npos) << missing;

  ASSERT_TRUE(env_.WriteFileAtomically("/ws/master.key", good.substr(0, good.size() - 5)).ok());
  EXPECT_EQ(LoadMasterKey(env_, "/ws", std::nullopt).status().code(), absl::StatusCode::kDataLoss)
      << "truncated";

  ASSERT_TRUE(env_.CreateDirs("/other").ok());
  ASSERT_TRUE(CreateMasterKey(env_, "/other", {}).ok());
  ASSERT_TRUE(env_.WriteFileAtomically("/ws/master.key", *env_.ReadFileToString("/other/master.key")).ok());
  absl::Status foreign = LoadMasterKey(env_, "/ws", std::nullopt).status();
  EXPECT_EQ(foreign.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(foreign.message().find("does not belong"), std::string_view::npos) << foreign;

  ASSERT_TRUE(env_.WriteFileAtomically("/ws/master.key", good).ok());
  EXPECT_TRUE(LoadMasterKey(env_, "/ws", std::nullopt).ok());
  EXPECT_EQ(LoadMasterKey(env_, "/ws", base::SecretBytes::FromString("x")).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a passphrase given to a key-file workspace";
}

TEST_F(MasterKeyTest, PassphraseRoundTripAndWrongPassphrase) {
  auto created = CreateMasterKey(env_, "/ws", WithPassphrase("correct horse battery staple"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(env_.FileExists("/ws/master.key")) << "nothing secret is stored";

  auto loaded = LoadMasterKey(env_, "/ws", base::SecretBytes::FromString("correct horse battery staple"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(*loaded == *created);

  absl::Status wrong =
      LoadMasterKey(env_, "/ws", base::SecretBytes::FromString("correct horse battery stapler")).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wrong.message().find("wrong passphrase"), std::string_view::npos);
  EXPECT_EQ(wrong.message().find("stapler"), std::string_view::npos) << "the passphrase is never echoed";

  EXPECT_EQ(LoadMasterKey(env_, "/ws", std::nullopt).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MasterKeyTest, SaltMakesEqualPassphrasesGiveDifferentKeys) {
  ASSERT_TRUE(env_.CreateDirs("/ws2").ok());
  auto a = CreateMasterKey(env_, "/ws", WithPassphrase("same"));
  auto b = CreateMasterKey(env_, "/ws2", WithPassphrase("same"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(*a == *b);
}

TEST_F(MasterKeyTest, DamagedConfigIsDataLossAndMissingConfigIsNotAWorkspace) {
  EXPECT_EQ(LoadMasterKey(env_, "/ws", std::nullopt).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(CreateMasterKey(env_, "/ws", WithPassphrase("pw")).ok());
  const std::string good = *env_.ReadFileToString("/ws/master-key.json");
  const auto pw = base::SecretBytes::FromString("pw");
  for (const std::string& bad : {std::string("{not json"), std::string("[]"), good.substr(0, good.size() / 2),
                                 std::string(R"({"source":"passphrase","check":"00"})"),
                                 std::string(R"({"source":"tpm","check":")") + std::string(64, '0') + "\"}",
                                 // A hostile cost that would run for hours is refused, not attempted.
                                 [&] {
                                   std::string s = good;
                                   const size_t at = s.find("\"iterations\": 2");
                                   return s.replace(at, 16, "\"iterations\": 4000000000");
                                 }()}) {
    ASSERT_TRUE(env_.WriteFileAtomically("/ws/master-key.json", bad).ok());
    EXPECT_EQ(LoadMasterKey(env_, "/ws", pw.Clone()).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace veil::store
