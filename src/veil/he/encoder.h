// The CKKS encoder: the canonical embedding between N/2 complex slots and integer polynomials of
// Z[X] / (X^N + 1) at an explicit scale (J. H. Cheon, A. Kim, M. Kim, Y. Song, "Homomorphic Encryption for
// Arithmetic of Approximate Numbers", ASIACRYPT 2017, section 3.2).
//
// With zeta = exp(i * pi / N) (a primitive 2N-th root of unity), slot j (0 <= j < N/2) of a real polynomial
// m(X) is m(zeta^(5^j mod 2N)); the other N/2 primitive roots are their conjugates, whose values are the
// conjugates of the slots since m is real. Slot-wise addition and multiplication of messages correspond to
// addition and negacyclic multiplication of polynomials, and the Galois automorphism X -> X^5 rotates the
// slots by one (which is why the slots are ordered by powers of 5).
//
// Encoding computes the polynomial whose slots are the inputs and rounds scale * its coefficients to
// integers; decoding evaluates coefficients / scale at the slot points. How (our derivation, O(N log N) with
// one complex FFT of size N/2): write m(X) = sum_{k<N/2} (a_k + b_k X^(N/2)) X^k. At X = zeta^e with e = 1
// mod 4 (every 5^j is), X^(N/2) = i^e = i, so m(X) = u(X) with the complex polynomial u_k = a_k + i b_k of
// degree < N/2; and e = 1 + 4t ranges over t in [0, N/2), so the slots are u(zeta * w^t) with w = zeta^4 a
// primitive (N/2)-th root of unity: a DFT of size N/2 of the twisted coefficients u_k zeta^k. Encoding
// inverts it.
//
// Precision: the rounding to integers adds at most 1/2 to each of the N coefficients, so a decoded slot
// differs from the encoded value by at most N / (2 * scale) (typically about sqrt(N) / (3.5 * scale)), plus
// the double-precision FFT error (relative, about log2(N) * 2^-53 of the largest value).
//
// Limits: every scaled coefficient must be below 2^62 in magnitude (EncodeToCoefficients refuses otherwise);
// encoding values beyond that needs a multi-word path (not implemented).
//
// Thread safety: CkksEncoder is immutable after creation; concurrent Encode/Decode calls are safe.
#ifndef VEIL_HE_ENCODER_H_
#define VEIL_HE_ENCODER_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace veil::he {

class CkksEncoder {
 public:
  // Errors: InvalidArgument if n is not a power of two >= 4.
  static absl::StatusOr<CkksEncoder> Create(size_t n);

  size_t poly_degree() const { return n_; }
  size_t slot_count() const { return n_ / 2; }

  // The integer coefficients round(scale * m_k) of the polynomial whose slots are `values` (fewer values than
  // slots leave the rest zero). Errors (InvalidArgument): more values than slots; scale not finite or <= 0; a
  // value not finite; a scaled coefficient of magnitude 2^62 or more (the message names the scale).
  absl::StatusOr<std::vector<int64_t>> EncodeToCoefficients(std::span<const std::complex<double>> values,
                                                            double scale) const;
  // Real values (imaginary parts 0).
  absl::StatusOr<std::vector<int64_t>> EncodeToCoefficients(std::span<const double> values,
                                                            double scale) const;

  // The slots of the polynomial with (centered, possibly non-integer) coefficients `coefficients` / scale.
  // Errors: InvalidArgument if coefficients.size() != N or scale is not finite and > 0.
  absl::StatusOr<std::vector<std::complex<double>>> DecodeCoefficients(std::span<const double> coefficients,
                                                                       double scale) const;

 private:
  explicit CkksEncoder(size_t n) : n_(n) {}
  // In-place DFT of size N/2 (sign -1: w^(+kt); sign +1: w^(-kt), unnormalised) in natural order.
  void Dft(std::vector<std::complex<double>>& a, bool inverse) const;

  size_t n_;
  // zeta^k for k in [0, 2N).
  std::vector<std::complex<double>> zeta_powers_;
  // slot_index_[j] = t with 1 + 4t = 5^j mod 2N.
  std::vector<size_t> slot_index_;
  // Bit reversal permutation over log2(N/2) bits.
  std::vector<size_t> bit_reverse_;
};

}  // namespace veil::he

#endif  // VEIL_HE_ENCODER_H_
