#include "veil/dp/mechanisms.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/samplers.h"
#include "veil/dp/samplers_internal.h"

namespace veil::dp {
namespace {

using internal::kRoundUp;

// Fixed-point iterations for b = (D + g(b)) / epsilon: g doubles at most once per iteration and
// converges unless epsilon is tiny (below about 2^-39, where no solution exists).
constexpr int kMaxCalibrationIterations = 64;

absl::Status CheckSensitivity(double value, const char* name) {
  if (!std::isfinite(value) || !(value > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be finite and > 0, got ", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> AlphaFromLevel(double level) {
  if (!(level > 0 && level < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("level must be in (0, 1), got ", level));
  }
  return 1.0 - level;
}

absl::Status CheckReleased(double released) {
  if (!std::isfinite(released)) return absl::InvalidArgumentError("released value must be finite");
  return absl::OkStatus();
}

ConfidenceInterval MakeInterval(double released, double half_width, double level) {
  return ConfidenceInterval{released - half_width, released + half_width, level, half_width};
}

int64_t Saturate(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

// round(value / 2^k) to the nearest integer, ties to even, for k >= 0, exactly.
__int128 RoundIntToGranularity(int64_t value, int k) {
  if (k == 0) return value;
  if (k >= 64) return 0;  // |value| / 2^k <= 1/2, and a tie (-2^63 / 2^64) goes to the even 0
  const __int128 v = value;
  const __int128 q = v >> k;  // floor
  const __int128 rem = v - (q << k);
  const __int128 half = __int128{1} << (k - 1);
  return (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
}

// (rounded + z) * 2^k, saturated to int64, for k >= 0.
int64_t ScaleUp(__int128 n, int k) {
  if (n == 0) return 0;
  if (k >= 63) return n > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  const __int128 limit = __int128{1} << (63 - k);  // |n| * 2^k fits in 127 bits when |n| < 2^64
  if (n >= limit || n < -limit) {
    return n > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return Saturate(n * (__int128{1} << k));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// LaplaceMechanism

absl::StatusOr<LaplaceMechanism> LaplaceMechanism::Create(double epsilon, double l1_sensitivity) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(CheckSensitivity(l1_sensitivity, "l1_sensitivity"));
  VEIL_ASSIGN_OR_RETURN(double scale, LaplaceScale(l1_sensitivity, epsilon));
  const auto in_range = [](double b) { return b >= 0x1p-60 && b <= 0x1p1000; };
  for (int iteration = 0; iteration < kMaxCalibrationIterations; ++iteration) {
    if (!in_range(scale)) break;
    VEIL_ASSIGN_OR_RETURN(const double g, SecureLaplaceGranularity(scale));
    VEIL_ASSIGN_OR_RETURN(double next, LaplaceScale(l1_sensitivity + g, epsilon));
    next *= kRoundUp;
    if (!in_range(next)) break;
    VEIL_ASSIGN_OR_RETURN(const double next_g, SecureLaplaceGranularity(next));
    if (next_g == g) {
      LaplaceMechanism m;
      m.epsilon_ = epsilon;
      m.l1_ = l1_sensitivity;
      m.scale_ = next;
      m.granularity_ = g;
      return m;
    }
    scale = next;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("LaplaceMechanism: the noise scale for l1_sensitivity ", l1_sensitivity, " and epsilon ",
                   epsilon, " is outside the supported range [2^-60, 2^1000] (or epsilon is below ~2^-39)"));
}

absl::StatusOr<int64_t> LaplaceMechanism::AddIntegerNoise(RandomBits& bits, int64_t value) const {
  if (!IntegerIsGranular()) {
    VEIL_ASSIGN_OR_RETURN(const int64_t z, SampleDiscreteLaplaceWithScale(bits, scale_));
    return Saturate(static_cast<__int128>(value) + z);
  }
  const internal::SecureLaplaceParams p = internal::LaplaceParams(scale_);
  int64_t z;
  if (!internal::DiscreteLaplace(bits, p.num, p.den, z)) return bits.status();
  return ScaleUp(RoundIntToGranularity(value, p.k) + z, p.k);
}

absl::StatusOr<double> LaplaceMechanism::AddRealNoise(RandomBits& bits, double value) const {
  return AddSecureLaplaceNoise(bits, value, scale_);
}

double LaplaceMechanism::NoiseStddev(NoiseDomain domain) const {
  // Both calls succeed for the scales Create accepts (positive and finite).
  if (domain == NoiseDomain::kInteger && !IntegerIsGranular()) return DiscreteLaplaceStddev(scale_).value();
  return granularity_ * DiscreteLaplaceStddev(scale_ / granularity_).value();
}

absl::StatusOr<ConfidenceInterval> LaplaceMechanism::Interval(NoiseDomain domain, double released,
                                                              double level) const {
  VEIL_ASSIGN_OR_RETURN(const double alpha, AlphaFromLevel(level));
  VEIL_RETURN_IF_ERROR(CheckReleased(released));
  if (domain == NoiseDomain::kInteger && !IntegerIsGranular()) {
    VEIL_ASSIGN_OR_RETURN(const int64_t k, DiscreteLaplaceCiHalfWidth(scale_, alpha));
    return MakeInterval(released, static_cast<double>(k), level);
  }
  VEIL_ASSIGN_OR_RETURN(const int64_t k, DiscreteLaplaceCiHalfWidth(scale_ / granularity_, alpha));
  // The input was rounded by at most g/2 before the noise was added.
  return MakeInterval(released, granularity_ * (static_cast<double>(k) + 0.5), level);
}

// ---------------------------------------------------------------------------------------------------------
// GaussianMechanism

absl::StatusOr<GaussianMechanism> GaussianMechanism::CreateFromRho(double rho, double l2_sensitivity) {
  VEIL_RETURN_IF_ERROR(ValidateRho(rho));
  VEIL_RETURN_IF_ERROR(CheckSensitivity(l2_sensitivity, "l2_sensitivity"));
  VEIL_ASSIGN_OR_RETURN(double sigma, GaussianSigmaForRho(l2_sensitivity, rho));
  const auto in_range = [](double s) { return s >= 0x1p-20 && s <= 0x1p1000; };
  for (int iteration = 0; iteration < kMaxCalibrationIterations; ++iteration) {
    if (!in_range(sigma)) break;
    VEIL_ASSIGN_OR_RETURN(const double g, SecureGaussianGranularity(sigma));
    VEIL_ASSIGN_OR_RETURN(double next, GaussianSigmaForRho(l2_sensitivity + g, rho));
    next *= kRoundUp;
    if (!in_range(next)) break;
    VEIL_ASSIGN_OR_RETURN(const double next_g, SecureGaussianGranularity(next));
    if (next_g == g) {
      GaussianMechanism m;
      m.rho_ = rho;
      m.l2_ = l2_sensitivity;
      // Rounding sigma / g up to a multiple of 2^-4 stays within (2^19, 2^20], so g does not change.
      VEIL_ASSIGN_OR_RETURN(m.sigma_, SecureGaussianSigma(next));
      m.granularity_ = g;
      return m;
    }
    sigma = next;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("GaussianMechanism: the noise sigma for l2_sensitivity ", l2_sensitivity, " and rho ", rho,
                   " is outside the supported range [2^-20, 2^1000] (or rho is below ~2^-39)"));
}

absl::StatusOr<GaussianMechanism> GaussianMechanism::CreateFromEpsilonDelta(double epsilon, double delta,
                                                                            double l2_sensitivity) {
  VEIL_RETURN_IF_ERROR(ValidateEpsilon(epsilon));
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  VEIL_ASSIGN_OR_RETURN(const ApproxDp target, ApproxDp::Create(epsilon, delta));
  VEIL_ASSIGN_OR_RETURN(const double rho, ApproxDpToZcdp(target));
  VEIL_ASSIGN_OR_RETURN(GaussianMechanism m, CreateFromRho(rho, l2_sensitivity));
  m.target_ = target;
  return m;
}

absl::StatusOr<int64_t> GaussianMechanism::AddIntegerNoise(RandomBits& bits, int64_t value) const {
  if (!IntegerIsGranular()) {
    VEIL_ASSIGN_OR_RETURN(const int64_t z, SampleDiscreteGaussianWithSigma(bits, sigma_));
    return Saturate(static_cast<__int128>(value) + z);
  }
  const internal::SecureGaussianParams p = internal::GaussianParams(sigma_);
  int64_t z;
  if (!internal::DiscreteGaussian(bits, p.s16 * p.s16, 256, z)) return bits.status();
  return ScaleUp(RoundIntToGranularity(value, p.k) + z, p.k);
}

absl::StatusOr<double> GaussianMechanism::AddRealNoise(RandomBits& bits, double value) const {
  return AddSecureGaussianNoise(bits, value, sigma_);
}

absl::StatusOr<ApproxDp> GaussianMechanism::CostAtDelta(double delta) const {
  VEIL_RETURN_IF_ERROR(ValidatePositiveDelta(delta));
  VEIL_ASSIGN_OR_RETURN(const double epsilon, ZcdpToEpsilon(rho_, delta));
  return ApproxDp{epsilon, delta};
}

double GaussianMechanism::NoiseStddev(NoiseDomain domain) const {
  if (domain == NoiseDomain::kInteger && !IntegerIsGranular()) return DiscreteGaussianStddev(sigma_).value();
  return granularity_ * DiscreteGaussianStddev(sigma_ / granularity_).value();
}

absl::StatusOr<ConfidenceInterval> GaussianMechanism::Interval(NoiseDomain domain, double released,
                                                               double level) const {
  VEIL_ASSIGN_OR_RETURN(const double alpha, AlphaFromLevel(level));
  VEIL_RETURN_IF_ERROR(CheckReleased(released));
  if (domain == NoiseDomain::kInteger && !IntegerIsGranular()) {
    VEIL_ASSIGN_OR_RETURN(const int64_t k, DiscreteGaussianCiHalfWidth(sigma_, alpha));
    return MakeInterval(released, static_cast<double>(k), level);
  }
  VEIL_ASSIGN_OR_RETURN(const int64_t k, DiscreteGaussianCiHalfWidth(sigma_ / granularity_, alpha));
  return MakeInterval(released, granularity_ * (static_cast<double>(k) + 0.5), level);
}

}  // namespace veil::dp
