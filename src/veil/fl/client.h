// A site of a federated training run (`veil fl client`, issue 10 item 2): connects to the coordinator over
// mutual TLS (fl.proto, rpc.h), takes part in the rounds it is invited to, and sends only its contribution:
// the update of its local training (plain aggregation) or that update quantized and masked (secure
// aggregation, secagg.h), never a row.
//
// Each round the site:
//   1. gets RoundStart: the public plan (config.h RoundPlan), the global model and, with secure aggregation,
//      the roster. It checks every member's certificate against the CA and the site name the roster gives
//      (certs.h), takes each member's identity key from its certificate (so the coordinator cannot
//      substitute keys), checks its own entry, and refuses a round whose quorum is below its own minimum
//      (ClientOptions::min_cohort: a sum over fewer inputs would say too much about each);
//   2. trains (SiteTrainer: the CLI's trainer goes through the gate, gov::Session) and makes its
//      contribution (MakeContribution);
//   3. runs the secure-aggregation client (AdvertiseKeys, ShareKeys, MaskedInput, SurvivorSignature,
//      UnmaskResponse) as the coordinator's tasks arrive.
// A failed call is retried after a jittered exponential backoff (rpc.h Backoff); an unknown session (the
// coordinator restarted) makes the site join again and wait for the next round it is invited to. A site
// that cannot reach the coordinator for ClientOptions::give_up stops with Unavailable.
//
// Thread safety: RunClient blocks its thread; the trainer is called on it.
#ifndef VEIL_FL_CLIENT_H_
#define VEIL_FL_CLIENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "veil/base/random.h"
#include "veil/fl/certs.h"
#include "veil/fl/config.h"
#include "veil/fl/quantize.h"
#include "veil/fl/rpc.h"
#include "veil/fl/strategy.h"
#include "veil/table/table.h"

namespace veil::fl {

// What a site releases in one round (before masking).
struct Contribution {
  // Plain aggregation without DP: the site's example count (its FedAvg weight, sent in the clear). 0 under
  // secure aggregation (the weight is inside the masked sum) and under DP.
  int64_t examples = 0;
  std::vector<double> plain;        // plain aggregation: the contribution vector
  std::vector<uint32_t> quantized;  // secure aggregation: its ring encoding (with distributed DP noise)

  // The bytes the contribution is made of (the doubles or ring words, little-endian, then the example
  // count): what the site's audit entry hashes.
  std::string ReleasedBytes() const;
};

// From a local update to what the plan asks for:
//   no DP     plain: the update and its example count; secure: SecAggWeightedInput quantized: the update
//             weighted by w = min(n, max_examples) / max_examples, followed by w (strategy.h), no count;
//   central   ClipUpdate to the plan's C_t (dp_fedavg.h), then, with adaptive clipping, C_t * b (b = 1 if the
//             update was within C_t); quantized under secure aggregation;
//   distributed  ClipUpdate to the plan's clip norm, quantized, plus the client's discrete Gaussian noise
//             (distributed_dp.h AddDistributedNoise).
// `quantizer` is the round's (secure aggregation) or null (plain). Errors: InvalidArgument for an update
// of the wrong length or a missing quantizer; the quantizer's, sampler's and rng's errors.
absl::StatusOr<Contribution> MakeContribution(const RoundPlan& plan, const ClientUpdate& update,
                                              const Quantizer* quantizer, base::RandomSource& rng);

// Encodes `rows` with the plan's model spec, trains from `global` (TrainLocally, FedProx's mu from the
// plan) and makes the contribution. Under DP a failed local training (no usable row, divergence)
// contributes a zero update rather than an error, so the outcome reveals nothing about the rows (as
// ml::TrainDpSgd does). Errors: InvalidArgument for data the spec cannot read (a missing column: public
// facts, checked before the rows are used) and, without DP, training errors; MakeContribution's.
absl::StatusOr<Contribution> TrainContribution(const RoundPlan& plan, std::span<const double> global,
                                               const table::Table& rows, const Quantizer* quantizer,
                                               base::RandomSource& rng);

// How a site trains (the CLI: through the gate on a workspace dataset).
class SiteTrainer {
 public:
  virtual ~SiteTrainer() = default;
  // Round `plan` from the global parameters `global`; `quantizer` as in MakeContribution.
  virtual absl::StatusOr<Contribution> Train(const RoundPlan& plan, std::span<const double> global,
                                             const Quantizer* quantizer) = 0;
};

// Trains on rows held in memory (tests, benchmarks, the simulator's baseline): TrainContribution.
class TableTrainer final : public SiteTrainer {
 public:
  TableTrainer(table::Table rows, base::RandomSource& rng) : rows_(std::move(rows)), rng_(rng) {}
  absl::StatusOr<Contribution> Train(const RoundPlan& plan, std::span<const double> global,
                                     const Quantizer* quantizer) override {
    return TrainContribution(plan, global, rows_, quantizer, rng_);
  }

 private:
  table::Table rows_;
  base::RandomSource& rng_;
};

struct ClientOptions {
  std::string coordinator;  // HOST:PORT
  // The site's certificates and key (certs.h LoadCredentials): its identity in secure aggregation, and its
  // TLS client certificate unless insecure.
  const Credentials* credentials = nullptr;
  bool insecure = false;  // plaintext transport (local tests only)
  TransportOptions transport;
  // Stop after this long without reaching the coordinator.
  absl::Duration give_up = absl::Minutes(5);
  // The smallest secure-aggregation quorum the site accepts (a round asking for less is refused).
  uint32_t min_cohort = 3;
  SiteTrainer* trainer = nullptr;
  // Secure-aggregation keys and masks: crypto::SecureRandom() (never a seeded source in production).
  base::RandomSource* rng = nullptr;
  std::function<void(const std::string&)> log;
  // Called after each answer is submitted (tests: to make a site vanish mid-round at a known point);
  // returning false stops RunClient at once with Cancelled, as if the process died. May be empty.
  std::function<bool(uint64_t round, wire::Phase phase)> on_submitted;
};

struct ClientPhaseReport {
  std::string name;
  double seconds = 0;  // from receiving the task to the coordinator's acknowledgement
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

struct ClientRoundReport {
  int64_t round = 0;
  bool completed = false;  // the coordinator reported the round aggregated with this site (RoundOver)
  bool aborted = false;
  std::string reason;
  std::vector<ClientPhaseReport> phases;
  nlohmann::ordered_json ToJson() const;
};

struct ClientReport {
  std::vector<ClientRoundReport> rounds;
  std::vector<double> final_model;  // empty if the run did not finish
  bool finished = false;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

// Runs until the coordinator says the run is finished. Errors: Unavailable after give_up without the
// coordinator; PermissionDenied / FailedPrecondition when the coordinator refuses the site (Join); the
// trainer's refusal (PermissionDenied, ResourceExhausted: the gate) ends the run too, since the site's data
// may not be used.
absl::StatusOr<ClientReport> RunClient(const ClientOptions& options);

}  // namespace veil::fl

#endif  // VEIL_FL_CLIENT_H_
