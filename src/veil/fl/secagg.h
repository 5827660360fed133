// Secure aggregation: the server learns the sum of the clients' vectors in Z_{2^32} and nothing else, even
// when clients drop out (Bonawitz, Ivanov, Kreuter, Marcedone, McMahan, Patel, Ramage, Segal, Seth,
// "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017, Figure 4; with the sparse
// neighbour graph of SecAgg+: Bell, Bonawitz, Gascon, Lepoint, Raykova, CCS 2020). Transport-free: the client
// and server are state machines that consume and produce the message structs of messages.h.
//
// Rounds (U1 >= U2 >= U3 >= U4 are the clients still present at each step; N(u) are u's neighbours in the
// graph, graph.h):
//   0 AdvertiseKeys: each client draws two X25519 key pairs, c (share encryption) and s (masking), and signs
//     (round id, client id, c_pk, s_pk) with its long-term Ed25519 identity key. Identity public keys are
//     known to everyone in advance (bound to the clients' TLS certificates by the deployment), so the server
//     cannot forge or substitute keys: every client verifies the signatures of its own and its neighbours'
//     entries in the KeyDirectory (the only keys it uses; all entries with the complete graph) and aborts
//     on any failure. The server also verifies them, to reject garbage early.
//   1 ShareKeys: client u draws a self-mask seed b_u (32 bytes) and Shamir-shares b_u and s_sk_u t-of-|N(u) ∩
//   U1|
//     among its neighbours (x = recipient id + 1). The pair of shares for v is encrypted with AES-256-GCM
//     under K = HKDF-SHA-256(X25519(c_sk_u, c_pk_v), info = "veil fl secagg share v1" || round || u || v),
//     a single-use key per (round, sender, recipient), so a zero nonce is safe; the associated data repeats
//     (version, round, sender, recipient), so a share cannot be replayed to another pair or round.
//   2 MaskedInput: y_u = x_u + PRG(b_u) + sum_{v in N(u) ∩ U2, v > u} PRG(s_uv) - sum_{v in N(u) ∩ U2, v < u}
//     PRG(s_uv) (mod 2^32), s_uv = HKDF(X25519(s_sk_u, s_pk_v), info = "veil fl secagg mask v1" || round ||
//     min(u,v) || max(u,v)); PRG is the AES-256-CTR expansion of mask_prg.h.
//   3 Unmasking: the server announces U3 (survivors) and U2 \ U3 (dropped). Each client reveals, for each
//     neighbour that shared with it, the b-share if the neighbour survived and the s-share if it dropped: it
//     answers only one request per round and refuses a request that lists a client as both, so it never
//     reveals both secrets of one peer. The server reconstructs b_u for u in U3 and s_sk_u for u in U2 \ U3
//     (checked against the advertised s_pk_u), removes the masks, and outputs sum_{u in U3} x_u.
// The server aborts (status FailedPrecondition, "aborted: ...") whenever fewer than min_clients remain at a
// step or a needed secret has fewer than `threshold` shares; an aborted server never outputs a sum.
//
// Threat model (docs/fl.md): semi-honest server colluding with fewer than `threshold` of any client's
// neighbours learns only the sum of >= min_clients inputs. An active server cannot substitute keys
// (signatures), cannot read or alter shares (AEAD), and cannot obtain both secrets of a client from one
// honest client; with 2 * threshold > degree it cannot collect `threshold` shares of both secrets of an
// honest client from honest neighbours by telling different clients different stories. The consistency
// round of Bonawitz et al. (signatures over U3, round 2.5) is not implemented yet (docs/fl.md lists it).
//
// Thread safety: a client or server object is not thread-safe; use one per thread or serialise calls.
#ifndef VEIL_FL_SECAGG_H_
#define VEIL_FL_SECAGG_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/ed25519.h"
#include "veil/crypto/x25519.h"
#include "veil/fl/graph.h"
#include "veil/fl/messages.h"

namespace veil::fl {

struct SecAggConfig {
  uint64_t round_id = 0;
  // Clients have ids 0 .. num_clients - 1. In [3, kSecAggMaxClients].
  uint32_t num_clients = 0;
  // The ring Z_{2^ring_bits} of the inputs, masks and sum, in [kSecAggMinRingBits, 32]. Inputs are reduced
  // mod 2^ring_bits (a two's-complement encoding keeps its meaning modulo 2^ring_bits; decode the sum with a
  // Quantizer created with the same ring_bits). Smaller rings send fewer bytes (MaskedInput packs ring_bits
  // per coordinate): 24 bits cost 3/4 of a float32 upload.
  uint32_t ring_bits = 32;
  // Length of every input vector, in [1, kSecAggMaxVectorLength].
  uint32_t vector_length = 0;
  // Shamir threshold t: shares needed to reconstruct a client's secret, among its neighbours.
  // Requires degree / 2 < t <= degree for kActive, 1 <= t <= degree for kSemiHonest (graph.h).
  SecAggThreatModel threat_model = SecAggThreatModel::kActive;
  uint32_t threshold = 0;
  // Quorum: the round aborts when fewer clients remain at any step. In [threshold, num_clients]; a sum is
  // never over fewer than min_clients inputs.
  uint32_t min_clients = 0;
  // 0: complete graph (degree num_clients - 1). Otherwise the even degree k of the SecAgg+ Harary graph.
  uint32_t degree = 0;
  // Public seed of the SecAgg+ graph (ignored for the complete graph). It is fixed in the configuration,
  // which every client holds before round 0, so the graph is fixed before any of the round's keys exist:
  // the server cannot choose it after seeing them. It can still pick it knowing the clients' identities;
  // a deployment should derive it from public randomness the server cannot bias (e.g. a beacon value, or
  // a hash of commitments from the clients of the previous round). docs/fl.md discusses deriving it from
  // the KeyDirectory instead, and why this library does not (grinding by excluding clients).
  std::array<uint8_t, 32> graph_seed{};
};

// What every party of a round shares: the validated configuration, the neighbour graph and the clients'
// identity public keys (index = client id).
class SecAggSetup {
 public:
  // Errors: InvalidArgument for a configuration outside the documented ranges or an identity list whose
  // size is not num_clients.
  static absl::StatusOr<std::shared_ptr<const SecAggSetup>> Create(
      const SecAggConfig& config, std::vector<crypto::Ed25519PublicKey> identities);

  const SecAggConfig& config() const { return config_; }
  const NeighbourGraph& graph() const { return graph_; }
  const crypto::Ed25519PublicKey& identity(uint32_t id) const { return identities_[id]; }
  // Degree of the graph (num_clients - 1 for the complete graph).
  uint32_t degree() const { return graph_.degree(); }

 private:
  SecAggSetup(const SecAggConfig& c, NeighbourGraph g, std::vector<crypto::Ed25519PublicKey> ids)
      : config_(c), graph_(std::move(g)), identities_(std::move(ids)) {}
  SecAggConfig config_;
  NeighbourGraph graph_;
  std::vector<crypto::Ed25519PublicKey> identities_;
};

class SecAggClient {
 public:
  // `rng` must outlive the client (crypto::SecureRandom() in production). Errors: InvalidArgument if
  // client_id is out of range or the identity key does not match setup's identity for client_id.
  static absl::StatusOr<std::unique_ptr<SecAggClient>> Create(std::shared_ptr<const SecAggSetup> setup,
                                                              uint32_t client_id,
                                                              crypto::Ed25519PrivateKey identity,
                                                              base::RandomSource& rng);

  // Round 0. Errors: FailedPrecondition if called out of order.
  absl::StatusOr<AdvertiseKeys> Advertise();
  // Round 1. Errors: PermissionDenied if any signature fails or the directory lists the client's own keys
  // altered ("key substitution"); InvalidArgument for a wrong round, ids out of range or unsorted;
  // FailedPrecondition ("aborted: ...") if fewer than min_clients are listed or fewer than threshold
  // neighbours remain; FailedPrecondition if called out of order.
  absl::StatusOr<ShareKeys> ShareKeysRound(const KeyDirectory& directory);
  // Round 2: masks `input` (vector_length words, already quantized, plus any DP noise).
  // Errors: DataLoss if a share fails authentication or names the wrong pair; InvalidArgument for a bundle
  // that is inconsistent (wrong recipient or round, U2 not a subset of U1 or missing this client, a share
  // missing from or not expected of a neighbour in U2, wrong input length); FailedPrecondition as above.
  absl::StatusOr<MaskedInput> MaskInput(const ShareBundle& bundle, std::span<const uint32_t> input);
  // Round 2.5 (consistency check): checks the server's survivor list and signs it. Signs at most one request
  // per round. Errors: PermissionDenied if the request lists a client as both survivor and dropped, lists
  // this client as dropped, does not partition U2, or is a second request ("refusing to sign ...");
  // FailedPrecondition if fewer than min_clients survive or called out of order; InvalidArgument for a
  // wrong round.
  absl::StatusOr<SurvivorSignature> SignSurvivors(const UnmaskRequest& request);
  // Round 3: reveals shares only if `proof` repeats exactly the request this client signed and carries
  // valid signatures over it from at least `threshold` of this client's neighbours among the survivors
  // (Bonawitz et al.'s check that at least t clients saw the same survivor set). Answers once.
  // Errors: PermissionDenied ("consistency check failed: ...") if the proof names another survivor set
  // (equivocation), holds an invalid signature, a signer that is not a survivor, or too few neighbour
  // signatures; PermissionDenied for a second call; FailedPrecondition if called before SignSurvivors;
  // InvalidArgument for a wrong round.
  absl::StatusOr<UnmaskResponse> Unmask(const ConsistencyProof& proof);

  uint32_t id() const { return id_; }

 private:
  enum class State { kAdvertise, kShareKeys, kMaskInput, kConsistency, kUnmask, kDone, kFailed };
  struct Peer {
    crypto::X25519PublicKey c_pk;
    crypto::X25519PublicKey s_pk;
    // Derived in round 1 (they do not depend on the input), so that round 2 only decrypts and expands.
    base::SecretBytes receive_key;  // AEAD key for the shares this peer sends us
    base::SecretBytes pair_seed;    // s_uv
  };
  SecAggClient(std::shared_ptr<const SecAggSetup> setup, uint32_t id, crypto::Ed25519PrivateKey identity,
               base::RandomSource& rng)
      : setup_(std::move(setup)), id_(id), identity_(std::move(identity)), rng_(rng) {}
  absl::Status Fail(absl::Status s) {
    state_ = State::kFailed;
    return s;
  }

  std::shared_ptr<const SecAggSetup> setup_;
  uint32_t id_;
  crypto::Ed25519PrivateKey identity_;
  base::RandomSource& rng_;
  State state_ = State::kAdvertise;
  std::optional<crypto::X25519KeyPair> c_;
  std::optional<crypto::X25519KeyPair> s_;
  base::SecretBytes b_;
  absl::flat_hash_map<uint32_t, Peer> peers_;  // neighbours in U1
  std::vector<uint32_t> u2_;
  UnmaskRequest signed_request_;  // the one survivor list this client signed
  // Shares received in round 2 from neighbours in U2: owner -> (b-share, s-share).
  absl::flat_hash_map<uint32_t, std::pair<base::SecretBytes, base::SecretBytes>> held_;
};

struct SecAggResult {
  std::vector<uint32_t> sum;       // sum of the inputs of `included` (mod 2^32)
  std::vector<uint32_t> included;  // U3: clients whose inputs are in the sum
  std::vector<uint32_t> dropped;   // U2 \ U3: clients whose masks were removed
};

class SecAggServer {
 public:
  explicit SecAggServer(std::shared_ptr<const SecAggSetup> setup);

  // Each Receive* validates the message against the round so far (ids, round, signature, sizes,
  // duplicates) and returns InvalidArgument / PermissionDenied without changing state if it is bad; the
  // caller drops such a client. Messages after the phase closed: FailedPrecondition.
  absl::Status ReceiveAdvertise(const AdvertiseKeys& m);
  absl::StatusOr<KeyDirectory> FinishAdvertise();
  absl::Status ReceiveShareKeys(const ShareKeys& m);
  // Bundles for every client of U2, indexed like u2 (sorted by recipient).
  absl::StatusOr<std::vector<ShareBundle>> FinishShareKeys();
  absl::Status ReceiveMaskedInput(const MaskedInput& m);
  absl::StatusOr<UnmaskRequest> FinishMaskedInput();
  // Round 2.5: verifies the client's signature over the request it was sent. Errors: PermissionDenied for
  // a bad signature; InvalidArgument for a client not in U3, a duplicate or another round.
  absl::Status ReceiveSurvivorSignature(const SurvivorSignature& m);
  // The proof sent to every signer. Errors: FailedPrecondition ("aborted: ...") if fewer than min_clients
  // signed.
  absl::StatusOr<ConsistencyProof> FinishConsistency();
  // Only signers may respond.
  absl::Status ReceiveUnmaskResponse(const UnmaskResponse& m);
  // Reconstructs the secrets and removes the masks. Errors: FailedPrecondition ("aborted: ...") if fewer
  // than min_clients responded or a needed secret has fewer than threshold shares; DataLoss if shares are
  // inconsistent or a reconstructed key does not match its advertised public key.
  absl::StatusOr<SecAggResult> FinishUnmasking();

  bool aborted() const { return state_ == State::kAborted; }

 private:
  enum class State { kAdvertise, kShareKeys, kMaskedInput, kConsistency, kUnmask, kDone, kAborted };
  absl::Status Abort(absl::Status s) {
    state_ = State::kAborted;
    return s;
  }
  absl::Status Expect(State s, const char* phase) const;

  std::shared_ptr<const SecAggSetup> setup_;
  State state_ = State::kAdvertise;
  std::vector<std::optional<AdvertiseKeys>> keys_;  // by id (U1 once closed)
  std::vector<uint32_t> u1_, u2_, u3_, u4_;
  std::vector<std::optional<ShareKeys>> share_keys_;  // by sender
  std::vector<bool> masked_received_;
  std::vector<uint32_t> sum_;
  UnmaskRequest request_;
  std::vector<std::optional<crypto::Ed25519Signature>> survivor_signatures_;  // by signer
  std::vector<uint32_t> signers_;
  std::vector<std::optional<UnmaskResponse>> responses_;  // by responder
};

namespace internal {
// The pairwise mask seeds s_{u,v} = HKDF-SHA-256(X25519(s_sk_u, s_pk_v), info = "veil fl secagg mask v1" ||
// version || round || min(u, v) || max(u, v)) of client u (private masking key own_s_sk) with each peer
// (peers[i] is the masking public key of client peer_ids[i]), written to out[i] (out is resized; its
// elements' storage is reused). Used by both sides. Errors: InvalidArgument if the spans differ in length;
// the X25519/HKDF errors (e.g. a low-order public key).
absl::Status PairSeeds(const base::SecretBytes& own_s_sk, uint32_t own_id,
                       std::span<const crypto::X25519PublicKey* const> peers,
                       std::span<const uint32_t> peer_ids, uint64_t round,
                       std::vector<base::SecretBytes>& out);
}  // namespace internal

}  // namespace veil::fl

#endif  // VEIL_FL_SECAGG_H_
