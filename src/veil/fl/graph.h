// The neighbour graph of secure aggregation: who masks with and shares secrets with whom.
//
// Complete graph: the original protocol (Bonawitz et al., CCS 2017): every client is a neighbour of every
// other, so a client does O(n) key agreements and mask expansions and the server O(n * dropped).
//
// SecAgg+ (Bell, Bonawitz, Gascon, Lepoint, Raykova, CCS 2020): a sparse k-regular graph, the Harary graph
// H(k, n) (each client joined to the k/2 nearest clients on each side of a ring) over a uniformly random
// ordering of the clients. The ordering is drawn from a public 32-byte seed with the mask PRG (AES-256-CTR),
// so every client recomputes the same graph. With k = O(log n) neighbours, client and server costs become
// O(k) and O(k * dropped).
//
// Parameters and failure probabilities: ChooseSecAggPlusParameters picks the smallest even k and a Shamir
// threshold t (secrets are shared among the k neighbours) such that, when each client independently drops
// with probability `dropout` and is corrupted (colluding with the server) with probability `corrupt`:
//   correctness failure <= n * P[Binomial(k, 1 - dropout) < t] <= 2^-correctness_bits  (some needed secret
//     has fewer than t surviving share holders; the round then aborts cleanly, it never outputs a wrong sum)
//   security failure <= n * P[Binomial(k, corrupt) >= t] <= 2^-security_bits  (a client's t share holders
//     are all corrupt: the server could learn both of its secrets)
// These are union bounds over clients for the two per-neighbourhood events of Bell et al. (their Lemma on
// the choice of t); Bell et al. additionally require the honest surviving subgraph to stay connected so
// that no partial sum is revealed, which a Harary graph over a random ordering gives with high probability
// for these k (their Theorem 3.6); it is not computed here.
//
// Thread safety: immutable after construction.
#ifndef VEIL_FL_GRAPH_H_
#define VEIL_FL_GRAPH_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace veil::fl {

class NeighbourGraph {
 public:
  // Every pair of the n clients (ids 0..n-1) is adjacent. Errors: InvalidArgument if n < 2.
  static absl::StatusOr<NeighbourGraph> Complete(uint32_t n);
  // H(k, n) over the ordering drawn from `seed`. Errors: InvalidArgument if n < 3, k is odd, k < 2 or
  // k >= n (use Complete for k = n - 1).
  static absl::StatusOr<NeighbourGraph> Harary(uint32_t n, uint32_t k, const std::array<uint8_t, 32>& seed);

  uint32_t size() const { return n_; }
  // Neighbours of u, sorted, excluding u. u < size().
  std::span<const uint32_t> neighbours(uint32_t u) const { return adjacency_[u]; }
  bool Adjacent(uint32_t u, uint32_t v) const;
  uint32_t degree() const { return n_ == 0 ? 0 : static_cast<uint32_t>(adjacency_[0].size()); }

  // An empty graph (size 0), to be assigned.
  NeighbourGraph() = default;

 private:
  uint32_t n_ = 0;
  bool complete_ = false;
  std::vector<uint32_t> position_;  // Harary: the ring position of each client
  uint32_t half_ = 0;               // Harary: k / 2
  std::vector<std::vector<uint32_t>> adjacency_;
};

// What the threshold must withstand (Bell et al. 2020, Section 3 and the malicious variant of Section 4):
//   kSemiHonest: the server follows the protocol and colludes with the corrupt clients; a client's secrets
//     stay hidden if fewer than t of its k neighbours are corrupt, so any 1 <= t <= k is allowed and t is
//     chosen near the expected corrupt count plus a tail margin (t much smaller than k/2);
//   kActive: the server may also lie (tell different neighbours different survivor sets); then t must
//     exceed k/2 so that no two disjoint groups of t honest neighbours exist, and the consistency round
//     (secagg.h) detects the lie. This costs a much larger k for the same correctness target.
enum class SecAggThreatModel { kSemiHonest, kActive };

struct SecAggPlusParameters {
  uint32_t degree = 0;     // k
  uint32_t threshold = 0;  // t
  double log2_correctness_failure = 0;
  double log2_security_failure = 0;
};

// See the header comment: the smallest even k (and the smallest t for it) meeting both targets, with t > k/2
// for kActive and t >= 1 for kSemiHonest. Bell et al. state their bounds with sigma = 40 (security) and
// eta = 20..30 (correctness) bits; these are the defaults. Examples (dropout 0.3, corrupt 0.05, 2^-20 /
// 2^-40; graph_test.cc checks them): kSemiHonest: n = 100: k = 66, t = 24; n = 500: k = 72, t = 26; n = 10^4:
// k = 80, t = 28 (k grows like log n). kActive: n = 500: k = 204, t = 103; n = 100: none below 99.
// dropout in [0, 1), corrupt in (0, 1). Errors: InvalidArgument for bad arguments, NotFound if no k < n meets
// the targets (use the complete graph).
absl::StatusOr<SecAggPlusParameters> ChooseSecAggPlusParameters(
    uint32_t n, double dropout, double corrupt, double correctness_bits = 20, double security_bits = 40,
    SecAggThreatModel model = SecAggThreatModel::kActive);

// log2 P[Binomial(k, p) < t] and log2 P[Binomial(k, p) >= t] (exact sums in log space).
double Log2BinomialCdfBelow(uint32_t k, double p, uint32_t t);
double Log2BinomialTailAtLeast(uint32_t k, double p, uint32_t t);

}  // namespace veil::fl

#endif  // VEIL_FL_GRAPH_H_
