// The coordinator of a federated training run (`veil fl coordinator`, issue 10 items 2, 6 and 8): a gRPC
// server (fl.proto, mutual TLS) and the round loop.
//
// One round r:
//   1. Cohort. Wait (deadlines.join) until clients_per_round sites are connected, then select them (all of
//      them, or clients_per_round uniformly at random; with central DP each site independently with
//      probability q = clients_per_round / total_clients, dp_fedavg.h SampleClients). Fewer than
//      min_clients connected: the round aborts.
//   2. Train (deadlines.train). Each member gets RoundStart: the plan (config.h RoundPlan), the global model
//      and, with secure aggregation, the roster (every member's certificate, secagg.h SecAggConfig). It
//      trains locally and answers with its contribution in the clear (plain) or its AdvertiseKeys.
//   3. Secure aggregation (secagg.h), each step with its deadline: KeyDirectory -> ShareKeys,
//      ShareBundle -> MaskedInput, UnmaskRequest -> SurvivorSignature, ConsistencyProof -> UnmaskResponse;
//      the result is exactly the sum of the surviving members' quantized contributions.
//   4. Aggregate: the (decoded) sum becomes the mean update (strategy.h; DP-FedAvg adds its noise,
//      dp_fedavg.h; distributed DP divides the noisy sum by clients_per_round), and the server optimizer
//      steps.
//   5. Checkpoint (checkpoint.h) and report (per-phase timings and bytes, on the log and in RunReport).
// A member that does not answer by a phase's deadline is dropped (secure aggregation recovers its masks);
// when fewer than min_clients remain at any step the round aborts cleanly: the model is unchanged and the
// next round starts. A site that reconnects during a round (a new session) is out of that round.
//
// Sites are identified by their TLS certificates (certs.h): the Join's certificate must be the handshake's,
// issued by the CA to a site name (and, if the configuration lists sites, one of them). Without
// credentials (--insecure) the Join's certificate is still checked against the CA, but nothing binds it to
// the connection: for local tests only.
//
// Thread safety: Run() on one thread; Stop() from any thread.
#ifndef VEIL_FL_COORDINATOR_H_
#define VEIL_FL_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "veil/base/env.h"
#include "veil/base/random.h"
#include "veil/dp/accountant.h"
#include "veil/fl/certs.h"
#include "veil/fl/config.h"

namespace veil::fl {

struct PhaseReport {
  std::string name;  // "train", "share_keys", "masked_input", "consistency", "unmask", "aggregate"
  double seconds = 0;
  uint64_t bytes_sent = 0;      // by the coordinator during the phase (serialized protobuf messages)
  uint64_t bytes_received = 0;  // by the coordinator during the phase
  int answers = 0;              // members that answered in time
};

struct RoundReport {
  int64_t round = 0;  // 0-based
  bool aborted = false;
  std::string reason;                 // why it aborted
  std::vector<std::string> selected;  // sites invited
  std::vector<std::string> included;  // sites whose contributions are in the aggregate
  std::vector<PhaseReport> phases;
  double seconds = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  std::optional<dp::ApproxDp> spent;  // cumulative client-level (epsilon, delta) after the round
  double clip_norm = 0;               // DP: C_t used in the round
  std::optional<double> eval_loss;    // on the evaluation file, after the round
  std::optional<double> eval_accuracy;

  nlohmann::ordered_json ToJson() const;
  static absl::StatusOr<RoundReport> FromJson(const nlohmann::ordered_json& j);
  // One line for the log.
  std::string Summary() const;
};

struct RunReport {
  int64_t resumed_at = 0;  // the round the run started at (> 0 after a restart from a checkpoint)
  std::vector<RoundReport> rounds;
  std::vector<double> model;  // final global parameters
  std::string model_json;     // the output file's content ("veil-registered-model" payload)
  std::optional<dp::ApproxDp> spent;
};

class Coordinator {
 public:
  struct Options {
    CoordinatorConfig config;
    // The coordinator's TLS credentials, or null to serve plaintext (tests; the CLI warns).
    const Credentials* credentials = nullptr;
    // The CA that certifies the sites (needed in both modes).
    std::string ca_pem;
    base::Env* env = nullptr;           // files (checkpoints, output)
    base::RandomSource* rng = nullptr;  // crypto::SecureRandom() unless config.seed (then ignored)
    // Log lines (stderr in the CLI); may be empty.
    std::function<void(const std::string&)> log;
  };

  // Validates, reads the checkpoint if any (FailedPrecondition if it was written for another
  // configuration), and starts the server on config.listen. Errors: InvalidArgument; the server's bind
  // error (Unavailable); DataLoss for a damaged checkpoint.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(Options options);
  ~Coordinator();

  // The port the server listens on (useful with port 0).
  int port() const;

  // Runs the remaining rounds, writes the output, tells every site the run is over (FINISHED with the final
  // model; it waits until each has fetched it: a few seconds for a site polling now, up to
  // config.finish_grace for one seen within that time but not polling, as a site in reconnect backoff), and
  // returns the report. Errors: Cancelled after
  // Stop(); the file system's; a round's internal error (a bug, not a site's misbehaviour: those only drop
  // the site).
  absl::StatusOr<RunReport> Run();

  // Makes Run return Cancelled at the next wait and stops the server.
  void Stop();

  class Impl;

 private:
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The model file a run writes (and registers): {"format": "veil-registered-model", "version": 1, "target",
// "classes", "pipeline", "model"} as `veil train` registers it, plus {"federated": {...}} describing the run.
std::string FederatedModelJson(const ModelSpec& spec, const std::vector<double>& params,
                               const nlohmann::ordered_json& federated);

}  // namespace veil::fl

#endif  // VEIL_FL_COORDINATOR_H_
