// Homomorphic operations on RNS-CKKS ciphertexts that need no evaluation keys: addition, subtraction,
// negation, addition and multiplication by a plaintext or a constant, multiplication (giving 3 parts, to be
// relinearized once relinearization keys exist), and rescaling.
//
// Scales and levels. Operands of an addition must be at the same level and have the same scale (equal up to a
// relative 1e-9, which absorbs the rounding of scale arithmetic); products multiply the scales; Rescale
// divides the ciphertext and its scale by the last prime q_level and drops that prime. Mismatches are
// reported as InvalidArgument errors naming both levels or both scales (as log2) and what to do (rescale, or
// bring the operand to the same level), never silently computed.
//
// Noise: additions add the operands' errors; a product's error is about |x| e_y + |y| e_x + e_x e_y / scale;
// rescaling adds a rounding error of about sqrt(N / 12) * (1 + ||s||) / scale_after per coefficient, i.e. of
// order sqrt(N) * sqrt(N/3) / scale_after in the slots (2e-8 at N = 8192 and a resulting scale of 2^40).
//
// Rescale follows Cheon, Han, Kim, Kim, Song, "A Full RNS Variant of Approximate Homomorphic Encryption", SAC
// 2018, section 3.3: c_i <- (c_i - [c_level]_centered) * q_level^-1 mod q_i for every remaining prime q_i,
// which is round(c / q_level) up to an error below 1 per coefficient.
//
// Thread safety: the functions are pure (inputs by const reference, results returned).
#ifndef VEIL_HE_EVALUATOR_H_
#define VEIL_HE_EVALUATOR_H_

#include "absl/status/statusor.h"
#include "veil/he/context.h"
#include "veil/he/keys.h"

namespace veil::he {

// a + b, a - b (parts added pointwise; the result has max(a.parts, b.parts) parts). Errors: level or scale
// mismatch, malformed operands.
absl::StatusOr<Ciphertext> Add(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);
absl::StatusOr<Ciphertext> Sub(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);
// -a. Errors: malformed operand.
absl::StatusOr<Ciphertext> Negate(const CkksContext& ctx, const Ciphertext& a);

// a + p (p at a's level and scale). Errors: level or scale mismatch.
absl::StatusOr<Ciphertext> AddPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p);
// a * p (p at a's level; the result's scale is a.scale * p.scale). Errors: level mismatch.
absl::StatusOr<Ciphertext> MultiplyPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p);

// a + c in every slot (c encoded as round(c * a.scale) in the constant coefficient).
// Errors: c * a.scale not finite or of magnitude 2^62 or more.
absl::StatusOr<Ciphertext> AddConstant(const CkksContext& ctx, const Ciphertext& a, double c);
// a * c in every slot, c encoded as round(c * constant_scale) (the result's scale is a.scale *
// constant_scale; rescale afterwards). Errors: constant_scale not finite and > 0, or round(c *
// constant_scale) of magnitude 2^62 or more.
absl::StatusOr<Ciphertext> MultiplyConstant(const CkksContext& ctx, const Ciphertext& a, double c,
                                            double constant_scale);

// a * b for two 2-part ciphertexts at the same level: 3 parts (a0 b0, a0 b1 + a1 b0, a1 b1), scale a.scale *
// b.scale. Errors: level mismatch, an operand that does not have 2 parts.
absl::StatusOr<Ciphertext> Multiply(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b);

// Divides by the last prime q_level: level - 1, scale / q_level. Errors: FailedPrecondition at level 0 (no
// prime left to drop).
absl::StatusOr<Ciphertext> Rescale(const CkksContext& ctx, const Ciphertext& a);

}  // namespace veil::he

#endif  // VEIL_HE_EVALUATOR_H_
