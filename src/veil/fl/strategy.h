// Federated optimisation strategies (issue 10, item 3): how the coordinator turns the clients' model updates
// into the next global model, and how a client computes its update.
//
// One round: the coordinator sends the global parameters x_t; each client k trains locally from them
// (TrainLocally) and returns its update Delta_k = x_k - x_t with its number of examples n_k; the coordinator
// forms the example-weighted mean Delta_t = sum_k n_k Delta_k / sum_k n_k (WeightedMean, or through secure
// aggregation: SecAggWeightedInput / MeanFromWeightedSecAggSum below) and applies the server step
// (Strategy::Apply):
//
//   FedAvg      x_{t+1} = x_t + eta Delta_t      (McMahan et al. 2017, "Communication-Efficient Learning of
//                                                 Deep Networks from Decentralized Data"; eta = 1 is the
//                                                 original: the example-weighted average of the local models)
//   FedProx     the server step of FedAvg; clients minimise their loss + mu/2 |w - x_t|^2 (Li, Sahu, Zaheer,
//               Sanjabi, Talwalkar, Smith 2020, "Federated Optimization in Heterogeneous Networks"), so mu
//               (StrategyOptions::proximal_mu) is sent to the clients with the model.
//   FedAdagrad  Reddi, Charles, Zaheer, Garrett, Rush, Konecny, Kumar, McMahan 2021, "Adaptive Federated
//   FedYogi     Optimization" (ICLR), Algorithm 2, with the pseudo-gradient Delta_t (per coordinate):
//   FedAdam       m_t = beta1 m_{t-1} + (1 - beta1) Delta_t
//                 Adagrad: v_t = v_{t-1} + Delta_t^2
//                 Yogi:    v_t = v_{t-1} - (1 - beta2) Delta_t^2 sign(v_{t-1} - Delta_t^2)
//                 Adam:    v_t = beta2 v_{t-1} + (1 - beta2) Delta_t^2
//                 x_{t+1} = x_t + eta m_t / (sqrt(v_t) + tau)
//               with m_{-1} = 0 and v_{-1} = tau^2 (Algorithm 2 requires v_{-1} >= tau^2; this is the
//               smallest such value). No bias correction (Algorithm 2 has none). Algorithm 2 averages the
//               clients' updates uniformly; here Delta_t is the example-weighted mean (as FedAvg), which is
//               the same when the clients hold equally many examples. Reddi et al. tune eta on a
//               log grid; values around 1e-2 to 1e-1 are typical for these optimizers (eta = 1, the FedAvg
//               default, makes every early step about +-1 per coordinate).
//
// Determinism: Apply is a fixed sequence of double operations, so the same inputs give bit-identical models;
// SerializeState / RestoreState carry the whole optimizer state exactly, so a coordinator resumed from a
// checkpoint (model + state) continues bit-identically.
//
// Thread safety: a Strategy is a plain value (not synchronised); free functions are reentrant.
#ifndef VEIL_FL_STRATEGY_H_
#define VEIL_FL_STRATEGY_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/fl/quantize.h"
#include "veil/ml/model.h"
#include "veil/ml/train.h"

namespace veil::fl {

enum class StrategyKind { kFedAvg, kFedProx, kFedAdam, kFedYogi, kFedAdagrad };

// "fedavg", "fedprox", "fedadam", "fedyogi", "fedadagrad". Errors: InvalidArgument naming the accepted names.
absl::StatusOr<StrategyKind> ParseStrategyKind(std::string_view name);
std::string_view StrategyName(StrategyKind kind);

struct StrategyOptions {
  StrategyKind kind = StrategyKind::kFedAvg;
  // eta: the server step size. Finite, > 0.
  double server_learning_rate = 1.0;
  // Adaptive optimizers only (ignored otherwise): decay rates in [0, 1) and the adaptivity tau > 0 (Reddi et
  // al.'s defaults: beta1 = 0.9, beta2 = 0.99, tau = 1e-3).
  double beta1 = 0.9;
  double beta2 = 0.99;
  double tau = 1e-3;
  // FedProx's mu >= 0, finite: > 0 with kFedProx (mu = 0 is FedAvg), 0 with every other kind.
  double proximal_mu = 0;

  // Errors: InvalidArgument naming the field and the value.
  absl::Status Validate() const;
};

// One client's contribution to a round.
struct ClientUpdate {
  std::vector<double> update;  // local parameters - global parameters
  int64_t num_examples = 0;    // n_k, the FedAvg weight
};

// sum_k n_k update_k / sum_k n_k, summed in the order given. Errors: InvalidArgument for an empty list, an
// empty update, updates of different lengths, a negative count, a non-finite value (naming the client index
// and coordinate), or a total count that is not positive.
absl::StatusOr<std::vector<double>> WeightedMean(std::span<const ClientUpdate> updates);

// Example-weighted FedAvg through secure aggregation (secagg.h, quantize.h), where the server sees only the
// sum. The weights go into the inputs: client k's weight is w_k = min(n_k, max_examples) / max_examples in
// (0, 1] (SecAggWeight; max_examples is a public bound from the round's configuration, as Flower's SecAgg+
// max_weight; a larger client counts as max_examples), so the mean is WeightedMean with each count capped at
// max_examples.
//
// n_k never leaves the client: it encodes SecAggWeightedInput = [w_k update_k, w_k] (P + 1
// floats, for Quantizer::Encode; the weight rides in the secure sum as the last coordinate), and the server
// divides the decoded sum's first P coordinates by its last (MeanFromWeightedSecAggSum). Requirements: the
// Quantizer's clip is >= 1 (w_k <= 1 is then never clipped) and bounds |update_kj| (|w_k update_kj| <=
// |update_kj|). Quantization error of the mean, per coordinate j, with W~ the decoded weight sum and
// exact_j = sum_k w_k update_kj / sum_k w_k:
//   |mean_j - exact_j| <= (a_j + |exact_j| b) / W~,  a_j = sum_{k in U3} (|y_kj - w_k update_kj| + 1/scale),
//                                                    b   = sum_{k in U3} (|float(w_k) - w_k| + 1/scale),
// y_kj = float(w_k update_kj) (stochastic rounding moves each encoded value by less than 1/scale; the
// identity mean - exact = ((N - A) - exact (W~ - W)) / W~ with N, A the decoded and exact numerators gives
// the bound).
//
// Errors: InvalidArgument for max_examples < 1, num_examples < 1, an empty update or a non-finite value
// (naming the index).
absl::StatusOr<double> SecAggWeight(int64_t num_examples, int64_t max_examples);
absl::StatusOr<std::vector<float>> SecAggWeightedInput(const ClientUpdate& update, int64_t max_examples);
//
// decoded_sum = `quantizer`.DecodeSum of the SecAggResult (P + 1 values): the sum over the num_clients
// survivors (U3) of SecAggWeightedInput(..., max_examples) encoded with `quantizer`.
//
// The weight sum is checked, since no single weight can be: an honest site's weight coordinate is
// float(w_k) in [float(w_min), 1] (w_min = SecAggWeight(1, max_examples) = 1 / max_examples; the quantizer's
// clip >= 1 leaves it alone), rounded to the integer floor or ceiling of float(w_k) s (s = the quantizer's
// scale). So the decoded W~ times s is an integer in
//   [|U| floor(float(w_min) s), |U| ceil(s)]
// i.e. |U| times the weight range widened by at most one quantization step 1/s per site. A W~ outside it
// means some site sent a weight outside [w_min, 1] (a negative one drives W~ towards 0 and blows the mean
// up; a huge one lets that site dominate), and the mean is refused. A site can still lie within the range:
// only the sum is visible, so a site's weight in [w_min, 1] (and its update, within the quantizer's range)
// is taken on trust.
//
// Errors: InvalidArgument for fewer than 2 values or a non-finite one, num_clients = 0, max_examples < 1,
// a quantizer clip below 1, or a weight sum outside the range above (the message gives the range, never
// the sum); FailedPrecondition if the weight sum is 0 inside the range (every weight rounded to 0: raise the
// quantizer's scale or lower max_examples).
absl::StatusOr<std::vector<double>> MeanFromWeightedSecAggSum(std::span<const double> decoded_sum,
                                                              size_t num_clients, int64_t max_examples,
                                                              const Quantizer& quantizer);

// The server-side optimizer of one federated training run (its state: the step count and, for the adaptive
// optimizers, the moments m and v).
class Strategy {
 public:
  // Errors: InvalidArgument for invalid options or num_params == 0.
  static absl::StatusOr<Strategy> Create(const StrategyOptions& options, size_t num_params);

  // One server step: global <- global + step(mean_update) (see the file comment). Atomic: on error neither
  // `global` nor the state changes. Errors: InvalidArgument if a length differs from num_params or a value of
  // mean_update or global is not finite (naming the coordinate); FailedPrecondition if the step would make
  // a parameter non-finite.
  absl::Status Apply(std::span<const double> mean_update, std::vector<double>& global);

  const StrategyOptions& options() const { return options_; }
  size_t num_params() const { return num_params_; }
  // Server steps applied so far.
  int64_t steps() const { return steps_; }

  // The state (step count, moments) as bytes: "VFLSTRAT" v1, the options and num_params it belongs to, then
  // little-endian IEEE-754 bit patterns, so RestoreState reproduces it exactly.
  std::string SerializeState() const;
  // Replaces the state by a serialized one. Errors: DataLoss for a malformed or truncated state (naming the
  // field); FailedPrecondition if it was written for other options or another num_params (a resumed run must
  // use the same configuration to continue bit-identically). On error the state is unchanged.
  absl::Status RestoreState(std::string_view state);

 private:
  Strategy(const StrategyOptions& options, size_t num_params);
  bool adaptive() const;

  StrategyOptions options_;
  size_t num_params_ = 0;
  int64_t steps_ = 0;
  std::vector<double> m_, v_;  // adaptive optimizers only
};

// A client's local training for one round: copies `global`, trains it with ml::Train on (x, y) with
// `options` (proximal_mu and proximal_center in them are replaced: when proximal_mu > 0 the FedProx term
// mu/2 |w - w_global|^2 is added with the global parameters as its centre), and returns local - global and
// x.rows() examples. `rng` drives the shuffling (crypto::SecureRandom() in production).
// Errors: InvalidArgument for proximal_mu < 0 or not finite; ml::Train's errors (bad options, mismatched
// data, divergence).
absl::StatusOr<ClientUpdate> TrainLocally(const ml::Model& global, const ml::Matrix& x, const ml::Targets& y,
                                          const ml::TrainOptions& options, double proximal_mu,
                                          base::RandomSource& rng);

namespace internal {
// Little-endian fields of the serialized states of this module (strategy.cc, dp_fedavg.cc).
void AppendU64(std::string& out, uint64_t v);
void AppendDouble(std::string& out, double v);  // its IEEE-754 bit pattern
// Reads from `in` at `pos` (advanced). Errors: DataLoss "<what>: truncated at <field>".
absl::Status ReadU64(std::string_view in, size_t& pos, std::string_view what, std::string_view field,
                     uint64_t& v);
absl::Status ReadDouble(std::string_view in, size_t& pos, std::string_view what, std::string_view field,
                        double& v);
// A serialized state's header: `magic` then `version` as a u64. ReadStateHeader returns the position after
// it. Errors: DataLoss "<what>: not a <what> (bad magic)", truncation, or "unsupported version".
void AppendStateHeader(std::string& out, std::string_view magic, uint64_t version);
absl::StatusOr<size_t> ReadStateHeader(std::string_view in, std::string_view magic, uint64_t version,
                                       std::string_view what);
}  // namespace internal

}  // namespace veil::fl

#endif  // VEIL_FL_STRATEGY_H_
