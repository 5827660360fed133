// `veil fl` end to end, as separate processes: certificates, the gate at a site (purpose and audit), `kill
// -9` of the coordinator and its resumption bit for bit, `veil fl simulate`, and (as root) sites in their own
// network namespaces with one killed mid-round. Coordinators listen on port 0 (or a fixed port inside their
// own namespace) and the tests wait for their "listening on port" line, never for time to pass; the only
// deadlines that expire are those of a site that never answers.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/veil/cli_test_util.h"

namespace veil::cli::testing {
namespace fl_cli_test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

// A `veil` process in the background (stdout and stderr in files), killed when the object goes away.
class Background {
 public:
  Background(const std::string& env, const std::string& args, const std::string& out,
             const std::string& err) {
    const std::string cmd =
        "exec " + env + " " + VEIL_BINARY + " " + args + " >" + out + " 2>" + err + " </dev/null";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Background() { Kill(); }
  pid_t pid() const { return pid_; }
  // Whether the process has stopped itself (SIGSTOP: its /proc state is 'T').
  bool Stopped() const {
    const std::string stat = Slurp("/proc/" + std::to_string(pid_) + "/stat");
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  // The exit code, or -1 if it did not exit within `seconds`.
  int Wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return code_;
  }

 private:
  pid_t pid_ = -1;
  int code_ = -1;
};

// Waits until `pred()` holds (checked every 10 ms) or `seconds` pass; returns whether it held. For readiness
// signals a process gives (a log line, a stopped state), never for time to pass.
bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The port a coordinator logged ("listening on port N") in its stderr file, or 0 before it did.
int LoggedPort(const std::string& err_file) {
  const std::string log = Slurp(err_file);
  const std::string key = "listening on port ";
  const size_t at = log.find(key);
  if (at == std::string::npos) return 0;
  return std::atoi(log.c_str() + at + key.size());
}

// Rows of a site: y = yes iff x1 + 0.5 x2 (+ a site shift) > 0 on a deterministic grid.
std::string SiteCsv(int site, int rows) {
  std::string csv = "id,x1,x2,y\n";
  for (int r = 0; r < rows; ++r) {
    const double x1 = -2 + 4.0 * ((r * 37 + site * 11) % 101) / 100,
                 x2 = -2 + 4.0 * ((r * 53 + site * 7) % 97) / 96;
    csv += std::to_string(site * 1000 + r) + "," + std::to_string(x1) + "," + std::to_string(x2) + "," +
           (x1 + 0.5 * x2 + 0.1 * site > 0 ? "yes" : "no") + "\n";
  }
  return csv;
}

constexpr char kMetadata[] =
    R"({"columns": {"x1": {"lower": -2, "upper": 2}, "x2": {"lower": -2, "upper": 2}},
        "target": {"classes": ["no", "yes"]}})";

class FlCliTest : public VeilCliTest {
 protected:
  // Site workspace NAME (actor "owner") with SiteCsv ingested as dataset "d" for `purpose`.
  void MakeSite(const std::string& name, int index, const std::string& purpose, bool budget = false) {
    const std::string ws = Path("ws-" + name);
    const std::string csv = WriteFile(name + ".csv", SiteCsv(index, 80 + 10 * index));
    const std::string env = "env -u VEIL_PASSPHRASE VEIL_WORKSPACE=" + Q(ws) + " VEIL_ACTOR=owner ";
    Result init = Run(env, "init --quiet", "");
    ASSERT_EQ(init.exit_code, 0) << init.err;
    Result ingest = Run(
        env, "ingest " + Q(csv) + " --dataset d --subject-column id --purpose " + purpose + " --quiet", "");
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
    if (budget) {
      Result b = Run(env, "budget set d --epsilon 1000 --delta 0.5 --quiet", "");
      ASSERT_EQ(b.exit_code, 0) << b.err;
    }
  }
  std::string SiteEnv(const std::string& name) {
    return "env -u VEIL_PASSPHRASE VEIL_TEST_SEED_OK=1 VEIL_WORKSPACE=" + Q(Path("ws-" + name)) +
           " VEIL_ACTOR=owner";
  }
  // The test configuration (file NAME.json), with the top-level settings of the JSON object `overrides`
  // replacing the defaults. Deadlines are upper bounds for what the test waits on; only the one a test
  // expects to expire (a site that never answers) is short.
  std::string Config(const std::string& name, const std::string& overrides) {
    Json c = {{"listen", "127.0.0.1:0"},
              {"rounds", 3},
              {"clients_per_round", 3},
              {"min_clients", 2},
              {"sites", {"a", "b", "c"}},
              {"deadlines",
               {{"join", 30},
                {"train", 30},
                {"share_keys", 30},
                {"masked_input", 30},
                {"consistency", 30},
                {"unmask", 30}}},
              {"local", {{"epochs", 1}, {"batch_size", 16}, {"learning_rate", 0.2}, {"optimizer", "sgd"}}},
              {"model", {{"kind", "logreg"}, {"target", "y"}, {"metadata", Json::parse(kMetadata)}}},
              // A site that left (a refused site, a killed one) is waited for finish_grace after the run;
              // every other site here is polling when the run ends, so 2 s is plenty.
              {"transport", {{"poll_seconds", 1}, {"finish_grace_seconds", 2}}}};
    c.update(Json::parse(overrides));
    return WriteFile(name + ".json", c.dump(2));
  }
  std::string Certs() {
    Result r = Veil("fl certs --out " + Q(Path("pki")) + " --sites a,b,c --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Path("pki");
  }
  // Starts `veil [--json] fl coordinator` (stdout TAG.out, log TAG.err) on `listen` and waits until it
  // listens: its port (0 if it did not come up, with a test failure).
  std::unique_ptr<Background> StartCoordinator(const std::string& tag, const std::string& config,
                                               const std::string& pki, int* port,
                                               const std::string& listen = "127.0.0.1:0") {
    auto c = std::make_unique<Background>(
        "env VEIL_TEST_SEED_OK=1",
        "--json fl coordinator --config " + Q(config) + " --certs " + Q(pki) + " --listen " + listen,
        Path(tag + ".out"), Path(tag + ".err"));
    const bool up = WaitFor([&] { return LoggedPort(Path(tag + ".err")) > 0; }, 60);
    EXPECT_TRUE(up) << Slurp(Path(tag + ".err"));
    *port = up ? LoggedPort(Path(tag + ".err")) : 0;
    return c;
  }
  // `veil fl client` of site NAME (its workspace ws-NAME) against 127.0.0.1:PORT; logs in TAG.err.
  std::unique_ptr<Background> StartSite(const std::string& tag, const std::string& name, int port,
                                        const std::string& pki, const std::string& extra = "") {
    return std::make_unique<Background>(SiteEnv(name),
                                        "fl client --coordinator localhost:" + std::to_string(port) +
                                            " --certs " + Q(pki) + " --dataset d --site " + name +
                                            " --give-up 60 " + extra,
                                        Path(tag + ".out"), Path(tag + ".err"));
  }
};

TEST_F(FlCliTest, CertsMakesADeploymentWithPrivateKeys) {
  Result r = Veil("--json fl certs --out " + Q(Path("pki")) +
                  " --sites h1,h2 --coordinator-host fl.example.org "
                  "--coordinator-host 10.0.0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json doc = ParseJson(r.out);
  EXPECT_EQ(doc["sites"], Json::array({"h1", "h2"}));
  EXPECT_TRUE(doc["ca_created"].get<bool>());
  EXPECT_TRUE(IsLowerHex(doc["ca_sha256"], 64));
  for (const char* f : {"pki/ca/ca.key", "pki/coordinator/key.pem", "pki/h1/key.pem", "pki/h2/key.pem"}) {
    struct stat st;
    ASSERT_EQ(stat(Path(f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  // Adding a site reuses the CA; an existing site is refused.
  Result add = Veil("--json fl certs --out " + Q(Path("pki")) + " --sites h3");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_FALSE(ParseJson(add.out)["ca_created"].get<bool>());
  Result again = Veil("fl certs --out " + Q(Path("pki")) + " --sites h1");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("already has a certificate"));
  Result bad = Veil("fl certs --out " + Q(Path("x")) + " --sites Bad");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("invalid site name"));
}

// Site c's dataset is not declared for federated training: the gate refuses its training (exit code 3,
// the refusal in its own audit log) and the round goes on with a and b, whose audit entries carry the hash
// of what they released.
TEST_F(FlCliTest, SiteWithoutTheDeclaredPurposeIsRefusedAndAudited) {
  const std::string pki = Certs();
  MakeSite("a", 0, "federated_training");
  MakeSite("b", 1, "federated_training");
  MakeSite("c", 2, "research");  // no federated_training
  // c never answers: the train deadline (3 s) is what the round waits for it.
  const std::string config =
      Config("fl", R"({"rounds": 1, "secure_aggregation": {"enabled": false}, "deadlines": {"train": 3}})");
  int port = 0;
  std::unique_ptr<Background> coordinator = StartCoordinator("coord", config, pki, &port);
  ASSERT_GT(port, 0);
  auto a = StartSite("a", "a", port, pki), b = StartSite("b", "b", port, pki),
       c = StartSite("c", "c", port, pki);
  EXPECT_EQ(c->Wait(60), 3) << Slurp(Path("c.err"));
  EXPECT_THAT(Slurp(Path("c.err")), HasSubstr("purpose \"federated_training\" is not declared"));
  ASSERT_EQ(coordinator->Wait(60), 0) << Slurp(Path("coord.err"));
  EXPECT_EQ(a->Wait(30), 0) << Slurp(Path("a.err"));
  EXPECT_EQ(b->Wait(30), 0) << Slurp(Path("b.err"));
  Json report = ParseJson(Slurp(Path("coord.out")));
  ASSERT_EQ(report["history"].size(), 1u) << Slurp(Path("coord.err"));
  EXPECT_EQ(report["history"][0]["selected"], Json::array({"a", "b", "c"}));
  EXPECT_EQ(report["history"][0]["included"], Json::array({"a", "b"})) << Slurp(Path("coord.err"));

  // The refusal is in site c's audit log; site a's entry records the release's hash, not a value.
  const auto entries = [&](const std::string& site) {
    Result r = Run(SiteEnv(site) + " ", "--json audit log", "");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson(r.out)["entries"];
  };
  const Json c_log = entries("c"), a_log = entries("a");
  int denied = 0, allowed = 0;
  for (const Json& e : c_log) {
    if (e["action"] == "train.nonprivate" && e["decision"] == "denied" &&
        e["purpose"] == "federated_training")
      ++denied;
  }
  EXPECT_EQ(denied, 1) << c_log.dump();
  for (const Json& e : a_log) {
    if (e["action"] == "train.nonprivate" && e["decision"] == "allowed" &&
        e["purpose"] == "federated_training" && IsLowerHex(e["result_hash"], 64))
      ++allowed;
  }
  EXPECT_EQ(allowed, 1) << a_log.dump();
}

// kill -9 of the coordinator once round 2's checkpoint is durable, a restart on the same port, and the run
// ends with the same model file, byte for byte, as an uninterrupted run with the same seeds.
TEST_F(FlCliTest, KilledCoordinatorResumesToTheSameModelBitForBit) {
  const std::string pki = Certs();
  for (int i = 0; i < 3; ++i)
    MakeSite(std::string(1, static_cast<char>('a' + i)), i, "federated_training", true);
  // Secure aggregation, FedAdam, DP-FedAvg with adaptive clipping, seeded: every piece of state a
  // checkpoint must carry.
  const Json extra = Json::parse(R"({"seed": 7, "clients_per_round": 3, "min_clients": 3,
      "strategy": {"name": "fedadam", "server_learning_rate": 0.05},
      "dp": {"mode": "central", "noise_multiplier": 0.8, "clip_norm": 0.5, "adaptive": true,
             "clipped_count_stddev": 1.0, "total_clients": 3},
      "secure_aggregation": {"enabled": true}})");
  const auto run = [&](const std::string& tag, bool kill) {
    Json o = extra;
    o["checkpoint_dir"] = Path("ckpt-" + tag);
    o["output"] = Path("model-" + tag + ".json");
    const std::string config = Config(tag, o.dump());
    int port = 0;
    std::unique_ptr<Background> coordinator = StartCoordinator(tag + "-c1", config, pki, &port);
    ASSERT_GT(port, 0);
    std::vector<std::unique_ptr<Background>> sites;
    for (const char* s : {"a", "b", "c"}) sites.push_back(StartSite(tag + "-" + s, s, port, pki, "--seed 3"));
    std::string last = tag + "-c1";
    if (kill) {
      // The coordinator logs a round's summary ("round 2: 3/3 sites in the aggregate; ...") once its
      // checkpoint is written; a "round 2: site ... dropped" line comes earlier, mid-round, and must not
      // match.
      const auto summarised = [&] {
        const std::string log = Slurp(Path(tag + "-c1.err"));
        return log.find("round 2: 3/3 sites in the aggregate") != std::string::npos ||
               log.find("round 2: ABORTED") != std::string::npos;
      };
      ASSERT_TRUE(WaitFor(summarised, 60)) << Slurp(Path(tag + "-c1.err"));
      coordinator->Kill();
      last = tag + "-c2";
      int again = 0;
      coordinator = StartCoordinator(last, config, pki, &again, "127.0.0.1:" + std::to_string(port));
      ASSERT_EQ(again, port);
    }
    ASSERT_EQ(coordinator->Wait(60), 0) << Slurp(Path(last + ".err"));
    for (const char* s : {"a", "b", "c"})
      EXPECT_EQ(sites[static_cast<size_t>(s[0] - 'a')]->Wait(30), 0) << Slurp(Path(tag + "-" + s + ".err"));
    const Json report = ParseJson(Slurp(Path(last + ".out")));
    EXPECT_EQ(report["resumed_at"], kill ? 2 : 0);
    ASSERT_EQ(report["history"].size(), 3u);
    for (const Json& round : report["history"]) EXPECT_FALSE(round["aborted"].get<bool>()) << round.dump();
    if (kill) {
      EXPECT_THAT(Slurp(Path(last + ".err")), HasSubstr("resuming from"));
    }
  };
  run("full", false);
  run("killed", true);
  const std::string full = Slurp(Path("model-full.json")), killed = Slurp(Path("model-killed.json"));
  ASSERT_FALSE(full.empty());
  EXPECT_EQ(full, killed);  // the same bytes: every parameter printed to round-trip exactly
  Json doc = ParseJson(full);
  EXPECT_EQ(doc["federated"]["rounds_completed"], 3);
  EXPECT_GT(doc["federated"]["spent"]["epsilon"].get<double>(), 0);
}

TEST_F(FlCliTest, SimulateRunsSitesAsProcesses) {
  std::string csv = "x1,x2,y\n";
  for (int r = 0; r < 600; ++r) {
    const double x1 = -2 + 4.0 * ((r * 37) % 101) / 100, x2 = -2 + 4.0 * ((r * 53) % 97) / 96;
    csv += std::to_string(x1) + "," + std::to_string(x2) + "," + (x1 + 0.5 * x2 > 0 ? "yes" : "no") + "\n";
  }
  const std::string data = WriteFile("data.csv", csv);
  const std::string config = WriteFile("fl.json", R"({"rounds": 3, "clients_per_round": 3, "min_clients": 3,
      "local": {"epochs": 2, "batch_size": 16, "learning_rate": 0.3, "optimizer": "sgd"},
      "model": {"kind": "logreg", "target": "y", "metadata": )" +
                                                      std::string(kMetadata) + R"(},
      "transport": {"poll_seconds": 1}})");
  Result r = Veil("--json fl simulate --clients 3 --partition dirichlet:1.0 --data " + Q(data) +
                  " --config " + Q(config) + " --test " + Q(data) + " --workdir " + Q(Path("work")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json doc = ParseJson(r.out);
  EXPECT_EQ(doc["site_exit_codes"], Json::array({0, 0, 0}));
  const Json& history = doc["coordinator"]["history"];
  ASSERT_EQ(history.size(), 3u);
  for (const Json& round : history) {
    EXPECT_FALSE(round["aborted"].get<bool>()) << round.dump();
    EXPECT_EQ(round["included"].size(), 3u);
    std::vector<std::string> phases;
    for (const Json& p : round["phases"]) {
      phases.push_back(p["name"]);
      EXPECT_GE(p["seconds"].get<double>(), 0);
    }
    EXPECT_EQ(phases, (std::vector<std::string>{"train", "share_keys", "masked_input", "consistency",
                                                "unmask", "aggregate"}));
  }
  // A separable problem: the federated model classifies the data well after three rounds.
  EXPECT_GT(history[2]["eval_accuracy"].get<double>(), 0.9);
  int64_t rows = 0;
  for (const Json& s : doc["sites"]) rows += s["rows"].get<int64_t>();
  EXPECT_EQ(rows, 600);
  EXPECT_FALSE(Slurp(doc["output"].get<std::string>()).empty());
}

// The multi-host test: four sites and the coordinator each in their own network namespace, joined by veth
// pairs (site k reaches the coordinator at 10.199.k.1), mutual TLS with the coordinator certified for those
// addresses. Site s4 is killed (kill -9) in round 1 right after it sent its encrypted key shares: the round
// must still produce exactly the survivors' sum, which is checked against the same three sites aggregated
// in the clear. Needs root (CAP_NET_ADMIN) and iproute2; skipped otherwise.
class FlNetnsTest : public FlCliTest {
 protected:
  void SetUp() override {
    FlCliTest::SetUp();
    if (geteuid() != 0)
      GTEST_SKIP() << "needs root for ip netns and veth pairs (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
    if (std::system("ip -V >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "iproute2 (the ip command) is not installed";
    // Names unique to this process (ctest runs tests in parallel); interface names stay within 15 bytes.
    prefix_ = "vfl" + std::to_string(getpid() % 10000000);
    if (!Ip("netns add " + Ns("c")))
      GTEST_SKIP()
          << "`ip netns add` failed: no CAP_SYS_ADMIN/CAP_NET_ADMIN here (an unprivileged container?)";
    namespaces_.push_back(Ns("c"));
    if (!Ip("netns exec " + Ns("c") + " ip link set lo up"))
      GTEST_SKIP() << "`ip netns exec` failed: cannot enter a network namespace here (no CAP_SYS_ADMIN?)";
    for (int k = 1; k <= 4; ++k) {
      const std::string site = Ns("s" + std::to_string(k));
      const std::string a = prefix_ + "a" + std::to_string(k), b = prefix_ + "b" + std::to_string(k);
      ASSERT_TRUE(Ip("netns add " + site));
      namespaces_.push_back(site);
      if (!Ip("link add " + a + " type veth peer name " + b))
        GTEST_SKIP() << "cannot create a veth pair here (no CAP_NET_ADMIN, or no veth support)";
      links_.push_back(a);
      ASSERT_TRUE(Ip("link set " + a + " netns " + Ns("c")));
      ASSERT_TRUE(Ip("link set " + b + " netns " + site));
      const std::string net = "10.199." + std::to_string(k);
      ASSERT_TRUE(Ip("netns exec " + Ns("c") + " ip addr add " + net + ".1/24 dev " + a));
      ASSERT_TRUE(Ip("netns exec " + Ns("c") + " ip link set " + a + " up"));
      ASSERT_TRUE(Ip("netns exec " + site + " ip addr add " + net + ".2/24 dev " + b));
      ASSERT_TRUE(Ip("netns exec " + site + " ip link set " + b + " up"));
      ASSERT_TRUE(Ip("netns exec " + site + " ip link set lo up"));
    }
  }
  void TearDown() override {
    // Processes first (their namespaces cannot go while they run), then the namespaces; deleting a namespace
    // deletes its veth ends.
    processes_.clear();
    for (const std::string& ns : namespaces_) Ip("netns del " + ns);
    for (const std::string& link : links_) Ip("link del " + link);  // one left in the root namespace
    FlCliTest::TearDown();
  }
  std::string Ns(const std::string& what) const { return prefix_ + what; }
  static bool Ip(const std::string& args) {
    return std::system(("ip " + args + " >/dev/null 2>&1").c_str()) == 0;
  }
  Background& Spawn(const std::string& ns, const std::string& env, const std::string& args,
                    const std::string& tag) {
    processes_.push_back(std::make_unique<Background>("ip netns exec " + ns + " env " + env, args,
                                                      Path(tag + ".out"), Path(tag + ".err")));
    return *processes_.back();
  }

  std::string prefix_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> links_;  // veth ends created in the root namespace
  std::vector<std::unique_ptr<Background>> processes_;
};

// The parameters of a model file (its "model" member is the model's own JSON).
std::vector<double> Params(const std::string& model_file) {
  Json doc = ParseJson(Slurp(model_file));
  if (!doc.contains("model") || !doc["model"].is_string()) return {};
  Json model = ParseJson(doc["model"].get<std::string>());
  return model.value("params", std::vector<double>{});
}

TEST_F(FlNetnsTest, SiteKilledMidRoundLeavesTheSurvivorsSum) {
  Result certs = Veil("fl certs --out " + Q(Path("pki")) +
                      " --sites s1,s2,s3,s4 --coordinator-host "
                      "10.199.1.1,10.199.2.1,10.199.3.1,10.199.4.1,localhost --quiet");
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  for (int k = 1; k <= 4; ++k) MakeSite("s" + std::to_string(k), k, "federated_training");
  // One round. The masked-input deadline (3 s) is what the round waits for the killed site; the others are
  // upper bounds.
  const auto config = [&](const std::string& name, bool secure, int sites) {
    Json c = {{"rounds", 1},
              {"clients_per_round", sites},
              {"min_clients", 3},
              {"seed", 11},
              {"deadlines",
               {{"join", 30},
                {"train", 30},
                {"share_keys", 30},
                {"masked_input", 3},
                {"consistency", 30},
                {"unmask", 30}}},
              {"local", {{"epochs", 1}, {"batch_size", 16}, {"learning_rate", 0.2}, {"optimizer", "sgd"}}},
              {"model", {{"kind", "logreg"}, {"target", "y"}, {"metadata", Json::parse(kMetadata)}}},
              {"secure_aggregation", {{"enabled", secure}, {"clip", 4.0}, {"max_examples", 1000}}},
              {"output", Path(name + ".json")},
              // s4 is killed: the coordinator waits finish_grace for it after the run (the others poll).
              {"transport", {{"poll_seconds", 1}, {"finish_grace_seconds", 2}}}};
    return WriteFile(name + "-fl.json", c.dump(2));
  };
  const std::string pki = Path("pki");
  const auto site_env = [&](const std::string& s) {
    return "-u VEIL_PASSPHRASE VEIL_TEST_SEED_OK=1 VEIL_WORKSPACE=" + Q(Path("ws-" + s)) +
           " VEIL_ACTOR=owner";
  };
  // Each namespace has its own ports: the coordinator's port is fixed.
  Background& coordinator = Spawn(Ns("c"), "VEIL_TEST_SEED_OK=1",
                                  "--json fl coordinator --config " + Q(config("secure", true, 4)) +
                                      " --certs " + Q(pki) + " --listen 0.0.0.0:7443",
                                  "coordinator");
  ASSERT_TRUE(WaitFor([&] { return LoggedPort(Path("coordinator.err")) == 7443; }, 60))
      << Slurp(Path("coordinator.err"));
  std::vector<Background*> sites;
  for (int k = 1; k <= 4; ++k) {
    const std::string s = "s" + std::to_string(k);
    std::string args = "fl client --coordinator 10.199." + std::to_string(k) + ".1:7443 --certs " + Q(pki) +
                       " --dataset d --site " + s + " --seed 5 --give-up 60";
    if (k == 4) args += " --test-stop-after share_keys";
    sites.push_back(&Spawn(Ns(s), site_env(s), args, s));
  }
  // kill -9 s4 once it has sent its encrypted shares (it stops itself there).
  ASSERT_TRUE(WaitFor([&] { return sites[3]->Stopped(); }, 60)) << Slurp(Path("s4.err"));
  sites[3]->Kill();

  ASSERT_EQ(coordinator.Wait(60), 0) << Slurp(Path("coordinator.err"));
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(sites[k]->Wait(30), 0) << Slurp(Path("s" + std::to_string(k + 1) + ".err"));
  Json report = ParseJson(Slurp(Path("coordinator.out")));
  ASSERT_EQ(report["history"].size(), 1u);
  const Json& round = report["history"][0];
  EXPECT_FALSE(round["aborted"].get<bool>()) << round.dump();
  EXPECT_EQ(round["selected"], Json::array({"s1", "s2", "s3", "s4"}));
  EXPECT_EQ(round["included"], Json::array({"s1", "s2", "s3"}));
  EXPECT_THAT(Slurp(Path("coordinator.err")), HasSubstr("site \"s4\" dropped"));

  // The survivors aggregated in the clear (the same seeded training), on the coordinator's loopback.
  Background& plain = Spawn(Ns("c"), "VEIL_TEST_SEED_OK=1",
                            "fl coordinator --config " + Q(config("plain", false, 3)) + " --certs " + Q(pki) +
                                " --listen 127.0.0.1:7444",
                            "plain");
  ASSERT_TRUE(WaitFor([&] { return LoggedPort(Path("plain.err")) == 7444; }, 60)) << Slurp(Path("plain.err"));
  std::vector<Background*> again;
  for (int k = 1; k <= 3; ++k) {
    const std::string s = "s" + std::to_string(k);
    again.push_back(&Spawn(Ns("c"), site_env(s),
                           "fl client --coordinator localhost:7444 --certs " + Q(pki) +
                               " --dataset d --site " + s + " --seed 5 --give-up 60 --quiet",
                           "plain-" + s));
  }
  ASSERT_EQ(plain.Wait(60), 0) << Slurp(Path("plain.err"));
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(again[k]->Wait(30), 0) << Slurp(Path("plain-s" + std::to_string(k + 1) + ".err"));
  const std::vector<double> secure = Params(Path("secure.json")), clear = Params(Path("plain.json"));
  ASSERT_FALSE(secure.empty());
  ASSERT_EQ(secure.size(), clear.size());
  // Quantization error only (strategy.h's bound): scale 2^18 for clip 4 and 4 sites in the default ring
  // Z_2^24, weights w_k = n_k / 1000 (90, 100, 110 rows: W = 0.3), |w_k u_kj| <= 4: a_j <= 3 (4 * 2^-24 +
  // 2^-18) < 1.22e-5, b <= 3 (2^-24 + 2^-18) < 1.17e-5, so |error| <= (a_j + 4 b) / W < 1.96e-4 with FedAvg's
  // step 1.
  for (size_t i = 0; i < secure.size(); ++i) EXPECT_NEAR(secure[i], clear[i], 2e-4) << i;
}

}  // namespace
}  // namespace fl_cli_test
}  // namespace veil::cli::testing
