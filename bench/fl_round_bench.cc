// Federated rounds over the real transport (issue 10, Performance: "a secure-aggregation round with no
// dropouts costs at most 1.5 times the wall time of a plain FedAvg round").
//
// One process: the coordinator (fl::Coordinator, a gRPC server on loopback) and N sites (fl::RunClient, one
// thread each, each with its own channel), mutual TLS with certificates from fl::CreateDeployment. The model
// is an MLP on 20 public numeric columns (40 inputs after the pipeline) with hidden widths 1000 and 60:
// 101,121 parameters, the size of the secure-aggregation figures; each site trains --epochs (1) local
// epochs on its own 200 rows every round (ml through fl::TableTrainer), so a round holds real local training,
// serialisation, TLS and the protocol, in both modes alike.
//
// A run is rounds + 1 rounds of one mode; its first round (sites connecting) is left out, and the run's
// figure is the median of the other rounds' wall times (RoundReport::seconds: from cohort selection to the
// aggregate). Runs alternate plain / secure so both see the same machine load; the figures are medians over
// the runs, printed with every run, and the ratio secure / plain is of those medians. Secure rounds: the
// complete graph, active threat model, the default ring (Z_2^24), the weight-in-the-sum FedAvg
// (SecAggWeightedInput).
//
//   fl_round_bench [--sites N] [--hidden H1,H2] [--epochs E] [--rounds R] [--runs K] [--profile secure|plain]
//
// --profile MODE runs only MODE's runs and prints their figures, no ratio: for `perf record` of one mode.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"
#include "veil/crypto/random.h"
#include "veil/fl/certs.h"
#include "veil/fl/client.h"
#include "veil/fl/config.h"
#include "veil/fl/coordinator.h"
#include "veil/table/csv_reader.h"

namespace veil::fl {
namespace {

using Json = nlohmann::ordered_json;
using bench::OrDie;

constexpr int kFeatures = 20;
constexpr int kRowsPerSite = 200;

// Site k's rows: y = yes iff a fixed linear score of the 20 features is positive (bench data, DataRandom).
table::Table SiteRows(int site) {
  bench::DataRandom g(4242 + static_cast<uint64_t>(site));
  std::string csv;
  for (int j = 0; j < kFeatures; ++j) absl::StrAppend(&csv, "x", j, ",");
  csv += "y\n";
  for (int r = 0; r < kRowsPerSite; ++r) {
    double score = 0;
    for (int j = 0; j < kFeatures; ++j) {
      const double x = 2 * (static_cast<double>(g.Next() >> 11) * 0x1p-53) - 1;
      score += (j % 3 == 0 ? 1.0 : -0.5) * x;
      absl::StrAppendFormat(&csv, "%.5f,", x);
    }
    csv += score > 0 ? "yes\n" : "no\n";
  }
  return OrDie(table::ReadCsvFromString(csv), "site rows");
}

Json Config(int sites, int rounds, const std::vector<int>& hidden, int epochs, bool secure) {
  Json columns = Json::object();
  for (int j = 0; j < kFeatures; ++j) columns[absl::StrCat("x", j)] = {{"lower", -1}, {"upper", 1}};
  Json names = Json::array();
  for (int i = 0; i < sites; ++i) names.push_back(absl::StrCat("s", i));
  return Json{
      {"listen", "127.0.0.1:0"},
      {"rounds", rounds},
      {"clients_per_round", sites},
      {"min_clients", sites},
      {"sites", names},
      {"deadlines",
       {{"join", 120},
        {"train", 300},
        {"share_keys", 120},
        {"masked_input", 120},
        {"consistency", 120},
        {"unmask", 120}}},
      {"local", {{"epochs", epochs}, {"batch_size", 32}, {"learning_rate", 0.05}, {"optimizer", "sgd"}}},
      {"model",
       {{"kind", "mlp"},
        {"hidden", hidden},
        {"target", "y"},
        {"metadata", {{"columns", columns}, {"target", {{"classes", {"no", "yes"}}}}}}}},
      {"secure_aggregation", {{"enabled", secure}, {"clip", 1.0}, {"max_examples", kRowsPerSite}}},
      {"transport", {{"poll_seconds", 2}}}};
}

struct RunFigures {
  double round_seconds = 0;              // median over the measured rounds
  std::map<std::string, double> phases;  // median seconds per phase
  double bytes = 0;                      // median bytes sent + received by the coordinator per round
  int64_t params = 0;
};

RunFigures RunOnce(const std::string& pki, const std::vector<std::unique_ptr<Credentials>>& sites,
                   const Credentials& coordinator_creds, const std::vector<table::Table>& rows, int rounds,
                   const std::vector<int>& hidden, int epochs, bool secure) {
  const int n = static_cast<int>(sites.size());
  Coordinator::Options o;
  o.config =
      OrDie(ParseCoordinatorConfig(Config(n, rounds + 1, hidden, epochs, secure).dump(), "bench config", pki),
            "config");
  o.credentials = &coordinator_creds;
  o.ca_pem = coordinator_creds.ca_pem;
  o.env = &crypto::DefaultEnv();
  o.rng = &crypto::SecureRandom();
  std::unique_ptr<Coordinator> coordinator = OrDie(Coordinator::Create(std::move(o)), "coordinator");
  const int port = coordinator->port();

  std::vector<std::unique_ptr<TableTrainer>> trainers;
  std::vector<std::thread> threads;
  std::vector<absl::Status> outcomes(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    trainers.push_back(std::make_unique<TableTrainer>(rows[static_cast<size_t>(i)], crypto::SecureRandom()));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ClientOptions c;
      c.coordinator = absl::StrCat("localhost:", port);
      c.credentials = sites[static_cast<size_t>(i)].get();
      c.give_up = absl::Seconds(120);
      c.trainer = trainers[static_cast<size_t>(i)].get();
      c.rng = &crypto::SecureRandom();
      outcomes[static_cast<size_t>(i)] = RunClient(c).status();
    });
  }
  const RunReport report = OrDie(coordinator->Run(), "run");
  coordinator.reset();
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    if (!outcomes[static_cast<size_t>(i)].ok()) {
      std::fprintf(stderr, "site %d: %s\n", i,
                   std::string(outcomes[static_cast<size_t>(i)].message()).c_str());
      std::exit(1);
    }
  }
  std::vector<double> seconds, bytes;
  std::map<std::string, std::vector<double>> phases;
  for (size_t r = 1; r < report.rounds.size(); ++r) {  // round 1 includes the sites connecting
    const RoundReport& round = report.rounds[r];
    if (round.aborted || static_cast<int>(round.included.size()) != n) {
      std::fprintf(stderr, "round %zu: %s (%zu sites)\n", r + 1, round.reason.c_str(), round.included.size());
      std::exit(1);
    }
    seconds.push_back(round.seconds);
    bytes.push_back(static_cast<double>(round.bytes_sent + round.bytes_received));
    for (const PhaseReport& p : round.phases) phases[p.name].push_back(p.seconds);
  }
  RunFigures f;
  f.round_seconds = bench::Median(seconds);
  f.bytes = bench::Median(bytes);
  for (const auto& [name, v] : phases) f.phases[name] = bench::Median(v);
  f.params = static_cast<int64_t>(report.model.size());
  return f;
}

int Main(int argc, char** argv) {
  int sites = 10, rounds = 5, runs = 5, epochs = 1;
  std::string profile;
  std::vector<int> hidden = {1000, 60};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--sites" && has_value) {
      sites = std::atoi(argv[++i]);
    } else if (a == "--rounds" && has_value) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--epochs" && has_value) {
      epochs = std::atoi(argv[++i]);
    } else if (a == "--runs" && has_value) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--profile" && has_value &&
               (std::string(argv[i + 1]) == "secure" || std::string(argv[i + 1]) == "plain")) {
      profile = argv[++i];
    } else if (a == "--hidden" && has_value) {
      hidden.clear();
      for (char* tok = std::strtok(argv[++i], ","); tok != nullptr; tok = std::strtok(nullptr, ","))
        hidden.push_back(std::atoi(tok));
    } else {
      std::fprintf(stderr,
                   "usage: fl_round_bench [--sites N] [--hidden H1,H2] [--epochs E] [--rounds R] [--runs K] "
                   "[--profile secure|plain]\n");
      return 2;
    }
  }
  if (sites < 3 || rounds < 1 || runs < 1 || epochs < 1 || hidden.empty() || hidden.size() > 2) {
    std::fprintf(stderr, "need --sites >= 3, --rounds, --runs, --epochs >= 1, one or two hidden widths\n");
    return 2;
  }

  const std::string dir = bench::MakeTempDir("fl_round_bench");
  if (dir.empty()) return 1;
  DeploymentOptions d;
  d.dir = (std::filesystem::path(dir) / "pki").string();
  for (int i = 0; i < sites; ++i) d.sites.push_back(absl::StrCat("s", i));
  OrDie(CreateDeployment(d, crypto::SecureRandom()), "certificates");
  const Credentials coordinator_creds =
      OrDie(LoadCredentials((std::filesystem::path(d.dir) / kCoordinatorName).string(), kCoordinatorName),
            "coordinator credentials");
  std::vector<std::unique_ptr<Credentials>> site_creds;
  std::vector<table::Table> rows;
  for (int i = 0; i < sites; ++i) {
    const std::string name = absl::StrCat("s", i);
    site_creds.push_back(std::make_unique<Credentials>(
        OrDie(LoadCredentials((std::filesystem::path(d.dir) / name).string(), name), "site credentials")));
    rows.push_back(SiteRows(i));
  }

  std::vector<RunFigures> plain, secure;
  for (int k = 0; k < runs; ++k) {
    if (profile != "secure")
      plain.push_back(RunOnce(d.dir, site_creds, coordinator_creds, rows, rounds, hidden, epochs, false));
    if (profile != "plain")
      secure.push_back(RunOnce(d.dir, site_creds, coordinator_creds, rows, rounds, hidden, epochs, true));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  const auto column = [](const std::vector<RunFigures>& v, auto get) {
    std::vector<double> out;
    for (const RunFigures& f : v) out.push_back(get(f));
    return out;
  };
  const auto round_s = [](const RunFigures& f) { return f.round_seconds; };
  const auto phase_s = [](const std::string& name) {
    return [name](const RunFigures& f) {
      auto it = f.phases.find(name);
      return it == f.phases.end() ? 0.0 : it->second;
    };
  };
  const auto bytes = [](const RunFigures& f) { return f.bytes; };
  if (!profile.empty()) {
    const std::vector<RunFigures>& v = profile == "secure" ? secure : plain;
    std::printf("%s rounds only (profiling): round %.4f s (runs %s)\n", profile.c_str(),
                bench::Median(column(v, round_s)), bench::Join(column(v, round_s), 4).c_str());
    return 0;
  }

  std::printf(
      "fl_round_bench: %d sites, %lld parameters (MLP on %d columns, hidden %s), %d rows per site, %d local "
      "epoch(s); %d runs of "
      "%d measured rounds per mode, in one process over loopback gRPC with mutual TLS\n",
      sites, static_cast<long long>(plain[0].params), kFeatures,
      hidden.size() == 1 ? absl::StrCat(hidden[0]).c_str() : absl::StrCat(hidden[0], "-", hidden[1]).c_str(),
      kRowsPerSite, epochs, runs, rounds);
  bench::PrintMachine();
  const double plain_median = bench::Median(column(plain, round_s));
  const double secure_median = bench::Median(column(secure, round_s));
  std::printf("\n%-22s %10s %10s %14s  %s\n", "mode", "round s", "train s", "bytes/round", "runs (round s)");
  std::printf("%-22s %10.4f %10.4f %14.0f  %s\n", "plain FedAvg", plain_median,
              bench::Median(column(plain, phase_s("train"))), bench::Median(column(plain, bytes)),
              bench::Join(column(plain, round_s), 4).c_str());
  std::printf("%-22s %10.4f %10.4f %14.0f  %s\n", "secure aggregation", secure_median,
              bench::Median(column(secure, phase_s("train"))), bench::Median(column(secure, bytes)),
              bench::Join(column(secure, round_s), 4).c_str());
  std::printf("\nsecure aggregation phases (median s): ");
  for (const char* p : {"share_keys", "masked_input", "consistency", "unmask", "aggregate"})
    std::printf("%s %.4f  ", p, bench::Median(column(secure, phase_s(p))));
  std::printf("\nratio secure / plain round wall time: %.2fx (target <= 1.5x: %s); bytes %.2fx\n",
              secure_median / plain_median, secure_median / plain_median <= 1.5 ? "met" : "missed",
              bench::Median(column(secure, bytes)) / bench::Median(column(plain, bytes)));
  return 0;
}

}  // namespace
}  // namespace veil::fl

int main(int argc, char** argv) { return veil::fl::Main(argc, argv); }
