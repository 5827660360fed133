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
//   - Decryption: c0 + c1 * s = m + e * u + e0 + e1 * s (the fresh-encryption noise).
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

// A ciphertext: parts c_0, ..., c_{d} (NTT form, limbs q_0..q_level) that decrypt to sum_i c_i * s^i. Fresh
// and relinearized ciphertexts have 2 parts; a product before relinearization has 3.
struct Ciphertext {
  std::vector<RnsPoly> parts;
  int level = 0;
  double scale = 1.0;
};

// A fresh ternary secret key. Propagates rng's error.
absl::StatusOr<SecretKey> GenerateSecretKey(const CkksContext& ctx, base::RandomSource& rng);

// A public key for `sk`. Errors: InvalidArgument if sk does not have ctx's shape; rng's and OpenSSL's errors.
absl::StatusOr<PublicKey> GeneratePublicKey(const CkksContext& ctx, const SecretKey& sk,
                                            base::RandomSource& rng);

// Encrypts `pt` at its level and scale. Errors: InvalidArgument if pt's or pk's shape does not match ctx
// (naming the level and limb counts); rng's error.
absl::StatusOr<Ciphertext> Encrypt(const CkksContext& ctx, const PublicKey& pk, const Plaintext& pt,
                                   base::RandomSource& rng);

// Decrypts (any number of parts >= 2) to a plaintext (NTT form) at the ciphertext's level and scale. No noise
// flooding yet (docs/he.md, section 6): do not share decrypted values with the party that computed on the
// ciphertext. Errors: InvalidArgument if the ciphertext has fewer than 2 parts or a part's shape does not
// match its level or ctx.
absl::StatusOr<Plaintext> Decrypt(const CkksContext& ctx, const SecretKey& sk, const Ciphertext& ct);

}  // namespace veil::he

#endif  // VEIL_HE_KEYS_H_
