// TEST-ONLY. A stochastic differential-privacy tester: it runs a mechanism many times on two neighbouring
// datasets and looks for an event whose probabilities violate the (epsilon, delta) inequality, with a stated
// statistical tolerance. It lives in the library veil_dp_testing, which only test binaries link.
//
// What is tested. A mechanism M is (epsilon, delta)-DP if for every pair of neighbouring datasets D, D' (in
// Veil they differ in ALL the rows of one privacy unit, a data subject) and every event S,
//     P[M(D) in S] <= e^epsilon P[M(D') in S] + delta          (and the same with D and D' swapped).
// A test cannot prove this; it can only find, for one pair (D, D'), an event where the inequality fails with
// high confidence. The design follows Ding, Wang, Wang, Zhang, Kifer, "Detecting Violations of Differential
// Privacy" (CCS 2018, StatDP: choose events, then test them on fresh samples) and Bichsel, Steffen,
// Bogunovic, Vechev, "DP-Sniper" (S&P 2021: the most informative event thresholds the likelihood ratio), with
// the histogram setting of Google's DP library "stochastic tester" (Wilson et al. 2019,
// arXiv:1909.01917, 5.3).
//
// Procedure (TestNeighbours):
//  1. The caller fixes a bucketing of the outputs into k buckets 0..k-1 before anything is sampled (a
//     function of the output; merging the tails of the output into the end buckets is post-processing, so
//     the bucketed mechanism is DP whenever M is).
//  2. Selection phase (optional, DP-Sniper style): n_sel runs on each side, from their own seeds. For each
//     direction, buckets are ranked by their smoothed empirical likelihood ratio and the prefix S* of that
//     ranking that maximises the standardised excess (p^(S) - e^eps q^(S) - delta) / sd is chosen.
//  3. Test phase: n fresh runs on each side give histograms h (for D) and h' (for D'). The events tested are
//     fixed before this phase: every single bucket; when the outputs are ordered, every prefix {0..b} and
//     every suffix {b..k-1} (the worst events of additive-noise mechanisms are tails); and the selected S*.
//     Each fixed event is tested in both directions, S* only in its own: m tests in all.
//  4. For a test of "p <= e^eps q + delta" with p = P[M(D) in S] and q = P[M(D') in S], let X = h(S) ~
//     Binomial(n, p) and Y = h'(S) ~ Binomial(n, q), independent. With one-sided Clopper-Pearson bounds at
//     level a = beta / (2m) each (beta = false_alarm_probability),
//         P[p_lo(X) > p] <= a,     P[q_hi(Y) < q] <= a,
//     the test flags a violation iff  p_lo > e^eps q_hi + delta.
//  5. Guarantee (the stated tolerance). If M is (epsilon, delta)-DP on this pair, then outside an event of
//     probability at most 2m * a = beta (union bound, i.e. Bonferroni, over all 2m confidence bounds), every
//     p_lo <= p <= e^eps q + delta <= e^eps q_hi + delta, so NO test flags: a correct mechanism is flagged
//     with probability at most beta over the seeds. For a fixed seed the result is deterministic (the
//     randomness comes from veil::crypto::testing::DeterministicRandom).
//  6. Report. With the same confidence 1 - beta, for every tested event the true privacy loss satisfies
//         epsilon_true(delta) >= ln((p_lo - delta) / q_hi)    and    delta_true(eps) >= p_lo - e^eps q_hi,
//     so the maxima over events, epsilon_lower_bound and delta_lower_bound, are statistically valid lower
//     bounds on the mechanism's privacy parameters (for this pair of datasets). The worst event (the one
//     attaining epsilon_lower_bound) is reported with its counts and bounds.
//
// Power. The tolerance is the width of the confidence bounds: about sqrt(2 ln(1/a) p / n) on p. With
// n = 200,000 and m ~ 200 (a ~ 2.5e-9), an event of probability 0.01 is resolved to about +-0.0014 (14%),
// so a mechanism whose true privacy loss exceeds the claim by ~0.3 on a 1%-event is flagged. Passing is
// evidence, not proof: choose adversarial pairs (boundaries, clamp bounds, a unit with many rows).
//
// Thread safety: the functions are reentrant; TestNeighbours calls `run` from the calling thread only.
#ifndef VEIL_DP_DP_TESTER_H_
#define VEIL_DP_DP_TESTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/dp/random_bits.h"
#include "veil/table/table.h"
#include "veil/table/types.h"

namespace veil::dp::testing {

// ---------------------------------------------------------------------------------------------------------
// Clopper-Pearson one-sided confidence bounds for a binomial proportion (Clopper & Pearson 1934).

// The largest p_lo such that P[Binomial(trials, p_lo) >= successes] <= alpha, i.e. the Beta(successes,
// trials - successes + 1) quantile at alpha; 0 when successes == 0. P[p_lo(X) > p] <= alpha for every p.
// Computed by bisection on the exact binomial tail (regularised incomplete beta function, continued
// fraction); the bracket end returned is the conservative one (never above the exact bound by more than
// rounding). Errors: InvalidArgument unless 0 <= successes <= trials, trials >= 1 and 0 < alpha < 1; Internal
// if the continued fraction does not converge (not expected for trials <= 2^40).
absl::StatusOr<double> ClopperPearsonLower(int64_t successes, int64_t trials, double alpha);

// The smallest p_hi such that P[Binomial(trials, p_hi) <= successes] <= alpha; 1 when successes == trials.
// P[p_hi(X) < p] <= alpha for every p. Same method and errors as ClopperPearsonLower.
absl::StatusOr<double> ClopperPearsonUpper(int64_t successes, int64_t trials, double alpha);

// ---------------------------------------------------------------------------------------------------------
// The statistical test on histograms.

struct DpTestOptions {
  // The claimed guarantee: epsilon finite and >= 0, 0 <= delta < 1.
  double epsilon = 1.0;
  double delta = 0.0;
  // Runs per dataset in the test phase (>= 1).
  int64_t samples_per_side = 200'000;
  // Runs per dataset in the selection phase; 0 skips it (and the selected events).
  int64_t selection_samples_per_side = 50'000;
  // beta: the probability, over the seeds, that a mechanism satisfying the claim is flagged. In (0, 1).
  double false_alarm_probability = 1e-6;
  // Whether bucket order means something (numeric outputs): adds the prefix and suffix events.
  bool ordered_outputs = true;
  // Seeds the deterministic randomness of both phases and both sides (each gets its own stream).
  uint64_t seed = 0x5EED;
};

// Counts of a mechanism's outputs per bucket.
struct Histogram {
  std::vector<int64_t> counts;
  int64_t Total() const;
};

// One event test: "P[M(first) in S] <= e^eps P[M(second) in S] + delta".
struct EventTest {
  std::string event;        // e.g. "bucket 3", "buckets <= 5", "selected {0, 2, 7}"
  bool d_first = true;      // true: first = D, second = D'; false: swapped
  int64_t first_count = 0;  // h_first(S) out of first_total
  int64_t first_total = 0;
  int64_t second_count = 0;
  int64_t second_total = 0;
  double first_lower = 0;   // Clopper-Pearson lower bound on P[M(first) in S]
  double second_upper = 1;  // Clopper-Pearson upper bound on P[M(second) in S]
  // ln((first_lower - delta) / second_upper), or 0 if first_lower <= delta: a lower bound on epsilon.
  double epsilon_lower_bound = 0;
  // first_lower - e^eps * second_upper (may be negative): a lower bound on delta at the claimed epsilon.
  double delta_lower_bound = 0;
  bool violated = false;  // first_lower > e^eps second_upper + delta

  // "P[D in buckets <= 5] >= 0.0123 (2460/200000) vs P[D' in buckets <= 5] <= 0.0041 (790/200000)".
  std::string ToString() const;
};

struct DpTestReport {
  double claimed_epsilon = 0;
  double claimed_delta = 0;
  bool violation = false;          // some event violates the claim (at confidence 1 - beta)
  double epsilon_lower_bound = 0;  // max over events, >= 0 (valid at confidence 1 - beta)
  double delta_lower_bound = 0;    // max over events at the claimed epsilon, >= 0
  EventTest worst;                 // the event attaining epsilon_lower_bound (ties: the larger delta bound)
  int64_t num_tests = 0;           // m
  double per_bound_alpha = 0;      // a = beta / (2m)
  double false_alarm_probability = 0;

  // A one-paragraph summary for test failure messages and logs.
  std::string ToString() const;
};

// Tests the claim on histograms already collected: `d` and `d_prime` from the test phase; `selection_d` and
// `selection_d_prime` from an independent selection phase, or both empty (counts empty) to skip the selected
// events. Options' sample counts and seed are ignored here (the histograms carry their totals).
// Errors: InvalidArgument if the options are out of range, fewer than 2 buckets, the histograms have
// different bucket counts, a count is negative, or a histogram's total is 0.
absl::StatusOr<DpTestReport> CheckHistograms(const Histogram& d, const Histogram& d_prime,
                                             const Histogram& selection_d, const Histogram& selection_d_prime,
                                             const DpTestOptions& options);

// ---------------------------------------------------------------------------------------------------------
// Running a mechanism.

enum class Side { kD, kDPrime };

// One run of the mechanism on D (side == kD) or D' (kDPrime), drawing its randomness from `bits`, returning
// the bucket of its output in [0, num_buckets).
using RunFn = std::function<absl::StatusOr<int64_t>(Side side, RandomBits& bits)>;

// Runs the selection phase and the test phase (see the file comment) and checks the claim. Each (phase,
// side) draws from its own DeterministicRandom seeded from (options.seed, phase, side) through one RandomBits
// shared by that phase's runs. Deterministic for a fixed seed as long as `run` is.
// Errors: InvalidArgument for bad options (see CheckHistograms; samples_per_side >= 1,
// selection_samples_per_side >= 0), num_buckets outside [2, 2^20], or a bucket outside [0, num_buckets)
// (naming it); any error of `run` is returned as is.
absl::StatusOr<DpTestReport> TestNeighbours(const RunFn& run, int64_t num_buckets,
                                            const DpTestOptions& options);

// Convenience: `mechanism(dataset, bits)` returns absl::StatusOr<Output>, `bucket(output)` returns the
// int64_t bucket. Runs TestNeighbours on (d, d_prime).
template <typename Dataset, typename Mechanism, typename Bucket>
absl::StatusOr<DpTestReport> TestMechanism(const Dataset& d, const Dataset& d_prime, Mechanism&& mechanism,
                                           Bucket&& bucket, int64_t num_buckets,
                                           const DpTestOptions& options) {
  return TestNeighbours(
      [&](Side side, RandomBits& bits) -> absl::StatusOr<int64_t> {
        auto output = mechanism(side == Side::kD ? d : d_prime, bits);
        if (!output.ok()) return output.status();
        return static_cast<int64_t>(bucket(*output));
      },
      num_buckets, options);
}

// ---------------------------------------------------------------------------------------------------------
// Bucketings (fixed functions of the output; the end buckets absorb the tails).

// Buckets of the integers lo..hi: value v goes to clamp(v, lo, hi) - lo; there are hi - lo + 1 buckets.
// Precondition: lo <= hi.
int64_t IntegerBucket(int64_t value, int64_t lo, int64_t hi);

// num_buckets equal-width buckets of [lo, hi): floor((v - lo) / (hi - lo) * num_buckets), clamped into
// [0, num_buckets - 1]; NaN goes to the last bucket. Precondition: lo < hi, both finite, num_buckets >= 1.
int64_t RealBucket(double value, double lo, double hi, int64_t num_buckets);

// ---------------------------------------------------------------------------------------------------------
// Neighbouring tables (Veil's privacy unit is the subject, so a neighbour removes ALL of a unit's rows).

// A copy of `table` without the rows whose column `unit_column` equals `unit` (same schema, rows in order).
// Errors: InvalidArgument if the column does not exist or `unit` is null; NotFound if no row has that unit.
absl::StatusOr<table::Table> RemoveUnit(const table::Table& table, std::string_view unit_column,
                                        const table::Value& unit);

}  // namespace veil::dp::testing

#endif  // VEIL_DP_DP_TESTER_H_
