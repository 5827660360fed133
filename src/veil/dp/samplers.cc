#include "veil/dp/samplers.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/samplers_internal.h"

namespace veil::dp {
namespace internal {

// CKS20 Algorithm 1. P(K > k) = gamma^k / k! (the first k trials all succeed), so
// P(K odd) = sum_k (P(K > 2k) - P(K > 2k + 1)) = sum_j (-gamma)^j / j! = exp(-gamma).
bool BernoulliExpUnit(RandomBits& bits, u128 num, u128 den) {
  if (den <= RandomBits::kMaxBernoulliDen64 / kBernoulliExpKCap) {
    // The same trials in 64-bit arithmetic (den * k < 2^55).
    const uint64_t n64 = static_cast<uint64_t>(num), d64 = static_cast<uint64_t>(den);
    for (uint64_t k = 1; k <= kBernoulliExpKCap; ++k) {
      if (!bits.BernoulliFast64(n64, d64 * k)) return (k & 1) != 0;
    }
    bits.Fail("SampleBernoulliExp: iteration cap reached");
    return false;
  }
  for (uint32_t k = 1; k <= kBernoulliExpKCap; ++k) {
    if (!bits.BernoulliFast(num, den * k)) return (k & 1) != 0;
  }
  // P(K > 40) <= 1/40! < 2^-159.
  bits.Fail("SampleBernoulliExp: iteration cap reached");
  return false;
}

bool BernoulliExp(RandomBits& bits, u128 num, u128 den) {
  if (num <= den) return BernoulliExpUnit(bits, num, den);  // the common case: no division
  u128 whole, frac;
  if ((num >> 64) == 0) {
    // 64-bit division (den < num < 2^64) is much cheaper than the 128-bit library routine.
    const uint64_t n64 = static_cast<uint64_t>(num), d64 = static_cast<uint64_t>(den);
    whole = n64 / d64;
    frac = n64 % d64;
  } else {
    whole = num / den;
    frac = num - whole * den;
  }
  // exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))): independent trials, all must succeed.
  // The first failure decides, so the loop runs past i with probability exp(-i).
  for (u128 i = 0; i < whole; ++i) {
    if (i == kBernoulliExpOneCap) {
      bits.Fail("SampleBernoulliExp: exp(-1) trial cap reached");  // probability exp(-64) < 2^-92
      return false;
    }
    if (!BernoulliExpUnit(bits, 1, 1)) return false;
  }
  return BernoulliExpUnit(bits, frac, den);
}

// CKS20 Algorithm 2 with scale t / s (their names): X = U + t V has P(X = x) proportional to exp(-x / t) for
// x >= 0 (U uniform in [0, t) accepted with probability exp(-U / t), V geometric with ratio exp(-1)), so
// Y = floor(X / s) has P(Y = y) proportional to exp(-y s / t); a random sign, with the "-0" rejected, gives
// the two-sided distribution.
bool DiscreteLaplace(RandomBits& bits, uint64_t t, uint64_t s, int64_t& out) {
  // floor(x / s) by a shift when s is a power of two (always so for the secure noise of samplers.h).
  const int s_shift = (s & (s - 1)) == 0 ? __builtin_ctzll(s) : -1;
  for (int round = 0; round < kLaplaceRoundCap; ++round) {
    const uint64_t u = bits.UniformFast(t);
    if (!BernoulliExpUnit(bits, u, t)) continue;
    uint64_t v = 0;
    while (BernoulliExpUnit(bits, 1, 1)) {
      if (++v > kLaplaceGeometricCap) {
        bits.Fail("SampleDiscreteLaplace: geometric cap reached");  // probability exp(-65) < 2^-93
        return false;
      }
    }
    const u128 x = static_cast<u128>(t) * v + u;
    // |y| < (v + 1) t / s <= 65 * 2^48 < 2^55 within the accepted range.
    uint64_t y;
    if (s_shift >= 0) {
      y = static_cast<uint64_t>(x >> s_shift);
    } else if ((x >> 64) == 0) {
      y = static_cast<uint64_t>(x) / s;
    } else {
      y = static_cast<uint64_t>(x / s);
    }
    const bool negative = bits.Bits(1) != 0;
    if (negative && y == 0) continue;
    if (!bits.ok()) return false;
    out = negative ? -static_cast<int64_t>(y) : static_cast<int64_t>(y);
    return true;
  }
  bits.Fail("SampleDiscreteLaplace: round cap reached");  // probability < (1 - (1 - 1/e) / 2)^256 < 2^-140
  return false;
}

uint64_t ISqrt(uint64_t n) {
  // Newton's method from above on integers: converges to floor(sqrt(n)).
  if (n < 2) return n;
  uint64_t x = static_cast<uint64_t>(std::sqrt(static_cast<double>(n)));
  // Fix the floating-point estimate exactly.
  while (static_cast<u128>(x) * x > n) --x;
  while (static_cast<u128>(x + 1) * (x + 1) <= n) ++x;
  return x;
}

// CKS20 Algorithm 3 with sigma^2 = a / b and t = floor(sigma) + 1: a discrete Laplace Y of scale t is
// accepted with probability exp(-(|Y| - sigma^2 / t)^2 / (2 sigma^2)). In integers:
//   (|Y| - a / (b t))^2 / (2 a / b) = (|Y| b t - a)^2 / (2 a b t^2).
// Within the accepted range (a, b <= 2^48): t^2 <= a/b + 2 sqrt(a/b) + 1, so the denominator is at most
// 2a^2 + 4a sqrt(ab) + 2ab <= 2^99, and |Y| b t < 65 b t^2 <= 65 (a + 2 sqrt(ab) + b) < 2^57, so the
// numerator is below 2^114: all in 128 bits, and den * 40 < 2^106 fits BernoulliFast.
bool DiscreteGaussian(RandomBits& bits, uint64_t a, uint64_t b, int64_t& out) {
  const uint64_t t = ISqrt(a / b) + 1;  // floor(sqrt(a / b)) = floor(sqrt(floor(a / b)))
  const u128 den = static_cast<u128>(2) * a * b * t * t;
  for (int round = 0; round < kGaussianRoundCap; ++round) {
    int64_t y;
    if (!DiscreteLaplace(bits, t, 1, y)) return false;
    const u128 abs_y = static_cast<u128>(y < 0 ? -y : y);
    const u128 ybt = abs_y * b * t;
    const u128 diff = ybt >= a ? ybt - a : a - ybt;
    if (BernoulliExp(bits, diff * diff, den)) {
      if (!bits.ok()) return false;
      out = y;
      return true;
    }
    if (!bits.ok()) return false;
  }
  bits.Fail("SampleDiscreteGaussian: round cap reached");
  return false;
}

Dyadic ToDyadic(double x) {
  // Read the IEEE 754 fields directly (frexp/ldexp calls cost more than the sampling on the hot path).
  const uint64_t b = std::bit_cast<uint64_t>(x);
  const int biased = static_cast<int>(b >> 52) & 0x7FF;
  uint64_t m = b & ((uint64_t{1} << 52) - 1);
  int e;
  if (biased == 0) {
    e = -1074;  // subnormal
  } else {
    m |= uint64_t{1} << 52;
    e = biased - 1075;
  }
  const int tz = __builtin_ctzll(m);
  return Dyadic{m >> tz, e + tz};
}

double Pow2(int k) {
  if (k >= -1022 && k <= 1023) return std::bit_cast<double>(static_cast<uint64_t>(k + 1023) << 52);
  return std::ldexp(1.0, k);
}

double ToDoubleTimesPow2(__int128 n, int k) {
  // Converting n rounds to the nearest double; multiplying by 2^k is then exact unless the result is
  // subnormal or overflows (a second rounding, as ldexp would do). Either way a deterministic function of the
  // exact integer n, i.e. post-processing.
  const double d = static_cast<double>(n);
  if (k >= -1022 && k <= 1023) return d * Pow2(k);
  return std::ldexp(d, k);
}

u128 CeilShift(u128 n, int shift) {
  if (shift == 0) return n;
  if (shift >= 128) return n == 0 ? 0 : 1;
  const u128 q = n >> shift;
  return (q << shift) == n ? q : q + 1;
}

namespace {
int BitLength(u128 n) {
  int len = 0;
  while (n != 0) {
    ++len;
    n >>= 1;
  }
  return len;
}

}  // namespace

bool RoundUpDyadic(u128 M, int E, int max_num_bits, int max_den_bits, uint64_t& num, uint64_t& den) {
  // Exact if possible, with the smallest denominator (so that a double like 2.5 becomes 5 / 2).
  const int exact_j = E >= 0 ? 0 : -E;
  if (exact_j <= max_den_bits && (E < 0 || BitLength(M) + E <= max_num_bits)) {
    const u128 n = E >= 0 ? M << E : M;
    if (n <= (u128{1} << max_num_bits)) {
      num = static_cast<uint64_t>(n);
      den = uint64_t{1} << exact_j;
      return true;
    }
  }
  for (int j = max_den_bits; j >= 0; --j) {
    const int shift = j + E;  // num = ceil(M * 2^shift)
    u128 n;
    if (shift >= 0) {
      if (BitLength(M) + shift > max_num_bits + 1) continue;
      n = M << shift;
    } else {
      n = CeilShift(M, -shift);
    }
    if (n > (u128{1} << max_num_bits)) continue;
    num = static_cast<uint64_t>(n);
    den = uint64_t{1} << j;
    return true;
  }
  return false;
}

__int128 RoundToInt(double v) {
  if (v == 0) return 0;
  const bool negative = v < 0;
  const Dyadic d = ToDyadic(negative ? -v : v);
  u128 r;
  if (d.e >= 0) {
    r = static_cast<u128>(d.m) << d.e;
  } else if (d.e < -60) {
    r = 0;  // |v| < 2^53 * 2^-61 < 1/2
  } else {
    const int shift = -d.e;
    const u128 m = d.m;
    r = m >> shift;
    const u128 rem = m - (r << shift);
    const u128 half = u128{1} << (shift - 1);
    if (rem > half || (rem == half && (r & 1) != 0)) ++r;
  }
  return negative ? -static_cast<__int128>(r) : static_cast<__int128>(r);
}

int CeilLog2(double x) {
  const uint64_t b = std::bit_cast<uint64_t>(x);
  const int biased = static_cast<int>(b >> 52) & 0x7FF;
  if (biased == 0) {  // subnormal: not on any hot path
    int exp2;
    const double f = std::frexp(x, &exp2);
    return f == 0.5 ? exp2 - 1 : exp2;
  }
  return biased - 1023 + ((b & ((uint64_t{1} << 52) - 1)) != 0 ? 1 : 0);
}

SecureLaplaceParams LaplaceParams(double scale) {
  const int k = CeilLog2(scale) - kLaplaceGranularityBits;
  // scale / g = m * 2^(e - k), in (2^39, 2^40], with m odd and below 2^53: -14 <= e - k <= 40.
  const Dyadic d = ToDyadic(scale);
  const int shift = d.e - k;
  SecureLaplaceParams p{k, d.m, 1};
  if (shift >= 0) {
    p.num = d.m << shift;
  } else {
    p.den = uint64_t{1} << -shift;
  }
  return p;
}

SecureGaussianParams GaussianParams(double sigma) {
  const int k = CeilLog2(sigma) - kGaussianGranularityBits;
  const Dyadic d = ToDyadic(sigma);
  // 16 sigma / g = m * 2^(e - k + 4) with -30 <= e - k + 4 <= 24, rounded up: at most 2^24.
  const uint64_t s16 = static_cast<uint64_t>(CeilShift(static_cast<u128>(d.m) << 64, 64 - (d.e - k + 4)));
  return SecureGaussianParams{k, s16};
}

}  // namespace internal

namespace {

using internal::CeilLog2;
using internal::CeilShift;
using internal::Dyadic;
using internal::RoundToInt;
using internal::RoundUpDyadic;
using internal::ToDyadic;
using internal::u128;

absl::Status ErrorOrInternal(const RandomBits& bits) {
  if (!bits.ok()) return bits.status();
  return absl::InternalError("sampler failed without an error");  // unreachable
}

absl::Status CheckNoiseScale(double scale, const char* what) {
  if (!std::isfinite(scale) || !(scale >= 0x1p-1000) || !(scale <= 0x1p1000)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a finite number in [2^-1000, 2^1000], got ", scale));
  }
  return absl::OkStatus();
}

// g * (round(value / g) + noise), with the exact integer sum converted to the nearest double.
absl::StatusOr<__int128> RoundedValue(double value, int granularity_exp, const char* fn) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": value must be finite"));
  }
  // value / g: exact unless it underflows, and then |value / g| < 2^-1022 rounds to 0 anyway. ldexp, not a
  // multiplication by 2^-k: for the smallest scales 2^-k itself is not a finite double.
  const double v = std::ldexp(value, -granularity_exp);
  if (!(std::fabs(v) < 0x1p100)) {
    return absl::InvalidArgumentError(absl::StrCat(
        fn, ": |value| / granularity must be below 2^100 (value too large for the noise scale)"));
  }
  return RoundToInt(v);
}

}  // namespace

absl::StatusOr<bool> SampleBernoulliExp(RandomBits& bits, uint64_t num, uint64_t den) {
  if (den == 0) return absl::InvalidArgumentError("SampleBernoulliExp: den must be positive");
  const bool b = internal::BernoulliExp(bits, num, den);
  if (!bits.ok()) return bits.status();
  return b;
}

absl::StatusOr<int64_t> SampleDiscreteLaplace(RandomBits& bits, uint64_t scale_num, uint64_t scale_den) {
  if (scale_num == 0 || scale_num > kMaxLaplaceScaleTerm) {
    return absl::InvalidArgumentError("SampleDiscreteLaplace: scale_num must be in [1, 2^62]");
  }
  if (scale_den == 0 || scale_den > kMaxLaplaceScaleTerm) {
    return absl::InvalidArgumentError("SampleDiscreteLaplace: scale_den must be in [1, 2^62]");
  }
  if (scale_num / scale_den > kMaxLaplaceScale ||
      (scale_num / scale_den == kMaxLaplaceScale && scale_num % scale_den != 0)) {
    return absl::InvalidArgumentError("SampleDiscreteLaplace: scale_num / scale_den must be at most 2^48");
  }
  int64_t x;
  if (!internal::DiscreteLaplace(bits, scale_num, scale_den, x)) return ErrorOrInternal(bits);
  return x;
}

absl::StatusOr<int64_t> SampleDiscreteLaplaceWithScale(RandomBits& bits, double scale) {
  if (!std::isfinite(scale) || !(scale >= 0x1p-62) || !(scale <= 0x1p48)) {
    return absl::InvalidArgumentError(
        "SampleDiscreteLaplaceWithScale: scale must be finite, in [2^-62, 2^48]");
  }
  const Dyadic d = ToDyadic(scale);
  uint64_t num, den;
  if (!RoundUpDyadic(d.m, d.e, 62, 62, num, den)) {
    return absl::InternalError("SampleDiscreteLaplaceWithScale: scale conversion failed");  // unreachable
  }
  return SampleDiscreteLaplace(bits, num, den);
}

absl::StatusOr<int64_t> SampleDiscreteGaussian(RandomBits& bits, uint64_t sigma2_num, uint64_t sigma2_den) {
  if (sigma2_num == 0 || sigma2_num > kMaxGaussianTerm) {
    return absl::InvalidArgumentError("SampleDiscreteGaussian: sigma2_num must be in [1, 2^48]");
  }
  if (sigma2_den == 0 || sigma2_den > kMaxGaussianTerm) {
    return absl::InvalidArgumentError("SampleDiscreteGaussian: sigma2_den must be in [1, 2^48]");
  }
  int64_t x;
  if (!internal::DiscreteGaussian(bits, sigma2_num, sigma2_den, x)) return ErrorOrInternal(bits);
  return x;
}

absl::StatusOr<int64_t> SampleDiscreteGaussianWithSigma(RandomBits& bits, double sigma) {
  if (!std::isfinite(sigma) || !(sigma >= 0x1p-24) || !(sigma <= 0x1p24)) {
    return absl::InvalidArgumentError(
        "SampleDiscreteGaussianWithSigma: sigma must be finite, in [2^-24, 2^24]");
  }
  const Dyadic d = ToDyadic(sigma);
  uint64_t num, den;
  if (!RoundUpDyadic(static_cast<u128>(d.m) * d.m, 2 * d.e, 48, 48, num, den)) {
    return absl::InternalError("SampleDiscreteGaussianWithSigma: sigma conversion failed");  // unreachable
  }
  return SampleDiscreteGaussian(bits, num, den);
}

absl::StatusOr<double> SecureLaplaceGranularity(double scale) {
  VEIL_RETURN_IF_ERROR(CheckNoiseScale(scale, "SecureLaplaceGranularity: scale"));
  return internal::Pow2(CeilLog2(scale) - internal::kLaplaceGranularityBits);
}

absl::StatusOr<double> AddSecureLaplaceNoise(RandomBits& bits, double value, double scale) {
  VEIL_RETURN_IF_ERROR(CheckNoiseScale(scale, "AddSecureLaplaceNoise: scale"));
  const internal::SecureLaplaceParams p = internal::LaplaceParams(scale);
  VEIL_ASSIGN_OR_RETURN(const __int128 rounded, RoundedValue(value, p.k, "AddSecureLaplaceNoise"));
  int64_t z;
  if (!internal::DiscreteLaplace(bits, p.num, p.den, z)) return ErrorOrInternal(bits);
  return internal::ToDoubleTimesPow2(rounded + z, p.k);
}

absl::StatusOr<double> SecureGaussianGranularity(double sigma) {
  VEIL_RETURN_IF_ERROR(CheckNoiseScale(sigma, "SecureGaussianGranularity: sigma"));
  return internal::Pow2(CeilLog2(sigma) - internal::kGaussianGranularityBits);
}

absl::StatusOr<double> SecureGaussianSigma(double sigma) {
  VEIL_RETURN_IF_ERROR(CheckNoiseScale(sigma, "SecureGaussianSigma: sigma"));
  const internal::SecureGaussianParams p = internal::GaussianParams(sigma);
  return static_cast<double>(p.s16) * internal::Pow2(p.k - 4);
}

absl::StatusOr<CalibratedGaussian> CalibrateSecureGaussian(double z, double sensitivity, size_t dims,
                                                           const char* what) {
  const double root = std::sqrt(static_cast<double>(dims));
  const double slack = z * root * 0x1p-19;  // g <= sigma' 2^-19
  if (!(slack < 0.5)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: noise multiplier %g is too large for %d coordinates at the sampler's granularity", what, z,
        dims));
  }
  double sigma = z * sensitivity / (1 - slack);
  for (int iter = 0; iter < 8; ++iter) {
    VEIL_ASSIGN_OR_RETURN(const double actual, SecureGaussianSigma(sigma));
    VEIL_ASSIGN_OR_RETURN(const double g, SecureGaussianGranularity(sigma));
    if (actual / (sensitivity + root * g) >= z) return CalibratedGaussian{sigma, actual};
    sigma *= 1 + 1e-6;
  }
  return absl::InternalError(absl::StrCat(what, ": could not calibrate the noise sigma"));
}

absl::StatusOr<double> AddSecureGaussianNoise(RandomBits& bits, double value, double sigma) {
  VEIL_RETURN_IF_ERROR(CheckNoiseScale(sigma, "AddSecureGaussianNoise: sigma"));
  const internal::SecureGaussianParams p = internal::GaussianParams(sigma);
  VEIL_ASSIGN_OR_RETURN(const __int128 rounded, RoundedValue(value, p.k, "AddSecureGaussianNoise"));
  int64_t z;
  if (!internal::DiscreteGaussian(bits, p.s16 * p.s16, 256, z)) return ErrorOrInternal(bits);
  return internal::ToDoubleTimesPow2(rounded + z, p.k);
}

}  // namespace veil::dp
