#include "veil/he/encoder.h"

#include <bit>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace veil::he {

namespace {

absl::Status CheckScale(double scale) {
  if (!std::isfinite(scale) || scale <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("CKKS scale must be finite and > 0, got ", scale));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CkksEncoder> CkksEncoder::Create(size_t n) {
  if (n < 4 || !std::has_single_bit(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CKKS ring degree N = ", n, " is not a power of two >= 4"));
  }
  CkksEncoder enc(n);
  const size_t two_n = 2 * n;
  enc.zeta_powers_.resize(two_n);
  for (size_t k = 0; k < two_n; ++k) {
    // Computed directly (not by repeated multiplication) so that every power is accurate to an ulp.
    const double angle = std::numbers::pi * static_cast<double>(k) / static_cast<double>(n);
    enc.zeta_powers_[k] = {std::cos(angle), std::sin(angle)};
  }
  const size_t m = n / 2;
  enc.slot_index_.resize(m);
  size_t five_power = 1;
  for (size_t j = 0; j < m; ++j) {
    enc.slot_index_[j] = (five_power - 1) / 4;
    five_power = (five_power * 5) % two_n;
  }
  const int log_m = std::countr_zero(m);
  enc.bit_reverse_.resize(m);
  for (size_t i = 0; i < m; ++i) {
    size_t r = 0;
    for (int b = 0; b < log_m; ++b) r |= ((i >> b) & 1) << (log_m - 1 - b);
    enc.bit_reverse_[i] = r;
  }
  return enc;
}

namespace {

// a * b written out: std::complex's operator* handles infinities and NaNs per C Annex G, which GCC compiles
// to a call to __muldc3 on every product (several times slower); our values are finite.
inline std::complex<double> Mul(std::complex<double> a, std::complex<double> b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

}  // namespace

void CkksEncoder::Dft(std::vector<std::complex<double>>& a, bool inverse) const {
  const size_t m = a.size();  // N/2
  const size_t two_n = 2 * n_;
  for (size_t i = 0; i < m; ++i) {
    if (i < bit_reverse_[i]) std::swap(a[i], a[bit_reverse_[i]]);
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    const size_t half = len / 2;
    // w = zeta^4, and w^(j * step) with step = m / len runs over the len-th roots of unity. The exponent
    // 4 * j * step < 2m = N, so it indexes zeta_powers_ directly; the inverse uses the conjugate zeta^(2N -
    // e).
    const size_t zeta_step = 4 * (m / len);
    for (size_t start = 0; start < m; start += len) {
      // std::complex<double> is layout-compatible with double[2] ([complex.numbers.general]); working on the
      // doubles avoids GCC's packing of complex temporaries through the stack (a store-forwarding stall that
      // made this loop several times slower).
      double* x = reinterpret_cast<double*>(a.data() + start);
      double* y = x + 2 * half;
      for (size_t j = 0; j < half; ++j) {
        const size_t e = j * zeta_step;
        const std::complex<double>& w = zeta_powers_[inverse && e != 0 ? two_n - e : e];
        const double wr = w.real(), wi = w.imag();
        const double yr = y[2 * j], yi = y[2 * j + 1];
        const double vr = yr * wr - yi * wi, vi = yr * wi + yi * wr;
        const double ur = x[2 * j], ui = x[2 * j + 1];
        x[2 * j] = ur + vr;
        x[2 * j + 1] = ui + vi;
        y[2 * j] = ur - vr;
        y[2 * j + 1] = ui - vi;
      }
    }
  }
}

absl::StatusOr<std::vector<int64_t>> CkksEncoder::EncodeToCoefficients(
    std::span<const std::complex<double>> values, double scale) const {
  const size_t m = n_ / 2;
  if (values.size() > m) {
    return absl::InvalidArgumentError(
        absl::StrCat(values.size(), " values do not fit the ", m, " slots of N = ", n_));
  }
  if (absl::Status s = CheckScale(scale); !s.ok()) return s;
  std::vector<std::complex<double>> a(m, 0.0);
  for (size_t j = 0; j < values.size(); ++j) {
    if (!std::isfinite(values[j].real()) || !std::isfinite(values[j].imag())) {
      return absl::InvalidArgumentError(absl::StrCat("value #", j, " to encode is not finite"));
    }
    a[slot_index_[j]] = values[j];
  }
  Dft(a, /*inverse=*/true);
  const size_t two_n = 2 * n_;
  const double factor = scale / static_cast<double>(m);
  constexpr double kLimit = 4611686018427387904.0;  // 2^62
  std::vector<int64_t> coefficients(n_);
  for (size_t k = 0; k < m; ++k) {
    const std::complex<double> u = Mul(a[k], zeta_powers_[k == 0 ? 0 : two_n - k]) * factor;
    const double re = std::round(u.real()), im = std::round(u.imag());
    if (!(std::fabs(re) < kLimit) || !(std::fabs(im) < kLimit)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "values too large to encode at scale %g: a scaled coefficient reaches 2^62 (lower the scale or the "
          "values)",
          scale));
    }
    coefficients[k] = static_cast<int64_t>(re);
    coefficients[k + m] = static_cast<int64_t>(im);
  }
  return coefficients;
}

absl::StatusOr<std::vector<int64_t>> CkksEncoder::EncodeToCoefficients(std::span<const double> values,
                                                                       double scale) const {
  std::vector<std::complex<double>> complex_values(values.begin(), values.end());
  return EncodeToCoefficients(std::span<const std::complex<double>>(complex_values), scale);
}

absl::StatusOr<std::vector<std::complex<double>>> CkksEncoder::DecodeCoefficients(
    std::span<const double> coefficients, double scale) const {
  if (coefficients.size() != n_) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoding needs N = ", n_, " coefficients, got ", coefficients.size()));
  }
  if (absl::Status s = CheckScale(scale); !s.ok()) return s;
  const size_t m = n_ / 2;
  std::vector<std::complex<double>> a(m);
  const double inv_scale = 1.0 / scale;
  for (size_t k = 0; k < m; ++k) {
    a[k] = Mul(std::complex<double>(coefficients[k], coefficients[k + m]), zeta_powers_[k]) * inv_scale;
  }
  Dft(a, /*inverse=*/false);
  std::vector<std::complex<double>> slots(m);
  for (size_t j = 0; j < m; ++j) slots[j] = a[slot_index_[j]];
  return slots;
}

}  // namespace veil::he
