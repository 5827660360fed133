// Homomorphic operations on RNS-CKKS ciphertexts: addition, subtraction, negation, addition and
// multiplication by a plaintext or a constant, multiplication, relinearization, rescaling, modulus switching,
// rotation, conjugation and rotate-and-sum. Every operation exists in place (`XxxInplace(ctx, ..., &a)`, no
// copy of the operand; the hot loops allocate nothing) and as a function returning a new ciphertext.
//
// Levels are managed: operands at different levels are brought to the lower level by modulus switching
// (dropping the higher operand's extra primes, which is exact: the same integer modulo fewer primes, no
// rescale, same scale). Scales are checked: operands of an addition must have the same scale (relative 1e-9,
// which absorbs the rounding of scale arithmetic); a mismatch is an InvalidArgument error naming both scales
// (log2) and what to do (Rescale the product first, or MatchLevelAndScale). Products multiply the scales;
// Rescale divides the ciphertext and its scale by the last prime q_level and drops it. MatchLevelAndScale
// brings a ciphertext to any lower level and any scale exactly (multiplication by the constant 1 at a
// computed scale, then one rescale), which is how polynomial evaluation (polyeval.h) lines terms up.
//
// Noise (slot errors, for values of modulus <= 1 at scale Delta): additions add the operands' errors; a
// product's error is about |x| e_y + |y| e_x + e_x e_y; rescaling adds a rounding error of about
// sqrt(N / 12) * (1 + sqrt(2N / 3)) / Delta per coefficient, of order N / (3.5 Delta) in the slots (2e-8 at
// N = 8192, Delta = 2^40); key switching (Relinearize, Rotate, Conjugate) adds an error of the same order
// when P >= the largest ciphertext prime (keyswitch.h); modulus switching adds nothing.
//
// Rescale follows Cheon, Han, Kim, Kim, Song, "A Full RNS Variant of Approximate Homomorphic Encryption", SAC
// 2018, section 3.3: c_i <- (c_i - [c_level]_centered) * q_level^-1 mod q_i for every remaining prime q_i.
//
// Thread safety: the functions are thread-safe for distinct output ciphertexts (inputs by const reference).
#ifndef VEIL_HE_EVALUATOR_H_
#define VEIL_HE_EVALUATOR_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"

namespace veil::he {

// a += b, a -= b (parts added pointwise; a gets max(a.parts, b.parts) parts), a = -a. The result is at the
// lower of the two levels. Errors: scale mismatch, malformed operands.
absl::Status AddInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a);
absl::Status SubInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a);
absl::Status NegateInplace(const CkksContext& ctx, Ciphertext* a);
absl::StatusOr<Ciphertext> Add(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);
absl::StatusOr<Ciphertext> Sub(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);
absl::StatusOr<Ciphertext> Negate(const CkksContext& ctx, const Ciphertext& a);

// a += p (same scale), a *= p (scales multiply); the result is at the lower of the two levels.
absl::Status AddPlainInplace(const CkksContext& ctx, const Plaintext& p, Ciphertext* a);
absl::Status MultiplyPlainInplace(const CkksContext& ctx, const Plaintext& p, Ciphertext* a);
absl::StatusOr<Ciphertext> AddPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p);
absl::StatusOr<Ciphertext> MultiplyPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p);

// a + c in every slot (c encoded as round(c * a.scale) in the constant coefficient).
// Errors: c * a.scale not finite or of magnitude 2^62 or more.
absl::Status AddConstantInplace(const CkksContext& ctx, double c, Ciphertext* a);
absl::StatusOr<Ciphertext> AddConstant(const CkksContext& ctx, const Ciphertext& a, double c);
// a * c in every slot, c encoded as round(c * constant_scale) (the result's scale is a.scale *
// constant_scale; rescale afterwards; constant_scale = 1 multiplies by the integer round(c) without changing
// the scale). Errors: constant_scale not finite and > 0, or round(c * constant_scale) of magnitude >= 2^62.
absl::Status MultiplyConstantInplace(const CkksContext& ctx, double c, double constant_scale, Ciphertext* a);
absl::StatusOr<Ciphertext> MultiplyConstant(const CkksContext& ctx, const Ciphertext& a, double c,
                                            double constant_scale);

// a * b for two 2-part ciphertexts: 3 parts (a0 b0, a0 b1 + a1 b0, a1 b1) at the lower level, scale a.scale *
// b.scale. Errors: an operand that does not have 2 parts (the message says to relinearize).
absl::StatusOr<Ciphertext> Multiply(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);
absl::Status MultiplyInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a);
// a * b into *out, reusing out's storage (no allocation when out already holds a 3-part ciphertext of at
// least this size). out must not alias a or b.
absl::Status MultiplyInto(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b, Ciphertext* out);

// A 3-part ciphertext back to 2 parts with the relinearization key (2-part input: unchanged).
// Errors: more than 3 parts; a key that does not match ctx.
absl::Status RelinearizeInplace(const CkksContext& ctx, const RelinKeys& rk, Ciphertext* a);
absl::StatusOr<Ciphertext> Relinearize(const CkksContext& ctx, const RelinKeys& rk, const Ciphertext& a);
// Multiply then relinearize then rescale: the usual product of two fresh-scale ciphertexts.
absl::StatusOr<Ciphertext> MultiplyRelinRescale(const CkksContext& ctx, const RelinKeys& rk,
                                                const Ciphertext& a, const Ciphertext& b);

// Divides by the last prime q_level: level - 1, scale / q_level. Errors: FailedPrecondition at level 0 (no
// prime left to drop).
absl::Status RescaleInplace(const CkksContext& ctx, Ciphertext* a);
absl::StatusOr<Ciphertext> Rescale(const CkksContext& ctx, const Ciphertext& a);

// Modulus switching: drops the primes above `level` without dividing (same scale, same value, no added
// noise). Errors: InvalidArgument if level is negative or above a.level.
absl::Status DropToLevelInplace(const CkksContext& ctx, int level, Ciphertext* a);
absl::StatusOr<Ciphertext> DropToLevel(const CkksContext& ctx, const Ciphertext& a, int level);

// Brings `a` to exactly `level` and `scale`: if a is already there, nothing; otherwise a must be above
// `level`: it is switched down to level + 1, multiplied by the constant 1 encoded at scale
// scale * q_(level+1) / a.scale, and rescaled (one level consumed, an error of one rescale added). Errors:
// FailedPrecondition if a is at `level` with another scale, or below `level` (the message says what is
// possible); InvalidArgument if the needed constant scale is below 2^20 (it would lose precision) or above
// 2^62.
absl::Status MatchLevelAndScale(const CkksContext& ctx, int level, double scale, Ciphertext* a);

// Rotates the slots left by `steps` (negative: right), i.e. slot j receives slot j + steps mod N/2. Uses the
// key for that exact step if present, else composes keys for the signed powers of two of its non-adjacent
// form (at most log2(N/2) / 2 + 1 key switches). Errors: NotFound naming the missing steps; InvalidArgument
// for a ciphertext that is not relinearized.
absl::Status RotateInplace(const CkksContext& ctx, const GaloisKeys& gk, int64_t steps, Ciphertext* a);
absl::StatusOr<Ciphertext> Rotate(const CkksContext& ctx, const GaloisKeys& gk, const Ciphertext& a,
                                  int64_t steps);
// Complex conjugation of every slot. Errors: NotFound if gk has no conjugation key.
absl::Status ConjugateInplace(const CkksContext& ctx, const GaloisKeys& gk, Ciphertext* a);
absl::StatusOr<Ciphertext> Conjugate(const CkksContext& ctx, const GaloisKeys& gk, const Ciphertext& a);
// Applies the Galois automorphism X -> X^g with its key (the primitive behind Rotate and Conjugate).
// Errors: NotFound if gk has no key for g; InvalidArgument for an even g or a ciphertext with 3 parts.
absl::Status ApplyGaloisInplace(const CkksContext& ctx, const GaloisKeys& gk, uint64_t galois_element,
                                Ciphertext* a);

// Every slot j receives the sum of slots j, j + 1, ..., j + count - 1 (mod N/2): log2(count) rotations by
// 1, 2, 4, ... and additions. With count = N/2 every slot holds the total. Errors: InvalidArgument if count
// is not a power of two in [1, N/2]; Rotate's errors.
absl::Status RotateAndSumInplace(const CkksContext& ctx, const GaloisKeys& gk, size_t count, Ciphertext* a);

}  // namespace veil::he

#endif  // VEIL_HE_EVALUATOR_H_
