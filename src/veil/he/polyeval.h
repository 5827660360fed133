// Polynomial evaluation on CKKS ciphertexts, for activations such as the sigmoid: a Chebyshev approximation
// of a function over an interval [a, b], and its evaluation on a ciphertext by baby-step giant-step in the
// Chebyshev basis with managed levels and scales.
//
// Fitting (FitChebyshev): Chebyshev interpolation at the d + 1 Chebyshev nodes of the first kind,
// y_k = cos(pi (k + 1/2) / (d + 1)), x_k = (a + b)/2 + (b - a)/2 y_k; the coefficients are
// c_j = 2/(d+1) sum_k f(x_k) T_j(y_k) (c_0 halved), so p(x) = sum_j c_j T_j(y(x)) with y(x) = (2x - a - b) /
// (b - a). The interpolant is within a factor (2 + 2/pi log(d + 1)) of the best uniform approximation
// (L. N. Trefethen, "Approximation Theory and Approximation Practice", SIAM 2013, ch. 15-16). Its actual
// maximum error is measured on a grid of 20001 points of [a, b] and returned.
//
// Evaluation (EvaluateChebyshev): the baby-step giant-step scheme of Bossuat, Mouchet, Troncoso-Pastoriza
// and Hubaux (EUROCRYPT 2021, section 4.2; after Paterson and Stockmeyer 1973 and Han and Ki 2020) in the
// Chebyshev basis: with k = 2^ceil(log2(d + 1) / 2) baby steps T_1..T_k (T_2j = 2 T_j^2 - 1,
// T_2j+1 = 2 T_j+1 T_j - T_1) and giant steps T_k, T_2k, T_4k, ... (T_2K = 2 T_K^2 - 1), the polynomial is
// split recursively as p = q T_K + r (Chebyshev division: q_0 = c_K, q_m = 2 c_{K+m}, r_{K-m} = c_{K-m} -
// c_{K+m}) down to leaves of degree < k, which are linear combinations of the baby steps with constant
// coefficients. Levels and scales are planned top-down so that every addition lines up exactly: a leaf's
// constants are encoded at the scale that makes its rescaled sum land on the scale its parent needs, so no
// extra level is spent matching scales. About 2 sqrt(d) + log2(d) ciphertext products; depth ceil(log2(d +
// 1)) + 2 (the affine map to [-1, 1], the leaves' constant products) for the usual degrees.
//
// Errors of the result, per slot: |p(x) - f(x)| <= the fit's max_error for x in [a, b] (outside [a, b] the
// polynomial grows like T_d and the result is meaningless), plus the CKKS error: an input error e in y gives
// at most j^2 e in T_j (|T_j'| <= j^2 on [-1, 1]) and every product or rescale adds an error of order
// N / (3.5 Delta), so the total is at most sum_j |c_j| (j^2 e + (1 + log2 j) e_op) + e_op.
//
// Thread safety: the functions are pure (inputs by const reference).
#ifndef VEIL_HE_POLYEVAL_H_
#define VEIL_HE_POLYEVAL_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/he/context.h"
#include "veil/he/evaluator.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"

namespace veil::he {

struct ChebyshevApproximation {
  double a = -1, b = 1;              // the interval
  std::vector<double> coefficients;  // c_0..c_d in the Chebyshev basis of y = (2x - a - b) / (b - a)
  double max_error = 0;              // max |p(x) - f(x)| over a grid of 20001 points of [a, b]
};

// Errors: InvalidArgument if a >= b or either is not finite, degree outside [1, 255], or f is not finite at a
// node.
absl::StatusOr<ChebyshevApproximation> FitChebyshev(const std::function<double(double)>& f, double a,
                                                    double b, int degree);

// p(x) in plaintext (Clenshaw's recurrence), the reference for tests.
double EvaluateChebyshevPlain(const ChebyshevApproximation& p, double x);

// The sigmoid 1 / (1 + e^-x).
double Sigmoid(double x);

// The number of levels EvaluateChebyshev consumes for a polynomial of this degree.
int ChebyshevDepth(int degree);

// p applied to every slot of ct (2 parts; real values in [a, b] for the error bounds to hold). The result has
// ct's scale and ct.level - ChebyshevDepth(degree) levels (or more when the plan allows). Errors:
// FailedPrecondition if ct's level is too low (the message gives the levels needed); InvalidArgument for an
// empty polynomial or coefficients of magnitude 2^20 or more; the evaluator's errors.
absl::StatusOr<Ciphertext> EvaluateChebyshev(const CkksContext& ctx, const RelinKeys& rk,
                                             const Ciphertext& ct, const ChebyshevApproximation& p);

}  // namespace veil::he

#endif  // VEIL_HE_POLYEVAL_H_
