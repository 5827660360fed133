#include "veil/store/key_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "veil/base/bytes.h"
#include "veil/base/test_util.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/random.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::store {
namespace {

class KeyStoreTest : public ::testing::Test {
 protected:
  // Everything on disk that belongs to the key store (the database and its WAL).
  std::string AllBytes() {
    return base::testing::FileContents(path_) + base::testing::FileContents(path_ + "-wal");
  }

  base::testing::ScopedTempDir tmp_{"veil_key_store_test"};
  const std::string path_ = tmp_.File("keys.db");
  crypto::testing::DeterministicRandom rng_{11};
  base::SecretBytes master_ = *crypto::RandomKey(32, rng_);
};

TEST_F(KeyStoreTest, KeysAreStablePerSubjectAndDatasetAndStoredUnderPseudonyms) {
  auto ks = KeyStore::Open(path_, master_);
  ASSERT_TRUE(ks.ok()) << ks.status();
  const absl::Status missing = ks->Get("patients", "alice@example.org").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("\"patients\""), std::string_view::npos) << missing;
  EXPECT_EQ(missing.message().find("alice"), std::string_view::npos) << "never the subject id: " << missing;
  auto a1 = ks->GetOrCreate("patients", "alice@example.org", rng_);
  auto a2 = ks->GetOrCreate("patients", "alice@example.org", rng_);
  auto b = ks->GetOrCreate("patients", "bob@example.org", rng_);
  auto a_other = ks->GetOrCreate("claims", "alice@example.org", rng_);
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok() && a_other.ok());
  EXPECT_TRUE(*a1 == *a2);
  EXPECT_FALSE(*a1 == *b);
  EXPECT_FALSE(*a1 == *a_other) << "one key per subject and dataset";
  EXPECT_EQ(ks->Pseudonym("alice@example.org").size(), 64u);
  EXPECT_EQ(AllBytes().find("alice@example.org"), std::string::npos) << "no subject id in the clear";
}

TEST_F(KeyStoreTest, WrongMasterKeyIsDataLoss) {
  ASSERT_TRUE(KeyStore::Open(path_, master_)->GetOrCreate("patients", "alice", rng_).ok());
  base::SecretBytes other = *crypto::RandomKey(32, rng_);
  auto ks = KeyStore::Open(path_, other);
  ASSERT_TRUE(ks.ok());
  // Under another master key the pseudonym differs too, so the row is simply not found...
  EXPECT_EQ(ks->Get("patients", "alice").status().code(), absl::StatusCode::kNotFound);
  // ... and a row whose wrapping does not verify is DataLoss.
  ASSERT_TRUE(KeyStore::Open(path_, master_)->GetOrCreate("patients", "bob", rng_).ok());
  auto db = Database::Open(path_);
  ASSERT_TRUE(db->Exec("UPDATE data_key SET wrapped = (SELECT wrapped FROM data_key WHERE subject = '" +
                       KeyStore::Open(path_, master_)->Pseudonym("bob") + "') WHERE subject = '" +
                       KeyStore::Open(path_, master_)->Pseudonym("alice") + "'")
                  .ok());
  EXPECT_EQ(KeyStore::Open(path_, master_)->Get("patients", "alice").status().code(),
            absl::StatusCode::kDataLoss)
      << "bob's wrapped key moved to alice's row does not unwrap";
}

// The test that matters (issue 3): records sealed before an erasure, read afterwards with the live key store,
// reveal nothing of the erased subject while every other subject still decrypts.
TEST_F(KeyStoreTest, ShreddingMakesOldCopiesUnreadableAndLeavesOthers) {
  auto ks = KeyStore::Open(path_, master_);
  ASSERT_TRUE(ks.ok());
  const std::vector<std::string> subjects = {"alice", "bob", "carol"};
  std::vector<std::vector<uint8_t>>
      vault_copy;  // sealed records, as a backup taken before the erasure holds them
  for (const std::string& s : subjects) {
    base::SecretBytes key = *ks->GetOrCreate("patients", s, rng_);
    vault_copy.push_back(
        *crypto::Seal(key, base::AsBytes("diagnosis of " + s), base::AsBytes("patients/" + s), rng_));
  }
  ASSERT_TRUE(ks->GetOrCreate("claims", "alice", rng_).ok());

  // The wrapped key as it sits on disk, to check that the erasure removes it from the files.
  auto probe = Database::Open(path_);
  auto st = probe->Prepare("SELECT wrapped FROM data_key WHERE subject = ?1 AND dataset = 'patients'");
  ASSERT_TRUE(st->Bind(1, ks->Pseudonym("alice")).ok());
  ASSERT_TRUE(*st->Step());
  const std::vector<uint8_t> wrapped = st->ColumnBlob(0);
  const std::string wrapped_bytes(wrapped.begin(), wrapped.end());
  st = probe->Prepare("SELECT 1");  // release the read statement
  ASSERT_NE(AllBytes().find(wrapped_bytes), std::string::npos);

  auto shredded = ks->Shred("alice", std::nullopt);
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(*shredded, 2) << "both of alice's keys";

  EXPECT_EQ(ks->Get("patients", "alice").status().code(), absl::StatusCode::kNotFound);
  for (size_t i = 1; i < subjects.size(); ++i) {
    base::SecretBytes key = *ks->Get("patients", subjects[i]);
    auto plain = crypto::Open(key, vault_copy[i], base::AsBytes("patients/" + subjects[i]));
    ASSERT_TRUE(plain.ok()) << subjects[i];
    EXPECT_EQ(std::string(plain->begin(), plain->end()), "diagnosis of " + subjects[i]);
  }
  EXPECT_EQ(AllBytes().find(wrapped_bytes), std::string::npos) << "the wrapped key is gone from the files";
  EXPECT_EQ(*ks->Shred("alice", std::nullopt), 0) << "nothing left to shred";
  EXPECT_EQ(*ks->Shred("bob", std::string_view("claims")), 0);
  EXPECT_EQ(*ks->Shred("bob", std::string_view("patients")), 1);
}

}  // namespace
}  // namespace veil::store
