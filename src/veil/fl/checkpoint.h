// Coordinator checkpoints (issue 10 item 6): after every round the coordinator writes the state a restart
// needs to continue exactly where it stopped: the next round, the global model, the server optimizer's
// state (strategy.h), the DP-FedAvg state (clip norm and round count; the accountant is recomputed from
// them, dp_fedavg.h), the test RNG's position when the run is seeded, and the reports of the rounds so far.
//
// File DIR/coordinator.ckpt, written atomically (base::Env::WriteFileAtomically: temporary file, fsync,
// rename, fsync of the directory), so a `kill -9` at any moment leaves the previous or the new checkpoint,
// never a torn one. Layout: "VFLCKPT1", then little-endian fields (u64 lengths before byte strings; model
// parameters as IEEE-754 bit patterns, so they come back bit for bit), then the SHA-256 of all preceding
// bytes.
//
// Thread safety: functions are reentrant; callers serialise writes to one directory.
#ifndef VEIL_FL_CHECKPOINT_H_
#define VEIL_FL_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/env.h"

namespace veil::fl {

struct CoordinatorCheckpoint {
  std::string config_digest;  // CoordinatorConfig::digest of the run that wrote it
  uint64_t next_round = 0;    // rounds finished (completed or aborted)
  std::vector<double> model;
  std::string strategy_state;
  std::string dp_state;      // empty without central DP
  std::string rng_state;     // empty unless the run is seeded (tests)
  std::string history_json;  // a JSON array of the round reports so far
};

// DIR/coordinator.ckpt.
std::string CheckpointPath(const std::string& dir);

// Creates DIR if needed and replaces the checkpoint atomically. Errors: the Env's.
absl::Status WriteCheckpoint(base::Env& env, const std::string& dir, const CoordinatorCheckpoint& checkpoint);

// nullopt if DIR holds no checkpoint. Errors: DataLoss for a damaged file (naming what); the Env's.
absl::StatusOr<std::optional<CoordinatorCheckpoint>> ReadCheckpoint(base::Env& env, const std::string& dir);

}  // namespace veil::fl

#endif  // VEIL_FL_CHECKPOINT_H_
