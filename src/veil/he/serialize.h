// Versioned, validated serialization of RNS-CKKS objects: parameters, public key, relinearization and Galois
// keys, secret key (for the key owner's disk), plaintexts, ciphertexts and seeded ciphertexts.
//
// Format (all integers little-endian), version 1:
//
//   offset  size  field
//   0       6     magic "VEILHE"
//   6       2     format version (1)
//   8       1     kind (ObjectKind)
//   9       1     reserved, 0
//   10      32    parameter ID: SHA-256("veil-he-params-v1" || parameter body) of the parameter set the
//   object
//                 belongs to (for a parameter object: of its own body)
//   42      8     body length L
//   50      L     body (per kind, below)
//   50 + L  32    SHA-256 of bytes [0, 50 + L): integrity check
//
// Bodies. A "packed polynomial" at level l is limbs 0..l (ciphertext primes; keys: all primes), each of its N
// values (NTT form) packed in bits(q_i) bits, least significant bit first, limb after limb, each limb padded
// to a whole byte.
//   parameters:        u32 N, u8 count, count x u64 ciphertext primes, u8 count, count x u64 special primes
//   plaintext:         u8 level, f64 scale, packed polynomial
//   ciphertext:        u8 level, f64 scale, u8 parts (2 or 3), parts x packed polynomial
//   seeded ciphertext: u8 level, f64 scale, packed c0, 32-byte seed of c1 (sampling.h, kSymmetricDomain)
//   public key:        packed b (level L), 32-byte seed of a (kPublicKeyDomain)
//   relin keys:        key-switching key = u8 digits, 32-byte seed of the a_j, digits x packed b_j (all
//   primes) Galois keys:       u16 count, count x (u64 Galois element, key-switching key), elements strictly
//   increasing secret key:        N bytes in {0, 1, 2} (coefficients -1, 0, 1)
//
// Parsing checks everything: magic, version, kind, the parameter ID against the context's, the body length
// against the input size (truncation and trailing bytes are rejected), the SHA-256 (any altered byte is
// rejected with DataLoss before the body is read), every field's range (level, scale finite and > 0, part
// counts, Galois elements odd and below 2N, ternary bytes) and every packed value below its prime. The
// checksum detects accidental corruption only: anyone can recompute it. Authenticity against an active
// attacker needs a signature or an AEAD at the transport or storage layer (veil::crypto has both).
//
// Sizes at N = 8192 with {60, 40, 40} + {60} (docs/he.md): a fresh ciphertext at level 2 takes 2 x 8192 x 140
// bits = 286,720 bytes + 82 (SEAL: 393 KB, 64 bits per value); seeded, 143,442 bytes.
//
// Errors: InvalidArgument for a malformed input (the message names the field and the offset or limb),
// DataLoss for a checksum mismatch (truncated or altered), FailedPrecondition for an object made for other
// parameters. Secret-key bytes are returned in SecretBytes. Thread-safe (pure functions).
#ifndef VEIL_HE_SERIALIZE_H_
#define VEIL_HE_SERIALIZE_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"
#include "veil/he/params.h"

namespace veil::he {

inline constexpr uint16_t kSerializationVersion = 1;

enum class ObjectKind : uint8_t {
  kParameters = 1,
  kPublicKey = 2,
  kRelinKeys = 3,
  kGaloisKeys = 4,
  kSecretKey = 5,
  kPlaintext = 6,
  kCiphertext = 7,
  kSeededCiphertext = 8,
};

using ParameterId = std::array<uint8_t, 32>;
ParameterId ParametersId(const CkksParameters& params);

std::vector<uint8_t> SerializeParameters(const CkksParameters& params);
absl::StatusOr<CkksParameters> ParseParameters(std::span<const uint8_t> bytes);

std::vector<uint8_t> SerializePlaintext(const CkksContext& ctx, const Plaintext& pt);
absl::StatusOr<Plaintext> ParsePlaintext(const CkksContext& ctx, std::span<const uint8_t> bytes);

// Errors (serializing): InvalidArgument if the ciphertext's shape does not match ctx.
absl::StatusOr<std::vector<uint8_t>> SerializeCiphertext(const CkksContext& ctx, const Ciphertext& ct);
absl::StatusOr<std::vector<uint8_t>> SerializeSeededCiphertext(const CkksContext& ctx,
                                                               const SeededCiphertext& ct);
// Parses a ciphertext or a seeded ciphertext (c1 expanded from its seed).
absl::StatusOr<Ciphertext> ParseCiphertext(const CkksContext& ctx, std::span<const uint8_t> bytes);

std::vector<uint8_t> SerializePublicKey(const CkksContext& ctx, const PublicKey& pk);
absl::StatusOr<PublicKey> ParsePublicKey(const CkksContext& ctx, std::span<const uint8_t> bytes);

std::vector<uint8_t> SerializeRelinKeys(const CkksContext& ctx, const RelinKeys& rk);
absl::StatusOr<RelinKeys> ParseRelinKeys(const CkksContext& ctx, std::span<const uint8_t> bytes);

std::vector<uint8_t> SerializeGaloisKeys(const CkksContext& ctx, const GaloisKeys& gk);
absl::StatusOr<GaloisKeys> ParseGaloisKeys(const CkksContext& ctx, std::span<const uint8_t> bytes);

// The secret key for its owner's disk (store it encrypted: veil::crypto's AEAD). Errors:
// SecretKeyToTernary's.
absl::StatusOr<base::SecretBytes> SerializeSecretKey(const CkksContext& ctx, const SecretKey& sk);
absl::StatusOr<SecretKey> ParseSecretKey(const CkksContext& ctx, std::span<const uint8_t> bytes);

}  // namespace veil::he

#endif  // VEIL_HE_SERIALIZE_H_
