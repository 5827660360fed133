#include "veil/he/scoring.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/he_test_util.h"
#include "veil/he/serialize.h"

namespace veil::he {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

// Bounds. A logit ciphertext's error per coefficient is below 2^error_bound_bits (8 standard deviations of
// the estimate in scoring.cc, which the server writes in the header); a slot adds N coefficients with weights
// of modulus 1, so a decrypted logit (key owner only) is within sqrt(N) * 2^error_bound_bits / 2^53 of the
// exact logit (about 5e-12 at N = 8192), plus double rounding of the plaintext reference (1e-12 here).
// Flooded logits add a Gaussian of the reported standard deviation: 6 of them bound every value of these
// tests.
double KeyOwnerBound(const CkksContext& ctx, const ScoresHeader& h) {
  return std::sqrt(static_cast<double>(ctx.n())) * std::exp2(h.error_bound_bits) / kLogitScale + 1e-12;
}

LinearModel Model(size_t features, uint64_t seed, bool standardize) {
  testing::TestRng rng(seed);
  LinearModel m;
  m.kind = LinearModel::Kind::kLogistic;
  for (size_t f = 0; f < features; ++f) {
    m.feature_names.push_back(absl::StrCat("f", f));
    m.weights.push_back((static_cast<double>(rng.Next() % 2001) - 1000) / 1000.0);  // [-1, 1]
    if (standardize) {
      m.means.push_back(static_cast<double>(rng.Next() % 100000));
      m.scales.push_back(1000 + static_cast<double>(rng.Next() % 20000));
    }
  }
  m.bias = -0.25;
  return m;
}

// Raw records: standardized values in about [-2, 2] mapped back through the model's standardization.
std::vector<std::vector<double>> Records(const LinearModel& m, size_t count, uint64_t seed) {
  testing::TestRng rng(seed);
  std::vector<std::vector<double>> out(count);
  for (auto& rec : out) {
    for (size_t f = 0; f < m.feature_names.size(); ++f) {
      const double z = (static_cast<double>(rng.Next() % 4001) - 2000) / 1000.0;
      rec.push_back(m.means.empty() ? z : m.means[f] + z * m.scales[f]);
    }
  }
  return out;
}

class ScoringTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ctx_ = new CkksContext(CkksContext::Create(MakeScoringParameters({}).value()).value());
    DeterministicRandom rng(7);
    sk_ = new SecretKey(GenerateSecretKey(*ctx_, rng).value());
    const PublicKey pk = GeneratePublicKey(*ctx_, *sk_, rng).value();
    key_id_ = MakeKeySetId(*ctx_, pk);
    const std::vector<int64_t> steps = ScoringRotationSteps(*ctx_, 64);
    keys_ = new ScoringKeys{GenerateGaloisKeys(*ctx_, *sk_, rng, steps, false).value(), std::nullopt};
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete sk_;
    delete ctx_;
  }

  // Encrypts, serializes, parses, scores, serializes, parses and decrypts (key owner only); checks every
  // logit against the plaintext within the bound and returns the parsed scores.
  EncryptedScores RoundTrip(const LinearModel& model, const std::vector<std::vector<double>>& records,
                            bool client_standardizes) {
    DeterministicRandom rng(11);
    const EncryptedQuery q =
        EncryptQuery(*ctx_, *sk_, key_id_, model.feature_names,
                     client_standardizes ? model.means : std::vector<double>{},
                     client_standardizes ? model.scales : std::vector<double>{}, records, rng)
            .value();
    const std::vector<uint8_t> q_bytes = SerializeQuery(*ctx_, q).value();
    const ParsedQuery parsed = ParseQuery(*ctx_, q_bytes).value();
    const EncryptedScores scores = ScoreQuery(*ctx_, *keys_, model, parsed).value();
    const EncryptedScores back = ParseScores(*ctx_, SerializeScores(*ctx_, scores).value()).value();
    DecryptScoresOptions o;
    o.key_owner_only = true;
    const DecryptedScores d = DecryptScores(*ctx_, *sk_, key_id_, back, o).value();
    EXPECT_FALSE(d.flooded);
    EXPECT_EQ(d.values.size(), records.size());
    const double bound = KeyOwnerBound(*ctx_, back.header);
    EXPECT_LT(bound, 1e-9);
    for (size_t r = 0; r < records.size() && r < d.values.size(); ++r) {
      EXPECT_NEAR(d.values[r], PlainLogit(model, records[r]), bound) << "record " << r;
    }
    return back;
  }

  static CkksContext* ctx_;
  static SecretKey* sk_;
  static KeySetId key_id_;
  static ScoringKeys* keys_;
};
CkksContext* ScoringTest::ctx_ = nullptr;
SecretKey* ScoringTest::sk_ = nullptr;
KeySetId ScoringTest::key_id_{};
ScoringKeys* ScoringTest::keys_ = nullptr;

TEST(ScoringModelTest, ParsesAndRoundTrips) {
  const std::string json = R"({"format": "veil-linear-model", "version": 1, "kind": "logistic",
    "features": ["income", "debts"], "weights": [0.5, -1.25], "bias": 0.1,
    "standardization": {"means": [50000, 2000], "scales": [20000, 1500]}, "metadata": {"trained": "today"}})";
  const LinearModel m = ParseLinearModelJson(json).value();
  EXPECT_EQ(m.kind, LinearModel::Kind::kLogistic);
  EXPECT_EQ(m.feature_names, (std::vector<std::string>{"income", "debts"}));
  EXPECT_EQ(m.weights, (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(m.scales, (std::vector<double>{20000, 1500}));
  // (70000 - 50000) / 20000 * 0.5 - (3500 - 2000) / 1500 * 1.25 + 0.1 = 0.5 - 1.25 + 0.1.
  const std::vector<double> x = {70000, 3500};
  EXPECT_DOUBLE_EQ(PlainLogit(m, x), 0.5 - 1.25 + 0.1);
  const LinearModel back = ParseLinearModelJson(LinearModelToJson(m)).value();
  EXPECT_EQ(back.feature_names, m.feature_names);
  EXPECT_EQ(back.weights, m.weights);
  EXPECT_EQ(back.means, m.means);
  EXPECT_EQ(back.bias, m.bias);
}

TEST(ScoringModelTest, ErrorsNameTheField) {
  const auto err = [](const std::string& body) {
    return std::string(
        ParseLinearModelJson(
            absl::StrCat(R"({"format": "veil-linear-model", "version": 1, "kind": "linear", )", body, "}"))
            .status()
            .message());
  };
  EXPECT_THAT(err(R"("features": ["a", "a"], "weights": [1, 2], "bias": 0)"), HasSubstr("features[1]"));
  EXPECT_THAT(err(R"("features": ["a", "b"], "weights": [1], "bias": 0)"),
              HasSubstr("weights: has 1 entries"));
  EXPECT_THAT(err(R"("features": ["a"], "weights": ["x"], "bias": 0)"),
              HasSubstr("weights[0]: must be a number"));
  EXPECT_THAT(err(R"("features": ["a"], "weights": [1e999], "bias": 0)"), HasSubstr("out of range"));
  EXPECT_THAT(err(R"("features": ["a"], "weights": [1])"), HasSubstr("bias: missing"));
  EXPECT_THAT(err(R"("features": [""], "weights": [1], "bias": 0)"), HasSubstr("empty feature name"));
  EXPECT_THAT(err(R"("features": ["a"], "weights": [1], "bias": 0, "wieghts": 2)"),
              HasSubstr("unknown field \"wieghts\""));
  EXPECT_THAT(
      err(R"("features": ["a"], "weights": [1], "bias": 0, "standardization": {"means": [0], "scales": [0]})"),
      HasSubstr("standardization.scales[0]: must be finite and > 0"));
  EXPECT_THAT(
      err(R"("features": ["a"], "weights": [1], "bias": 0, "standardization": {"means": [0, 1], "scales": [1]})"),
      HasSubstr("standardization.means: has 2 entries"));
  EXPECT_THAT(
      std::string(ParseLinearModelJson(R"({"format": "veil-linear-model", "version": 1, "kind": "tree",
      "features": ["a"], "weights": [1], "bias": 0})")
                      .status()
                      .message()),
      HasSubstr("kind"));
  EXPECT_THAT(std::string(ParseLinearModelJson("{\"format\": ").status().message()),
              HasSubstr("not valid JSON"));
  EXPECT_THAT(std::string(ParseLinearModelJson(R"({"format": "other", "version": 1})").status().message()),
              HasSubstr("\"format\" must be \"veil-linear-model\""));
}

TEST(KeySetManifestTest, RoundTripsAndRefusesBadEntries) {
  KeySetManifest m;
  m.key_id.fill(0xab);
  m.poly_degree = 8192;
  m.modulus_bits = 159;
  m.probability = true;
  m.max_features = 256;
  const std::string digest(64, 'c');
  for (const char* name : {"params", "public_key", "galois_keys", "relin_keys"})
    m.files.emplace_back(name, digest);
  const std::string json = KeySetManifestToJson(m);
  const KeySetManifest back = ParseKeySetManifest(json).value();
  EXPECT_EQ(back.key_id, m.key_id);
  EXPECT_EQ(back.poly_degree, 8192u);
  EXPECT_EQ(back.modulus_bits, 159);
  EXPECT_TRUE(back.probability);
  EXPECT_EQ(back.max_features, 256u);
  // The files come back by name (JSON objects are unordered).
  std::vector<std::pair<std::string, std::string>> sorted = m.files;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(back.files, sorted);

  // Each edit of the valid manifest is refused with the field named.
  const auto err = [&](const std::string& from, const std::string& to) {
    std::string edited = json;
    const size_t at = edited.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    edited.replace(at, from.size(), to);
    return std::string(ParseKeySetManifest(edited).status().message());
  };
  EXPECT_THAT(err("\"params\"", "\"../params\""), HasSubstr("must be a file name without a path"));
  EXPECT_THAT(err("\"params\"", "\"dir/params\""), HasSubstr("must be a file name without a path"));
  EXPECT_THAT(err("\"params\"", "\"parameters\""), HasSubstr("does not list \"params\""));
  EXPECT_THAT(err("\"relin_keys\"", "\"other\""), HasSubstr("does not list \"relin_keys\""));
  EXPECT_THAT(err(digest, "xyz"), HasSubstr("must be a SHA-256 in hex"));
  EXPECT_THAT(err("\"probability\": true", "\"probability\": 1"), HasSubstr("probability"));
  EXPECT_THAT(err("\"max_features\": 256", "\"max_features\": -1"), HasSubstr("max_features"));
  EXPECT_THAT(err("veil-he-keyset", "veil-he-other"), HasSubstr("format"));
  EXPECT_THAT(err("\"version\"", "\"extra\": 1, \"version\""), HasSubstr("unknown field \"extra\""));
  EXPECT_THAT(std::string(ParseKeySetManifest(json.substr(0, json.size() / 2)).status().message()),
              HasSubstr("not valid JSON"));
}

TEST_F(ScoringTest, LayoutAndParameters) {
  EXPECT_EQ(ctx_->n(), 8192u);
  EXPECT_LE(ctx_->params().total_modulus_bits(), 218);
  const ScoringLayout l32 = MakeScoringLayout(*ctx_, 32).value();
  EXPECT_EQ(l32.records_per_ciphertext, 128u);
  EXPECT_EQ(MakeScoringLayout(*ctx_, 33).value().padded_features, 64u);
  EXPECT_EQ(MakeScoringLayout(*ctx_, 1).value().records_per_ciphertext, 4096u);
  EXPECT_FALSE(MakeScoringLayout(*ctx_, 0).ok());
  EXPECT_FALSE(MakeScoringLayout(*ctx_, 5000).ok());
  EXPECT_EQ(ScoringRotationSteps(*ctx_, 32), (std::vector<int64_t>{128, 256, 512, 1024, 2048}));
  EXPECT_FALSE(MakeScoringParameters({4096, false}).ok());
  EXPECT_FALSE(MakeScoringParameters({8192, true}).ok());
  const CkksParameters prob = MakeScoringParameters({16384, true}).value();
  EXPECT_LE(prob.total_modulus_bits(), 438);
  EXPECT_GE(prob.max_level(), 2 + ChebyshevDepth(15));
}

TEST_F(ScoringTest, ThirtyTwoFeaturesSeveralRecordCounts) {
  const LinearModel model = Model(32, 1, /*standardize=*/true);
  for (size_t count : {1u, 127u, 128u, 129u, 300u}) {
    SCOPED_TRACE(count);
    const EncryptedScores s = RoundTrip(model, Records(model, count, count), /*client_standardizes=*/true);
    EXPECT_EQ(s.logits.size(), (count + 127) / 128);
    EXPECT_LT(s.header.error_bound_bits, 11);
  }
}

TEST_F(ScoringTest, OneFeatureAndNonPowerOfTwo) {
  RoundTrip(Model(1, 2, false), Records(Model(1, 2, false), 4097, 3), false);  // 2 ciphertexts of 4096
  const LinearModel five = Model(5, 4, false);
  RoundTrip(five, Records(five, 2000, 5), false);
}

TEST_F(ScoringTest, ServerFoldsTheStandardizationOfRawQueries) {
  // A model standardizing small raw values (the client encrypts them as they are).
  LinearModel m = Model(6, 6, false);
  for (size_t f = 0; f < 6; ++f) {
    m.means.push_back(static_cast<double>(f));
    m.scales.push_back(0.5 + static_cast<double>(f));
  }
  std::vector<std::vector<double>> records = Records(Model(6, 6, false), 50, 7);
  RoundTrip(m, records, /*client_standardizes=*/false);
}

TEST_F(ScoringTest, QueryFeaturesInAnotherOrderAndExtraFeatures) {
  const LinearModel m = Model(3, 8, false);
  DeterministicRandom rng(3);
  // The query holds f2, extra, f0, f1.
  const std::vector<std::string> names = {"f2", "extra", "f0", "f1"};
  const std::vector<std::vector<double>> recs = {{1, 5, 2, 3}, {-1, 7, 0.5, 0}};
  const EncryptedQuery q = EncryptQuery(*ctx_, *sk_, key_id_, names, {}, {}, recs, rng).value();
  const ParsedQuery parsed = ParseQuery(*ctx_, SerializeQuery(*ctx_, q).value()).value();
  const EncryptedScores s = ScoreQuery(*ctx_, *keys_, m, parsed).value();
  DecryptScoresOptions o;
  o.key_owner_only = true;
  const DecryptedScores d = DecryptScores(*ctx_, *sk_, key_id_, s, o).value();
  for (size_t r = 0; r < recs.size(); ++r) {
    const std::vector<double> x = {recs[r][2], recs[r][3], recs[r][0]};
    EXPECT_NEAR(d.values[r], PlainLogit(m, x), KeyOwnerBound(*ctx_, s.header));
  }
  // A model feature the query lacks is named.
  LinearModel more = m;
  more.feature_names.push_back("income");
  more.weights.push_back(1);
  EXPECT_THAT(std::string(ScoreQuery(*ctx_, *keys_, more, parsed).status().message()), HasSubstr("income"));
}

TEST_F(ScoringTest, FloodedLogitsWithinTheReportedNoise) {
  const LinearModel model = Model(32, 9, true);
  const auto records = Records(model, 256, 10);
  DeterministicRandom rng(12);
  const EncryptedQuery q =
      EncryptQuery(*ctx_, *sk_, key_id_, model.feature_names, model.means, model.scales, records, rng)
          .value();
  const EncryptedScores s =
      ScoreQuery(*ctx_, *keys_, model, ParseQuery(*ctx_, SerializeQuery(*ctx_, q).value()).value()).value();
  DecryptScoresOptions o;
  o.rng = &rng;
  const DecryptedScores d = DecryptScores(*ctx_, *sk_, key_id_, s, o).value();
  EXPECT_TRUE(d.flooded);
  // About 2^-12 with the defaults (scoring.h); below the library's 2^-10 limit.
  EXPECT_GT(d.flooding_stddev, 0x1p-16);
  EXPECT_LT(d.flooding_stddev, 0x1p-10);
  double sum2 = 0;
  for (size_t r = 0; r < records.size(); ++r) {
    const double e = d.values[r] - PlainLogit(model, records[r]);
    EXPECT_LT(std::abs(e), 6 * d.flooding_stddev);
    sum2 += e * e;
  }
  // The noise is really there: its empirical standard deviation is within 30% of the reported one (256
  // samples: the estimate's relative standard error is about 4.4%).
  EXPECT_NEAR(std::sqrt(sum2 / records.size()) / d.flooding_stddev, 1.0, 0.3);
}

TEST_F(ScoringTest, ErrorsAndWrongKeys) {
  const LinearModel model = Model(4, 13, false);
  DeterministicRandom rng(14);
  // A value too large for the precision: the error names the record and the feature, not the value.
  std::vector<std::vector<double>> recs = {{1, 2, 3, 4}, {1, 123456.5, 3, 4}};
  absl::Status st = EncryptQuery(*ctx_, *sk_, key_id_, model.feature_names, {}, {}, recs, rng).status();
  EXPECT_THAT(std::string(st.message()), HasSubstr("record 1, feature \"f1\""));
  EXPECT_THAT(std::string(st.message()), ::testing::Not(HasSubstr("123456")));
  recs[1][1] = std::nan("");
  EXPECT_THAT(
      std::string(
          EncryptQuery(*ctx_, *sk_, key_id_, model.feature_names, {}, {}, recs, rng).status().message()),
      HasSubstr("not a finite number"));
  recs[1][1] = 2;
  const EncryptedQuery q = EncryptQuery(*ctx_, *sk_, key_id_, model.feature_names, {}, {}, recs, rng).value();
  std::vector<uint8_t> bytes = SerializeQuery(*ctx_, q).value();
  // Truncated, altered, trailing bytes: DataLoss; another file kind: InvalidArgument.
  EXPECT_EQ(ParseQuery(*ctx_, std::span(bytes).first(bytes.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseQuery(*ctx_, std::span(bytes).first(100)).status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> altered = bytes;
  altered[bytes.size() / 2] ^= 1;
  EXPECT_EQ(ParseQuery(*ctx_, altered).status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(ParseQuery(*ctx_, longer).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseScores(*ctx_, bytes).status().code(), absl::StatusCode::kInvalidArgument);
  // Another parameter set: FailedPrecondition from the ciphertext parser.
  const CkksContext other = CkksContext::Create(MakeScoringParameters({16384, false}).value()).value();
  EXPECT_EQ(ParseQuery(other, bytes).status().code(),
            absl::StatusCode::kInvalidArgument);  // layout differs first
  // Scores for another key set are refused before decrypting.
  const ParsedQuery parsed = ParseQuery(*ctx_, bytes).value();
  const EncryptedScores s = ScoreQuery(*ctx_, *keys_, model, parsed).value();
  KeySetId other_id = key_id_;
  other_id[0] ^= 1;
  absl::Status wrong = DecryptScores(*ctx_, *sk_, other_id, s).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(wrong.message()), HasSubstr("wrong keys"));
  // No probability without a probability key set; probabilities only for the key owner.
  ScoreOptions po;
  po.probability = true;
  EXPECT_THAT(std::string(ScoreQuery(*ctx_, *keys_, model, parsed, po).status().message()),
              HasSubstr("--probability"));
  DecryptScoresOptions dp;
  dp.probability = true;
  EXPECT_THAT(std::string(DecryptScores(*ctx_, *sk_, key_id_, s, dp).status().message()),
              HasSubstr("no probability"));
  // A result header's sigmoid fields out of range are refused, naming the field.
  for (int field = 0; field < 3; ++field) {
    EncryptedScores bad = s;
    bad.header.has_probability = true;
    bad.probabilities = bad.logits;
    bad.header.interval = field == 0 ? -1 : 12;
    bad.header.degree = field == 1 ? 0 : 15;
    bad.header.fit_error = field == 2 ? -0.5 : 0.01;
    absl::Status parsed_bad = ParseScores(*ctx_, SerializeScores(*ctx_, bad).value()).status();
    EXPECT_EQ(parsed_bad.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed_bad.message()), HasSubstr(field == 0   ? "probability.interval"
                                                             : field == 1 ? "probability.degree"
                                                                          : "fit_error"));
  }
  // Large effective weights are refused (the logit would overflow the modulus).
  LinearModel big = model;
  big.weights[0] = 1000;
  EXPECT_THAT(std::string(ScoreQuery(*ctx_, *keys_, big, parsed).status().message()),
              HasSubstr("feature \"f0\""));
}

TEST(ScoringProbabilityTest, SigmoidUnderEncryption) {
  const CkksContext ctx = CkksContext::Create(MakeScoringParameters({16384, true}).value()).value();
  DeterministicRandom rng(21);
  const SecretKey sk = GenerateSecretKey(ctx, rng).value();
  const KeySetId id = MakeKeySetId(ctx, GeneratePublicKey(ctx, sk, rng).value());
  const ScoringKeys keys{GenerateGaloisKeys(ctx, sk, rng, ScoringRotationSteps(ctx, 4), false).value(),
                         GenerateRelinKeys(ctx, sk, rng).value()};
  LinearModel m = Model(3, 22, false);
  m.weights = {2.5, -3, 1.5};
  const auto records = Records(m, 300, 23);  // logits within about [-14, 14]; those in [-12, 12] are checked
  const EncryptedQuery q = EncryptQuery(ctx, sk, id, m.feature_names, {}, {}, records, rng).value();
  ScoreOptions so;
  so.probability = true;
  const EncryptedScores s =
      ParseScores(
          ctx,
          SerializeScores(
              ctx,
              ScoreQuery(ctx, keys, m, ParseQuery(ctx, SerializeQuery(ctx, q).value()).value(), so).value())
              .value())
          .value();
  ASSERT_TRUE(s.header.has_probability);
  EXPECT_EQ(s.header.degree, 15);
  EXPECT_LT(s.header.fit_error, 0.01);
  DecryptScoresOptions o;
  o.probability = true;
  EXPECT_THAT(std::string(DecryptScores(ctx, sk, id, s, o).status().message()),
              HasSubstr("--key-owner-only"));
  o.key_owner_only = true;
  const DecryptedScores p = DecryptScores(ctx, sk, id, s, o).value();
  // polyeval.h: fit error plus the CKKS error, below 1e-5 at scale 2^37 (sum |c_j| j^2 e with e ~ 1e-9).
  size_t checked = 0;
  for (size_t r = 0; r < records.size(); ++r) {
    const double z = PlainLogit(m, records[r]);
    if (std::abs(z) > 12) continue;
    ++checked;
    EXPECT_NEAR(p.values[r], Sigmoid(z), s.header.fit_error + 1e-5) << "logit " << z;
  }
  EXPECT_GT(checked, 250u);
  // The logit of the same result is flooded and shareable.
  DecryptScoresOptions lo;
  lo.rng = &rng;
  const DecryptedScores l = DecryptScores(ctx, sk, id, s, lo).value();
  for (size_t r = 0; r < records.size(); ++r) {
    EXPECT_NEAR(l.values[r], PlainLogit(m, records[r]), 6 * l.flooding_stddev);
  }
}

}  // namespace
}  // namespace veil::he
