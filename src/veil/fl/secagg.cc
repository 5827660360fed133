#include "veil/fl/secagg.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/aead.h"
#include "veil/crypto/hmac.h"
#include "veil/crypto/random.h"
#include "veil/fl/mask_prg.h"
#include "veil/fl/shamir.h"

namespace veil::fl {
namespace {

constexpr std::string_view kShareKeyLabel = "veil fl secagg share v1";
constexpr std::string_view kMaskSeedLabel = "veil fl secagg mask v1";
constexpr std::string_view kShareAadLabel = "veil fl secagg share aad v1";

std::vector<uint8_t> Context(std::string_view label, uint64_t round, uint32_t a, uint32_t b) {
  std::vector<uint8_t> out(label.begin(), label.end());
  out.push_back(kSecAggWireVersion);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(round >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(a >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(b >> (8 * i)));
  return out;
}

const std::array<uint8_t, crypto::kAes256GcmNonceSize>& ZeroNonce() {
  static const std::array<uint8_t, crypto::kAes256GcmNonceSize> zero{};
  return zero;
}

absl::Status CheckSortedUnique(std::span<const uint32_t> ids, uint32_t n, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= n)
      return absl::InvalidArgumentError(absl::StrCat(what, ": client id ", ids[i], " out of range"));
    if (i > 0 && ids[i] <= ids[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ids not sorted and unique"));
    }
  }
  return absl::OkStatus();
}

bool Contains(std::span<const uint32_t> sorted, uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// x mod 2^bits for every word: reduction mod 2^bits is a ring homomorphism from Z_{2^32}, so masks expanded
// and summed mod 2^32 and reduced at the end cancel exactly as in Z_{2^bits}.
void ReduceToRing(std::span<uint32_t> v, uint32_t bits) {
  if (bits >= 32) return;
  const uint32_t mask = (uint32_t{1} << bits) - 1;
  for (uint32_t& w : v) w &= mask;
}

absl::Status TooFew(const char* step, size_t have, uint32_t need) {
  return absl::FailedPreconditionError(
      absl::StrCat("aborted: ", have, " clients remain at ", step, ", fewer than min_clients = ", need));
}

}  // namespace

namespace internal {
namespace {
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
absl::Status SeedError(const char* what) {
  return absl::InternalError(absl::StrCat("secagg: pair seeds: OpenSSL ", what, " failed"));
}
}  // namespace

// HKDF-SHA-256(X25519(own_sk, peers[i]), salt = empty, info_of(i, j)) for j < per_peer, into
// out[i * per_peer + j]: the same values as crypto::X25519 + crypto::HkdfSha256 (RFC 5869 with an empty salt:
// PRK = HMAC(0^32, Z), OKM = HMAC(PRK, info || 0x01)), with the private key loaded once (raw EVP: the generic
// crypto::X25519 imports it, and so recomputes its public key, on every call) and one HMAC-SHA-256 hasher
// reused for both HKDF steps. The test PairSeedsMatchTheGenericDerivation checks the equality.
template <typename InfoOf>
absl::Status X25519HkdfBatch(const base::SecretBytes& own_sk,
                             std::span<const crypto::X25519PublicKey* const> peers,
                             std::span<const uint32_t> peer_ids, size_t per_peer, InfoOf info_of,
                             std::vector<base::SecretBytes>& out) {
  if (own_sk.size() != crypto::kX25519KeySize)
    return absl::InvalidArgumentError("secagg: key derivation: the private key must be 32 bytes");
  out.resize(peers.size() * per_peer);
  if (peers.empty()) return absl::OkStatus();
  std::unique_ptr<EVP_PKEY, PkeyDeleter> own(
      EVP_PKEY_new_raw_private_key_ex(nullptr, "X25519", nullptr, own_sk.data(), own_sk.size()));
  if (own == nullptr) return SeedError("X25519 private key");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1) return SeedError("X25519 derive init");
  static const std::array<uint8_t, 32> kZeroSalt{};
  crypto::HmacSha256Hasher hmac(kZeroSalt);
  base::SecretBytes shared(32);
  crypto::HmacSha256Tag prk, okm;
  for (size_t i = 0; i < peers.size(); ++i) {
    std::unique_ptr<EVP_PKEY, PkeyDeleter> peer(
        EVP_PKEY_new_raw_public_key_ex(nullptr, "X25519", nullptr, peers[i]->data(), peers[i]->size()));
    if (peer == nullptr) return SeedError("X25519 public key");
    size_t len = shared.size();
    if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("secagg: X25519 with the public key of client ", peer_ids[i], " failed"));
    }
    hmac.Reset(kZeroSalt);  // HKDF-Extract
    hmac.Update(shared.span());
    prk = hmac.Final();
    hmac.Reset(prk);  // HKDF-Expand, one block per output; Final keeps the key for the next j
    for (size_t j = 0; j < per_peer; ++j) {
      std::vector<uint8_t> info = info_of(i, j);
      info.push_back(0x01);
      hmac.Update(info);
      okm = hmac.Final();
      base::SecretBytes& o = out[i * per_peer + j];
      if (o.size() != okm.size()) o = base::SecretBytes(okm.size());
      std::copy(okm.begin(), okm.end(), o.data());
    }
  }
  OPENSSL_cleanse(prk.data(), prk.size());
  OPENSSL_cleanse(okm.data(), okm.size());
  return absl::OkStatus();
}

absl::Status PairSeeds(const base::SecretBytes& own_s_sk, uint32_t own_id,
                       std::span<const crypto::X25519PublicKey* const> peers,
                       std::span<const uint32_t> peer_ids, uint64_t round,
                       std::vector<base::SecretBytes>& out) {
  if (peers.size() != peer_ids.size())
    return absl::InvalidArgumentError("secagg: pair seeds: peer keys and ids differ in number");
  return X25519HkdfBatch(
      own_s_sk, peers, peer_ids, 1,
      [&](size_t i, size_t) {
        return Context(kMaskSeedLabel, round, std::min(own_id, peer_ids[i]), std::max(own_id, peer_ids[i]));
      },
      out);
}
}  // namespace internal

// ---------------------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const SecAggSetup>> SecAggSetup::Create(
    const SecAggConfig& c, std::vector<crypto::Ed25519PublicKey> identities) {
  if (c.num_clients < 3 || c.num_clients > kSecAggMaxClients) {
    return absl::InvalidArgumentError(absl::StrCat("secagg config: num_clients ", c.num_clients,
                                                   " is outside [3, ", kSecAggMaxClients, "]"));
  }
  if (c.vector_length == 0 || c.vector_length > kSecAggMaxVectorLength) {
    return absl::InvalidArgumentError(absl::StrCat("secagg config: vector_length ", c.vector_length,
                                                   " is outside [1, ", kSecAggMaxVectorLength, "]"));
  }
  if (c.ring_bits < kSecAggMinRingBits || c.ring_bits > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg config: ring_bits ", c.ring_bits, " is outside [", kSecAggMinRingBits, ", 32]"));
  }
  if (identities.size() != c.num_clients) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg config: ", identities.size(), " identity keys for ", c.num_clients, " clients"));
  }
  NeighbourGraph graph;
  if (c.degree == 0) {
    VEIL_ASSIGN_OR_RETURN(graph, NeighbourGraph::Complete(c.num_clients));
  } else {
    VEIL_ASSIGN_OR_RETURN(graph, NeighbourGraph::Harary(c.num_clients, c.degree, c.graph_seed));
  }
  const uint32_t k = graph.degree();
  const bool active = c.threat_model == SecAggThreatModel::kActive;
  if (c.threshold == 0 || c.threshold > k || (active && 2 * c.threshold <= k)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg config: threshold ", c.threshold, " must satisfy ",
                     active ? "degree / 2 < threshold <= degree = " : "1 <= threshold <= degree = ", k));
  }
  if (c.min_clients < c.threshold || c.min_clients > c.num_clients) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg config: min_clients ", c.min_clients, " is outside [threshold, num_clients]"));
  }
  return std::shared_ptr<const SecAggSetup>(new SecAggSetup(c, std::move(graph), std::move(identities)));
}

// ---------------------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SecAggClient>> SecAggClient::Create(std::shared_ptr<const SecAggSetup> setup,
                                                                   uint32_t client_id,
                                                                   crypto::Ed25519PrivateKey identity,
                                                                   base::RandomSource& rng) {
  if (setup == nullptr) return absl::InvalidArgumentError("secagg client: no setup");
  if (client_id >= setup->config().num_clients) {
    return absl::InvalidArgumentError(absl::StrCat("secagg client: id ", client_id, " out of range"));
  }
  if (!(identity.public_key() == setup->identity(client_id))) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg client: identity key does not match the registered key of client ", client_id));
  }
  return std::unique_ptr<SecAggClient>(
      new SecAggClient(std::move(setup), client_id, std::move(identity), rng));
}

absl::StatusOr<AdvertiseKeys> SecAggClient::Advertise() {
  if (state_ != State::kAdvertise)
    return absl::FailedPreconditionError("secagg client: Advertise out of order");
  auto c = crypto::GenerateX25519KeyPair(rng_);
  if (!c.ok()) return Fail(c.status());
  auto s = crypto::GenerateX25519KeyPair(rng_);
  if (!s.ok()) return Fail(s.status());
  c_ = std::move(*c);
  s_ = std::move(*s);
  AdvertiseKeys m;
  m.round_id = setup_->config().round_id;
  m.client_id = id_;
  m.c_pk = c_->public_key;
  m.s_pk = s_->public_key;
  auto sig = identity_.Sign(SignedKeyBytes(m.round_id, id_, m.c_pk, m.s_pk));
  if (!sig.ok()) return Fail(sig.status());
  m.signature = *sig;
  state_ = State::kShareKeys;
  return m;
}

absl::StatusOr<ShareKeys> SecAggClient::ShareKeysRound(const KeyDirectory& dir) {
  if (state_ != State::kShareKeys)
    return absl::FailedPreconditionError("secagg client: ShareKeys out of order");
  const SecAggConfig& cfg = setup_->config();
  if (dir.round_id != cfg.round_id) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("secagg client ", id_, ": key directory for another round")));
  }
  std::vector<uint32_t> ids;
  ids.reserve(dir.clients.size());
  for (const AdvertiseKeys& a : dir.clients) ids.push_back(a.client_id);
  if (absl::Status st = CheckSortedUnique(ids, cfg.num_clients, "key directory"); !st.ok()) return Fail(st);
  if (dir.clients.size() < cfg.min_clients)
    return Fail(TooFew("ShareKeys", dir.clients.size(), cfg.min_clients));
  bool self_seen = false;
  peers_.clear();
  for (const AdvertiseKeys& a : dir.clients) {
    // Only this client's and its neighbours' keys are ever used: those are the signatures that matter (with
    // the complete graph, all of them). Other entries are ignored, so a transport may trim the directory.
    if (a.client_id != id_ && !setup_->graph().Adjacent(id_, a.client_id)) continue;
    const absl::Status verified =
        setup_->identity(a.client_id)
            .Verify(SignedKeyBytes(cfg.round_id, a.client_id, a.c_pk, a.s_pk), a.signature);
    if (!verified.ok()) {
      return Fail(absl::PermissionDeniedError(
          absl::StrCat("secagg client ", id_, ": the keys of client ", a.client_id,
                       " are not signed by its identity key (key substitution)")));
    }
    if (a.client_id == id_) {
      if (a.c_pk != c_->public_key || a.s_pk != s_->public_key) {
        return Fail(absl::PermissionDeniedError(
            absl::StrCat("secagg client ", id_, ": the directory holds altered keys for this client")));
      }
      self_seen = true;
    } else if (setup_->graph().Adjacent(id_, a.client_id)) {
      peers_[a.client_id] = Peer{a.c_pk, a.s_pk, base::SecretBytes(), base::SecretBytes()};
    }
  }
  if (!self_seen) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("secagg client ", id_, ": key directory omits this client")));
  }
  if (peers_.size() < cfg.threshold) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("aborted: client ", id_, " has ", peers_.size(),
                     " neighbours left, fewer than threshold = ", cfg.threshold)));
  }
  std::vector<uint32_t> recipients;
  for (const auto& [v, peer] : peers_) recipients.push_back(v);
  std::sort(recipients.begin(), recipients.end());
  std::vector<uint32_t> xs(recipients.size());
  for (size_t i = 0; i < recipients.size(); ++i) xs[i] = recipients[i] + 1;

  auto b = crypto::RandomKey(kSecAggSecretBytes, rng_);
  if (!b.ok()) return Fail(b.status());
  b_ = std::move(*b);
  auto b_shares = ShamirSplit(b_.span(), cfg.threshold, xs, rng_);
  if (!b_shares.ok()) return Fail(b_shares.status());
  auto s_shares = ShamirSplit(s_->private_key.span(), cfg.threshold, xs, rng_);
  if (!s_shares.ok()) return Fail(s_shares.status());

  std::vector<const crypto::X25519PublicKey*> peer_keys;
  for (uint32_t v : recipients) peer_keys.push_back(&peers_[v].s_pk);
  // The AEAD keys for the shares sent to (j = 0) and received from (j = 1) each recipient: single-use keys
  // per (round, sender, recipient), from one X25519 per peer.
  std::vector<const crypto::X25519PublicKey*> peer_c_keys;
  for (uint32_t v : recipients) peer_c_keys.push_back(&peers_[v].c_pk);
  std::vector<base::SecretBytes> share_keys;
  if (absl::Status st = internal::X25519HkdfBatch(
          c_->private_key, peer_c_keys, recipients, 2,
          [&](size_t i, size_t j) {
            return j == 0 ? Context(kShareKeyLabel, cfg.round_id, id_, recipients[i])
                          : Context(kShareKeyLabel, cfg.round_id, recipients[i], id_);
          },
          share_keys);
      !st.ok()) {
    return Fail(st);
  }
  std::vector<base::SecretBytes> pair_seeds;
  if (absl::Status st =
          internal::PairSeeds(s_->private_key, id_, peer_keys, recipients, cfg.round_id, pair_seeds);
      !st.ok()) {
    return Fail(st);
  }
  ShareKeys out;
  out.round_id = cfg.round_id;
  out.client_id = id_;
  out.shares.reserve(recipients.size());
  base::SecretBytes plaintext(kSecAggSharePlaintextBytes);
  for (size_t i = 0; i < recipients.size(); ++i) {
    const uint32_t v = recipients[i];
    std::copy((*b_shares)[i].y.span().begin(), (*b_shares)[i].y.span().end(), plaintext.data());
    std::copy((*s_shares)[i].y.span().begin(), (*s_shares)[i].y.span().end(),
              plaintext.data() + kSecAggShareBytes);
    Peer& peer = peers_[v];
    const base::SecretBytes& key = share_keys[2 * i];
    peer.receive_key = std::move(share_keys[2 * i + 1]);
    peer.pair_seed = std::move(pair_seeds[i]);
    auto ct = crypto::SealWithNonce(key, ZeroNonce(), plaintext.span(),
                                    Context(kShareAadLabel, cfg.round_id, id_, v));
    if (!ct.ok()) return Fail(ct.status());
    out.shares.push_back(EncryptedShare{id_, v, std::move(*ct)});
  }
  state_ = State::kMaskInput;
  return out;
}

absl::StatusOr<MaskedInput> SecAggClient::MaskInput(const ShareBundle& bundle,
                                                    std::span<const uint32_t> input) {
  if (state_ != State::kMaskInput)
    return absl::FailedPreconditionError("secagg client: MaskInput out of order");
  const SecAggConfig& cfg = setup_->config();
  if (input.size() != cfg.vector_length) {
    // The caller's mistake, not the server's: the client stays usable.
    return absl::InvalidArgumentError(
        absl::StrCat("secagg client: input has ", input.size(), " values, expected ", cfg.vector_length));
  }
  if (bundle.round_id != cfg.round_id || bundle.recipient != id_) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("secagg client ", id_, ": share bundle for another round or client")));
  }
  if (absl::Status st = CheckSortedUnique(bundle.u2, cfg.num_clients, "share bundle U2"); !st.ok())
    return Fail(st);
  if (!Contains(bundle.u2, id_)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("secagg client ", id_, ": U2 omits this client")));
  }
  if (bundle.u2.size() < cfg.min_clients)
    return Fail(TooFew("MaskedInput", bundle.u2.size(), cfg.min_clients));
  std::vector<uint32_t> expected;  // neighbours in U2, sorted
  for (uint32_t v : bundle.u2) {
    if (v == id_) continue;
    if (setup_->graph().Adjacent(id_, v)) {
      if (!peers_.contains(v)) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("secagg client ", id_, ": U2 lists client ", v, " which was not in U1")));
      }
      expected.push_back(v);
    }
  }
  if (bundle.shares.size() != expected.size()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("secagg client ", id_, ": share bundle holds ",
                                                        bundle.shares.size(), " shares, expected ",
                                                        expected.size())));
  }
  held_.clear();
  for (size_t i = 0; i < expected.size(); ++i) {
    const EncryptedShare& s = bundle.shares[i];
    const uint32_t v = expected[i];
    if (s.sender != v || s.recipient != id_) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("secagg client ", id_, ": share bundle entry ", i, " is not from neighbour ", v)));
    }
    auto pt = crypto::OpenWithNonce(peers_[v].receive_key, ZeroNonce(), s.ciphertext,
                                    Context(kShareAadLabel, cfg.round_id, v, id_));
    if (!pt.ok() || pt->size() != kSecAggSharePlaintextBytes) {
      return Fail(absl::DataLossError(
          absl::StrCat("secagg client ", id_, ": the share from client ", v, " failed authentication")));
    }
    std::span<const uint8_t> p(*pt);
    held_.emplace(v, std::make_pair(base::SecretBytes(p.first(kSecAggShareBytes)),
                                    base::SecretBytes(p.subspan(kSecAggShareBytes))));
    OPENSSL_cleanse(pt->data(), pt->size());
  }
  MaskedInput out;
  out.round_id = cfg.round_id;
  out.client_id = id_;
  out.masked.assign(input.begin(), input.end());
  // One pass over the vector for the self mask and every pairwise mask.
  std::vector<SignedSeed> seeds;
  seeds.reserve(expected.size() + 1);
  seeds.push_back(SignedSeed{&b_, false});
  for (uint32_t v : expected) seeds.push_back(SignedSeed{&peers_[v].pair_seed, /*subtract=*/v < id_});
  MaskExpander expander;
  if (absl::Status st = expander.AddMasks(seeds, out.masked); !st.ok()) return Fail(st);
  out.bits = static_cast<uint8_t>(cfg.ring_bits);
  ReduceToRing(out.masked, cfg.ring_bits);
  u2_ = bundle.u2;
  state_ = State::kUnmask;
  return out;
}

absl::StatusOr<SurvivorSignature> SecAggClient::SignSurvivors(const UnmaskRequest& req) {
  if (state_ == State::kConsistency || state_ == State::kDone || state_ == State::kFailed) {
    state_ = State::kFailed;
    return absl::PermissionDeniedError(
        absl::StrCat("secagg client ", id_, ": refusing to sign a second survivor list in this round"));
  }
  if (state_ != State::kUnmask)
    return absl::FailedPreconditionError("secagg client: SignSurvivors out of order");
  const SecAggConfig& cfg = setup_->config();
  if (req.round_id != cfg.round_id) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("secagg client ", id_, ": unmask request for another round")));
  }
  if (absl::Status st = CheckSortedUnique(req.survivors, cfg.num_clients, "unmask request survivors");
      !st.ok()) {
    return Fail(st);
  }
  if (absl::Status st = CheckSortedUnique(req.dropped, cfg.num_clients, "unmask request dropped"); !st.ok()) {
    return Fail(st);
  }
  for (uint32_t v : req.dropped) {
    if (Contains(req.survivors, v)) {
      return Fail(
          absl::PermissionDeniedError(absl::StrCat("secagg client ", id_,
                                                   ": refusing to reveal both the self-mask seed and the "
                                                   "masking key of client ",
                                                   v)));
    }
  }
  if (Contains(req.dropped, id_) || !Contains(req.survivors, id_)) {
    return Fail(absl::PermissionDeniedError(
        absl::StrCat("secagg client ", id_, ": the request does not list this client as a survivor")));
  }
  std::vector<uint32_t> all(req.survivors);
  all.insert(all.end(), req.dropped.begin(), req.dropped.end());
  std::sort(all.begin(), all.end());
  if (all != u2_) {
    return Fail(absl::PermissionDeniedError(
        absl::StrCat("secagg client ", id_, ": the request does not partition U2; refusing to reveal")));
  }
  if (req.survivors.size() < cfg.min_clients)
    return Fail(TooFew("Unmasking", req.survivors.size(), cfg.min_clients));
  auto sig = identity_.Sign(SignedSurvivorBytes(cfg.round_id, req.survivors, req.dropped));
  if (!sig.ok()) return Fail(sig.status());
  signed_request_ = req;
  state_ = State::kConsistency;
  return SurvivorSignature{cfg.round_id, id_, *sig};
}

absl::StatusOr<UnmaskResponse> SecAggClient::Unmask(const ConsistencyProof& proof) {
  if (state_ == State::kDone || state_ == State::kFailed) {
    state_ = State::kFailed;
    return absl::PermissionDeniedError(
        absl::StrCat("secagg client ", id_, ": refusing to reveal shares again in this round"));
  }
  if (state_ != State::kConsistency)
    return absl::FailedPreconditionError("secagg client: Unmask out of order");
  const SecAggConfig& cfg = setup_->config();
  if (proof.round_id != cfg.round_id) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("secagg client ", id_, ": consistency proof for another round")));
  }
  const UnmaskRequest& req = signed_request_;
  if (proof.survivors != req.survivors || proof.dropped != req.dropped) {
    return Fail(absl::PermissionDeniedError(absl::StrCat(
        "secagg client ", id_,
        ": consistency check failed: the proof names another survivor list than the one signed")));
  }
  const std::vector<uint8_t> signed_bytes = SignedSurvivorBytes(cfg.round_id, req.survivors, req.dropped);
  uint32_t neighbour_signatures = 0;
  for (size_t i = 0; i < proof.signatures.size(); ++i) {
    const SignerSignature& s = proof.signatures[i];
    if (s.client_id >= cfg.num_clients || !Contains(req.survivors, s.client_id) ||
        (i > 0 && s.client_id <= proof.signatures[i - 1].client_id)) {
      return Fail(absl::PermissionDeniedError(absl::StrCat(
          "secagg client ", id_, ": consistency check failed: signer ", s.client_id, " is not a survivor")));
    }
    if (!setup_->identity(s.client_id).Verify(signed_bytes, s.signature).ok()) {
      return Fail(absl::PermissionDeniedError(
          absl::StrCat("secagg client ", id_, ": consistency check failed: the signature of client ",
                       s.client_id, " is not over this survivor list (equivocation)")));
    }
    if (s.client_id != id_ && setup_->graph().Adjacent(id_, s.client_id)) ++neighbour_signatures;
  }
  if (neighbour_signatures < cfg.threshold) {
    return Fail(absl::PermissionDeniedError(
        absl::StrCat("secagg client ", id_, ": consistency check failed: ", neighbour_signatures,
                     " neighbours signed this survivor list, fewer than threshold = ", cfg.threshold)));
  }
  std::vector<uint32_t> owners;
  for (const auto& [v, shares] : held_) owners.push_back(v);
  std::sort(owners.begin(), owners.end());
  UnmaskResponse out;
  out.round_id = cfg.round_id;
  out.client_id = id_;
  for (uint32_t v : owners) {
    auto& [b_share, s_share] = held_[v];
    const bool survived = Contains(req.survivors, v);
    out.shares.push_back(RevealedShare{v, survived ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey,
                                       survived ? std::move(b_share) : std::move(s_share)});
  }
  held_.clear();
  b_.Reset();
  state_ = State::kDone;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------

SecAggServer::SecAggServer(std::shared_ptr<const SecAggSetup> setup) : setup_(std::move(setup)) {
  const uint32_t n = setup_->config().num_clients;
  keys_.resize(n);
  share_keys_.resize(n);
  masked_received_.assign(n, false);
  responses_.resize(n);
}

absl::Status SecAggServer::Expect(State s, const char* phase) const {
  if (state_ == State::kAborted) return absl::FailedPreconditionError("secagg server: the round was aborted");
  if (state_ != s) return absl::FailedPreconditionError(absl::StrCat("secagg server: not in phase ", phase));
  return absl::OkStatus();
}

absl::Status SecAggServer::ReceiveAdvertise(const AdvertiseKeys& m) {
  VEIL_RETURN_IF_ERROR(Expect(State::kAdvertise, "AdvertiseKeys"));
  const SecAggConfig& cfg = setup_->config();
  if (m.round_id != cfg.round_id)
    return absl::InvalidArgumentError("secagg server: advertisement for another round");
  if (m.client_id >= cfg.num_clients) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: client id ", m.client_id, " out of range"));
  }
  if (keys_[m.client_id].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: duplicate advertisement from client ", m.client_id));
  }
  if (!setup_->identity(m.client_id)
           .Verify(SignedKeyBytes(m.round_id, m.client_id, m.c_pk, m.s_pk), m.signature)
           .ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("secagg server: the advertisement of client ", m.client_id, " has a bad signature"));
  }
  keys_[m.client_id] = m;
  return absl::OkStatus();
}

absl::StatusOr<KeyDirectory> SecAggServer::FinishAdvertise() {
  VEIL_RETURN_IF_ERROR(Expect(State::kAdvertise, "AdvertiseKeys"));
  const SecAggConfig& cfg = setup_->config();
  KeyDirectory dir;
  dir.round_id = cfg.round_id;
  for (uint32_t u = 0; u < cfg.num_clients; ++u) {
    if (keys_[u].has_value()) {
      u1_.push_back(u);
      dir.clients.push_back(*keys_[u]);
    }
  }
  if (u1_.size() < cfg.min_clients) return Abort(TooFew("AdvertiseKeys", u1_.size(), cfg.min_clients));
  state_ = State::kShareKeys;
  return dir;
}

absl::Status SecAggServer::ReceiveShareKeys(const ShareKeys& m) {
  VEIL_RETURN_IF_ERROR(Expect(State::kShareKeys, "ShareKeys"));
  const SecAggConfig& cfg = setup_->config();
  if (m.round_id != cfg.round_id)
    return absl::InvalidArgumentError("secagg server: shares for another round");
  if (m.client_id >= cfg.num_clients || !Contains(u1_, m.client_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: shares from client ", m.client_id, " not in U1"));
  }
  if (share_keys_[m.client_id].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: duplicate shares from client ", m.client_id));
  }
  // Exactly one share for each neighbour in U1, in order.
  size_t i = 0;
  for (uint32_t v : setup_->graph().neighbours(m.client_id)) {
    if (!Contains(u1_, v)) continue;
    if (i >= m.shares.size() || m.shares[i].recipient != v || m.shares[i].sender != m.client_id ||
        m.shares[i].ciphertext.size() != kSecAggShareCiphertextBytes) {
      return absl::InvalidArgumentError(absl::StrCat("secagg server: the shares of client ", m.client_id,
                                                     " do not match its neighbours in U1"));
    }
    ++i;
  }
  if (i != m.shares.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: client ", m.client_id, " sent extra shares"));
  }
  share_keys_[m.client_id] = m;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ShareBundle>> SecAggServer::FinishShareKeys() {
  VEIL_RETURN_IF_ERROR(Expect(State::kShareKeys, "ShareKeys"));
  const SecAggConfig& cfg = setup_->config();
  for (uint32_t u : u1_) {
    if (share_keys_[u].has_value()) u2_.push_back(u);
  }
  if (u2_.size() < cfg.min_clients) return Abort(TooFew("ShareKeys", u2_.size(), cfg.min_clients));
  std::vector<ShareBundle> bundles(u2_.size());
  std::vector<int64_t> index(cfg.num_clients, -1);
  for (size_t i = 0; i < u2_.size(); ++i) {
    index[u2_[i]] = static_cast<int64_t>(i);
    bundles[i].round_id = cfg.round_id;
    bundles[i].recipient = u2_[i];
    bundles[i].u2 = u2_;
  }
  for (uint32_t u : u2_) {
    for (EncryptedShare& s : share_keys_[u]->shares) {
      if (index[s.recipient] >= 0) bundles[index[s.recipient]].shares.push_back(std::move(s));
    }
    share_keys_[u].reset();
  }
  sum_.assign(cfg.vector_length, 0);
  state_ = State::kMaskedInput;
  return bundles;
}

absl::Status SecAggServer::ReceiveMaskedInput(const MaskedInput& m) {
  VEIL_RETURN_IF_ERROR(Expect(State::kMaskedInput, "MaskedInput"));
  const SecAggConfig& cfg = setup_->config();
  if (m.round_id != cfg.round_id)
    return absl::InvalidArgumentError("secagg server: masked input for another round");
  if (m.client_id >= cfg.num_clients || !Contains(u2_, m.client_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: masked input from client ", m.client_id, " not in U2"));
  }
  if (masked_received_[m.client_id]) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: duplicate masked input from client ", m.client_id));
  }
  if (m.masked.size() != cfg.vector_length) {
    return absl::InvalidArgumentError(absl::StrCat("secagg server: masked input of client ", m.client_id,
                                                   " has ", m.masked.size(), " values, expected ",
                                                   cfg.vector_length));
  }
  if (m.bits != cfg.ring_bits) {
    return absl::InvalidArgumentError(absl::StrCat("secagg server: masked input of client ", m.client_id,
                                                   " uses a ", m.bits, "-bit ring, expected ",
                                                   cfg.ring_bits));
  }
  if (cfg.ring_bits < 32) {
    const uint32_t limit = uint32_t{1} << cfg.ring_bits;
    for (uint32_t w : m.masked) {
      if (w >= limit) {
        return absl::InvalidArgumentError(absl::StrCat("secagg server: masked input of client ", m.client_id,
                                                       " holds a word outside the ring"));
      }
    }
  }
  VEIL_RETURN_IF_ERROR(AddVectors(sum_, m.masked));
  masked_received_[m.client_id] = true;
  return absl::OkStatus();
}

absl::StatusOr<UnmaskRequest> SecAggServer::FinishMaskedInput() {
  VEIL_RETURN_IF_ERROR(Expect(State::kMaskedInput, "MaskedInput"));
  const SecAggConfig& cfg = setup_->config();
  UnmaskRequest req;
  req.round_id = cfg.round_id;
  for (uint32_t u : u2_) (masked_received_[u] ? req.survivors : req.dropped).push_back(u);
  u3_ = req.survivors;
  if (u3_.size() < cfg.min_clients) return Abort(TooFew("MaskedInput", u3_.size(), cfg.min_clients));
  request_ = req;
  survivor_signatures_.assign(cfg.num_clients, std::nullopt);
  state_ = State::kConsistency;
  return req;
}

absl::Status SecAggServer::ReceiveSurvivorSignature(const SurvivorSignature& m) {
  VEIL_RETURN_IF_ERROR(Expect(State::kConsistency, "ConsistencyCheck"));
  const SecAggConfig& cfg = setup_->config();
  if (m.round_id != cfg.round_id)
    return absl::InvalidArgumentError("secagg server: survivor signature for another round");
  if (m.client_id >= cfg.num_clients || !Contains(u3_, m.client_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: survivor signature from client ", m.client_id, " not in U3"));
  }
  if (survivor_signatures_[m.client_id].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: duplicate survivor signature from client ", m.client_id));
  }
  if (!setup_->identity(m.client_id)
           .Verify(SignedSurvivorBytes(cfg.round_id, request_.survivors, request_.dropped), m.signature)
           .ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("secagg server: the survivor signature of client ", m.client_id, " is invalid"));
  }
  survivor_signatures_[m.client_id] = m.signature;
  return absl::OkStatus();
}

absl::StatusOr<ConsistencyProof> SecAggServer::FinishConsistency() {
  VEIL_RETURN_IF_ERROR(Expect(State::kConsistency, "ConsistencyCheck"));
  const SecAggConfig& cfg = setup_->config();
  ConsistencyProof proof;
  proof.round_id = cfg.round_id;
  proof.survivors = request_.survivors;
  proof.dropped = request_.dropped;
  for (uint32_t u : u3_) {
    if (survivor_signatures_[u].has_value()) {
      signers_.push_back(u);
      proof.signatures.push_back(SignerSignature{u, *survivor_signatures_[u]});
    }
  }
  if (signers_.size() < cfg.min_clients)
    return Abort(TooFew("ConsistencyCheck", signers_.size(), cfg.min_clients));
  state_ = State::kUnmask;
  return proof;
}

absl::Status SecAggServer::ReceiveUnmaskResponse(const UnmaskResponse& m) {
  VEIL_RETURN_IF_ERROR(Expect(State::kUnmask, "Unmasking"));
  const SecAggConfig& cfg = setup_->config();
  if (m.round_id != cfg.round_id)
    return absl::InvalidArgumentError("secagg server: unmask response for another round");
  if (m.client_id >= cfg.num_clients || !Contains(signers_, m.client_id)) {
    return absl::InvalidArgumentError(absl::StrCat("secagg server: unmask response from client ", m.client_id,
                                                   " which did not sign the survivor list"));
  }
  if (responses_[m.client_id].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg server: duplicate unmask response from client ", m.client_id));
  }
  for (size_t i = 0; i < m.shares.size(); ++i) {
    const RevealedShare& s = m.shares[i];
    const bool ok_owner = s.owner < cfg.num_clients && Contains(u2_, s.owner) &&
                          setup_->graph().Adjacent(m.client_id, s.owner) &&
                          (i == 0 || s.owner > m.shares[i - 1].owner);
    const ShareKind want = Contains(u3_, s.owner) ? ShareKind::kSelfMaskSeed : ShareKind::kMaskingKey;
    if (!ok_owner || s.kind != want || s.value.size() != kSecAggShareBytes) {
      return absl::InvalidArgumentError(absl::StrCat("secagg server: unmask response of client ", m.client_id,
                                                     " holds an unexpected share (entry ", i, ")"));
    }
  }
  UnmaskResponse copy;
  copy.round_id = m.round_id;
  copy.client_id = m.client_id;
  for (const RevealedShare& s : m.shares)
    copy.shares.push_back(RevealedShare{s.owner, s.kind, s.value.Clone()});
  responses_[m.client_id] = std::move(copy);
  return absl::OkStatus();
}

absl::StatusOr<SecAggResult> SecAggServer::FinishUnmasking() {
  VEIL_RETURN_IF_ERROR(Expect(State::kUnmask, "Unmasking"));
  const SecAggConfig& cfg = setup_->config();
  for (uint32_t u : signers_) {
    if (responses_[u].has_value()) u4_.push_back(u);
  }
  if (u4_.size() < cfg.min_clients) return Abort(TooFew("Unmasking", u4_.size(), cfg.min_clients));
  // Shares per owner, x = responder id + 1.
  std::vector<std::vector<ShamirShare>> shares(cfg.num_clients);
  for (uint32_t v : u4_) {
    for (RevealedShare& s : responses_[v]->shares)
      shares[s.owner].push_back(ShamirShare{v + 1, std::move(s.value)});
    responses_[v].reset();
  }
  std::vector<uint32_t> dropped;
  for (uint32_t u : u2_) {
    if (!Contains(u3_, u)) dropped.push_back(u);
  }
  auto reconstruct = [&](uint32_t u, const char* what) -> absl::StatusOr<base::SecretBytes> {
    if (shares[u].size() < cfg.threshold) {
      return absl::FailedPreconditionError(absl::StrCat("aborted: ", shares[u].size(), " shares of the ",
                                                        what, " of client ", u,
                                                        ", fewer than threshold = ", cfg.threshold));
    }
    auto secret = ShamirReconstruct(shares[u], cfg.threshold, kSecAggSecretBytes);
    if (!secret.ok()) {
      return absl::Status(secret.status().code(),
                          absl::StrCat("secagg server: reconstructing the ", what, " of client ", u, ": ",
                                       secret.status().message()));
    }
    return secret;
  };
  // Self masks of the survivors: reconstruct every b_u, then remove all of them in one pass.
  MaskExpander expander;
  {
    std::vector<base::SecretBytes> b_seeds;
    b_seeds.reserve(u3_.size());
    for (uint32_t u : u3_) {
      auto b = reconstruct(u, "self-mask seed");
      if (!b.ok()) return Abort(b.status());
      b_seeds.push_back(std::move(*b));
    }
    std::vector<SignedSeed> seeds;
    seeds.reserve(b_seeds.size());
    for (const base::SecretBytes& b : b_seeds) seeds.push_back(SignedSeed{&b, /*subtract=*/true});
    if (absl::Status st = expander.AddMasks(seeds, sum_); !st.ok()) return Abort(st);
  }
  // Pairwise masks of each dropped client with its surviving neighbours, one pass per dropped client.
  std::vector<base::SecretBytes> pair_seeds;
  std::vector<SignedSeed> seeds;
  std::vector<const crypto::X25519PublicKey*> peer_keys;
  std::vector<uint32_t> peer_ids;
  for (uint32_t u : dropped) {
    auto s_sk = reconstruct(u, "masking key");
    if (!s_sk.ok()) return Abort(s_sk.status());
    auto pk = crypto::X25519PublicFromPrivate(*s_sk);
    if (!pk.ok()) return Abort(pk.status());
    if (*pk != keys_[u]->s_pk) {
      return Abort(absl::DataLossError(absl::StrCat("secagg server: the reconstructed masking key of client ",
                                                    u, " does not match its advertised public key")));
    }
    peer_keys.clear();
    peer_ids.clear();
    for (uint32_t v : setup_->graph().neighbours(u)) {
      if (!Contains(u3_, v)) continue;
      peer_keys.push_back(&keys_[v]->s_pk);
      peer_ids.push_back(v);
    }
    if (absl::Status st = internal::PairSeeds(*s_sk, u, peer_keys, peer_ids, cfg.round_id, pair_seeds);
        !st.ok()) {
      return Abort(st);
    }
    seeds.clear();
    // v added +PRG(s_uv) if u > v, -PRG(s_uv) if u < v: remove it.
    for (size_t i = 0; i < peer_ids.size(); ++i)
      seeds.push_back(SignedSeed{&pair_seeds[i], /*subtract=*/u > peer_ids[i]});
    if (absl::Status st = expander.AddMasks(seeds, sum_); !st.ok()) return Abort(st);
  }
  ReduceToRing(sum_, cfg.ring_bits);
  state_ = State::kDone;
  SecAggResult result;
  result.sum = std::move(sum_);
  result.included = u3_;
  result.dropped = std::move(dropped);
  return result;
}

}  // namespace veil::fl
