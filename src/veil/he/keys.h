// RNS-CKKS keys, public-key encryption and decryption.
//
//   - Secret key: s ternary (sampling.h), kept only in NTT form modulo every prime (ciphertext and special)
//     inside a base::SecretBytes (wiped on destruction, never printed). Scratch copies made while decrypting
//     are wiped too.
//   - Public key: (b, a) modulo the ciphertext primes, NTT form, with a uniform (expanded from a 32-byte
//   seed,
//     kept for a compact serialization later) and b = -a * s + e, e centered binomial.
//   - Encryption of a plaintext m at level l (Cheon et al. 2017, section 3.3, in RNS form): with u ternary
//   and
//     e0, e1 centered binomial, c0 = b * u + e0 + m and c1 = a * u + e1 modulo q_0..q_l.
//   - Seeded secret-key encryption: c1 = a expanded from a fresh 32-byte seed (AES-256-CTR, domain
//     kSymmetricDomain), c0 = -a * s + e + m; a serialized seeded ciphertext ships c0 and the seed (half the
//     size). Its noise is e alone (smaller than public-key encryption's).
//   - Decryption: c0 + c1 * s = m + e * u + e0 + e1 * s (the fresh-encryption noise).
//
// Noise flooding (Decrypt's default). B. Li and D. Micciancio, "On the Security of Homomorphic Encryption on
// Approximate Numbers", EUROCRYPT 2021 (eprint 2020/1533), show that a decrypted CKKS value m + e, once
// shared with the party that computed on the ciphertext, reveals the error e and from it the secret key
// (the error is a known linear function of s). Decrypt therefore adds, by default, fresh Gaussian noise to
// every coefficient before decoding, with a standard deviation sigma chosen so that the distribution of
// (e + flood) is within statistical distance 2^-s of that of (flood) alone: for independent Gaussians on the
// N coefficients, Pinsker's inequality gives a distance of at most ||e||_2 / (2 sigma) <= sqrt(N) * B /
// (2 sigma), where B bounds |e| per coefficient, so sigma = sqrt(N) * B * 2^(s - 1). The rounded noise keeps
// this bound (e is an integer vector, so rounding is a function applied to both sides). The cost is
// precision: a real slot gets a noise of standard deviation sigma * sqrt(N / 2) / scale, so a shared value
// needs a scale of about 2^(s + log2(B) + log2(N) + precision bits); Decrypt refuses (FailedPrecondition,
// saying what to do) rather than return a value less precise than DecryptOptions::max_slot_stddev.
// Decrypted values that never leave the key owner can skip flooding with KeyOwnerOnly().
//
// Noise of a fresh ciphertext: every coefficient of v = e * u + e1 * s + e0 is a sum of about 2N products of
// independent terms of variance sigma^2 * 2/3 (sigma^2 = 10.5 for the errors, 2/3 for a ternary value), so
// its standard deviation is about sqrt(4N/3 * 10.5) (about 335 at N = 8192); a slot adds N such coefficients
// with unit-modulus weights, so the slot error is about sqrt(N) * 335 / scale (3e-8 at N = 8192 and scale
// 2^40). The tests assert a bound of 1e-6 there (over 30 standard deviations).
//
// Thread safety: keys are immutable values; the functions are thread-safe if the RandomSource is.
#ifndef VEIL_HE_KEYS_H_
#define VEIL_HE_KEYS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/he/context.h"
#include "veil/he/sampling.h"

namespace veil::he {

class SecretKey {
 public:
  SecretKey(SecretKey&&) = default;
  SecretKey& operator=(SecretKey&&) = default;

  // s in NTT form modulo every prime (ctx.prime_count() limbs of N values), as little-endian 64-bit words.
  const base::SecretBytes& ntt_limbs() const { return ntt_limbs_; }

 private:
  friend absl::StatusOr<SecretKey> GenerateSecretKey(const CkksContext& ctx, base::RandomSource& rng);
  friend absl::StatusOr<SecretKey> SecretKeyFromTernary(const CkksContext& ctx,
                                                        std::span<const uint8_t> ternary);
  explicit SecretKey(base::SecretBytes limbs) : ntt_limbs_(std::move(limbs)) {}
  base::SecretBytes ntt_limbs_;
};

struct PublicKey {
  RnsPoly b;  // -a * s + e, NTT form, limbs q_0..q_L
  RnsPoly a;  // ExpandUniform(a_seed, kPublicKeyDomain, ...), NTT form, limbs q_0..q_L
  Seed a_seed{};
};

// The ExpandUniform domain of the public key's a.
inline constexpr uint64_t kPublicKeyDomain = 1;
// The ExpandUniform domain of a seeded ciphertext's c1.
inline constexpr uint64_t kSymmetricDomain = 2;

// A ciphertext: parts c_0, ..., c_{d} (NTT form, limbs q_0..q_level) that decrypt to sum_i c_i * s^i. Fresh
// and relinearized ciphertexts have 2 parts; a product before relinearization has 3.
struct Ciphertext {
  std::vector<RnsPoly> parts;
  int level = 0;
  double scale = 1.0;
};

// InvalidArgument (saying the key's size and ctx's N and prime count) unless sk has ctx's shape.
absl::Status CheckSecretKey(const CkksContext& ctx, const SecretKey& sk);

// A fresh ternary secret key. Propagates rng's error.
absl::StatusOr<SecretKey> GenerateSecretKey(const CkksContext& ctx, base::RandomSource& rng);

// The secret key's N coefficients as bytes 0, 1, 2 for -1, 0, 1 (for serialization to the owner's disk), and
// back. Errors: InvalidArgument if sk does not match ctx, if `ternary` does not have N bytes or has a byte
// above 2, or if the key is not ternary (a corrupted key).
absl::StatusOr<base::SecretBytes> SecretKeyToTernary(const CkksContext& ctx, const SecretKey& sk);
absl::StatusOr<SecretKey> SecretKeyFromTernary(const CkksContext& ctx, std::span<const uint8_t> ternary);

// A public key for `sk`. Errors: InvalidArgument if sk does not have ctx's shape; rng's and OpenSSL's errors.
absl::StatusOr<PublicKey> GeneratePublicKey(const CkksContext& ctx, const SecretKey& sk,
                                            base::RandomSource& rng);

// Encrypts `pt` at its level and scale. Errors: InvalidArgument if pt's or pk's shape does not match ctx
// (naming the level and limb counts); rng's error.
absl::StatusOr<Ciphertext> Encrypt(const CkksContext& ctx, const PublicKey& pk, const Plaintext& pt,
                                   base::RandomSource& rng);

// A ciphertext whose c1 (parts[1]) is ExpandUniform(c1_seed, kSymmetricDomain) at its level: serialized as c0
// and the seed (serialize.h).
struct SeededCiphertext {
  Ciphertext ciphertext;
  Seed c1_seed{};
};

// Seeded secret-key encryption of `pt` (the owner of sk encrypts their own data: half-size upload).
// Errors: InvalidArgument if pt or sk do not match ctx; rng's error.
absl::StatusOr<SeededCiphertext> EncryptSymmetric(const CkksContext& ctx, const SecretKey& sk,
                                                  const Plaintext& pt, base::RandomSource& rng);

struct DecryptOptions {
  enum class Use {
    kShared,        // the value may be shown to others: flood (the default)
    kKeyOwnerOnly,  // the value stays with the key owner: no flooding
  };
  Use use = Use::kShared;
  // s: the flooded distribution is within statistical distance 2^-s of one independent of the ciphertext's
  // error (per decryption; k decryptions: k * 2^-s). Default 20.
  int statistical_security_bits = 20;
  // log2 of a bound B on the ciphertext error per coefficient. Default 12 (B = 4096): a fresh public-key
  // encryption (standard deviation about sqrt(4N/3 * 10.5), 335 at N = 8192, 470 at 16384: 8 standard
  // deviations) or a rescaled result of a few operations (rescale rounding about sqrt(N / 18)). Raise it
  // for longer computations (each bit doubles the noise).
  double error_bound_bits = 12;
  // Decrypt fails rather than return slots whose flooding noise has a larger standard deviation. Default
  // 2^-10.
  double max_slot_stddev = 0x1p-10;
  // The randomness of the flooding noise; nullptr: crypto::SecureRandom().
  base::RandomSource* rng = nullptr;
};

// Decryption for the key owner's eyes only (no flooding).
inline DecryptOptions KeyOwnerOnly() {
  DecryptOptions o;
  o.use = DecryptOptions::Use::kKeyOwnerOnly;
  return o;
}

// The flooding standard deviation per coefficient, sqrt(N) * 2^(error_bound_bits + s - 1), and the resulting
// standard deviation of a real slot at `scale`, sigma * sqrt(N / 2) / scale.
double FloodingStddev(const CkksContext& ctx, const DecryptOptions& options);
double FloodingSlotStddev(const CkksContext& ctx, const DecryptOptions& options, double scale);

// Decrypts (any number of parts >= 2) to a plaintext (NTT form) at the ciphertext's level and scale, adding
// flooding noise unless options.use is kKeyOwnerOnly (see the header comment). Errors: InvalidArgument if
// the ciphertext has fewer than 2 parts or a part's shape does not match its level or ctx, or the options are
// out of range (s in [0, 128], error bits in [0, 60]); FailedPrecondition if the flooding noise would be
// larger than max_slot_stddev at the ciphertext's scale or would not fit its modulus (the message gives the
// scale needed); the rng's error.
absl::StatusOr<Plaintext> Decrypt(const CkksContext& ctx, const SecretKey& sk, const Ciphertext& ct,
                                  const DecryptOptions& options = {});

}  // namespace veil::he

#endif  // VEIL_HE_KEYS_H_
