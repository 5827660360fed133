// The negacyclic number-theoretic transform over Z_q[X] / (X^N + 1), one RNS limb at a time.
//
// For a prime q = 1 mod 2N with a primitive 2N-th root of unity psi (NttTables uses the smallest one), the
// forward transform maps the coefficients a_0..a_{N-1} of a(X) to its evaluations at the odd powers of psi,
// in bit-reversed order:
//
//     ForwardNtt(a)[k] = a(psi^(2 * bitrev(k) + 1)) mod q,   bitrev over log2(N) bits,
//
// so that a negacyclic product is a pointwise product: InverseNtt(ForwardNtt(a) * ForwardNtt(b)) = a * b
// mod (X^N + 1, q). InverseNtt is its exact inverse (it includes the factor N^-1).
//
// Algorithm: Cooley-Tukey butterflies for the forward and Gentleman-Sande for the inverse, merged with the
// multiplication by the powers of psi (T. Poppelmann, T. Oder, T. Guneysu, LATINCRYPT 2015; P. Longa and
// M. Naehrig, "Speeding up the Number Theoretic Transform for Faster Ideal Lattice-Based Cryptography",
// CANS 2016, Algorithms 1 and 2), with D. Harvey's lazy reduction ("Faster arithmetic for number-theoretic
// transforms", J. Symbolic Computation 60, 2014): twiddle products use Shoup's precomputed quotients and
// values stay in [0, 4q) between stages (q < 2^61, so 4q fits a word); the last step reduces to [0, q). The
// inverse folds N^-1 into its last stage.
//
// Backends. The portable backend is plain C++. The AVX-512 IFMA backend (x86-64 with avx512f, avx512dq and
// avx512ifma, detected at run time with __builtin_cpu_supports; compiled with function target attributes,
// not global flags) handles N >= 16 and every prime, 8 lanes at a time: for primes below 2^50 it computes
// Shoup products with 52-bit multiply-add (vpmadd52luq / vpmadd52huq), which needs every lazy value below
// 2^52 (4q < 2^52); for larger primes (the 60-bit first and special primes) it computes the portable code's
// 64-bit Shoup products, the high word from four 52-bit products and the low words with vpmullq
// (ntt_ifma.cc). Both backends return the same fully reduced values, bit for bit (intermediate lazy
// representatives may differ).
//
// Thread safety: NttTables is immutable after creation; any number of threads may transform different arrays
// with the same tables. Timing depends only on N and the backend, not on the data.
#ifndef VEIL_HE_NTT_H_
#define VEIL_HE_NTT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/he/modarith.h"

namespace veil::he {

enum class NttBackend {
  kAuto,      // IFMA when IfmaApplies(tables), else portable. The default.
  kPortable,  // Always the portable code.
  kIfma,      // IFMA when IfmaApplies(tables); otherwise falls back to portable (check IfmaApplies first).
};

// Whether this CPU supports AVX-512 F, DQ and IFMA and the library was built with the IFMA backend.
bool CpuHasIfma();

// Precomputed powers of psi (and psi^-1) in bit-reversed order with their Shoup quotients, for one prime and
// one N. About 4N words (8N when the IFMA backend applies).
class NttTables {
 public:
  // Errors: InvalidArgument if n is not a power of two >= 2, or q is not 1 mod 2n (the message names both).
  // q must be prime (not re-checked here; CkksParameters guarantees it).
  static absl::StatusOr<NttTables> Create(size_t n, const Modulus& q);

  size_t n() const { return n_; }
  const Modulus& modulus() const { return q_; }
  // psi: the smallest primitive 2N-th root of unity mod q.
  uint64_t root() const { return root_; }
  // True if the IFMA backend can transform with these tables on this CPU (CpuHasIfma(), N >= 16).
  bool ifma_applies() const { return n_ >= 16 && CpuHasIfma(); }

  // psi^bitrev(i) and psi^-bitrev(i) (index 0 unused by the transforms), their Shoup quotients for 2^64 and,
  // when q < 2^50, for 2^52. Exposed for the transforms and for tests.
  const std::vector<uint64_t>& root_powers() const { return root_powers_; }
  const std::vector<uint64_t>& inv_root_powers() const { return inv_root_powers_; }

 private:
  friend void ForwardNtt(const NttTables&, std::span<uint64_t>, NttBackend);
  friend void InverseNtt(const NttTables&, std::span<uint64_t>, NttBackend);
  NttTables(size_t n, Modulus q) : n_(n), q_(q) {}

  size_t n_;
  Modulus q_;
  uint64_t root_ = 0;
  std::vector<uint64_t> root_powers_, root_powers_shoup_;
  std::vector<uint64_t> inv_root_powers_, inv_root_powers_shoup_;
  // N^-1, and psi^-bitrev(1) * N^-1 (the last inverse stage's twiddle times N^-1), with Shoup quotients.
  uint64_t inv_n_ = 0, inv_n_shoup_ = 0, inv_n_root_ = 0, inv_n_root_shoup_ = 0;
  // The same quotients for 2^52 (IFMA); empty unless q < 2^50 and N >= 16.
  std::vector<uint64_t> root_powers_shoup52_, inv_root_powers_shoup52_;
  uint64_t inv_n_shoup52_ = 0, inv_n_root_shoup52_ = 0;
};

// In-place forward negacyclic NTT of `values` (size tables.n(), each below 4q), output in bit-reversed order
// and in [0, q). The size is a precondition (checked by assert in debug builds).
void ForwardNtt(const NttTables& tables, std::span<uint64_t> values, NttBackend backend = NttBackend::kAuto);

// In-place inverse of ForwardNtt: `values` (size tables.n(), each below 2q) in bit-reversed order, output the
// coefficients in natural order in [0, q).
void InverseNtt(const NttTables& tables, std::span<uint64_t> values, NttBackend backend = NttBackend::kAuto);

namespace internal {

// The IFMA kernels (ntt_ifma.cc). Preconditions: CpuHasIfma(), n >= 16 a power of two; `wide` iff
// q >= 2^50, with the tables' 2^64 Shoup quotients if `wide` and their 2^52 quotients otherwise. Same input
// and output ranges as ForwardNtt / InverseNtt.
void ForwardNttIfma(uint64_t* values, size_t n, uint64_t q, const uint64_t* root_powers,
                    const uint64_t* root_powers_shoup, bool wide);
void InverseNttIfma(uint64_t* values, size_t n, uint64_t q, const uint64_t* inv_root_powers,
                    const uint64_t* inv_root_powers_shoup, uint64_t inv_n, uint64_t inv_n_shoup,
                    uint64_t inv_n_root, uint64_t inv_n_root_shoup, bool wide);
bool CpuHasIfmaUncached();

// The low `bits` bits of x in reverse order: the bit-reversed index of the NTT's tables and of the slot
// permutations (keyswitch.cc).
size_t BitReverse(size_t x, int bits);

// floor(w * 2^52 / q) for w < q < 2^50.
inline uint64_t ShoupPrecompute52(uint64_t w, uint64_t q) {
  return static_cast<uint64_t>((static_cast<uint128_t>(w) << 52) / q);
}

}  // namespace internal

}  // namespace veil::he

#endif  // VEIL_HE_NTT_H_
