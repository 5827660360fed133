#include "veil/he/polyeval.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

TEST(FitChebyshevTest, ExactForPolynomialsAndConvergesForSigmoid) {
  // x^3 = (3 T_1 + T_3) / 4 on [-1, 1].
  const ChebyshevApproximation cube = FitChebyshev([](double x) { return x * x * x; }, -1, 1, 3).value();
  EXPECT_NEAR(cube.coefficients[0], 0, 1e-15);
  EXPECT_NEAR(cube.coefficients[1], 0.75, 1e-15);
  EXPECT_NEAR(cube.coefficients[2], 0, 1e-15);
  EXPECT_NEAR(cube.coefficients[3], 0.25, 1e-15);
  EXPECT_LT(cube.max_error, 1e-14);
  // Sigmoid on [-8, 8]: the error falls geometrically with the degree (poles at +-i pi, Bernstein ellipse
  // parameter rho = pi/8 + sqrt(1 + (pi/8)^2) = 1.47).
  double previous = 1;
  for (int degree : {7, 15, 31}) {
    const ChebyshevApproximation s = FitChebyshev(Sigmoid, -8, 8, degree).value();
    EXPECT_LT(s.max_error, previous / 4) << degree;
    EXPECT_NEAR(EvaluateChebyshevPlain(s, 0.5), Sigmoid(0.5), s.max_error);
    previous = s.max_error;
  }
  EXPECT_EQ(FitChebyshev(Sigmoid, 1, 1, 7).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitChebyshev(Sigmoid, -1, 1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChebyshevDepth(3), 3);
  EXPECT_LE(ChebyshevDepth(15), 6);
}

class PolyEvalTest : public ::testing::Test {
 protected:
  PolyEvalTest()
      : ctx_(CkksContext::Create(CkksParametersBuilder()
                                     .SetPolyDegree(16384)
                                     .SetCiphertextPrimeBits({60, 40, 40, 40, 40, 40, 40, 40})
                                     .SetSpecialPrimeBits({60})
                                     .Build()
                                     .value())
                 .value()),
        rng_(72),
        sk_(GenerateSecretKey(ctx_, rng_).value()),
        pk_(GeneratePublicKey(ctx_, sk_, rng_).value()),
        rk_(GenerateRelinKeys(ctx_, sk_, rng_).value()) {}

  // Checks p(x) under encryption against p(x) and f(x) in plaintext for x spread over [a, b].
  void Check(const ChebyshevApproximation& p, const std::function<double(double)>& f) {
    std::vector<double> x(ctx_.slot_count());
    testing::TestRng r(11);
    for (auto& v : x) v = p.a + (p.b - p.a) * static_cast<double>(r.Next() >> 11) * 0x1p-53;
    x[0] = p.a;
    x[1] = p.b;
    const Ciphertext ct = Encrypt(ctx_, pk_, ctx_.Encode(x, 0x1p40, ctx_.max_level()).value(), rng_).value();
    const Ciphertext out = EvaluateChebyshev(ctx_, rk_, ct, p).value();
    EXPECT_EQ(out.level, ctx_.max_level() - ChebyshevDepth(static_cast<int>(p.coefficients.size()) - 1));
    EXPECT_DOUBLE_EQ(out.scale, 0x1p40);
    const auto got = ctx_.Decode(Decrypt(ctx_, sk_, out, KeyOwnerOnly()).value()).value();
    // CKKS error bound (polyeval.h): e = fresh error of x (<= 1e-6 with margin at N = 16384, keys.h) times
    // 2 / (b - a); e_op = 1e-6 per product, key switch or rescale (evaluator.h, with margin).
    const double e = 1e-6 * 2 / (p.b - p.a), e_op = 1e-6;
    double bound = e_op;
    for (size_t j = 0; j < p.coefficients.size(); ++j) {
      const double jd = static_cast<double>(j);
      bound += std::fabs(p.coefficients[j]) * (jd * jd * e + (1 + std::log2(jd + 1)) * e_op);
    }
    double worst_poly = 0, worst_f = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      worst_poly = std::max(worst_poly, std::abs(got[i] - EvaluateChebyshevPlain(p, x[i])));
      worst_f = std::max(worst_f, std::abs(got[i].real() - f(x[i])));
    }
    EXPECT_LT(worst_poly, bound);
    EXPECT_LT(worst_f, p.max_error + bound);
    std::printf("degree %zu on [%g, %g]: fit error %.3g, CKKS error %.3g (bound %.3g)\n",
                p.coefficients.size() - 1, p.a, p.b, p.max_error, worst_poly, bound);
  }

  CkksContext ctx_;
  DeterministicRandom rng_;
  SecretKey sk_;
  PublicKey pk_;
  RelinKeys rk_;
};

TEST_F(PolyEvalTest, SigmoidDegrees7And15) {
  for (int degree : {7, 15}) Check(FitChebyshev(Sigmoid, -8, 8, degree).value(), Sigmoid);
}

TEST_F(PolyEvalTest, CubeAndTooFewLevels) {
  Check(FitChebyshev([](double x) { return x * x * x - x; }, -2, 2, 3).value(),
        [](double x) { return x * x * x - x; });
  const ChebyshevApproximation p = FitChebyshev(Sigmoid, -8, 8, 15).value();
  std::vector<double> x(4, 0.5);
  const Ciphertext low = Encrypt(ctx_, pk_, ctx_.Encode(x, 0x1p40, 2).value(), rng_).value();
  auto r = EvaluateChebyshev(ctx_, rk_, low, p);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("levels"));
}

}  // namespace
}  // namespace veil::he
