#include "veil/store/key_store.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/test_util.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/random.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A RandomSource that always fails: a call given it succeeds only if it creates no key.
using base::testing::FailingRandom;

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ks = KeyStore::Open(path_, master_);
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_.emplace(*std::move(ks));
  }

  // Everything on disk that belongs to the key store (the database and its WAL).
  std::string AllBytes() {
    return base::testing::FileContents(path_) + base::testing::FileContents(path_ + "-wal");
  }

  // The pseudonyms of subjects "<prefix>0", "<prefix>1", ...
  std::vector<std::string> Pseudonyms(const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(ks_->Pseudonym(absl::StrCat(prefix, i)));
    return out;
  }

  // Rows in the table, read through a connection of its own.
  int64_t CountRows(const std::string& where = "1") {
    auto db = Database::Open(path_);
    auto st = db->Prepare("SELECT count(*) FROM data_key WHERE " + where);
    EXPECT_TRUE(st.ok()) << st.status();
    EXPECT_TRUE(*st->Step());
    return st->ColumnInt64(0);
  }

  // The wrapped key of one row as it is stored, to look for in the files.
  std::string WrappedBytes(const std::string& dataset, const std::string& pseudonym) {
    auto db = Database::Open(path_);
    auto st = db->Prepare("SELECT wrapped FROM data_key WHERE dataset = ?1 AND lower(hex(subject)) = ?2");
    EXPECT_TRUE(st->Bind(1, dataset).ok());
    EXPECT_TRUE(st->Bind(2, pseudonym).ok());
    EXPECT_TRUE(*st->Step()) << "no row for " << dataset;
    const std::vector<uint8_t> wrapped = st->ColumnBlob(0);
    return std::string(wrapped.begin(), wrapped.end());
  }

  base::testing::ScopedTempDir tmp_{"veil_key_store_test"};
  const std::string path_ = tmp_.File("keys.db");
  crypto::testing::DeterministicRandom rng_{11};
  base::SecretBytes master_ = *crypto::RandomKey(32, rng_);
  std::optional<KeyStore> ks_;
};

TEST_F(KeyStoreTest, PseudonymsAreStableHexAndNoSubjectIdIsStored) {
  const std::string p = ks_->Pseudonym("alice@example.org");
  EXPECT_EQ(p.size(), 64u);
  EXPECT_EQ(p.find_first_not_of("0123456789abcdef"), std::string::npos) << p;
  EXPECT_EQ(ks_->Pseudonym("alice@example.org"), p);
  EXPECT_NE(ks_->Pseudonym("bob@example.org"), p);
  EXPECT_EQ(KeyStore::Open(path_, master_)->Pseudonym("alice@example.org"), p) << "same master key";

  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", std::vector<std::string>{p}, rng_).ok());
  EXPECT_EQ(CountRows("typeof(subject) = 'blob' AND length(subject) = 32"), 1)
      << "the pseudonym is stored as its 32 raw bytes";
  const std::string bytes = AllBytes();
  EXPECT_EQ(bytes.find("alice@example.org"), std::string::npos) << "no subject id in the clear";
  EXPECT_EQ(bytes.find(p), std::string::npos) << "not the hex text either";
}

TEST_F(KeyStoreTest, GetOrCreateKeysIsIdempotentAndKeepsTheOrder) {
  const std::vector<std::string> pseudonyms = Pseudonyms("subject-", 300);
  auto first = ks_->GetOrCreateKeys("patients", pseudonyms, rng_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), pseudonyms.size());
  EXPECT_EQ(CountRows(), 300);
  absl::flat_hash_set<std::string> distinct;
  for (const base::SecretBytes& key : *first) {
    EXPECT_EQ(key.size(), 32u);
    distinct.insert(std::string(key.data(), key.data() + key.size()));
  }
  EXPECT_EQ(distinct.size(), 300u) << "one fresh key per subject";

  // Again, in reverse order and with a source that cannot produce randomness: every key exists, so none is
  // created, and each comes back at its pseudonym's position.
  std::vector<std::string> reversed(pseudonyms.rbegin(), pseudonyms.rend());
  FailingRandom no_randomness;
  auto second = ks_->GetOrCreateKeys("patients", reversed, no_randomness);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), 300u);
  for (size_t i = 0; i < 300; ++i) EXPECT_TRUE((*second)[i] == (*first)[299 - i]) << i;
  EXPECT_EQ(CountRows(), 300) << "nothing created";

  // A mixed batch: old keys come back, new subjects get new keys.
  std::vector<std::string> mixed = {pseudonyms[7], ks_->Pseudonym("newcomer"), pseudonyms[3]};
  auto third = ks_->GetOrCreateKeys("patients", mixed, rng_);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE((*third)[0] == (*first)[7]);
  EXPECT_TRUE((*third)[2] == (*first)[3]);
  EXPECT_EQ(CountRows(), 301);

  // And a fresh connection sees the same keys (they were committed).
  auto reopened = KeyStore::Open(path_, master_);
  auto fourth = reopened->GetOrCreateKeys("patients", mixed, no_randomness);
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  EXPECT_TRUE((*fourth)[1] == (*third)[1]);

  auto empty = ks_->GetOrCreateKeys("patients", {}, no_randomness);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(KeyStoreTest, ARepeatedPseudonymGetsOneKey) {
  const std::string a = ks_->Pseudonym("a"), b = ks_->Pseudonym("b");
  auto keys = ks_->GetOrCreateKeys("patients", std::vector<std::string>{a, b, a, a}, rng_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_TRUE((*keys)[0] == (*keys)[2]);
  EXPECT_TRUE((*keys)[0] == (*keys)[3]);
  EXPECT_FALSE((*keys)[0] == (*keys)[1]);
  EXPECT_EQ(CountRows(), 2);

  // Now that the dataset has keys, through the lookups: repeats of an existing key and of a new one.
  const std::string c = ks_->Pseudonym("c");
  auto again = ks_->GetOrCreateKeys("patients", std::vector<std::string>{c, b, c, b}, rng_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)[1] == (*keys)[1]);
  EXPECT_TRUE((*again)[3] == (*keys)[1]);
  EXPECT_TRUE((*again)[0] == (*again)[2]);
  EXPECT_FALSE((*again)[0] == (*keys)[0]);
  EXPECT_EQ(CountRows(), 3);
}

TEST_F(KeyStoreTest, ARandomnessFailureStoresNothing) {
  FailingRandom no_randomness;
  const std::vector<std::string> p = Pseudonyms("s", 100);
  absl::Status s = ks_->GetOrCreateKeys("patients", p, no_randomness).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("entropy source unavailable"));
  EXPECT_EQ(CountRows(), 0);
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", p, rng_).ok()) << "the store is still usable";
  EXPECT_EQ(CountRows(), 100);
}

TEST_F(KeyStoreTest, EachDatasetHasItsOwnKeys) {
  const std::vector<std::string> p = Pseudonyms("s", 2);
  auto patients = ks_->GetOrCreateKeys("patients", p, rng_);
  auto claims = ks_->GetOrCreateKeys("claims", p, rng_);
  auto unnamed = ks_->GetOrCreateKeys("", p, rng_);
  ASSERT_TRUE(patients.ok() && claims.ok() && unnamed.ok());
  EXPECT_FALSE((*patients)[0] == (*claims)[0]) << "one key per subject and dataset";
  EXPECT_FALSE((*patients)[0] == (*unnamed)[0]);
  auto datasets = ks_->Datasets();
  ASSERT_TRUE(datasets.ok()) << datasets.status();
  EXPECT_EQ(*datasets, (std::vector<std::string>{"", "claims", "patients"}));
}

TEST_F(KeyStoreTest, LoadKeysReturnsEveryKeyOfTheDataset) {
  const std::vector<std::string> p = Pseudonyms("s", 50);
  auto keys = ks_->GetOrCreateKeys("patients", p, rng_);
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(ks_->GetOrCreateKeys("claims", Pseudonyms("other", 5), rng_).ok());
  auto loaded = ks_->LoadKeys("patients");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 50u) << "only this dataset's keys";
  for (size_t i = 0; i < p.size(); ++i) {
    auto it = loaded->find(p[i]);
    ASSERT_NE(it, loaded->end()) << i;
    EXPECT_TRUE(it->second == (*keys)[i]) << i;
  }
  auto none = ks_->LoadKeys("unknown");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// With a predicate, LoadKeys returns only the wanted subjects' keys and never unwraps the others: a
// damaged key of a subject left out is not an error, the same key of a wanted subject is.
TEST_F(KeyStoreTest, LoadKeysUnwrapsOnlyTheWantedKeys) {
  const std::vector<std::string> p = Pseudonyms("s", 20);
  auto keys = ks_->GetOrCreateKeys("patients", p, rng_);
  ASSERT_TRUE(keys.ok());
  const auto even = [&p](std::string_view pseudonym) {
    return (std::find(p.begin(), p.end(), pseudonym) - p.begin()) % 2 == 0;
  };
  auto loaded = ks_->LoadKeys("patients", even);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 10u);
  for (size_t i = 0; i < p.size(); i += 2) {
    auto it = loaded->find(p[i]);
    ASSERT_NE(it, loaded->end()) << i;
    EXPECT_TRUE(it->second == (*keys)[i]) << i;
  }

  // Subject 1's wrapped key, one bit flipped.
  std::string wrapped = WrappedBytes("patients", p[1]);
  wrapped[20] ^= 1;
  auto db = Database::Open(path_);
  ASSERT_TRUE(db.ok());
  auto flip = db->Prepare("UPDATE data_key SET wrapped = ?2 WHERE subject = ?1");
  std::vector<uint8_t> raw(32);
  ASSERT_TRUE(base::HexDecode(p[1], raw));
  ASSERT_TRUE(flip->BindBlob(1, raw).ok());
  ASSERT_TRUE(flip->BindBlob(2, base::AsBytes(wrapped)).ok());
  ASSERT_TRUE(flip->Run().ok());
  ASSERT_EQ(db->changes(), 1);
  loaded = ks_->LoadKeys("patients", even);
  ASSERT_TRUE(loaded.ok()) << "subject 1 is not wanted: its key is not unwrapped: " << loaded.status();
  EXPECT_EQ(loaded->size(), 10u);
  EXPECT_EQ(ks_->LoadKeys("patients").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->LoadKeys("patients", [](std::string_view) { return true; }).status().code(),
            absl::StatusCode::kDataLoss);
}

// LoadKey is LoadKeys for one subject: the same key, nothing for a subject or dataset without one, and the
// same refusals (a malformed pseudonym, a row moved to another dataset).
TEST_F(KeyStoreTest, LoadKeyReturnsOneSubjectsKey) {
  const std::vector<std::string> p = Pseudonyms("s", 5);
  auto keys = ks_->GetOrCreateKeys("patients", p, rng_);
  ASSERT_TRUE(keys.ok());
  for (size_t i = 0; i < p.size(); ++i) {
    auto key = ks_->LoadKey("patients", p[i]);
    ASSERT_TRUE(key.ok()) << key.status();
    ASSERT_TRUE(key->has_value()) << i;
    EXPECT_TRUE(**key == (*keys)[i]) << i;
  }
  auto absent = ks_->LoadKey("patients", ks_->Pseudonym("nobody"));
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  auto other = ks_->LoadKey("claims", p[0]);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value()) << "keys are per dataset";
  auto bad = ks_->LoadKey("patients", "alice");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("alice")));
  ASSERT_TRUE(Database::Open(path_)->Exec("UPDATE data_key SET dataset = 'claims'").ok());
  EXPECT_EQ(ks_->LoadKey("claims", p[0]).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyStoreTest, MalformedPseudonymsAreRejectedWithoutEchoingThem) {
  const std::string good = ks_->Pseudonym("alice");
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  std::string non_hex = good;
  non_hex[10] = 'g';
  for (const std::string& bad :
       {std::string("alice@example.org"), good.substr(0, 63), good + "0", upper, non_hex, std::string()}) {
    const std::vector<std::string> batch = {good, bad};
    absl::Status s = ks_->GetOrCreateKeys("patients", batch, rng_).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("pseudonym 1 of the batch")) << s;
    if (!bad.empty()) {
      EXPECT_THAT(std::string(s.message()), Not(HasSubstr(bad)));
    }
    EXPECT_EQ(ks_->Shred(batch, std::nullopt).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CountRows(), 0) << "a batch with a bad pseudonym stores nothing, not even the good ones";
}

TEST_F(KeyStoreTest, ATamperedRowIsDataLoss) {
  const std::string alice = ks_->Pseudonym("alice"), bob = ks_->Pseudonym("bob");
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", std::vector<std::string>{alice, bob}, rng_).ok());
  auto db = Database::Open(path_);
  auto swap = db->Prepare(
      "UPDATE data_key SET wrapped = (SELECT wrapped FROM data_key WHERE subject = ?2) WHERE subject = ?1");
  ASSERT_TRUE(swap.ok()) << swap.status();
  std::vector<uint8_t> raw_alice(32), raw_bob(32);
  ASSERT_TRUE(base::HexDecode(alice, raw_alice));
  ASSERT_TRUE(base::HexDecode(bob, raw_bob));
  ASSERT_TRUE(swap->BindBlob(1, raw_alice).ok());
  ASSERT_TRUE(swap->BindBlob(2, raw_bob).ok());
  ASSERT_TRUE(swap->Run().ok());
  ASSERT_EQ(db->changes(), 1);

  // bob's wrapped key moved to alice's row does not unwrap: the AAD binds it to its row.
  absl::Status s = ks_->GetOrCreateKeys("patients", std::vector<std::string>{alice}, rng_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("\"patients\""));
  EXPECT_THAT(s.message(), HasSubstr(alice.substr(0, 16)));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(alice.substr(0, 17)))) << "16 hex digits, no more";
  s = ks_->LoadKeys("patients").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr(alice.substr(0, 16)));
  EXPECT_TRUE(ks_->GetOrCreateKeys("patients", std::vector<std::string>{bob}, rng_).ok()) << "bob's own row";

  // One flipped bit in bob's wrapped key.
  std::string wrapped = WrappedBytes("patients", bob);
  wrapped[20] ^= 1;
  auto flip = db->Prepare("UPDATE data_key SET wrapped = ?2 WHERE subject = ?1");
  ASSERT_TRUE(flip->BindBlob(1, raw_bob).ok());
  ASSERT_TRUE(flip->BindBlob(2, base::AsBytes(wrapped)).ok());
  ASSERT_TRUE(flip->Run().ok());
  ASSERT_EQ(db->changes(), 1);
  EXPECT_EQ(ks_->GetOrCreateKeys("patients", std::vector<std::string>{bob}, rng_).status().code(),
            absl::StatusCode::kDataLoss);

  // A pseudonym that is not 32 bytes.
  ASSERT_TRUE(
      db->Exec("UPDATE data_key SET subject = x'0102' WHERE subject = (SELECT min(subject) FROM data_key)")
          .ok());
  s = ks_->LoadKeys("patients").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("malformed pseudonym"));
}

TEST_F(KeyStoreTest, ARowMovedToAnotherDatasetIsDataLoss) {
  const std::vector<std::string> p = {ks_->Pseudonym("alice")};
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", p, rng_).ok());
  ASSERT_TRUE(Database::Open(path_)->Exec("UPDATE data_key SET dataset = 'claims'").ok());
  EXPECT_EQ(ks_->GetOrCreateKeys("claims", p, rng_).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->LoadKeys("claims").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyStoreTest, WrongMasterKeyIsDataLossAndChangesNothing) {
  const std::vector<std::string> p = Pseudonyms("s", 3);
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", p, rng_).ok());
  base::SecretBytes other = *crypto::RandomKey(32, rng_);
  auto wrong = KeyStore::Open(path_, other);
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_NE(wrong->Pseudonym("s0"), p[0]) << "the pseudonym key derives from the master key too";
  // Existing pseudonyms (as the vault would hold them) no longer unwrap; new ones in the same batch are not
  // kept when the batch fails.
  std::vector<std::string> batch = {wrong->Pseudonym("newcomer"), p[1]};
  EXPECT_EQ(wrong->GetOrCreateKeys("patients", batch, rng_).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(wrong->LoadKeys("patients").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CountRows(), 3) << "the failed batch was rolled back";
  EXPECT_TRUE(ks_->LoadKeys("patients").ok()) << "the right key still reads everything";
}

// The test that matters (issue 3): records sealed before an erasure, read afterwards with the live key store,
// reveal nothing of the erased subject while every other subject still decrypts; and the erased key's bytes
// are gone from keys.db and keys.db-wal.
TEST_F(KeyStoreTest, ShreddingMakesOldCopiesUnreadableAndLeavesOthers) {
  const std::vector<std::string> subjects = {"alice", "bob", "carol"};
  std::vector<std::string> pseudonyms;
  for (const std::string& s : subjects) pseudonyms.push_back(ks_->Pseudonym(s));
  auto keys = ks_->GetOrCreateKeys("patients", pseudonyms, rng_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  // Sealed records, as a backup taken before the erasure holds them.
  std::vector<std::vector<uint8_t>> vault_copy;
  for (size_t i = 0; i < subjects.size(); ++i) {
    vault_copy.push_back(*crypto::Seal((*keys)[i], base::AsBytes("diagnosis of " + subjects[i]),
                                       base::AsBytes("patients/" + subjects[i]), rng_));
  }
  ASSERT_TRUE(ks_->GetOrCreateKeys("claims", std::vector<std::string>{pseudonyms[0]}, rng_).ok());

  // The wrapped keys as they sit on disk, to check that the erasure removes them from the files.
  const std::string wrapped_patients = WrappedBytes("patients", pseudonyms[0]);
  const std::string wrapped_claims = WrappedBytes("claims", pseudonyms[0]);
  ASSERT_NE(AllBytes().find(wrapped_patients), std::string::npos);
  ASSERT_NE(AllBytes().find(wrapped_claims), std::string::npos);

  auto shredded = ks_->Shred(std::vector<std::string>{pseudonyms[0]}, std::nullopt);
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(*shredded, 2) << "both of alice's keys";

  // The live store no longer has alice's key: asking for it makes a new one, which opens nothing old.
  auto after = ks_->GetOrCreateKeys("patients", pseudonyms, rng_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE((*after)[0] == (*keys)[0]);
  EXPECT_FALSE(crypto::Open((*after)[0], vault_copy[0], base::AsBytes("patients/alice")).ok());
  for (size_t i = 1; i < subjects.size(); ++i) {
    auto plain = crypto::Open((*after)[i], vault_copy[i], base::AsBytes("patients/" + subjects[i]));
    ASSERT_TRUE(plain.ok()) << subjects[i];
    EXPECT_EQ(std::string(plain->begin(), plain->end()), "diagnosis of " + subjects[i]);
  }
  ASSERT_TRUE(ks_->Shred(std::vector<std::string>{pseudonyms[0]}, std::nullopt).ok());  // the new one
  EXPECT_EQ(base::testing::FileContents(path_ + "-wal"), "") << "checkpointed and truncated";
  const std::string bytes = AllBytes();
  EXPECT_EQ(bytes.find(wrapped_patients), std::string::npos) << "the wrapped key is gone from the files";
  EXPECT_EQ(bytes.find(wrapped_claims), std::string::npos);
}

TEST_F(KeyStoreTest, ShredsAListInOneDatasetOrInAll) {
  const std::vector<std::string> p = Pseudonyms("s", 3);
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", p, rng_).ok());
  ASSERT_TRUE(ks_->GetOrCreateKeys("claims", p, rng_).ok());
  ASSERT_TRUE(ks_->GetOrCreateKeys("visits", std::vector<std::string>{p[2]}, rng_).ok());

  auto one = ks_->Shred(std::vector<std::string>{p[0]}, "claims");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, 1);
  EXPECT_FALSE(ks_->LoadKeys("claims")->contains(p[0]));
  EXPECT_TRUE(ks_->LoadKeys("patients")->contains(p[0])) << "other datasets untouched";

  // Across every dataset; a pseudonym without keys and a repeated one count nothing.
  const std::vector<std::string> batch = {p[2], ks_->Pseudonym("never-ingested"), p[1], p[2]};
  auto all = ks_->Shred(batch, std::nullopt);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, 5) << "p1 in patients and claims, p2 in patients, claims and visits";
  EXPECT_EQ(CountRows(), 1) << "only p0 in patients is left";
  EXPECT_TRUE(ks_->LoadKeys("patients")->contains(p[0]));
  EXPECT_EQ(*ks_->Datasets(), (std::vector<std::string>{"patients"})) << "no keys left in the others";

  EXPECT_EQ(*ks_->Shred(batch, std::nullopt), 0) << "nothing left to shred";
  EXPECT_EQ(*ks_->Shred({}, std::nullopt), 0);
  EXPECT_EQ(*ks_->Shred(std::vector<std::string>{p[0]}, "claims"), 0);
}

TEST_F(KeyStoreTest, ShredDatasetDestroysEveryKeyOfTheDatasetOnly) {
  const std::vector<std::string> p = Pseudonyms("s", 40);
  ASSERT_TRUE(ks_->GetOrCreateKeys("patients", p, rng_).ok());
  ASSERT_TRUE(ks_->GetOrCreateKeys("claims", p, rng_).ok());
  std::vector<std::string> wrapped;
  for (const std::string& pseudonym : p) wrapped.push_back(WrappedBytes("claims", pseudonym));

  auto shredded = ks_->ShredDataset("claims");
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(*shredded, 40);
  EXPECT_EQ(*ks_->Datasets(), (std::vector<std::string>{"patients"}));
  EXPECT_TRUE(ks_->LoadKeys("claims")->empty());
  EXPECT_EQ(ks_->LoadKeys("patients")->size(), 40u);
  const std::string bytes = AllBytes();
  for (const std::string& w : wrapped) EXPECT_EQ(bytes.find(w), std::string::npos);
  EXPECT_EQ(*ks_->ShredDataset("claims"), 0);
  EXPECT_EQ(*ks_->ShredDataset("unknown"), 0);
}

}  // namespace
}  // namespace veil::store
