#include "veil/fl/secagg.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/splitmix.h"
#include "veil/crypto/hkdf.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/crypto/x25519.h"
#include "veil/fl/mask_prg.h"
#include "veil/fl/secagg_test_util.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;
using testing::Dropouts;
using ::testing::HasSubstr;
using testing::MakeCohort;
using testing::RunRound;

std::vector<std::vector<uint32_t>> Inputs(uint32_t n, uint32_t len, uint64_t seed) {
  base::SplitMix64 r(seed);
  std::vector<std::vector<uint32_t>> x(n, std::vector<uint32_t>(len));
  for (auto& v : x)
    for (uint32_t& w : v) w = static_cast<uint32_t>(r.Next());
  return x;
}

std::vector<uint32_t> PlainSum(const std::vector<std::vector<uint32_t>>& x,
                               const std::vector<uint32_t>& ids) {
  std::vector<uint32_t> s(x[0].size(), 0);
  for (uint32_t u : ids)
    for (size_t i = 0; i < s.size(); ++i) s[i] += x[u][i];
  return s;
}

SecAggConfig Config(uint32_t n, uint32_t t, uint32_t min_clients, uint32_t degree = 0, uint32_t len = 37) {
  SecAggConfig c;
  c.round_id = 42;
  c.num_clients = n;
  c.vector_length = len;
  c.threshold = t;
  c.min_clients = min_clients;
  c.degree = degree;
  c.graph_seed[3] = 9;
  return c;
}

struct Case {
  uint32_t n, t, min_clients, degree;
  std::vector<uint32_t> drop_advertise, drop_share, drop_masked, drop_unmask;
  SecAggThreatModel model = SecAggThreatModel::kActive;
};

TEST(SecAggTest, SumEqualsPlaintextSumOfSurvivorsWithDropoutsAtEveryPhase) {
  const std::vector<Case> cases = {
      {3, 2, 3, 0, {}, {}, {}, {}},
      {5, 3, 3, 0, {}, {}, {4}, {}},
      {10, 5, 5, 0, {9}, {0}, {3}, {5}},     // dropouts at every phase
      {10, 6, 6, 0, {}, {}, {1, 2, 3}, {}},  // 30% after sharing keys
      {20, 5, 10, 8, {}, {}, {0, 11}, {2}},  // SecAgg+ graph
      {30, 5, 12, 8, {1}, {20}, {3}, {}},
      // Semi-honest SecAgg+ parameters: t well below k / 2.
      {40, 3, 12, 10, {}, {}, {0, 5, 17, 33}, {}, SecAggThreatModel::kSemiHonest},
  };
  for (const Case& cs : cases) {
    SCOPED_TRACE(::testing::Message() << "n=" << cs.n << " t=" << cs.t << " k=" << cs.degree);
    DeterministicRandom rng(cs.n * 100 + cs.t);
    SecAggConfig config = Config(cs.n, cs.t, cs.min_clients, cs.degree);
    config.threat_model = cs.model;
    auto cohort = MakeCohort(config, rng);
    ASSERT_TRUE(cohort.ok()) << cohort.status();
    const auto x = Inputs(cs.n, 37, cs.n);
    Dropouts d;
    d.before_advertise.insert(cs.drop_advertise.begin(), cs.drop_advertise.end());
    d.before_share_keys.insert(cs.drop_share.begin(), cs.drop_share.end());
    d.before_masked_input.insert(cs.drop_masked.begin(), cs.drop_masked.end());
    d.before_unmask.insert(cs.drop_unmask.begin(), cs.drop_unmask.end());
    auto result = RunRound(*cohort, x, d);
    ASSERT_TRUE(result.ok()) << result.status();
    std::vector<uint32_t> expected_ids;
    for (uint32_t u = 0; u < cs.n; ++u) {
      if (!d.before_advertise.contains(u) && !d.before_share_keys.contains(u) &&
          !d.before_masked_input.contains(u))
        expected_ids.push_back(u);
    }
    EXPECT_EQ(result->included, expected_ids);
    EXPECT_EQ(result->dropped, cs.drop_masked);
    EXPECT_EQ(result->sum, PlainSum(x, expected_ids));
  }
}

TEST(SecAggTest, FewerThanQuorumAbortsCleanly) {
  for (int phase = 0; phase < 4; ++phase) {
    DeterministicRandom rng(7 + phase);
    auto cohort = MakeCohort(Config(6, 4, 5), rng);
    ASSERT_TRUE(cohort.ok());
    Dropouts d;
    absl::flat_hash_set<uint32_t>* set[] = {&d.before_advertise, &d.before_share_keys, &d.before_masked_input,
                                            &d.before_unmask};
    set[phase]->insert({1, 4});  // 4 of 6 remain, min_clients = 5
    auto result = RunRound(*cohort, Inputs(6, 37, 1), d);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << phase;
    EXPECT_THAT(result.status().message(), HasSubstr("aborted: 4 clients remain")) << phase;
  }
}

TEST(SecAggTest, TooFewSharesForADroppedClientAborts) {
  // Sparse graph: a client whose neighbours mostly drop before unmasking cannot be reconstructed.
  DeterministicRandom rng(11);
  auto cohort = MakeCohort(Config(20, 3, 5, 4), rng);
  ASSERT_TRUE(cohort.ok());
  const auto nb = cohort->setup->graph().neighbours(0);
  Dropouts d;
  d.before_masked_input.insert(0);
  d.before_unmask.insert(nb.begin(), nb.begin() + 2);  // 2 of 4 neighbours gone: 2 < t = 3 shares
  auto result = RunRound(*cohort, Inputs(20, 37, 2), d);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("fewer than threshold"));
}

// Runs advertise and returns the directory.
KeyDirectory Advertise(testing::Cohort& c, SecAggServer& server) {
  for (auto& client : c.clients) EXPECT_TRUE(server.ReceiveAdvertise(*client->Advertise()).ok());
  return *server.FinishAdvertise();
}

TEST(SecAggTest, ServerSubstitutingAKeyIsDetected) {
  DeterministicRandom rng(12);
  auto cohort = MakeCohort(Config(5, 3, 4), rng);
  ASSERT_TRUE(cohort.ok());
  SecAggServer server(cohort->setup);
  KeyDirectory dir = Advertise(*cohort, server);
  // The server replaces client 3's masking key with one of its own (it cannot sign it).
  auto evil = crypto::GenerateX25519KeyPair(rng);
  dir.clients[3].s_pk = evil->public_key;
  for (uint32_t u = 0; u < 5; ++u) {
    auto r = cohort->clients[u]->ShareKeysRound(dir);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << u;
    EXPECT_THAT(r.status().message(), HasSubstr("key substitution"));
  }
  // The server-side check rejects a forged advertisement too.
  DeterministicRandom rng2(13);
  auto cohort2 = MakeCohort(Config(5, 3, 4), rng2);
  SecAggServer server2(cohort2->setup);
  AdvertiseKeys a = *cohort2->clients[0]->Advertise();
  a.c_pk[0] ^= 1;
  EXPECT_EQ(server2.ReceiveAdvertise(a).code(), absl::StatusCode::kPermissionDenied);
}

TEST(SecAggTest, TamperedOrMisroutedShareCiphertextIsRejected) {
  for (int variant = 0; variant < 2; ++variant) {
    DeterministicRandom rng(14);
    auto cohort = MakeCohort(Config(5, 3, 4), rng);
    ASSERT_TRUE(cohort.ok());
    SecAggServer server(cohort->setup);
    KeyDirectory dir = Advertise(*cohort, server);
    for (auto& c : cohort->clients) ASSERT_TRUE(server.ReceiveShareKeys(*c->ShareKeysRound(dir)).ok());
    auto bundles = *server.FinishShareKeys();
    if (variant == 0) {
      bundles[2].shares[1].ciphertext[5] ^= 0x10;  // flipped bit
    } else {
      bundles[2].shares[1].ciphertext = bundles[3].shares[1].ciphertext;  // a share meant for another client
    }
    auto r = cohort->clients[2]->MaskInput(bundles[2], std::vector<uint32_t>(37, 1));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << variant;
    EXPECT_THAT(r.status().message(), HasSubstr("failed authentication"));
  }
}

TEST(SecAggTest, ClientRefusesToRevealBothSharesOfAPeer) {
  DeterministicRandom rng(15);
  auto cohort = MakeCohort(Config(5, 3, 3), rng);
  ASSERT_TRUE(cohort.ok());
  SecAggServer server(cohort->setup);
  KeyDirectory dir = Advertise(*cohort, server);
  for (auto& c : cohort->clients) ASSERT_TRUE(server.ReceiveShareKeys(*c->ShareKeysRound(dir)).ok());
  auto bundles = *server.FinishShareKeys();
  for (uint32_t u = 0; u < 5; ++u) {
    ASSERT_TRUE(cohort->clients[u]->MaskInput(bundles[u], std::vector<uint32_t>(37, u)).ok());
  }
  // A request naming client 4 as both survivor and dropped.
  UnmaskRequest both{42, {0, 1, 2, 3, 4}, {4}};
  auto r = cohort->clients[0]->SignSurvivors(both);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("refusing to reveal both"));
  // A request that omits a client of U2 (so that a later one could ask for the other share) is refused too.
  UnmaskRequest partial{42, {0, 1, 2, 3}, {}};
  EXPECT_EQ(cohort->clients[1]->SignSurvivors(partial).status().code(), absl::StatusCode::kPermissionDenied);
  // After an honest answer, a second request (e.g. now calling 4 dropped) is refused.
  UnmaskRequest first{42, {0, 1, 2, 3, 4}, {}};
  ASSERT_TRUE(cohort->clients[2]->SignSurvivors(first).ok());
  UnmaskRequest second{42, {0, 1, 2, 3}, {4}};
  auto again = cohort->clients[2]->SignSurvivors(second);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(again.status().message(), HasSubstr("second survivor list"));
}

TEST(SecAggTest, ServerRejectsMalformedRoundMessages) {
  DeterministicRandom rng(16);
  auto cohort = MakeCohort(Config(4, 2, 3), rng);
  ASSERT_TRUE(cohort.ok());
  SecAggServer server(cohort->setup);
  AdvertiseKeys a = *cohort->clients[0]->Advertise();
  ASSERT_TRUE(server.ReceiveAdvertise(a).ok());
  EXPECT_EQ(server.ReceiveAdvertise(a).code(), absl::StatusCode::kInvalidArgument);  // duplicate
  a.client_id = 99;
  EXPECT_EQ(server.ReceiveAdvertise(a).code(), absl::StatusCode::kInvalidArgument);  // out of range
  for (uint32_t u = 1; u < 4; ++u)
    ASSERT_TRUE(server.ReceiveAdvertise(*cohort->clients[u]->Advertise()).ok());
  KeyDirectory dir = *server.FinishAdvertise();
  ShareKeys s = *cohort->clients[1]->ShareKeysRound(dir);
  ShareKeys missing = s;
  missing.shares.pop_back();
  EXPECT_EQ(server.ReceiveShareKeys(missing).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server.ReceiveShareKeys(s).ok());
  MaskedInput early{42, 1, 32, std::vector<uint32_t>(37)};
  EXPECT_EQ(server.ReceiveMaskedInput(early).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SecAggTest, SetupValidatesParameters) {
  std::vector<crypto::Ed25519PublicKey> ids;
  DeterministicRandom rng(17);
  for (int i = 0; i < 10; ++i) ids.push_back(crypto::Ed25519PrivateKey::Generate(rng)->public_key());
  EXPECT_FALSE(SecAggSetup::Create(Config(10, 4, 5), ids).ok());     // t <= (n - 1) / 2
  EXPECT_FALSE(SecAggSetup::Create(Config(10, 10, 10), ids).ok());   // t > degree
  EXPECT_FALSE(SecAggSetup::Create(Config(10, 5, 4), ids).ok());     // min_clients < t
  EXPECT_FALSE(SecAggSetup::Create(Config(10, 3, 5, 5), ids).ok());  // odd degree
  EXPECT_FALSE(SecAggSetup::Create(Config(11, 6, 6), ids).ok());     // identity count
  EXPECT_TRUE(SecAggSetup::Create(Config(10, 5, 5), ids).ok());
  SecAggConfig semi = Config(10, 4, 5);
  semi.threat_model = SecAggThreatModel::kSemiHonest;  // t <= k / 2 allowed only here
  EXPECT_TRUE(SecAggSetup::Create(semi, ids).ok());
}

TEST(SecAggTest, DeterministicUnderTestDrbg) {
  std::vector<uint32_t> first;
  for (int run = 0; run < 2; ++run) {
    DeterministicRandom rng(18);
    auto cohort = MakeCohort(Config(4, 2, 3), rng);
    SecAggServer server(cohort->setup);
    KeyDirectory dir = Advertise(*cohort, server);
    for (auto& c : cohort->clients) ASSERT_TRUE(server.ReceiveShareKeys(*c->ShareKeysRound(dir)).ok());
    auto bundles = *server.FinishShareKeys();
    auto m = cohort->clients[0]->MaskInput(bundles[0], std::vector<uint32_t>(37, 5));
    ASSERT_TRUE(m.ok());
    if (run == 0) {
      first = m->masked;
      EXPECT_NE(first, std::vector<uint32_t>(37, 5));  // masked
    } else {
      EXPECT_EQ(m->masked, first);
    }
  }
}

TEST(SecAggTest, PairSeedsMatchTheGenericDerivation) {
  crypto::testing::DeterministicRandom rng(77);
  auto own = crypto::GenerateX25519KeyPair(rng);
  ASSERT_TRUE(own.ok());
  std::vector<crypto::X25519PublicKey> pks;
  std::vector<uint32_t> ids = {0, 3, 9};
  for (int i = 0; i < 3; ++i) pks.push_back(crypto::GenerateX25519KeyPair(rng)->public_key);
  std::vector<const crypto::X25519PublicKey*> ptrs = {&pks[0], &pks[1], &pks[2]};
  std::vector<base::SecretBytes> seeds;
  ASSERT_TRUE(internal::PairSeeds(own->private_key, 5, ptrs, ids, 1234, seeds).ok());
  ASSERT_EQ(seeds.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    // HKDF-SHA-256(X25519(sk, pk), salt = empty, info = label || version || round || min || max), 32 bytes.
    auto shared = crypto::X25519(own->private_key, pks[i]);
    ASSERT_TRUE(shared.ok());
    std::string label = "veil fl secagg mask v1";
    std::vector<uint8_t> info(label.begin(), label.end());
    info.push_back(kSecAggWireVersion);
    const uint64_t round = 1234;
    for (int b = 0; b < 8; ++b) info.push_back(static_cast<uint8_t>(round >> (8 * b)));
    const uint32_t lo = std::min<uint32_t>(5, ids[i]), hi = std::max<uint32_t>(5, ids[i]);
    for (int b = 0; b < 4; ++b) info.push_back(static_cast<uint8_t>(lo >> (8 * b)));
    for (int b = 0; b < 4; ++b) info.push_back(static_cast<uint8_t>(hi >> (8 * b)));
    auto want = crypto::HkdfSha256(*shared, {}, info, 32);
    ASSERT_TRUE(want.ok());
    EXPECT_TRUE(std::equal(want->span().begin(), want->span().end(), seeds[i].span().begin())) << i;
  }
  // A low-order peer key (all zeros) is refused, not turned into a predictable seed.
  crypto::X25519PublicKey zero{};
  std::vector<const crypto::X25519PublicKey*> bad = {&zero};
  std::vector<uint32_t> bad_id = {1};
  EXPECT_FALSE(internal::PairSeeds(own->private_key, 5, bad, bad_id, 1, seeds).ok());
}

TEST(SecAggTest, MaskExpanderEqualsSeedBySeedMasks) {
  std::vector<base::SecretBytes> seeds;
  for (int i = 0; i < 5; ++i) {
    seeds.emplace_back(32);
    seeds.back().data()[0] = static_cast<uint8_t>(i + 1);
  }
  std::vector<SignedSeed> signed_seeds;
  for (int i = 0; i < 5; ++i) signed_seeds.push_back(SignedSeed{&seeds[i], i % 2 == 1});
  for (size_t len : {size_t{1}, kMaskBlockWords - 1, kMaskBlockWords, 3 * kMaskBlockWords + 17}) {
    std::vector<uint32_t> a(len), b(len);
    for (size_t i = 0; i < len; ++i) a[i] = b[i] = static_cast<uint32_t>(i * 2654435761u);
    MaskExpander expander;
    ASSERT_TRUE(expander.AddMasks(signed_seeds, a).ok());
    ASSERT_TRUE(expander.AddMasks(std::span<const SignedSeed>(signed_seeds).first(2), b).ok());  // reuse
    for (int i = 2; i < 5; ++i) ASSERT_TRUE(AddMask(seeds[i], b, i % 2 == 1).ok());
    EXPECT_EQ(a, b) << len;
  }
  base::SecretBytes short_seed(16);
  std::vector<SignedSeed> bad = {SignedSeed{&short_seed, false}};
  std::vector<uint32_t> v(4);
  MaskExpander expander;
  EXPECT_EQ(expander.AddMasks(bad, v).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecAggTest, SmallerRingGivesTheSumModuloItsSize) {
  DeterministicRandom rng(24);
  SecAggConfig config = Config(10, 6, 6);
  config.ring_bits = 24;
  auto cohort = MakeCohort(config, rng);
  ASSERT_TRUE(cohort.ok()) << cohort.status();
  const auto x = Inputs(10, 37, 5);  // full 32-bit words: the client reduces them
  Dropouts d;
  d.before_masked_input = {2, 7};
  auto result = RunRound(*cohort, x, d);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<uint32_t> want = PlainSum(x, result->included);
  for (uint32_t& w : want) w &= (1u << 24) - 1;
  EXPECT_EQ(result->sum, want);
  config.ring_bits = 33;
  std::vector<crypto::Ed25519PublicKey> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(crypto::Ed25519PrivateKey::Generate(rng)->public_key());
  EXPECT_EQ(SecAggSetup::Create(config, ids).status().code(), absl::StatusCode::kInvalidArgument);
}

// An active server tells clients 0-4 that client 9 survived (to collect b-shares of 9) and clients 5-8 that
// it dropped (to collect its masking-key shares). The consistency round detects it at every client: neither
// story gathers threshold = 6 neighbour signatures, and signatures over one story do not verify for the
// other.
TEST(SecAggTest, EquivocatingServerIsDetectedByTheConsistencyRound) {
  DeterministicRandom rng(99);
  auto cohort = MakeCohort(Config(10, 6, 6), rng);
  ASSERT_TRUE(cohort.ok());
  SecAggServer server(cohort->setup);
  for (auto& c : cohort->clients) ASSERT_TRUE(server.ReceiveAdvertise(*c->Advertise()).ok());
  KeyDirectory dir = *server.FinishAdvertise();
  for (auto& c : cohort->clients) ASSERT_TRUE(server.ReceiveShareKeys(*c->ShareKeysRound(dir)).ok());
  auto bundles = *server.FinishShareKeys();
  for (uint32_t u = 0; u < 10; ++u) {
    auto m = cohort->clients[u]->MaskInput(bundles[u], std::vector<uint32_t>(37, u));
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(server.ReceiveMaskedInput(*m).ok());
  }
  const UnmaskRequest story_a{42, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {}};
  const UnmaskRequest story_b{42, {0, 1, 2, 3, 4, 5, 6, 7, 8}, {9}};
  ConsistencyProof proof_a{42, story_a.survivors, story_a.dropped, {}};
  ConsistencyProof proof_b{42, story_b.survivors, story_b.dropped, {}};
  std::vector<SignerSignature> sigs_b;
  for (uint32_t u = 0; u < 5; ++u) {
    auto s = cohort->clients[u]->SignSurvivors(story_a);
    ASSERT_TRUE(s.ok()) << s.status();
    proof_a.signatures.push_back(SignerSignature{u, s->signature});
  }
  for (uint32_t u = 5; u < 9; ++u) {
    auto s = cohort->clients[u]->SignSurvivors(story_b);
    ASSERT_TRUE(s.ok()) << s.status();
    proof_b.signatures.push_back(SignerSignature{u, s->signature});
  }
  // Each group sees only its own story's signatures: too few.
  auto r0 = cohort->clients[0]->Unmask(proof_a);
  EXPECT_EQ(r0.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r0.status().message(), HasSubstr("consistency check failed"));
  auto r5 = cohort->clients[5]->Unmask(proof_b);
  EXPECT_EQ(r5.status().code(), absl::StatusCode::kPermissionDenied);
  // Padding story A's proof with the signatures over story B: they do not verify.
  ConsistencyProof mixed = proof_a;
  for (const SignerSignature& s : proof_b.signatures) mixed.signatures.push_back(s);
  auto r1 = cohort->clients[1]->Unmask(mixed);
  EXPECT_EQ(r1.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r1.status().message(), HasSubstr("equivocation"));
  // Showing client 6 story A (which it did not sign) is refused as well.
  auto r6 = cohort->clients[6]->Unmask(mixed);
  EXPECT_EQ(r6.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r6.status().message(), HasSubstr("another survivor list"));
  // The server's own check rejects a signature over another list.
  auto s9 = cohort->clients[9]->SignSurvivors(story_a);
  ASSERT_TRUE(s9.ok());
  ASSERT_TRUE(server.FinishMaskedInput().ok());  // the honest request (all 10 survived) is story A
  SurvivorSignature forged{42, 5, proof_b.signatures[0].signature};
  EXPECT_EQ(server.ReceiveSurvivorSignature(forged).code(), absl::StatusCode::kPermissionDenied);
}

TEST(SecAggTest, ConsistencyRoundAbortsBelowQuorumOfSigners) {
  DeterministicRandom rng(5);
  auto cohort = MakeCohort(Config(6, 4, 5), rng);
  ASSERT_TRUE(cohort.ok());
  const auto x = Inputs(6, 37, 1);
  Dropouts d;
  d.before_consistency = {1, 4};
  auto result = RunRound(*cohort, x, d);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("ConsistencyCheck"));
}

}  // namespace
}  // namespace veil::fl
