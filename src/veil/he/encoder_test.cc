#include "veil/he/encoder.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"

namespace veil::he {
namespace encoder_test {
namespace {

using testing::MaxError;
using testing::TestRng;
using Complex = std::complex<double>;

double Uniform(TestRng& rng) { return static_cast<double>(rng.Next() >> 11) * 0x1p-53 * 2 - 1; }  // [-1, 1)

// The definition: slot j = m(zeta^(5^j mod 2N)) / scale, evaluated term by term (O(N^2)).
std::vector<Complex> NaiveSlots(const std::vector<double>& coefficients, double scale) {
  const size_t n = coefficients.size();
  std::vector<Complex> slots(n / 2);
  size_t e = 1;
  for (size_t j = 0; j < n / 2; ++j) {
    Complex acc = 0;
    for (size_t k = 0; k < n; ++k) {
      const double angle = std::numbers::pi * static_cast<double>((e * k) % (2 * n)) / static_cast<double>(n);
      acc += coefficients[k] * Complex(std::cos(angle), std::sin(angle));
    }
    slots[j] = acc / scale;
    e = (e * 5) % (2 * n);
  }
  return slots;
}

std::vector<double> ToDouble(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }

TEST(CkksEncoderTest, DecodeMatchesTheCanonicalEmbedding) {
  TestRng rng(30);
  for (size_t n : {4u, 8u, 32u, 256u}) {
    auto enc = CkksEncoder::Create(n).value();
    std::vector<double> coefficients(n);
    for (auto& c : coefficients) c = std::round(Uniform(rng) * 1e6);
    const auto fast = enc.DecodeCoefficients(coefficients, 1024.0).value();
    EXPECT_LT(MaxError(fast, NaiveSlots(coefficients, 1024.0)), 1e-6) << n;
  }
}

// Hand-checked: N = 4, m(X) = 1 + X (scale 1). The slots are m(zeta) and m(zeta^5) with zeta = e^(i pi / 4):
// 1 + (1 + i) / sqrt(2) and 1 + (-1 - i) / sqrt(2).
TEST(CkksEncoderTest, HandCheckedN4) {
  auto enc = CkksEncoder::Create(4).value();
  const double r = std::sqrt(0.5);
  const auto slots = enc.DecodeCoefficients(std::vector<double>{1, 1, 0, 0}, 1.0).value();
  EXPECT_LT(std::abs(slots[0] - Complex(1 + r, r)), 1e-15);
  EXPECT_LT(std::abs(slots[1] - Complex(1 - r, -r)), 1e-15);
  // And back: encoding those slots at scale 1 gives 1 + X.
  const auto coefficients = enc.EncodeToCoefficients(std::vector<Complex>(slots), 1.0).value();
  EXPECT_EQ(coefficients, (std::vector<int64_t>{1, 1, 0, 0}));
}

// Encode then decode returns the values within the rounding bound N / (2 * scale) (encoder.h), at the
// supported ring degrees and two scales; the FFT's own error is far below that.
TEST(CkksEncoderTest, RoundTripWithinTheRoundingBound) {
  TestRng rng(31);
  for (size_t n : {4096u, 8192u, 16384u}) {
    auto enc = CkksEncoder::Create(n).value();
    for (double scale : {0x1p30, 0x1p40}) {
      std::vector<Complex> values(n / 2);
      for (auto& v : values) v = Complex(Uniform(rng), Uniform(rng));
      const auto coefficients = enc.EncodeToCoefficients(values, scale).value();
      const auto decoded = enc.DecodeCoefficients(ToDouble(coefficients), scale).value();
      const double bound = static_cast<double>(n) / (2 * scale);
      const double err = MaxError(decoded, values);
      EXPECT_LT(err, bound) << "n=" << n << " scale=" << scale;
      // The typical error is about sqrt(N) / (3.5 * scale); a broken encoder is off by O(1).
      EXPECT_LT(err, 20 * std::sqrt(static_cast<double>(n)) / scale) << "n=" << n;
    }
  }
}

TEST(CkksEncoderTest, RealValuesAndFewerValuesThanSlots) {
  auto enc = CkksEncoder::Create(1024).value();
  const std::vector<double> values = {0.5, -1.25, 3.0, 1e-3};
  const double scale = 0x1p40;
  const auto decoded =
      enc.DecodeCoefficients(ToDouble(enc.EncodeToCoefficients(values, scale).value()), scale).value();
  for (size_t j = 0; j < decoded.size(); ++j) {
    const double expected = j < values.size() ? values[j] : 0.0;
    EXPECT_NEAR(decoded[j].real(), expected, 1024 / (2 * scale)) << j;
    EXPECT_NEAR(decoded[j].imag(), 0.0, 1024 / (2 * scale)) << j;
  }
}

// The slots are a ring homomorphism: the negacyclic product of two encodings decodes (at scale^2) to the
// slot-wise product. This is what makes CKKS multiplication work, and it fails for any wrong slot order.
TEST(CkksEncoderTest, NegacyclicProductIsSlotwiseProduct) {
  TestRng rng(32);
  const size_t n = 64;
  auto enc = CkksEncoder::Create(n).value();
  const double scale = 0x1p20;
  std::vector<Complex> x(n / 2), y(n / 2);
  for (size_t j = 0; j < n / 2; ++j) {
    x[j] = Complex(Uniform(rng), Uniform(rng));
    y[j] = Complex(Uniform(rng), Uniform(rng));
  }
  const auto a = enc.EncodeToCoefficients(x, scale).value();
  const auto b = enc.EncodeToCoefficients(y, scale).value();
  std::vector<double> c(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < n; ++k) {
      const double p = static_cast<double>(a[i]) * static_cast<double>(b[k]);  // < 2^48: exact
      if (i + k < n) {
        c[i + k] += p;
      } else {
        c[i + k - n] -= p;
      }
    }
  }
  const auto product = enc.DecodeCoefficients(c, scale * scale).value();
  for (size_t j = 0; j < n / 2; ++j) EXPECT_LT(std::abs(product[j] - x[j] * y[j]), 1e-4) << j;
}

TEST(CkksEncoderTest, Errors) {
  EXPECT_EQ(CkksEncoder::Create(2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CkksEncoder::Create(12).status().code(), absl::StatusCode::kInvalidArgument);
  auto enc = CkksEncoder::Create(8).value();
  EXPECT_EQ(enc.EncodeToCoefficients(std::vector<double>(5, 1.0), 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(enc.EncodeToCoefficients(std::vector<double>{1.0}, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(enc.EncodeToCoefficients(std::vector<double>{NAN}, 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto too_big = enc.EncodeToCoefficients(std::vector<double>{1e10}, 0x1p60);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("2^62"), std::string_view::npos);
  EXPECT_EQ(enc.DecodeCoefficients(std::vector<double>(7, 0.0), 1.0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace encoder_test
}  // namespace veil::he
