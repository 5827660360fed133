// veil fl certs --out DIR --sites a,b,c [--coordinator-host H]... [--days N]
// veil fl coordinator --config FL.json --certs DIR [--insecure]
// veil fl client --coordinator HOST:PORT --dataset NAME --certs DIR --site NAME [--purpose P] [--insecure]
//                [--min-cohort N] [--give-up SECONDS] [--output MODEL.json] [--seed S]
// veil fl simulate --clients N --partition iid|dirichlet:ALPHA --data FILE.csv --config FL.json [--test FILE]
//                  [--workdir DIR] [--seed S] [--budget EPSILON]
//
// Federated learning (issue 10; docs/fl.md). The coordinator and the sites talk gRPC over mutual TLS with
// the certificates `veil fl certs` makes; a site trains on its workspace dataset THROUGH THE GATE: every
// round it takes part in is one gated, audited operation on the dataset for the purpose "federated_training"
// (or a purpose below it), which the dataset must declare: train.nonprivate (owner) without DP, train
// (charged to the dataset's budget) with DP. Only the site's contribution leaves it (masked under secure
// aggregation); the audit entry carries the SHA-256 of exactly those bytes.
//
// Charges under DP (the privacy unit is the whole site, so the guarantee covers every subject of it): the
// k-th round a site takes part in is charged eps(k) - eps(k - 1), where eps(k) is the client-level epsilon of
// k rounds without amplification by sampling (DP-FedAvg: the Gaussian mechanism with the round's total noise
// multiplier, dp_fedavg.h; distributed DP: k times the round's zCDP, converted), and delta on the first
// round only: after k rounds the ledger holds exactly (eps(k), delta). A site that restarts counts from 1
// again, which over-charges (the safe side).
//
// `simulate` runs the whole thing on one machine: it splits FILE.csv over N sites (fl/partition.h), gives
// each site its own workspace with its part ingested for "federated_training", makes certificates, and
// starts the coordinator and the N sites as separate `veil` processes on loopback.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/veil/cli.h"
#include "veil/base/hex.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/crypto/sha256.h"
#include "veil/fl/certs.h"
#include "veil/fl/client.h"
#include "veil/fl/config.h"
#include "veil/fl/coordinator.h"
#include "veil/fl/dp_fedavg.h"
#include "veil/fl/partition.h"
#include "veil/fl/seeded_random.h"
#include "veil/gov/gate.h"
#include "veil/table/csv_reader.h"

namespace veil::cli {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr char kFederatedPurpose[] = "federated_training";

void Warn(const GlobalOptions& g, const std::string& line) {
  if (!g.quiet) std::cerr << "veil: warning: " << line << "\n";
}

// A party's directory: DIR/NAME if the deployment layout holds it, else DIR itself.
std::string PartyDir(const std::string& certs, const std::string& name) {
  std::error_code ec;
  if (fs::exists(fs::path(certs) / name / "cert.pem", ec)) return (fs::path(certs) / name).string();
  return certs;
}

// --seed is for tests: the environment must say so (as `veil synth --seed`).
absl::Status CheckTestSeed(const std::string& what) {
  const char* ok = std::getenv("VEIL_TEST_SEED_OK");
  if (ok == nullptr || std::string(ok) != "1")
    return absl::InvalidArgumentError(absl::StrCat(
        what, " makes the run reproducible and is for tests only: set VEIL_TEST_SEED_OK=1 to use it"));
  return absl::OkStatus();
}

// --- veil fl certs

struct CertsArgs {
  std::string out;
  std::vector<std::string> sites;
  std::vector<std::string> hosts;
  int days = 365;
};

absl::Status RunCerts(const CertsArgs& a, const GlobalOptions& g) {
  fl::DeploymentOptions o;
  o.dir = a.out;
  for (const std::string& s : a.sites) {
    for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) o.sites.emplace_back(part);
  }
  if (o.sites.empty()) return absl::InvalidArgumentError("--sites needs at least one site name");
  if (!a.hosts.empty()) {
    o.coordinator_hosts.clear();
    for (const std::string& h : a.hosts) {
      for (absl::string_view part : absl::StrSplit(h, ',', absl::SkipEmpty()))
        o.coordinator_hosts.emplace_back(part);
    }
  }
  o.days = a.days;
  VEIL_ASSIGN_OR_RETURN(const fl::DeploymentResult r, fl::CreateDeployment(o, crypto::SecureRandom()));
  if (g.json) {
    PrintJson({{"dir", a.out},
               {"ca_created", r.created_ca},
               {"coordinator_created", r.created_coordinator},
               {"coordinator_hosts", o.coordinator_hosts},
               {"sites", r.sites},
               {"ca_sha256", r.ca_fingerprint}});
    return absl::OkStatus();
  }
  if (g.quiet) return absl::OkStatus();
  std::cout << (r.created_ca ? "Created" : "Reused") << " the CA in " << (fs::path(a.out) / "ca").string()
            << " (SHA-256 " << r.ca_fingerprint.substr(0, 16) << "...): keep ca.key OFFLINE, never on the "
            << "coordinator\n";
  if (r.created_coordinator)
    std::cout << "  coordinator: " << (fs::path(a.out) / fl::kCoordinatorName).string()
              << "/ (hosts: " << absl::StrJoin(o.coordinator_hosts, ", ") << ")\n";
  for (const std::string& s : r.sites)
    std::cout << "  site " << s << ": " << (fs::path(a.out) / s).string() << "/\n";
  std::cout << "Give each party its own directory (ca.pem, cert.pem, key.pem; key.pem is mode 0600).\n";
  return absl::OkStatus();
}

// --- veil fl coordinator

struct CoordinatorArgs {
  std::string config;
  std::string certs;
  bool insecure = false;
  std::string listen;
};

Json RunReportJson(const fl::RunReport& r, const fl::CoordinatorConfig& c) {
  Json rounds = Json::array();
  int64_t aborted = 0;
  for (const fl::RoundReport& round : r.rounds) {
    rounds.push_back(round.ToJson());
    aborted += round.aborted ? 1 : 0;
  }
  Json doc = {{"rounds", c.rounds},
              {"rounds_aborted", aborted},
              {"resumed_at", r.resumed_at},
              {"secure_aggregation", c.secagg.enabled},
              {"dp", std::string(fl::DpModeName(c.dp.mode))},
              {"strategy", std::string(fl::StrategyName(c.strategy.kind))},
              {"config_sha256", c.digest},
              {"output", c.output},
              {"history", rounds}};
  if (r.spent.has_value()) doc["spent"] = {{"epsilon", r.spent->epsilon}, {"delta", r.spent->delta}};
  return doc;
}

absl::Status RunCoordinator(const CoordinatorArgs& a, const GlobalOptions& g) {
  VEIL_ASSIGN_OR_RETURN(const std::string text, ReadTextInput(a.config));
  const std::string base_dir = fs::path(a.config).parent_path().string();
  VEIL_ASSIGN_OR_RETURN(fl::CoordinatorConfig config, fl::ParseCoordinatorConfig(text, a.config, base_dir));
  if (!a.listen.empty()) config.listen = a.listen;
  if (config.seed.has_value()) VEIL_RETURN_IF_ERROR(CheckTestSeed("the configuration's \"seed\""));
  if (a.certs.empty()) return absl::InvalidArgumentError("--certs DIR is required (veil fl certs makes it)");
  const std::string dir = PartyDir(a.certs, fl::kCoordinatorName);
  std::optional<fl::Credentials> creds;
  std::string ca_pem;
  if (a.insecure) {
    Warn(
        g,
        "--insecure: plaintext gRPC, no TLS: anyone on the path can read and alter the traffic and sites are "
        "not authenticated by their connection (local tests only)");
    VEIL_ASSIGN_OR_RETURN(ca_pem, crypto::DefaultEnv().ReadFileToString((fs::path(dir) / "ca.pem").string()));
  } else {
    VEIL_ASSIGN_OR_RETURN(fl::Credentials c, fl::LoadCredentials(dir, fl::kCoordinatorName));
    ca_pem = c.ca_pem;
    creds.emplace(std::move(c));
  }
  if (config.registry.has_value()) {
    VEIL_RETURN_IF_ERROR(store::ValidateModelName(config.registry->name));
  }
  fl::Coordinator::Options o;
  o.config = config;
  o.credentials = creds.has_value() ? &*creds : nullptr;
  o.ca_pem = ca_pem;
  o.env = &crypto::DefaultEnv();
  o.rng = &crypto::SecureRandom();
  const bool quiet = g.quiet;
  o.log = [quiet](const std::string& line) {
    if (!quiet) std::cerr << "[fl coordinator] " << line << std::endl;
  };
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<fl::Coordinator> coordinator, fl::Coordinator::Create(std::move(o)));
  if (config.seed.has_value())
    Warn(g, "seeded run (tests only): the DP noise and the sampling are reproducible");
  VEIL_ASSIGN_OR_RETURN(const fl::RunReport report, coordinator->Run());
  coordinator.reset();
  Json doc = RunReportJson(report, config);

  // The coordinator's own registry, through the gate.
  if (config.registry.has_value()) {
    GlobalOptions rg = g;
    rg.workspace = config.registry->workspace;
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(rg));
    VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, session->GetDataset(config.registry->dataset));
    Json privacy = {{"mode", config.dp.mode == fl::DpMode::kNone
                                 ? "non-private"
                                 : absl::StrCat("federated-", std::string(fl::DpModeName(config.dp.mode)))}};
    if (report.spent.has_value())
      privacy["client_level"] = {{"epsilon", report.spent->epsilon}, {"delta", report.spent->delta}};
    Json card = {
        {"dataset", config.registry->dataset},
        {"subject_column", info.subject_column},
        {"purpose", config.registry->purpose},
        {"target", config.model.target},
        {"kind", config.model.kind},
        {"task", config.model.kind == "linreg" ? "regression"
                                               : (config.model.classes.size() > 2 ? "multiclass" : "binary")},
        {"classes", config.model.classes},
        {"features", {{"source", "public metadata of the federation's configuration"}}},
        {"training", {{"federated", doc}}},
        {"privacy", privacy},
        {"metrics", Json::object()},
        {"evaluations", Json::array()},
        {"fairness", nullptr}};
    VEIL_ASSIGN_OR_RETURN(
        const store::ModelVersionInfo registered,
        session->RegisterModel(
            config.dp.mode == fl::DpMode::kNone ? gov::Operation::kTrainNonPrivate : gov::Operation::kTrain,
            config.registry->name, config.registry->dataset, config.registry->purpose, card,
            report.model_json));
    doc["registered"] = {{"name", registered.name}, {"version", registered.version}};
  }
  if (g.json) {
    PrintJson(doc);
  } else if (!g.quiet) {
    std::cout << "Federated run finished: " << report.rounds.size() << " rounds ("
              << doc["rounds_aborted"].get<int64_t>() << " aborted)";
    if (report.resumed_at > 0) std::cout << ", resumed at round " << report.resumed_at + 1;
    std::cout << "\n";
    if (report.spent.has_value())
      std::cout << "  client-level DP: epsilon " << FormatNumber(report.spent->epsilon) << ", delta "
                << FormatNumber(report.spent->delta) << "\n";
    if (!config.output.empty()) std::cout << "  model written to " << config.output << "\n";
    if (doc.contains("registered"))
      std::cout << "  registered as \"" << doc["registered"]["name"].get<std::string>() << "\" version "
                << doc["registered"]["version"].get<int64_t>() << "\n";
  }
  return absl::OkStatus();
}

// --- veil fl client

struct ClientArgs {
  std::string coordinator;
  std::string dataset;
  std::string certs;
  std::string site;
  std::string purpose = kFederatedPurpose;
  bool insecure = false;
  uint32_t min_cohort = 3;
  double give_up = 300;
  std::string output;
  std::optional<uint64_t> seed;
  // TESTS ONLY (VEIL_TEST_SEED_OK=1): after submitting this phase ("train", "share_keys", ...) in the first
  // round, the process stops itself (SIGSTOP), so a test can kill it at a known point of the protocol.
  std::string test_stop_after;
};

// One gated, audited (and under DP charged) operation per round the site takes part in.
class GateTrainer final : public fl::SiteTrainer {
 public:
  GateTrainer(const ClientArgs& a, const GlobalOptions& g) : a_(a), g_(g) {}

  absl::StatusOr<fl::Contribution> Train(const fl::RoundPlan& plan, std::span<const double> global,
                                         const fl::Quantizer* quantizer) override {
    last_spec_ = plan.model;
    if (a_.seed.has_value() && plan.dp == fl::DpMode::kDistributed)
      return absl::FailedPreconditionError(
          "--seed would make this site's distributed-DP noise reproducible: refused for DP rounds");
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session, OpenSession(g_));
    VEIL_ASSIGN_OR_RETURN(const store::DatasetInfo info, session->GetDataset(a_.dataset));
    if (info.external.has_value())
      return absl::UnimplementedError("federated training reads ingested datasets only, not attached ones");
    // Public checks before any row is read.
    const fl::ModelSpec& spec = plan.model;
    if (!info.schema.FindField(spec.target).has_value())
      return absl::InvalidArgumentError(absl::StrCat("dataset \"", a_.dataset, "\" has no column \"",
                                                     spec.target, "\" (the model's target)"));
    for (const ml::ColumnSpec& c : spec.pipeline.columns()) {
      if (!info.schema.FindField(c.name).has_value())
        return absl::InvalidArgumentError(absl::StrCat("dataset \"", a_.dataset, "\" has no column \"",
                                                       c.name, "\" (a feature of the model)"));
      if (c.name == info.subject_column)
        return absl::InvalidArgumentError(
            absl::StrCat("the model uses the subject column \"", c.name, "\" as a feature: refused"));
    }
    if (spec.target == info.subject_column)
      return absl::InvalidArgumentError("the model's target is the dataset's subject column: refused");

    std::unique_ptr<fl::SeededRandom> seeded;
    if (a_.seed.has_value())
      seeded =
          std::make_unique<fl::SeededRandom>(*a_.seed, absl::StrCat("site ", a_.site, " round ", plan.round));
    base::RandomSource& rng = seeded ? static_cast<base::RandomSource&>(*seeded) : crypto::SecureRandom();
    const Json params = {{"federated", true},
                         {"coordinator", a_.coordinator},
                         {"round", plan.round},
                         {"rounds", plan.rounds},
                         {"kind", spec.kind},
                         {"target", spec.target},
                         {"features", spec.pipeline.num_features()},
                         {"secure_aggregation", plan.secure},
                         {"dp", std::string(fl::DpModeName(plan.dp))},
                         {"plan_sha256", base::HexEncode(crypto::Sha256(plan.ToJson().dump()))}};
    const auto run =
        [&](const store::DatasetContents& data) -> absl::StatusOr<gov::ChargedResult<fl::Contribution>> {
      VEIL_ASSIGN_OR_RETURN(fl::Contribution c,
                            fl::TrainContribution(plan, global, data.table, quantizer, rng));
      const crypto::Sha256Digest hash = crypto::Sha256(c.ReleasedBytes());
      return gov::ChargedResult<fl::Contribution>{std::move(c), hash};
    };
    if (plan.dp == fl::DpMode::kNone) {
      VEIL_ASSIGN_OR_RETURN(gov::Audited<fl::Contribution> r,
                            session->RunAudited<fl::Contribution>(gov::Operation::kTrainNonPrivate,
                                                                  a_.dataset, a_.purpose, params, run));
      return std::move(r.value);
    }
    // DP: the increment of this site's cumulative client-level guarantee.
    const int64_t k = rounds_charged_ + 1;
    VEIL_ASSIGN_OR_RETURN(const dp::ApproxDp before, Cumulative(plan, k - 1));
    VEIL_ASSIGN_OR_RETURN(const dp::ApproxDp after, Cumulative(plan, k));
    gov::ChargeRequest charge;
    charge.epsilon = after.epsilon - before.epsilon;
    charge.delta = k == 1 ? after.delta : 0.0;
    charge.privacy_unit_column = info.subject_column;
    charge.description = Shorten(
        absl::StrCat("federated ", std::string(fl::DpModeName(plan.dp)), " DP round ", plan.round + 1, " of ",
                     plan.rounds, " (participation ", k, "): ", spec.kind, " predicting ", spec.target),
        store::kMaxChargeDescriptionBytes);
    if (!(charge.epsilon > 0)) return absl::InternalError("the round's epsilon increment is not positive");
    VEIL_ASSIGN_OR_RETURN(gov::Charged<fl::Contribution> r,
                          session->RunCharged<fl::Contribution>(gov::Operation::kTrain, a_.dataset,
                                                                a_.purpose, charge, params, run));
    rounds_charged_ = k;
    return std::move(r.value);
  }

  const std::optional<fl::ModelSpec>& last_spec() const { return last_spec_; }
  int64_t rounds_charged() const { return rounds_charged_; }

 private:
  // The client-level (epsilon, delta) of k rounds, without amplification by sampling.
  static absl::StatusOr<dp::ApproxDp> Cumulative(const fl::RoundPlan& plan, int64_t k) {
    if (k == 0) return dp::ApproxDp{0, 0};
    if (plan.dp == fl::DpMode::kDistributed)
      return fl::DistributedDpSpent(plan.distributed, plan.l2_sensitivity, k, plan.delta);
    // DP-FedAvg: one Gaussian mechanism per round with the TOTAL noise multiplier z (update and clipped
    // count together, dp_fedavg.h), sampling rate 1.
    fl::DpFedAvgOptions o;
    o.noise_multiplier = plan.central.noise_multiplier;
    o.clip_norm = plan.central.clip_norm;
    o.clients_per_round = 1;
    o.total_clients = 1;
    o.delta = plan.central.delta;
    VEIL_ASSIGN_OR_RETURN(const fl::DpFedAvg dp, fl::DpFedAvg::Create(o));
    return dp.SpentAfter(k);
  }

  const ClientArgs& a_;
  const GlobalOptions& g_;
  std::optional<fl::ModelSpec> last_spec_;
  int64_t rounds_charged_ = 0;
};

absl::Status RunClientCommand(const ClientArgs& a, const GlobalOptions& g) {
  if (a.coordinator.empty()) return absl::InvalidArgumentError("--coordinator HOST:PORT is required");
  if (a.dataset.empty()) return absl::InvalidArgumentError("--dataset NAME is required");
  if (a.certs.empty()) return absl::InvalidArgumentError("--certs DIR is required (veil fl certs makes it)");
  VEIL_RETURN_IF_ERROR(fl::ValidateSiteName(a.site));
  VEIL_RETURN_IF_ERROR(store::ValidatePurpose(a.purpose));
  if (!gov::PurposeCovers(kFederatedPurpose, a.purpose))
    return absl::InvalidArgumentError(absl::StrCat("--purpose must be \"", kFederatedPurpose,
                                                   "\" or a purpose below it (e.g. \"", kFederatedPurpose,
                                                   ".study1\"), not \"", a.purpose, "\""));
  if (!(a.give_up > 0)) return absl::InvalidArgumentError("--give-up must be > 0 seconds");
  if (a.seed.has_value()) VEIL_RETURN_IF_ERROR(CheckTestSeed("--seed"));
  std::optional<fl::wire::Phase> stop_after;
  if (!a.test_stop_after.empty()) {
    VEIL_RETURN_IF_ERROR(CheckTestSeed("--test-stop-after"));
    const std::vector<std::pair<std::string, fl::wire::Phase>> phases = {
        {"train", fl::wire::PHASE_TRAIN},
        {"share_keys", fl::wire::PHASE_SHARE_KEYS},
        {"masked_input", fl::wire::PHASE_MASKED_INPUT},
        {"consistency", fl::wire::PHASE_CONSISTENCY},
        {"unmask", fl::wire::PHASE_UNMASK}};
    for (const auto& [name, phase] : phases) {
      if (name == a.test_stop_after) stop_after = phase;
    }
    if (!stop_after.has_value())
      return absl::InvalidArgumentError(
          "--test-stop-after takes train, share_keys, masked_input, consistency or unmask");
  }
  VEIL_ASSIGN_OR_RETURN(const fl::Credentials creds, fl::LoadCredentials(PartyDir(a.certs, a.site), a.site));
  if (a.insecure)
    Warn(g,
         "--insecure: plaintext gRPC, no TLS: the coordinator is not authenticated and the traffic can be "
         "read and altered (local tests only)");
  GateTrainer trainer(a, g);
  fl::ClientOptions o;
  o.coordinator = a.coordinator;
  o.credentials = &creds;
  o.insecure = a.insecure;
  o.give_up = absl::Seconds(a.give_up);
  o.min_cohort = a.min_cohort;
  o.trainer = &trainer;
  o.rng = &crypto::SecureRandom();
  if (stop_after.has_value()) {
    o.on_submitted = [stop = *stop_after](uint64_t round, fl::wire::Phase phase) {
      if (round == 0 && phase == stop) ::raise(SIGSTOP);
      return true;
    };
  }
  const bool quiet = g.quiet;
  const std::string prefix = absl::StrCat("[fl site ", a.site, "] ");
  o.log = [quiet, prefix](const std::string& line) {
    if (!quiet) std::cerr << prefix << line << std::endl;
  };
  VEIL_ASSIGN_OR_RETURN(const fl::ClientReport report, fl::RunClient(o));
  int64_t completed = 0;
  Json rounds = Json::array();
  for (const fl::ClientRoundReport& r : report.rounds) {
    completed += r.completed ? 1 : 0;
    rounds.push_back(r.ToJson());
  }
  if (!a.output.empty() && !report.final_model.empty() && trainer.last_spec().has_value()) {
    VEIL_RETURN_IF_ERROR(crypto::DefaultEnv().WriteFileAtomically(
        a.output, fl::FederatedModelJson(*trainer.last_spec(), report.final_model,
                                         {{"site", a.site}, {"coordinator", a.coordinator}})));
  }
  if (g.json) {
    PrintJson({{"site", a.site},
               {"dataset", a.dataset},
               {"finished", report.finished},
               {"rounds_completed", completed},
               {"dp_rounds_charged", trainer.rounds_charged()},
               {"bytes_sent", report.bytes_sent},
               {"bytes_received", report.bytes_received},
               {"rounds", rounds}});
  } else if (!g.quiet) {
    std::cout << "Site " << a.site << ": took part in " << completed << " aggregated round(s); sent "
              << FormatBytes(report.bytes_sent) << ", received " << FormatBytes(report.bytes_received)
              << "\n";
    if (!a.output.empty() && !report.final_model.empty())
      std::cout << "  final model written to " << a.output << "\n";
  }
  return absl::OkStatus();
}

// --- veil fl simulate

struct SimulateArgs {
  int clients = 3;
  std::string partition = "iid";
  std::string data;
  std::string config;
  std::string test;
  std::string workdir;
  std::string subject_column;
  std::optional<uint64_t> seed;
  double budget = 100;
  double timeout = 600;
};

// A child process running `veil ARGS...` with stdout and stderr in files; killed if still running when the
// object goes away (so a failed simulation leaves no process behind).
class Child {
 public:
  static absl::StatusOr<std::unique_ptr<Child>> Start(const std::vector<std::string>& args,
                                                      const std::string& out, const std::string& err) {
    std::vector<std::string> argv = {"/proc/self/exe"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (o >= 0) ::dup2(o, 1);
      if (e >= 0) ::dup2(e, 2);
      ::unsetenv("VEIL_PASSPHRASE");  // the simulated workspaces keep key files
      ::execv("/proc/self/exe", cargv.data());
      ::_exit(127);
    }
    return std::unique_ptr<Child>(new Child(pid));
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code, or nullopt if still running at the deadline.
  std::optional<int> Wait(absl::Time deadline) {
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        break;
      }
      if (absl::Now() >= deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return code_;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  int code_ = -1;
};

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return absl::InternalError("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::Status RunSimulate(const SimulateArgs& a, const GlobalOptions& g) {
  if (a.clients < 3 || a.clients > 64) return absl::InvalidArgumentError("--clients must be in [3, 64]");
  if (a.data.empty()) return absl::InvalidArgumentError("--data FILE.csv is required");
  if (a.config.empty())
    return absl::InvalidArgumentError("--config FL.json is required (the model and the rounds)");
  VEIL_ASSIGN_OR_RETURN(const fl::PartitionSpec partition, fl::ParsePartition(a.partition));
  if (a.seed.has_value()) VEIL_RETURN_IF_ERROR(CheckTestSeed("--seed"));
  if (!(a.budget > 0)) return absl::InvalidArgumentError("--budget must be > 0");
  VEIL_ASSIGN_OR_RETURN(const std::string config_text, ReadTextInput(a.config));
  const std::string base_dir = fs::path(a.config).parent_path().string();
  VEIL_ASSIGN_OR_RETURN(const fl::CoordinatorConfig parsed,
                        fl::ParseCoordinatorConfig(config_text, a.config, base_dir));
  Json config = Json::parse(config_text, nullptr, false);

  // The data, split by the target's class.
  base::Env& env = crypto::DefaultEnv();
  VEIL_ASSIGN_OR_RETURN(table::Table data, table::ReadCsv(env, a.data));
  const std::optional<int> target = data.schema().FindField(parsed.model.target);
  if (!target.has_value())
    return absl::InvalidArgumentError(
        absl::StrCat(a.data, ": no column \"", parsed.model.target, "\" (the target)"));
  std::vector<int32_t> labels(static_cast<size_t>(data.num_rows()), -1);
  for (int64_t r = 0; r < data.num_rows(); ++r) {
    if (data.IsNull(r, *target)) continue;
    const std::string v = data.FormatValue(r, *target);
    for (size_t c = 0; c < parsed.model.classes.size(); ++c) {
      if (parsed.model.classes[c] == v) labels[static_cast<size_t>(r)] = static_cast<int32_t>(c);
    }
  }
  std::unique_ptr<fl::SeededRandom> seeded;
  if (a.seed.has_value()) seeded = std::make_unique<fl::SeededRandom>(*a.seed, "simulate partition");
  base::RandomSource& rng = seeded ? static_cast<base::RandomSource&>(*seeded) : crypto::SecureRandom();
  VEIL_ASSIGN_OR_RETURN(const std::vector<std::vector<int64_t>> parts,
                        fl::Partition(partition, labels, a.clients, rng));

  // The working directory: kept with --workdir, else a temporary one removed at the end.
  std::string work = a.workdir;
  bool remove_work = false;
  if (work.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "veil-fl-sim-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("cannot create a temporary directory");
    work = tmpl;
    remove_work = true;
  } else {
    std::error_code ec;
    fs::create_directories(work, ec);
    if (!fs::is_empty(work, ec)) return absl::AlreadyExistsError(absl::StrCat(work, " is not empty"));
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code ec;
      if (on) fs::remove_all(dir, ec);
    }
  } cleanup{work, remove_work};
  const auto log = [&](const std::string& line) {
    if (!g.quiet) std::cerr << "[fl simulate] " << line << std::endl;
  };

  // Certificates, made on the fly.
  std::vector<std::string> sites;
  for (int i = 0; i < a.clients; ++i) sites.push_back(absl::StrCat("site", i + 1));
  fl::DeploymentOptions certs;
  certs.dir = (fs::path(work) / "pki").string();
  certs.sites = sites;
  VEIL_RETURN_IF_ERROR(fl::CreateDeployment(certs, crypto::SecureRandom()).status());

  // One workspace per site, holding its part for "federated_training".
  const std::string subject = a.subject_column.empty() ? "sim_row" : a.subject_column;
  if (a.subject_column.empty() && data.schema().FindField(subject).has_value())
    return absl::InvalidArgumentError(
        absl::StrCat(a.data, " has a column \"", subject, "\": pass --subject-column"));
  if (!a.subject_column.empty() && !data.schema().FindField(subject).has_value())
    return absl::InvalidArgumentError(
        absl::StrCat(a.data, ": no column \"", subject, "\" (--subject-column)"));
  Json parts_json = Json::array();
  for (int i = 0; i < a.clients; ++i) {
    VEIL_ASSIGN_OR_RETURN(table::Table part, data.Take(parts[static_cast<size_t>(i)]));
    if (a.subject_column.empty()) {
      // The rows have no subject column: each row is its own subject, named by its row number in FILE.csv.
      std::vector<table::Field> fields = {{subject, table::DataType::kInt64, false}};
      std::vector<table::Column> columns;
      VEIL_ASSIGN_OR_RETURN(table::Column ids,
                            table::Column::FromInt64s(std::vector<int64_t>(parts[static_cast<size_t>(i)])));
      columns.push_back(std::move(ids));
      for (int c = 0; c < part.num_columns(); ++c) {
        fields.push_back(part.schema().field(c));
        columns.push_back(part.column(c));
      }
      VEIL_ASSIGN_OR_RETURN(table::Schema schema, table::Schema::Make(std::move(fields)));
      VEIL_ASSIGN_OR_RETURN(part, table::Table::Make(std::move(schema), std::move(columns)));
    }
    const std::string ws = (fs::path(work) / absl::StrCat("ws-", sites[static_cast<size_t>(i)])).string();
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<gov::Session> session,
                          gov::Session::Init(env, ws, "sim", store::WorkspaceCreateOptions{}));
    store::IngestRequest req;
    req.dataset = "part";
    req.subject_column = subject;
    req.purposes = {kFederatedPurpose};
    req.source.file_name = fs::path(a.data).filename().string();
    req.source.sha256 = "";
    VEIL_RETURN_IF_ERROR(session->Ingest(part, req).status());
    if (parsed.dp.mode != fl::DpMode::kNone)
      VEIL_RETURN_IF_ERROR(session->SetBudget("part", {a.budget, 0.5}).status());
    parts_json.push_back({{"site", sites[static_cast<size_t>(i)]}, {"rows", part.num_rows()}});
  }
  log(absl::StrCat("split ", data.num_rows(), " rows over ", a.clients, " sites (",
                   fl::PartitionName(partition), ")"));

  // The coordinator's configuration: the given one, on a free loopback port, with its files in the workdir.
  VEIL_ASSIGN_OR_RETURN(const int port, FreeLoopbackPort());
  config["listen"] = absl::StrCat("127.0.0.1:", port);
  config["sites"] = sites;
  if (config.contains("model") && config["model"].contains("metadata") &&
      config["model"]["metadata"].is_string())
    config["model"]["metadata"] =
        fs::absolute(fs::path(base_dir) / config["model"]["metadata"].get<std::string>()).string();
  config["checkpoint_dir"] = (fs::path(work) / "checkpoints").string();
  if (!config.contains("output"))
    config["output"] = (fs::path(work) / "model.json").string();
  else
    config["output"] = fs::absolute(fs::path(base_dir) / config["output"].get<std::string>()).string();
  if (!a.test.empty()) config["evaluation"] = {{"csv", fs::absolute(a.test).string()}};
  if (a.seed.has_value()) config["seed"] = *a.seed;
  if (config.contains("registry")) config.erase("registry");
  const std::string config_path = (fs::path(work) / "fl.json").string();
  VEIL_RETURN_IF_ERROR(env.WriteFileAtomically(config_path, config.dump(2)));

  // The processes.
  const std::string pki = certs.dir;
  std::vector<std::string> common;
  if (g.quiet) common.push_back("--quiet");
  std::vector<std::string> cargs = {"fl", "coordinator", "--config", config_path, "--certs", pki, "--json"};
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<Child> coordinator,
                        Child::Start(cargs, (fs::path(work) / "coordinator.json").string(),
                                     (fs::path(work) / "coordinator.log").string()));
  std::vector<std::unique_ptr<Child>> children;
  for (int i = 0; i < a.clients; ++i) {
    const std::string& site = sites[static_cast<size_t>(i)];
    std::vector<std::string> args = {"--workspace",
                                     (fs::path(work) / absl::StrCat("ws-", site)).string(),
                                     "--actor",
                                     "sim",
                                     "fl",
                                     "client",
                                     "--coordinator",
                                     absl::StrCat("localhost:", port),
                                     "--dataset",
                                     "part",
                                     "--certs",
                                     pki,
                                     "--site",
                                     site,
                                     "--json"};
    if (a.seed.has_value() && parsed.dp.mode != fl::DpMode::kDistributed) {
      args.push_back("--seed");
      args.push_back(absl::StrCat(*a.seed));
    }
    VEIL_ASSIGN_OR_RETURN(std::unique_ptr<Child> c,
                          Child::Start(args, (fs::path(work) / absl::StrCat(site, ".json")).string(),
                                       (fs::path(work) / absl::StrCat(site, ".log")).string()));
    children.push_back(std::move(c));
  }
  log(absl::StrCat("coordinator on 127.0.0.1:", port, " and ", a.clients, " site processes started; logs in ",
                   work));
  const absl::Time deadline = absl::Now() + absl::Seconds(a.timeout);
  const std::optional<int> code = coordinator->Wait(deadline);
  std::vector<int> site_codes;
  for (auto& c : children) site_codes.push_back(c->Wait(absl::Now() + absl::Seconds(10)).value_or(-1));
  const auto tail = [&](const std::string& file) {
    std::string s = env.ReadFileToString((fs::path(work) / file).string()).value_or("");
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  };
  if (!code.has_value())
    return absl::DeadlineExceededError(absl::StrCat("the simulation did not finish in ", a.timeout, " s"));
  if (*code != 0)
    return absl::InternalError(
        absl::StrCat("the coordinator exited with code ", *code, ":\n", tail("coordinator.log")));
  const Json report = Json::parse(
      env.ReadFileToString((fs::path(work) / "coordinator.json").string()).value_or(""), nullptr, false);
  if (report.is_discarded()) return absl::InternalError("the coordinator's report is not JSON");
  std::string model_text = env.ReadFileToString(config["output"].get<std::string>()).value_or("");

  if (g.json) {
    PrintJson({{"clients", a.clients},
               {"partition", fl::PartitionName(partition)},
               {"sites", parts_json},
               {"site_exit_codes", site_codes},
               {"output", config["output"]},
               {"workdir", remove_work ? Json(nullptr) : Json(work)},
               {"coordinator", report}});
  } else if (!g.quiet) {
    std::cout << "Simulated " << a.clients << " sites (" << fl::PartitionName(partition)
              << ") on loopback:\n";
    std::vector<std::vector<std::string>> rows;
    for (const Json& r : report["history"]) {
      std::string phases;
      for (const Json& p : r["phases"])
        absl::StrAppend(&phases, phases.empty() ? "" : " ", p["name"].get<std::string>(), " ",
                        absl::StrFormat("%.3f", p["seconds"].get<double>()));
      rows.push_back(
          {absl::StrCat(r["round"].get<int64_t>() + 1),
           r["aborted"].get<bool>() ? "aborted"
                                    : absl::StrCat(r["included"].size(), "/", r["selected"].size()),
           absl::StrFormat("%.3f", r["seconds"].get<double>()), FormatBytes(r["bytes_sent"].get<uint64_t>()),
           FormatBytes(r["bytes_received"].get<uint64_t>()),
           r.contains("eval_accuracy") ? absl::StrFormat("%.4f", r["eval_accuracy"].get<double>()) : "-",
           phases});
    }
    PrintTable({"round", "sites", "seconds", "sent", "received", "accuracy", "phases (s)"}, rows,
               {true, true, true, true, true, true, false});
    if (report.contains("spent"))
      std::cout << "Client-level DP: epsilon " << FormatNumber(report["spent"]["epsilon"].get<double>())
                << ", delta " << FormatNumber(report["spent"]["delta"].get<double>()) << "\n";
    std::cout << "Model: " << config["output"].get<std::string>() << (remove_work ? "" : "") << "\n";
  }
  for (size_t i = 0; i < site_codes.size(); ++i) {
    if (site_codes[i] != 0)
      Warn(g, absl::StrCat(sites[i], " exited with code ", site_codes[i], ":\n", tail(sites[i] + ".log")));
  }
  if (remove_work && !config["output"].get<std::string>().starts_with(work)) return absl::OkStatus();
  if (remove_work) {
    // The model lives in the temporary directory: keep a copy beside the data.
    Warn(g,
         "no --workdir: the working directory is removed; pass \"output\" in the configuration or --workdir "
         "to keep the model");
  }
  (void)model_text;
  return absl::OkStatus();
}

}  // namespace

void RegisterFl(CLI::App& app, Cli& cli) {
  CLI::App* fl = app.add_subcommand("fl", "Federated learning with secure aggregation over mutual TLS");
  fl->require_subcommand(1);

  auto ce = std::make_shared<CertsArgs>();
  CLI::App* certs =
      fl->add_subcommand("certs", "Create a CA and certificates for the coordinator and each site");
  certs->add_option("--out", ce->out, "The deployment directory (DIR/ca stays offline)")->required();
  certs->add_option("--sites", ce->sites, "Site names, comma-separated (a,b,c)")->required();
  certs->add_option("--coordinator-host", ce->hosts,
                    "Host names or IP addresses the sites dial (default localhost,127.0.0.1)");
  certs->add_option("--days", ce->days, "Validity in days")
      ->capture_default_str()
      ->check(CLI::Range(1, 3650));
  certs->callback([ce, &cli] { cli.action = [ce, &cli] { return RunCerts(*ce, cli.options); }; });

  auto co = std::make_shared<CoordinatorArgs>();
  CLI::App* coord = fl->add_subcommand("coordinator", "Run the coordinator of a federated training run");
  coord->add_option("--config", co->config, "The run's configuration (FL.json, docs/fl.md)")->required();
  coord->add_option("--certs", co->certs, "The coordinator's certificate directory (or the deployment's)");
  coord->add_option("--listen", co->listen, "HOST:PORT to listen on (overrides the configuration)");
  coord->add_flag("--insecure", co->insecure, "Plaintext gRPC without TLS (local tests only)");
  coord->callback([co, &cli] { cli.action = [co, &cli] { return RunCoordinator(*co, cli.options); }; });

  auto cl = std::make_shared<ClientArgs>();
  CLI::App* client = fl->add_subcommand("client", "Take part in a federated run with a workspace dataset");
  client->add_option("--coordinator", cl->coordinator, "HOST:PORT of the coordinator")->required();
  client->add_option("--dataset", cl->dataset, "The workspace dataset to train on")->required();
  client->add_option("--certs", cl->certs, "The site's certificate directory (or the deployment's)")
      ->required();
  client->add_option("--site", cl->site, "The site's name (its certificate's)")->required();
  client->add_option("--purpose", cl->purpose, "The declared purpose (federated_training or below it)")
      ->capture_default_str();
  client->add_flag("--insecure", cl->insecure, "Plaintext gRPC without TLS (local tests only)");
  client
      ->add_option("--min-cohort", cl->min_cohort,
                   "Refuse secure-aggregation rounds whose quorum is below this many sites")
      ->capture_default_str()
      ->check(CLI::Range(3, 65536));
  client->add_option("--give-up", cl->give_up, "Stop after this many seconds without the coordinator")
      ->capture_default_str();
  client->add_option("-o,--output", cl->output, "Write the final model here");
  client->add_option("--seed", cl->seed, "TESTS ONLY (VEIL_TEST_SEED_OK=1): reproducible local training");
  client->add_option("--test-stop-after", cl->test_stop_after)->group("");  // tests only, hidden
  client->callback([cl, &cli] { cli.action = [cl, &cli] { return RunClientCommand(*cl, cli.options); }; });

  auto si = std::make_shared<SimulateArgs>();
  CLI::App* sim = fl->add_subcommand(
      "simulate", "Run a coordinator and N sites as processes on loopback, each with its part of a CSV file");
  sim->add_option("--clients", si->clients, "Number of sites")->capture_default_str();
  sim->add_option("--partition", si->partition, "iid or dirichlet:ALPHA (label skew)")->capture_default_str();
  sim->add_option("--data", si->data, "The CSV file to split over the sites")->required();
  sim->add_option("--config", si->config, "The run's configuration (FL.json: model, rounds, strategy, ...)")
      ->required();
  sim->add_option("--test", si->test, "A CSV file the coordinator evaluates the model on after each round");
  sim->add_option("--workdir", si->workdir, "Keep the workspaces, certificates and logs here");
  sim->add_option("--subject-column", si->subject_column, "The data's subject column (default: one per row)");
  sim->add_option("--budget", si->budget, "Each site's epsilon budget for DP runs")->capture_default_str();
  sim->add_option("--timeout", si->timeout, "Give up after this many seconds")->capture_default_str();
  sim->add_option("--seed", si->seed, "TESTS ONLY (VEIL_TEST_SEED_OK=1): reproducible partition and run");
  sim->callback([si, &cli] { cli.action = [si, &cli] { return RunSimulate(*si, cli.options); }; });
}

}  // namespace veil::cli
