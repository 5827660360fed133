// The mask generator of secure aggregation: a 32-byte seed expanded with AES-256-CTR (NIST SP 800-38A) into a
// vector of words of the ring Z_{2^32}, and the vector arithmetic of masking.
//
// Stream definition (stable: both sides of the protocol must expand a seed identically): the key is the
// seed, the initial counter block is 16 zero bytes, and word i of the mask is bytes 4i..4i+3 of the
// keystream read as a little-endian uint32. A seed must therefore never be used for two different masks:
// the protocol derives every pairwise seed with HKDF bound to the round and the pair (secagg.h), and
// self-mask seeds are fresh random values per round. Unlike a 32-bit seed fed to a non-cryptographic
// generator, a 256-bit AES key leaves no seed to guess, and the keystream is indistinguishable from random
// under the PRP assumption for AES (up to 2^64 blocks per key, far beyond any model size).
//
// Speed: OpenSSL's EVP AES-CTR (AES-NI / VAES) over 16 KiB chunks kept in L1, then a plain add or subtract
// loop the compiler vectorises; bench/fl_secagg_bench prints the rate.
//
// Thread safety: pure functions; thread-safe.
#ifndef VEIL_FL_MASK_PRG_H_
#define VEIL_FL_MASK_PRG_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/secret_bytes.h"

namespace veil::fl {

inline constexpr size_t kMaskSeedBytes = 32;

// acc[i] += mask[i] (mod 2^32), or acc[i] -= mask[i] if `subtract`, where mask = the expansion of `seed`.
// Errors: InvalidArgument if seed is not 32 bytes; Internal on an unexpected OpenSSL failure.
absl::Status AddMask(const base::SecretBytes& seed, std::span<uint32_t> acc, bool subtract = false);

// The first `length` words of the expansion of `seed`. Errors: as AddMask.
absl::StatusOr<std::vector<uint32_t>> ExpandMask(const base::SecretBytes& seed, size_t length);

// One term of a signed sum of masks: +PRG(seed), or -PRG(seed) if `subtract`. The seed must outlive the call.
struct SignedSeed {
  const base::SecretBytes* seed = nullptr;
  bool subtract = false;
};

// acc += sum_i (+-PRG(seed_i)) (mod 2^32) in one pass over acc: for each block of kMaskBlockWords words of
// acc (kept in L1), the keystream block of every seed is generated with AES-256-CTR (OpenSSL EVP, AES-NI)
// into one reused buffer and added or subtracted with a loop the compiler vectorises. This is what the server
// does for each dropped client (its pairwise masks with all surviving neighbours) and for the survivors' self
// masks, and what a client does for its own masks; it reads and writes acc once instead of once per seed.
// The result equals calling AddMask for every seed in turn.
//
// The object keeps its cipher contexts and buffer between calls (no allocation per seed once it has seen
// the largest batch); it wipes its buffer after each call. Not thread-safe: use one per thread.
// Errors: InvalidArgument if a seed is null or not 32 bytes; Internal on an unexpected OpenSSL failure.
class MaskExpander {
 public:
  MaskExpander();
  ~MaskExpander();
  MaskExpander(const MaskExpander&) = delete;
  MaskExpander& operator=(const MaskExpander&) = delete;

  absl::Status AddMasks(std::span<const SignedSeed> seeds, std::span<uint32_t> acc);

 private:
  struct Impl;
  Impl* impl_;
};

// Words of acc processed per block by MaskExpander (8 KiB: the block, the keystream and the
// cipher's zero input fit in L1 together).
inline constexpr size_t kMaskBlockWords = 2048;

// acc[i] += x[i] (mod 2^32). Errors: InvalidArgument if the lengths differ.
absl::Status AddVectors(std::span<uint32_t> acc, std::span<const uint32_t> x);

namespace internal {
// The raw AES-256-CTR keystream with a given 16-byte initial counter block (for known-answer tests against
// NIST SP 800-38A F.5.5): out = AES-256-CTR(key, iv, zeros).
absl::Status AesCtrKeystream(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                             std::span<uint8_t> out);
}  // namespace internal

}  // namespace veil::fl

#endif  // VEIL_FL_MASK_PRG_H_
