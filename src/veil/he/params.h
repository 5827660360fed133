// RNS-CKKS parameter sets: the ring degree N, the ciphertext modulus chain q_0, ..., q_L and the special
// primes p_0, ..., p_{k-1} used only for key switching (hybrid key switching, Han and Ki, CT-RSA 2020), built
// by a validating builder that refuses any set above the 128-bit security bound.
//
// Security. The bound is the HomomorphicEncryption.org standard's for 128-bit classical security with a
// ternary secret (M. Albrecht et al., "Homomorphic Encryption Security Standard", HomomorphicEncryption.org,
// November 2018, Table 1, secret distribution (-1, 1)): log2 of the product of ALL primes, special primes
// included (the key-switching keys live modulo Q * P), is at most
//
//     N      4096  8192  16384  32768
//     bound   109   218    438    881
//
// Secret keys must therefore be ternary and errors of standard deviation 3.2 (the standard's assumptions).
//
// Primes. Every prime is NTT-friendly (q = 1 mod 2N, so that the negacyclic NTT of length N exists modulo q),
// below 2^61 (kMaxModulusBits), and all primes of a set are distinct. Primes given by bit size b are chosen
// deterministically: for each requested size in order (ciphertext primes first, then special primes), the
// largest prime below 2^b that is 1 mod 2N and not already chosen; it must still have exactly b bits.
//
// Thread safety: CkksParameters is an immutable value (safe to share); the builder is not thread-safe.
#ifndef VEIL_HE_PARAMS_H_
#define VEIL_HE_PARAMS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace veil::he {

// The standard's bound on log2(Q * P) for 128-bit classical security with a ternary secret.
// Errors: InvalidArgument if n is not one of 4096, 8192, 16384, 32768.
absl::StatusOr<int> MaxModulusBitsFor128BitSecurity(size_t n);

// Generates `bit_sizes.size()` distinct NTT-friendly primes for ring degree n (a power of two >= 2): for each
// size b in order, the largest prime p < 2^b with p = 1 mod 2n, p >= 2^(b-1), not in `exclude` and not
// already generated. Deterministic. Errors: InvalidArgument naming the size if b is outside [log2(2n) + 2,
// 61] or no such prime is left.
absl::StatusOr<std::vector<uint64_t>> GenerateNttPrimes(size_t n, const std::vector<int>& bit_sizes,
                                                        const std::vector<uint64_t>& exclude = {});

// A validated parameter set. Create with CkksParametersBuilder.
class CkksParameters {
 public:
  size_t poly_degree() const { return poly_degree_; }
  // q_0, ..., q_L: a fresh ciphertext lives modulo their product; rescaling drops the last one.
  const std::vector<uint64_t>& ciphertext_primes() const { return ciphertext_primes_; }
  // p_0, ..., p_{k-1}: the extra primes of key switching.
  const std::vector<uint64_t>& special_primes() const { return special_primes_; }
  // L = ciphertext_primes().size() - 1: the number of rescalings a fresh ciphertext allows.
  int max_level() const { return static_cast<int>(ciphertext_primes_.size()) - 1; }
  // log2 of the product of all primes (ciphertext and special), which the security bound limits.
  double total_modulus_bits() const { return total_modulus_bits_; }
  // The security bound that was checked (MaxModulusBitsFor128BitSecurity(poly_degree())).
  int max_modulus_bits() const { return max_modulus_bits_; }

 private:
  friend class CkksParametersBuilder;
  CkksParameters() = default;

  size_t poly_degree_ = 0;
  std::vector<uint64_t> ciphertext_primes_;
  std::vector<uint64_t> special_primes_;
  double total_modulus_bits_ = 0;
  int max_modulus_bits_ = 0;
};

// Builds a CkksParameters. Set N and, for each of the two prime lists, either bit sizes or explicit primes
// (the last call for a list wins). Defaults: no N (Build fails), no primes (Build fails: at least one
// ciphertext prime and one special prime are required).
//
//   VEIL_ASSIGN_OR_RETURN(CkksParameters params, CkksParametersBuilder()
//                                                    .SetPolyDegree(8192)
//                                                    .SetCiphertextPrimeBits({60, 40, 40})
//                                                    .SetSpecialPrimeBits({60})
//                                                    .Build());
class CkksParametersBuilder {
 public:
  CkksParametersBuilder& SetPolyDegree(size_t n);
  CkksParametersBuilder& SetCiphertextPrimeBits(std::vector<int> bit_sizes);
  CkksParametersBuilder& SetCiphertextPrimes(std::vector<uint64_t> primes);
  CkksParametersBuilder& SetSpecialPrimeBits(std::vector<int> bit_sizes);
  CkksParametersBuilder& SetSpecialPrimes(std::vector<uint64_t> primes);

  // Validates and builds. Errors (all InvalidArgument, each naming the offending value):
  //   - N not in {4096, 8192, 16384, 32768};
  //   - no ciphertext prime or no special prime;
  //   - a bit size outside the range of GenerateNttPrimes, or no prime left for it;
  //   - an explicit prime that is not prime, not 1 mod 2N, not below 2^61, or repeated in the set;
  //   - log2 of the product of all primes above the 128-bit bound for N (the message names N, the total
  //     bits and the bound).
  absl::StatusOr<CkksParameters> Build() const;

 private:
  size_t poly_degree_ = 0;
  std::optional<std::vector<int>> ciphertext_bits_;
  std::optional<std::vector<uint64_t>> ciphertext_primes_;
  std::optional<std::vector<int>> special_bits_;
  std::optional<std::vector<uint64_t>> special_primes_;
};

}  // namespace veil::he

#endif  // VEIL_HE_PARAMS_H_
