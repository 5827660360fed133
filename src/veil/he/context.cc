#include "veil/he/context.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::he {

namespace {

// Little-endian multi-word unsigned integers, just enough for CRT reconstruction.
using Words = std::vector<uint64_t>;

Words MulWord(const Words& a, uint64_t w) {
  Words r(a.size() + 1, 0);
  uint64_t carry = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const uint128_t p = static_cast<uint128_t>(a[i]) * w + carry;
    r[i] = static_cast<uint64_t>(p);
    carry = static_cast<uint64_t>(p >> 64);
  }
  r[a.size()] = carry;
  while (r.size() > 1 && r.back() == 0) r.pop_back();
  return r;
}

// acc += a * w, acc having enough words (the caller sizes it).
void AddMulWord(Words& acc, const Words& a, uint64_t w) {
  uint64_t carry = 0;
  size_t i = 0;
  for (; i < a.size(); ++i) {
    const uint128_t p = static_cast<uint128_t>(a[i]) * w + acc[i] + carry;
    acc[i] = static_cast<uint64_t>(p);
    carry = static_cast<uint64_t>(p >> 64);
  }
  for (; carry != 0 && i < acc.size(); ++i) {
    const uint128_t s = static_cast<uint128_t>(acc[i]) + carry;
    acc[i] = static_cast<uint64_t>(s);
    carry = static_cast<uint64_t>(s >> 64);
  }
}

// Compares a (acc-sized) with b (possibly fewer words).
int Compare(const Words& a, const Words& b) {
  for (size_t i = a.size(); i-- > 0;) {
    const uint64_t bi = i < b.size() ? b[i] : 0;
    if (a[i] != bi) return a[i] < bi ? -1 : 1;
  }
  return 0;
}

// a -= b, a >= b.
void SubInPlace(Words& a, const Words& b) {
  uint64_t borrow = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const uint64_t bi = i < b.size() ? b[i] : 0;
    const uint128_t sub = static_cast<uint128_t>(bi) + borrow;
    borrow = static_cast<uint128_t>(a[i]) < sub ? 1 : 0;
    a[i] = static_cast<uint64_t>(static_cast<uint128_t>(a[i]) - sub);
  }
}

double ToDouble(const Words& a) {
  double r = 0;
  for (size_t i = a.size(); i-- > 0;) r = r * 0x1p64 + static_cast<double>(a[i]);
  return r;
}

}  // namespace

absl::StatusOr<CkksContext> CkksContext::Create(const CkksParameters& params) {
  VEIL_ASSIGN_OR_RETURN(CkksEncoder encoder, CkksEncoder::Create(params.poly_degree()));
  CkksContext ctx(params, std::move(encoder));
  std::vector<uint64_t> primes = params.ciphertext_primes();
  primes.insert(primes.end(), params.special_primes().begin(), params.special_primes().end());
  for (uint64_t p : primes) {
    VEIL_ASSIGN_OR_RETURN(Modulus m, Modulus::Create(p));
    VEIL_ASSIGN_OR_RETURN(NttTables t, NttTables::Create(params.poly_degree(), m));
    ctx.moduli_.push_back(m);
    ctx.ntt_.push_back(std::move(t));
  }
  for (int level = 0; level <= params.max_level(); ++level) {
    LevelCrt crt;
    crt.q = {1};
    for (int i = 0; i <= level; ++i) crt.q = MulWord(crt.q, primes[i]);
    for (int i = 0; i <= level; ++i) {
      Words q_hat = {1};
      uint64_t q_hat_mod = 1;
      const Modulus& qi = ctx.moduli_[i];
      for (int l = 0; l <= level; ++l) {
        if (l == i) continue;
        q_hat = MulWord(q_hat, primes[l]);
        q_hat_mod = qi.Mul(q_hat_mod, qi.Reduce(primes[l]));
      }
      VEIL_ASSIGN_OR_RETURN(const uint64_t inv, InvertMod(q_hat_mod, qi));
      crt.q_hat.push_back(std::move(q_hat));
      crt.q_hat_inv.push_back(inv);
      crt.q_hat_inv_shoup.push_back(ShoupPrecompute(inv, qi.value()));
    }
    ctx.crt_.push_back(std::move(crt));
  }
  ctx.rescale_inv_.resize(primes.size());
  for (int last = 1; last <= params.max_level(); ++last) {
    for (int i = 0; i < last; ++i) {
      const Modulus& qi = ctx.moduli_[i];
      VEIL_ASSIGN_OR_RETURN(const uint64_t inv, InvertMod(qi.Reduce(primes[last]), qi));
      ctx.rescale_inv_[last].push_back(inv);
    }
  }
  return ctx;
}

void CkksContext::SignedToRns(std::span<const int64_t> coefficients, size_t first_prime, size_t limbs,
                              bool to_ntt, RnsPoly* out) const {
  const size_t n = this->n();
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = moduli_[first_prime + i];
    std::span<uint64_t> limb = out->limb(i);
    for (size_t c = 0; c < n; ++c) {
      const int64_t v = coefficients[c];
      // Reduce |v| (up to 2^62 for plaintexts) and negate if needed.
      const uint64_t magnitude =
          q.Reduce(v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v));
      limb[c] = v < 0 ? q.Neg(magnitude) : magnitude;
    }
    if (to_ntt) ForwardNtt(ntt_[first_prime + i], limb);
  }
}

absl::StatusOr<Plaintext> CkksContext::Encode(std::span<const std::complex<double>> values, double scale,
                                              int level) const {
  if (level < 0 || level > max_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext level ", level, " is outside [0, ", max_level(), "]"));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> coefficients, encoder_.EncodeToCoefficients(values, scale));
  Plaintext pt;
  pt.level = level;
  pt.scale = scale;
  pt.poly = RnsPoly(n(), static_cast<size_t>(level) + 1, /*ntt=*/true);
  SignedToRns(coefficients, 0, pt.poly.limbs, /*to_ntt=*/true, &pt.poly);
  return pt;
}

absl::StatusOr<Plaintext> CkksContext::Encode(std::span<const double> values, double scale, int level) const {
  std::vector<std::complex<double>> complex_values(values.begin(), values.end());
  return Encode(std::span<const std::complex<double>>(complex_values), scale, level);
}

std::vector<double> CkksContext::CenteredCoefficients(const RnsPoly& poly, int level) const {
  const LevelCrt& crt = crt_[level];
  const size_t k = static_cast<size_t>(level) + 1;
  const size_t n = this->n();
  std::vector<double> out(n);
  Words half_q = crt.q;  // floor(Q / 2)
  for (size_t i = 0; i < half_q.size(); ++i) {
    half_q[i] = (half_q[i] >> 1) | (i + 1 < half_q.size() ? half_q[i + 1] << 63 : 0);
  }
  Words acc(crt.q.size() + 2), neg(crt.q.size() + 2);
  for (size_t c = 0; c < n; ++c) {
    std::fill(acc.begin(), acc.end(), 0);
    // x = sum_i y_i * (Q / q_i) - u * Q with 0 <= u < k.
    for (size_t i = 0; i < k; ++i) {
      const uint64_t y =
          MulShoup(poly.data[i * n + c], crt.q_hat_inv[i], crt.q_hat_inv_shoup[i], moduli_[i].value());
      AddMulWord(acc, crt.q_hat[i], y);
    }
    while (Compare(acc, crt.q) >= 0) SubInPlace(acc, crt.q);
    if (Compare(acc, half_q) > 0) {  // x > Q/2: the centered value is x - Q = -(Q - x)
      std::fill(neg.begin(), neg.end(), 0);
      std::copy(crt.q.begin(), crt.q.end(), neg.begin());
      SubInPlace(neg, acc);
      out[c] = -ToDouble(neg);
    } else {
      out[c] = ToDouble(acc);
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::complex<double>>> CkksContext::Decode(const Plaintext& pt) const {
  if (pt.level < 0 || pt.level > max_level() || pt.poly.n != n() ||
      pt.poly.limbs != static_cast<size_t>(pt.level) + 1 ||
      pt.poly.data.size() != pt.poly.n * pt.poly.limbs) {
    return absl::InvalidArgumentError(absl::StrCat("plaintext shape (", pt.poly.limbs, " limbs of ",
                                                   pt.poly.n, " coefficients) does not match its level ",
                                                   pt.level, " at N = ", n()));
  }
  RnsPoly coeffs = pt.poly;
  if (coeffs.ntt_form) {
    for (size_t i = 0; i < coeffs.limbs; ++i) InverseNtt(ntt_[i], coeffs.limb(i));
    coeffs.ntt_form = false;
  }
  const std::vector<double> centered = CenteredCoefficients(coeffs, pt.level);
  return encoder_.DecodeCoefficients(centered, pt.scale);
}

}  // namespace veil::he
