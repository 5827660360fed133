// Hybrid key switching for RNS-CKKS: key-switching keys, relinearization keys and Galois (rotation and
// conjugation) keys, and the key-switching core used by Relinearize, Rotate and Conjugate (evaluator.h).
//
// Method (K. Han, D. Ki, "Better Bootstrapping for Approximate Homomorphic Encryption", CT-RSA 2020, section
// 3, "hybrid" key switching; the same decomposition as SEAL with one special prime). With alpha = the number
// of special primes p_0..p_{alpha-1} (P = their product), the ciphertext primes q_0..q_L are cut into
// dnum = ceil((L + 1) / alpha) digits of alpha consecutive primes, D_j = {q_{j alpha}, ...}. A key that
// switches from a secret s' to the secret s is, for every digit j, an RLWE sample modulo Q_L * P
//
//     (b_j, a_j),  b_j = -a_j s + e_j + P * g_j * s',   g_j = 1 mod every q_i in D_j, 0 mod every other
//     prime,
//
// i.e. modulo q_i the term P * s' appears only in the digit that owns q_i. To switch d (a polynomial at
// level l that decrypts under s'), for every digit j that has primes at level l:
//   1. ModUp: the residues of d in D_j are extended to all primes of level l and the special primes with the
//      BEHZ fast base conversion (rns.h; with alpha = 1 the residue itself, an integer below q_j, is simply
//      reduced modulo the other primes). The extension is d_j + u * Q_{D_j} with u small; g_j kills the u
//      term because Q_{D_j} * g_j = 0 modulo Q_l * P.
//   2. Inner product: (C0, C1) = sum_j ModUp(d)_j * (b_j, a_j) modulo Q_l * P, so that
//      C0 + C1 s = P * d * s' + sum_j ModUp(d)_j e_j. The sum is accumulated in 128 bits and reduced once
//      per coefficient (lazy reduction).
//   3. ModDown: (C0, C1) are divided by P and rounded: C <- (C - [C]_P) * P^-1 modulo each q_i, where [C]_P
//      is the (centered, for alpha = 1) representative modulo P converted to the q_i.
// The result (C0', C1') satisfies C0' + C1' s = d s' + e_ks with a key-switching error
//     |e_ks| <~ sum_j |ModUp(d)_j e_j| / P + rounding  ~  dnum * alpha * q_max * sqrt(N) * 3.2 * 6 / P +
//     sqrt(N)
// per coefficient, which is a few units when P >= the largest ciphertext prime (e.g. 60-bit special prime,
// 40/60-bit ciphertext primes), i.e. of the order of a rescale's rounding error, far below the scale.
//
// Keys are valid at every level: at level l they are used with their limbs q_0..q_l and the special primes.
// The a_j parts are expanded from one 32-byte seed per key (AES-256-CTR, sampling.h, domain
// kKeySwitchDomain + j), so a serialized key ships b_j and the seed: half the size.
//
// Galois automorphisms. tau_g: m(X) -> m(X^g) for odd g. Slot j of m is m(zeta^(5^j)) (encoder.h), so tau_g
// with g = 5^r mod 2N rotates the slots left by r (slot j receives slot j + r mod N/2), and g = 2N - 1
// conjugates them. In NTT form (ntt.h: value k is a(psi^(2 bitrev(k) + 1))) tau_g is the permutation
// value k <- value k' with 2 bitrev(k') + 1 = (2 bitrev(k) + 1) * g mod 2N, applied limb by limb.
//
// Thread safety: keys are immutable values; KeySwitch is thread-safe (scratch space is per thread).
#ifndef VEIL_HE_KEYSWITCH_H_
#define VEIL_HE_KEYSWITCH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/sampling.h"

namespace veil::he {

// The ExpandUniform domains of key-switching keys: digit j uses kKeySwitchDomain + j.
inline constexpr uint64_t kKeySwitchDomain = 1024;

// A key switching from some s' to the secret key s: per digit j, b_j (all ctx.prime_count() limbs, NTT form)
// and a_j = ExpandUniform(a_seed, kKeySwitchDomain + j) over all primes.
struct KeySwitchKey {
  std::vector<RnsPoly> b;
  std::vector<RnsPoly> a;
  Seed a_seed{};
};

// Relinearization key: switches from s^2 to s.
struct RelinKeys {
  KeySwitchKey key;
};

// Galois keys: for each Galois element g (odd, in [1, 2N)), a key switching from s(X^g) to s.
struct GaloisKeys {
  std::map<uint64_t, KeySwitchKey> keys;
  bool Has(uint64_t galois_element) const { return keys.count(galois_element) != 0; }
};

// Number of key-switching digits for these parameters: ceil((L + 1) / number of special primes).
size_t KeySwitchDigits(const CkksContext& ctx);

// The Galois element that rotates the slots left by `steps` (negative: right): 5^steps mod 2N, with steps
// taken modulo N/2.
uint64_t GaloisElementForRotation(const CkksContext& ctx, int64_t steps);
// The Galois element of complex conjugation: 2N - 1.
uint64_t GaloisElementForConjugation(const CkksContext& ctx);

// The default rotation steps: +-2^i for 2^i < N/2 (every rotation is then a sum of at most log2(N/2) / 2 + 1
// of them, in non-adjacent form).
std::vector<int64_t> DefaultRotationSteps(const CkksContext& ctx);

// Relinearization keys for sk. Errors: InvalidArgument if sk does not match ctx; rng's error.
absl::StatusOr<RelinKeys> GenerateRelinKeys(const CkksContext& ctx, const SecretKey& sk,
                                            base::RandomSource& rng);

// Galois keys for the given rotation steps (default: DefaultRotationSteps) and, if `conjugation`, for
// complex conjugation. Steps equal to 0 mod N/2 are skipped. Errors as GenerateRelinKeys.
absl::StatusOr<GaloisKeys> GenerateGaloisKeys(const CkksContext& ctx, const SecretKey& sk,
                                              base::RandomSource& rng, std::span<const int64_t> steps,
                                              bool conjugation = true);
absl::StatusOr<GaloisKeys> GenerateGaloisKeys(const CkksContext& ctx, const SecretKey& sk,
                                              base::RandomSource& rng);

// Checks a key's shape against ctx (digits, limbs, NTT form). Errors: InvalidArgument naming what differs.
absl::Status CheckKeySwitchKey(const CkksContext& ctx, const KeySwitchKey& key, const char* what);

// The permutation of NTT-form values applied by tau_g: out[k] = in[perm[k]]. Errors: InvalidArgument if g is
// even or not in [1, 2N).
absl::StatusOr<std::vector<uint32_t>> GaloisNttPermutation(const CkksContext& ctx, uint64_t galois_element);

namespace internal {

// The key-switching core: d (level + 1 limbs, NTT form) decrypting under the key's s' becomes (out0, out1)
// at `level` (resized to level + 1 limbs, NTT form) with out0 + out1 s = d s' + e_ks. `key` must have
// passed CheckKeySwitchKey. If `accumulate`, the results are added to out0 / out1 (which must then already
// have level + 1 limbs) instead of overwriting them.
void KeySwitch(const CkksContext& ctx, const KeySwitchKey& key, std::span<const uint64_t> d, int level,
               RnsPoly* out0, RnsPoly* out1, bool accumulate);

}  // namespace internal

}  // namespace veil::he

#endif  // VEIL_HE_KEYSWITCH_H_
