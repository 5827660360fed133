#include "veil/fl/messages.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/fl/secagg_test_util.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;

// Every encoded message of one honest round.
std::vector<std::vector<uint8_t>> RoundMessages() {
  DeterministicRandom rng(1);
  SecAggConfig c;
  c.round_id = 7;
  c.num_clients = 4;
  c.vector_length = 5;
  c.threshold = 2;
  c.min_clients = 3;
  auto cohort = testing::MakeCohort(c, rng);
  SecAggServer server(cohort->setup);
  std::vector<std::vector<uint8_t>> out;
  for (auto& client : cohort->clients) {
    AdvertiseKeys a = *client->Advertise();
    out.push_back(Serialize(a));
    EXPECT_TRUE(server.ReceiveAdvertise(*ParseAdvertiseKeys(out.back())).ok());
  }
  KeyDirectory dir = *server.FinishAdvertise();
  out.push_back(Serialize(dir));
  KeyDirectory parsed_dir = *ParseKeyDirectory(out.back());
  for (auto& client : cohort->clients) {
    out.push_back(Serialize(*client->ShareKeysRound(parsed_dir)));
    EXPECT_TRUE(server.ReceiveShareKeys(*ParseShareKeys(out.back())).ok());
  }
  auto bundles = *server.FinishShareKeys();
  for (uint32_t u = 0; u < 3; ++u) {  // client 3 drops
    out.push_back(Serialize(bundles[u]));
    MaskedInput m =
        *cohort->clients[u]->MaskInput(*ParseShareBundle(out.back()), std::vector<uint32_t>(5, u + 1));
    out.push_back(Serialize(m));
    EXPECT_TRUE(server.ReceiveMaskedInput(*ParseMaskedInput(out.back())).ok());
  }
  UnmaskRequest req = *server.FinishMaskedInput();
  out.push_back(Serialize(req));
  const UnmaskRequest parsed_req = *ParseUnmaskRequest(out.back());
  for (uint32_t u = 0; u < 3; ++u) {
    out.push_back(Serialize(*cohort->clients[u]->SignSurvivors(parsed_req)));
    EXPECT_TRUE(server.ReceiveSurvivorSignature(*ParseSurvivorSignature(out.back())).ok());
  }
  out.push_back(Serialize(*server.FinishConsistency()));
  const ConsistencyProof proof = *ParseConsistencyProof(out.back());
  for (uint32_t u = 0; u < 3; ++u) {
    out.push_back(Serialize(*cohort->clients[u]->Unmask(proof)));
    EXPECT_TRUE(server.ReceiveUnmaskResponse(*ParseUnmaskResponse(out.back())).ok());
  }
  auto result = server.FinishUnmasking();
  EXPECT_TRUE(result.ok()) << result.status();
  if (result.ok()) {
    EXPECT_EQ(result->sum, std::vector<uint32_t>(5, 6));
  }  // 1 + 2 + 3, through the encodings
  return out;
}

absl::Status ParseAny(std::span<const uint8_t> b) {
  auto type = PeekMessageType(b);
  if (!type.ok()) return type.status();
  switch (*type) {
    case MessageType::kAdvertiseKeys:
      return ParseAdvertiseKeys(b).status();
    case MessageType::kKeyDirectory:
      return ParseKeyDirectory(b).status();
    case MessageType::kShareKeys:
      return ParseShareKeys(b).status();
    case MessageType::kShareBundle:
      return ParseShareBundle(b).status();
    case MessageType::kMaskedInput:
      return ParseMaskedInput(b).status();
    case MessageType::kUnmaskRequest:
      return ParseUnmaskRequest(b).status();
    case MessageType::kUnmaskResponse:
      return ParseUnmaskResponse(b).status();
    case MessageType::kSurvivorSignature:
      return ParseSurvivorSignature(b).status();
    case MessageType::kConsistencyProof:
      return ParseConsistencyProof(b).status();
  }
  return absl::InternalError("unreachable");
}

TEST(MessagesTest, RoundTripThroughEncodingsGivesTheSum) {
  // advertise, directory, share keys, bundle + masked, request, survivor signatures, proof, responses
  EXPECT_EQ(RoundMessages().size(), 4u + 1 + 4 + 6 + 1 + 3 + 1 + 3);
}

TEST(MessagesTest, EveryTruncationAndExtensionIsRejected) {
  for (const std::vector<uint8_t>& m : RoundMessages()) {
    ASSERT_TRUE(ParseAny(m).ok());
    for (size_t len = 0; len < m.size(); ++len) {
      const absl::Status st = ParseAny(std::span(m).first(len));
      ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << "type " << int(m[1]) << " len " << len;
    }
    std::vector<uint8_t> longer = m;
    longer.push_back(0);
    EXPECT_EQ(ParseAny(longer).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(MessagesTest, AlteredHeadersAndCountsAreRejected) {
  for (const std::vector<uint8_t>& m : RoundMessages()) {
    std::vector<uint8_t> v = m;
    v[0] = 2;  // version
    EXPECT_EQ(ParseAny(v).code(), absl::StatusCode::kInvalidArgument);
    v = m;
    v[1] = 10;  // type
    EXPECT_EQ(ParseAny(v).code(), absl::StatusCode::kInvalidArgument);
  }
  // A huge count must fail before allocating.
  std::vector<uint8_t> huge = {kSecAggWireVersion, static_cast<uint8_t>(MessageType::kMaskedInput)};
  huge.resize(10 + 4, 0);
  huge.push_back(32);  // bits
  for (uint8_t b : {0xff, 0xff, 0xff, 0x07}) huge.push_back(b);
  auto r = ParseMaskedInput(huge);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // Unsorted ids.
  UnmaskRequest req{1, {3, 2}, {}};
  EXPECT_EQ(ParseUnmaskRequest(Serialize(req)).status().code(), absl::StatusCode::kInvalidArgument);
  // Unknown share kind.
  UnmaskResponse resp;
  resp.shares.push_back(RevealedShare{0, ShareKind::kMaskingKey, base::SecretBytes(kSecAggShareBytes)});
  std::vector<uint8_t> bytes = Serialize(resp);
  bytes[10 + 4 + 4 + 4] = 3;
  EXPECT_EQ(ParseUnmaskResponse(bytes).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MessagesTest, RandomByteFlipsNeverCrash) {
  DeterministicRandom rng(2);
  for (const std::vector<uint8_t>& m : RoundMessages()) {
    for (int i = 0; i < 200; ++i) {
      std::vector<uint8_t> v = m;
      uint8_t r[3];
      ASSERT_TRUE(rng.Fill(r).ok());
      v[(r[0] | r[1] << 8) % v.size()] ^= static_cast<uint8_t>(r[2] | 1);
      (void)ParseAny(v);  // any status; must not crash or over-allocate (ASan)
    }
  }
}

TEST(MessagesTest, MaskedInputPacksRingBits) {
  for (uint8_t bits : {uint8_t{8}, uint8_t{13}, uint8_t{24}, uint8_t{31}, uint8_t{32}}) {
    MaskedInput m{3, 2, bits, {}};
    const uint64_t mask = (uint64_t{1} << bits) - 1;
    for (uint32_t i = 0; i < 37; ++i) m.masked.push_back(static_cast<uint32_t>((i * 2654435761ull) & mask));
    const std::vector<uint8_t> enc = Serialize(m);
    EXPECT_EQ(enc.size(), 10 + 4 + 1 + 4 + (37u * bits + 7) / 8) << int{bits};
    auto back = ParseMaskedInput(enc);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->bits, bits);
    EXPECT_EQ(back->masked, m.masked) << int{bits};
    if (37u * bits % 8 != 0) {  // a nonzero padding bit is rejected
      std::vector<uint8_t> bad = enc;
      bad.back() |= 0x80;
      EXPECT_EQ(ParseMaskedInput(bad).status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  MaskedInput m{3, 2, 7, {1, 2}};
  EXPECT_EQ(ParseMaskedInput(Serialize(m)).status().code(), absl::StatusCode::kInvalidArgument);
}

// The signed byte strings are part of the protocol (a client and a server of different builds must agree):
// pinned here byte for byte as messages.h documents them.
TEST(MessagesTest, SignedBytesFollowTheDocumentedLayout) {
  crypto::X25519PublicKey c_pk, s_pk;
  for (uint8_t i = 0; i < 32; ++i) {
    c_pk[i] = i;
    s_pk[i] = static_cast<uint8_t>(0x80 + i);
  }
  const std::string key_label = "veil fl secagg keys v1";
  std::vector<uint8_t> want(key_label.begin(), key_label.end());
  for (uint8_t b : {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}) want.push_back(b);  // round_id
  for (uint8_t b : {0x0d, 0x0c, 0x0b, 0x0a}) want.push_back(b);                          // client_id
  want.insert(want.end(), c_pk.begin(), c_pk.end());
  want.insert(want.end(), s_pk.begin(), s_pk.end());
  EXPECT_EQ(SignedKeyBytes(0x0102030405060708, 0x0a0b0c0d, c_pk, s_pk), want);

  const std::string survivors_label = "veil fl secagg survivors v1";
  want.assign(survivors_label.begin(), survivors_label.end());
  want.push_back(kSecAggWireVersion);
  for (uint8_t b : {9, 0, 0, 0, 0, 0, 0, 0}) want.push_back(b);              // round_id
  for (uint8_t b : {2, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}) want.push_back(b);  // |survivors|, 1, 256
  for (uint8_t b : {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}) want.push_back(b);  // |dropped|, 2^32 - 1
  const std::vector<uint32_t> survivors = {1, 256}, dropped = {0xffffffff};
  EXPECT_EQ(SignedSurvivorBytes(9, survivors, dropped), want);
}

}  // namespace
}  // namespace veil::fl
