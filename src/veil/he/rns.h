// Residue number system (RNS) bases and conversion between them, the building block of RNS-CKKS key switching
// (ModUp: from the ciphertext primes to the special primes; ModDown: back, dividing by P) and of rescaling.
//
// An RNS base B = {q_0, ..., q_{k-1}} (distinct primes) represents an integer x in [0, Q), Q = prod q_i, by
// its residues x_i = x mod q_i. With q_hat_i = Q / q_i and y_i = [x_i * q_hat_i^-1]_{q_i}, the CRT gives
//
//     x = sum_i y_i * q_hat_i - u * Q   for an integer u with 0 <= u < k,
//
// because sum_i y_i / q_i = u + x / Q and each y_i / q_i < 1.
//
// Fast base conversion (J.-C. Bajard, J. Eynard, M. A. Hasan, V. Zucca, "A Full RNS Variant of FV like
// Somewhat Homomorphic Encryption Schemes", SAC 2016, section 2.2, "FastBconv") evaluates the sum modulo each
// prime p_j of a target base without computing u: the result is x + u * Q mod p_j, with the unknown u in
// [0, k). Key switching tolerates this u * Q (it becomes a small extra noise after division by P).
//
// Exact conversion of the centered representative (S. Halevi, Y. Polyakov, V. Shoup, "An Improved RNS Variant
// of the BFV Homomorphic Encryption Scheme", CT-RSA 2019, section 2.2 and Lemma 2) computes
// v = round(sum_i y_i / q_i) in double precision, which equals u + [x >= Q/2], and returns
// sum_i y_i * q_hat_i - v * Q = the representative of x in [-Q/2, Q/2), reduced mod p_j. It is exact unless
// x / Q lies within about k * 2^-52 of 1/2 (the rounding of the double sum can then go the wrong way); the
// values CKKS converts exactly (noise, centered small polynomials) are far from Q/2.
//
// Data layout: a polynomial in RNS form is limb-major: limb i occupies values[i * n, (i + 1) * n).
//
// Thread safety: RnsBase and BaseConverter are immutable after creation; conversions may run concurrently.
#ifndef VEIL_HE_RNS_H_
#define VEIL_HE_RNS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/he/modarith.h"

namespace veil::he {

class RnsBase {
 public:
  // Errors: InvalidArgument if `primes` is empty, a value is not a prime below 2^61, or a prime repeats (the
  // message names the prime and its index).
  static absl::StatusOr<RnsBase> Create(const std::vector<uint64_t>& primes);

  size_t size() const { return moduli_.size(); }
  const Modulus& modulus(size_t i) const { return moduli_[i]; }
  const std::vector<Modulus>& moduli() const { return moduli_; }
  // [q_hat_i^-1]_{q_i} with q_hat_i = Q / q_i, and its Shoup quotient.
  uint64_t q_hat_inv(size_t i) const { return q_hat_inv_[i]; }
  uint64_t q_hat_inv_shoup(size_t i) const { return q_hat_inv_shoup_[i]; }

 private:
  RnsBase() = default;

  std::vector<Modulus> moduli_;
  std::vector<uint64_t> q_hat_inv_, q_hat_inv_shoup_;
};

// Converts polynomials from base `from` (Q) to base `to` (P). The two bases must be disjoint.
class BaseConverter {
 public:
  // Errors: InvalidArgument if a prime is in both bases (naming it).
  static absl::StatusOr<BaseConverter> Create(const RnsBase& from, const RnsBase& to);

  const RnsBase& from() const { return from_; }
  const RnsBase& to() const { return to_; }

  // BEHZ FastBconv of n coefficients: `in` holds from().size() limbs of n values (each below its prime),
  // `out` receives to().size() limbs of n values, out_j[c] = (x[c] + u[c] * Q) mod p_j with 0 <= u[c] < k.
  // Errors: InvalidArgument if the span sizes are not from().size() * n and to().size() * n.
  absl::Status FastConvert(std::span<const uint64_t> in, size_t n, std::span<uint64_t> out) const;

  // HPS exact conversion of the centered representative: out_j[c] = x'[c] mod p_j with x'[c] = x[c] if
  // x[c] < Q/2 and x[c] - Q otherwise (see the header comment for the double-precision caveat near Q/2).
  // Same layout and errors as FastConvert.
  absl::Status ExactConvertCentered(std::span<const uint64_t> in, size_t n, std::span<uint64_t> out) const;

 private:
  BaseConverter(RnsBase from, RnsBase to) : from_(std::move(from)), to_(std::move(to)) {}
  absl::Status CheckSizes(std::span<const uint64_t> in, size_t n, std::span<uint64_t> out) const;
  // y_i[c] = [x_i[c] * q_hat_i^-1]_{q_i} for every limb i, limb-major.
  void ComputeY(std::span<const uint64_t> in, size_t n, std::vector<uint64_t>& y) const;
  // out_j[c] = sum_i y_i[c] * (q_hat_i mod p_j) mod p_j.
  void SumProducts(const std::vector<uint64_t>& y, size_t n, std::span<uint64_t> out) const;

  RnsBase from_;
  RnsBase to_;
  // q_hat_mod_p_[j * from.size() + i] = (Q / q_i) mod p_j.
  std::vector<uint64_t> q_hat_mod_p_;
  // Q mod p_j.
  std::vector<uint64_t> q_mod_p_;
  // 1 / q_i in double precision.
  std::vector<double> inv_q_;
};

}  // namespace veil::he

#endif  // VEIL_HE_RNS_H_
