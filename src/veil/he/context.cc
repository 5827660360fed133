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
#include "veil/he/kernels.h"

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

// acc += a * m modulo 2^(64 w) (a and acc of w words).
void AddMulWordsWrapping(uint64_t* acc, const uint64_t* a, size_t w, uint64_t m) {
  uint64_t carry = 0;
  for (size_t i = 0; i < w; ++i) {
    const uint128_t p = static_cast<uint128_t>(a[i]) * m + acc[i] + carry;
    acc[i] = static_cast<uint64_t>(p);
    carry = static_cast<uint64_t>(p >> 64);
  }
}

// acc -= a * m modulo 2^(64 w).
void SubMulWordsWrapping(uint64_t* acc, const uint64_t* a, size_t w, uint64_t m) {
  uint64_t carry = 0, borrow = 0;
  for (size_t i = 0; i < w; ++i) {
    const uint128_t p = static_cast<uint128_t>(a[i]) * m + carry;
    carry = static_cast<uint64_t>(p >> 64);
    const uint64_t lo = static_cast<uint64_t>(p);
    const uint64_t d = acc[i] - lo;
    const uint64_t b = (acc[i] < lo) | (d < borrow);
    acc[i] = d - borrow;
    borrow = b;
  }
}

// acc = -acc modulo 2^(64 w) (two's complement).
void NegateWrapping(uint64_t* acc, size_t w) {
  uint64_t carry = 1;
  for (size_t i = 0; i < w; ++i) {
    const uint64_t v = ~acc[i] + carry;
    carry = carry & (v == 0);
    acc[i] = v;
  }
}

// The first `words` words of a as a double: Horner from the top word, r = r * 2^64 + a[i], starting at the
// top nonzero word (leading zero words leave r = 0 exactly, so skipping them changes nothing).
double ToDouble(const uint64_t* a, size_t words) {
  size_t top = words;
  while (top > 0 && a[top - 1] == 0) --top;
  double r = 0;
  for (size_t i = top; i-- > 0;) r = r * 0x1p64 + static_cast<double>(a[i]);
  return r;
}
double ToDouble(const Words& a, size_t words) { return ToDouble(a.data(), words); }

// The fast path of CenteredCoefficients for every coefficient c (kWords = w, or 0 for a run-time w up to
// kMaxWords): `out[c]` holds sum_i y_i / q_i on entry and the centered value on return, except for the
// coefficients appended to `exact`. y is limb-major (k limbs of n), q_hat_words k values of w words.
constexpr size_t kMaxWords = 16;  // 1024 bits: above the largest modulus the security bound allows (881 bits)

template <size_t kWords>
void CenteredFastPath(const uint64_t* y, size_t n, size_t k, const uint64_t* q_hat_words,
                      const uint64_t* q_words, size_t w, double* out, std::vector<size_t>* exact) {
  const size_t words = kWords == 0 ? w : kWords;
  for (size_t c = 0; c < n; ++c) {
    const double sum = out[c];
    const double v = std::floor(sum + 0.5);
    if (!(std::fabs(sum - v) < 0.5 - 0x1p-40)) {
      exact->push_back(c);
      continue;
    }
    // sum_i y_i (Q/q_i) - v Q modulo 2^(64 w).
    uint64_t acc[kWords == 0 ? kMaxWords : kWords] = {};
    for (size_t i = 0; i < k; ++i) AddMulWordsWrapping(acc, q_hat_words + i * words, words, y[i * n + c]);
    SubMulWordsWrapping(acc, q_words, words, static_cast<uint64_t>(v));
    const bool negative = (acc[words - 1] >> 63) != 0;
    if (negative) NegateWrapping(acc, words);
    out[c] = negative ? -ToDouble(acc, words) : ToDouble(acc, words);
  }
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
    ctx.inv_primes_.push_back(1.0 / static_cast<double>(p));
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
      q_hat.resize(crt.q.size(), 0);  // Q / q_i < Q
      crt.q_hat_words.insert(crt.q_hat_words.end(), q_hat.begin(), q_hat.end());
      crt.q_hat.push_back(std::move(q_hat));
      crt.q_hat_inv.push_back(inv);
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

// Centered CRT. With y_i = [x_i (Q/q_i)^-1]_{q_i}, sum_i y_i / q_i = u + x / Q for the integer x in [0, Q)
// and an integer u in [0, k) (rns.h), so v = round(sum_i y_i / q_i) is u + [x > Q/2] and sum_i y_i (Q/q_i) -
// v Q is the centered value x - [x > Q/2] Q (Halevi, Polyakov, Shoup, CT-RSA 2019). Fast path: v from the sum
// in double precision (error below k 2^-52, far below the 2^-40 margin kept from the rounding boundary), and
// the integer computed modulo 2^(64 W) with W = the words of Q: the centered value is below Q/2 < 2^(64 W -
// 1) in magnitude, so its two's complement in W words is exact and no carry past W words matters.
// Coefficients with x / Q within 2^-40 of 1/2 (never the case for decryptions of meaningful ciphertexts) take
// the exact path: x in multi-word arithmetic, compared with Q/2. Both give the same integer, converted to
// double by the same Horner evaluation.
std::vector<double> CkksContext::CenteredCoefficients(const RnsPoly& poly, int level) const {
  const LevelCrt& crt = crt_[level];
  const size_t k = static_cast<size_t>(level) + 1;
  const size_t n = this->n();
  const size_t w = crt.q.size();
  // y, limb by limb, and sum_i y_i / q_i (in `out` until the coefficient is known).
  thread_local std::vector<uint64_t> y;  // per-thread scratch: no allocation (and page faults) per call
  y.resize(k * n);
  std::vector<double> out(n, 0.0);
  for (size_t i = 0; i < k; ++i) {
    MulConstant(moduli_[i], poly.data.data() + i * n, crt.q_hat_inv[i], y.data() + i * n, n);
    const double inv = inv_primes_[i];
    const uint64_t* yi = y.data() + i * n;
    for (size_t c = 0; c < n; ++c) out[c] += static_cast<double>(yi[c]) * inv;
  }
  Words half_q = crt.q;  // floor(Q / 2)
  for (size_t i = 0; i < half_q.size(); ++i) {
    half_q[i] = (half_q[i] >> 1) | (i + 1 < half_q.size() ? half_q[i + 1] << 63 : 0);
  }
  std::vector<size_t> exact;
  const uint64_t* hats = crt.q_hat_words.data();
  switch (w) {  // a word count known at compile time keeps the words in registers
    case 1:
      CenteredFastPath<1>(y.data(), n, k, hats, crt.q.data(), w, out.data(), &exact);
      break;
    case 2:
      CenteredFastPath<2>(y.data(), n, k, hats, crt.q.data(), w, out.data(), &exact);
      break;
    case 3:
      CenteredFastPath<3>(y.data(), n, k, hats, crt.q.data(), w, out.data(), &exact);
      break;
    case 4:
      CenteredFastPath<4>(y.data(), n, k, hats, crt.q.data(), w, out.data(), &exact);
      break;
    default:
      CenteredFastPath<0>(y.data(), n, k, hats, crt.q.data(), w, out.data(), &exact);
  }
  Words acc(w + 2), neg(w + 2);
  for (size_t c : exact) {
    std::fill(acc.begin(), acc.end(), 0);
    // x = sum_i y_i * (Q / q_i) - u * Q with 0 <= u < k.
    for (size_t i = 0; i < k; ++i) AddMulWord(acc, crt.q_hat[i], y[i * n + c]);
    while (Compare(acc, crt.q) >= 0) SubInPlace(acc, crt.q);
    if (Compare(acc, half_q) > 0) {  // x > Q/2: the centered value is x - Q = -(Q - x)
      std::fill(neg.begin(), neg.end(), 0);
      std::copy(crt.q.begin(), crt.q.end(), neg.begin());
      SubInPlace(neg, acc);
      out[c] = -ToDouble(neg, neg.size());
    } else {
      out[c] = ToDouble(acc, acc.size());
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
