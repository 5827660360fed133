// The messages of the secure-aggregation protocol (secagg.h) and their binary encoding.
//
// Every message is encoded as
//   version (u8, kSecAggWireVersion) || type (u8, MessageType) || round_id (u64) || body
// with all integers little-endian, lists as a u32 count followed by the elements, and no trailing bytes.
// Parsers validate everything before allocating: the version and type, every count against the protocol's
// limits and against the bytes actually remaining, fixed sizes of keys, signatures, ciphertexts and shares,
// ids sorted and unique where the protocol requires it. A malformed or hostile message yields
// InvalidArgument naming the message and the field, never a crash or an over-allocation. Semantic checks
// (ids in range, signatures, membership of the round's client sets) are done by the state machines.
//
// The gRPC transport (issue 10) carries these encodings as opaque bytes.
//
// Thread safety: pure functions.
#ifndef VEIL_FL_MESSAGES_H_
#define VEIL_FL_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/x25519.h"
#include "veil/fl/shamir.h"

namespace veil::fl {

inline constexpr uint8_t kSecAggWireVersion = 1;
// Limits enforced by the parsers (and the state machines).
inline constexpr uint32_t kSecAggMaxClients = 1u << 16;
inline constexpr uint32_t kSecAggMaxVectorLength = 1u << 27;  // 512 MiB of uint32
// Secrets shared in round 1: the self-mask seed b_u and the masking private key s_u (32 bytes each).
inline constexpr size_t kSecAggSecretBytes = 32;
inline constexpr size_t kSecAggShareBytes = ShamirShareBytes(kSecAggSecretBytes);  // 40
// Plaintext of an encrypted share pair: the Shamir shares of b_u and of s_u for one recipient.
inline constexpr size_t kSecAggSharePlaintextBytes = 2 * kSecAggShareBytes;
// AES-256-GCM under a single-use key with a zero nonce: ciphertext || tag.
inline constexpr size_t kSecAggShareCiphertextBytes = kSecAggSharePlaintextBytes + crypto::kAes256GcmTagSize;

enum class MessageType : uint8_t {
  kAdvertiseKeys = 1,
  kKeyDirectory = 2,
  kShareKeys = 3,
  kShareBundle = 4,
  kMaskedInput = 5,
  kUnmaskRequest = 6,
  kUnmaskResponse = 7,
  kSurvivorSignature = 8,
  kConsistencyProof = 9,
};

// Round 0, client -> server (and relayed to all clients in a KeyDirectory). The signature is the client's
// Ed25519 identity signature over SignedKeyBytes(round_id, client_id, c_pk, s_pk).
struct AdvertiseKeys {
  uint64_t round_id = 0;
  uint32_t client_id = 0;
  crypto::X25519PublicKey c_pk{};  // encryption key pair (share encryption)
  crypto::X25519PublicKey s_pk{};  // masking key pair (pairwise masks)
  crypto::Ed25519Signature signature{};
};

// Round 1 input, server -> every client: the advertisements of U1, sorted by client id, unique.
struct KeyDirectory {
  uint64_t round_id = 0;
  std::vector<AdvertiseKeys> clients;
};

struct EncryptedShare {
  uint32_t sender = 0;
  uint32_t recipient = 0;
  std::vector<uint8_t> ciphertext;  // kSecAggShareCiphertextBytes
};

// Round 1, client -> server: one encrypted share pair per neighbour in U1, sorted by recipient, unique.
struct ShareKeys {
  uint64_t round_id = 0;
  uint32_t client_id = 0;
  std::vector<EncryptedShare> shares;
};

// Round 2 input, server -> client `recipient`: U2 (the clients whose shares were received, sorted, unique)
// and the encrypted shares addressed to the recipient, sorted by sender, unique.
struct ShareBundle {
  uint64_t round_id = 0;
  uint32_t recipient = 0;
  std::vector<uint32_t> u2;
  std::vector<EncryptedShare> shares;
};

// Round 2, client -> server: y_u = x_u + PRG(b_u) + sum_v +-PRG(s_uv) (mod 2^bits), bits = the round's
// ring_bits (secagg.h). Encoded as bits (u8, in [kSecAggMinRingBits, 32]) || count (u32) || the words packed
// little-endian, `bits` bits each, into ceil(count * bits / 8) bytes (unused high bits of the last byte
// zero): a 24-bit ring costs 3 bytes per coordinate instead of 4. Every word must be < 2^bits.
inline constexpr uint32_t kSecAggMinRingBits = 8;
// The ring of a federation whose FL.json does not set secure_aggregation.ring_bits (SecAggSettings): 24 bits
// send 3/4 of a float32 upload (the 1.05x bytes target at 100 clients needs it; docs/fl.md) and the
// quantizer still picks a scale that cannot wrap for any cohort up to kSecAggMaxClients.
inline constexpr uint32_t kSecAggDefaultRingBits = 24;
struct MaskedInput {
  uint64_t round_id = 0;
  uint32_t client_id = 0;
  uint8_t bits = 32;
  std::vector<uint32_t> masked;
};

// Round 3 input, server -> clients of U3: survivors (U3) and dropped (U2 \ U3), each sorted and unique.
struct UnmaskRequest {
  uint64_t round_id = 0;
  std::vector<uint32_t> survivors;
  std::vector<uint32_t> dropped;
};

// Round 2.5 (consistency check, Bonawitz et al. 2017 Fig. 4 "ConsistencyCheck"), client -> server: the
// client's Ed25519 identity signature over SignedSurvivorBytes(round_id, survivors, dropped) of the one
// UnmaskRequest it accepted.
struct SurvivorSignature {
  uint64_t round_id = 0;
  uint32_t client_id = 0;
  crypto::Ed25519Signature signature{};
};

struct SignerSignature {
  uint32_t client_id = 0;
  crypto::Ed25519Signature signature{};
};

// Round 3 input, server -> clients that signed: the request again and the signatures collected, sorted by
// signer, unique. A client reveals shares only if the request is the one it signed and enough of its
// neighbours signed the same request (secagg.h).
struct ConsistencyProof {
  uint64_t round_id = 0;
  std::vector<uint32_t> survivors;
  std::vector<uint32_t> dropped;
  std::vector<SignerSignature> signatures;
};

enum class ShareKind : uint8_t { kSelfMaskSeed = 1, kMaskingKey = 2 };

struct RevealedShare {
  uint32_t owner = 0;  // the client whose secret this is a share of
  ShareKind kind = ShareKind::kSelfMaskSeed;
  base::SecretBytes value;  // kSecAggShareBytes: the ShamirShare y of x = sender id + 1
};

// Round 3, client -> server: b-shares of surviving neighbours, s-shares of dropped ones, sorted by owner.
struct UnmaskResponse {
  uint64_t round_id = 0;
  uint32_t client_id = 0;
  std::vector<RevealedShare> shares;
};

// The bytes an identity key signs in round 0: "veil fl secagg keys v1" || round_id || client_id || c_pk ||
// s_pk.
std::vector<uint8_t> SignedKeyBytes(uint64_t round_id, uint32_t client_id,
                                    const crypto::X25519PublicKey& c_pk, const crypto::X25519PublicKey& s_pk);

// The bytes signed in round 2.5: "veil fl secagg survivors v1" || version || round_id || |survivors| ||
// survivors || |dropped| || dropped (u32 little-endian each).
std::vector<uint8_t> SignedSurvivorBytes(uint64_t round_id, std::span<const uint32_t> survivors,
                                         std::span<const uint32_t> dropped);

std::vector<uint8_t> Serialize(const AdvertiseKeys& m);
std::vector<uint8_t> Serialize(const SurvivorSignature& m);
std::vector<uint8_t> Serialize(const ConsistencyProof& m);
std::vector<uint8_t> Serialize(const KeyDirectory& m);
std::vector<uint8_t> Serialize(const ShareKeys& m);
std::vector<uint8_t> Serialize(const ShareBundle& m);
std::vector<uint8_t> Serialize(const MaskedInput& m);
std::vector<uint8_t> Serialize(const UnmaskRequest& m);
std::vector<uint8_t> Serialize(const UnmaskResponse& m);

absl::StatusOr<AdvertiseKeys> ParseAdvertiseKeys(std::span<const uint8_t> bytes);
absl::StatusOr<SurvivorSignature> ParseSurvivorSignature(std::span<const uint8_t> bytes);
absl::StatusOr<ConsistencyProof> ParseConsistencyProof(std::span<const uint8_t> bytes);
absl::StatusOr<KeyDirectory> ParseKeyDirectory(std::span<const uint8_t> bytes);
absl::StatusOr<ShareKeys> ParseShareKeys(std::span<const uint8_t> bytes);
absl::StatusOr<ShareBundle> ParseShareBundle(std::span<const uint8_t> bytes);
absl::StatusOr<MaskedInput> ParseMaskedInput(std::span<const uint8_t> bytes);
absl::StatusOr<UnmaskRequest> ParseUnmaskRequest(std::span<const uint8_t> bytes);
absl::StatusOr<UnmaskResponse> ParseUnmaskResponse(std::span<const uint8_t> bytes);

// The type of an encoded message (its second byte), after checking the version.
absl::StatusOr<MessageType> PeekMessageType(std::span<const uint8_t> bytes);

}  // namespace veil::fl

#endif  // VEIL_FL_MESSAGES_H_
