#include "veil/fl/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "veil/base/bytes.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"
#include "veil/fl/distributed_dp.h"
#include "veil/fl/dp_fedavg.h"
#include "veil/fl/messages.h"
#include "veil/fl/secagg.h"

namespace veil::fl {
namespace {

using Json = nlohmann::ordered_json;
using base::AsBytes;
using base::BytesToString;

std::string PhaseName(wire::Phase p) {
  switch (p) {
    case wire::PHASE_TRAIN:
      return "train";
    case wire::PHASE_SHARE_KEYS:
      return "share_keys";
    case wire::PHASE_MASKED_INPUT:
      return "masked_input";
    case wire::PHASE_CONSISTENCY:
      return "consistency";
    case wire::PHASE_UNMASK:
      return "unmask";
    default:
      return "other";
  }
}

// How long Join waits for a connection to the coordinator before the caller's backoff (and give-up).
constexpr absl::Duration kConnectWait = absl::Seconds(10);

// The site's connection: its channel, stub and session, and the bytes it moved.
class Connection {
 public:
  explicit Connection(const ClientOptions& o)
      : o_(o),
        stub_(wire::Federation::NewStub(
            grpc::CreateCustomChannel(o.coordinator, ChannelCredentials(o.insecure ? nullptr : o.credentials),
                                      ClientChannelArguments(o.transport)))) {}

  bool joined() const { return !session_.empty(); }
  void Forget() { session_.clear(); }

  // Every call waits for the channel to be ready (wait_for_ready) rather than failing at once while gRPC
  // reconnects: a call in flight is what drives the connection attempt (TCP and the TLS handshake) on this
  // thread. Failing fast left a reconnect to gRPC's backup poller (every 5 s), so a site that started
  // before its coordinator took ~20 s to finish a handshake. Join waits at most kConnectWait, so that the
  // caller's backoff and give-up are checked meanwhile.
  absl::Status Join() {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(Deadline(std::min(o_.transport.call_timeout, kConnectWait)));
    wire::JoinRequest req;
    req.set_protocol_version(kProtocolVersion);
    req.set_site(o_.credentials->name);
    req.set_certificate(BytesToString(o_.credentials->cert_der));
    wire::JoinReply reply;
    sent_ += req.ByteSizeLong();
    VEIL_RETURN_IF_ERROR(FromGrpc(stub_->Join(&ctx, req, &reply), "join"));
    received_ += reply.ByteSizeLong();
    session_ = reply.session();
    run_id_ = reply.run_id();
    poll_ = absl::Milliseconds(reply.poll_millis());
    return absl::OkStatus();
  }

  struct Task {
    wire::Header header;
    std::string payload;
  };
  absl::StatusOr<Task> NextTask(uint64_t last_task) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(Deadline(poll_ + o_.transport.call_timeout));
    wire::TaskRequest req;
    req.set_session(session_);
    req.set_last_task(last_task);
    sent_ += req.ByteSizeLong();
    std::unique_ptr<grpc::ClientReader<wire::Chunk>> reader = stub_->NextTask(&ctx, req);
    PayloadAssembler assembler(o_.transport.max_payload_bytes);
    wire::Chunk chunk;
    absl::Status s;
    while (reader->Read(&chunk)) {
      if (s.ok()) s = assembler.Add(chunk);
    }
    received_ += assembler.wire_bytes();
    VEIL_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "next task"));
    VEIL_RETURN_IF_ERROR(s);
    VEIL_ASSIGN_OR_RETURN(std::string payload, assembler.Finish());
    return Task{assembler.header(), std::move(payload)};
  }

  // Uploads the answer to `task`. Errors: the call's; FailedPrecondition with the coordinator's reason if it
  // did not accept it (the phase closed).
  absl::Status Submit(const wire::Header& task, const std::string& payload) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(Deadline(o_.transport.call_timeout));
    wire::SubmitReply reply;
    std::unique_ptr<grpc::ClientWriter<wire::Chunk>> writer = stub_->Submit(&ctx, &reply);
    wire::Header h;
    h.set_session(session_);
    h.set_task(task.task());
    h.set_round(task.round());
    h.set_phase(task.phase());
    absl::StatusOr<uint64_t> n = SendPayload(*writer, h, payload);
    if (n.ok()) sent_ += *n;
    writer->WritesDone();
    VEIL_RETURN_IF_ERROR(FromGrpc(writer->Finish(), "submit"));
    received_ += reply.ByteSizeLong();
    if (!reply.accepted())
      return absl::FailedPreconditionError(
          absl::StrCat("the coordinator refused the answer: ", reply.reason()));
    return absl::OkStatus();
  }

  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }
  const std::string& run_id() const { return run_id_; }

 private:
  static std::chrono::system_clock::time_point Deadline(absl::Duration d) {
    return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
  }

  const ClientOptions& o_;
  std::unique_ptr<wire::Federation::Stub> stub_;
  std::string session_;
  std::string run_id_;
  absl::Duration poll_ = absl::Seconds(10);
  uint64_t sent_ = 0, received_ = 0;
};

// A round this site takes part in.
struct RoundState {
  uint64_t round = 0;
  uint32_t id = 0;
  RoundPlan plan;
  std::shared_ptr<const SecAggSetup> setup;
  std::optional<Quantizer> quantizer;
  std::unique_ptr<SecAggClient> secagg;
  Contribution contribution;
  ClientRoundReport report;
  bool failed = false;  // this site gave up on the round (an invalid message); it answers nothing more
};

}  // namespace

std::string Contribution::ReleasedBytes() const {
  std::string out = EncodeDoubles(plain);
  for (uint32_t w : quantized) {
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(w >> (8 * b)));
  }
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(static_cast<uint64_t>(examples) >> (8 * b)));
  return out;
}

Json ClientRoundReport::ToJson() const {
  Json phases_json = Json::array();
  for (const ClientPhaseReport& p : phases) {
    phases_json.push_back({{"name", p.name},
                           {"seconds", p.seconds},
                           {"bytes_sent", p.bytes_sent},
                           {"bytes_received", p.bytes_received}});
  }
  return Json{{"round", round},
              {"completed", completed},
              {"aborted", aborted},
              {"reason", reason},
              {"phases", phases_json}};
}

absl::StatusOr<Contribution> MakeContribution(const RoundPlan& plan, const ClientUpdate& update,
                                              const Quantizer* quantizer, base::RandomSource& rng) {
  if (plan.secure && quantizer == nullptr)
    return absl::InvalidArgumentError("secure aggregation needs the round's quantizer");
  Contribution c;
  std::vector<double> v;
  if (plan.dp == DpMode::kNone) {
    if (!plan.secure) {
      c.examples = update.num_examples;
      c.plain = update.update;
      return c;
    }
    // [w_k update, w_k]: the weight rides in the secure sum, so the example count stays on the site.
    VEIL_ASSIGN_OR_RETURN(const std::vector<float> weighted, SecAggWeightedInput(update, plan.max_examples));
    VEIL_ASSIGN_OR_RETURN(c.quantized, quantizer->Encode(weighted, rng));
    return c;
  }
  // DP: clip to the round's norm; no example count leaves the site.
  VEIL_ASSIGN_OR_RETURN(ClippedUpdate clipped, ClipUpdate(update.update, plan.clip_norm));
  v = std::move(clipped.update);
  if (plan.dp == DpMode::kCentral && plan.central.adaptive_clipping)
    v.push_back(clipped.within_clip ? plan.clip_norm : 0.0);
  if (!plan.secure) {
    c.plain = std::move(v);
    return c;
  }
  const std::vector<float> f(v.begin(), v.end());
  VEIL_ASSIGN_OR_RETURN(c.quantized, quantizer->Encode(f, rng));
  if (plan.dp == DpMode::kDistributed) {
    dp::RandomBits bits(rng);
    VEIL_RETURN_IF_ERROR(AddDistributedNoise(plan.distributed, bits, c.quantized));
  }
  return c;
}

absl::StatusOr<Contribution> TrainContribution(const RoundPlan& plan, std::span<const double> global,
                                               const table::Table& rows, const Quantizer* quantizer,
                                               base::RandomSource& rng) {
  VEIL_ASSIGN_OR_RETURN(ml::Model model, ml::Model::Create(plan.model.ModelConfig()));
  if (static_cast<int64_t>(global.size()) != model.num_params())
    return absl::InvalidArgumentError(absl::StrCat("the global model has ", global.size(),
                                                   " parameters, the plan's model ", model.num_params()));
  for (size_t i = 0; i < global.size(); ++i) model.params()[static_cast<Eigen::Index>(i)] = global[i];
  // Missing columns and unreadable types are facts of the schema (public): an error here is fine under DP.
  VEIL_ASSIGN_OR_RETURN(const LabeledData data, plan.model.Encode(rows));
  ml::TrainOptions options;
  options.optimizer = plan.local.optimizer;
  options.learning_rate = plan.local.learning_rate;
  options.epochs = plan.local.epochs;
  options.batch_size =
      static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(plan.local.batch_size, data.x.rows())));
  absl::StatusOr<ClientUpdate> update =
      data.x.rows() == 0 ? absl::InvalidArgumentError("the site has no labeled rows")
                         : TrainLocally(model, data.x, data.y, options, plan.proximal_mu, rng);
  if (!update.ok()) {
    if (plan.dp == DpMode::kNone) return update.status();
    // Under DP the outcome must not depend on the rows: a failed training contributes zeros (ClipUpdate
    // turns a non-finite update into zeros).
    update = ClientUpdate{std::vector<double>(global.size(), std::numeric_limits<double>::quiet_NaN()), 0};
  }
  return MakeContribution(plan, *update, quantizer, rng);
}

absl::StatusOr<ClientReport> RunClient(const ClientOptions& o) {
  if (o.credentials == nullptr || o.trainer == nullptr || o.rng == nullptr)
    return absl::InvalidArgumentError("client: credentials, trainer and random source are required");
  VEIL_RETURN_IF_ERROR(o.transport.Validate());
  VEIL_ASSIGN_OR_RETURN(const CertificateAuthority ca, CertificateAuthority::Load(o.credentials->ca_pem));
  // The roster of every secure round is checked against the CA; the same certificates come every round.
  SiteVerifier roster_verifier(ca);
  const auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  Connection conn(o);
  Backoff backoff(o.transport, *o.rng);
  ClientReport out;
  absl::Time last_contact = absl::Now();
  uint64_t last_task = 0;
  std::optional<RoundState> state;
  std::string last_run;

  // Waits after a transient failure; Unavailable once give_up has passed without contact.
  const auto wait = [&](const absl::Status& why) -> absl::Status {
    if (absl::Now() - last_contact > o.give_up)
      return absl::UnavailableError(absl::StrCat("no coordinator for ", absl::FormatDuration(o.give_up),
                                                 "; last error: ", why.message()));
    const absl::Duration d = backoff.Next();
    if (backoff.failures() == 1 || backoff.failures() % 10 == 0)
      log(absl::StrCat("coordinator unreachable (", why.message(), "); retrying in ",
                       absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)))));
    absl::SleepFor(d);
    return absl::OkStatus();
  };
  const auto close_round = [&](bool completed, bool aborted, const std::string& reason) {
    if (!state.has_value()) return;
    state->report.completed = completed;
    state->report.aborted = aborted;
    state->report.reason = reason;
    out.rounds.push_back(std::move(state->report));
    state.reset();
  };

  for (;;) {
    if (!conn.joined()) {
      absl::Status s = conn.Join();
      if (!s.ok()) {
        if (!IsTransient(s)) return s;
        VEIL_RETURN_IF_ERROR(wait(s));
        continue;
      }
      if (conn.run_id() != last_run) {
        // A new coordinator run (first contact or a restart): task ids start over.
        last_task = 0;
        if (!last_run.empty()) log("the coordinator restarted; joined its new run");
        last_run = conn.run_id();
      }
      close_round(false, true, "reconnected");
      backoff.Reset();
      last_contact = absl::Now();
      log(absl::StrCat("joined the coordinator at ", o.coordinator, " as site \"", o.credentials->name,
                       "\""));
    }
    absl::StatusOr<Connection::Task> task = conn.NextTask(last_task);
    if (!task.ok()) {
      if (task.status().code() == absl::StatusCode::kNotFound) {
        conn.Forget();  // unknown session: the coordinator restarted or replaced it
        continue;
      }
      if (!IsTransient(task.status())) return task.status();
      VEIL_RETURN_IF_ERROR(wait(task.status()));
      continue;
    }
    backoff.Reset();
    last_contact = absl::Now();
    const wire::Header& h = task->header;
    if (h.phase() == wire::PHASE_WAIT) continue;
    last_task = h.task();
    const absl::Time task_start = absl::Now();
    const uint64_t sent0 = conn.sent(), received0 = conn.received();

    if (h.phase() == wire::PHASE_FINISHED) {
      wire::RoundOver over;
      if (over.ParseFromString(task->payload) && !over.model().empty()) {
        absl::StatusOr<std::vector<double>> m = DecodeDoubles(over.model(), -1, "final model");
        if (m.ok()) out.final_model = *std::move(m);
      }
      close_round(false, true, "the run finished");
      out.finished = true;
      out.bytes_sent = conn.sent();
      out.bytes_received = conn.received();
      log("the coordinator finished the run");
      return out;
    }
    if (h.phase() == wire::PHASE_ROUND_OVER) {
      wire::RoundOver over;
      if (state.has_value() && over.ParseFromString(task->payload) && over.round() == state->round) {
        log(absl::StrCat("round ", over.round() + 1,
                         over.aborted() ? " aborted: " + over.reason() : " aggregated"));
        close_round(!over.aborted(), over.aborted(), over.reason());
      }
      continue;
    }

    // A task that needs an answer.
    std::optional<std::string> answer;
    absl::Status problem;
    if (h.phase() == wire::PHASE_TRAIN) {
      bool trainer_refused = false;
      close_round(false, true, "superseded by a new round");
      wire::RoundStart start;
      if (!start.ParseFromString(task->payload)) {
        log("malformed RoundStart; skipping the round");
        continue;
      }
      state.emplace();
      state->round = start.round();
      state->id = start.client_id();
      state->report.round = static_cast<int64_t>(start.round());
      problem = [&]() -> absl::Status {
        VEIL_ASSIGN_OR_RETURN(state->plan, RoundPlan::FromJson(start.plan_json()));
        const RoundPlan& plan = state->plan;
        if (plan.round != start.round()) return absl::InvalidArgumentError("the plan is for another round");
        VEIL_ASSIGN_OR_RETURN(ml::Model model, ml::Model::Create(plan.model.ModelConfig()));
        VEIL_ASSIGN_OR_RETURN(const std::vector<double> global,
                              DecodeDoubles(start.model(), model.num_params(), "global model"));
        if (plan.secure != start.has_secagg())
          return absl::InvalidArgumentError("the plan and the secure-aggregation settings disagree");
        if (plan.secure) {
          const wire::SecAggParams& p = start.secagg();
          if (static_cast<uint32_t>(start.roster_size()) != p.num_clients() || state->id >= p.num_clients())
            return absl::InvalidArgumentError("the roster does not match the round's size");
          if (p.min_clients() < o.min_cohort)
            return absl::PermissionDeniedError(absl::StrCat("the round's quorum is ", p.min_clients(),
                                                            ", below this site's minimum of ", o.min_cohort));
          // Identity keys come from the CA-issued certificates, never from the coordinator's word.
          std::vector<crypto::Ed25519PublicKey> keys;
          absl::flat_hash_set<std::string> sites;
          for (int i = 0; i < start.roster_size(); ++i) {
            const wire::Member& m = start.roster(i);
            VEIL_ASSIGN_OR_RETURN(SiteIdentity id,
                                  roster_verifier.VerifySite(AsBytes(m.certificate()), m.site()));
            if (!sites.insert(id.site).second)
              return absl::PermissionDeniedError(
                  absl::StrCat("the roster lists site \"", id.site, "\" twice"));
            keys.push_back(id.key);
          }
          if (start.roster(static_cast<int>(state->id)).site() != o.credentials->name ||
              !(keys[state->id] == o.credentials->key.public_key()))
            return absl::PermissionDeniedError("the roster's entry for this site is not its certificate");
          SecAggConfig sc;
          sc.round_id = start.round();
          sc.num_clients = p.num_clients();
          sc.ring_bits = p.ring_bits();
          sc.vector_length = static_cast<uint32_t>(plan.ContributionLength(model.num_params()));
          sc.threat_model = p.active() ? SecAggThreatModel::kActive : SecAggThreatModel::kSemiHonest;
          sc.threshold = p.threshold();
          sc.min_clients = p.min_clients();
          sc.degree = p.degree();
          if (p.graph_seed().size() != sc.graph_seed.size())
            return absl::InvalidArgumentError("the graph seed is not 32 bytes");
          std::copy(p.graph_seed().begin(), p.graph_seed().end(), sc.graph_seed.begin());
          VEIL_ASSIGN_OR_RETURN(state->setup, SecAggSetup::Create(sc, std::move(keys)));
          QuantizationOptions q;
          q.clip = p.clip();
          q.scale = p.scale();
          q.max_clients = p.num_clients();
          q.noise_stddev = p.noise_stddev();
          q.ring_bits = p.ring_bits();
          VEIL_ASSIGN_OR_RETURN(Quantizer quantizer, Quantizer::Create(q));
          state->quantizer.emplace(std::move(quantizer));
        }
        // Local training (the CLI's trainer goes through the gate).
        absl::StatusOr<Contribution> c =
            o.trainer->Train(plan, global, state->quantizer.has_value() ? &*state->quantizer : nullptr);
        if (!c.ok()) {
          trainer_refused = c.status().code() == absl::StatusCode::kPermissionDenied ||
                            c.status().code() == absl::StatusCode::kResourceExhausted;
          return c.status();
        }
        state->contribution = *std::move(c);
        wire::TrainResult result;
        result.set_examples(static_cast<uint64_t>(state->contribution.examples));
        if (plan.secure) {
          VEIL_ASSIGN_OR_RETURN(base::SecretBytes seed, o.credentials->key.ExportSeed());
          VEIL_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey key, crypto::Ed25519PrivateKey::FromSeed(seed));
          VEIL_ASSIGN_OR_RETURN(state->secagg,
                                SecAggClient::Create(state->setup, state->id, std::move(key), *o.rng));
          VEIL_ASSIGN_OR_RETURN(const AdvertiseKeys adv, state->secagg->Advertise());
          result.set_advertise(BytesToString(Serialize(adv)));
        } else {
          result.set_contribution(EncodeDoubles(state->contribution.plain));
        }
        answer = result.SerializeAsString();
        return absl::OkStatus();
      }();
      // The gate's refusal (purpose, role, budget) ends the site's participation: its data may not be used.
      if (trainer_refused) return problem;
    } else {
      if (!state.has_value() || state->round != h.round() || state->failed || state->secagg == nullptr) {
        continue;  // a task for a round this site is not (or no longer) part of
      }
      SecAggClient& client = *state->secagg;
      problem = [&]() -> absl::Status {
        switch (h.phase()) {
          case wire::PHASE_SHARE_KEYS: {
            VEIL_ASSIGN_OR_RETURN(const KeyDirectory dir, ParseKeyDirectory(AsBytes(task->payload)));
            VEIL_ASSIGN_OR_RETURN(const ShareKeys m, client.ShareKeysRound(dir));
            answer = BytesToString(Serialize(m));
            break;
          }
          case wire::PHASE_MASKED_INPUT: {
            VEIL_ASSIGN_OR_RETURN(const ShareBundle b, ParseShareBundle(AsBytes(task->payload)));
            VEIL_ASSIGN_OR_RETURN(const MaskedInput m, client.MaskInput(b, state->contribution.quantized));
            answer = BytesToString(Serialize(m));
            break;
          }
          case wire::PHASE_CONSISTENCY: {
            VEIL_ASSIGN_OR_RETURN(const UnmaskRequest r, ParseUnmaskRequest(AsBytes(task->payload)));
            VEIL_ASSIGN_OR_RETURN(const SurvivorSignature m, client.SignSurvivors(r));
            answer = BytesToString(Serialize(m));
            break;
          }
          case wire::PHASE_UNMASK: {
            VEIL_ASSIGN_OR_RETURN(const ConsistencyProof p, ParseConsistencyProof(AsBytes(task->payload)));
            VEIL_ASSIGN_OR_RETURN(const UnmaskResponse m, client.Unmask(p));
            answer = BytesToString(Serialize(m));
            break;
          }
          default:
            return absl::InvalidArgumentError("unknown phase");
        }
        return absl::OkStatus();
      }();
    }
    if (!problem.ok()) {
      log(absl::StrCat("round ", h.round() + 1, ", ", PhaseName(h.phase()),
                       ": not taking part: ", problem.message()));
      if (state.has_value()) state->failed = true;
      continue;
    }
    if (!answer.has_value()) continue;

    // Upload, retrying transient failures until the coordinator answers.
    for (;;) {
      absl::Status s = conn.Submit(h, *answer);
      if (s.ok()) break;
      if (s.code() == absl::StatusCode::kNotFound) {
        conn.Forget();
        break;
      }
      if (!IsTransient(s)) {
        log(absl::StrCat("round ", h.round() + 1, ", ", PhaseName(h.phase()), ": ", s.message()));
        if (state.has_value()) state->failed = true;
        break;
      }
      VEIL_RETURN_IF_ERROR(wait(s));
    }
    if (state.has_value()) {
      state->report.phases.push_back({PhaseName(h.phase()), absl::ToDoubleSeconds(absl::Now() - task_start),
                                      conn.sent() - sent0, conn.received() - received0});
    }
    if (o.on_submitted && !o.on_submitted(h.round(), h.phase()))
      return absl::CancelledError("stopped by on_submitted");
  }
}

}  // namespace veil::fl
