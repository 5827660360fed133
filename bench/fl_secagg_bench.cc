// Secure aggregation (src/veil/fl/secagg.h) at the sizes of issue 10: 100 clients with 100,000-parameter
// updates and 30% of them dropping after ShareKeys (complete graph and SecAgg+ graph), and 500 clients with
// the SecAgg+ graph. Prints, beside an in-run baseline (plain summation of the same updates):
//   - coordinator unmasking time (receiving the unmask responses, reconstructing the secrets, removing the
//     masks; one thread), target <= 0.5 s at 100 clients, <= 1 s at 500 clients with the sparse graph;
//   - client masking time (MaskInput: decrypting shares, key agreements, mask expansion), target <= 20 ms;
//   - bytes per client (everything it sends and receives, encoded) against plain FedAvg (float32 update
//     upload), target <= 1.05x at 100 clients.
// Medians over --runs rounds (default 3). Usage: fl_secagg_bench [--runs N] [--quick]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/x25519.h"
#include "veil/fl/graph.h"
#include "veil/fl/mask_prg.h"
#include "veil/fl/messages.h"
#include "veil/fl/secagg.h"
#include "veil/fl/shamir.h"

namespace veil::fl {
namespace {

using bench::Clock;
using bench::Median;
using bench::SecondsSince;

struct Figures {
  double unmask_s = 0, finish_s = 0, mask_ms = 0, baseline_s = 0;
  double bytes_per_client = 0;
  bool exact = false;
};

absl::StatusOr<Figures> OneRound(uint32_t n, uint32_t d, uint32_t degree, uint32_t threshold,
                                 uint64_t round) {
  base::RandomSource& rng = crypto::SecureRandom();
  SecAggConfig cfg;
  cfg.round_id = round;
  cfg.num_clients = n;
  cfg.vector_length = d;
  cfg.threshold = threshold;
  cfg.min_clients = threshold;
  cfg.degree = degree;
  for (size_t i = 0; i < 32; ++i) cfg.graph_seed[i] = static_cast<uint8_t>(round * 31 + i);
  std::vector<crypto::Ed25519PrivateKey> keys;
  std::vector<crypto::Ed25519PublicKey> pubs;
  for (uint32_t i = 0; i < n; ++i) {
    VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey k, crypto::Ed25519PrivateKey::Generate(rng));
    pubs.push_back(k.public_key());
    keys.push_back(std::move(k));
  }
  VEIL_ASSIGN_OR_RETURN(auto setup, SecAggSetup::Create(cfg, pubs));
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (uint32_t i = 0; i < n; ++i) {
    VEIL_ASSIGN_OR_RETURN(auto c, SecAggClient::Create(setup, i, std::move(keys[i]), rng));
    clients.push_back(std::move(c));
  }
  // Inputs: quantized updates (any words; the protocol is exact in Z_2^32).
  bench::DataRandom data(round);
  std::vector<std::vector<uint32_t>> x(n, std::vector<uint32_t>(d));
  for (auto& v : x)
    for (uint32_t& w : v) w = static_cast<uint32_t>(data.Next());
  // 30% drop after ShareKeys: every third-ish client, spread over the id range.
  std::vector<bool> drops(n, false);
  const uint32_t num_drop = n * 3 / 10;
  for (uint32_t j = 0; j < num_drop; ++j) drops[(j * 10 + 3) / 3 % n] = true;
  for (uint32_t j = 0, c = 0; c < num_drop && j < n; ++j) c += drops[j];

  std::vector<double> bytes(n, 0);
  SecAggServer server(setup);
  for (uint32_t i = 0; i < n; ++i) {
    VEIL_ASSIGN_OR_RETURN(AdvertiseKeys a, clients[i]->Advertise());
    bytes[i] += Serialize(a).size();
    VEIL_RETURN_IF_ERROR(server.ReceiveAdvertise(a));
  }
  VEIL_ASSIGN_OR_RETURN(KeyDirectory dir, server.FinishAdvertise());
  for (uint32_t i = 0; i < n; ++i) {
    // With a sparse graph the transport sends each client only its neighbours' entries (and its own).
    KeyDirectory mine{dir.round_id, {}};
    for (const AdvertiseKeys& a : dir.clients) {
      if (a.client_id == i || setup->graph().Adjacent(i, a.client_id)) mine.clients.push_back(a);
    }
    bytes[i] += Serialize(mine).size();
    VEIL_ASSIGN_OR_RETURN(ShareKeys s, clients[i]->ShareKeysRound(mine));
    bytes[i] += Serialize(s).size();
    VEIL_RETURN_IF_ERROR(server.ReceiveShareKeys(s));
  }
  VEIL_ASSIGN_OR_RETURN(std::vector<ShareBundle> bundles, server.FinishShareKeys());
  std::vector<double> mask_times;
  for (const ShareBundle& b : bundles) {
    bytes[b.recipient] += Serialize(b).size();
    if (drops[b.recipient]) continue;
    const auto start = Clock::now();
    VEIL_ASSIGN_OR_RETURN(MaskedInput m, clients[b.recipient]->MaskInput(b, x[b.recipient]));
    mask_times.push_back(SecondsSince(start) * 1e3);
    bytes[b.recipient] += Serialize(m).size();
    VEIL_RETURN_IF_ERROR(server.ReceiveMaskedInput(m));
  }
  VEIL_ASSIGN_OR_RETURN(UnmaskRequest req, server.FinishMaskedInput());
  for (uint32_t u : req.survivors) {
    bytes[u] += Serialize(req).size();
    VEIL_ASSIGN_OR_RETURN(SurvivorSignature sig, clients[u]->SignSurvivors(req));
    bytes[u] += Serialize(sig).size();
    VEIL_RETURN_IF_ERROR(server.ReceiveSurvivorSignature(sig));
  }
  VEIL_ASSIGN_OR_RETURN(ConsistencyProof proof, server.FinishConsistency());
  std::vector<UnmaskResponse> responses;
  for (uint32_t u : req.survivors) {
    bytes[u] += Serialize(proof).size();
    VEIL_ASSIGN_OR_RETURN(UnmaskResponse r, clients[u]->Unmask(proof));
    bytes[u] += Serialize(r).size();
    responses.push_back(std::move(r));
  }
  const auto start = Clock::now();
  for (const UnmaskResponse& r : responses) VEIL_RETURN_IF_ERROR(server.ReceiveUnmaskResponse(r));
  const auto finish_start = Clock::now();
  VEIL_ASSIGN_OR_RETURN(SecAggResult result, server.FinishUnmasking());
  Figures f;
  f.finish_s = SecondsSince(finish_start);
  f.unmask_s = SecondsSince(start);
  f.mask_ms = Median(mask_times);
  // Baseline: plain summation of the surviving updates (what a FedAvg server does).
  const auto base_start = Clock::now();
  std::vector<uint32_t> plain(d, 0);
  for (uint32_t u : req.survivors)
    for (uint32_t i = 0; i < d; ++i) plain[i] += x[u][i];
  f.baseline_s = SecondsSince(base_start);
  f.exact = plain == result.sum;
  std::vector<double> survivor_bytes;
  for (uint32_t u : req.survivors) survivor_bytes.push_back(bytes[u]);
  f.bytes_per_client = Median(survivor_bytes);
  return f;
}

// Costs of the server's building blocks at the 100-client sizes, to see where unmasking time goes.
absl::Status Micro(uint32_t d) {
  base::RandomSource& rng = crypto::SecureRandom();
  constexpr int kPairs = 210;
  VEIL_ASSIGN_OR_RETURN(crypto::X25519KeyPair own, crypto::GenerateX25519KeyPair(rng));
  std::vector<crypto::X25519PublicKey> pks;
  std::vector<const crypto::X25519PublicKey*> ptrs;
  std::vector<uint32_t> ids;
  for (int i = 0; i < kPairs; ++i) {
    VEIL_ASSIGN_OR_RETURN(crypto::X25519KeyPair p, crypto::GenerateX25519KeyPair(rng));
    pks.push_back(p.public_key);
    ids.push_back(i + 1);
  }
  for (auto& p : pks) ptrs.push_back(&p);
  std::vector<base::SecretBytes> seeds;
  auto start = Clock::now();
  VEIL_RETURN_IF_ERROR(internal::PairSeeds(own.private_key, 0, ptrs, ids, 1, seeds));
  const double pair_us = SecondsSince(start) / kPairs * 1e6;
  std::vector<uint32_t> acc(d, 0);
  std::vector<SignedSeed> signed_seeds;
  for (int i = 0; i < 70; ++i) signed_seeds.push_back(SignedSeed{&seeds[i], (i & 1) != 0});
  MaskExpander expander;
  start = Clock::now();
  VEIL_RETURN_IF_ERROR(expander.AddMasks(signed_seeds, acc));
  const double expand_ms = SecondsSince(start) * 1e3;
  start = Clock::now();
  for (int i = 0; i < 70; ++i) VEIL_RETURN_IF_ERROR(AddMask(seeds[i], acc, (i & 1) != 0));
  const double one_by_one_ms = SecondsSince(start) * 1e3;
  std::vector<uint32_t> xs;
  for (uint32_t i = 1; i <= 70; ++i) xs.push_back(i);
  VEIL_ASSIGN_OR_RETURN(auto shares, ShamirSplit(seeds[0].span(), 51, xs, rng));
  start = Clock::now();
  for (int i = 0; i < 10; ++i) VEIL_RETURN_IF_ERROR(ShamirReconstruct(shares, 51, 32).status());
  const double shamir_ms = SecondsSince(start) / 10 * 1e3;
  std::printf(
      "building blocks: pair seed (X25519 + HKDF) %.1f us; 70 masks of %u words in one pass %.1f ms (%.2f "
      "GB/s of keystream), one seed at a time %.1f ms; Shamir reconstruct from 70 shares, t = 51: %.2f "
      "ms\n\n",
      pair_us, d, expand_ms, 70.0 * d * 4 / (expand_ms * 1e6), one_by_one_ms, shamir_ms);
  return absl::OkStatus();
}

int Run(int runs, bool quick) {
  struct Scenario {
    const char* name;
    uint32_t n, degree, threshold;
  };
  const uint32_t d = quick ? 10000 : 100000;
  if (absl::Status st = Micro(d); !st.ok()) {
    std::printf("building blocks: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::vector<Scenario> scenarios;
  scenarios.push_back({"100 clients, complete graph", 100, 0, 51});
  auto p100 = ChooseSecAggPlusParameters(100, 0.3, 1.0 / 3, 20, 40);
  auto p500 = ChooseSecAggPlusParameters(500, 0.3, 1.0 / 3, 20, 40);
  if (std::getenv("FL_MICRO_ONLY") != nullptr) return 0;
  if (p100.ok()) {
    std::printf(
        "SecAgg+ n=100: k=%u t=%u (log2 P[correctness failure] <= %.1f, log2 P[security failure] <= %.1f)\n",
        p100->degree, p100->threshold, p100->log2_correctness_failure, p100->log2_security_failure);
    scenarios.push_back({"100 clients, SecAgg+ graph", 100, p100->degree, p100->threshold});
  } else {
    std::printf("SecAgg+ n=100: %s\n", std::string(p100.status().message()).c_str());
  }
  if (!p500.ok()) {
    std::printf("SecAgg+ n=500: %s\n", std::string(p500.status().message()).c_str());
    return 1;
  }
  std::printf(
      "SecAgg+ n=500: k=%u t=%u (log2 P[correctness failure] <= %.1f, log2 P[security failure] <= %.1f)\n",
      p500->degree, p500->threshold, p500->log2_correctness_failure, p500->log2_security_failure);
  scenarios.push_back({"500 clients, SecAgg+ graph", 500, p500->degree, p500->threshold});
  std::printf("%u parameters, 30%% of clients drop after ShareKeys, %d runs (medians)\n\n", d, runs);
  for (const Scenario& s : scenarios) {
    std::vector<double> unmask, finish, mask, base, bytes;
    bool exact = true;
    for (int r = 0; r < runs; ++r) {
      auto f = OneRound(s.n, d, s.degree, s.threshold, 1000 + r);
      if (!f.ok()) {
        std::printf("%s: %s\n", s.name, std::string(f.status().message()).c_str());
        return 1;
      }
      unmask.push_back(f->unmask_s);
      finish.push_back(f->finish_s);
      mask.push_back(f->mask_ms);
      base.push_back(f->baseline_s);
      bytes.push_back(f->bytes_per_client);
      exact &= f->exact;
    }
    const double plain_bytes = 4.0 * d;
    std::printf("%s (degree %u, t = %u): sum exact: %s\n", s.name, s.degree == 0 ? s.n - 1 : s.degree,
                s.threshold, exact ? "yes" : "NO");
    std::printf("  coordinator unmasking   %8.3f s  (reconstruct+unmask %.3f s; runs %s)\n", Median(unmask),
                Median(finish), bench::Join(unmask).c_str());
    std::printf("  baseline plain sum      %8.4f s  -> ratio %.0fx\n", Median(base),
                Median(unmask) / Median(base));
    std::printf("  client masking (median) %8.2f ms (runs %s)\n", Median(mask), bench::Join(mask, 2).c_str());
    std::printf(
        "  bytes per client        %8.0f B  vs plain FedAvg upload %.0f B -> %.3fx; vs FedAvg "
        "upload+download "
        "%.0f B -> %.3fx\n\n",
        Median(bytes), plain_bytes, Median(bytes) / plain_bytes, 2 * plain_bytes,
        (Median(bytes) + plain_bytes) / (2 * plain_bytes));
  }
  return 0;
}

}  // namespace
}  // namespace veil::fl

int main(int argc, char** argv) {
  int runs = 3;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  }
  return veil::fl::Run(runs < 1 ? 1 : runs, quick);
}
