// Test and benchmark helper: runs a whole secure-aggregation round in memory, with dropouts at chosen phases.
#ifndef VEIL_FL_SECAGG_TEST_UTIL_H_
#define VEIL_FL_SECAGG_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/ed25519.h"
#include "veil/fl/secagg.h"

namespace veil::fl::testing {

// Clients that stop responding before the given phase (ids).
struct Dropouts {
  absl::flat_hash_set<uint32_t> before_advertise, before_share_keys, before_masked_input, before_consistency,
      before_unmask;
};

struct Cohort {
  std::shared_ptr<const SecAggSetup> setup;
  std::vector<std::unique_ptr<SecAggClient>> clients;
};

// Identity keys and clients drawn from `rng`.
inline absl::StatusOr<Cohort> MakeCohort(const SecAggConfig& config, base::RandomSource& rng) {
  std::vector<crypto::Ed25519PrivateKey> keys;
  std::vector<crypto::Ed25519PublicKey> pubs;
  for (uint32_t i = 0; i < config.num_clients; ++i) {
    VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey k, crypto::Ed25519PrivateKey::Generate(rng));
    pubs.push_back(k.public_key());
    keys.push_back(std::move(k));
  }
  Cohort c;
  VEIL_ASSIGN_OR_RETURN(c.setup, SecAggSetup::Create(config, pubs));
  for (uint32_t i = 0; i < config.num_clients; ++i) {
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<SecAggClient> client,
                          SecAggClient::Create(c.setup, i, std::move(keys[i]), rng));
    c.clients.push_back(std::move(client));
  }
  return c;
}

// Runs the round honestly; returns the server's result or its abort status.
inline absl::StatusOr<SecAggResult> RunRound(Cohort& cohort, const std::vector<std::vector<uint32_t>>& inputs,
                                             const Dropouts& drop) {
  SecAggServer server(cohort.setup);
  const uint32_t n = cohort.setup->config().num_clients;
  for (uint32_t i = 0; i < n; ++i) {
    if (drop.before_advertise.contains(i)) continue;
    VEIL_ASSIGN_OR_RETURN(AdvertiseKeys m, cohort.clients[i]->Advertise());
    VEIL_RETURN_IF_ERROR(server.ReceiveAdvertise(m));
  }
  VEIL_ASSIGN_OR_RETURN(KeyDirectory dir, server.FinishAdvertise());
  for (const AdvertiseKeys& a : dir.clients) {
    if (drop.before_share_keys.contains(a.client_id)) continue;
    VEIL_ASSIGN_OR_RETURN(ShareKeys m, cohort.clients[a.client_id]->ShareKeysRound(dir));
    VEIL_RETURN_IF_ERROR(server.ReceiveShareKeys(m));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<ShareBundle> bundles, server.FinishShareKeys());
  for (const ShareBundle& b : bundles) {
    if (drop.before_masked_input.contains(b.recipient)) continue;
    VEIL_ASSIGN_OR_RETURN(MaskedInput m, cohort.clients[b.recipient]->MaskInput(b, inputs[b.recipient]));
    VEIL_RETURN_IF_ERROR(server.ReceiveMaskedInput(m));
  }
  VEIL_ASSIGN_OR_RETURN(UnmaskRequest req, server.FinishMaskedInput());
  for (uint32_t u : req.survivors) {
    if (drop.before_consistency.contains(u)) continue;
    VEIL_ASSIGN_OR_RETURN(SurvivorSignature s, cohort.clients[u]->SignSurvivors(req));
    VEIL_RETURN_IF_ERROR(server.ReceiveSurvivorSignature(s));
  }
  VEIL_ASSIGN_OR_RETURN(ConsistencyProof proof, server.FinishConsistency());
  for (const SignerSignature& s : proof.signatures) {
    const uint32_t u = s.client_id;
    if (drop.before_unmask.contains(u)) continue;
    VEIL_ASSIGN_OR_RETURN(UnmaskResponse r, cohort.clients[u]->Unmask(proof));
    VEIL_RETURN_IF_ERROR(server.ReceiveUnmaskResponse(r));
  }
  return server.FinishUnmasking();
}

}  // namespace veil::fl::testing

#endif  // VEIL_FL_SECAGG_TEST_UTIL_H_
