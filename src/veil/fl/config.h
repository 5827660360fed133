// The configuration of a federated training run (`veil fl coordinator --config FL.json`, docs/fl.md
// "Configuration reference") and the public round plan the coordinator sends the sites with each round.
//
// Everything here is public: the model's feature pipeline comes from PUBLIC METADATA the configuration
// declares (category lists, numeric bounds, the target's classes; the format of `veil train --metadata`),
// never from a site's data, so that every site encodes its rows the same way and nothing about one site's
// data reaches another through the pipeline.
//
// Thread safety: plain values.
#ifndef VEIL_FL_CONFIG_H_
#define VEIL_FL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/fl/dp_fedavg.h"
#include "veil/fl/graph.h"
#include "veil/fl/messages.h"
#include "veil/fl/rpc.h"
#include "veil/fl/strategy.h"
#include "veil/ml/features.h"
#include "veil/ml/model.h"
#include "veil/ml/train.h"
#include "veil/table/table.h"

namespace veil::fl {

// Rows encoded for a model: features and targets.
struct LabeledData {
  ml::Matrix x;
  ml::Targets y;
  int64_t skipped = 0;  // rows left out: a null target, or a class the spec does not declare
};

// The model every site trains: its kind, target, classes and the public feature pipeline.
struct ModelSpec {
  std::string kind = "logreg";  // "logreg", "linreg" or "mlp"
  std::string target;
  std::vector<std::string> classes;  // classification: the target's declared classes (>= 2)
  std::vector<int> hidden;           // mlp: one or two hidden widths
  ml::FeaturePipeline pipeline;      // from public metadata

  ml::ModelConfig ModelConfig() const;
  // Encodes `table` with the pipeline; rows whose target is null or not among `classes` are left out (row by
  // row, never an error that depends on a value). Errors: InvalidArgument if the target or a feature column
  // is missing or has a type the pipeline cannot read.
  absl::StatusOr<LabeledData> Encode(const table::Table& table) const;
  nlohmann::ordered_json ToJson() const;
  // Errors: InvalidArgument naming the field.
  static absl::StatusOr<ModelSpec> FromJson(const nlohmann::ordered_json& j);
};

struct LocalTrainingOptions {
  int epochs = 1;
  int batch_size = 32;
  double learning_rate = 0.1;
  ml::Optimizer optimizer = ml::Optimizer::kSgd;
};

enum class DpMode { kNone, kCentral, kDistributed };
// "none", "central", "distributed".
std::string_view DpModeName(DpMode mode);

struct DpSettings {
  DpMode mode = DpMode::kNone;
  // kCentral: DP-FedAvg (dp_fedavg.h); clients_per_round and total_clients are filled from the run.
  DpFedAvgOptions central;
  // kDistributed: clients clip to clip_norm (L2), quantize and add discrete Gaussian noise so that the sum
  // carries noise of standard deviation noise_multiplier * Delta (Delta: QuantizedL2Sensitivity) with the
  // quorum of survivors (distributed_dp.h).
  double noise_multiplier = 1.0;
  double clip_norm = 1.0;
  double delta = 1e-5;
};

struct SecAggSettings {
  bool enabled = true;
  SecAggThreatModel threat_model = SecAggThreatModel::kActive;
  // 0: chosen per round (complete graph: a majority of the cohort, floor(n / 2) + 1).
  uint32_t threshold = 0;
  // 0: complete graph; otherwise the even degree of the SecAgg+ Harary graph.
  uint32_t degree = 0;
  // Default 24 (kSecAggDefaultRingBits); when FL.json leaves it unset and adaptive clipping needs a larger
  // ring to read the clipped count exactly, the smallest such ring (ParseCoordinatorConfig).
  uint32_t ring_bits = kSecAggDefaultRingBits;
  // Without DP: each coordinate of a (weighted) update is clipped to [-clip, clip] before quantization; at
  // least 1, since the site's weight (at most 1) is summed beside its update. With DP the quantizer's clip
  // is the round's L2 clipping norm instead.
  double clip = 1.0;
  // FedAvg weights under secure aggregation: a site's example count is capped at this public bound
  // (strategy.h, SecAggWeightedInput).
  int64_t max_examples = 1000000;
};

struct PhaseDeadlines {
  absl::Duration join = absl::Seconds(60);  // waiting for the cohort to connect before a round
  absl::Duration train = absl::Seconds(300);
  absl::Duration share_keys = absl::Seconds(30);
  absl::Duration masked_input = absl::Seconds(30);
  absl::Duration consistency = absl::Seconds(30);
  absl::Duration unmask = absl::Seconds(30);
};

struct RegistryTarget {
  std::string workspace;  // the coordinator's workspace
  std::string name;       // model name
  std::string dataset;    // the dataset of that workspace the model is filed under (the gate checks it)
  std::string purpose;
};

struct CoordinatorConfig {
  std::string listen = "127.0.0.1:7443";
  int64_t rounds = 1;
  // Sites invited per round (all connected sites if fewer), and the quorum: a round with fewer contributions
  // aborts and the next round starts.
  int64_t clients_per_round = 3;
  int64_t min_clients = 2;
  // Certificate names allowed to join (empty: any site the CA certified).
  std::vector<std::string> sites;
  PhaseDeadlines deadlines;
  StrategyOptions strategy;
  LocalTrainingOptions local;
  ModelSpec model;
  SecAggSettings secagg;
  DpSettings dp;
  std::string checkpoint_dir;  // "" = no checkpoints
  std::string output;          // where the final model is written ("" = not written)
  std::optional<RegistryTarget> registry;
  std::string evaluation_csv;  // optional public test file the coordinator evaluates each round on
  TransportOptions transport;
  // After the last round, how long the coordinator keeps the FINISHED notice for a site it saw within that
  // time but that is not polling (in reconnect backoff, or still busy): the sites' maximum reconnect backoff
  // (TransportOptions::backoff_max, the `veil fl client` default) and 2 s for the call itself.
  absl::Duration finish_grace = TransportOptions().backoff_max + absl::Seconds(2);
  // TESTS ONLY: seeds the coordinator's random draws (client selection, DP noise, graph seed) so that a run
  // is reproducible; refused unless VEIL_TEST_SEED_OK=1 (the CLI checks).
  std::optional<uint64_t> seed;
  // SHA-256 (hex) of the canonical JSON of every setting that changes the result: a checkpoint written under
  // another configuration is refused.
  std::string digest;
};

// Parses FL.json. Relative paths (metadata, checkpoint_dir, output, evaluation) are resolved against
// `base_dir` (the configuration file's directory). Errors: InvalidArgument naming the field (and `where`,
// the file's name); NotFound for a missing metadata file.
absl::StatusOr<CoordinatorConfig> ParseCoordinatorConfig(std::string_view text, std::string_view where,
                                                         const std::string& base_dir);

// What a site needs to know about a round, besides the model parameters: sent as RoundStart::plan_json.
struct RoundPlan {
  uint64_t round = 0;  // 0-based
  int64_t rounds = 0;  // of the run
  ModelSpec model;
  LocalTrainingOptions local;
  double proximal_mu = 0;  // FedProx
  bool secure = false;     // secure aggregation
  DpMode dp = DpMode::kNone;
  // Non-DP: FedAvg weights (examples, capped at max_examples under secure aggregation); clip = the
  // per-coordinate clip of the quantizer.
  int64_t max_examples = 0;
  double clip = 1.0;
  // kCentral: DP-FedAvg's options, C_t in clip_norm; the contribution is the clipped update followed, with
  // adaptive clipping, by C_t * b_k (b_k = 1 if the update was within C_t).
  DpFedAvgOptions central;
  double clip_norm = 0;
  // kDistributed: the noise each client adds (integer units) and what the accountant needs.
  DistributedDpOptions distributed;
  double l2_sensitivity = 0;  // integer units (QuantizedL2Sensitivity)
  double delta = 0;
  bool seeded = false;  // the coordinator runs with a test seed

  // Length of a site's contribution vector: the model's parameters, plus one for the FedAvg weight under
  // secure aggregation without DP (strategy.h SecAggWeightedInput) or for C_t b_k with adaptive clipping.
  int64_t ContributionLength(int64_t num_params) const;

  nlohmann::ordered_json ToJson() const;
  // Errors: InvalidArgument naming the field.
  static absl::StatusOr<RoundPlan> FromJson(std::string_view text);
};

}  // namespace veil::fl

#endif  // VEIL_FL_CONFIG_H_
