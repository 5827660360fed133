// Private selection: choose a candidate with a high score, with pure epsilon-DP, by the permute-and-flip
// mechanism or by the exponential mechanism (below: ExponentialMechanism, whose bounded-range property gives
// a zCDP cost four times smaller, as the synthetic-data mechanisms MST and AIM use). Permute-and-flip is the
// mechanism (McKenna & Sheldon 2020, "Permute-and-Flip: A new mechanism for differentially private
// selection", NeurIPS 2020, Algorithm 1), sampled exactly.
//
// Permute-and-flip visits the candidates in a uniformly random order and stops at the first r whose coin
// Bernoulli(exp(-(q* - q_r) / u)) lands heads, where q* is the highest score and u = 2 D / epsilon for score
// sensitivity D. It is epsilon-DP (Theorem 1 there) and never worse in expected score than the exponential
// mechanism with the same epsilon (Theorem 2). Used by the DP quantile code and the synthetic-data work.
//
// Exactness. Scores are doubles, i.e. exact rationals. They are rounded to multiples of a power-of-two
// granularity g (g <= u 2^-40) as integers n_r, exactly, which moves neighbouring scores apart by at most g
// more: the mechanism is calibrated for sensitivity D + g, u = 2 (D + g) / epsilon (rounded up by a relative
// 2^-50 against floating-point rounding; solved for g by fixed-point iteration). Each coin is then
// Bernoulli(exp(-gamma_r)) with gamma_r = (n* - n_r) g / u an exact rational, sampled by samplers.h's exact
// algorithm (CKS20 Algorithm 1). Candidates more than 2^51 g (about 2^11 u) below the best are treated as
// exactly that far below (their coin has probability below exp(-2^10) either way); this clamp
// max(n_r, n* - 2^51) does not increase the sensitivity, so the guarantee is unchanged.
//
// Timing. All n coins are always drawn (in the random order; the first heads wins), so the number of steps
// does not reveal where in the order the winner was; the cost of each coin depends on its gamma_r (expected
// O(1) Bernoulli steps per coin whatever gamma_r), so the total running time is O(n) expected with a data-
// dependent constant: do not release timing finer than a whole query. Caps: those of SampleBernoulliExp,
// reached with probability below n * 2^-92 (Internal error).
#ifndef VEIL_DP_SELECTION_H_
#define VEIL_DP_SELECTION_H_

#include <cstddef>
#include <span>

#include "absl/status/statusor.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {

// Returns the index of the selected candidate in `scores` (higher is better).
// Guarantee: epsilon-DP when each score changes by at most `sensitivity` between neighbouring datasets.
// P(r) is exactly that of permute-and-flip on the rounded scores described above; in particular the best
// candidate is selected with probability >= 1/n, and any candidate whose score is below the best by
// t * 2 sensitivity / epsilon is selected with probability at most exp(-t) (times a factor 1 + 2^-39).
// Errors: InvalidArgument if scores is empty or has more than 2^32 entries, a score is not finite,
// sensitivity or epsilon is not finite and > 0, or |score| / u >= 2^59 for some score (the scores are too
// large for the noise unit u); the RandomSource's error; Internal at a sampler cap.
// Thread safety: safe from any thread with its own RandomBits.
absl::StatusOr<size_t> PermuteAndFlip(RandomBits& bits, std::span<const double> scores, double sensitivity,
                                      double epsilon);

// The exponential mechanism (McSherry & Talwar 2007): returns index r with probability proportional to
// exp(epsilon * score_r / (2 * sensitivity)), sampled exactly.
// Guarantee: epsilon-DP when each score changes by at most `sensitivity` between neighbouring datasets, and,
// since the exponential mechanism is epsilon-bounded-range, (epsilon^2 / 8)-zCDP (Cesar & Rogers 2021,
// "Bounding, Concentrating, and Truncating: Unifying Privacy Loss Composition for Data Analytics", ALT 2021,
// Lemma 3.2; the accounting of MST and AIM). Exactness: scores are rounded to multiples of a power-of-two
// granularity g <= u 2^-40 (u = 2 sensitivity / epsilon), and the mechanism is calibrated for sensitivity
// + g (as PermuteAndFlip); the draw is then exact rejection sampling: a uniform candidate r is accepted with
// probability exp(-(n* - n_r) g / u') (SampleBernoulliExp, integer arithmetic), else a new candidate is
// drawn; the accepted index has exactly the stated distribution. Gaps beyond 2^51 g are clamped (probability
// below exp(-2^10) either way; the clamp does not increase the sensitivity).
// Timing: the number of rounds is geometric with mean n / sum_r exp(-gamma_r) <= n, so it depends on the
// scores: do not release timing finer than a whole query. Capped at 128 n rounds (probability below
// e^-128), which returns Internal.
// Errors: InvalidArgument for empty scores, a non-finite score, sensitivity or epsilon not finite > 0, or
// scores too large for the noise unit (|score| / g >= 2^62); the source's error; Internal at the cap.
// Thread safety: safe from any thread with its own RandomBits.
absl::StatusOr<size_t> ExponentialMechanism(RandomBits& bits, std::span<const double> scores,
                                            double sensitivity, double epsilon);

// The epsilon of an exponential mechanism that costs at most `rho` in zCDP and more than rho (1 - 2^-39):
// sqrt(8 rho) shaved against rounding (inverse of epsilon^2 / 8). Errors: InvalidArgument for rho not finite
// > 0.
absl::StatusOr<double> ExponentialMechanismEpsilonForRho(double rho);

}  // namespace veil::dp

#endif  // VEIL_DP_SELECTION_H_
