// End-to-end tests of the coordinator and the sites over real gRPC with mutual TLS on loopback, in one
// process (threads): aggregation results, dropouts, quorum aborts, resumption from a checkpoint.
#include "veil/fl/coordinator.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/splitmix.h"
#include "veil/base/status_macros.h"
#include "veil/base/test_util.h"
#include "veil/crypto/random.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/fl/checkpoint.h"
#include "veil/fl/client.h"
#include "veil/fl/seeded_random.h"
#include "veil/table/csv_reader.h"

namespace veil::fl {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

// A site's rows: y = "yes" iff x1 + 0.5 x2 + noise > 0, x uniform in [-2, 2], from the site's own seed.
table::Table SiteRows(int site, int rows) {
  base::SplitMix64 g(1000 + site);
  std::string csv = "id,x1,x2,y\n";
  const auto uniform = [&]() { return static_cast<double>(g.Next() >> 11) / 9007199254740992.0; };
  for (int r = 0; r < rows; ++r) {
    const double x1 = 4 * uniform() - 2, x2 = 4 * uniform() - 2;
    const bool yes = x1 + 0.5 * x2 + 0.6 * (uniform() - 0.5) + 0.2 * site > 0;
    absl::StrAppendFormat(&csv, "%d,%.6f,%.6f,%s\n", r, x1, x2, yes ? "yes" : "no");
  }
  return *table::ReadCsvFromString(csv);
}

// Trains with a fresh seeded source per (site, round), so that a round gives the same contribution
// whenever it is run (the resume test repeats a round after the coordinator restarts).
class SeededTrainer final : public SiteTrainer {
 public:
  SeededTrainer(int site, int rows) : site_(site), rows_(SiteRows(site, rows)) {}
  absl::StatusOr<Contribution> Train(const RoundPlan& plan, std::span<const double> global,
                                     const Quantizer* quantizer) override {
    SeededRandom rng(77, absl::StrCat("site ", site_, " round ", plan.round));
    ++calls_;
    return TrainContribution(plan, global, rows_, quantizer, rng);
  }
  std::atomic<int> calls_{0};

 private:
  int site_;
  table::Table rows_;
};

// A site that lies about its FedAvg weight under secure aggregation: the last coordinate of its contribution
// (SecAggWeightedInput's w_k) is replaced by `weight`, encoded at the round's scale, as a malicious site can
// send any ring word.
class WeightLiar final : public SiteTrainer {
 public:
  WeightLiar(SiteTrainer& honest, double weight) : honest_(honest), weight_(weight) {}
  absl::StatusOr<Contribution> Train(const RoundPlan& plan, std::span<const double> global,
                                     const Quantizer* quantizer) override {
    VEIL_ASSIGN_OR_RETURN(Contribution c, honest_.Train(plan, global, quantizer));
    if (quantizer == nullptr || c.quantized.empty()) return absl::InternalError("not a secure round");
    c.quantized.back() = static_cast<uint32_t>(std::llround(weight_ * quantizer->scale()));
    return c;
  }

 private:
  SiteTrainer& honest_;
  double weight_;
};

// A site still busy when the run ends: it trains for `delay` before answering.
class SlowTrainer final : public SiteTrainer {
 public:
  SlowTrainer(SiteTrainer& inner, absl::Duration delay) : inner_(inner), delay_(delay) {}
  absl::StatusOr<Contribution> Train(const RoundPlan& plan, std::span<const double> global,
                                     const Quantizer* quantizer) override {
    absl::SleepFor(delay_);
    return inner_.Train(plan, global, quantizer);
  }

 private:
  SiteTrainer& inner_;
  absl::Duration delay_;
};

Json BaseConfig(int sites) {
  Json sites_json = Json::array();
  for (int i = 0; i < sites; ++i) sites_json.push_back(absl::StrCat("s", i));
  return Json{{"listen", "127.0.0.1:0"},
              {"rounds", 1},
              {"clients_per_round", sites},
              {"min_clients", 3},
              {"sites", sites_json},
              {"deadlines",
               {{"join", 10},
                {"train", 20},
                {"share_keys", 20},
                {"masked_input", 20},
                {"consistency", 20},
                {"unmask", 20}}},
              {"local", {{"epochs", 2}, {"batch_size", 16}, {"learning_rate", 0.2}, {"optimizer", "sgd"}}},
              {"model",
               {{"kind", "logreg"},
                {"target", "y"},
                {"metadata",
                 {{"columns", {{"x1", {{"lower", -2}, {"upper", 2}}}, {"x2", {{"lower", -2}, {"upper", 2}}}}},
                  {"target", {{"classes", {"no", "yes"}}}}}}}},
              {"secure_aggregation", {{"enabled", true}, {"clip", 4.0}, {"max_examples", 1000}}},
              // The sites here back off at most 200 ms (SiteOptions): a second's grace covers them.
              {"transport", {{"poll_seconds", 1}, {"finish_grace_seconds", 1}}}};
}

struct SiteRun {
  absl::StatusOr<ClientReport> report = absl::UnknownError("not run");
};

class FederationTest : public ::testing::Test {
 protected:
  static constexpr int kSites = 8;  // certificates and trainers for sites s0..s7
  void SetUp() override {
    DeploymentOptions o;
    o.dir = dir_.File("pki");
    for (int i = 0; i < kSites; ++i) o.sites.push_back(absl::StrCat("s", i));
    ASSERT_TRUE(CreateDeployment(o, rng_).ok());
    auto c = LoadCredentials(dir_.File("pki/coordinator"), kCoordinatorName);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_creds_ = std::make_unique<Credentials>(*std::move(c));
    for (int i = 0; i < kSites; ++i) {
      auto s = LoadCredentials(dir_.File(absl::StrCat("pki/s", i)), absl::StrCat("s", i));
      ASSERT_TRUE(s.ok()) << s.status();
      site_creds_.push_back(std::make_unique<Credentials>(*std::move(s)));
      trainers_.push_back(std::make_unique<SeededTrainer>(i, 60 + 15 * i));
    }
  }

  absl::StatusOr<std::unique_ptr<Coordinator>> MakeCoordinator(const Json& config) {
    VEIL_ASSIGN_OR_RETURN(CoordinatorConfig c,
                          ParseCoordinatorConfig(config.dump(), "test config", dir_.path()));
    Coordinator::Options o;
    o.config = std::move(c);
    o.credentials = coordinator_creds_.get();
    o.ca_pem = coordinator_creds_->ca_pem;
    o.env = &crypto::DefaultEnv();
    o.rng = &crypto::SecureRandom();
    if (std::getenv("VEIL_FL_TEST_LOG") != nullptr)
      o.log = [](const std::string& line) { std::fprintf(stderr, "[coordinator] %s\n", line.c_str()); };
    return Coordinator::Create(std::move(o));
  }

  ClientOptions SiteOptions(int i, int port) {
    ClientOptions o;
    o.coordinator = absl::StrCat("localhost:", port);
    o.credentials = site_creds_[i].get();
    o.transport.backoff_initial = absl::Milliseconds(20);
    o.transport.backoff_max = absl::Milliseconds(200);
    o.give_up = give_up_;
    o.transport.call_timeout = call_timeout_;
    o.trainer = trainer_for_.contains(i) ? trainer_for_[i] : trainers_[i].get();
    o.rng = &crypto::SecureRandom();
    if (std::getenv("VEIL_FL_TEST_LOG") != nullptr)
      o.log = [i](const std::string& line) { std::fprintf(stderr, "[s%d] %s\n", i, line.c_str()); };
    return o;
  }

  // Runs a coordinator with `config` and sites 0..sites-1; `hook(site, round, phase)` false stops a site.
  struct Result {
    absl::StatusOr<RunReport> run = absl::UnknownError("not run");
    std::vector<SiteRun> sites;
  };
  Result Run(const Json& config, int sites, std::function<bool(int, uint64_t, wire::Phase)> hook = nullptr) {
    Result r;
    auto coordinator = MakeCoordinator(config);
    if (!coordinator.ok()) {
      r.run = coordinator.status();
      return r;
    }
    r.sites.resize(sites);
    std::vector<std::thread> threads;
    for (int i = 0; i < sites; ++i) {
      threads.emplace_back([&, i]() {
        ClientOptions o = SiteOptions(i, (*coordinator)->port());
        if (hook) o.on_submitted = [&, i](uint64_t round, wire::Phase p) { return hook(i, round, p); };
        r.sites[i].report = RunClient(o);
      });
    }
    r.run = (*coordinator)->Run();
    coordinator->reset();  // stops the server: a site still waiting gives up
    for (std::thread& t : threads) t.join();
    return r;
  }

  base::testing::ScopedTempDir dir_;
  crypto::testing::DeterministicRandom rng_{5};
  std::unique_ptr<Credentials> coordinator_creds_;
  std::vector<std::unique_ptr<Credentials>> site_creds_;
  std::vector<std::unique_ptr<SeededTrainer>> trainers_;
  std::map<int, SiteTrainer*> trainer_for_;  // replaces site i's trainer
  absl::Duration give_up_ = absl::Seconds(30);
  // A call waiting for the connection (wait-for-ready) blocks up to this before the site checks give_up.
  absl::Duration call_timeout_ = TransportOptions().call_timeout;
};

double MaxDiff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST_F(FederationTest, SecureAggregationMatchesPlainFedAvgWithinQuantization) {
  Json plain = BaseConfig(4);
  plain["secure_aggregation"]["enabled"] = false;
  Result p = Run(plain, 4);
  ASSERT_TRUE(p.run.ok()) << p.run.status();
  Result s = Run(BaseConfig(4), 4);
  ASSERT_TRUE(s.run.ok()) << s.run.status();
  for (const Result* r : {&p, &s}) {
    ASSERT_EQ(r->run->rounds.size(), 1u);
    const RoundReport& round = r->run->rounds[0];
    EXPECT_FALSE(round.aborted) << round.reason;
    EXPECT_EQ(round.included, (std::vector<std::string>{"s0", "s1", "s2", "s3"}));
    EXPECT_GT(round.bytes_sent, 0u);
    EXPECT_GT(round.bytes_received, 0u);
    for (const SiteRun& site : r->sites) {
      ASSERT_TRUE(site.report.ok()) << site.report.status();
      EXPECT_TRUE(site.report->finished);
      EXPECT_EQ(site.report->final_model, r->run->model);
    }
  }
  std::vector<std::string> phases;
  for (const PhaseReport& ph : s.run->rounds[0].phases) phases.push_back(ph.name);
  EXPECT_EQ(phases, (std::vector<std::string>{"train", "share_keys", "masked_input", "consistency", "unmask",
                                              "aggregate"}));
  // The model moved, and secure aggregation changed it by no more than the quantization error. Bound: the
  // quantizer's scale for clip 4 and 4 clients in the default ring Z_2^24 is 2^18 (floor((2^23 - 1) / 4) / 4
  // in [2^18, 2^19)), so each weighted coordinate moves by less than 2^-18 when rounded (strategy.h: error of
  // the mean < sum_k (float rounding of y_k + 1 / scale) / sum_k w_k, with w_k >= 60/1000 and |y_k| <= 4 so
  // float rounding < 2^-22): below 4 (2^-22 + 2^-18) / 0.24 = 6.8e-5 < 7e-5.
  EXPECT_GT(MaxDiff(p.run->model, std::vector<double>(p.run->model.size(), 0.0)), 0.01);
  EXPECT_LT(MaxDiff(p.run->model, s.run->model), 7e-5);
  // The model file is the registry's payload format.
  const Json doc = Json::parse(s.run->model_json);
  EXPECT_EQ(doc["format"], "veil-registered-model");
  EXPECT_EQ(doc["federated"]["secure_aggregation"], true);
}

TEST_F(FederationTest, SiteDroppingAfterSharingKeysLeavesTheSurvivorsSum) {
  Json config = BaseConfig(4);
  config["deadlines"]["masked_input"] = 1.5;
  config["deadlines"]["consistency"] = 1.5;
  config["deadlines"]["unmask"] = 1.5;
  // Site s3 vanishes right after it sent its encrypted shares: its masks must be removed from the sum with
  // the other sites' shares of its masking key.
  Result s = Run(config, 4, [](int site, uint64_t, wire::Phase p) {
    return !(site == 3 && p == wire::PHASE_SHARE_KEYS);
  });
  ASSERT_TRUE(s.run.ok()) << s.run.status();
  const RoundReport& round = s.run->rounds[0];
  ASSERT_FALSE(round.aborted) << round.reason;
  EXPECT_EQ(round.selected.size(), 4u);
  EXPECT_EQ(round.included, (std::vector<std::string>{"s0", "s1", "s2"}));
  EXPECT_EQ(s.sites[3].report.status().code(), absl::StatusCode::kCancelled);

  // The survivors' FedAvg, computed in the clear by a plain run of sites 0-2 (same seeded training).
  Json plain = BaseConfig(3);
  plain["secure_aggregation"]["enabled"] = false;
  Result p = Run(plain, 3);
  ASSERT_TRUE(p.run.ok()) << p.run.status();
  // The bound of SecureAggregationMatchesPlainFedAvgWithinQuantization: the quantizer's scale is set for the
  // 4 sites selected, 2^18, and 3 survivors give 3 (2^-22 + 2^-18) / 0.18 = 6.8e-5 < 7e-5.
  EXPECT_LT(MaxDiff(p.run->model, s.run->model), 7e-5);
}

TEST_F(FederationTest, RoundBelowQuorumAbortsAndTheNextRoundRuns) {
  Json config = BaseConfig(3);
  config["rounds"] = 2;
  config["deadlines"]["masked_input"] = 1.0;
  std::atomic<bool> dropped{false};
  Result r;
  {
    auto coordinator = MakeCoordinator(config);
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    const int port = (*coordinator)->port();
    r.sites.resize(3);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back([&, i]() {
        ClientOptions o = SiteOptions(i, port);
        if (i == 2) {
          // Site s2 vanishes in round 1 after sharing its keys, then comes back (a restarted process).
          o.on_submitted = [&](uint64_t round, wire::Phase p) {
            if (round == 0 && p == wire::PHASE_SHARE_KEYS && !dropped.exchange(true)) return false;
            return true;
          };
          absl::StatusOr<ClientReport> first = RunClient(o);
          EXPECT_EQ(first.status().code(), absl::StatusCode::kCancelled);
          o.on_submitted = nullptr;
        }
        r.sites[i].report = RunClient(o);
      });
    }
    r.run = (*coordinator)->Run();
    coordinator->reset();
    for (std::thread& t : threads) t.join();
  }
  ASSERT_TRUE(r.run.ok()) << r.run.status();
  ASSERT_EQ(r.run->rounds.size(), 2u);
  EXPECT_TRUE(r.run->rounds[0].aborted);
  EXPECT_THAT(r.run->rounds[0].reason, HasSubstr("fewer than min_clients = 3"));
  EXPECT_FALSE(r.run->rounds[1].aborted) << r.run->rounds[1].reason;
  EXPECT_EQ(r.run->rounds[1].included.size(), 3u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(r.sites[i].report.ok()) << i << ": " << r.sites[i].report.status();
  // The sites that stayed saw round 1 aborted and round 2 completed.
  const ClientReport& s0 = *r.sites[0].report;
  ASSERT_GE(s0.rounds.size(), 2u);
  EXPECT_TRUE(s0.rounds[0].aborted);
  EXPECT_TRUE(s0.rounds[1].completed);
}

TEST_F(FederationTest, ResumedRunEndsWithTheSameModelBitForBit) {
  // Stateful everything: FedAdam's moments, DP-FedAvg's adaptive clip norm and its accountant, the seeded
  // noise and client sampling, secure aggregation.
  Json config = BaseConfig(4);
  config["rounds"] = 3;
  config["seed"] = 12345;
  config["strategy"] = {{"name", "fedadam"}, {"server_learning_rate", 0.05}};
  config["dp"] = {{"mode", "central"}, {"noise_multiplier", 0.7},     {"clip_norm", 0.5},
                  {"adaptive", true},  {"clipped_count_stddev", 1.0}, {"total_clients", 4}};
  config["checkpoint_dir"] = "ckpt-full";
  Result full = Run(config, 4);
  ASSERT_TRUE(full.run.ok()) << full.run.status();
  ASSERT_EQ(full.run->rounds.size(), 3u);

  // The same run, with the coordinator stopped as soon as the checkpoint after round 2 exists, then started
  // again on the same port with the same configuration: the sites reconnect and the run resumes.
  config["checkpoint_dir"] = "ckpt-resumed";
  const std::string ckpt = dir_.File("ckpt-resumed");
  auto first = MakeCoordinator(config);
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = (*first)->port();
  std::vector<SiteRun> sites(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i]() { sites[i].report = RunClient(SiteOptions(i, port)); });
  }
  std::thread stopper([&]() {
    for (;;) {
      auto c = ReadCheckpoint(crypto::DefaultEnv(), ckpt);
      if (c.ok() && c->has_value() && (*c)->next_round >= 2) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    (*first)->Stop();
  });
  absl::StatusOr<RunReport> stopped = (*first)->Run();
  stopper.join();
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  first->reset();
  config["listen"] = absl::StrCat("127.0.0.1:", port);
  auto second = MakeCoordinator(config);
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<RunReport> resumed = (*second)->Run();
  second->reset();
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_at, 2);
  ASSERT_EQ(resumed->rounds.size(), 3u);
  // Bit for bit: the doubles' patterns are equal.
  ASSERT_EQ(resumed->model.size(), full.run->model.size());
  EXPECT_EQ(EncodeDoubles(resumed->model), EncodeDoubles(full.run->model));
  ASSERT_TRUE(resumed->spent.has_value() && full.run->spent.has_value());
  EXPECT_EQ(resumed->spent->epsilon, full.run->spent->epsilon);
  for (const SiteRun& s : sites) ASSERT_TRUE(s.report.ok()) << s.report.status();

  // A different configuration does not resume from that checkpoint.
  config["rounds"] = 4;
  auto other = MakeCoordinator(config);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
}

// Adaptive clipping reads the clipped count B from the secure sum by rounding sum[P] / C_t, exact only while
// the encoding error n (1/s + C_t 2^-24) stays below C_t / 2. That depends on the ring and the most sites a
// round can include (config.cc: 2n / floor((2^(ring_bits-1) - 1) / n) + n 2^-24 <= 1/2 for every C_t), so
// FL.json is refused at once. In Z_2^8: 5 sites give 10/25 + tiny <= 1/2, 6 give 12/21 > 1/2.
TEST(ConfigTest, AdaptiveClippingRefusesARingTooSmallForTheExactCount) {
  const auto parse = [](int sites, int ring_bits) {
    Json config = BaseConfig(sites);
    config["secure_aggregation"]["ring_bits"] = ring_bits;
    config["dp"] = {{"mode", "central"}, {"noise_multiplier", 0.7},     {"clip_norm", 0.95},
                    {"adaptive", true},  {"clipped_count_stddev", 1.0}, {"total_clients", sites}};
    return ParseCoordinatorConfig(config.dump(), "FL.json", "");
  };
  EXPECT_TRUE(parse(5, 8).ok()) << parse(5, 8).status();
  absl::StatusOr<CoordinatorConfig> refused = parse(6, 8);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("FL.json: \"dp.adaptive\" with secure aggregation reads the clipped count exactly "
                        "from the secure sum only for up to 5 sites per round in "
                        "\"secure_aggregation.ring_bits\" = 8"));
  EXPECT_THAT(refused.status().message(), HasSubstr("\"dp.total_clients\" = 6 sites"));
  // 6 sites need 4 * 36 <= 2^(bits-1) - 1 roughly: 9 bits (b = 42, 12/42 = 0.29).
  EXPECT_THAT(refused.status().message(), HasSubstr("raise it to 9 or more"));
  EXPECT_TRUE(parse(6, 9).ok());
  // Z_2^32 allows up to ~23,000 sites (4 n^2 <= 2^31).
  Json many = BaseConfig(3);
  many.erase("sites");
  many["clients_per_round"] = 100;
  many["secure_aggregation"]["ring_bits"] = 32;
  many["dp"] = {{"mode", "central"}, {"adaptive", true}, {"clipped_count_stddev", 50.0}};
  for (int64_t total : {int64_t{23000}, int64_t{24000}}) {
    many["dp"]["total_clients"] = total;
    EXPECT_EQ(ParseCoordinatorConfig(many.dump(), "FL.json", "").ok(), total == 23000) << total;
  }
  // Without ring_bits in the file the default Z_2^24 (limit 1,448 sites) grows to the smallest ring that
  // keeps the count exact, so a file that does not name the ring is never refused for it below 32 bits:
  // 1,449 sites need 25 bits (in Z_2^24 b = 5,789 and 2n/b = 0.5006 > 1/2; in Z_2^25 2n/b = 0.2503).
  many["secure_aggregation"].erase("ring_bits");
  for (const auto& [total, bits] :
       std::vector<std::pair<int64_t, uint32_t>>{{100, 24}, {1448, 24}, {1449, 25}, {23000, 32}}) {
    many["dp"]["total_clients"] = total;
    absl::StatusOr<CoordinatorConfig> c = ParseCoordinatorConfig(many.dump(), "FL.json", "");
    ASSERT_TRUE(c.ok()) << total << ": " << c.status();
    EXPECT_EQ(c->secagg.ring_bits, bits) << total;
  }
  many["dp"]["total_clients"] = 24000;
  EXPECT_THAT(ParseCoordinatorConfig(many.dump(), "FL.json", "").status().message(),
              HasSubstr("\"secure_aggregation.ring_bits\" = 32"));
  // Without adaptive clipping the default ring stays 24 bits whatever the cohort.
  many["dp"] = {{"mode", "central"}, {"total_clients", 24000}};
  ASSERT_TRUE(ParseCoordinatorConfig(many.dump(), "FL.json", "").ok());
  EXPECT_EQ(ParseCoordinatorConfig(many.dump(), "FL.json", "")->secagg.ring_bits, kSecAggDefaultRingBits);
  // Without secure aggregation the sites' bits are checked in the clear: any size.
  Json plain = BaseConfig(8);
  plain["secure_aggregation"] = {{"enabled", false}, {"ring_bits", 8}};
  plain["dp"] = {{"mode", "central"}, {"adaptive", true}, {"clipped_count_stddev", 1.0}};
  EXPECT_TRUE(ParseCoordinatorConfig(plain.dump(), "FL.json", "").ok());
}

// Poisson sampling draws site indices below total_clients; with listed sites each names one of them.
TEST(ConfigTest, TotalClientsCannotExceedTheListedSites) {
  Json config = BaseConfig(4);
  config["dp"] = {{"mode", "central"}, {"total_clients", 5}};
  absl::StatusOr<CoordinatorConfig> c = ParseCoordinatorConfig(config.dump(), "FL.json", "");
  EXPECT_THAT(c.status().message(), HasSubstr("\"dp.total_clients\" must not exceed the 4 sites listed"));
  config["dp"]["total_clients"] = 4;
  EXPECT_TRUE(ParseCoordinatorConfig(config.dump(), "FL.json", "").ok());
}

// What the configuration cannot rule out: a clip norm so small that the quantizer's scale is capped at 2^30
// (3 sites in Z_2^32: C s = 1e-9 * 2^30 = 1.07, so n / (C s) = 2.8 > 1/2). The round aborts before any site
// trains, with the reason; the run goes on.
TEST_F(FederationTest, AdaptiveClippingAbortsARoundWhoseClipNormIsTooSmallToResolve) {
  Json config = BaseConfig(3);
  config["dp"] = {{"mode", "central"}, {"noise_multiplier", 0.7},     {"clip_norm", 1e-9},
                  {"adaptive", true},  {"clipped_count_stddev", 1.0}, {"total_clients", 3}};
  Result r = Run(config, 3);
  ASSERT_TRUE(r.run.ok()) << r.run.status();
  ASSERT_EQ(r.run->rounds.size(), 1u);
  EXPECT_TRUE(r.run->rounds[0].aborted);
  EXPECT_THAT(r.run->rounds[0].reason, HasSubstr("clipped count cannot be recovered exactly"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(trainers_[i]->calls_.load(), 0) << i;

  config["dp"]["clip_norm"] = 0.95;
  Result ok = Run(config, 3);
  ASSERT_TRUE(ok.run.ok()) << ok.run.status();
  EXPECT_FALSE(ok.run->rounds[0].aborted) << ok.run->rounds[0].reason;
}

// Under secure aggregation the coordinator sees only the weight sum W~; a site sending a negative weight
// (here -1, against honest weights of 0.06 and 0.075: W~ < 0) or one above the maximum (here 5, W~ > 3) makes
// W~ leave [3 / 1000, 3] (less a rounding step), the range three sites' weights can produce, and the round
// aborts instead of dividing by it. The model stays where it was (zeros) and every site ends normally.
TEST_F(FederationTest, SiteSendingAWeightOutsideItsBoundsAbortsTheRound) {
  for (double lie : {-1.0, 5.0}) {
    WeightLiar liar(*trainers_[2], lie);
    trainer_for_[2] = &liar;
    Result r = Run(BaseConfig(3), 3);
    trainer_for_.clear();
    ASSERT_TRUE(r.run.ok()) << r.run.status();
    ASSERT_EQ(r.run->rounds.size(), 1u);
    const RoundReport& round = r.run->rounds[0];
    EXPECT_TRUE(round.aborted) << lie;
    // 3 floor(float(0.001) 2^19) / 2^19 = 3 * 524 / 2^19 = 0.00299835 (scale 2^19 for clip 4, 3 sites and
    // the default ring Z_2^24).
    EXPECT_THAT(round.reason, HasSubstr("secure FedAvg: secagg mean: the decoded weight sum is outside "
                                        "[0.00299835, 3], the range 3 sites with weights in [1/1000, 1]"));
    EXPECT_EQ(r.run->model, std::vector<double>(r.run->model.size(), 0.0));
    for (const SiteRun& site : r.sites) {
      ASSERT_TRUE(site.report.ok()) << site.report.status();
      EXPECT_TRUE(site.report->finished);
      ASSERT_EQ(site.report->rounds.size(), 1u);
      EXPECT_TRUE(site.report->rounds[0].aborted);
    }
  }
}

// A site that is not polling when the run ends still gets FINISHED and the final model when it polls again
// within finish_grace. Here s3 is still training (3.5 s) when the round, which dropped it at the 2.5 s train
// deadline, completes; to the coordinator that is the same as a site in reconnect backoff: no call in
// flight, last seen 2.5 s before the end. (The coordinator used to tell only the sites seen in the last 2 s,
// so s3 found no coordinator and gave up: after 3 s here.)
TEST_F(FederationTest, SiteNotPollingWhenTheRunEndsStillGetsTheFinalModel) {
  Json config = BaseConfig(4);
  config["secure_aggregation"]["enabled"] = false;
  config["deadlines"]["train"] = 2.5;
  config["transport"]["finish_grace_seconds"] = 10;
  SlowTrainer slow(*trainers_[3], absl::Seconds(3.5));
  trainer_for_[3] = &slow;
  give_up_ = absl::Seconds(3);  // so that a site that misses FINISHED fails the test in seconds
  call_timeout_ = absl::Seconds(3);
  Result r = Run(config, 4);
  ASSERT_TRUE(r.run.ok()) << r.run.status();
  ASSERT_EQ(r.run->rounds.size(), 1u);
  EXPECT_FALSE(r.run->rounds[0].aborted) << r.run->rounds[0].reason;
  EXPECT_EQ(r.run->rounds[0].included, (std::vector<std::string>{"s0", "s1", "s2"}));
  for (const SiteRun& site : r.sites) {
    ASSERT_TRUE(site.report.ok()) << site.report.status();
    EXPECT_TRUE(site.report->finished);
    EXPECT_EQ(site.report->final_model, r.run->model);
  }
  EXPECT_EQ(trainers_[3]->calls_.load(), 1);
}

TEST_F(FederationTest, UnlistedSiteIsRefused) {
  Json config = BaseConfig(3);
  auto coordinator = MakeCoordinator(config);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  // s4 holds a valid certificate of the deployment but is not in the configuration's "sites".
  ClientOptions o = SiteOptions(4, (*coordinator)->port());
  absl::StatusOr<ClientReport> r = RunClient(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("not part of this federation"));
}

}  // namespace
}  // namespace veil::fl
