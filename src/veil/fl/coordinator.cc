#include "veil/fl/coordinator.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "veil/base/bytes.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/fl/checkpoint.h"
#include "veil/fl/distributed_dp.h"
#include "veil/fl/dp_fedavg.h"
#include "veil/fl/messages.h"
#include "veil/fl/quantize.h"
#include "veil/fl/rpc.h"
#include "veil/fl/secagg.h"
#include "veil/fl/seeded_random.h"
#include "veil/fl/strategy.h"
#include "veil/ml/metrics.h"
#include "veil/table/csv_reader.h"

namespace veil::fl {

using base::AsBytes;
using base::BytesToString;

namespace {

using Json = nlohmann::ordered_json;

// A task the coordinator hands one session: what NextTask streams to it.
struct Task {
  uint64_t id = 0;
  uint64_t round = 0;
  wire::Phase phase = wire::PHASE_WAIT;
  std::shared_ptr<const std::string> payload;
  bool needs_answer = false;
};

// A connected site, as the round loop sees it.
struct Member {
  std::string site;
  std::string session;
  SiteIdentity identity;
};

// The state shared by the RPC handlers (gRPC's threads) and the round loop: sessions, their current task and
// its answer. Every method is thread-safe.
class Hub {
 public:
  explicit Hub(absl::Duration poll) : poll_(poll) {}

  // A new session for the site (an older one of the same site is retired: its tasks are unanswerable).
  std::string Join(const SiteIdentity& identity) {
    absl::StatusOr<std::vector<uint8_t>> id = crypto::RandomBytes(16, crypto::SecureRandom());
    const std::string session = id.ok() ? base::HexEncode(*id) : absl::StrCat("fallback-", ++fallback_);
    absl::MutexLock lock(&mu_);
    auto old = site_session_.find(identity.site);
    if (old != site_session_.end()) {
      auto it = sessions_.find(old->second);
      if (it != sessions_.end()) it->second.retired = true;
    }
    Session& joined = sessions_.emplace(session, Session(identity, absl::Now())).first->second;
    site_session_[identity.site] = session;
    if (finished_payload_ != nullptr) {
      // The run is over (a site that rejoined while the coordinator waits for the others to fetch it).
      PostLocked(joined, finished_round_, wire::PHASE_FINISHED, finished_payload_, false);
      joined.finish_deadline = std::min(absl::Now() + finish_live_wait_, finish_cap_);
    }
    // Forget retired sessions nobody is waiting on.
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second.retired && it->second.active_polls == 0) {
        sessions_.erase(it++);
      } else {
        ++it;
      }
    }
    return session;
  }

  // NextTask: the session's first queued task newer than last_task (which acknowledges the tasks up to it),
  // else waits up to the poll interval (or until the call is cancelled) and answers PHASE_WAIT. Errors:
  // NotFound for an unknown or replaced session (the site joins again); Unavailable once the coordinator
  // stops (the site retries: a restarted coordinator resumes the run).
  absl::StatusOr<Task> Wait(const std::string& session, const std::string& peer_site, uint64_t last_task,
                            grpc::ServerContext* ctx) {
    absl::MutexLock lock(&mu_);
    VEIL_ASSIGN_OR_RETURN(Session * s, Find(session, peer_site));
    while (!s->queue.empty() && s->queue.front().id <= last_task) s->queue.pop_front();
    ++s->active_polls;
    s->last_seen = absl::Now();
    const absl::Time deadline = absl::Now() + poll_;
    const auto ready = [&]() {
      mu_.AssertHeld();
      return stopped_ || s->retired || !s->queue.empty();
    };
    while (!ready() && absl::Now() < deadline && !ctx->IsCancelled()) {
      // Wake at least every 250 ms to notice a cancelled call (a gone peer).
      mu_.AwaitWithDeadline(absl::Condition(&ready),
                            std::min(deadline, absl::Now() + absl::Milliseconds(250)));
    }
    --s->active_polls;
    s->last_seen = absl::Now();
    if (stopped_) return absl::UnavailableError("the coordinator is shutting down");
    if (s->retired) return absl::NotFoundError("session replaced by a newer one of the same site");
    if (!s->queue.empty()) return s->queue.front();
    Task wait;
    wait.phase = wire::PHASE_WAIT;
    wait.payload = std::make_shared<const std::string>();
    return wait;
  }

  void Delivered(const std::string& session, uint64_t task) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session);
    if (it != sessions_.end()) it->second.delivered = std::max(it->second.delivered, task);
  }

  // Submit: the answer to the session's open task. A repeated identical answer (a retried upload) is
  // accepted again; anything else is refused with the reason.
  absl::Status Submit(const std::string& session, const std::string& peer_site, const wire::Header& h,
                      std::string payload) {
    absl::MutexLock lock(&mu_);
    VEIL_ASSIGN_OR_RETURN(Session * s, Find(session, peer_site));
    s->last_seen = absl::Now();
    if (s->open.id == 0 || s->open.id != h.task())
      return absl::FailedPreconditionError(
          absl::StrCat("task ", h.task(), " is not open (the phase closed or the site was dropped)"));
    if (s->open.round != h.round() || s->open.phase != h.phase())
      return absl::InvalidArgumentError("the answer's round or phase is not its task's");
    if (s->answer.has_value()) {
      if (s->answer_digest == h.sha256()) return absl::OkStatus();
      return absl::AlreadyExistsError(absl::StrCat("task ", h.task(), " was already answered"));
    }
    s->answer = std::move(payload);
    s->answer_digest = h.sha256();
    return absl::OkStatus();
  }

  // Sites with a session that is polling now or polled within a poll interval and 2 s, sorted by name.
  std::vector<Member> Live() {
    absl::MutexLock lock(&mu_);
    std::vector<Member> out;
    const absl::Time now = absl::Now();
    const absl::Duration window = poll_ + absl::Seconds(2);
    for (const auto& [id, s] : sessions_) {
      if (s.retired) continue;
      if (s.active_polls > 0 || now - s.last_seen < window) out.push_back({s.identity.site, id, s.identity});
    }
    std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.site < b.site; });
    return out;
  }

  // Queues a task for the session. A task that needs an answer becomes the open one (the previous open task
  // can no longer be answered); one that needs none (ROUND_OVER, FINISHED) closes the open task.
  uint64_t Post(const std::string& session, uint64_t round, wire::Phase phase,
                std::shared_ptr<const std::string> payload, bool needs_answer) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end() || it->second.retired) return next_task_++;  // gone: never answered
    return PostLocked(it->second, round, phase, std::move(payload), needs_answer);
  }

  // The end of the run: posts FINISHED (`payload`) to every session, and to any that joins from now on, and
  // sets how long AwaitFinished waits for each to fetch it: `live_wait` for a session polling now (or
  // joining later); `grace` for one not polling but seen within the last `grace` (between two calls, in
  // reconnect backoff, or gone: the coordinator cannot tell which, so it waits); none for the rest (gone
  // since an earlier round), which still get it if they poll while the coordinator waits for the others.
  void Finish(uint64_t round, std::shared_ptr<const std::string> payload, absl::Duration live_wait,
              absl::Duration grace) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    finished_round_ = round;
    finished_payload_ = payload;
    finish_live_wait_ = live_wait;
    finish_cap_ = now + std::max(live_wait, grace);
    for (auto& [id, s] : sessions_) {
      if (s.retired) continue;
      PostLocked(s, round, wire::PHASE_FINISHED, payload, false);
      if (s.active_polls > 0) {
        s.finish_deadline = now + live_wait;
      } else if (now - s.last_seen < grace) {
        s.finish_deadline = now + grace;
      }
    }
  }

  // Waits until every session given a deadline by Finish fetched FINISHED or passed its deadline, or the
  // hub stops.
  void AwaitFinished() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      // The latest deadline of a session still to fetch it: waiting less could miss that one.
      int pending = 0;
      absl::Time until = absl::InfinitePast();
      for (const auto& [id, s] : sessions_) {
        if (FinishPending(s)) {
          ++pending;
          until = std::max(until, s.finish_deadline);
        }
      }
      if (pending == 0 || stopped_ || absl::Now() >= until) return;
      // Wake when one of them fetched it (or a new one joined), to recompute the deadline.
      const auto changed = [&]() {
        mu_.AssertHeld();
        if (stopped_) return true;
        int now_pending = 0;
        for (const auto& [id, s] : sessions_) now_pending += FinishPending(s) ? 1 : 0;
        return now_pending != pending;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), until);
    }
  }

  // Waits until every (session, task) is answered, the deadline passes, or the hub stops; returns the
  // answers received (session -> payload). A retired session cannot answer, so it is not waited for.
  std::map<std::string, std::string> Collect(const std::map<std::string, uint64_t>& tasks,
                                             absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    const auto done = [&]() {
      mu_.AssertHeld();
      if (stopped_) return true;
      for (const auto& [session, task] : tasks) {
        auto it = sessions_.find(session);
        if (it == sessions_.end() || it->second.retired) continue;
        if (it->second.open.id != task || !it->second.answer.has_value()) return false;
      }
      return true;
    };
    mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
    std::map<std::string, std::string> out;
    for (const auto& [session, task] : tasks) {
      auto it = sessions_.find(session);
      if (it == sessions_.end() || it->second.retired || it->second.open.id != task ||
          !it->second.answer.has_value())
        continue;
      out[session] = *it->second.answer;
    }
    return out;
  }

  // Sleeps until the deadline or Stop().
  void SleepUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(&stopped_), deadline);
  }

  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  bool stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

  void AddSent(uint64_t n) { sent_ += n; }
  void AddReceived(uint64_t n) { received_ += n; }
  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }

 private:
  struct Session {
    Session(SiteIdentity id, absl::Time now) : identity(std::move(id)), last_seen(now) {}
    SiteIdentity identity;
    absl::Time last_seen;
    bool retired = false;
    std::deque<Task> queue;  // posted, not yet acknowledged by a later NextTask
    Task open;               // the task whose answer the round loop collects (id 0: none)
    uint64_t posted = 0;     // the last task id posted
    uint64_t delivered = 0;  // the last task id streamed to the site
    std::optional<std::string> answer;
    std::string answer_digest;
    int active_polls = 0;
    absl::Time finish_deadline = absl::InfinitePast();  // how long AwaitFinished waits for it (Finish)
  };

  uint64_t PostLocked(Session& s, uint64_t round, wire::Phase phase,
                      std::shared_ptr<const std::string> payload, bool needs_answer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t id = next_task_++;
    Task t{id, round, phase, std::move(payload), needs_answer};
    s.queue.push_back(t);
    // A site that stopped fetching must not make the queue grow without bound.
    while (s.queue.size() > kMaxQueued) s.queue.pop_front();
    s.open = needs_answer ? t : Task{};
    s.answer.reset();
    s.answer_digest.clear();
    s.posted = id;
    return id;
  }

  // A session AwaitFinished still waits for: not retired, with a finish deadline not yet passed, and not
  // yet sent its last task (FINISHED).
  static bool FinishPending(const Session& s) {
    return !s.retired && s.finish_deadline > absl::Now() && s.delivered < s.posted;
  }

  // The session, checked against the certificate of the call (TLS): a site cannot act under another
  // site's session id.
  absl::StatusOr<Session*> Find(const std::string& session, const std::string& peer_site)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return absl::NotFoundError("unknown session: join again");
    if (!peer_site.empty() && peer_site != it->second.identity.site)
      return absl::PermissionDeniedError("the session belongs to another site");
    return &it->second;
  }

  static constexpr size_t kMaxQueued = 16;
  const absl::Duration poll_;
  absl::Mutex mu_;
  // node_hash_map: a NextTask handler keeps a pointer to its session while it waits (the mutex released),
  // and other sessions join meanwhile; the nodes must not move.
  absl::node_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> site_session_ ABSL_GUARDED_BY(mu_);
  uint64_t next_task_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // After Finish: the FINISHED task for sessions that join later, how long to wait for them, and the cap.
  uint64_t finished_round_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const std::string> finished_payload_ ABSL_GUARDED_BY(mu_);
  absl::Duration finish_live_wait_ ABSL_GUARDED_BY(mu_);
  absl::Time finish_cap_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> fallback_{0};
  std::atomic<uint64_t> sent_{0}, received_{0};
};

// The site name of a TLS call (its certificate's CN, verified by the handshake against the CA), or "" on a
// plaintext server.
std::string PeerSite(const grpc::ServerContext& ctx, bool tls) {
  if (!tls) return "";
  const std::vector<grpc::string_ref> cn = ctx.auth_context()->FindPropertyValues("x509_common_name");
  // A TLS call always has one (the server requires a client certificate); "?" never matches a session.
  return cn.empty() ? std::string("?") : std::string(cn.front().data(), cn.front().size());
}

class Service final : public wire::Federation::Service {
 public:
  Service(Hub& hub, const CertificateAuthority& ca, bool tls, std::vector<std::string> allowed,
          const TransportOptions& transport, std::string run_id, std::function<void(const std::string&)> log)
      : hub_(hub),
        ca_(ca),
        tls_(tls),
        allowed_(std::move(allowed)),
        transport_(transport),
        run_id_(std::move(run_id)),
        log_(std::move(log)) {}

  grpc::Status Join(grpc::ServerContext* ctx, const wire::JoinRequest* req, wire::JoinReply* reply) override {
    hub_.AddReceived(req->ByteSizeLong());
    if (req->protocol_version() != kProtocolVersion)
      return ToGrpc(
          absl::FailedPreconditionError(absl::StrCat("protocol version ", req->protocol_version(),
                                                     " is not this coordinator's (", kProtocolVersion, ")")));
    const std::vector<uint8_t> cert(req->certificate().begin(), req->certificate().end());
    absl::StatusOr<SiteIdentity> id = ca_.VerifySite(cert, req->site());
    if (!id.ok()) {
      Log(absl::StrCat("refused a site claiming to be \"", req->site().substr(0, 64),
                       "\": ", id.status().message()));
      return ToGrpc(id.status());
    }
    if (tls_ && PeerCertificate(*ctx->auth_context()) != cert)
      return ToGrpc(
          absl::PermissionDeniedError("the certificate in Join is not the one of the TLS handshake"));
    if (!allowed_.empty() && std::find(allowed_.begin(), allowed_.end(), id->site) == allowed_.end()) {
      Log(absl::StrCat("refused site \"", id->site, "\": not in the configuration's list of sites"));
      return ToGrpc(absl::PermissionDeniedError(
          absl::StrCat("site \"", id->site, "\" is not part of this federation's configuration")));
    }
    reply->set_session(hub_.Join(*id));
    reply->set_run_id(run_id_);
    reply->set_poll_millis(static_cast<uint32_t>(absl::ToInt64Milliseconds(transport_.poll)));
    hub_.AddSent(reply->ByteSizeLong());
    Log(absl::StrCat("site \"", id->site, "\" joined"));
    return grpc::Status::OK;
  }

  grpc::Status NextTask(grpc::ServerContext* ctx, const wire::TaskRequest* req,
                        grpc::ServerWriter<wire::Chunk>* writer) override {
    hub_.AddReceived(req->ByteSizeLong());
    absl::StatusOr<Task> task = hub_.Wait(req->session(), PeerSite(*ctx, tls_), req->last_task(), ctx);
    if (!task.ok()) return ToGrpc(task.status());
    wire::Header h;
    h.set_task(task->id);
    h.set_round(task->round);
    h.set_phase(task->phase);
    absl::StatusOr<uint64_t> sent = SendPayload(*writer, h, *task->payload);
    if (!sent.ok()) return ToGrpc(sent.status());
    hub_.AddSent(*sent);
    hub_.Delivered(req->session(), task->id);
    return grpc::Status::OK;
  }

  grpc::Status Submit(grpc::ServerContext* ctx, grpc::ServerReader<wire::Chunk>* reader,
                      wire::SubmitReply* reply) override {
    PayloadAssembler assembler(transport_.max_payload_bytes);
    wire::Chunk chunk;
    absl::Status s;
    while (reader->Read(&chunk)) {
      if (s.ok()) s = assembler.Add(chunk);  // keep reading after an error, so the client gets the reply
    }
    hub_.AddReceived(assembler.wire_bytes());
    absl::StatusOr<std::string> payload = s.ok() ? assembler.Finish() : absl::StatusOr<std::string>(s);
    if (payload.ok()) {
      s = hub_.Submit(assembler.header().session(), PeerSite(*ctx, tls_), assembler.header(),
                      *std::move(payload));
    } else {
      s = payload.status();
    }
    reply->set_accepted(s.ok());
    if (!s.ok()) reply->set_reason(std::string(s.message()));
    hub_.AddSent(reply->ByteSizeLong());
    // An unknown session is an error the client acts on (it joins again); the rest is in the reply.
    if (s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kPermissionDenied)
      return ToGrpc(s);
    return grpc::Status::OK;
  }

 private:
  void Log(const std::string& line) {
    if (log_) log_(line);
  }

  Hub& hub_;
  const CertificateAuthority& ca_;
  const bool tls_;
  const std::vector<std::string> allowed_;
  const TransportOptions transport_;
  const std::string run_id_;
  std::function<void(const std::string&)> log_;
};

std::shared_ptr<const std::string> Shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// A round that cannot go on: the reason, for the report and the members.
struct RoundAbort {
  std::string reason;
};

}  // namespace

Json RoundReport::ToJson() const {
  Json phases_json = Json::array();
  for (const PhaseReport& p : phases) {
    phases_json.push_back({{"name", p.name},
                           {"seconds", p.seconds},
                           {"bytes_sent", p.bytes_sent},
                           {"bytes_received", p.bytes_received},
                           {"answers", p.answers}});
  }
  Json j = {{"round", round},           {"aborted", aborted},
            {"reason", reason},         {"selected", selected},
            {"included", included},     {"seconds", seconds},
            {"bytes_sent", bytes_sent}, {"bytes_received", bytes_received},
            {"phases", phases_json}};
  if (spent.has_value()) j["spent"] = {{"epsilon", spent->epsilon}, {"delta", spent->delta}};
  if (clip_norm > 0) j["clip_norm"] = clip_norm;
  if (eval_loss.has_value()) j["eval_loss"] = *eval_loss;
  if (eval_accuracy.has_value()) j["eval_accuracy"] = *eval_accuracy;
  return j;
}

absl::StatusOr<RoundReport> RoundReport::FromJson(const Json& j) {
  RoundReport r;
  try {
    r.round = j.at("round").get<int64_t>();
    r.aborted = j.at("aborted").get<bool>();
    r.reason = j.at("reason").get<std::string>();
    r.selected = j.at("selected").get<std::vector<std::string>>();
    r.included = j.at("included").get<std::vector<std::string>>();
    r.seconds = j.at("seconds").get<double>();
    r.bytes_sent = j.at("bytes_sent").get<uint64_t>();
    r.bytes_received = j.at("bytes_received").get<uint64_t>();
    for (const Json& p : j.at("phases")) {
      r.phases.push_back({p.at("name").get<std::string>(), p.at("seconds").get<double>(),
                          p.at("bytes_sent").get<uint64_t>(), p.at("bytes_received").get<uint64_t>(),
                          p.at("answers").get<int>()});
    }
    if (j.contains("spent"))
      r.spent = dp::ApproxDp{j["spent"].at("epsilon").get<double>(), j["spent"].at("delta").get<double>()};
    if (j.contains("clip_norm")) r.clip_norm = j["clip_norm"].get<double>();
    if (j.contains("eval_loss")) r.eval_loss = j["eval_loss"].get<double>();
    if (j.contains("eval_accuracy")) r.eval_accuracy = j["eval_accuracy"].get<double>();
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat("round report: ", e.what()));
  }
  return r;
}

std::string RoundReport::Summary() const {
  std::string s = absl::StrFormat("round %d: ", round + 1);
  if (aborted) {
    absl::StrAppend(&s, "ABORTED (", reason, ")");
  } else {
    absl::StrAppendFormat(&s, "%d/%d sites in the aggregate", included.size(), selected.size());
  }
  absl::StrAppendFormat(&s, "; %.3f s, sent %d B, received %d B", seconds, bytes_sent, bytes_received);
  for (const PhaseReport& p : phases) {
    absl::StrAppendFormat(&s, "; %s %.3f s (%d answers, %d B out, %d B in)", p.name, p.seconds, p.answers,
                          p.bytes_sent, p.bytes_received);
  }
  if (spent.has_value())
    absl::StrAppendFormat(&s, "; epsilon %.4g (delta %.3g)", spent->epsilon, spent->delta);
  if (eval_accuracy.has_value()) absl::StrAppendFormat(&s, "; eval accuracy %.4f", *eval_accuracy);
  if (eval_loss.has_value()) absl::StrAppendFormat(&s, ", loss %.4f", *eval_loss);
  return s;
}

std::string FederatedModelJson(const ModelSpec& spec, const std::vector<double>& params,
                               const Json& federated) {
  absl::StatusOr<ml::Model> model = ml::Model::Create(spec.ModelConfig());
  std::string model_json;
  if (model.ok() && model->num_params() == static_cast<int64_t>(params.size())) {
    for (size_t i = 0; i < params.size(); ++i) model->params()[static_cast<Eigen::Index>(i)] = params[i];
    model_json = model->ToJson();
  }
  const Json doc = {{"format", "veil-registered-model"},
                    {"version", 1},
                    {"target", spec.target},
                    {"classes", spec.classes},
                    {"pipeline", spec.pipeline.ToJson()},
                    {"model", model_json},
                    {"federated", federated}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

class Coordinator::Impl {
 public:
  explicit Impl(Options o) : o_(std::move(o)), c_(o_.config), hub_(c_.transport.poll) {}

  absl::Status Init();
  absl::StatusOr<RunReport> Run();
  void Stop() {
    hub_.Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  int port() const { return port_; }
  ~Impl() {
    // Long polls return at once once the hub stops; the grace lets calls already answered (a FINISHED task
    // streamed to a site) complete instead of being cancelled under the site, which would then look for
    // a coordinator that is gone until its give-up.
    hub_.Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

 private:
  void Log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }
  absl::StatusOr<std::vector<Member>> SelectCohort(int64_t round, RoundReport& report);
  RoundPlan Plan(int64_t round) const;
  // One round; a RoundAbort as the status payload is a clean abort.
  absl::Status RunRound(int64_t round, RoundReport& report);
  absl::Status Checkpoint(int64_t next_round);
  void Evaluate(RoundReport& report);

  Options o_;
  const CoordinatorConfig& c_;
  Hub hub_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::unique_ptr<SeededRandom> seeded_;
  base::RandomSource* rng_ = nullptr;
  std::vector<double> model_;
  int64_t num_params_ = 0;
  std::optional<Strategy> strategy_;
  std::optional<DpFedAvg> dp_;
  double distributed_rho_ = 0;  // zCDP spent so far under distributed DP
  int64_t next_round_ = 0;
  int64_t resumed_at_ = 0;
  std::vector<RoundReport> history_;
  std::optional<LabeledData> eval_;
};

absl::Status Coordinator::Impl::Init() {
  if (o_.env == nullptr) return absl::InvalidArgumentError("coordinator: no Env");
  VEIL_RETURN_IF_ERROR(c_.transport.Validate());
  VEIL_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Load(o_.ca_pem));
  ca_ = std::make_unique<CertificateAuthority>(std::move(ca));
  if (c_.seed.has_value()) {
    seeded_ = std::make_unique<SeededRandom>(*c_.seed, "coordinator");
    rng_ = seeded_.get();
  } else {
    if (o_.rng == nullptr) return absl::InvalidArgumentError("coordinator: no random source");
    rng_ = o_.rng;
  }

  // The model and the server's state, fresh or from the checkpoint.
  VEIL_ASSIGN_OR_RETURN(ml::Model model, ml::Model::Create(c_.model.ModelConfig()));
  num_params_ = model.num_params();
  VEIL_ASSIGN_OR_RETURN(Strategy strategy, Strategy::Create(c_.strategy, static_cast<size_t>(num_params_)));
  strategy_.emplace(std::move(strategy));
  if (c_.dp.mode == DpMode::kCentral) {
    VEIL_ASSIGN_OR_RETURN(DpFedAvg dp, DpFedAvg::Create(c_.dp.central));
    dp_.emplace(std::move(dp));
  }
  std::optional<CoordinatorCheckpoint> checkpoint;
  if (!c_.checkpoint_dir.empty()) {
    VEIL_ASSIGN_OR_RETURN(checkpoint, ReadCheckpoint(*o_.env, c_.checkpoint_dir));
  }
  if (checkpoint.has_value()) {
    if (checkpoint->config_digest != c_.digest)
      return absl::FailedPreconditionError(absl::StrCat(
          CheckpointPath(c_.checkpoint_dir),
          " was written by a run with another configuration; resume with that configuration or remove the "
          "checkpoint to start over"));
    if (checkpoint->model.size() != static_cast<size_t>(num_params_))
      return absl::DataLossError("checkpoint: the model has the wrong number of parameters");
    model_ = checkpoint->model;
    VEIL_RETURN_IF_ERROR(strategy_->RestoreState(checkpoint->strategy_state));
    if (dp_.has_value()) VEIL_RETURN_IF_ERROR(dp_->RestoreState(checkpoint->dp_state));
    if (c_.dp.mode == DpMode::kDistributed) {
      std::vector<double> rho;
      VEIL_ASSIGN_OR_RETURN(rho, DecodeDoubles(checkpoint->dp_state, 1, "checkpoint: distributed DP state"));
      distributed_rho_ = rho[0];
    }
    if (seeded_ != nullptr) VEIL_RETURN_IF_ERROR(seeded_->RestoreState(checkpoint->rng_state));
    const Json history = Json::parse(checkpoint->history_json, nullptr, false);
    if (history.is_discarded() || !history.is_array()) return absl::DataLossError("checkpoint: history");
    for (const Json& r : history) {
      VEIL_ASSIGN_OR_RETURN(RoundReport report, RoundReport::FromJson(r));
      history_.push_back(std::move(report));
    }
    next_round_ = static_cast<int64_t>(checkpoint->next_round);
    resumed_at_ = next_round_;
    Log(absl::StrCat("resuming from ", CheckpointPath(c_.checkpoint_dir), " at round ", next_round_ + 1,
                     " of ", c_.rounds));
  } else {
    // Hidden layers start random (from the coordinator's source); linear models at zero.
    if (!c_.model.hidden.empty()) VEIL_RETURN_IF_ERROR(model.InitializeRandom(*rng_));
    model_.assign(model.params().data(), model.params().data() + model.params().size());
  }

  if (!c_.evaluation_csv.empty()) {
    VEIL_ASSIGN_OR_RETURN(const table::Table t, table::ReadCsv(*o_.env, c_.evaluation_csv));
    absl::StatusOr<LabeledData> eval = c_.model.Encode(t);
    if (!eval.ok())
      return absl::InvalidArgumentError(absl::StrCat(c_.evaluation_csv, ": ", eval.status().message()));
    eval_ = *std::move(eval);
  }

  // The server.
  absl::StatusOr<std::vector<uint8_t>> run = crypto::RandomBytes(8, crypto::SecureRandom());
  service_ = std::make_unique<Service>(hub_, *ca_, o_.credentials != nullptr, c_.sites, c_.transport,
                                       run.ok() ? base::HexEncode(*run) : "run", o_.log);
  grpc::ServerBuilder builder;
  ConfigureServer(c_.transport, builder);
  builder.AddListeningPort(c_.listen, ServerCredentials(o_.credentials), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c_.listen));
  return absl::OkStatus();
}

RoundPlan Coordinator::Impl::Plan(int64_t round) const {
  RoundPlan p;
  p.round = static_cast<uint64_t>(round);
  p.rounds = c_.rounds;
  p.model = c_.model;
  p.local = c_.local;
  p.proximal_mu = c_.strategy.proximal_mu;
  p.secure = c_.secagg.enabled;
  p.dp = c_.dp.mode;
  p.max_examples = c_.secagg.max_examples;
  p.clip = c_.secagg.clip;
  p.seeded = c_.seed.has_value();
  if (c_.dp.mode == DpMode::kCentral) {
    p.central = c_.dp.central;
    p.clip_norm = dp_->clip_norm();
  }
  if (c_.dp.mode == DpMode::kDistributed) {
    p.clip_norm = c_.dp.clip_norm;
    p.delta = c_.dp.delta;
  }
  return p;
}

absl::StatusOr<std::vector<Member>> Coordinator::Impl::SelectCohort(int64_t round, RoundReport& report) {
  // Wait for clients_per_round sites (or the join deadline).
  const absl::Time deadline = absl::Now() + c_.deadlines.join;
  std::vector<Member> live = hub_.Live();
  while (static_cast<int64_t>(live.size()) < c_.clients_per_round && absl::Now() < deadline) {
    hub_.SleepUntil(std::min(deadline, absl::Now() + absl::Milliseconds(100)));
    if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
    live = hub_.Live();
  }
  std::vector<Member> chosen;
  if (c_.dp.mode == DpMode::kCentral) {
    // Poisson sampling over the whole federation (the accountant's assumption): the configured sites, in
    // order (or total_clients anonymous slots filled by the live sites in name order).
    DpFedAvgOptions o = c_.dp.central;
    VEIL_ASSIGN_OR_RETURN(const std::vector<int64_t> sample, SampleClients(o, *rng_));
    for (int64_t i : sample) {
      if (!c_.sites.empty()) {
        const std::string& site = c_.sites[static_cast<size_t>(i)];
        auto it = std::find_if(live.begin(), live.end(), [&](const Member& m) { return m.site == site; });
        if (it != live.end()) chosen.push_back(*it);
      } else if (i < static_cast<int64_t>(live.size())) {
        chosen.push_back(live[static_cast<size_t>(i)]);
      }
    }
  } else if (static_cast<int64_t>(live.size()) > c_.clients_per_round) {
    // A uniform subset: a partial Fisher-Yates shuffle, then sorted by name.
    for (int64_t i = 0; i < c_.clients_per_round; ++i) {
      VEIL_ASSIGN_OR_RETURN(const uint64_t j,
                            crypto::UniformUint64(*rng_, static_cast<uint64_t>(live.size()) - i));
      std::swap(live[static_cast<size_t>(i)], live[static_cast<size_t>(i + static_cast<int64_t>(j))]);
    }
    chosen.assign(live.begin(), live.begin() + c_.clients_per_round);
    std::sort(chosen.begin(), chosen.end(), [](const Member& a, const Member& b) { return a.site < b.site; });
  } else {
    chosen = live;
  }
  for (const Member& m : chosen) report.selected.push_back(m.site);
  (void)round;
  return chosen;
}

absl::Status Coordinator::Impl::RunRound(int64_t round, RoundReport& report) {
  const absl::Time round_start = absl::Now();
  const uint64_t sent0 = hub_.sent(), received0 = hub_.received();
  VEIL_ASSIGN_OR_RETURN(std::vector<Member> members, SelectCohort(round, report));
  RoundPlan plan = Plan(round);
  if (c_.dp.mode == DpMode::kCentral) report.clip_norm = plan.clip_norm;
  const int64_t length = plan.ContributionLength(num_params_);
  const size_t n = members.size();

  // Phases: timing and bytes.
  struct Open {
    std::string name;
    absl::Time start;
    uint64_t sent, received;
  };
  std::optional<Open> open;
  const auto begin = [&](const std::string& name) {
    open = Open{name, absl::Now(), hub_.sent(), hub_.received()};
  };
  const auto end = [&](int answers) {
    report.phases.push_back({open->name, absl::ToDoubleSeconds(absl::Now() - open->start),
                             hub_.sent() - open->sent, hub_.received() - open->received, answers});
    open.reset();
  };
  const auto finish = [&](bool aborted, const std::string& reason) {
    if (open.has_value()) end(0);
    report.aborted = aborted;
    report.reason = reason;
    wire::RoundOver over;
    over.set_round(static_cast<uint64_t>(round));
    over.set_aborted(aborted);
    over.set_reason(reason);
    over.set_included(static_cast<uint32_t>(report.included.size()));
    auto payload = Shared(over.SerializeAsString());
    for (const Member& m : members) hub_.Post(m.session, round, wire::PHASE_ROUND_OVER, payload, false);
    report.seconds = absl::ToDoubleSeconds(absl::Now() - round_start);
    report.bytes_sent = hub_.sent() - sent0;
    report.bytes_received = hub_.received() - received0;
  };
  const auto abort = [&](const std::string& reason) {
    finish(true, reason);
    return absl::OkStatus();
  };

  const int64_t quorum = c_.min_clients;
  if (static_cast<int64_t>(n) < quorum || (c_.secagg.enabled && n < 3))
    return abort(absl::StrCat(n, " sites available, fewer than min_clients = ", quorum));

  // Secure aggregation: the round's configuration (public; every member checks it).
  std::shared_ptr<const SecAggSetup> setup;
  std::optional<Quantizer> quantizer;
  wire::SecAggParams params;
  if (c_.secagg.enabled) {
    SecAggConfig sc;
    sc.round_id = static_cast<uint64_t>(round);
    sc.num_clients = static_cast<uint32_t>(n);
    sc.ring_bits = c_.secagg.ring_bits;
    sc.vector_length = static_cast<uint32_t>(length);
    sc.threat_model = c_.secagg.threat_model;
    sc.degree = c_.secagg.degree != 0 && c_.secagg.degree < n - 1 ? c_.secagg.degree : 0;
    const uint32_t k = sc.degree == 0 ? static_cast<uint32_t>(n - 1) : sc.degree;
    sc.threshold = c_.secagg.threshold != 0 ? std::min(c_.secagg.threshold, k) : k / 2 + 1;
    sc.min_clients = std::max<uint32_t>(static_cast<uint32_t>(quorum), sc.threshold);
    if (sc.min_clients > n)
      return abort(absl::StrCat("the threshold ", sc.threshold, " exceeds the ", n, " sites"));
    absl::Status drawn = rng_->Fill(sc.graph_seed);
    if (!drawn.ok()) return drawn;
    std::vector<crypto::Ed25519PublicKey> ids;
    for (const Member& m : members) ids.push_back(m.identity.key);
    absl::StatusOr<std::shared_ptr<const SecAggSetup>> s = SecAggSetup::Create(sc, ids);
    if (!s.ok()) return abort(absl::StrCat("secure aggregation: ", s.status().message()));
    setup = *s;

    QuantizationOptions q;
    q.clip = c_.dp.mode == DpMode::kNone ? c_.secagg.clip : plan.clip_norm;
    q.max_clients = static_cast<uint32_t>(n);
    q.ring_bits = c_.secagg.ring_bits;
    if (c_.dp.mode == DpMode::kDistributed) {
      // The scale, then the noise for its sensitivity; halve the scale until the noise fits the ring.
      VEIL_ASSIGN_OR_RETURN(Quantizer base, Quantizer::Create(q));
      double scale = base.scale();
      for (;;) {
        VEIL_ASSIGN_OR_RETURN(const double sens, QuantizedL2Sensitivity(c_.dp.clip_norm, scale,
                                                                        static_cast<uint64_t>(num_params_)));
        DistributedDpOptions d{.sigma = c_.dp.noise_multiplier * sens, .min_clients = sc.min_clients};
        VEIL_ASSIGN_OR_RETURN(const double sd, SumNoiseStddev(d, static_cast<uint32_t>(n)));
        QuantizationOptions qs = q;
        qs.scale = scale;
        qs.noise_stddev = sd;
        absl::StatusOr<Quantizer> fits = Quantizer::Create(qs);
        if (fits.ok()) {
          quantizer.emplace(*std::move(fits));
          plan.distributed = d;
          plan.l2_sensitivity = sens;
          params.set_noise_stddev(sd);
          break;
        }
        if (scale <= std::ldexp(1.0, -30))
          return abort("distributed DP: no quantization scale fits the ring");
        scale /= 2;
      }
    } else {
      VEIL_ASSIGN_OR_RETURN(Quantizer qz, Quantizer::Create(q));
      quantizer.emplace(std::move(qz));
      if (c_.dp.mode == DpMode::kCentral && c_.dp.central.adaptive_clipping) {
        // The clipped count B is read from the sum's last coordinate, sum_k float(C_t) b_k, by rounding
        // its quotient by C_t: exact only if the total error stays below C_t / 2. Each site's coordinate
        // is off by less than 1/s (stochastic rounding) plus C_t 2^-24 (the float cast). The configuration
        // guarantees this for every C_t the quantizer can resolve (ParseCoordinatorConfig); it still fails
        // when C_t has shrunk so far that the scale is capped at 2^30 (C_t below about n 2^-29).
        const double error = static_cast<double>(n) * (1 / quantizer->scale() + plan.clip_norm * 0x1p-24);
        if (!(error < plan.clip_norm / 2))
          return abort(absl::StrCat(
              "adaptive clipping: the clipped count cannot be recovered exactly from the secure sum at clip "
              "norm ",
              plan.clip_norm, " and scale ", quantizer->scale(),
              " (the clip norm is too small for the quantizer's largest scale)"));
      }
    }
    params.set_num_clients(sc.num_clients);
    params.set_ring_bits(sc.ring_bits);
    params.set_threshold(sc.threshold);
    params.set_min_clients(sc.min_clients);
    params.set_degree(sc.degree);
    params.set_active(sc.threat_model == SecAggThreatModel::kActive);
    params.set_graph_seed(std::string(sc.graph_seed.begin(), sc.graph_seed.end()));
    params.set_clip(quantizer->clip());
    params.set_scale(quantizer->scale());
  }

  // --- Train.
  begin("train");
  const std::string plan_json = plan.ToJson().dump();
  const std::string model_bytes = EncodeDoubles(model_);
  std::map<std::string, uint64_t> tasks;
  for (size_t i = 0; i < n; ++i) {
    wire::RoundStart start;
    start.set_round(static_cast<uint64_t>(round));
    start.set_client_id(static_cast<uint32_t>(i));
    start.set_plan_json(plan_json);
    start.set_model(model_bytes);
    if (setup != nullptr) {
      for (const Member& m : members) {
        wire::Member* w = start.add_roster();
        w->set_site(m.site);
        w->set_certificate(BytesToString(m.identity.der));
      }
      *start.mutable_secagg() = params;
    }
    tasks[members[i].session] =
        hub_.Post(members[i].session, round, wire::PHASE_TRAIN, Shared(start.SerializeAsString()), true);
  }
  std::map<std::string, std::string> answers = hub_.Collect(tasks, absl::Now() + c_.deadlines.train);
  if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
  const auto drop = [&](size_t i, const std::string& why) {
    Log(absl::StrCat("round ", round + 1, ": site \"", members[i].site, "\" dropped: ", why));
  };
  std::vector<int64_t> examples(n, 0);
  std::vector<std::optional<std::vector<double>>> plain(n);
  SecAggServer* server = nullptr;
  std::optional<SecAggServer> server_storage;
  if (setup != nullptr) {
    server_storage.emplace(setup);
    server = &*server_storage;
  }
  int valid = 0;
  for (size_t i = 0; i < n; ++i) {
    auto it = answers.find(members[i].session);
    if (it == answers.end()) {
      drop(i, "no answer before the train deadline");
      continue;
    }
    wire::TrainResult result;
    if (!result.ParseFromString(it->second)) {
      drop(i, "malformed TrainResult");
      continue;
    }
    if (c_.dp.mode == DpMode::kNone && server == nullptr) {
      if (result.examples() < 1 || result.examples() > (uint64_t{1} << 50)) {
        drop(i, "example count out of range");
        continue;
      }
      examples[i] = static_cast<int64_t>(result.examples());
    }
    if (server != nullptr) {
      absl::StatusOr<AdvertiseKeys> adv = ParseAdvertiseKeys(AsBytes(result.advertise()));
      absl::Status s = adv.ok() ? (adv->client_id == i ? server->ReceiveAdvertise(*adv)
                                                       : absl::PermissionDeniedError("wrong client id"))
                                : adv.status();
      if (!s.ok()) {
        drop(i, std::string(s.message()));
        continue;
      }
    } else {
      absl::StatusOr<std::vector<double>> v = DecodeDoubles(result.contribution(), length, "contribution");
      if (!v.ok()) {
        drop(i, std::string(v.status().message()));
        continue;
      }
      if (c_.dp.mode == DpMode::kCentral) {
        // The server sees plain contributions: it checks what the accountant relies on (norm <= C_t, the
        // clipped-count coordinate 0 or C_t), so one site cannot exceed its sensitivity.
        double norm2 = 0;
        for (int64_t j = 0; j < num_params_; ++j) norm2 += (*v)[j] * (*v)[j];
        const bool bit_ok =
            !c_.dp.central.adaptive_clipping || (*v)[num_params_] == 0 || (*v)[num_params_] == plan.clip_norm;
        if (!(std::sqrt(norm2) <= plan.clip_norm * (1 + 1e-9)) || !bit_ok) {
          drop(i, "contribution outside the clipping norm");
          continue;
        }
      }
      plain[i] = *std::move(v);
    }
    ++valid;
  }
  end(valid);

  // --- Secure aggregation.
  std::vector<double> sum;
  std::vector<size_t> included;
  if (server != nullptr) {
    const auto step = [&](const std::string& name, wire::Phase phase, const std::vector<uint32_t>& to,
                          const std::function<std::shared_ptr<const std::string>(uint32_t)>& payload_for,
                          absl::Duration deadline,
                          const std::function<absl::Status(uint32_t, const std::string&)>& receive) -> int {
      begin(name);
      std::map<std::string, uint64_t> t;
      for (uint32_t id : to)
        t[members[id].session] = hub_.Post(members[id].session, round, phase, payload_for(id), true);
      std::map<std::string, std::string> got = hub_.Collect(t, absl::Now() + deadline);
      int ok = 0;
      for (uint32_t id : to) {  // in id order: the result does not depend on arrival order
        auto it = got.find(members[id].session);
        if (it == got.end()) {
          drop(id, absl::StrCat("no answer before the ", name, " deadline"));
          continue;
        }
        absl::Status s = receive(id, it->second);
        if (!s.ok()) {
          drop(id, std::string(s.message()));
          continue;
        }
        ++ok;
      }
      end(ok);
      return ok;
    };
    absl::StatusOr<KeyDirectory> dir = server->FinishAdvertise();
    if (!dir.ok()) return abort(std::string(dir.status().message()));
    std::vector<uint32_t> u1;
    for (const AdvertiseKeys& a : dir->clients) u1.push_back(a.client_id);
    auto dir_bytes = Shared(BytesToString(Serialize(*dir)));
    step(
        "share_keys", wire::PHASE_SHARE_KEYS, u1, [&](uint32_t) { return dir_bytes; },
        c_.deadlines.share_keys,
        [&](uint32_t id, const std::string& a) -> absl::Status {
          VEIL_ASSIGN_OR_RETURN(ShareKeys m, ParseShareKeys(AsBytes(a)));
          if (m.client_id != id) return absl::PermissionDeniedError("wrong client id");
          return server->ReceiveShareKeys(m);
        });
    if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
    absl::StatusOr<std::vector<ShareBundle>> bundles = server->FinishShareKeys();
    if (!bundles.ok()) return abort(std::string(bundles.status().message()));
    std::vector<uint32_t> u2;
    std::map<uint32_t, std::shared_ptr<const std::string>> bundle_bytes;
    for (const ShareBundle& b : *bundles) {
      u2.push_back(b.recipient);
      bundle_bytes[b.recipient] = Shared(BytesToString(Serialize(b)));
    }
    step(
        "masked_input", wire::PHASE_MASKED_INPUT, u2, [&](uint32_t id) { return bundle_bytes[id]; },
        c_.deadlines.masked_input,
        [&](uint32_t id, const std::string& a) -> absl::Status {
          VEIL_ASSIGN_OR_RETURN(MaskedInput m, ParseMaskedInput(AsBytes(a)));
          if (m.client_id != id) return absl::PermissionDeniedError("wrong client id");
          return server->ReceiveMaskedInput(m);
        });
    if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
    absl::StatusOr<UnmaskRequest> request = server->FinishMaskedInput();
    if (!request.ok()) return abort(std::string(request.status().message()));
    auto request_bytes = Shared(BytesToString(Serialize(*request)));
    step(
        "consistency", wire::PHASE_CONSISTENCY, request->survivors, [&](uint32_t) { return request_bytes; },
        c_.deadlines.consistency,
        [&](uint32_t id, const std::string& a) -> absl::Status {
          VEIL_ASSIGN_OR_RETURN(SurvivorSignature m, ParseSurvivorSignature(AsBytes(a)));
          if (m.client_id != id) return absl::PermissionDeniedError("wrong client id");
          return server->ReceiveSurvivorSignature(m);
        });
    if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
    absl::StatusOr<ConsistencyProof> proof = server->FinishConsistency();
    if (!proof.ok()) return abort(std::string(proof.status().message()));
    std::vector<uint32_t> signers;
    for (const SignerSignature& s : proof->signatures) signers.push_back(s.client_id);
    auto proof_bytes = Shared(BytesToString(Serialize(*proof)));
    step(
        "unmask", wire::PHASE_UNMASK, signers, [&](uint32_t) { return proof_bytes; }, c_.deadlines.unmask,
        [&](uint32_t id, const std::string& a) -> absl::Status {
          VEIL_ASSIGN_OR_RETURN(UnmaskResponse m, ParseUnmaskResponse(AsBytes(a)));
          if (m.client_id != id) return absl::PermissionDeniedError("wrong client id");
          return server->ReceiveUnmaskResponse(m);
        });
    if (hub_.stopped()) return absl::CancelledError("the coordinator was stopped");
    begin("aggregate");
    absl::StatusOr<SecAggResult> result = server->FinishUnmasking();
    if (!result.ok()) return abort(std::string(result.status().message()));
    absl::StatusOr<std::vector<double>> decoded = quantizer->DecodeSum(result->sum);
    if (!decoded.ok()) return abort(absl::StrCat("decoding the sum: ", decoded.status().message()));
    sum = *std::move(decoded);
    for (uint32_t id : result->included) included.push_back(id);
  } else {
    begin("aggregate");
    for (size_t i = 0; i < n; ++i) {
      if (plain[i].has_value()) included.push_back(i);
    }
  }
  if (static_cast<int64_t>(included.size()) < quorum)
    return abort(absl::StrCat(included.size(), " contributions, fewer than min_clients = ", quorum));
  for (size_t i : included) report.included.push_back(members[i].site);

  // --- The mean update and the server step.
  std::vector<double> mean;
  if (c_.dp.mode == DpMode::kNone) {
    if (server == nullptr) {
      std::vector<ClientUpdate> updates;
      for (size_t i : included) updates.push_back({*plain[i], examples[i]});
      VEIL_ASSIGN_OR_RETURN(mean, WeightedMean(updates));
    } else {
      // The last coordinate is the survivors' weight sum (SecAggWeightedInput): no count was sent. No single
      // weight is visible, so the sum is checked against what the survivors' weights can add up to.
      absl::StatusOr<std::vector<double>> weighted =
          MeanFromWeightedSecAggSum(sum, included.size(), c_.secagg.max_examples, *quantizer);
      if (!weighted.ok()) return abort(absl::StrCat("secure FedAvg: ", weighted.status().message()));
      mean = *std::move(weighted);
    }
  } else if (c_.dp.mode == DpMode::kCentral) {
    if (server == nullptr) {
      sum.assign(static_cast<size_t>(length), 0.0);
      for (size_t i : included) {  // in id order: the same sum on every run
        for (int64_t j = 0; j < length; ++j) sum[j] += (*plain[i])[j];
      }
    }
    int64_t within = 0;
    if (c_.dp.central.adaptive_clipping) {
      within = std::llround(sum[num_params_] / plan.clip_norm);
      within = std::clamp<int64_t>(within, 0, static_cast<int64_t>(included.size()));
      sum.resize(static_cast<size_t>(num_params_));
    }
    // Under secure aggregation the sum is of float-cast, stochastically rounded clipped updates: the noise
    // is calibrated to that encoding's sensitivity (dp_fedavg.h, encoding_scale), not to C_t.
    absl::StatusOr<std::vector<double>> noisy =
        dp_->Aggregate(sum, within, static_cast<int64_t>(included.size()), *rng_,
                       server != nullptr ? quantizer->scale() : 0.0);
    if (!noisy.ok()) return abort(absl::StrCat("DP-FedAvg: ", noisy.status().message()));
    mean = *std::move(noisy);
  } else {
    // Distributed DP: the sum already carries the noise; divide by the public cohort size.
    mean.resize(sum.size());
    const double m = static_cast<double>(c_.clients_per_round);
    for (size_t j = 0; j < sum.size(); ++j) mean[j] = sum[j] / m;
    VEIL_ASSIGN_OR_RETURN(const DistributedDpCost cost,
                          Account(plan.distributed, plan.l2_sensitivity, c_.dp.delta));
    distributed_rho_ += cost.rho;
  }
  absl::Status applied = strategy_->Apply(mean, model_);
  if (!applied.ok()) return abort(absl::StrCat("server step: ", applied.message()));
  if (dp_.has_value()) report.spent = dp_->Spent();
  if (c_.dp.mode == DpMode::kDistributed) {
    VEIL_ASSIGN_OR_RETURN(const double eps, dp::ZcdpToEpsilon(distributed_rho_, c_.dp.delta));
    report.spent = dp::ApproxDp{eps, c_.dp.delta};
  }
  finish(false, "");
  return absl::OkStatus();
}

void Coordinator::Impl::Evaluate(RoundReport& report) {
  if (!eval_.has_value() || eval_->x.rows() == 0) return;
  absl::StatusOr<ml::Model> model = ml::Model::Create(c_.model.ModelConfig());
  if (!model.ok()) return;
  for (size_t i = 0; i < model_.size(); ++i) model->params()[static_cast<Eigen::Index>(i)] = model_[i];
  report.eval_loss = model->MeanLoss(eval_->x, eval_->y);
  if (model->task() == ml::Task::kRegression) return;
  const ml::Matrix p = model->Predict(eval_->x);
  int64_t correct = 0;
  for (int64_t r = 0; r < p.rows(); ++r) {
    int predicted = 0;
    if (model->task() == ml::Task::kBinary) {
      predicted = p(r, 0) >= 0.5 ? 1 : 0;
    } else {
      Eigen::Index arg = 0;
      p.row(r).maxCoeff(&arg);
      predicted = static_cast<int>(arg);
    }
    if (predicted == eval_->y.classes[static_cast<size_t>(r)]) ++correct;
  }
  report.eval_accuracy = static_cast<double>(correct) / static_cast<double>(p.rows());
}

absl::Status Coordinator::Impl::Checkpoint(int64_t next_round) {
  if (c_.checkpoint_dir.empty()) return absl::OkStatus();
  CoordinatorCheckpoint ck;
  ck.config_digest = c_.digest;
  ck.next_round = static_cast<uint64_t>(next_round);
  ck.model = model_;
  ck.strategy_state = strategy_->SerializeState();
  if (dp_.has_value()) ck.dp_state = dp_->SerializeState();
  if (c_.dp.mode == DpMode::kDistributed) ck.dp_state = EncodeDoubles(std::vector<double>{distributed_rho_});
  if (seeded_ != nullptr) ck.rng_state = seeded_->SaveState();
  Json history = Json::array();
  for (const RoundReport& r : history_) history.push_back(r.ToJson());
  ck.history_json = history.dump();
  return WriteCheckpoint(*o_.env, c_.checkpoint_dir, ck);
}

absl::StatusOr<RunReport> Coordinator::Impl::Run() {
  Log(absl::StrCat("listening on port ", port_, o_.credentials != nullptr ? " (mutual TLS)" : " (PLAINTEXT)",
                   "; ", c_.rounds, " rounds of ", c_.clients_per_round, " sites, quorum ", c_.min_clients,
                   c_.secagg.enabled ? ", secure aggregation" : ", plain aggregation", ", DP ",
                   std::string(DpModeName(c_.dp.mode))));
  for (int64_t r = next_round_; r < c_.rounds; ++r) {
    RoundReport report;
    report.round = r;
    VEIL_RETURN_IF_ERROR(RunRound(r, report));
    Evaluate(report);
    const std::string summary = report.Summary();
    history_.push_back(std::move(report));
    next_round_ = r + 1;
    VEIL_RETURN_IF_ERROR(Checkpoint(next_round_));
    // Logged once the checkpoint is durable: a round the log shows is one a restart will not redo.
    Log(summary);
  }
  RunReport out;
  out.resumed_at = resumed_at_;
  out.rounds = history_;
  out.model = model_;
  if (dp_.has_value()) out.spent = dp_->Spent();
  if (c_.dp.mode == DpMode::kDistributed) {
    VEIL_ASSIGN_OR_RETURN(const double eps, dp::ZcdpToEpsilon(distributed_rho_, c_.dp.delta));
    out.spent = dp::ApproxDp{eps, c_.dp.delta};
  }
  int64_t completed = 0;
  for (const RoundReport& r : history_) completed += r.aborted ? 0 : 1;
  Json federated = {{"rounds", c_.rounds},
                    {"rounds_completed", completed},
                    {"strategy", std::string(StrategyName(c_.strategy.kind))},
                    {"secure_aggregation", c_.secagg.enabled},
                    {"dp", std::string(DpModeName(c_.dp.mode))},
                    {"config_sha256", c_.digest}};
  if (out.spent.has_value())
    federated["spent"] = {{"epsilon", out.spent->epsilon}, {"delta", out.spent->delta}};
  out.model_json = FederatedModelJson(c_.model, model_, federated);
  if (!c_.output.empty()) VEIL_RETURN_IF_ERROR(o_.env->WriteFileAtomically(c_.output, out.model_json));

  // Tell every connected site the run is over (with the final model) and give them a moment to fetch it.
  wire::RoundOver over;
  over.set_round(static_cast<uint64_t>(c_.rounds));
  over.set_model(EncodeDoubles(model_));
  auto payload = Shared(over.SerializeAsString());
  // Between rounds a site is in a long poll (it fetches its next task at once); a site that is not may be
  // between two calls, still training past a deadline it missed, or in reconnect backoff after a network
  // failure, and polls again within the sites' maximum backoff: the coordinator keeps FINISHED for it for
  // finish_grace (the backoff cap and a margin) if it was seen within that time. A site polling now gets it
  // at once; one that is slow to fetch it (a loaded machine) gets a few seconds. In the common case (every
  // site polling) the coordinator returns as soon as they all fetched it; a site gone in the last
  // finish_grace costs that wait, one gone earlier none.
  hub_.Finish(static_cast<uint64_t>(c_.rounds), payload,
              std::clamp(2 * c_.transport.poll + absl::Seconds(3), absl::Seconds(5), absl::Seconds(30)),
              c_.finish_grace);
  hub_.AwaitFinished();
  return out;
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() = default;

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(Options options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  VEIL_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
}

int Coordinator::port() const { return impl_->port(); }
absl::StatusOr<RunReport> Coordinator::Run() { return impl_->Run(); }
void Coordinator::Stop() { impl_->Stop(); }

}  // namespace veil::fl
