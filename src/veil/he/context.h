// The RNS-CKKS context: everything precomputed from a CkksParameters (the NTT tables of every prime, the
// encoder, CRT constants per level), the RNS polynomial type, and plaintexts (encode / decode at a scale and
// a level).
//
// Primes are indexed in one list: ciphertext primes q_0..q_L first (indices 0..L), then the special primes
// (indices L+1..L+k). A polynomial "at level l" has the l+1 limbs q_0..q_l.
//
// Thread safety: CkksContext is immutable after creation and may be shared by any number of threads (pass it
// by const reference; it must outlive the calls that use it). RnsPoly and Plaintext are plain values.
#ifndef VEIL_HE_CONTEXT_H_
#define VEIL_HE_CONTEXT_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/he/encoder.h"
#include "veil/he/modarith.h"
#include "veil/he/ntt.h"
#include "veil/he/params.h"

namespace veil::he {

// A polynomial of Z[X]/(X^N + 1) in RNS form: `limbs` residue polynomials of n coefficients, limb-major
// (limb i at data[i * n, (i + 1) * n)), each value below its prime; in NTT form (bit-reversed evaluations) or
// coefficient form. Which primes the limbs belong to is the caller's convention (CkksContext's index order).
struct RnsPoly {
  size_t n = 0;
  size_t limbs = 0;
  bool ntt_form = false;
  std::vector<uint64_t> data;

  RnsPoly() = default;
  RnsPoly(size_t n_, size_t limbs_, bool ntt) : n(n_), limbs(limbs_), ntt_form(ntt), data(n_ * limbs_, 0) {}
  std::span<uint64_t> limb(size_t i) { return {data.data() + i * n, n}; }
  std::span<const uint64_t> limb(size_t i) const { return {data.data() + i * n, n}; }
};

// An encoded message: a polynomial at a level (NTT form, limbs q_0..q_level) and the scale its slots were
// multiplied by.
struct Plaintext {
  RnsPoly poly;
  int level = 0;
  double scale = 1.0;
};

class CkksContext {
 public:
  // Precomputes the NTT tables of every prime (about 4N words each) and the CRT constants of every level.
  // Errors: only those of NttTables::Create / CkksEncoder::Create, which a validated CkksParameters never
  // triggers.
  static absl::StatusOr<CkksContext> Create(const CkksParameters& params);

  const CkksParameters& params() const { return params_; }
  size_t n() const { return params_.poly_degree(); }
  size_t slot_count() const { return n() / 2; }
  int max_level() const { return params_.max_level(); }
  // Number of primes: ciphertext and special.
  size_t prime_count() const { return moduli_.size(); }
  const Modulus& modulus(size_t i) const { return moduli_[i]; }
  const NttTables& ntt(size_t i) const { return ntt_[i]; }
  const CkksEncoder& encoder() const { return encoder_; }
  // [q_last^-1]_{q_i} for 0 <= i < last <= max_level() (rescaling from level `last`).
  uint64_t rescale_inverse(size_t last, size_t i) const { return rescale_inv_[last][i]; }

  // Encodes up to slot_count() complex (or real) values at `scale` into a plaintext at `level`.
  // Errors: InvalidArgument for a level outside [0, max_level()], and the encoder's errors (too many values,
  // bad scale, scaled coefficients of 2^62 or more).
  absl::StatusOr<Plaintext> Encode(std::span<const std::complex<double>> values, double scale,
                                   int level) const;
  absl::StatusOr<Plaintext> Encode(std::span<const double> values, double scale, int level) const;

  // Decodes all slot_count() slots: inverse NTT, CRT to the centered integer coefficients (exact,
  // multi-word), division by the scale, canonical embedding. Errors: InvalidArgument if the plaintext's shape
  // does not match its level (naming both).
  absl::StatusOr<std::vector<std::complex<double>>> Decode(const Plaintext& plaintext) const;

  // Writes small signed coefficients (|c| < every prime) into limbs 0..limbs-1 of `out` (which must have n
  // coefficients per limb and at least `limbs` limbs; out->limbs is not changed) and, if `to_ntt`, transforms
  // them. Limb i uses prime `first_prime + i`.
  void SignedToRns(std::span<const int64_t> coefficients, size_t first_prime, size_t limbs, bool to_ntt,
                   RnsPoly* out) const;

  // The centered integer values of a coefficient-form polynomial at `level` (limbs q_0..q_level), as doubles
  // (the exact integer, from a CRT with multi-word integers, then rounded to double; context.cc).
  std::vector<double> CenteredCoefficients(const RnsPoly& coefficient_form, int level) const;

 private:
  CkksContext(CkksParameters params, CkksEncoder encoder)
      : params_(std::move(params)), encoder_(std::move(encoder)) {}

  // CRT constants of the base q_0..q_l, multi-word integers as little-endian 64-bit words.
  struct LevelCrt {
    std::vector<uint64_t> q;                   // Q_l = q_0 ... q_l
    std::vector<std::vector<uint64_t>> q_hat;  // Q_l / q_i
    std::vector<uint64_t> q_hat_words;         // the same, each padded to q.size() words, one after the other
    std::vector<uint64_t> q_hat_inv;           // [(Q_l / q_i)^-1]_{q_i}
  };

  CkksParameters params_;
  CkksEncoder encoder_;
  std::vector<Modulus> moduli_;
  std::vector<NttTables> ntt_;
  std::vector<LevelCrt> crt_;       // indexed by level
  std::vector<double> inv_primes_;  // 1 / q_i in double precision
  std::vector<std::vector<uint64_t>> rescale_inv_;
};

}  // namespace veil::he

#endif  // VEIL_HE_CONTEXT_H_
